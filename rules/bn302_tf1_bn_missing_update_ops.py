"""BN302 tf1-bn-missing-update-ops."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from bnlint.rule import Anchor, Change, FixExample, Report, Rewrite, Rule, RuleContext
from bnlint.semantic.flavour import uses_compat_v1
from bnlint.semantic.model import CallSite
from bnlint.semantic.names import keras_api
from bnlint.semantic.tf1 import names_update_ops, uses_graph_mode, uses_tf1_only_api
from bnlint.semantic.values import Optimizer, Unknown
from bnlint.semantic.walk import run_visitor

from ._arguments import argument, has_star_arguments, is_literal_false
from ._fixes import enclosing_statement, tensorflow_alias

if TYPE_CHECKING:
    import libcst as cst
else:
    from bnlint.lazy import libcst as cst

# `tf.layers.batch_normalization(inputs, axis, momentum, ..., training=False, ...)`:
# `training` is the 15th parameter.
_TRAINING_POSITION = 14
# `tf.contrib.layers.batch_norm(inputs, decay, center, scale, epsilon, activation_fn,
# param_initializers, param_regularizers, updates_collections, is_training, ...)`.
_UPDATES_POSITION = 8
_IS_TRAINING_POSITION = 9
# contrib's batch_norm and slim's re-export of it.
_CONTRIB_STYLE = frozenset({
    "tf.contrib.layers.batch_norm",
    "tf.contrib.slim.batch_norm",
    "tf.contrib.slim.layers.batch_norm",
})


class Tf1BnMissingUpdateOps(Rule):
    """## What it does
    Flags `optimizer.minimize(loss)` in a TF1 graph whose
    `tf.compat.v1.layers.batch_normalization` / `tf.layers.batch_normalization` /
    `tf.contrib.layers.batch_norm` layers are built in training mode, when the file
    never runs the `UPDATE_OPS` collection (no `tf.control_dependencies(update_ops)`, no
    `tf.group(..., update_ops)`).

    ## Why is this bad?
    These functions do not update the moving mean and variance themselves: they put the
    update operations into the `tf.GraphKeys.UPDATE_OPS` collection, and nothing runs
    them unless the train op depends on them. Training then normalises with batch
    statistics while the moving statistics stay at their initial 0/1, so the model
    behaves very differently at inference (fact F16, verified: after 20 steps
    `moving_mean` is `[0, 0, 0, 0]` instead of about 0.55).

    The rule stays silent when a layer is built with `training=False` (no update ops),
    with `updates_collections=None` (in-place updates), when the code refers to the
    collection anywhere (a name such as `update_ops` or `tf.GraphKeys.UPDATE_OPS`, or
    the key `"update_ops"`) or the project module that builds the train op does, when
    the layer runs inside a `slim.arg_scope` (which may set `is_training` or
    `updates_collections`; a helper used as `with` may return one), and when the code
    may run eagerly.
    The layer may be built in another module of the project (a `slim.batch_norm` in
    `model/unet.py` that `train.py` builds and trains). Only code counts:
    comments, docstrings and messages that mention `minimize` or update ops are not
    evidence either way.

    ## Example
    ```python
    h = tf.layers.batch_normalization(h, training=is_training)
    train_op = tf.train.AdamOptimizer(1e-3).minimize(loss)
    ```

    ## Use instead
    ```python
    update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    with tf.control_dependencies(update_ops):
        train_op = tf.train.AdamOptimizer(1e-3).minimize(loss)
    ```

    ## Fix safety
    The fix wraps the statement holding `minimize` in
    `with tf.control_dependencies(update_ops):`, after
    `update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS)`. It is safe: it restores
    the documented TF1 recipe and changes nothing else (the name `update_ops` is not
    used in the file, or the rule would not report). Offered when the statement is on
    one line of its own and `tf` is the file's name for TensorFlow.

    ## References
    - `tf.compat.v1.layers.batch_normalization` docstring (note on `UPDATE_OPS`)
    - https://github.com/tensorflow/tensorflow/issues/1122
    """

    code = "BN302"
    name = "tf1-bn-missing-update-ops"
    severity = "error"
    summary = "TF1 batch_normalization's moving statistics are never updated by `minimize()`"
    needles = (b"batch_norm",)
    flagged = (
        """
        import tensorflow as tf
        x = tf.placeholder(tf.float32, [None, 10])
        is_training = tf.placeholder(tf.bool)
        h = tf.layers.dense(x, 32)
        h = tf.layers.batch_normalization(h, training=is_training)
        loss = tf.reduce_mean(tf.square(h))
        train_op = tf.train.AdamOptimizer(1e-3).minimize(loss)
        """,
        """
        import tensorflow.compat.v1 as tf
        tf.disable_v2_behavior()
        def net(x, training):
            h = tf.layers.conv2d(x, 32, 3)
            return tf.layers.batch_normalization(h, training=training)
        logits = net(images, True)
        optimizer = tf.train.MomentumOptimizer(0.01, 0.9)
        train_op = optimizer.minimize(loss, global_step=step)
        """,
        """
        import tensorflow as tf
        from tensorflow.contrib.layers import batch_norm
        h = batch_norm(tf.layers.dense(x, 64))
        opt = tf.train.GradientDescentOptimizer(0.1)
        train_op = opt.minimize(loss)
        """,
        """
        import tensorflow as tf
        from tensorflow.compat.v1.layers import batch_normalization as bn
        tf.compat.v1.disable_eager_execution()
        h = bn(x, training=True)
        adam = tf.compat.v1.train.AdamOptimizer(1e-4)
        step = adam.minimize(loss)
        """,
        # the arg_scope covers the convolution only, not the batch norm after it
        """
        import tensorflow as tf
        import tensorflow.contrib.slim as slim
        with slim.arg_scope([slim.conv2d], padding="SAME"):
            h = slim.conv2d(x, 8, 3)
        h = slim.batch_norm(h)
        train_op = tf.train.AdamOptimizer(1e-3).minimize(loss)
        """,
        # update ops mentioned only in a docstring and a comment: nothing runs them
        """
        import tensorflow as tf
        def build(x, is_training):
            '''Remember to run tf.GraphKeys.UPDATE_OPS (update_ops) when training.'''
            return tf.layers.batch_normalization(x, training=is_training)
        h = build(x, is_training)
        # TODO: wrap in tf.control_dependencies(update_ops)
        train_op = tf.train.AdamOptimizer(1e-3).minimize(loss)
        """,
    )
    fixed = (
        FixExample("""
        import tensorflow as tf
        x = tf.placeholder(tf.float32, [None, 10])
        is_training = tf.placeholder(tf.bool)
        h = tf.layers.batch_normalization(tf.layers.dense(x, 32), training=is_training)
        def train(loss):
            train_op = tf.train.AdamOptimizer(1e-3).minimize(loss)  # the step
            return train_op
        """, """
        import tensorflow as tf
        x = tf.placeholder(tf.float32, [None, 10])
        is_training = tf.placeholder(tf.bool)
        h = tf.layers.batch_normalization(tf.layers.dense(x, 32), training=is_training)
        def train(loss):
            update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
            with tf.control_dependencies(update_ops):
                train_op = tf.train.AdamOptimizer(1e-3).minimize(loss)  # the step
            return train_op
        """),
    )
    not_flagged = (
        """
        import tensorflow as tf
        h = tf.layers.batch_normalization(h, training=is_training)
        update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
        with tf.control_dependencies(update_ops):
            train_op = tf.train.AdamOptimizer(1e-3).minimize(loss)
        """,
        """
        import tensorflow as tf
        h = tf.layers.batch_normalization(h, training=is_training)
        train_op = tf.train.AdamOptimizer(1e-3).minimize(loss)
        train_op = tf.group([train_op, tf.get_collection(tf.GraphKeys.UPDATE_OPS)])
        """,
        """
        import tensorflow as tf
        h = tf.contrib.layers.batch_norm(h, is_training=True, updates_collections=None)
        train_op = tf.train.AdamOptimizer(1e-3).minimize(loss)
        """,
        """
        import tensorflow as tf
        h = tf.layers.batch_normalization(h, training=False)
        train_op = tf.train.AdamOptimizer(1e-3).minimize(loss)
        """,
        """
        import tensorflow as tf
        h = tf.compat.v1.layers.batch_normalization(x, training=True)
        opt = tf.keras.optimizers.Adam()
        opt.minimize(lambda: tf.reduce_mean(model(x)), model.trainable_variables)
        """,
        """
        import tensorflow as tf
        import tensorflow.contrib.slim as slim
        with slim.arg_scope([slim.batch_norm], updates_collections=None):
            h = slim.batch_norm(h)
        train_op = tf.train.AdamOptimizer(1e-3).minimize(loss)
        """,
        # the key written as a string is the collection itself
        """
        import tensorflow as tf
        h = tf.layers.batch_normalization(h, training=is_training)
        with tf.control_dependencies(tf.get_collection("update_ops")):
            train_op = tf.train.AdamOptimizer(1e-3).minimize(loss)
        """,
        # `minimize` and batch_norm appear only in comments and a docstring
        """
        import tensorflow as tf
        '''Port of a TF1 model that used tf.layers.batch_normalization and
        optimizer.minimize(loss); this version trains with Keras.'''
        # h = tf.layers.batch_normalization(h, training=True)
        # train_op = tf.train.AdamOptimizer(1e-3).minimize(loss)
        model = tf.keras.Sequential([tf.keras.layers.Dense(4)])
        model.compile("adam", "mse")
        """,
    )

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        model = ctx.model
        if names_update_ops(model.module):
            return  # the code uses UPDATE_OPS somewhere: trust it
        if not uses_graph_mode(model) and ctx.flavour.name != "tf1":
            return  # eager TF2 applies the updates when the layer runs
        # a BN call replayed on its own may run inside a caller's arg_scope
        arg_scope = any(call.name is not None and call.name.endswith("arg_scope")
                        for call in model.calls)
        layers = _unique(call for call in model.calls if _creates_update_ops(
            call, call.in_arg_scope or (arg_scope and call.context.standalone)))
        if not layers:
            return
        first = layers[0]
        spelling = model.module.code_for_node(first.node.func)
        short = uses_tf1_only_api(model) or uses_compat_v1(model)
        collection = ("tf.get_collection(tf.GraphKeys.UPDATE_OPS)" if short
                      else "tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS)")
        functions = _function_names(model.module)
        reported: set[int] = set()
        for call in model.method_calls("minimize"):
            if id(call.node) in reported or call.in_control_dependencies:
                continue
            home = model.project_modules.get(call.origin) if call.origin else None
            if home is not None and names_update_ops(home):
                continue  # the project module building this train op uses UPDATE_OPS
            if not _is_optimizer(call, model.module) or _eager_loss(call.node, functions):
                continue
            reported.add(id(call.node))
            yield Report(
                call.node,
                f"`minimize()` does not run the moving-mean/variance updates that `{spelling}` "
                "puts in the UPDATE_OPS collection, so the moving statistics stay at 0/1 and "
                f"inference uses them; build the train op inside `with tf.control_dependencies("
                f"{collection}):`",
                related=((first.node, "batch normalization built in training mode here"),),
                fix=_with_update_ops(model.module, call.node, collection),
            )


def _with_update_ops(module: cst.Module, call: cst.Call, collection: str) -> Rewrite | None:
    """The statement holding ``minimize`` inside ``tf.control_dependencies`` of the
    UPDATE_OPS collection."""
    statement = enclosing_statement(module, call)
    if statement is None or tensorflow_alias(module, collection) is None:
        return None
    body = module.code_for_node(statement.body[0])
    if "\n" in body:
        return None
    indent = module.default_indent
    block = (f"update_ops = {collection}\n"
             f"with tf.control_dependencies(update_ops):\n"
             f"{indent}{body}")
    return Rewrite("Run the UPDATE_OPS collection with the train op",
                   (Change(Anchor(statement.body[0], "start"), Anchor(statement.body[0], "end"),
                           block, indent=True),))


def _unique(calls: Iterator[CallSite]) -> list[CallSite]:
    found: dict[int, CallSite] = {}
    for call in calls:
        found.setdefault(id(call.node), call)
    return list(found.values())


def _creates_update_ops(call: CallSite, arg_scope: bool) -> bool:
    """Does this TF1 BN call definitely add update ops to the UPDATE_OPS collection?"""
    name = call.name
    node = call.node
    if name is None or has_star_arguments(node):
        return False
    if name in _CONTRIB_STYLE:
        if arg_scope:
            return False  # an arg_scope may set updates_collections=None / is_training
        updates = argument(node, "updates_collections", _UPDATES_POSITION)
        if updates is not None and _is_none(updates.value):
            return False
        training = argument(node, "is_training", _IS_TRAINING_POSITION)
        return training is None or not is_literal_false(training.value)  # default True
    if name in keras_api().tf1_bn_functions:
        training = argument(node, "training", _TRAINING_POSITION)
        # absent means training=False: no update ops (that mistake is BN303)
        return training is not None and not is_literal_false(training.value)
    return False


def _is_none(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Name) and node.value == "None"


def _is_optimizer(call: CallSite, module: cst.Module) -> bool:
    """A TF1 optimizer, or an object whose name says it is one."""
    receiver = call.receiver
    if isinstance(receiver, Optimizer):
        return True
    if isinstance(receiver, Unknown) and isinstance(call.node.func, cst.Attribute):
        owner = module.code_for_node(call.node.func.value).rsplit(".", 1)[-1]
        return "opt" in owner.lower()
    return False


def _eager_loss(node: cst.Call, functions: set[str]) -> bool:
    """``minimize(lambda: ...)`` or ``minimize(loss_fn)``: a callable loss is the eager
    (TF2) form."""
    loss = argument(node, "loss", 0)
    if loss is None:
        return False
    value = loss.value
    return isinstance(value, cst.Lambda) or (
        isinstance(value, cst.Name) and value.value in functions
    )


def _function_names(module: cst.Module) -> set[str]:
    finder = _FunctionNames()
    run_visitor(finder, module)
    return finder.names


class _FunctionNames:
    def __init__(self) -> None:
        self.names: set[str] = set()

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.names.add(node.name.value)
