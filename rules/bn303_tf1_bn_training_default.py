"""BN303 tf1-bn-training-default."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from bnlint.rule import Report, Rule, RuleContext
from bnlint.semantic.model import SemanticModel
from bnlint.semantic.walk import run_visitor

from ._arguments import has_star_arguments, keyword, positional

if TYPE_CHECKING:
    import libcst as cst
else:
    from bnlint.lazy import libcst as cst

# Functions whose `training` parameter defaults to False (contrib's `batch_norm` has
# `is_training=True` and is not concerned).
_FUNCTIONS = frozenset({
    "tf.compat.v1.layers.batch_normalization",
    "tf.layers.batch_normalization",
    "keras.__internal__.legacy.layers.batch_normalization",
})
_TRAINING_POSITION = 14  # `training` is the 15th parameter
# TF1 layer classes whose call's `training` defaults to False as well (`call(inputs,
# training=False)`); the V1 Keras class takes the Keras learning phase instead.
_LAYER_CLASSES = frozenset({
    "tf.compat.v1.layers.BatchNormalization",
    "tf.layers.BatchNormalization",
    "keras.__internal__.legacy.layers.BatchNormalization",
})
# Parameter names that carry the train/eval switch through a network-building function.
_MODE_PARAMETERS = frozenset({
    "training", "is_training", "is_train", "istrain", "train", "train_phase",
    "phase_train", "is_training_ph", "train_mode", "bn_training",
})
_TRAINING_METHODS = ("minimize", "apply_gradients", "compute_gradients")
_GRADIENT_FUNCTIONS = frozenset({"tf.gradients", "tf.compat.v1.gradients"})


class Tf1BnTrainingDefault(Rule):
    """## What it does
    Flags `tf.compat.v1.layers.batch_normalization(x)` / `tf.layers.batch_normalization(x)`
    called without a `training=` argument (also a TF1 `tf.layers.BatchNormalization`
    layer called without one), in code that trains: the file, or a module of
    the project that imports it, builds a train op (`minimize`, `apply_gradients`,
    `tf.gradients`), another batch-normalization call
    in the file does pass `training=`, or the enclosing function receives a train/eval
    switch (`is_training`, `training`, `phase_train`, ...) that this call does not use.

    ## Why is this bad?
    `training` defaults to `False`. The layer then normalises with its moving statistics
    even while the model trains, and never updates them: they stay at their initial mean
    0 and variance 1, so the layer computes `x / sqrt(1 + eps)` (plus the learnt
    gamma/beta) and does no normalisation at all (fact F16; real case dmzou/RSRAE#2).

    ## Example
    ```python
    def net(x, is_training):
        h = tf.layers.conv2d(x, 32, 3)
        return tf.layers.batch_normalization(h)
    ```

    ## Use instead
    ```python
    def net(x, is_training):
        h = tf.layers.conv2d(x, 32, 3)
        return tf.layers.batch_normalization(h, training=is_training)
    ```
    and run the `UPDATE_OPS` collection with the train op (see BN302).

    ## Fix safety
    No automatic fix: the code needs a train/eval switch (a Python bool or a
    `tf.placeholder(tf.bool)`), which only the author can thread through.

    ## References
    - `tf.compat.v1.layers.batch_normalization` docstring (`training` argument)
    - https://github.com/dmzou/RSRAE/issues/2
    """

    code = "BN303"
    name = "tf1-bn-training-default"
    severity = "warning"
    summary = "TF1 `batch_normalization` without `training=` never uses batch statistics"
    needles = (b"batch_normalization", b"layers.BatchNormalization")
    flagged = (
        """
        import tensorflow as tf
        h = tf.layers.dense(x, 64)
        h = tf.layers.batch_normalization(h)
        train_op = tf.train.AdamOptimizer(1e-3).minimize(loss)
        """,
        """
        import tensorflow.compat.v1 as tf
        def net(x, is_training):
            h = tf.layers.conv2d(x, 32, 3)
            h = tf.layers.batch_normalization(h, training=is_training)
            h = tf.layers.conv2d(h, 64, 3)
            return tf.layers.batch_normalization(h)
        """,
        """
        import tensorflow as tf
        from tensorflow.compat.v1.layers import batch_normalization as bn
        def encoder(x, is_train=True):
            return tf.nn.relu(bn(tf.compat.v1.layers.dense(x, 32)))
        """,
        """
        import tensorflow as tf
        def block(x):
            return tf.compat.v1.layers.batch_normalization(x, momentum=0.9)
        grads = tf.gradients(loss, tf.compat.v1.trainable_variables())
        """,
        # the TF1 layer class: its call's `training` defaults to False too
        """
        import tensorflow as tf
        def discriminator(x):
            h = tf.layers.conv2d(x, 64, 4, 2, padding="same")
            h = tf.layers.BatchNormalization(name="batch_norm_1")(h)
            return tf.nn.leaky_relu(h, alpha=0.2)
        d_loss = tf.reduce_mean(discriminator(images))
        train_op = tf.train.AdamOptimizer(1e-4).minimize(d_loss)
        """,
    )
    not_flagged = (
        """
        import tensorflow as tf
        h = tf.layers.batch_normalization(h, training=is_training)
        train_op = tf.train.AdamOptimizer(1e-3).minimize(loss)
        """,
        """
        import tensorflow as tf
        h = tf.layers.BatchNormalization(name="bn_1")(h, training=is_training)
        train_op = tf.train.AdamOptimizer(1e-3).minimize(loss)
        """,
        # the V1 Keras class takes the Keras learning phase, not `training=False`
        """
        import tensorflow as tf
        h = tf.compat.v1.keras.layers.BatchNormalization()(h)
        train_op = tf.train.AdamOptimizer(1e-3).minimize(loss)
        """,
        """
        import tensorflow as tf
        def export_graph(x):
            return tf.layers.batch_normalization(x)
        """,
        """
        import tensorflow as tf
        h = tf.contrib.layers.batch_norm(h)
        train_op = tf.train.AdamOptimizer(1e-3).minimize(loss)
        """,
        """
        import tensorflow as tf
        h = tf.layers.batch_normalization(h, **bn_params)
        train_op = tf.train.AdamOptimizer(1e-3).minimize(loss)
        """,
        """
        import tensorflow as tf
        y = tf.nn.batch_normalization(x, mean, variance, offset, scale, 1e-3)
        train_op = tf.train.AdamOptimizer(1e-3).minimize(loss)
        """,
    )

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        model = ctx.model
        candidates: dict[int, cst.Call] = {}
        with_training = False
        for call in model.calls:
            if call.name not in _FUNCTIONS:
                continue
            if keyword(call.node, "training") is not None:
                with_training = True
            elif not has_star_arguments(call.node) and len(
                positional(call.node)
            ) <= _TRAINING_POSITION:
                candidates.setdefault(id(call.node), call.node)
        for event in model.events_of("call"):
            # `tf.layers.BatchNormalization(name="bn")(x)`: the layer's call
            layer = event.layer
            if layer is None or layer.qualname not in _LAYER_CLASSES:
                continue
            if event.training != "absent":
                with_training = True
            elif isinstance(event.node, cst.Call) and not has_star_arguments(event.node):
                candidates.setdefault(id(event.node), event.node)
        if not candidates:
            return
        trainer = None if with_training or _trains(model) else _trained_by_importer(model)
        trains = with_training or _trains(model) or trainer is not None
        where = f" (`{trainer}`, which imports this module, trains it)" if trainer else ""
        switches = _mode_parameters(model.module, set(candidates))
        for key, node in candidates.items():
            switch = switches.get(key)
            if not trains and switch is None:
                continue
            spelling = _spelling(model, node)
            hint = f"training={switch}" if switch else "training=is_training"
            yield Report(
                node,
                f"`{spelling}` defaults to `training=False`: while the model trains it "
                "normalises with the initial moving statistics (mean 0, variance 1) and "
                f"never updates them, so it does not normalise at all{where}; pass "
                f"`{hint}`",
            )


def _spelling(model: SemanticModel, node: cst.Call) -> str:
    """How the call names what it calls: the function, or the layer class whose
    instance it calls (``tf.layers.BatchNormalization(...)``)."""
    func = node.func
    if isinstance(func, cst.Call):
        return f"{model.module.code_for_node(func.func)}(...)"
    return model.module.code_for_node(func)


def _trains(model: SemanticModel) -> bool:
    """The file builds a train op or computes gradients."""
    if any(call.method in _TRAINING_METHODS or call.name in _GRADIENT_FUNCTIONS
           for call in model.calls):
        return True
    return any(True for _ in model.events_of("gradient", "fit"))


# A train op or gradients, as written in a module that imports the linted file.
_TRAINING_TEXT = re.compile(r"\.(?:minimize|apply_gradients|compute_gradients)\(|"
                            r"\bgradients\(")


def _trained_by_importer(model: SemanticModel) -> str | None:
    """A module of the project that imports this file and builds a train op (the network
    is defined here and trained there: `generator.py` and `dcgan.py`), by its path
    relative to this file's directory; None when there is none."""
    for path, text in model.importing_texts():
        if _TRAINING_TEXT.search(text) and model.project is not None:
            return os.path.relpath(path, os.path.dirname(model.project.importer))
    return None


def _mode_parameters(module: cst.Module, calls: set[int]) -> dict[int, str]:
    """For each call in ``calls`` inside a function with a train/eval switch parameter:
    the parameter's name."""
    finder = _SwitchFinder(calls)
    run_visitor(finder, module)
    return finder.found


class _SwitchFinder:
    def __init__(self, calls: set[int]) -> None:
        self.calls = calls
        self.stack: list[str | None] = []
        self.found: dict[int, str] = {}

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        params = node.params
        names = [param.name.value for param in
                 (*params.posonly_params, *params.params, *params.kwonly_params)]
        switch = next((name for name in names if name.lower() in _MODE_PARAMETERS), None)
        # a nested function sees its enclosing function's switch too
        self.stack.append(switch or (self.stack[-1] if self.stack else None))

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.stack.pop()

    def visit_Call(self, node: cst.Call) -> None:
        if id(node) in self.calls and self.stack and self.stack[-1] is not None:
            self.found[id(node)] = self.stack[-1]
