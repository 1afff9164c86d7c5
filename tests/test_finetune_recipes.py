"""The classic broken fine-tuning recipe and its correction, as a script and a notebook."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BROKEN = [
    "import keras\nfrom keras import layers\n",
    ('base = keras.applications.ResNet50(weights="imagenet", include_top=False, pooling="avg")\n'
    "base.trainable = False\n"
    "model = keras.Sequential([base, layers.Dense(10)])\n"),
    'model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")\nmodel.fit(x, y)\n',
    ("base.trainable = True\n"
    'model.compile(optimizer="adam", loss="mse")\nmodel.fit(x, y)\n'),
]
FIXED = BROKEN[:3] + [
    ("base.trainable = True\n"
    "for layer in base.layers:\n"
    "    if isinstance(layer, layers.BatchNormalization):\n"
    "        layer.trainable = False\n"
    'model.compile(optimizer=keras.optimizers.Adam(1e-5), loss="mse")\nmodel.fit(x, y)\n'),
]


def _write(tmp_path: Path, cells: list[str], notebook: bool) -> Path:
    if not notebook:
        path = tmp_path / "finetune.py"
        path.write_text("".join(cells))
        return path
    path = tmp_path / "finetune.ipynb"
    body = []
    for index, cell in enumerate(cells):
        body.append({"cell_type": "markdown", "metadata": {}, "source": [f"## step {index}"]})
        body.append({"cell_type": "code", "metadata": {}, "execution_count": None,
                     "outputs": [], "source": cell.splitlines(keepends=True)})
    path.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {},
                                "cells": body}))
    return path


def _lint(path: Path) -> tuple[int, list[dict[str, object]]]:
    result = subprocess.run(
        [sys.executable, "-m", "bnlint", "--isolated", "--format", "json", path.name],
        cwd=path.parent, capture_output=True, text=True, check=False,
    )
    return result.returncode, json.loads(result.stdout)


@pytest.mark.parametrize("notebook", [False, True], ids=["script", "notebook"])
def test_broken_recipe_gets_bn201_and_bn204_with_evidence_chains(tmp_path: Path,
                                                                 notebook: bool) -> None:
    status, findings = _lint(_write(tmp_path, BROKEN, notebook))
    assert status == 1
    by_code = {finding["code"]: finding for finding in findings}
    assert set(by_code) == {"BN201", "BN204"}
    bn201, bn204 = by_code["BN201"], by_code["BN204"]
    assert len(bn201["related"]) >= 4  # type: ignore[arg-type]
    assert len(bn204["related"]) >= 3  # type: ignore[arg-type]
    if notebook:
        # the unfreeze is the first line of the fourth code cell = the 8th cell overall
        assert (bn201["cell"], bn201["location"]) == (8, {"row": 1, "column": 1})
        assert (bn204["cell"], bn204["location"]["row"]) == (8, 2)  # type: ignore[index]
        cells = {related["cell"] for related in bn201["related"]}  # type: ignore[union-attr]
        assert cells == {4, 8}
    else:
        assert bn201["location"] == {"row": 8, "column": 1}
        assert bn204["location"]["row"] == 9  # type: ignore[index]


@pytest.mark.parametrize("notebook", [False, True], ids=["script", "notebook"])
def test_corrected_recipe_is_clean(tmp_path: Path, notebook: bool) -> None:
    status, findings = _lint(_write(tmp_path, FIXED, notebook))
    assert (status, findings) == (0, [])
