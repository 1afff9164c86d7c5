"""Shapes of real code whose meaning the semantic model must get exactly: the
"set_trainable flag" loop, `trainable = "<string>"`, helpers whose `training`
parameter defaults to True, batches of one, torch-backend train steps, and where a
compile inside a shared helper is reported."""

from __future__ import annotations

import textwrap

import libcst as cst

from bnlint.finding import Finding
from bnlint.registry import rule_by_code
from bnlint.semantic import workflow as wf
from bnlint.semantic.build import build_model
from bnlint.semantic.model import SemanticModel
from bnlint.semantic.values import Layer, LayerSelection
from bnlint.testing import lint_snippet


def model_of(code: str) -> SemanticModel:
    return build_model(cst.parse_module(textwrap.dedent(code)))


def findings(code: str, *codes: str, target: str = "auto") -> list[Finding]:
    rules = [rule_by_code(code) for code in codes]
    return lint_snippet(code, [rule for rule in rules if rule is not None], target)


FLAG_LOOP = """
from tensorflow import keras
conv_base = keras.applications.ResNet50(include_top=False, pooling="avg")
for layer in conv_base.layers:
    layer.trainable = False
model = keras.Sequential([conv_base, keras.layers.Dense(1)])
model.compile(optimizer="adam", loss="mse")
model.fit(x, y)
set_trainable = False
for layer in conv_base.layers:
    if layer.name == "conv5_block1_1_conv":
        set_trainable = True
    if set_trainable:
        layer.trainable = True
    else:
        layer.trainable = False
model.compile(optimizer="adam", loss="mse")
model.fit(x, y)
"""


def test_flag_loop_unfreezes_a_tail_and_refreezes_a_head() -> None:
    model = model_of(FLAG_LOOP)
    loop = [event for event in model.events_of("set_trainable")
            if isinstance(event.target, LayerSelection) and event.target.anchor != "none"]
    assert [(event.target.anchor, event.value.value) for event in loop  # type: ignore[union-attr]
            ] == [("tail", True), ("head", False)]
    assert all(event.context.definite for event in loop)
    base = next(layer for layer in model.layers if layer.label == "conv_base")
    assert wf.unfreezes(loop[0], base) and not wf.freezes(loop[1], base)
    fit = list(model.events_of("fit"))[-1]
    # which BN layers the tail holds is unknown
    assert wf.bn_trainable_at(fit, base) is None


def test_flag_loop_is_not_a_latch_when_the_flag_is_reset() -> None:
    code = FLAG_LOOP.replace("        set_trainable = True\n",
                             "        set_trainable = True\n    else:\n"
                             "        set_trainable = False\n", 1)
    model = model_of(code)
    assert not any(isinstance(event.target, LayerSelection) and event.target.anchor != "none"
                   for event in model.events_of("set_trainable"))


def test_string_trainable_reads_as_its_truth_value() -> None:
    model = model_of("""
        import keras
        bn = keras.layers.BatchNormalization()
        bn.trainable = False
        bn.trainable = "False"
    """)
    bn = next(layer for layer in model.layers if layer.label == "bn")
    assert bn.trainable is True


def test_helper_training_default_is_recorded_in_the_graph() -> None:
    model = model_of("""
        from tensorflow.keras.layers import BatchNormalization, Dense, Input
        from tensorflow.keras.models import Model
        def block(x, training=True):
            return BatchNormalization()(x, training=training)
        inputs = Input((4,))
        a = block(inputs)
        b = block(inputs, training=False)
        model = Model(inputs, Dense(1)(a))
    """)
    calls = [event for event in model.events_of("call")
             if isinstance(event.target, Layer) and event.target.is_bn]
    assert [event.training for event in calls] == ["true", "false"]


def test_training_parameter_of_a_call_method_still_forwards() -> None:
    model = model_of("""
        import keras
        class Net(keras.Model):
            def __init__(self):
                super().__init__()
                self.bn = keras.layers.BatchNormalization()
            def call(self, x, training=False):
                return self.bn(x, training=training)
        net = Net()
    """)
    calls = [event for event in model.events_of("call")
             if isinstance(event.target, Layer) and event.target.is_bn]
    assert calls and all(event.forwards_training for event in calls)


def test_batch_of_one_is_reported_where_it_is_made() -> None:
    found = findings("""
        import numpy as np
        import tensorflow as tf
        model = tf.keras.Sequential([tf.keras.layers.Dense(8),
                                     tf.keras.layers.BatchNormalization()])
        model.compile("adam", "mse")
        x = np.expand_dims(image, 0)
        model.train_on_batch(x, label)
    """, "BN401")
    assert [(finding.span.start.row, finding.severity) for finding in found] == [
        (7, "warning")]


def test_compile_in_a_shared_helper_is_reported_at_the_call_choosing_the_optimizer() -> None:
    found = findings("""
        from tensorflow import keras
        class Trainer:
            def __init__(self, model, optimizer):
                self.model = model
                self.model.compile(loss="mse", optimizer=optimizer)
            def train(self, x, y):
                self.model.fit(x, y)
        base = keras.applications.ResNet50(include_top=False, pooling="avg")
        base.trainable = False
        model = keras.Sequential([base, keras.layers.Dense(1)])
        Trainer(model, keras.optimizers.Adam(1e-3)).train(x, y)
        base.trainable = True
        Trainer(model, keras.optimizers.Adam(1e-3)).train(x, y)
    """, "BN204")
    assert [finding.span.start.row for finding in found] == [14]


