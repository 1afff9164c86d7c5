"""BN109 bn-frozen-from-scratch."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from bnlint.probe.facts import model_facts
from bnlint.probe.scenario import Fact, scenario
from bnlint.rule import Report, Rule, RuleContext
from bnlint.semantic.events import Event
from bnlint.semantic.model import SemanticModel
from bnlint.semantic.values import Const, Layer, LayerSelection, Variables

if TYPE_CHECKING:
    import libcst as cst
else:
    from bnlint.lazy import libcst as cst


class BnFrozenFromScratch(Rule):
    """## What it does
    Flags BatchNormalization layers constructed in this file and frozen from the start —
    `BatchNormalization(trainable=False)`, or `trainable = False` set before the model
    is ever trained — in a model that this file trains (`fit()` or a GradientTape step)
    while nothing in the file could write weights into it (no `load_weights`,
    `set_weights`, checkpoint restore, `weights=` argument of an unknown function, or
    helper named like a loader). A pretrained base (`ResNet50(weights="imagenet")`,
    `load_model`, `from_preset`) does not help a BN layer created next to it: that one
    is fresh.

    ## Why is this bad?
    A frozen BN never updates its moving statistics or its gamma/beta. Created fresh,
    they stay at mean 0, variance 1, gamma 1, beta 0, so the layer computes
    `x / sqrt(1 + epsilon)` for ever — even in training mode since TF 2.0 — instead of
    normalising (fact F17, verified: input mean/std 4.49/8.49 came out 4.48/8.49).
    Freezing BN is meant for *pretrained* statistics (fine-tuning); on a new layer —
    in a model trained from scratch, or in the new head on a pretrained base — it
    silently removes the normalisation.

    ## Example
    ```python
    model = keras.Sequential([
        layers.Conv2D(32, 3),
        layers.BatchNormalization(trainable=False),
        layers.ReLU(),
    ])
    model.compile("adam", "mse")
    model.fit(x, y)
    ```

    ## Use instead
    ```python
    model = keras.Sequential([
        layers.Conv2D(32, 3),
        layers.BatchNormalization(),
        layers.ReLU(),
    ])
    ```

    ## Fix safety
    No automatic fix: weights may be loaded by code bnlint cannot see (another module, a
    checkpoint restored by a framework).

    ## References
    - `BatchNormalization` API docs, "About setting `layer.trainable = False` on a
      `BatchNormalization` layer"
    - Keras guide "Transfer learning & fine-tuning"
    """

    code = "BN109"
    name = "bn-frozen-from-scratch"
    severity = "warning"
    summary = "BatchNormalization frozen in a model trained from scratch is a no-op"
    needles = (b"trainable",)
    flagged = (
        """
        import keras
        from keras import layers
        model = keras.Sequential([layers.Conv2D(32, 3), layers.BatchNormalization(trainable=False),
                                  layers.ReLU(), layers.Flatten(), layers.Dense(10)])
        model.compile("adam", "sparse_categorical_crossentropy")
        model.fit(x_train, y_train, epochs=10)
        """,
        """
        from tensorflow.keras import layers as L
        from tensorflow.keras.models import Sequential
        model = Sequential()
        model.add(L.Dense(64, input_shape=(20,)))
        model.add(L.BatchNormalization(trainable=False))
        model.add(L.Dense(1))
        model.compile(optimizer="sgd", loss="mse")
        model.fit(x, y)
        """,
        """
        import tensorflow as tf
        from keras.layers import BatchNormalization as BN
        def build():
            inputs = tf.keras.Input((32,))
            x = tf.keras.layers.Dense(16)(inputs)
            bn = BN()
            bn.trainable = False
            x = bn(x)
            return tf.keras.Model(inputs, tf.keras.layers.Dense(1)(x))
        model = build()
        model.compile("adam", "mse")
        model.fit(x, y)
        """,
        """
        import tf_keras
        model = tf_keras.Sequential([tf_keras.layers.Dense(8), tf_keras.layers.BatchNormalization(),
                                     tf_keras.layers.Dense(1)])
        for layer in model.layers:
            if isinstance(layer, tf_keras.layers.BatchNormalization):
                layer.trainable = False
        model.compile("adam", "mse")
        model.fit(x, y)
        """,
        """
        import tensorflow as tf
        base = tf.keras.applications.ResNet50(weights="imagenet", include_top=False,
                                              pooling="avg")
        base.trainable = False
        model = tf.keras.Sequential([base, tf.keras.layers.Dense(256),
                                     tf.keras.layers.BatchNormalization(trainable=False),
                                     tf.keras.layers.Dense(10)])
        model.compile("adam", "sparse_categorical_crossentropy")
        model.fit(train_ds, epochs=5)
        """,
        """
        import tensorflow as tf
        class Net(tf.keras.Model):
            def __init__(self):
                super().__init__()
                self.dense = tf.keras.layers.Dense(8)
                self.bn = tf.keras.layers.BatchNormalization(trainable=False)
            def call(self, x, training=None):
                return self.bn(self.dense(x), training=training)
        net = Net()
        optimizer = tf.keras.optimizers.Adam()
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(net(x, training=True))
        grads = tape.gradient(loss, net.trainable_variables)
        """,
    )
    not_flagged = (
        """
        import keras
        base = keras.applications.ResNet50(weights="imagenet", include_top=False)
        for layer in base.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.trainable = False
        model = keras.Sequential([base, keras.layers.Dense(10)])
        model.compile("adam", "mse")
        model.fit(x, y)
        """,
        """
        import keras
        from keras import layers
        model = keras.Sequential([layers.Dense(8), layers.BatchNormalization(trainable=False),
                                  layers.Dense(1)])
        model.load_weights("pretrained.weights.h5")
        model.compile("adam", "mse")
        model.fit(x, y)
        """,
        """
        import keras
        from keras import layers
        model = keras.Sequential([layers.Dense(8), layers.BatchNormalization(),
                                  layers.Dense(1)])
        model.compile("adam", "mse")
        model.fit(x, y)
        for layer in model.layers:
            if isinstance(layer, layers.BatchNormalization):
                layer.trainable = False
        model.compile("adam", "mse")
        model.fit(x2, y2)
        """,
        """
        from keras import layers
        def conv_block(x):
            x = layers.Conv2D(16, 3)(x)
            return layers.BatchNormalization(trainable=False)(x)
        """,
        """
        import tensorflow as tf
        model = tf.keras.Sequential([tf.keras.layers.Dense(8),
                                     tf.keras.layers.BatchNormalization(trainable=False)])
        ckpt = tf.train.Checkpoint(model=model)
        ckpt.restore(tf.train.latest_checkpoint("ckpts"))
        model.compile("adam", "mse")
        model.fit(x, y)
        """,
        """
        import keras
        from keras import layers
        model = keras.Sequential([layers.Dense(8), layers.BatchNormalization(trainable=False),
                                  layers.Dense(1)])
        model.set_weights(teacher.get_weights())
        model.fit(x, y)
        """,
    )

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        model = ctx.model
        if model.may_overwrite_weights:
            return
        for layer in model.layers:
            if not layer.is_bn or layer.trainable is not False:
                continue
            freeze = _freeze_at_start(model, layer)
            if freeze is None:
                continue
            trained = _training_after(model, layer, freeze[1])
            if trained is None:
                continue
            yield Report(
                freeze[0],
                "this new BatchNormalization layer is frozen before any training and nothing "
                "loads weights into it, so its statistics stay at mean 0 / variance 1 and it "
                "computes `x / sqrt(1 + epsilon)` instead of normalising; remove "
                "`trainable=False` (freeze BN only to keep pretrained statistics)",
                related=((trained.node, "the model is trained from scratch here"),),
                scenario=scenario(self.code, **_settings(freeze[1]),
                                  **model_facts(trained.layer or layer)),
            )


def _freeze_at_start(model: SemanticModel, bn: Layer) -> tuple[cst.CSTNode, Event] | None:
    """Where ``bn`` was frozen before any use: its constructor's `trainable=False`, or a
    `trainable = False` (on it or on a BN-selecting loop over a container) before it was
    called or trained. Returns the node to report and the event after which it holds."""
    created: Event | None = None
    for event in model.events:
        if event.kind == "create" and event.target is bn:
            created = event
            argument = _trainable_false_argument(event.node)
            if argument is not None:
                return argument, event
            continue
        if created is None:
            continue
        if event.kind in {"call", "fit", "gradient"} and _touches(event, bn):
            return None  # used before being frozen
        if event.kind == "set_trainable" and _freezes(event, bn):
            return event.node, event
    return None


def _trainable_false_argument(node: cst.CSTNode) -> cst.CSTNode | None:
    if not isinstance(node, cst.Call):
        return None
    for arg in node.args:
        if (arg.keyword is not None and arg.keyword.value == "trainable"
                and isinstance(arg.value, cst.Name) and arg.value.value == "False"):
            return arg
    return None


def _freezes(event: Event, bn: Layer) -> bool:
    if not (isinstance(event.value, Const) and event.value.value is False):
        return False
    if not event.context.definite:
        return False
    target = event.target
    if target is bn:
        return True
    if isinstance(target, LayerSelection) and target.members is not None:
        return bn in target.members and target.guard != "not_bn"
    return False


def _touches(event: Event, bn: Layer) -> bool:
    layer = event.layer
    if event.kind == "gradient":
        return any(isinstance(source, Variables) and source.layer is not None
                   and (source.layer is bn or bn in source.layer.descendants())
                   for source in event.inputs[1:])
    return layer is not None and (layer is bn or bn in layer.descendants())


def _training_after(model: SemanticModel, bn: Layer, start: Event) -> Event | None:
    """A `fit` (or a gradient step on trainable variables) of a model containing ``bn``,
    after ``start``, with ``bn`` still frozen."""
    seen = False
    for event in model.events:
        if event is start:
            seen = True
            continue
        if not seen or not event.context.definite or event.context.standalone:
            continue
        if event.kind == "set_trainable" and _may_unfreeze(event, bn):
            return None
        if event.kind == "fit" and _touches(event, bn) and _frozen_at(event, bn):
            return event
        if event.kind == "gradient" and event.sources_are_variables and _touches(event, bn):
            return event
    return None


def _may_unfreeze(event: Event, bn: Layer) -> bool:
    if isinstance(event.value, Const) and event.value.value is False:
        return False
    target = event.target
    if isinstance(target, Layer):
        return target is bn or bn in target.descendants()
    if isinstance(target, LayerSelection):
        return target.container is bn or bn in target.container.descendants()
    return False


def _frozen_at(event: Event, bn: Layer) -> bool:
    states = event.extra.get("trainable")
    return isinstance(states, dict) and states.get(id(bn)) is False


def _settings(event: Event) -> dict[str, Fact]:
    """The frozen layer's literal momentum and epsilon, when its constructor gives them."""
    node = event.node
    found: dict[str, Fact] = {}
    if event.kind != "create" or not isinstance(node, cst.Call):
        return found
    for arg in node.args:
        if arg.keyword is not None and arg.keyword.value in ("momentum", "epsilon"):
            value = arg.value
            if isinstance(value, (cst.Float, cst.Integer)):
                found[f"bn_{arg.keyword.value}"] = float(value.evaluated_value)
    return found
