"""BN305 removed-in-keras3."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from bnlint.probe.scenario import scenario
from bnlint.rule import Anchor, Change, Example, FixExample, Report, Rewrite, Rule, RuleContext
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

    Not reported in the sources of the `keras`, `tf_keras` or `tensorflow` packages
    themselves (a checkout of Keras, tf-keras or TensorFlow): they maintain the API
    this advice moves users away from.

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
    Two fixes, both safe. Dropping `fused=` keeps what the layer computes (it only
    chose a kernel). `keras.layers.SyncBatchNormalization(args)` (or
    `tf.keras.layers.experimental.SyncBatchNormalization(args)`) becomes
    `keras.layers.BatchNormalization(args, synchronized=True)` (`tf.keras.layers...`),
    which synchronises the statistics across replicas as before on the TensorFlow
    backend, the backend the old layer required; other backends ignore the flag. No
    fix for a bare imported name (the new class may not be imported), for a call with
    `*args`/`**kwargs`, or for `virtual_batch_size=`/`adjustment=`, whose removal
    changes what the layer computes.

    ## References
    - Keras 3 `BatchNormalization` API (`synchronized` argument)
    - https://github.com/keras-team/keras/issues/19597
    """

    code = "BN305"
    advises_migration = True
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
    fixed = (
        FixExample("""
        from keras import layers
        a = layers.BatchNormalization(fused=True)
        b = layers.BatchNormalization(axis=1, fused=False, momentum=0.9)
        c = layers.BatchNormalization(
            axis=1,
            fused=True,
        )
        d = layers.BatchNormalization(fused=True,)
        """, """
        from keras import layers
        a = layers.BatchNormalization()
        b = layers.BatchNormalization(axis=1, momentum=0.9)
        c = layers.BatchNormalization(
            axis=1,
        )
        d = layers.BatchNormalization()
        """, target="keras3"),
        FixExample("""
        import tensorflow as tf
        import keras
        bn = tf.keras.layers.experimental.SyncBatchNormalization(momentum=0.9)
        other = keras.layers.SyncBatchNormalization()
        """, """
        import tensorflow as tf
        import keras
        bn = tf.keras.layers.BatchNormalization(momentum=0.9, synchronized=True)
        other = keras.layers.BatchNormalization(synchronized=True)
        """, target="keras3"),
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
                             scenario=scenario(self.code, feature="SyncBatchNormalization"),
                             fix=_synchronized(module, call.node))
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
                         scenario=scenario("BN305", feature=name),
                         fix=_dropped(node, arg) if name == "fused" else None)


def _dropped(call: cst.Call, arg: cst.Arg) -> Rewrite:
    """The argument removed with its comma, the layout of the others kept."""
    args = list(call.args)
    index = next(i for i, other in enumerate(args) if other is arg)
    if index + 1 < len(args):  # up to the next argument
        change = Change(Anchor(arg, "start"), Anchor(args[index + 1], "start"), "")
    elif index > 0:  # from the end of the previous one (its comma goes with it)
        change = Change(Anchor(args[index - 1], "end"), Anchor(arg, "end"), "")
    else:
        end = arg.comma if isinstance(arg.comma, cst.Comma) else arg
        change = Change(Anchor(arg, "start"), Anchor(end, "end"), "")
    return Rewrite(f"Remove `{arg.keyword.value if arg.keyword else ''}=`", (change,))


def _synchronized(module: cst.Module, call: cst.Call) -> Rewrite | None:
    """``SyncBatchNormalization(args)`` as ``BatchNormalization(args, synchronized=True)``
    through the same module path (``layers.experimental`` dropped)."""
    func = call.func
    if (not isinstance(func, cst.Attribute) or any(arg.star for arg in call.args)
            or keyword(call, "synchronized") is not None):
        return None
    base = func.value
    if isinstance(base, cst.Attribute) and base.attr.value == "experimental":
        base = base.value
    args = list(call.args)
    if args and not isinstance(args[-1].comma, cst.Comma):
        args[-1] = args[-1].with_changes(comma=cst.Comma(
            whitespace_after=cst.SimpleWhitespace(" ")))
    args.append(cst.Arg(
        cst.Name("True"), keyword=cst.Name("synchronized"),
        equal=cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""),
                              whitespace_after=cst.SimpleWhitespace(""))))
    new = call.with_changes(
        func=cst.Attribute(base, cst.Name("BatchNormalization")), args=args)
    return Rewrite("Use `BatchNormalization(..., synchronized=True)`",
                   (Change.replace(call, module.code_for_node(new)),))


def _sync_message(spelling: str) -> str:
    return (f"`{spelling}` does not exist in Keras 3 (AttributeError); use "
            "`keras.layers.BatchNormalization(synchronized=True)` (TensorFlow backend)")


def _tf1_message(spelling: str) -> str:
    return (f"`{spelling}` is not available with Keras 3 (AttributeError); use "
            "`keras.layers.BatchNormalization()` called with `training=`, or pin tf-keras "
            "(`TF_USE_LEGACY_KERAS=1`) for TF1-style code")
