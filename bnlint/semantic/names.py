"""Canonical names for Keras/TensorFlow symbols, and the API facts of keras_api.toml."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

# Graph-mode gradients of tensors with respect to tensors (TF1, Keras 2).
GRAPH_GRADIENTS = frozenset({"tf.gradients", "tf.compat.v1.gradients",
                             "keras.backend.gradients"})

# Longest prefixes first. Each maps an import path onto the canonical `keras.` names.
_PREFIXES: tuple[tuple[str, str], ...] = (
    ("tensorflow.", "tf."),
    ("tf.python.keras.", "keras."),
    ("tf.compat.v2.keras.", "keras."),
    ("tf.compat.v1.keras.", "keras."),
    ("tf.keras.", "keras."),
    ("tf_keras.src.", "keras."),
    ("tf_keras.", "keras."),
    ("keras._tf_keras.keras.", "keras."),
    ("keras.src.", "keras."),
    ("keras.api.", "keras."),
    # standalone Keras 2's TensorFlow backend module is its `keras.backend`
    ("keras.backend.tensorflow_backend.", "keras.backend."),
)
_EXACT = {"tensorflow": "tf", "tf.keras": "keras", "tf_keras": "keras",
          "tf.python.keras": "keras", "tf.compat.v2.keras": "keras", "tf_keras.src": "keras",
          "keras._tf_keras.keras": "keras", "keras.src": "keras", "keras.api": "keras"}
# What is under `tf.compat.v1.keras` is Keras (``import tensorflow.compat.v1 as tf`` then
# `tf.keras...`), except the V1 BatchNormalization class (F3) and the v1 backend, which keep
# their own names; so do the module paths leading to them, which attribute chains pass.
_V1_KEEP_EXACT = frozenset({"tf.compat.v1.keras", "tf.compat.v1.keras.layers",
                            "tf.compat.v1.keras.layers.BatchNormalization"})
_V1_KEEP_PACKAGE = "tf.compat.v1.keras.backend"
# Subpackages whose inner module paths collapse (`keras.layers.core.dense.Dense`).
_COLLAPSE = ("keras.layers.", "keras.applications.")
_KEEP_UNDER_LAYERS = ("experimental",)


def canonical(name: str) -> str:
    """Normalise a dotted import path: ``tensorflow.keras.layers.BatchNormalization``,
    ``tf_keras.layers.BatchNormalization`` and
    ``keras.src.layers.normalization.batch_normalization.BatchNormalization`` all become
    ``keras.layers.BatchNormalization``."""
    if name in _EXACT:
        return _EXACT[name]
    kept = _v1_kept(name)
    if kept is not None:
        return kept
    changed = True
    while changed:
        changed = False
        for prefix, replacement in _PREFIXES:
            if name.startswith(prefix):
                name = replacement + name[len(prefix):]
                changed = True
    if name in _EXACT:  # `tensorflow.keras` -> `tf.keras` -> `keras`
        return _EXACT[name]
    for package in _COLLAPSE:
        if name.startswith(package):
            rest = name[len(package):].split(".")
            if len(rest) > 1 and rest[0] not in _KEEP_UNDER_LAYERS and rest[-1][:1].isupper():
                return package + rest[-1]
    if name.startswith(("keras.engine.", "keras.models.")):
        last = name.rsplit(".", 1)[-1]
        if last in {"Sequential", "Model", "Functional"}:
            return "keras.Model" if last == "Functional" else f"keras.{last}"
        if last in {"Layer", "InputSpec"} and name.startswith("keras.engine."):
            return f"keras.layers.{last}"  # Keras 2's `keras.engine.topology.Layer`
    if name.startswith(("keras.legacy.", "keras.optimizers.optimizer_v2.")):
        return "keras.optimizers.legacy." + name.rsplit(".", 1)[-1]
    return name


def _v1_kept(name: str) -> str | None:
    """The canonical name of a `tf.compat.v1.keras` symbol that is not plain Keras."""
    for prefix in ("tensorflow.compat.v1.keras", "tf.compat.v1.keras"):
        if name == prefix or name.startswith(prefix + "."):
            short = "tf.compat.v1.keras" + name[len(prefix):]
            if short in _V1_KEEP_EXACT or short == _V1_KEEP_PACKAGE or short.startswith(
                    _V1_KEEP_PACKAGE + "."):
                return short
    return None


@dataclass(frozen=True, slots=True)
class KerasApi:
    """Sets of canonical names the semantic model classifies calls with."""

    bn_layers: frozenset[str]
    v1_bn_layers: frozenset[str]
    tf1_bn_functions: frozenset[str]
    stateless_bn: frozenset[str]
    not_bn: frozenset[str]
    removed_in_keras3_kwargs: frozenset[str]
    dropout_layers: frozenset[str]
    sequential: frozenset[str]
    functional: frozenset[str]
    layer_bases: frozenset[str]
    model_bases: frozenset[str]
    loaders: frozenset[str]
    inputs: frozenset[str]
    clone: frozenset[str]
    apps_with_bn: frozenset[str]
    apps_without_bn: frozenset[str]
    hub_generic: frozenset[str]
    presets_with_bn: tuple[str, ...]
    presets_without_bn: tuple[str, ...]
    # factory -> (fewest layers of any variant, largest distance of the last BN layer
    # from the end of `model.layers`), measured by tools/measure_applications.py
    app_layers: dict[str, tuple[int, int]]
    hub_with_bn: frozenset[str]
    hub_without_bn: frozenset[str]
    opaque_layers: frozenset[str]
    optimizer_defaults: dict[str, float]
    optimizer_strings: dict[str, str]
    legacy_optimizer_prefixes: tuple[str, ...]
    schedules_prefix: str
    learning_phase: frozenset[str]
    gradient_tape: frozenset[str]
    set_value: frozenset[str]

    def application(self, name: str) -> str | None:
        """'with_bn' / 'without_bn' / 'unknown' for a keras.applications factory, else None."""
        if not name.startswith("keras.applications."):
            return None
        last = name.rsplit(".", 1)[-1]
        if last in self.apps_with_bn:
            return "with_bn"
        if last in self.apps_without_bn:
            return "without_bn"
        return "unknown" if last[:1].isupper() else None

    def is_layer_class(self, name: str) -> bool:
        """A Keras layer class under keras.layers (including BN and Dropout), or one of
        TensorFlow Addons' (``tfa.layers.SpectralNormalization(conv)``: none holds BN)."""
        return name.startswith(_LAYER_PACKAGES) and name.rsplit(".", 1)[-1][:1].isupper()


