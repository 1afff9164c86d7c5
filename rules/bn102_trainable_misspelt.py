"""BN102 trainable-misspelt."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from bnlint.rule import Change, FixExample, Report, Rewrite, Rule, RuleContext
from bnlint.semantic.events import Event
from bnlint.semantic.values import Layer, LayerSelection, ModuleRef

if TYPE_CHECKING:
    import libcst as cst
else:
    from bnlint.lazy import libcst as cst

_TARGET = "trainable"
# Real attributes of Keras layers/models that look like `trainable`, and BN101's names.
_REAL_ATTRIBUTES = frozenset({
    "trainable", "training", "trainable_weights", "trainable_variables",
    "non_trainable_weights", "non_trainable_variables", "trainable_params",
})
# Modules people assign `.trainable` on by mistake (a loop variable mistyped as the
# module name: `for layer in model.layers: layers.trainable = False`).
_KERAS_MODULES = frozenset({"keras", "keras.layers", "keras.models", "keras.applications"})


def edit_distance(left: str, right: str) -> int:
    """Damerau-Levenshtein distance (optimal string alignment) of two strings."""
    rows = [[0] * (len(right) + 1) for _ in range(len(left) + 1)]
    for i in range(len(left) + 1):
        rows[i][0] = i
    for j in range(len(right) + 1):
        rows[0][j] = j
    for i in range(1, len(left) + 1):
        for j in range(1, len(right) + 1):
            cost = 0 if left[i - 1] == right[j - 1] else 1
            rows[i][j] = min(rows[i - 1][j] + 1, rows[i][j - 1] + 1,
                             rows[i - 1][j - 1] + cost)
            if (i > 1 and j > 1 and left[i - 1] == right[j - 2]
                    and left[i - 2] == right[j - 1]):
                rows[i][j] = min(rows[i][j], rows[i - 2][j - 2] + 1)
    return rows[-1][-1]


def is_trainable_typo(attribute: str) -> bool:
    """``trainabe``, ``trianable``, ``Trainable``...: close to ``trainable`` but not a
    real Keras attribute (``_trainable``, ``trainable_``: underscores mark deliberate
    names of one's own)."""
    if attribute in _REAL_ATTRIBUTES or attribute.startswith("_") or attribute.endswith("_"):
        return False
    if attribute.lower() == _TARGET:
        return True
    return edit_distance(attribute.lower(), _TARGET) <= 2


class TrainableMisspelt(Rule):
    """## What it does
    Flags an assignment to a misspelt `trainable` attribute (`trainabe`, `trianable`,
    `Trainable`, `trainabel`...) on a Keras layer or model, and `.trainable` assigned to
    the `keras.layers` module instead of a layer (`layers.trainable = False` inside
    `for layer in model.layers:`).

    ## Why is this bad?
    Python accepts any attribute name on a Keras layer, so the typo silently creates a
    new attribute and nothing is frozen or unfrozen: the layer keeps training, and a
    BatchNormalization layer keeps updating its moving mean and variance (fact F14,
    verified in Keras 3 and tf-keras; real case: `base_model.trainabe = True` in
    ayulockin/SwAV-TF#13). Assigning to the module `layers` sets an attribute on the
    module and freezes nothing either.

    ## Example
    ```python
    base_model = keras.applications.ResNet50(include_top=False)
    base_model.trainabe = False
    ```

    ## Use instead
    ```python
    base_model.trainable = False
    ```

    ## Fix safety
    The fix renames the misspelt attribute to `trainable`. It is safe: bnlint reports
    a misspelt name only when nothing in the file reads it, so the rename changes
    nothing but the freeze the code states. The module case (`layers.trainable = ...`
    in a loop) gets no fix: which variable was meant is a guess.

    ## References
    - https://github.com/ayulockin/SwAV-TF/issues/13
    - Keras guide "Transfer learning & fine-tuning", section "Freezing layers"
    """

    code = "BN102"
    name = "trainable-misspelt"
    severity = "error"
    summary = "misspelt `.trainable` (or `.trainable` on the layers module) freezes nothing"
    # Any likely typo keeps one of these pieces of `trainable`.
    needles = (b"rain", b"RAIN", b"able", b"abel", b"abe", b"bale")
    flagged = (
        """
        import tensorflow as tf
        base_model = tf.keras.applications.ResNet50(include_top=False)
        base_model.trainabe = True
        """,
        """
        from tensorflow.keras import layers as L
        bn = L.BatchNormalization()
        bn.Trainable = False
        """,
        """
        import keras
        base = keras.applications.MobileNetV2(include_top=False)
        for layer in base.layers[:100]:
            layer.trianable = False
        """,
        """
        from keras import layers
        import keras
        model = keras.Sequential([layers.Dense(8), layers.BatchNormalization()])
        for layer in model.layers:
            layers.trainable = False
        """,
        """
        import tf_keras
        from keras.layers import BatchNormalization as BN
        model = tf_keras.Sequential([tf_keras.layers.Dense(4), BN()])
        model.layers[-1].trainabel = False
        """,
    )
    fixed = (
        FixExample("""
        import keras
        base = keras.applications.MobileNetV2(include_top=False)
        base.Trainable = False
        for layer in base.layers[:100]:
            layer.trianable = False
        """, """
        import keras
        base = keras.applications.MobileNetV2(include_top=False)
        base.trainable = False
        for layer in base.layers[:100]:
            layer.trainable = False
        """),
    )
    not_flagged = (
        """
        import tensorflow as tf
        base_model = tf.keras.applications.ResNet50(include_top=False)
        base_model.trainable = False
        """,
        """
        import keras
        class Block(keras.layers.Layer):
            def __init__(self, trainables=True):
                super().__init__()
                self.trainables = trainables
            def call(self, x):
                return x if self.trainables else -x
        """,
        """
        from keras import layers
        bn = layers.BatchNormalization()
        bn._trainable = False
        """,
        """
        import argparse
        args = argparse.Namespace()
        args.trainabel = False
        """,
        """
        import keras
        base = keras.applications.ResNet50(include_top=False)
        for layer in base.layers:
            layer.trainable = False
        print(len(base.trainable_weights))
        """,
        """
        from tensorflow.keras import layers
        model = build_model()
        model.trainabe = False  # unknown object: not a known Keras model
        """,
        """
        from keras import layers
        from keras.applications import VGG16
        vgg = VGG16(weights="imagenet", include_top=False)
        for layers in vgg.layers:  # the loop variable shadows the module
            layers.trainable = False
        """,
    )

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        model = ctx.model
        for event in model.events_of("set_attr"):
            if not is_trainable_typo(event.attr) or model.is_read(event.attr):
                continue
            if not _flag_like(event.value_node):
                continue
            what = _describe_target(event)
            if what is None:
                continue
            layer = event.layer
            bn = ""
            if isinstance(event.target, Layer) and event.target.is_bn:
                bn = " (the layer keeps updating its moving mean/variance)"
            elif layer is not None and layer.contains_bn() is True:
                bn = " (its BatchNormalization layers keep updating their moving statistics)"
            yield Report(
                event.node,
                f"`.{event.attr}` is not `.trainable`: Python accepts the new attribute on "
                f"{what} and nothing is frozen or unfrozen{bn}; rename it to `.trainable`",
                fix=Rewrite(f"Rename `.{event.attr}` to `.trainable`",
                            (Change.replace(event.node.attr, "trainable"),))
                if isinstance(event.node, cst.Attribute) else None,
            )
        for event in model.events_of("set_trainable"):
            target = event.target
            if isinstance(target, ModuleRef) and target.name in _KERAS_MODULES:
                written = _owner_text(model.module, event.node)
                hint = " (the loop variable?)" if event.context.loop_depth > 0 else ""
                yield Report(
                    event.node,
                    f"`{written}` is the `{target.name}` module, not a layer: setting its "
                    f"`.trainable` freezes nothing; assign it on the layer{hint}",
                )


def _flag_like(node: cst.CSTNode | None) -> bool:
    """A value one would assign to `trainable`: a bool/int literal, a name, an attribute,
    a comparison or a negation (not a string, list, call...)."""
    return isinstance(node, (cst.Name, cst.Attribute, cst.Integer, cst.Comparison,
                             cst.UnaryOperation, cst.BooleanOperation))


def _owner_text(module: cst.Module, node: cst.CSTNode) -> str:
    if isinstance(node, cst.Attribute):
        return module.code_for_node(node.value)
    return "this"


def _describe_target(event: Event) -> str | None:
    target = event.target
    if isinstance(target, LayerSelection):
        return f"the layers of `{target.container.label or 'the model'}`"
    if isinstance(target, Layer):
        return f"`{target.label}`" if target.label else "this Keras layer"
    return None

