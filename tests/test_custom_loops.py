"""Fine-tuning by a custom training loop: a step that calls the model with
`training=True` on a GradientTape whose gradients are applied trains it as fit() does,
and an unfreeze takes effect at once (no compile). Each test pins what BN201 reports."""

from __future__ import annotations

from bnlint.registry import all_rules
from bnlint.testing import lint_snippet

# A detector built around a backbone of the user's own (a subclassed model with BN),
# given pretrained weights as a whole, trained with the first layers frozen and then
# with every layer unfrozen, by a tf.function step.
DETECTOR = """
import tensorflow as tf
from tensorflow import keras

class Backbone(keras.Model):
    def __init__(self):
        super().__init__()
        self.conv = keras.layers.Conv2D(32, 3)
        self.bn = keras.layers.BatchNormalization()

    def call(self, x, training=None):
        return self.bn(self.conv(x), training=training)

@tf.function
def train_step(optimizer, images, targets, model):
    with tf.GradientTape() as tape:
        predictions = model(images{training})
        loss = tf.reduce_mean(tf.square(predictions - targets))
    gradients = tape.{differentiate}(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(gradients, model.trainable_variables))
    return loss

inputs = keras.Input((64, 64, 3))
features = Backbone()(inputs)
model = keras.Model(inputs, keras.layers.Conv2D(4, 1)(features))
model.load_weights("detector_coco.h5", by_name=True)
for i in range(2):
    model.layers[i].trainable = False
first = keras.optimizers.Adam(1e-3)
for images, targets in dataset:
    train_step(first, images, targets, model)
for layer in model.layers:
    layer.trainable = True
second = keras.optimizers.Adam(1e-4)
for images, targets in dataset:
    train_step(second, images, targets, model)
"""


def unfrozen_bn(code: str) -> list[tuple[int, str]]:
    return [(f.span.start.row, f.message) for f in lint_snippet(code, all_rules(), "tf-keras")
            if f.code == "BN201"]


def detector(training: str = ", training=True", differentiate: str = "gradient") -> str:
    return DETECTOR.replace("{training}", training).replace("{differentiate}", differentiate)


def test_unfreezing_a_loaded_model_trained_by_custom_steps_is_reported_at_the_unfreeze():
    found = unfrozen_bn(detector())
    lines = detector().splitlines()
    assert [row for row, _ in found] == [lines.index("    layer.trainable = True") + 1]
    assert "during its training steps" in found[0][1]


def test_a_step_that_leaves_training_unset_is_not_training_mode():
    assert unfrozen_bn(detector(training="")) == []


def test_a_tape_nobody_differentiates_trains_nothing():
    assert unfrozen_bn(detector(differentiate="watch")) == []


def test_frozen_again_after_the_unfreeze_is_clean():
    code = detector().replace("""    layer.trainable = True
""", """    layer.trainable = True
for layer in model.layers[1].layers:
    if isinstance(layer, keras.layers.BatchNormalization):
        layer.trainable = False
""")
    assert unfrozen_bn(code) == []


CALLABLE_LOSS = """
import tensorflow as tf

class PairLoss:
    def __init__(self, critic):
        self.critic = critic

    def __call__(self, real, fake):
        return tf.reduce_mean(self.critic(real{training})) - tf.reduce_mean(
            self.critic(fake{training}))

critic = tf.keras.Sequential([tf.keras.layers.Dense(8), tf.keras.layers.BatchNormalization(),
                              tf.keras.layers.Dense(1)])
optimizer = tf.keras.optimizers.Adam()
loss_fn = PairLoss(critic)
for real, fake in batches:
    with tf.GradientTape() as tape:
        loss = loss_fn(real, fake)
    grads = tape.gradient(loss, critic.trainable_variables)
    optimizer.apply_gradients(zip(grads, critic.trainable_variables))
"""


def test_a_callable_loss_helper_runs_its_call_on_the_step() -> None:
    def without_training(training: str) -> list[int]:
        return [f.span.start.row
                for f in lint_snippet(CALLABLE_LOSS.replace("{training}", training),
                                      all_rules(), "tf-keras") if f.code == "BN107"]

    assert without_training("") == [9, 10]
    assert without_training(", training=True") == []
