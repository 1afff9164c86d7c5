"""`import tensorflow.compat.v1 as tf` keeps `tf.keras` Keras and marks TF1 graph mode,
while the V1-only symbols under `tf.compat.v1.keras` keep their own names."""

from __future__ import annotations

import textwrap

import libcst as cst
import pytest

from bnlint.engine import lint_source
from bnlint.registry import all_rules
from bnlint.semantic.build import build_model
from bnlint.semantic.flavour import resolve_flavour
from bnlint.semantic.names import canonical
from bnlint.settings import Settings
from bnlint.sources import source_from_text

FINETUNE_TF1 = textwrap.dedent("""\
    import tensorflow.compat.v1 as tf
    tf.disable_v2_behavior()
    base = tf.keras.applications.ResNet50(weights="imagenet", include_top=False)
    base.trainable = False
    model = tf.keras.Sequential([base, tf.keras.layers.Dense(10)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y)
    base.trainable = True
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y)
""")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("tensorflow.compat.v1.keras.applications.ResNet50", "keras.applications.ResNet50"),
        ("tensorflow.compat.v1.keras.layers.Dense", "keras.layers.Dense"),
        ("tensorflow.compat.v1.keras.Sequential", "keras.Sequential"),
        # near misses: the V1 BatchNormalization class (F3) and the v1 backend stay apart
        ("tensorflow.compat.v1.keras.layers.BatchNormalization",
         "tf.compat.v1.keras.layers.BatchNormalization"),
        ("tensorflow.compat.v1.keras.backend.set_learning_phase",
         "tf.compat.v1.keras.backend.set_learning_phase"),
        ("tensorflow.compat.v1.layers.batch_normalization",
         "tf.compat.v1.layers.batch_normalization"),
        ("tensorflow.compat.v1", "tf.compat.v1"),
        # the module paths an attribute chain passes on its way to the V1 class
        ("tensorflow.compat.v1.keras", "tf.compat.v1.keras"),
        ("tf.compat.v1.keras.layers", "tf.compat.v1.keras.layers"),
    ],
)
def test_compat_v1_keras_names_are_keras_except_v1_only_symbols(
    name: str, expected: str
) -> None:
    assert canonical(name) == expected


def test_compat_v1_alias_exposes_keras_and_marks_tf1_graph_mode() -> None:
    model = build_model(cst.parse_module(FINETUNE_TF1))
    base = next(layer for layer in model.layers if layer.label == "base")
    assert (base.qualname, base.has_bn, base.pretrained) == (
        "keras.applications.ResNet50", True, True)
    flavour = resolve_flavour(model, Settings(), None)
    assert flavour.name == "tf1"


def test_compat_v1_alias_fine_tuning_is_checked_like_tf_keras() -> None:
    result = lint_source(source_from_text("tf1.py", FINETUNE_TF1), Settings(), all_rules())
    assert [(f.code, f.span.start.row) for f in result.findings] == [("BN201", 8), ("BN204", 9)]


def test_compat_v1_alias_batch_normalization_is_still_the_v1_class() -> None:
    model = build_model(cst.parse_module(
        "import tensorflow.compat.v1 as tf\n"
        "bn = tf.keras.layers.BatchNormalization()\n"
        "dense = tf.keras.layers.Dense(3)\n"))
    bn, dense = model.layers
    assert (bn.qualname, bn.is_bn, bn.bn_v1) == (
        "tf.compat.v1.keras.layers.BatchNormalization", True, True)
    assert dense.qualname == "keras.layers.Dense"
