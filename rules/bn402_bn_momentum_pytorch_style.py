"""BN402 bn-momentum-pytorch-style."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from bnlint.probe.scenario import scenario
from bnlint.rule import Report, Rule, RuleContext
from bnlint.semantic.constants import ModuleConstants
from bnlint.semantic.model import CallSite
from bnlint.semantic.names import keras_api

from ._arguments import (
    argument,
    has_star_arguments,
    keyword,
    positional,
)

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
# Where the training flag sits: `batch_normalization(..., training=False, ...)` is the
# 15th parameter; contrib's `batch_norm(..., is_training=True, ...)` the 10th.
_TRAINING_POSITION = 14
_IS_TRAINING_POSITION = 9


class BnMomentumPytorchStyle(Rule):
    """## What it does
    Flags `BatchNormalization(momentum=m)` (also positional, and `momentum=` of TF1
    `batch_normalization` / `decay=` of `tf.contrib.layers.batch_norm`) with a literal `m`
    above 0 and at most 0.5 (setting `pytorch-momentum-max`), or a module constant bound
    to one.

    Layers in both arms of an `if` are read, also where the program as written takes
    one arm only (`if self.m == 2: ... else: ...`): the layer is wrong whenever a caller
    selects it.

    Not reported: `momentum=0`, which is no port of a PyTorch default but a deliberate
    choice (the moving statistics are those of the last batch); and a TF1
    `batch_normalization(..., training=True)` / contrib `batch_norm(..., is_training=True)`
    with a literal `True`: that graph always normalises with the batch statistics and
    never reads the moving ones, so the momentum changes nothing. (The momentum matters
    again when another call in inference mode reuses its variables, `reuse=True`: then
    it is reported.)

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
        # the arm a caller selects with another value
        """
        from tensorflow.keras import layers
        bn_mom = 0.1

        class Net:
            def __init__(self, m=2):
                self.m = m

            def block(self, x):
                if self.m == 2:
                    x = layers.BatchNormalization(momentum=0.9)(x)
                else:
                    x = layers.BatchNormalization(momentum=bn_mom)(x)
                return x

        features = Net(m=2).block(inputs)
        """,
        """
        import tensorflow.compat.v1 as tf
        h = tf.layers.batch_normalization(x, momentum=0.1, training=is_training)
        """,
        """
        import tensorflow as tf
        h = tf.contrib.layers.batch_norm(x, decay=0.1, is_training=is_training)
        """,
        # the inference graph reuses the variables the training graph updates
        """
        import tensorflow as tf
        train_h = tf.layers.batch_normalization(x, momentum=0.1, training=True, name="bn")
        test_h = tf.layers.batch_normalization(x_test, momentum=0.1, training=False,
                                               name="bn", reuse=True)
        """,
    )
    not_flagged = (
        """
        from keras import layers
        bn = layers.BatchNormalization(momentum=0.9)
        """,
        # code that never runs
        """
        from keras import layers
        if False:
            bn = layers.BatchNormalization(momentum=0.1)
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
        # training=True as a literal: the moving statistics are never read
        """
        import tensorflow.compat.v1 as tf
        h = tf.layers.batch_normalization(x, momentum=0.1, training=True)
        """,
        """
        import tensorflow as tf
        h = tf.contrib.layers.batch_norm(x, decay=0.1, is_training=True)
        """,
        # momentum 0 on purpose: the moving statistics are the last batch's
        """
        import keras
        bn = keras.layers.BatchNormalization(momentum=0.0)
        """,
    )

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        api = keras_api()
        classes = api.bn_layers | api.v1_bn_layers
        limit = ctx.settings.thresholds.pytorch_momentum_max
        constants: ModuleConstants | None = None
        shared = _may_share_variables(ctx.model.calls, api.tf1_bn_functions)
        seen: set[int] = set()
        # (also in an `if` arm a known value decided against: the layer is written wrong
        # whichever value selects it)
        for call in [*ctx.model.calls, *ctx.model.skipped_calls]:
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
            if value is None or not 0 < value <= limit:
                continue
            if not shared and _always_training(call.node, name, api.tf1_bn_functions):
                continue  # the moving statistics are never read
            parameter = "decay" if name in _CONTRIB_STYLE else "momentum"
            yield Report(
                arg,
                f"`{parameter}={value:g}` weights the old moving average by {value:g}: Keras and "
                f"TensorFlow update `moving = moving * {parameter} + batch * (1 - {parameter})`, "
                "so the moving mean/variance used at inference follow the last batch; this "
                f"looks like PyTorch's convention, whose `momentum={value:g}` is "
                f"`{parameter}={1 - value:g}` here",
                scenario=scenario(self.code, bn_momentum=value)
                if parameter == "momentum" else None,
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


def _always_training(node: cst.Call, name: str, functions: frozenset[str]) -> bool:
    """A TF1 function built with a literal ``training=True`` (contrib:
    ``is_training=True``): it normalises with batch statistics only."""
    if name in _CONTRIB_STYLE:
        flag = _bound(node, "is_training", _IS_TRAINING_POSITION)
    elif name in functions:
        flag = _bound(node, "training", _TRAINING_POSITION)
    else:
        return False
    return flag is not None and _is_true(flag.value)


def _may_share_variables(calls: list[CallSite], functions: frozenset[str]) -> bool:
    """Could a TF1 batch norm built in training mode share its moving statistics with
    one that reads them? Yes when some TF1 batch norm is not literally in training mode
    and the file asks for variable reuse (``reuse=`` anything but None/False)."""
    reuse = False
    inference = False
    for call in calls:
        node = call.node
        found = keyword(node, "reuse")
        if found is not None and not _is_none_or_false(found.value):
            reuse = True
        name = call.name
        if name is not None and (name in _CONTRIB_STYLE or name in functions):
            inference = inference or not _always_training(node, name, functions)
    return reuse and inference


def _is_true(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Name) and node.value == "True"


def _is_none_or_false(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Name) and node.value in {"None", "False"}
