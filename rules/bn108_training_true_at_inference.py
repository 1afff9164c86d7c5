"""BN108 training-true-at-inference."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from bnlint.finding import Severity
from bnlint.flavour import Flavour
from bnlint.rule import Example, Report, Rule, RuleContext
from bnlint.semantic.events import Event
from bnlint.semantic.model import SemanticModel
from bnlint.semantic.values import Layer, Tensor, Variables

if TYPE_CHECKING:
    import libcst as cst
else:
    from bnlint.lazy import libcst as cst

# Functions (or methods) whose name says they run a trained model.
_INFERENCE_PREFIXES = ("predict", "evaluate", "eval_", "infer", "inference", "test_step",
                       "val_step", "valid_step", "validation_step", "validate")
_INFERENCE_NAMES = frozenset({"eval", "evaluation", "test_step", "predict_step"})


class TrainingTrueAtInference(Rule):
    """## What it does
    Flags a model containing trainable BatchNormalization layers called with a literal
    `training=True` where it is used for inference: in a function named `predict*`,
    `evaluate*`/`eval*`, `infer*`, `test_step`/`val_step`; at module level after the
    model was trained with `fit()` (outside a GradientTape); or hard-coded into a
    functional graph (`x = base(inputs, training=True)`).

    ## Why is this bad?
    In training mode BatchNormalization normalises with the statistics of the current
    batch and updates its moving mean/variance (fact F12): predictions depend on the other
    samples of the batch (a single sample gets an output that ignores its input: its
    batch variance is 0), and every prediction call overwrites the statistics learned
    during training. In a functional graph the recorded `training=True` applies forever
    in tf-keras and Keras ≥ 3.16 (`predict()` runs BN in training mode, F12b); Keras
    3.0–3.15 replace it with the mode of `fit`/`predict` but keep it for a direct
    `model(x)` call (F5).

    Monte-Carlo dropout (`training=True` to sample Dropout) is only reported when the
    model also contains trainable BN, whose statistics it corrupts; calls whose result is
    thrown away (re-estimating BN statistics on purpose) are not reported, nor is a
    functional graph that also hard-codes `training=True` on Dropout (pix2pix-style
    generators that want training-mode behaviour at test time).

    ## Example
    ```python
    model.fit(x_train, y_train)
    preds = model(x_test, training=True)
    ```

    ## Use instead
    ```python
    preds = model(x_test, training=False)  # or model.predict(x_test)
    ```
    For MC dropout, freeze the BN layers first (`layer.trainable = False` on each
    BatchNormalization) so that only Dropout samples.

    ## Fix safety
    No automatic fix: test-time adaptation and MC dropout use `training=True` on purpose.

    ## References
    - Keras FAQ, "What's the difference between the `training` argument in `call()` and
      the `trainable` attribute?"
    - https://github.com/keras-team/keras/issues/20285
    """

    code = "BN108"
    name = "training-true-at-inference"
    severity = "warning"
    summary = "`training=True` at inference runs BatchNormalization on batch statistics"
    needles = (b"training=True", b"training = True", b"training=1", b", True)")
    flagged = (
        """
        import keras
        from keras import layers
        model = keras.Sequential([layers.Dense(8), layers.BatchNormalization(),
                                  layers.Dense(1)])
        model.compile("adam", "mse")
        model.fit(x_train, y_train)
        preds = model(x_test, training=True)
        """,
        """
        import tensorflow as tf
        from tensorflow.keras import layers as L
        model = tf.keras.Sequential([L.Conv2D(8, 3), L.BatchNormalization(), L.Dropout(0.5),
                                     L.Flatten(), L.Dense(10)])
        def predict_with_uncertainty(x, n=20):
            return tf.stack([model(x, training=True) for _ in range(n)]).numpy().mean(0)
        """,
        """
        import tf_keras
        from tf_keras import layers
        base = tf_keras.applications.ResNet50(include_top=False)
        inputs = tf_keras.Input((224, 224, 3))
        x = base(inputs, training=True)
        outputs = layers.Dense(5)(layers.GlobalAveragePooling2D()(x))
        model = tf_keras.Model(inputs, outputs)
        """,
        Example(
            """
            import tensorflow as tf
            from keras.layers import BatchNormalization as BN
            inputs = tf.keras.Input((32,))
            x = tf.keras.layers.Dense(16)(inputs)
            x = BN()(x, training=True)
            model = tf.keras.Model(inputs, tf.keras.layers.Dense(1)(x))
            """,
            target="keras3",
            keras_version="3.15.1",
        ),
        """
        import keras
        class Net(keras.Model):
            def __init__(self):
                super().__init__()
                self.bn = keras.layers.BatchNormalization()
                self.out = keras.layers.Dense(1)
            def call(self, x, training=None):
                return self.out(self.bn(x, training=training))
            def test_step(self, data):
                x, y = data
                y_pred = self(x, training=True)
                return self.compute_metrics(x, y, y_pred)
        """,
    )
    not_flagged = (
        """
        from keras.layers import BatchNormalization, Conv2DTranspose, Dropout, Input
        from keras.models import Model
        in_image = Input((256, 256, 3))
        g = Conv2DTranspose(64, 4, strides=2, padding="same")(in_image)
        g = BatchNormalization()(g, training=True)
        g = Dropout(0.5)(g, training=True)
        generator = Model(in_image, g)
        """,
        """
        import keras
        from keras import layers
        model = keras.Sequential([layers.Dense(8), layers.Dropout(0.5), layers.Dense(1)])
        model.fit(x_train, y_train)
        samples = [model(x_test, training=True) for _ in range(50)]
        """,
        """
        import keras
        from keras import layers
        model = keras.Sequential([layers.Dense(8), layers.BatchNormalization(),
                                  layers.Dense(1)])
        model.fit(x_train, y_train)
        preds = model(x_test, training=False)
        """,
        """
        import tensorflow as tf
        from tensorflow.keras import layers as L
        model = tf.keras.Sequential([L.Dense(8), L.BatchNormalization(), L.Dense(1)])
        model.fit(x_train, y_train)
        for batch in calibration_data:
            model(batch, training=True)
        """,
        """
        import tensorflow as tf
        from tensorflow.keras import layers as L
        model = tf.keras.Sequential([L.Dense(8), L.BatchNormalization(), L.Dense(1)])
        def train_step(x, y):
            with tf.GradientTape() as tape:
                loss = loss_fn(y, model(x, training=True))
            return tape.gradient(loss, model.trainable_variables)
        """,
        """
        import keras
        from keras import layers
        model = keras.Sequential([layers.Dense(8), layers.BatchNormalization(),
                                  layers.Dropout(0.5)])
        for layer in model.layers:
            if isinstance(layer, layers.BatchNormalization):
                layer.trainable = False
        def predict(x):
            return [model(x, training=True) for _ in range(30)]
        """,
        """
        import tensorflow as tf
        base = tf.keras.applications.ResNet50(include_top=False)
        inputs = tf.keras.Input((224, 224, 3))
        x = base(inputs, training=False)
        model = tf.keras.Model(inputs, tf.keras.layers.Dense(5)(x))
        """,
    )

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        model = ctx.model
        stochastic_graph = _hard_codes_dropout(model)
        for event in model.events_of("call"):
            layer = event.target
            if not isinstance(layer, Layer) or not _bn_in_training_mode(event, layer):
                continue
            callee = _callee_text(model, event)
            if _graph_call(event):
                if stochastic_graph:
                    continue  # pix2pix-style: training mode at test time on purpose
                found = _graph_message(_call_text(model, event), ctx.flavour)
                if found is not None:
                    yield Report(event.node, found[0], severity=found[1])
                continue
            where = _inference_function(event)
            if where is not None:
                yield Report(event.node, _message(callee, f"in `{where}()`"))
                continue
            fit = _earlier_fit(model, event, layer)
            if fit is not None:
                yield Report(event.node, _message(callee, "after training"),
                             related=((fit.node, "the model is trained here"),))


def _bn_in_training_mode(event: Event, layer: Layer) -> bool:
    """`training=True` outside any tape on a layer with a trainable BN that follows it."""
    if event.training != "true" or event.context.tapes:
        return False
    if event.bn_trainable_before is not True or layer.bn_trainable() is False:
        return False
    return layer.runs_in_outer_mode("bn") is True


def _hard_codes_dropout(model: SemanticModel) -> bool:
    """Does a functional graph call a Dropout layer with `training=True`? Then the author
    wants stochastic, training-mode behaviour at test time (pix2pix, MC dropout)."""
    return any(
        event.training == "true" and isinstance(event.target, Layer)
        and event.target.is_dropout and _graph_call(event)
        for event in model.events_of("call")
    )


def _graph_call(event: Event) -> bool:
    first = event.inputs[0] if event.inputs else None
    return isinstance(first, Tensor) and first.symbolic


def _inference_function(event: Event) -> str | None:
    qualname = event.context.function
    if qualname is None:
        return None
    name = qualname.rsplit(".", 1)[-1].lower()
    if name in _INFERENCE_NAMES or name.startswith(_INFERENCE_PREFIXES):
        return qualname
    return None


def _earlier_fit(model: SemanticModel, call: Event, layer: Layer) -> Event | None:
    """At module level, a `fit` of this model (or of one containing it), or a gradient
    step on its trainable variables, before the call, whose result is used (a discarded
    call re-estimates BN statistics on purpose)."""
    context = call.context
    if context.function is not None or model.is_discarded(call.node):
        return None
    for event in model.events:
        if event is call:
            return None
        if event.kind == "fit" and _trains(event.layer, layer):
            return event
        if event.kind == "gradient" and event.sources_are_variables is True and any(
            isinstance(source, Variables) and _trains(source.layer, layer)
            for source in event.inputs[1:]
        ):
            return event
    return None


def _trains(trained: Layer | None, layer: Layer) -> bool:
    return trained is not None and (trained is layer or layer in trained.descendants())


def _message(callee: str, where: str) -> str:
    return (
        f"`{callee}(..., training=True)` {where} runs BatchNormalization in training mode: "
        "outputs depend on the other samples of the batch and the moving mean/variance "
        "learnt in training are overwritten; use `training=False` (for MC dropout, "
        "freeze the BN layers first)"
    )


def _graph_message(call: str, flavour: Flavour) -> tuple[str, Severity] | None:
    head = f"`{call}` hard-codes training mode into the functional graph: "
    override = flavour.keras3_functional_override()
    if override is True:
        version = ".".join(str(part) for part in flavour.version or ())
        return (
            head + f"Keras {version} replaces it with the mode of `fit()`/`predict()`, "
            "but a direct `model(x)` call still runs BatchNormalization on batch statistics, "
            "and Keras 3.16 honours it everywhere; drop `training=True`",
            "info",
        )
    if override is None:
        return (
            head + "tf-keras and Keras >= 3.16 then run BatchNormalization in training mode "
            "even in `predict()` (batch-dependent outputs, moving statistics overwritten), "
            "as do Keras 3.0-3.15 for a direct `model(x)` call; drop `training=True`",
            "warning",
        )
    return (
        head + f"with {flavour.describe()}, BatchNormalization then runs in training mode even "
        "in `predict()` (batch-dependent outputs, moving statistics overwritten); drop "
        "`training=True`",
        "warning",
    )


def _call_text(model: SemanticModel, event: Event) -> str:
    """The call as written, shortened when long."""
    text = " ".join(model.module.code_for_node(event.node).split())
    if len(text) <= 60:
        return text
    return _callee_text(model, event) + "(..., training=True)"


def _callee_text(model: SemanticModel, event: Event) -> str:
    node = event.node
    return model.module.code_for_node(node.func) if isinstance(node, cst.Call) else "model"
