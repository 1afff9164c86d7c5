"""BN304 v1-bn-semantics."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from bnlint.rule import Example, Report, Rule, RuleContext
from bnlint.semantic.events import Event
from bnlint.semantic.tf1 import effective_flavour
from bnlint.semantic.values import Const, Layer, LayerSelection

from ._arguments import is_literal_false, keyword

if TYPE_CHECKING:
    import libcst as cst
else:
    from bnlint.lazy import libcst as cst

_TARGETS = frozenset({"tf-keras", "keras2", "tf1"})


class V1BnSemantics(Rule):
    """## What it does
    Flags a V1 BatchNormalization layer (`tf.compat.v1.keras.layers.BatchNormalization`,
    `tf.compat.v1.layers.BatchNormalization`) that is frozen: built with
    `trainable=False`, or frozen later by `layer.trainable = False` on itself or on a
    model that contains it. Only when the code targets tf-keras / TF <= 2.15, standalone
    Keras 2 or TF1; under Keras 3 the same symbol is the modern class.

    ## Why is this bad?
    The V1 class keeps the pre-TF2 semantics (fact F3, verified with tf-keras 2.21):
    `trainable=False` stops the updates of gamma, beta and the moving statistics, but in
    training mode (`fit()`, `training=True`) the layer still normalises with the
    statistics of the current batch. A "frozen" V1 layer therefore behaves differently in
    training and at inference, which is exactly what freezing BatchNormalization for
    fine-tuning is meant to avoid. Under Keras 3 the same line silently switches to the
    TF2 semantics.

    ## Example
    ```python
    bn = tf.compat.v1.keras.layers.BatchNormalization(trainable=False)
    ```

    ## Use instead
    ```python
    bn = tf.keras.layers.BatchNormalization(trainable=False)
    ```
    whose frozen layers run in inference mode (moving statistics) in `fit()` too.

    ## Fix safety
    No automatic fix: switching to the TF2 class changes what the training computes.
    Keep the V1 class only for deliberate parity with a TF1 model.

    ## References
    - keras-team/tf-keras `tf_keras/layers/normalization/batch_normalization_v1.py`
      (`_USE_V2_BEHAVIOR = False`)
    - http://blog.datumbox.com/the-batch-normalization-layer-of-keras-is-broken/
    """

    code = "BN304"
    name = "v1-bn-semantics"
    severity = "warning"
    summary = "A frozen V1 BatchNormalization still uses batch statistics in training mode"
    needles = (b"BatchNormalization",)
    flagged = (
        Example(
            """
            import tensorflow as tf
            bn = tf.compat.v1.keras.layers.BatchNormalization(trainable=False)
            """,
            target="tf-keras",
        ),
        Example(
            """
            import tf_keras
            from tensorflow.compat.v1.keras.layers import BatchNormalization as BN
            model = tf_keras.Sequential([tf_keras.layers.Dense(8), BN()])
            model.trainable = False
            """,
        ),
        Example(
            """
            import tensorflow.compat.v1 as tf
            bn = tf.keras.layers.BatchNormalization()
            h = bn(features)
            bn.trainable = False
            """,
        ),
        Example(
            """
            import tf_keras
            from tensorflow.compat.v1.keras.layers import BatchNormalization
            model = tf_keras.Sequential([tf_keras.layers.Dense(8), BatchNormalization()])
            for layer in model.layers:
                if isinstance(layer, BatchNormalization):
                    layer.trainable = False
            """,
        ),
        Example(
            """
            import tensorflow as tf
            from tensorflow.compat.v1.keras import layers as v1
            bn = v1.BatchNormalization()
            bn.trainable = False
            """,
            target="tf-keras",
        ),
    )
    not_flagged = (
        Example(
            """
            import tensorflow as tf
            bn = tf.keras.layers.BatchNormalization(trainable=False)
            """,
            target="tf-keras",
        ),
        Example(
            """
            import tensorflow as tf
            bn = tf.compat.v1.keras.layers.BatchNormalization(trainable=False)
            """,
            target="keras3",
        ),
        Example(
            """
            import tensorflow as tf
            bn = tf.compat.v1.keras.layers.BatchNormalization()
            y = bn(x, training=True)
            """,
            target="tf-keras",
        ),
        Example(
            """
            import tf_keras
            from tensorflow.compat.v1.keras.layers import BatchNormalization as BN
            model = tf_keras.Sequential([tf_keras.layers.Dense(8), BN()])
            for layer in model.layers:
                if not isinstance(layer, BN):
                    layer.trainable = False
            """,
        ),
        Example(
            """
            import tf_keras
            from tensorflow.compat.v1.keras.layers import BatchNormalization as BN
            bn = BN(trainable=True)
            """,
        ),
    )

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        if effective_flavour(ctx) not in _TARGETS:
            return
        freezes = [event for event in ctx.model.events_of("set_trainable")
                   if isinstance(event.value, Const) and event.value.value is False]
        seen: set[int] = set()
        for layer in ctx.model.layers:
            if not layer.bn_v1 or id(layer.node) in seen:
                continue
            seen.add(id(layer.node))
            report = _frozen_at_construction(layer) or _frozen_later(ctx, layer, freezes)
            if report is not None:
                yield report


def _message(what: str) -> str:
    return (f"{what} a V1 BatchNormalization, which when frozen stops updating gamma/beta and "
            "the moving statistics but still normalises with batch statistics in training "
            "mode, so it behaves differently in `fit()` and at inference; use "
            "`tf.keras.layers.BatchNormalization`, whose frozen layers run in inference mode")


def _frozen_at_construction(layer: Layer) -> Report | None:
    node = layer.node
    if not isinstance(node, cst.Call):
        return None
    trainable = keyword(node, "trainable")
    if trainable is None or not (isinstance(trainable.value, cst.Name)
                                 and is_literal_false(trainable.value)):
        return None
    return Report(node, _message("`trainable=False` freezes"))


def _frozen_later(ctx: RuleContext, layer: Layer, freezes: list[Event]) -> Report | None:
    for event in freezes:
        target = event.target
        if target is layer:
            what = "this freezes"
        elif isinstance(target, Layer) and layer in target.descendants():
            what = f"freezing `{target.label or 'this model'}` freezes"
        elif isinstance(target, LayerSelection) and _selects(target, layer):
            what = "this loop freezes"
        else:
            continue
        return Report(event.node, _message(what),
                      related=((layer.node, "V1 BatchNormalization created here"),))
    return None


def _selects(selection: LayerSelection, layer: Layer) -> bool:
    """Does the selection definitely include ``layer``?"""
    if selection.guard == "not_bn":
        return False
    if selection.members is not None:
        return layer in selection.members
    return selection.extent == "all" and layer in selection.container.descendants()
