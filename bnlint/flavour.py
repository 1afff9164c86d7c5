"""Which Keras a code base targets, and the version facts rules gate on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FlavourName = Literal["keras3", "tf-keras", "keras2", "tf1"]

# keras-team/keras#23364 (after 3.15.1) stopped the functional override of F5/F12b.
KERAS3_FUNCTIONAL_FIX = (3, 16)


@dataclass(frozen=True, slots=True)
class Flavour:
    """The targeted Keras flavour; ``version`` is the Keras version when known
    (for tf-keras and tf1 it may be the TensorFlow version), ``reason`` says why.
    ``assumed`` marks a guess made for want of any evidence (no configuration, pin or
    code signal): rules whose verdict depends on the flavour say nothing then."""

    name: FlavourName
    version: tuple[int, ...] | None = None
    reason: str = "default"
    assumed: bool = False
    # for a pin of standalone Keras 2: the flavour the TensorFlow pin beside it gives to
    # code that uses only `tf.keras` (None when TensorFlow is not pinned)
    bundled: Flavour | None = None

    @property
    def is_keras3(self) -> bool:
        return self.name == "keras3"

    def keras3_functional_override(self) -> bool | None:
        """Does a functional graph's recorded ``training=`` get overridden (F5)?

        True for Keras 3.0-3.15, False for other flavours and Keras >= 3.16, None when
        the target is Keras 3 of unknown version."""
        if self.name != "keras3":
            return False
        if self.version is None or self.assumed:
            return None
        return self.version[:2] < KERAS3_FUNCTIONAL_FIX

    def describe(self) -> str:
        version = ".".join(str(part) for part in self.version) if self.version else None
        if self.name == "tf1":
            return f"TensorFlow {version}" if version else "TensorFlow 1"
        label = {"keras3": "Keras 3", "tf-keras": "tf-keras (Keras 2)",
                 "keras2": "standalone Keras 2"}[self.name]
        return f"{label} {version}" if version else label


def parse_version(text: str) -> tuple[int, ...] | None:
    """Parse the leading numeric part of a version string: '3.15.1' -> (3, 15, 1)."""
    parts: list[int] = []
    for piece in text.strip().split("."):
        digits = ""
        for char in piece:
            if not char.isdigit():
                break
            digits += char
        if not digits:
            break
        parts.append(int(digits))
        if len(digits) != len(piece):
            break
    return tuple(parts) or None
