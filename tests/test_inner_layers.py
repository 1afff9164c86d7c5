"""Layers inside other layers. Kept in lists: `[BatchNormalization() for _ in
range(depth)]` stands for layers made alike, so `self.bns[i][level]` is one of them
whatever the index; a list of layers held as an attribute is tracked by its holder
(those appended later too), and a loop over it runs each block; a comprehension over
`enumerate(features)` keeps each feature map's graph. Made in `call()`: a layer made and
called there runs in the mode of each call of its maker."""

from __future__ import annotations

from bnlint.registry import all_rules
from bnlint.testing import lint_snippet


def found(code: str, rule: str) -> list[int]:
    return [f.span.start.row for f in lint_snippet(code, all_rules(), "auto")
            if f.code == rule]


HEADS = """
from keras import layers, models


class ClassNet:
    def __init__(self, width, depth):
        self.depth = depth
        self.convs = [layers.Conv2D(width, 3, padding="same") for i in range(depth)]
        self.norms = [[layers.{norm}() for j in range(3, 8)] for i in range(depth)]
        self.head = layers.Conv2D(9, 3, padding="same")

    def call(self, inputs):
        feature, level = inputs
        for i in range(self.depth):
            feature = self.convs[i](feature)
            feature = self.norms[i][level](feature)
        return layers.Flatten()(self.head(feature))


def detector(features, inputs):
    net = ClassNet(64, 3)
    outputs = [net.call([feature, i]) for i, feature in enumerate(features)]
    return models.Model(inputs, layers.Concatenate(axis=1)(outputs))


inputs = layers.Input((64, 64, 3))
p3 = layers.Conv2D(8, 3, strides=2)(inputs)
p4 = layers.Conv2D(8, 3, strides=2)(p3)
model = detector([p3, p4], inputs)
model.compile("adam", "mse")
model.fit(x, y, batch_size=2)
"""


def test_layers_made_alike_in_a_comprehension_are_picked_by_any_index() -> None:
    # EfficientDet-style heads: the BN layer of each level comes from a nested list
    assert found(HEADS.format(norm="BatchNormalization"), "BN401") == [31]


def test_the_same_heads_without_batchnorm_stay_clean() -> None:
    assert found(HEADS.format(norm="LayerNormalization"), "BN401") == []


BLOCKS = """
import tensorflow as tf
from tensorflow import keras


class Net(keras.Model):
    def __init__(self):
        super().__init__()
{blocks}
        self.out = keras.layers.Dense(1)

    def call(self, x, training=None):
        for block in self.blocks:
            x = block(x)
        return self.out(x)


model = Net()
optimizer = keras.optimizers.Adam()


@tf.function
def train_step(x, y):
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean((model(x) - y) ** 2)
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
"""


def test_blocks_in_a_list_attribute_are_the_models_layers() -> None:
    blocks = ("        self.blocks = [keras.layers.Dense(8),"
              " keras.layers.BatchNormalization()]")
    assert found(BLOCKS.format(blocks=blocks), "BN107") == [25]


def test_blocks_appended_to_a_list_attribute_are_the_models_layers() -> None:
    blocks = ("        self.blocks = []\n"
              "        for _ in range(3):\n"
              "            self.blocks.append(keras.layers.Dense(8))\n"
              "            self.blocks.append(keras.layers.BatchNormalization())")
    assert found(BLOCKS.format(blocks=blocks), "BN107") == [28]


def test_blocks_without_batchnorm_or_dropout_stay_clean() -> None:
    blocks = ("        self.blocks = [keras.layers.Dense(8) for _ in range(3)]")
    assert found(BLOCKS.format(blocks=blocks), "BN107") == []


def test_a_known_index_of_a_list_display_picks_that_layer() -> None:
    code = """
from keras import layers, models

inputs = layers.Input((16,))
choices = [layers.Dense(8), layers.BatchNormalization()]
model = models.Model(inputs, choices[{index}](inputs))
model.compile("adam", "mse")
model.fit(x, y, batch_size=2)
"""
    assert found(code.format(index=0), "BN401") == []
    assert found(code.format(index=1), "BN401") == [8]


MADE_IN_CALL = """
import tensorflow as tf


class Encoder(tf.keras.layers.Layer):
    def __init__(self):
        super().__init__()
        self.conv = tf.keras.layers.Conv2D(8, 3)

    def call(self, image):
        out = self.conv(image)
        return tf.keras.layers.{norm}()(out{training})


encoder = Encoder()
optimizer = tf.keras.optimizers.Adam()
for images in dataset:
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(encoder(images))
    grads = tape.gradient(loss, encoder.trainable_variables)
    optimizer.apply_gradients(zip(grads, encoder.trainable_variables))
"""


def test_batchnorm_made_in_call_runs_in_the_mode_of_its_makers_call() -> None:
    code = MADE_IN_CALL.format(norm="BatchNormalization", training="")
    assert found(code, "BN107") == [19]


def test_batchnorm_made_in_call_with_its_own_mode_or_no_batchnorm_stays_clean() -> None:
    assert found(MADE_IN_CALL.format(norm="BatchNormalization", training=", training=True"),
                 "BN107") == []
    assert found(MADE_IN_CALL.format(norm="LayerNormalization", training=""), "BN107") == []


def test_a_known_index_of_models_made_alike_is_not_every_model() -> None:
    # freezing the teacher does not freeze the student made by the same comprehension
    code = """
import tensorflow as tf


def make_model():
    return tf.keras.Sequential([tf.keras.layers.Dense(8), tf.keras.layers.Dense(1)])


models = [make_model() for _ in range(2)]
teacher, student = models[0], models[1]
teacher.compile("adam", "mse")
teacher.fit(x, y, batch_size=64)
teacher.trainable = False
student.compile("adam", "mse")
student.fit(x, y, batch_size=64)
"""
    assert found(code, "BN207") == []


CONDITIONAL_BN = """
import argparse
import tensorflow as tf
from tensorflow import keras

parser = argparse.ArgumentParser()
parser.add_argument("--use-bn", action="store_true")
args = parser.parse_args()


class Net(keras.Model):
    def __init__(self, use_bn):
        super().__init__()
        self.use_bn = use_bn
        self.ops = [keras.layers.Dense(64)]
        {append}

    def call(self, x, training=None):
        for op in self.ops:
            x = op(x)
        {in_call}
        return x


model = Net(args.use_bn)
model.compile("adam", "mse")
model.fit(x_train, y_train, batch_size=2)
"""


def test_batchnorm_appended_or_made_on_one_path_only_is_not_claimed() -> None:
    appended = CONDITIONAL_BN.format(
        append="if use_bn:\n            self.ops.append(keras.layers.BatchNormalization())",
        in_call="")
    made = CONDITIONAL_BN.format(
        append="", in_call="if self.use_bn:\n            x = keras.layers.BatchNormalization()(x)")
    assert found(appended, "BN401") == []
    assert found(made, "BN401") == []
    always = CONDITIONAL_BN.format(
        append="self.ops.append(keras.layers.BatchNormalization())", in_call="")
    assert found(always, "BN401") == [27]
