"""BN107 custom-loop-without-training."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from bnlint.probe.facts import model_facts
from bnlint.probe.scenario import scenario
from bnlint.rule import FixExample, Report, Rewrite, Rule, RuleContext
from bnlint.semantic.events import Event
from bnlint.semantic.model import SemanticModel
from bnlint.semantic.values import Layer, Tensor, Variables

from ._fixes import with_keyword

if TYPE_CHECKING:
    import libcst as cst
else:
    from bnlint.lazy import libcst as cst


class CustomLoopWithoutTraining(Rule):
    """## What it does
    Flags a model called without `training=` (or with `training=None`) inside a
    `tf.GradientTape` block whose gradients are taken with respect to that model's
    trainable variables — a custom training loop or a `train_step` — when the model
    contains a trainable BatchNormalization layer or a Dropout layer whose mode follows
    the call.

    ## Why is this bad?
    A layer's `training` value comes from the call argument, else from the enclosing
    layer call, else from its `call()` signature default, else inference mode (fact F11).
    `fit()` passes `training=True`; a hand-written loop must do it itself. Without it,
    BatchNormalization normalises with its moving statistics, which never leave their
    initial values (mean 0, variance 1), and Dropout is off: the model trains in
    inference mode and behaves differently once deployed (probe: max |Δ moving_mean|
    after 20 steps is 0.0000 without the argument).

    On Keras 3's torch backend, a `train_step` that calls `loss.backward()` is such a
    step: autograd records the whole method and the gradients reach the model's
    trainable weights.

    A tape whose gradients are taken with respect to inputs (saliency maps, adversarial
    examples) is not a training step and is not reported.

    ## Example
    ```python
    with tf.GradientTape() as tape:
        logits = model(x_batch)
        loss = loss_fn(y_batch, logits)
    grads = tape.gradient(loss, model.trainable_variables)
    ```

    ## Use instead
    ```python
    with tf.GradientTape() as tape:
        logits = model(x_batch, training=True)
        loss = loss_fn(y_batch, logits)
    grads = tape.gradient(loss, model.trainable_variables)
    ```
    If inference-mode BN is intended (fine-tuning with frozen statistics), say so by
    freezing the BN layers (`layer.trainable = False`) and still pass `training=True`.

    ## Fix safety
    The fix passes `training=True` to the call (replacing `training=None`). It is
    unsafe: it changes how the model trains (BatchNormalization starts using and
    updating batch statistics, Dropout starts dropping), which is what `fit()` does and
    almost always what the step means, but it changes the numbers. No fix for a call
    with `*args`/`**kwargs`.

    ## References
    - Keras guide "Writing a training loop from scratch"
    - https://github.com/tensorflow/models/issues/9538
    """

    code = "BN107"
    name = "custom-loop-without-training"
    severity = "warning"
    reads_program = True
    summary = "model called without `training=True` in a GradientTape training step"
    needles = (b"GradientTape", b".backward(")
    flagged = (
        # Keras 3 on the torch backend: `loss.backward()` instead of a tape
        """
        import keras
        import torch

        class CustomModel(keras.Model):
            def __init__(self):
                super().__init__()
                self.dense = keras.layers.Dense(8)
                self.bn = keras.layers.BatchNormalization()
                self.out = keras.layers.Dense(1)

            def call(self, x, training=None):
                return self.out(self.bn(self.dense(x), training=training))

            def train_step(self, data):
                x, y = data
                self.zero_grad()
                y_pred = self(x)
                loss = self.compute_loss(y=y, y_pred=y_pred)
                loss.backward()
                trainable_weights = [v for v in self.trainable_weights]
                gradients = [v.value.grad for v in trainable_weights]
                with torch.no_grad():
                    self.optimizer.apply(gradients, trainable_weights)
                return self.compute_metrics(x, y, y_pred)
        """,
        # a trainer class holding the model it was built with
        """
        import tensorflow as tf
        from tensorflow import keras

        class Trainer:
            def __init__(self, model, optimizer):
                self.model = model
                self.optimizer = optimizer

            def train_step(self, x, y):
                with tf.GradientTape() as tape:
                    pred = self.model(x)
                    loss = keras.losses.mse(y, pred)
                grads = tape.gradient(loss, self.model.trainable_variables)
                self.optimizer.apply_gradients(zip(grads, self.model.trainable_variables))
                return loss

        model = keras.Sequential([keras.layers.Dense(8), keras.layers.BatchNormalization(),
                                  keras.layers.Dense(1)])
        trainer = Trainer(model, keras.optimizers.Adam())
        """,
        """
        import tensorflow as tf
        from tensorflow.keras import layers as L
        model = tf.keras.Sequential([L.Dense(16), L.BatchNormalization(), L.Dense(1)])
        opt = tf.keras.optimizers.Adam()
        for x, y in dataset:
            with tf.GradientTape() as tape:
                pred = model(x)
                loss = tf.reduce_mean((pred - y) ** 2)
            grads = tape.gradient(loss, model.trainable_variables)
            opt.apply_gradients(zip(grads, model.trainable_variables))
        """,
        """
        import keras
        import tensorflow as tf
        class Net(keras.Model):
            def __init__(self):
                super().__init__()
                self.dense = keras.layers.Dense(8)
                self.bn = keras.layers.BatchNormalization()
            def call(self, x, training=False):
                return self.bn(self.dense(x), training=training)
            def train_step(self, data):
                x, y = data
                with tf.GradientTape() as tape:
                    y_pred = self(x)
                    loss = self.compute_loss(y=y, y_pred=y_pred)
                grads = tape.gradient(loss, self.trainable_variables)
                self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
                return {"loss": loss}
        """,
        """
        import tensorflow as tf
        from keras.layers import BatchNormalization as BN
        from keras.layers import Dense, Input
        from keras import Model
        inputs = Input((8,))
        outputs = Dense(1)(BN()(Dense(8)(inputs)))
        model = Model(inputs, outputs)
        @tf.function
        def train_step(x, y):
            with tf.GradientTape() as tape:
                loss = loss_fn(y, model(x, training=None))
            grads = tape.gradient(loss, model.trainable_weights)
            optimizer.apply_gradients(zip(grads, model.trainable_weights))
        """,
        """
        import tf_keras
        import tensorflow as tf
        generator = tf_keras.Sequential([tf_keras.layers.Dense(8),
                                         tf_keras.layers.BatchNormalization()])
        critic = tf_keras.Sequential([tf_keras.layers.Dense(1)])
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            fake = generator(noise)
            score = critic(fake, training=True)
        g_grads = g_tape.gradient(score, generator.trainable_variables)
        """,
        """
        import tensorflow as tf
        base = tf.keras.applications.EfficientNetB0(include_top=False, weights=None)
        head = tf.keras.layers.Dense(3)
        def compute_loss(images, labels):
            return loss_fn(labels, head(base(images)))
        with tf.GradientTape() as tape:
            loss = compute_loss(images, labels)
        grads = tape.gradient(loss, base.trainable_variables + head.trainable_variables)
        """,
    )
    fixed = (
        FixExample("""
        import tensorflow as tf
        from tensorflow.keras import layers as L
        model = tf.keras.Sequential([L.Dense(16), L.BatchNormalization(), L.Dense(1)])
        opt = tf.keras.optimizers.Adam()
        for x, y in dataset:
            with tf.GradientTape() as tape:
                pred = model(x)
                loss = tf.reduce_mean((pred - y) ** 2)
            grads = tape.gradient(loss, model.trainable_variables)
            opt.apply_gradients(zip(grads, model.trainable_variables))
        """, """
        import tensorflow as tf
        from tensorflow.keras import layers as L
        model = tf.keras.Sequential([L.Dense(16), L.BatchNormalization(), L.Dense(1)])
        opt = tf.keras.optimizers.Adam()
        for x, y in dataset:
            with tf.GradientTape() as tape:
                pred = model(x, training=True)
                loss = tf.reduce_mean((pred - y) ** 2)
            grads = tape.gradient(loss, model.trainable_variables)
            opt.apply_gradients(zip(grads, model.trainable_variables))
        """),
        FixExample("""
        import tensorflow as tf
        from keras.layers import BatchNormalization as BN
        from keras.layers import Dense, Input
        from keras import Model
        inputs = Input((8,))
        outputs = Dense(1)(BN()(Dense(8)(inputs)))
        model = Model(inputs, outputs)
        @tf.function
        def train_step(x, y):
            with tf.GradientTape() as tape:
                loss = loss_fn(y, model(x, training=None))
            grads = tape.gradient(loss, model.trainable_weights)
            optimizer.apply_gradients(zip(grads, model.trainable_weights))
        """, """
        import tensorflow as tf
        from keras.layers import BatchNormalization as BN
        from keras.layers import Dense, Input
        from keras import Model
        inputs = Input((8,))
        outputs = Dense(1)(BN()(Dense(8)(inputs)))
        model = Model(inputs, outputs)
        @tf.function
        def train_step(x, y):
            with tf.GradientTape() as tape:
                loss = loss_fn(y, model(x, training=True))
            grads = tape.gradient(loss, model.trainable_weights)
            optimizer.apply_gradients(zip(grads, model.trainable_weights))
        """),
    )
    not_flagged = (
        """
        import keras
        import torch

        class CustomModel(keras.Model):
            def __init__(self):
                super().__init__()
                self.dense = keras.layers.Dense(8)
                self.bn = keras.layers.BatchNormalization()
                self.out = keras.layers.Dense(1)

            def call(self, x, training=None):
                return self.out(self.bn(self.dense(x), training=training))

            def train_step(self, data):
                x, y = data
                self.zero_grad()
                y_pred = self(x, training=True)
                loss = self.compute_loss(y=y, y_pred=y_pred)
                loss.backward()
                trainable_weights = [v for v in self.trainable_weights]
                gradients = [v.value.grad for v in trainable_weights]
                with torch.no_grad():
                    self.optimizer.apply(gradients, trainable_weights)
                return self.compute_metrics(x, y, y_pred)
        """,
        """
        import tensorflow as tf
        from tensorflow.keras import layers as L
        model = tf.keras.Sequential([L.Dense(16), L.BatchNormalization(), L.Dense(1)])
        with tf.GradientTape() as tape:
            pred = model(x, training=True)
            loss = tf.reduce_mean((pred - y) ** 2)
        grads = tape.gradient(loss, model.trainable_variables)
        """,
        """
        import tensorflow as tf
        model = tf.keras.applications.ResNet50()
        image = tf.Variable(x)
        with tf.GradientTape() as tape:
            tape.watch(image)
            score = model(image)[0, 281]
        saliency = tape.gradient(score, image)
        """,
        """
        import tensorflow as tf
        from keras import layers
        critic = tf.keras.Sequential([layers.Dense(16), layers.BatchNormalization(),
                                      layers.Dense(1)])
        with tf.GradientTape() as tape:
            with tf.GradientTape() as gp_tape:
                gp_tape.watch(interpolated)
                pred = critic(interpolated)
            slopes = gp_tape.gradient(pred, [interpolated])
            d_loss = wasserstein(critic(real, training=True), critic(fake, training=True))
        grads = tape.gradient(d_loss, critic.trainable_variables)
        """,
        """
        import tensorflow as tf
        from tensorflow.keras import layers as L
        model = tf.keras.Sequential([L.Dense(16), L.Dense(1)])
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean((model(x) - y) ** 2)
        grads = tape.gradient(loss, model.trainable_variables)
        """,
        """
        import keras
        import tensorflow as tf
        base = keras.applications.ResNet50(include_top=False)
        base.trainable = False
        head = keras.layers.Dense(3)
        with tf.GradientTape() as tape:
            loss = loss_fn(labels, head(base(images)))
        grads = tape.gradient(loss, head.trainable_variables)
        """,
        """
        import keras
        import tensorflow as tf
        class Net(keras.Model):
            def __init__(self):
                super().__init__()
                self.bn = keras.layers.BatchNormalization()
            def call(self, x, training=True):
                return self.bn(x, training=training)
        net = Net()
        with tf.GradientTape() as tape:
            loss = loss_fn(y, net(x))
        grads = tape.gradient(loss, net.trainable_variables)
        """,
        """
        import tensorflow as tf
        from tensorflow.keras import layers as L
        model = tf.keras.Sequential([L.Dense(16), L.BatchNormalization(), L.Dense(1)])
        for layer in model.layers:
            if isinstance(layer, L.BatchNormalization):
                layer.trainable = False
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean((model(x) - y) ** 2)
        grads = tape.gradient(loss, model.trainable_variables)
        """,
    )

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        if ctx.flavour.name in {"tf1", "keras2"}:
            return  # graph-mode code: the mode comes from the learning phase
        model = ctx.model
        for event in model.events_of("call"):
            layer = event.target
            if not isinstance(layer, Layer) or not _untrained_call(event, layer):
                continue
            gradient = _training_gradient(model, event, layer)
            if gradient is None:
                continue
            related: tuple[tuple[cst.CSTNode, str], ...] = (
                (gradient.node, "gradients of its trainable weights"),)
            if layer.node is not event.node:
                related += ((layer.node, f"{_built(layer)} built here"),)
            yield Report(event.node, _message(event, layer, _callee(model, event)),
                         related=related,
                         scenario=scenario(self.code, **model_facts(layer)) if "BatchNormalization"
                         in _affected(event, layer) else None,
                         fix=_training_true(model, event.node), entry=event.entry_site)


def _built(layer: Layer) -> str:
    """How the note on the layer's construction names it."""
    return f"`{layer.label}`" if layer.label else "the model"


