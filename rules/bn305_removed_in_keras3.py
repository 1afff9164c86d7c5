"""BN305 removed-in-keras3."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from bnlint.probe.scenario import scenario
from bnlint.rule import Example, Report, Rule, RuleContext
from bnlint.semantic.names import keras_api
from bnlint.semantic.tf1 import effective_flavour

from ._arguments import keyword

if TYPE_CHECKING:
    import libcst as cst
else:
    from bnlint.lazy import libcst as cst

_SYNC_BN = frozenset({
    "keras.layers.SyncBatchNormalization",
    "keras.layers.experimental.SyncBatchNormalization",
})
# Under Keras 3 these raise "AttributeError: batch_normalization is not available with
# Keras 3." (fact F16, verified for the function).
_TF1_FUNCTIONS = frozenset({"tf.compat.v1.layers.batch_normalization"})
_KWARG_FIX = {
    "fused": "drop it (it was only a performance hint)",
    "virtual_batch_size": "drop it (Keras 3 has no ghost batch normalisation)",
    "adjustment": "drop it (Keras 3 has no equivalent)",
}


class RemovedInKeras3(Rule):
    """## What it does
    In code that targets Keras 3, flags BatchNormalization APIs that Keras 3 removed:
    `SyncBatchNormalization` (`keras.layers` or `tf.keras.layers.experimental`), the
    `fused=`, `virtual_batch_size=` and `adjustment=` arguments of
    `BatchNormalization`, and `tf.compat.v1.layers.batch_normalization`. Silent for
    tf-keras, standalone Keras 2 and TF1 targets, where they all work.

    Silent when nothing says which Keras the code targets (no `target-keras`, no pin, no
    API only one generation of Keras has): these arguments are right in Keras 2.

    ## Why is this bad?
    Each of them fails under Keras 3 (TF >= 2.16 without `TF_USE_LEGACY_KERAS=1`):
    `BatchNormalization(fused=True)` raises `ValueError: Unrecognized keyword arguments`,
    `keras.layers.SyncBatchNormalization` raises `AttributeError`, and
    `tf.compat.v1.layers.batch_normalization` raises `AttributeError: batch_normalization
    is not available with Keras 3.` (facts F15 and F16, verified with Keras 3.15.1).

    ## Example
    ```python
    from keras import layers
    bn = layers.BatchNormalization(fused=True)
    sync = tf.keras.layers.experimental.SyncBatchNormalization()
    ```

    ## Use instead
    ```python
    bn = layers.BatchNormalization()
    sync = layers.BatchNormalization(synchronized=True)  # TensorFlow backend
    ```

    ## Fix safety
    No automatic fix yet. Dropping `fused=` is safe (a performance hint);
    `SyncBatchNormalization(args)` -> `BatchNormalization(args, synchronized=True)` is
    safe on the TensorFlow backend only.

    ## References
    - Keras 3 `BatchNormalization` API (`synchronized` argument)
    - https://github.com/keras-team/keras/issues/19597
    """

    code = "BN305"
    name = "removed-in-keras3"
    severity = "error"
    summary = "A BatchNormalization API that Keras 3 removed"
    needles = (b"SyncBatchNormalization", b"fused", b"virtual_batch_size", b"adjustment",
               b"batch_normalization")
    flagged = (
        Example("""
        from keras import layers
        bn = layers.BatchNormalization(fused=True)
        """, target="keras3"),
        Example("""
        import tensorflow as tf
        bn = tf.keras.layers.experimental.SyncBatchNormalization(momentum=0.9)
        """, target="keras3"),
        Example("""
        from keras.layers import BatchNormalization as BN
        block = [BN(axis=1, virtual_batch_size=8)]
        """, target="keras3"),
        Example("""
        import keras
        norm = keras.layers.SyncBatchNormalization
        """, target="keras3"),
        Example("""
        import tensorflow as tf
        h = tf.compat.v1.layers.batch_normalization(x, training=True)
        """, target="keras3"),
        Example(
            """
            from tensorflow.keras import layers
            bn = layers.BatchNormalization(fused=False)
            """,
            target="keras3",
        ),
    )
    not_flagged = (
        """
        from keras import layers
        bn = layers.BatchNormalization(synchronized=True, renorm=True)
        """,
        """
        import tf_keras
        bn = tf_keras.layers.BatchNormalization(fused=True)
        sync = tf_keras.layers.experimental.SyncBatchNormalization()
        """,
        Example(
            """
            import tensorflow as tf
            bn = tf.keras.layers.BatchNormalization(fused=True, virtual_batch_size=8)
            """,
            target="tf-keras",
        ),
        """
        import tensorflow as tf
        x = tf.placeholder(tf.float32, [None, 8])
        h = tf.compat.v1.layers.batch_normalization(x, training=True)
        """,
        """
        import tensorflow as tf
        y = tf.nn.fused_batch_norm(x, scale, offset)
        z = tf.image.adjust_contrast(x, adjustment)
        """,
    )

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        if effective_flavour(ctx) != "keras3" or ctx.flavour.assumed:
            return
        api = keras_api()
        classes = api.bn_layers | api.v1_bn_layers
        removed = sorted(api.removed_in_keras3_kwargs)
        module = ctx.model.module
        seen: set[int] = set()
        called: set[int] = set()
        for call in ctx.model.calls:
            called.add(id(call.node.func))
            if id(call.node) in seen or call.name is None:
                continue
            seen.add(id(call.node))
            if call.name in _SYNC_BN:
                yield Report(call.node, _sync_message(module.code_for_node(call.node.func)),
                             scenario=scenario(self.code, feature="SyncBatchNormalization"))
            elif call.name in _TF1_FUNCTIONS:
                yield Report(call.node, _tf1_message(module.code_for_node(call.node.func)),
                             scenario=scenario(self.code, feature="tf1_batch_normalization"))
            if call.name in classes:
                yield from _removed_arguments(call.node, removed)
        for reference in ctx.model.references:
            if reference.name in _SYNC_BN and id(reference.node) not in called:
                yield Report(reference.node, _sync_message(module.code_for_node(reference.node)),
                             scenario=scenario(self.code, feature="SyncBatchNormalization"))


def _removed_arguments(node: cst.Call, removed: list[str]) -> Iterator[Report]:
    for name in removed:
        arg = keyword(node, name)
        if arg is not None:
            yield Report(arg, f"Keras 3 removed `{name}=` from BatchNormalization: building the "
                              "layer raises `ValueError: Unrecognized keyword arguments`; "
                              f"{_KWARG_FIX.get(name, 'drop it')}",
                         scenario=scenario("BN305", feature=name))


def _sync_message(spelling: str) -> str:
    return (f"`{spelling}` does not exist in Keras 3 (AttributeError); use "
            "`keras.layers.BatchNormalization(synchronized=True)` (TensorFlow backend)")


def _tf1_message(spelling: str) -> str:
    return (f"`{spelling}` is not available with Keras 3 (AttributeError); use "
            "`keras.layers.BatchNormalization()` called with `training=`, or pin tf-keras "
            "(`TF_USE_LEGACY_KERAS=1`) for TF1-style code")