# Packages of Keras layer classes.
_LAYER_PACKAGES = ("keras.layers.", "tensorflow_addons.layers.", "tfa.layers.")


def _frozen(table: dict[str, Any], key: str) -> frozenset[str]:
    return frozenset(str(item) for item in table.get(key, []))


@lru_cache(maxsize=1)
def keras_api() -> KerasApi:
    """Load the data table shipped with bnlint (once per process)."""
    path = Path(__file__).resolve().parent.parent / "data" / "keras_api.toml"
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    bn, models, apps, opt = data["bn"], data["models"], data["applications"], data["optimizers"]
    backend = data["backend"]
    return KerasApi(
        bn_layers=_frozen(bn, "layers"),
        v1_bn_layers=_frozen(bn, "v1_layers"),
        tf1_bn_functions=_frozen(bn, "tf1_functions"),
        stateless_bn=_frozen(bn, "stateless"),
        not_bn=_frozen(bn, "not_bn"),
        removed_in_keras3_kwargs=_frozen(bn, "removed_in_keras3_kwargs"),
        dropout_layers=_frozen(data["dropout"], "layers"),
        sequential=_frozen(models, "sequential"),
        functional=_frozen(models, "functional"),
        layer_bases=_frozen(models, "layer_bases"),
        model_bases=_frozen(models, "model_bases"),
        loaders=_frozen(models, "loaders"),
        inputs=_frozen(models, "input"),
        clone=_frozen(models, "clone"),
        apps_with_bn=_frozen(apps, "with_bn"),
        apps_without_bn=_frozen(apps, "without_bn"),
        hub_generic=_frozen(apps, "hub_generic"),
        presets_with_bn=tuple(str(item) for item in apps.get("presets_with_bn", [])),
        presets_without_bn=tuple(str(item) for item in apps.get("presets_without_bn", [])),
        app_layers={str(name): (int(shape["min_layers"]), int(shape["last_bn_from_end"]))
                    for name, shape in apps.get("layers", {}).items()},
        hub_with_bn=_frozen(apps, "hub_with_bn"),
        hub_without_bn=_frozen(apps, "hub_without_bn"),
        opaque_layers=_frozen(apps, "opaque"),
        optimizer_defaults={str(k): float(v) for k, v in opt["defaults"].items()},
        optimizer_strings={str(k): str(v) for k, v in opt["strings"].items()},
        legacy_optimizer_prefixes=tuple(opt["legacy_prefixes"]),
        schedules_prefix=str(opt["schedules_prefix"]),
        learning_phase=_frozen(backend, "learning_phase"),
        gradient_tape=_frozen(backend, "gradient_tape"),
        set_value=_frozen(backend, "set_value"),
    )