def _training_true(model: SemanticModel, node: cst.CSTNode) -> Rewrite | None:
    """The call with ``training=True`` (unsafe: the step then trains BN and Dropout)."""
    if not isinstance(node, cst.Call):
        return None
    change = with_keyword(model.module, node, "training", "True")
    if change is None:
        return None
    return Rewrite("Pass `training=True`", (change,), "unsafe")


def _untrained_call(event: Event, layer: Layer) -> bool:
    """A call inside a tape, without a training mode, that leaves BN or Dropout in
    inference mode."""
    if event.training not in {"absent", "none"} or not event.context.tapes:
        return False
    if layer.call_training_default == "true":
        return False  # its own `call(..., training=True)` default applies
    return bool(_affected(event, layer))


def _affected(event: Event, layer: Layer) -> list[str]:
    found = []
    if event.bn_trainable_before is True and layer.runs_in_outer_mode("bn") is True:
        found.append("BatchNormalization")
    if layer.runs_in_outer_mode("dropout") is True:
        found.append("Dropout")
    return found


def _training_gradient(model: SemanticModel, call: Event, layer: Layer) -> Event | None:
    """The `tape.gradient(loss, <trainable variables>)` of a tape enclosing ``call``
    whose variables belong to ``layer`` (or a part of it, or a model containing it)."""
    tapes = call.context.tapes
    gradients = [event for event in model.events_of("gradient")
                 if any(event.target is tape for tape in tapes)]
    if any(event.sources_are_variables is False and not _made_by(event, layer)
           for event in gradients):
        return None  # also inside a tape for input gradients (gradient penalty, saliency)
    for event in gradients:
        if event.sources_are_variables is not True:
            continue
        for source in event.inputs[1:]:
            owner = source.layer if isinstance(source, Variables) else None
            if owner is not None and (owner is layer or owner in layer.descendants()
                                      or layer in owner.descendants()):
                return event
    return None


