"""BN212 lr-kwarg-ignored."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from bnlint.probe.scenario import scenario
from bnlint.rule import Change, Example, FixExample, Report, Rewrite, Rule, RuleContext
from bnlint.semantic.values import Optimizer

if TYPE_CHECKING:
    import libcst as cst
else:
    from bnlint.lazy import libcst as cst

# tf-keras's optimizers became the new (lr-ignoring) ones in TensorFlow 2.11.
_NEW_OPTIMIZERS = (2, 11)
_LEGACY_PREFIXES = ("keras.optimizers.legacy.", "tf.compat.v1.train.", "tf.train.")
# tf-keras keeps the Keras 1/2 optimizer classes, which take `lr`, in this module.
_LEGACY_MODULE = ".optimizer_v1."

_FINE_TUNE = """
from tensorflow import keras
base = keras.applications.ResNet50(include_top=False, pooling="avg")
base.trainable = True
model = keras.Sequential([base, keras.layers.Dense(10)])
model.compile(optimizer=keras.optimizers.Adam(lr=1e-5), loss="mse")
model.fit(x, y)
"""


class LrKwargIgnored(Rule):
    """## What it does
    Flags an optimizer constructed with the legacy keyword `lr=` when the targeted
    Keras does not honour it: Keras 3 (it raises) and tf-keras on TensorFlow >= 2.11
    for the non-legacy optimizers (the rate is silently dropped). Silent for standalone
    Keras 2, TensorFlow 1, tf-keras known to be older than 2.11,
    `keras.optimizers.legacy.*`, tf-keras's `optimizer_v1` classes and `tf.compat.v1.train.*`.

    Silent when nothing says which Keras the code targets (no `target-keras`, no pin, no
    API only one generation of Keras has): `lr=` was the keyword of Keras 2, so the code
    may be right for the Keras it was written for. Under tf-keras it needs a known version.

    Not reported in the sources of the `keras`, `tf_keras` or `tensorflow` packages
    themselves (a checkout of Keras, tf-keras or TensorFlow): they maintain the API
    this advice moves users away from.

    ## Why is this bad?
    tf-keras's new optimizers pop `lr` from their keyword arguments, log a deprecation
    warning and keep the default rate (tf_keras/optimizers/optimizer.py
    `_process_kwargs`): a fine-tuning phase written as `Adam(lr=1e-5)` silently trains
    at Adam's default 1e-3, a 100x larger step that wrecks pretrained features (F19,
    F20). Keras 3 rejects the keyword: `ValueError: Argument(s) not recognized:
    {'lr': ...}` (keras/src/optimizers/base_optimizer.py).

    ## Example
    ```python
    model.compile(optimizer=keras.optimizers.Adam(lr=1e-5), loss="mse")
    ```

    ## Use instead
    ```python
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-5), loss="mse")
    ```

    ## Fix safety
    The fix renames `lr=` to `learning_rate=`. It is safe: every optimizer this rule
    flags takes `learning_rate=`, and the rename restores the rate the code states.
    No fix is offered when the call also passes `learning_rate=` (or `**kwargs` that
    may).

    ## References
    - TensorFlow 2.11 release notes (new optimizers; `tf.keras.optimizers.legacy`)
    - keras-team/tf-keras tf_keras/optimizers/optimizer.py, `_process_kwargs`
    """

    code = "BN212"
    advises_migration = True
    name = "lr-kwarg-ignored"
    severity = "error"
    summary = "`lr=` is ignored (tf-keras >= 2.11) or rejected (Keras 3) by the optimizer"
    needles = (b"lr",)
    flagged = (
        Example(_FINE_TUNE, target="tf-keras", keras_version="2.15"),
        Example(_FINE_TUNE, target="keras3", keras_version="3.8"),
        Example("""
        import keras
        opt = keras.optimizers.SGD(lr=0.001, momentum=0.9)
        model = keras.Sequential([keras.layers.Dense(1)])
        model.compile(opt, "mse")
        """, target="keras3"),
        Example("""
        import tensorflow as tf
        def make_optimizer():
            return tf.keras.optimizers.RMSprop(lr=2e-5)
        """, target="keras3"),
    )
    fixed = (
        FixExample(_FINE_TUNE, _FINE_TUNE.replace("Adam(lr=", "Adam(learning_rate="),
                   target="keras3", keras_version="3.8"),
        FixExample("""
        import keras
        opt = keras.optimizers.SGD(lr = 0.001, momentum=0.9)
        """, """
        import keras
        opt = keras.optimizers.SGD(learning_rate = 0.001, momentum=0.9)
        """, target="keras3"),
    )
    not_flagged = (
        Example(
            """
            from tf_keras.src.optimizers import optimizer_v1
            opt = optimizer_v1.SGD(lr=0.01, momentum=0.9)
            """,
            target="tf-keras", keras_version="2.15",
        ),
        Example(_FINE_TUNE, target="tf-keras"),  # version unknown: may predate 2.11
        Example(_FINE_TUNE, target="keras2"),
        Example(_FINE_TUNE, target="tf-keras", keras_version="2.10"),
        Example(
            """
            import tensorflow as tf
            opt = tf.keras.optimizers.legacy.Adam(lr=1e-5)
            """,
            target="tf-keras",
        ),
        """
        import keras
        opt = keras.optimizers.Adam(learning_rate=1e-5)
        """,
        Example(
            """
            import tensorflow as tf
            opt = tf.compat.v1.train.MomentumOptimizer(lr, 0.9)
            """,
            target="tf1",
        ),
    )

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        flavour = ctx.flavour
        if flavour.assumed:
            return  # `lr=` was the keyword of Keras 2: without evidence, it may be right
        if flavour.name == "keras3":
            effect = ("Keras 3 rejects it (ValueError: Argument(s) not recognized: "
                      "{'lr': ...})")
        elif flavour.name == "tf-keras":
            if flavour.version is None or flavour.version[:2] < _NEW_OPTIMIZERS:
                return
            effect = ("tf-keras's optimizers (TensorFlow >= 2.11) drop it with a "
                      "deprecation warning and train at the default rate")
        else:
            return
        seen: set[int] = set()
        for qualname, call, node in _lr_constructions(ctx):
            if qualname.startswith(_LEGACY_PREFIXES) or _LEGACY_MODULE in qualname or (
                    id(node) in seen):
                continue
            seen.add(id(node))
            short = qualname.rsplit(".", 1)[-1]
            related: tuple[tuple[cst.CSTNode, str], ...] = (
                (call, f"`{short}` is created here"),
            )
            yield Report(
                node,
                f"`{short}(lr=...)` uses the removed `lr` keyword: {effect}; "
                f"write `learning_rate=` instead (target {flavour.describe()}: "
                f"{flavour.reason})",
                related,
                scenario=scenario(self.code, optimizer=short.lower(), rate=_literal(node)),
                fix=_rename(call, node),
            )


def _rename(call: cst.CSTNode, node: cst.CSTNode) -> Rewrite | None:
    """``lr=`` renamed ``learning_rate=``, unless the call may already pass that."""
    if not (isinstance(call, cst.Call) and isinstance(node, cst.Arg)
            and node.keyword is not None):
        return None
    for arg in call.args:
        if arg.star or (arg.keyword is not None and arg.keyword.value == "learning_rate"):
            return None
    return Rewrite("Rename `lr=` to `learning_rate=`",
                   (Change.replace(node.keyword, "learning_rate"),))


def _lr_constructions(ctx: RuleContext) -> Iterator[tuple[str, cst.CSTNode, cst.CSTNode]]:
    """(optimizer class, constructor call, its ``lr=`` argument) for every optimizer
    built with ``lr=``: from the replay, then from resolved calls it did not reach."""
    for event in ctx.model.events_of("create"):
        optimizer = event.target
        if isinstance(optimizer, Optimizer) and optimizer.lr_kwarg_node is not None:
            yield optimizer.qualname, optimizer.node, optimizer.lr_kwarg_node
    for call in ctx.model.calls:
        name = call.name
        if name is None or not name.startswith("keras.optimizers."):
            continue
        last = name.rsplit(".", 1)[-1]
        if not last[:1].isupper() or name.startswith("keras.optimizers.schedules."):
            continue
        for arg in call.node.args:
            if arg.keyword is not None and arg.keyword.value == "lr":
                yield name, call.node, arg


def _literal(node: cst.CSTNode) -> float | None:
    """The number an ``lr=`` argument gives literally (None for anything else)."""
    value = node.value if isinstance(node, cst.Arg) else None
    if isinstance(value, (cst.Float, cst.Integer)):
        return float(value.evaluated_value)
    return None
