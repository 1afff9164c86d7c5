"""BN108 training-true-at-inference."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from bnlint.finding import Severity
from bnlint.flavour import Flavour
from bnlint.probe.facts import model_facts
from bnlint.probe.scenario import scenario
from bnlint.rule import Example, Report, Rule, RuleContext
from bnlint.semantic import workflow as wf
from bnlint.semantic.events import Event, call_notes
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
    model was trained with `fit()` (outside a GradientTape); after trained weights are
    restored (`load_weights`, `load_model`) in a program that trains nothing (no
    `compile`, `fit` or gradient): an evaluation script; or hard-coded into a
    functional graph (`x = base(inputs, training=True)`, or `bn(x, training=training)`
    in a helper whose `training` parameter is True: passed, or its default) of a model
    that is then run for inference (`predict`, `evaluate`, a direct call). A graph that
    is only trained (a GAN's discriminator) is not reported, nor is one inside a model
    class whose own `test_step` / `predict_step` (what its `evaluate` / `predict` run)
    leaves it out.

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
    reads_program = True
    summary = "`training=True` at inference runs BatchNormalization on batch statistics"
    needles = (b"training=True", b"training = True", b"training=1", b", True)")
    flagged = (
        # a test step copied from the training step: the tape is kept, but no gradient
        # is taken from it
        """
        import tensorflow as tf
        from tensorflow.keras import layers as L
        model = tf.keras.Sequential([L.Dense(8), L.BatchNormalization(), L.Dense(1)])
        def test_step(x, y):
            with tf.GradientTape() as tape:
                loss = loss_fn(y, model(x, training=True))
            return loss
        """,
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
        model.fit(x_train, y_train)
        preds = model.predict(x_test)
        """,
        Example(
            """
            import tensorflow as tf
            from keras.layers import BatchNormalization as BN
            inputs = tf.keras.Input((32,))
            x = tf.keras.layers.Dense(16)(inputs)
            x = BN()(x, training=True)
            model = tf.keras.Model(inputs, tf.keras.layers.Dense(1)(x))
            outputs = model(x_test)
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
        # a helper whose `training` parameter defaults to True, called without it: the
        # graph records training=True (a report function reading the model changes
        # nothing)
        """
        import tensorflow as tf
        from tensorflow.keras.layers import Activation, BatchNormalization, Conv2D, Dense
        from tensorflow.keras.layers import Flatten, Input
        from tensorflow.keras.models import Model
        from test_utils import summary

        def identity_block(X, f, filters, training=True):
            X = Conv2D(filters, f, padding="same")(X)
            X = BatchNormalization(axis=3)(X, training=training)
            return Activation("relu")(X)

        def ResNet50(input_shape=(64, 64, 3), classes=6):
            X_input = Input(input_shape)
            X = identity_block(X_input, 3, 64)
            X = Dense(classes, activation="softmax")(Flatten()(X))
            return Model(inputs=X_input, outputs=X)

        model = ResNet50(input_shape=(64, 64, 3), classes=6)
        print(summary(model))
        model.compile(optimizer="adam", loss="categorical_crossentropy")
        model.fit(X_train, Y_train, epochs=10, batch_size=32)
        preds = model.evaluate(X_test, Y_test)
        """,
        # an evaluation script: trained weights restored, nothing trained
        """
        import tensorflow as tf
        base = tf.keras.applications.MobileNetV2(include_top=False, pooling="avg")
        model = tf.keras.Model(base.input, tf.keras.layers.Dense(10)(base.output))
        model.load_weights("checkpoints/epoch-30")
        for images in tf.data.Dataset.from_tensor_slices(paths).map(load).batch(100):
            scores = model(images, training=True)
            print(scores.numpy().argmax(axis=1))
        """,
    )
    not_flagged = (
        # resuming training from a checkpoint: the program trains
        """
        import tensorflow as tf
        base = tf.keras.applications.MobileNetV2(include_top=False, pooling="avg")
        model = tf.keras.Model(base.input, tf.keras.layers.Dense(10)(base.output))
        model.load_weights("checkpoints/epoch-30")
        preview = model(sample, training=True)
        model.compile(optimizer="adam", loss="mse")
        model.fit(x, y)
        """,
        # the helper called with training=False
        """
        import tensorflow as tf
        from tensorflow.keras.layers import BatchNormalization, Conv2D, Dense, Flatten, Input
        from tensorflow.keras.models import Model

        def block(X, filters, training=True):
            X = Conv2D(filters, 3, padding="same")(X)
            return BatchNormalization(axis=3)(X, training=training)

        X_input = Input((64, 64, 3))
        model = Model(X_input, Dense(6)(Flatten()(block(X_input, 64, training=False))))
        model.fit(X_train, Y_train)
        preds = model.predict(X_test)
        """,
        # a discriminator whose graph hard-codes training=True but that is only trained
        """
        from keras.layers import BatchNormalization, Conv3D, Dense, Flatten, Input, LeakyReLU
        from keras.models import Model

        def build_discriminator():
            inputs = Input(shape=(64, 64, 64, 1))
            a = Conv3D(64, 4, strides=2, padding="same")(inputs)
            a = BatchNormalization()(a, training=True)
            a = LeakyReLU(0.2)(a)
            return Model(inputs=[inputs], outputs=[Dense(1)(Flatten()(a))])

        discriminator = build_discriminator()
        discriminator.compile(loss="binary_crossentropy", optimizer="adam")
        for volumes, labels in batches:
            discriminator.train_on_batch(volumes, labels)
        """,
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
        # the GAN's evaluate runs its own test_step, which never calls the critic graph
        """
        import tensorflow as tf
        from tensorflow.keras import layers as L

        critic = tf.keras.Sequential([L.Conv2D(8, 3), L.BatchNormalization(), L.Flatten(),
                                      L.Dense(1)])
        pair = tf.keras.Input((32, 32, 1))
        graph = tf.keras.Model(pair, critic(pair, training=True))

        class GAN(tf.keras.Model):
            def __init__(self, graph, generator):
                super().__init__()
                self.graph = graph
                self.generator = generator

            def test_step(self, data):
                low, high = data
                self.compiled_metrics.update_state(high, self.generator(low, training=False))
                return {m.name: m.result() for m in self.metrics}

        gan = GAN(graph, tf.keras.Sequential([L.Conv2D(1, 3, padding="same")]))
        gan.compile(optimizer="adam", loss="mse")
        gan.fit(pairs, epochs=2)
        gan.evaluate(test_pairs)
        """,
    )

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        model = ctx.model
        stochastic_graph = _hard_codes_dropout(model)
        for event in model.events_of("call"):
            layer = event.target
            if not isinstance(layer, Layer) or not _bn_in_training_mode(model, event, layer):
                continue
            callee = _callee_text(model, event)
            if _graph_call(event):
                if stochastic_graph:
                    continue  # pix2pix-style: training mode at test time on purpose
                if not _used_for_inference(model, event, layer):
                    continue  # a graph that is only trained (a GAN's discriminator)
                found = _graph_message(_call_text(model, event), ctx.flavour,
                                       _fix_text(model, event))
                if found is not None:
                    yield Report(event.node, found[0],
                                 call_notes(event, "the BatchNormalization call"),
                                 severity=found[1],
                                 scenario=scenario(self.code, form="graph",
                                                   **model_facts(layer)))
                continue
            where = _inference_function(event)
            if where is not None:
                yield Report(event.node, _message(callee, f"in `{where}()`"),
                             scenario=scenario(self.code, form="call", **model_facts(layer)))
                continue
            fit = _earlier_fit(model, event, layer)
            if fit is not None:
                yield Report(event.node, _message(callee, "after training"),
                             related=((fit.node, "the model is trained here"),),
                             scenario=scenario(self.code, form="call", **model_facts(layer)))
                continue
            restored = _restored_for_inference(model, event, layer)
            if restored is not None:
                yield Report(event.node, _message(callee, "on trained weights, in a program "
                                                  "that never trains,"),
                             related=((restored.node, "the trained weights are loaded here"),),
                             scenario=scenario(self.code, form="call", **model_facts(layer)))


def _bn_in_training_mode(model: SemanticModel, event: Event, layer: Layer) -> bool:
    """`training=True` outside any tape that gradients are taken from, on a layer with
    a trainable BN that follows it."""
    if event.training != "true" or wf.in_training_tape(model, event):
        return False
    if event.bn_trainable_before is not True or layer.bn_trainable() is False:
        return False
    return layer.runs_in_outer_mode("bn") is True


def _used_for_inference(model: SemanticModel, call: Event, layer: Layer) -> bool:
    """After the graph call, is a model holding ``layer`` run for inference:
    ``predict``/``evaluate`` (or their ``*_on_batch``), or called directly on data
    outside a GradientTape, at module level or in an inference function?"""
    for event in wf.events_between(model, call, None):
        if not _trains(event.layer, layer):
            continue
        if event.kind == "evaluate" and "own_step" not in event.extra:
            return True  # (a class's own `test_step` runs only what it calls)
        if (event.kind == "call" and not event.context.tapes and not _graph_call(event)
                and event.training != "true" and event.layer is not layer
                and (event.context.function is None or _inference_function(event))):
            return True
    return False


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


def _restored_for_inference(model: SemanticModel, call: Event,
                            layer: Layer) -> Event | None:
    """The `load_weights` (or `load_model`) of this model or of one containing it
    before the call, in a program that trains nothing (no fit, no gradient, no compile),
    when the call's result is used: an evaluation script running the trained model."""
    if model.is_discarded(call.node) or any(
            event.kind in {"fit", "gradient", "compile"} for event in model.events):
        return None
    loaded = None
    for event in model.events:
        if event is call:
            return loaded
        if _trains(event.layer, layer) and (event.kind == "load_weights" or (
                event.kind == "create" and event.layer is not None
                and event.layer.model_kind == "loaded")):
            loaded = event  # `load_weights(...)`, or a model `load_model` restores
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


def _fix_text(model: SemanticModel, event: Event) -> str:
    """How to fix the hard-coded mode: drop the literal, or stop defaulting the helper's
    parameter to True (``def block(x, training=True)`` called without it)."""
    node = event.node
    argument = next((arg for arg in node.args if arg.keyword is not None
                     and arg.keyword.value == "training"), None) if isinstance(
        node, cst.Call) else None
    if argument is not None and isinstance(argument.value, cst.Name) and (
            argument.value.value not in {"True", "False", "None"}):
        name = argument.value.value
        return (f"`{name}` is True here (the value passed or the parameter's default): "
                f"default `{name}` to None and leave it out when building the model")
    return "drop `training=True`"


def _graph_message(call: str, flavour: Flavour,
                   fix: str = "drop `training=True`") -> tuple[str, Severity] | None:
    head = f"`{call}` hard-codes training mode into the functional graph: "
    override = flavour.keras3_functional_override()
    if override is True:
        version = ".".join(str(part) for part in flavour.version or ())
        return (
            head + f"Keras {version} replaces it with the mode of `fit()`/`predict()`, "
            "but a direct `model(x)` call still runs BatchNormalization on batch statistics, "
            f"and Keras 3.16 honours it everywhere; {fix}",
            "info",
        )
    if override is None:
        return (
            head + "tf-keras and Keras >= 3.16 then run BatchNormalization in training mode "
            "even in `predict()` (batch-dependent outputs, moving statistics overwritten), "
            f"as do Keras 3.0-3.15 for a direct `model(x)` call; {fix}",
            "warning",
        )
    return (
        head + f"with {flavour.describe()}, BatchNormalization then runs in training mode even "
        f"in `predict()` (batch-dependent outputs, moving statistics overwritten); {fix}",
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