def _made_by(gradient: Event, layer: Layer) -> bool:
    """Are the tensors a gradient is taken with respect to outputs of ``layer`` (the
    generator's images, watched to take the discriminator's gradient norm)? The
    layer then runs before them, and that gradient says nothing of its mode."""
    sources = gradient.inputs[1:]
    return bool(sources) and all(
        isinstance(source, Tensor) and any(
            wiring.child is layer or layer in wiring.child.descendants()
            for wiring in source.history) for source in sources)


def _callee(model: SemanticModel, event: Event) -> str:
    """How the called model is written at the call (`model`, `self`, `self.backbone`)."""
    node = event.node
    return model.module.code_for_node(node.func) if isinstance(node, cst.Call) else "the model"


def _message(event: Event, layer: Layer, callee: str) -> str:
    what = f"`{callee}`"
    parts = _affected(event, layer)
    effects = []
    if "BatchNormalization" in parts:
        effects.append("BatchNormalization normalises with moving statistics that never update")
    if "Dropout" in parts:
        effects.append("Dropout is off")
    written = "training=None" if event.training == "none" else "no `training=`"
    entry = event.entry_site
    if isinstance(entry, cst.Call) and any(
            arg.keyword is not None and arg.keyword.value == "training" for arg in entry.args):
        # the call that leads there passes `training=` to code that drops it
        return (
            f"{what} is called with {written} in a training step (the `training=` given "
            f"to `{_code(entry.func)}(...)` does not reach it), so it runs in inference "
            f"mode: {' and '.join(effects)}; pass `training` on to it"
        )
    return (
        f"{what} is called with {written} in a training step, so it runs in inference mode: "
        f"{' and '.join(effects)}; pass `training=True` (as `fit()` does)"
    )


def _code(node: cst.CSTNode) -> str:
    return cst.Module(body=[]).code_for_node(node)
