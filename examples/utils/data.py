"""Load image arrays from disk, split them and yield shuffled mini-batches.

Plain numpy: the scripts in this folder use these helpers before handing the arrays
to their models.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = (".npy",)


def load_npz(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """Read ``images`` and ``labels`` from an ``.npz`` archive."""
    with np.load(path) as archive:
        images = archive["images"].astype("float32")
        labels = archive["labels"].astype("int64")
    if len(images) != len(labels):
        raise ValueError(f"{path}: {len(images)} images but {len(labels)} labels")
    return images, labels


def load_class_folders(root: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Read ``root/<class name>/*.npy`` arrays; the sorted folder names are the classes."""
    root = Path(root)
    class_names = sorted(p.name for p in root.iterdir() if p.is_dir())
    images: list[np.ndarray] = []
    labels: list[int] = []
    for index, name in enumerate(class_names):
        for file in sorted((root / name).iterdir()):
            if file.suffix in IMAGE_SUFFIXES:
                images.append(np.load(file).astype("float32"))
                labels.append(index)
    if not images:
        raise FileNotFoundError(f"no arrays found under {root}")
    return np.stack(images), np.asarray(labels, dtype="int64"), class_names


def holdout_split(
    images: np.ndarray, labels: np.ndarray, holdout: float = 0.2, seed: int = 0
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Shuffle once with ``seed`` and cut off the last ``holdout`` share."""
    if not 0.0 < holdout < 1.0:
        raise ValueError("holdout must be between 0 and 1")
    order = np.random.default_rng(seed).permutation(len(images))
    cut = int(round(len(images) * (1.0 - holdout)))
    first, second = order[:cut], order[cut:]
    return (images[first], labels[first]), (images[second], labels[second])


def standardize(images: np.ndarray, mean: np.ndarray | None = None,
                std: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-channel standardisation; pass the statistics of the first split to the others."""
    if mean is None:
        mean = images.mean(axis=(0, 1, 2), keepdims=True)
    if std is None:
        std = images.std(axis=(0, 1, 2), keepdims=True) + 1e-7
    return (images - mean) / std, mean, std


def minibatches(images: np.ndarray, labels: np.ndarray, size: int, seed: int | None = None):
    """Yield ``(images, labels)`` chunks of ``size`` rows, shuffled when a seed is given."""
    order = np.arange(len(images))
    if seed is not None:
        np.random.default_rng(seed).shuffle(order)
    for start in range(0, len(order), size):
        chunk = order[start:start + size]
        yield images[chunk], labels[chunk]


def save_class_names(names: list[str], path: str | os.PathLike[str]) -> None:
    """Write the class names next to a saved model so predictions can be labelled."""
    Path(path).write_text(json.dumps(names, indent=2) + "\n", encoding="utf-8")
