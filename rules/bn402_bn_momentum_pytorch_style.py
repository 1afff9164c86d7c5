"""BN402 bn-momentum-pytorch-style."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from bnlint.rule import Report, Rule, RuleContext
from bnlint.semantic.names import keras_api

from ._arguments import ModuleConstants, argument, has_star_arguments, keyword, positional

if TYPE_CHECKING:
    import libcst as cst
else:
    from bnlint.lazy import libcst as cst

# Where the momentum parameter sits: Keras classes `BatchNormalization(axis, momentum,
# ...)`; TF1 functions `batch_normalization(inputs, axis, momentum, ...)`; contrib/slim
# `batch_norm(inputs, decay, ...)` (same convention, other name).
_CLASS_POSITION = 1
_FUNCTION_POSITION = 2
_CONTRIB_STYLE = frozenset({
    "tf.contrib.layers.batch_norm",
    "tf.contrib.slim.batch_norm",
    "tf.contrib.slim.layers.batch_norm",
})


class BnMomentumPytorchStyle(Rule):
    """## What it does
    Flags `BatchNormalization(momentum=m)` (also positional, and `momentum=` of TF1
    `batch_normalization` / `decay=` of `tf.contrib.layers.batch_norm`) with a literal `m`
    at most 0.5 (setting `pytorch-momentum-max`), or a module constant bound to one.

    ## Why is this bad?
    Keras and TensorFlow weight the *old* value:
    `moving = moving * momentum + batch * (1 - momentum)` (default 0.99). PyTorch weights
    the *new* one: its `momentum=0.1` is Keras `momentum=0.9`. A value copied from
    PyTorch code makes the moving mean and variance follow the last batch or two, so
    inference uses the statistics of whatever batch came last (fact F18, verified: after
    one step on data of mean 10, `momentum=0.99` gives moving_mean 0.10, `momentum=0.1`
    gives 8.74).

    ## Example
    ```python
    bn = layers.BatchNormalization(momentum=0.1, epsilon=1e-5)  # ported from PyTorch
    ```

    ## Use instead
    ```python
    bn = layers.BatchNormalization(momentum=0.9, epsilon=1e-5)
    ```

    ## Fix safety
    No automatic fix: `1 - m` is right for ported code, but a deliberately fast-moving
    average is possible.

    ## References
    - Keras `BatchNormalization` documentation (`momentum`)
    - PyTorch `torch.nn.BatchNorm2d` documentation (note on `momentum`)
    """

    code = "BN402"
    name = "bn-momentum-pytorch-style"
    severity = "info"
    summary = "BatchNormalization momentum looks like PyTorch's convention (0.1 = Keras 0.9)"
    needles = (b"momentum", b"decay", b"BatchNorm", b"batch_norm")
    flagged = (
        """
        from keras import layers
        bn = layers.BatchNormalization(momentum=0.1, epsilon=1e-5)
        """,
        """
        from tensorflow.keras.layers import BatchNormalization as BN
        block = [BN(-1, 0.01)]
        """,
        """
        import tf_keras
        BN_MOMENTUM = 0.1
        norm = tf_keras.layers.BatchNormalization(axis=1, momentum=BN_MOMENTUM)
        """,
        """
        import tensorflow.compat.v1 as tf
        h = tf.layers.batch_normalization(x, momentum=0.1, training=is_training)
        """,
        """
        import tensorflow as tf
        h = tf.contrib.layers.batch_norm(x, decay=0.1, is_training=True)
        """,
    )
    not_flagged = (
        """
        from keras import layers
        bn = layers.BatchNormalization(momentum=0.9)
        """,
        """
        import tensorflow as tf
        bn = tf.keras.layers.BatchNormalization(momentum=0.997, epsilon=1e-5)
        """,
        """
        import keras
        opt = keras.optimizers.SGD(learning_rate=0.1, momentum=0.1)
        """,
        """
        import keras
        momentum = 0.1
        momentum = 1 - momentum
        bn = keras.layers.BatchNormalization(momentum=momentum)
        """,
        """
        from keras.layers import BatchNormalization as BN
        def block(x, momentum=0.1):
            return BN(momentum=momentum)(x)
        """,
        """
        from keras import layers
        norm = layers.LayerNormalization(epsilon=0.1)
        """,
    )

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        api = keras_api()
        classes = api.bn_layers | api.v1_bn_layers
        limit = ctx.settings.thresholds.pytorch_momentum_max
        constants: ModuleConstants | None = None
        seen: set[int] = set()
        for call in ctx.model.calls:
            name = call.name
            if name is None or id(call.node) in seen:
                continue
            seen.add(id(call.node))
            arg = _momentum_argument(call.node, name, classes, api.tf1_bn_functions)
            if arg is None:
                continue
            if constants is None:
                constants = ModuleConstants(ctx.model.module)
            value = constants.number(arg.value)
            if value is None or not 0 <= value <= limit:
                continue
            parameter = "decay" if name in _CONTRIB_STYLE else "momentum"
            yield Report(
                arg,
                f"`{parameter}={value:g}` weights the old moving average by {value:g}: Keras and "
                f"TensorFlow update `moving = moving * {parameter} + batch * (1 - {parameter})`, "
                "so the moving mean/variance used at inference follow the last batch; this "
                f"looks like PyTorch's convention, whose `momentum={value:g}` is "
                f"`{parameter}={1 - value:g}` here",
            )


def _momentum_argument(node: cst.Call, name: str, classes: frozenset[str],
                       functions: frozenset[str]) -> cst.Arg | None:
    if name in _CONTRIB_STYLE:
        return _bound(node, "decay", _CLASS_POSITION)
    if name in classes:
        plain = positional(node)
        if plain and isinstance(plain[0].value, cst.Float) and keyword(node, "momentum") is None:
            return None  # Keras 1 order `BatchNormalization(epsilon, mode, axis, momentum)`
        return _bound(node, "momentum", _CLASS_POSITION)
    if name in functions:
        return _bound(node, "momentum", _FUNCTION_POSITION)
    return None


def _bound(node: cst.Call, parameter: str, position: int) -> cst.Arg | None:
    """The argument for ``parameter``; positional only when no ``*args`` precede it."""
    found = keyword(node, parameter)
    if found is not None:
        return found
    if has_star_arguments(node):
        return None
    return argument(node, parameter, position)