GAN_CLASS = """
import os
import keras
from keras.layers import BatchNormalization, Dense, Input
from keras.models import Model, Sequential, load_model

class GAN:
    def build_discriminator(self):
        model = Sequential([Dense(8), BatchNormalization(), Dense(1)])
        img = Input((4,))
        return Model(img, model(img))

    def build_generator(self):
        model = Sequential([Dense(8), Dense(4)])
        noise = Input((2,))
        return Model(noise, model(noise))

    def build(self):
        if os.path.exists(self.path):
            self.discriminator = load_model(self.path)
            self.generator = load_model(self.path)
        else:
            self.discriminator = self.build_discriminator()
            self.discriminator.compile(loss="binary_crossentropy", optimizer="adam")
            self.generator = self.build_generator()
        z = Input((2,))
        self.discriminator.trainable = False
        self.combined = Model(z, self.discriminator(self.generator(z)))
        self.combined.compile(loss="binary_crossentropy", optimizer="adam")

    def train(self, x):
        self.build()
        for step in range(10):
            self.combined.train_on_batch(noise, ones)
            self.discriminator.train_on_batch(x, ones)

gan = GAN()
if args.train:
    gan.train(x)
"""


def test_attributes_set_on_a_decided_path_are_known() -> None:
    # on the path where `os.path.exists(...)` is false, `self.discriminator` is the model
    # just built: its compile and the combined model's are the recipe's, not unknown models
    assert findings(GAN_CLASS, "BN203", target="tf-keras") == []
    assert findings(GAN_CLASS, "BN203") == []


def test_gan_toggle_reports_the_half_that_differs_from_the_compiled_state() -> None:
    # the combined model was compiled with D trainable: setting D trainable again
    # restores that state; setting it False afterwards is what the combined model's next
    # step ignores (tf-keras)
    found = findings("""
        from tensorflow import keras
        from tensorflow.keras import layers
        d = keras.Sequential([layers.Dense(8), layers.BatchNormalization(), layers.Dense(1)])
        g = keras.Sequential([layers.Dense(8), layers.Dense(4)])
        d.compile("adam", "binary_crossentropy")
        z = keras.Input((4,))
        gan = keras.Model(z, d(g(z)))
        gan.compile("adam", "binary_crossentropy")
        d.trainable = True
        d.train_on_batch(x, y)
        d.trainable = False
        gan.train_on_batch(noise, y)
        """, "BN203", target="tf-keras")
    assert [finding.span.start.row for finding in found] == [12]


CRITIC_IN_A_GAN = """
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

    def {step}(self, data):
        return self.{runs}(data[0])

gan = GAN(graph, tf.keras.Sequential([L.Conv2D(1, 3, padding="same")]))
gan.compile(optimizer="adam", loss="mse")
gan.fit(pairs, epochs=2)
gan.{inference}(test_pairs)
"""


def test_inference_runs_the_models_own_step() -> None:
    # the critic graph hard-codes training=True: evaluate/predict reach it through the
    # model's call(), but not through a test_step/predict_step that leaves it out
    def rows(step: str, runs: str, inference: str) -> list[int]:
        code = CRITIC_IN_A_GAN.format(step=step, runs=runs, inference=inference)
        return [finding.span.start.row for finding in findings(code, "BN108")]

    assert rows("call", "graph", "evaluate") == [8]
    assert rows("call", "graph", "predict") == [8]
    assert rows("test_step", "generator", "evaluate") == []
    assert rows("predict_step", "generator", "predict") == []
    # a test_step does not decide what predict runs, nor predict_step what evaluate runs
    assert rows("test_step", "generator", "predict") == [8]
    assert rows("predict_step", "generator", "evaluate") == [8]


BASE_CALLED_WITH_A_NAME = """
import tensorflow as tf
training = {value}
base = tf.keras.applications.DenseNet201(include_top=False, weights="imagenet", pooling="avg")

def make(base_model):
    base_model.trainable = False
    inputs = tf.keras.Input((224, 224, 3))
    x = base_model(inputs, training={argument})
    model = tf.keras.Model(inputs, tf.keras.layers.Dense(1)(x))
    model.compile(optimizer="adam", loss="mse")
    return model

model = make(base)
model.fit(x, y)
base.trainable = True
model.compile(optimizer=tf.keras.optimizers.Adam(1e-5), loss="mse")
model.fit(x, y)
"""


def test_a_module_constant_passed_as_training_is_its_value() -> None:
    def codes(value: str, argument: str = "training") -> list[str]:
        code = BASE_CALLED_WITH_A_NAME.format(value=value, argument=argument)
        return [finding.code for finding in findings(code, "BN201", target="tf-keras")]

    # `training = False` at module level reads as `training=False` written in the call
    assert codes("False") == codes("False", argument="False") == []
    # a value the replay does not know is no `training=False`
    assert codes("flags.training") == ["BN201"]


TOP_TRAINED_FROM_THE_START = """
import tensorflow as tf
base = tf.keras.applications.ResNet50V2(include_top=False, weights="imagenet")
for layer in base.layers[:150]:
    layer.trainable = False
for layer in base.layers[{start}:]:
    layer.trainable = True
inputs = tf.keras.Input((224, 224, 3))
x = base(inputs, training=False)
model = tf.keras.Model(inputs, tf.keras.layers.Dense(6)(x))
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
model.fit(train, epochs=5)
"""


def test_setting_trainable_on_layers_never_frozen_is_no_unfreeze() -> None:
    def rows(start: int) -> list[int]:
        code = TOP_TRAINED_FROM_THE_START.format(start=start)
        return [finding.span.start.row for finding in findings(code, "BN204", target="tf-keras")]

    # layers 150 on were never frozen: the model fine-tunes its top from the start
    assert rows(150) == []
    assert rows(200) == []
    # layers 100-149 were frozen a statement before: that part is unfrozen
    assert rows(100) == [11]
