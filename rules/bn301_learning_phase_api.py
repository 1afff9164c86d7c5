"""BN301 learning-phase-api."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from bnlint.finding import Severity
from bnlint.probe.scenario import Scenario, scenario
from bnlint.rule import Example, Report, Rule, RuleContext
from bnlint.semantic.names import keras_api
from bnlint.semantic.tf1 import effective_flavour
from bnlint.semantic.walk import walk

if TYPE_CHECKING:
    import libcst as cst
else:
    from bnlint.lazy import libcst as cst

_SEVERITY: dict[str, Severity] = {
    "keras3": "error", "tf-keras": "warning", "keras2": "info", "tf1": "info",
}


class LearningPhaseApi(Rule):
    """## What it does
    Flags the global learning-phase API: `K.set_learning_phase(...)`,
    `K.learning_phase()` (for instance in a `feed_dict` or a `K.function` input list)
    and `K.learning_phase_scope(...)`, under any import spelling (`keras.backend`,
    `tf.keras.backend`, `tf_keras.backend`, `tf.compat.v1.keras.backend`).

    Silent when nothing says which Keras the code targets (no `target-keras`, no pin, no
    API only one generation of Keras has, no TF1 graph-mode code): the API is right in
    Keras 2 and TF1 code.

    Not reported in the sources of the `keras`, `tf_keras` or `tensorflow` packages
    themselves (a checkout of Keras, tf-keras or TensorFlow): they maintain the API
    this advice moves users away from.

    ## Why is this bad?
    The learning phase is a Keras 1/TF1 concept. Keras 3 removed it entirely: the call
    raises `AttributeError` (error). In tf-keras (TF 2.x) `set_learning_phase` and
    `learning_phase_scope` are deprecated and do not steer training (reading the phase with
    `learning_phase()` is neither deprecated nor reported there): `fit()` passes `training=True` to every layer explicitly, so
    `set_learning_phase(0)` before building a fine-tuning model does not keep its
    BatchNormalization layers in inference mode (warning). In standalone Keras 2 and TF1
    graph code it is the real mechanism and is not reported, except
    `set_learning_phase(1)`, which keeps every later call in training mode, `predict()`
    included: BatchNormalization then normalises inference batches with their own
    statistics (info). A program that chooses the phase by what it runs (phase 1 in one
    arm of an `if`/`elif` chain, phase 0 in another: `if mode == "train"`, directly or in
    the functions each arm runs) is not reported when all its inference (`predict`,
    `evaluate`) runs in the phase-0 arms. Facts F11 and F15 (verified: Keras 3 raises, tf-keras emits a deprecation
    `UserWarning`).

    ## Example
    ```python
    from tensorflow.keras import backend as K
    K.set_learning_phase(0)
    base = tf.keras.applications.ResNet50(include_top=False)
    ```

    ## Use instead
    Pass the mode where the layer is called, and freeze BatchNormalization explicitly:
    ```python
    base = tf.keras.applications.ResNet50(include_top=False)
    base.trainable = False
    x = base(inputs, training=False)
    ```

    ## Fix safety
    No automatic fix: the replacement depends on what the phase was meant to control.

    ## References
    - keras-team/keras#19597 ("a Keras 1 concept ... entirely removed from Keras 3")
    - Keras FAQ, "What's the difference between the `training` argument in `call()` and
      the `trainable` attribute?"
    """

    code = "BN301"
    advises_migration = True
    name = "learning-phase-api"
    severity = "error"
    summary = "The global learning phase is removed in Keras 3 and ignored by TF2 `fit()`"
    needles = (b"learning_phase",)
    flagged = (
        Example("""
        from tensorflow.keras import backend as K
        import tensorflow as tf
        K.set_learning_phase(0)
        base = tf.keras.applications.ResNet50(include_top=False)
        """, target="keras3"),
        Example("""
        import keras
        keras.backend.set_learning_phase(1)
        """, target="keras3"),
        Example("""
        import tensorflow as tf
        with tf.keras.backend.learning_phase_scope(0):
            features = extractor.predict(x)
        """, target="keras3"),
        Example(
            """
            import tf_keras
            from tf_keras import backend as K
            K.set_learning_phase(0)
            """,
        ),
        Example(
            """
            from keras.backend import set_learning_phase
            set_learning_phase(1)
            """,
            target="keras2",
        ),
        # chosen by run mode, but the code after the switch predicts under phase 1
        Example(
            """
            import tensorflow.compat.v1 as tf
            if args.mode == "train":
                tf.keras.backend.set_learning_phase(1)
            else:
                tf.keras.backend.set_learning_phase(0)
            model.fit(x, y)
            model.predict(x_test)
            """,
            target="tf1",
        ),
        # chosen by run mode, but the training arm predicts in a helper of a helper
        Example(
            """
            from keras import backend as K

            def validate():
                return model.predict(x_val)

            def train():
                model.fit(x, y)
                validate()

            if args.mode == "train":
                K.set_learning_phase(1)
                train()
            else:
                K.set_learning_phase(0)
                model.predict(x_test)
            """,
            target="keras2",
        ),
        # chosen by run mode inside `main()`, and the module predicts after it
        Example(
            """
            from keras import backend as K

            def main(args):
                if args.mode == "train":
                    K.set_learning_phase(1)
                else:
                    K.set_learning_phase(0)
                model.fit(x, y)

            main(args)
            model.predict(x_test)
            """,
            target="keras2",
        ),
        # set in the training arm of a run-mode switch that never sets it back to 0
        Example(
            """
            import tensorflow.compat.v1 as tf
            if args.mode == "train":
                tf.keras.backend.set_learning_phase(1)
                model.predict(samples)
            """,
            target="tf1",
        ),
    )
    not_flagged = (
        Example(
            """
            import keras.backend as K
            out = sess.run([y], feed_dict={x: batch, K.learning_phase(): 0})
            """,
            target="tf1",
        ),
        # TF1 graph code that chooses the phase by what the run does: inference runs
        # under phase 0
        Example(
            """
            import tensorflow as tf
            if args.run_mode == "train":
                tf.keras.backend.set_learning_phase(1)
            elif args.run_mode == "eval":
                tf.keras.backend.set_learning_phase(0)
            else:
                tf.keras.backend.set_learning_phase(0)
            """,
            target="tf1",
        ),
        # ... through the functions each mode runs, or a phase-0 scope for inference
        Example(
            """
            from keras import backend as K

            def train():
                K.set_learning_phase(1)
                model.fit(x, y)

            def export():
                K.set_learning_phase(0)
                model.predict(x)

            if args.mode == "train":
                train()
            else:
                export()
            """,
            target="keras2",
        ),
        Example(
            """
            from keras import backend as K
            if args.mode == "train":
                K.set_learning_phase(1)
                model.fit(x, y)
            else:
                with K.learning_phase_scope(0):
                    model.predict(x)
            """,
            target="keras2",
        ),
        # tf-keras deprecates setting the phase; reading it is fine (tf_keras/backend.py)
        Example(
            """
            import tf_keras
            from tf_keras import backend as K
            f = K.function([model.input, K.learning_phase()], [model.output])
            """,
        ),
        Example(
            """
            import tensorflow as tf
            from tensorflow.keras import backend as K
            features = K.function([model.input, K.learning_phase()], [model.layers[-2].output])
            """,
            target="tf-keras",
        ),
        """
        import tensorflow as tf
        base = tf.keras.applications.ResNet50(include_top=False)
        base.trainable = False
        inputs = tf.keras.Input((224, 224, 3))
        x = base(inputs, training=False)
        """,
        """
        import keras
        class Net(keras.Model):
            def call(self, x, training=None):
                self.learning_phase = training
                return x
        """,
        """
        import tensorflow as tf
        learning_phase = 0
        def set_learning_phase(value):
            global learning_phase
            learning_phase = value
        set_learning_phase(1)
        """,
        """
        from keras import layers
        bn = layers.BatchNormalization()
        y = bn(x, training=False)  # no learning_phase needed
        """,
        Example(
            """
            from keras.backend import set_learning_phase
            set_learning_phase(0)
            """,
            target="keras2",
        ),
        Example(
            """
            import tensorflow.compat.v1 as tf
            from tensorflow.compat.v1.keras import backend as K
            sess.run(train_op, feed_dict={x: batch, K.learning_phase(): 1})
            """,
        ),
    )

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        names = keras_api().learning_phase
        flavour = effective_flavour(ctx)
        if ctx.flavour.assumed and flavour == "keras3":
            return  # the API is right for Keras 2 and TF1 code, wrong for Keras 3
        severity = _SEVERITY[flavour]
        module = ctx.model.module
        seen: set[int] = set()
        called: set[int] = set()
        legacy = flavour in {"keras2", "tf1"}
        by_mode = _phase_by_run_mode(module) if legacy else set()
        for call in ctx.model.calls:
            called.add(id(call.node.func))
            if call.name in names and id(call.node) not in seen:
                seen.add(id(call.node))
                if legacy and (not _sets_training_phase(call.node) or id(call.node) in by_mode):
                    continue  # the right API for this code
                if flavour == "tf-keras" and _reads_phase(call.name):
                    continue  # tf-keras deprecates setting the phase, not reading it
                yield Report(call.node, _message(module.code_for_node(call.node.func), flavour),
                             severity=severity, scenario=_scenario(self.code, call.name,
                                                                   flavour))
        if legacy:
            return
        for reference in ctx.model.references:
            node = reference.node
            if reference.name in names and id(node) not in called | seen:
                seen.add(id(node))
                if flavour == "tf-keras" and _reads_phase(reference.name):
                    continue
                yield Report(node, _message(module.code_for_node(node), flavour),
                             severity=severity, scenario=_scenario(self.code, reference.name,
                                                                   flavour))


def _message(spelling: str, flavour: str) -> str:
    function = spelling.rsplit(".", 1)[-1]
    if flavour == "keras3":
        return (f"`{function}` was removed in Keras 3 and raises AttributeError; there is no "
                "global learning phase any more: pass `training=False` when calling a "
                "frozen base and freeze BatchNormalization with `layer.trainable = False`")
    if flavour == "tf-keras":
        return (f"`{function}` is deprecated and does not control `fit()`, which passes "
                "`training=True` to every layer; freeze BatchNormalization with "
                "`layer.trainable = False` and pass `training=` to the calls instead")
    return (f"`{function}(1)` puts every layer in training mode for every later call, "
            "`predict()` and `evaluate()` included: BatchNormalization normalises with the "
            "batch's statistics and Dropout stays on; set the phase back to 0 before "
            "inference, or pass `training=` to the calls")


def _reads_phase(name: str | None) -> bool:
    """``K.learning_phase()``: reads the phase (the setters are the deprecated part)."""
    return name is not None and name.rsplit(".", 1)[-1] == "learning_phase"


def _sets_training_phase(call: cst.Call) -> bool:
    """``set_learning_phase(1)`` / ``(True)``: training mode for everything after it."""
    return _setter(call) == "set_learning_phase" and _phase_set(call) is True


def _setter(call: cst.Call) -> str:
    func = call.func
    return func.attr.value if isinstance(func, cst.Attribute) else (
        func.value if isinstance(func, cst.Name) else "")


def _phase_set(call: cst.Call) -> bool | None:
    """The phase ``set_learning_phase(...)`` or ``learning_phase_scope(...)`` sets
    (True: training), None for any other call or a phase not written as a literal."""
    if _setter(call) not in {"set_learning_phase", "learning_phase_scope"} or not call.args:
        return None
    value = call.args[0].value
    if isinstance(value, cst.Integer) and value.value in {"0", "1"}:
        return value.value == "1"
    if isinstance(value, cst.Name) and value.value in {"True", "False"}:
        return value.value == "True"
    return None


def _phase_by_run_mode(module: cst.Module) -> set[int]:
    """The ``set_learning_phase(1)`` calls in an arm of an ``if``/``elif`` chain whose
    other arm sets the phase to 0 (`if args.mode == "train": ...(1) else: ...(0)`, or
    `learning_phase_scope(0)`), directly or in the module's functions the arm calls
    (`train()` / `evaluate()`): the program chooses the phase by what it runs. Only when
    every inference call of the module (`predict`, `evaluate`) runs in an arm that sets
    phase 0: any other runs under phase 1."""
    functions = {node.name.value: node for node in module.body
                 if isinstance(node, cst.FunctionDef)}
    inference = {id(call) for call in walk(module) if _is_inference(call)}
    chosen: set[int] = set()
    for node in walk(module):
        if not isinstance(node, cst.If):
            continue
        arms: list[list[cst.CSTNode]] = []
        current: cst.If | cst.Else | None = node
        while current is not None:
            arms.append(_reach(current.body, functions))
            current = current.orelse if isinstance(current, cst.If) else None
        phases = [[call for part in arm for call in walk(part)
                   if isinstance(call, cst.Call) and _phase_set(call) is not None]
                  for arm in arms]
        zero = [index for index, found in enumerate(phases)
                if any(_phase_set(call) is False for call in found)
                and not any(_phase_set(call) is True for call in found)]
        under_zero = {id(inner) for index in zero for part in arms[index]
                      for inner in walk(part)}
        if not zero or not inference <= under_zero:
            continue
        for index, found in enumerate(phases):
            if index not in zero:
                chosen.update(id(call) for call in found if _sets_training_phase(call))
    return chosen


def _reach(node: cst.CSTNode, functions: dict[str, cst.FunctionDef]) -> list[cst.CSTNode]:
    """``node`` and the bodies of the module's functions it calls by name, and of those
    they call."""
    reached: list[cst.CSTNode] = [node]
    seen: set[str] = set()
    index = 0
    while index < len(reached):
        for call in walk(reached[index]):
            if isinstance(call, cst.Call) and isinstance(call.func, cst.Name) and (
                    call.func.value in functions and call.func.value not in seen):
                seen.add(call.func.value)
                reached.append(functions[call.func.value].body)
        index += 1
    return reached


# Model methods that run inference (under the global phase, in Keras 2 and TF1).
_INFERENCE = frozenset({"predict", "evaluate", "predict_on_batch", "test_on_batch",
                        "predict_generator", "evaluate_generator"})


def _is_inference(node: cst.CSTNode) -> bool:
    return isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and (
        node.func.attr.value in _INFERENCE)


def _scenario(code: str, name: str | None, flavour: str) -> Scenario | None:
    """Replayed under Keras 3 and tf-keras; Keras 2 and TF1 code used the phase on
    purpose, and the probe runs neither."""
    if name is None or flavour not in ("keras3", "tf-keras"):
        return None
    return scenario(code, function=name.rsplit(".", 1)[-1])
