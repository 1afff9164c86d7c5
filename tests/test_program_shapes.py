"""Whole programs in the shapes real fine-tuning code takes: classes that hold models on
``self``, training loops, helpers. Each test pins which rule reports what, and where."""

from __future__ import annotations

from bnlint.registry import all_rules
from bnlint.testing import lint_snippet

GAN_CLASS = """
from keras.layers import Input, Dense, BatchNormalization
from keras.models import Sequential, Model
from keras.optimizers import Adam

class GAN():
    def __init__(self):
        optimizer = Adam(0.0002, 0.5)
        self.discriminator = self.build_discriminator()
        self.discriminator.compile(loss="binary_crossentropy", optimizer=optimizer)
        self.generator = self.build_generator()
        z = Input(shape=(100,))
        img = self.generator(z)
        self.discriminator.trainable = False
        validity = self.discriminator(img)
        self.combined = Model(z, validity)
        self.combined.compile(loss="binary_crossentropy", optimizer=optimizer)

    def build_generator(self):
        model = Sequential()
        model.add(Dense(256, input_dim=100))
        model.add(BatchNormalization(momentum=0.8))
        model.add(Dense(784))
        noise = Input(shape=(100,))
        return Model(noise, model(noise))

    def build_discriminator(self):
        model = Sequential()
        model.add(Dense(512))
        model.add(Dense(1, activation="sigmoid"))
        img = Input(shape=(784,))
        return Model(img, model(img))

    def train(self, epochs):
        for epoch in range(epochs):
            self.discriminator.train_on_batch(imgs, valid)
            self.combined.train_on_batch(noise, valid)

if __name__ == "__main__":
    gan = GAN()
    gan.train(epochs=30000)
"""


def codes(code: str, target: str = "auto") -> list[tuple[str, int]]:
    return [(f.code, f.span.start.row) for f in lint_snippet(code, all_rules(), target)]


def test_gan_class_holding_models_on_self_is_bn209_under_keras3() -> None:
    found = codes(GAN_CLASS, "keras3")
    assert ("BN209", 14) in found
    assert not any(code == "BN203" for code, _ in found)


def test_gan_class_is_clean_under_tf_keras() -> None:
    assert [c for c in codes(GAN_CLASS, "tf-keras") if c[0].startswith("BN2")] == []


def test_gan_class_whose_driver_is_elsewhere_is_read_as_an_entry_point() -> None:
    program = GAN_CLASS.split('if __name__')[0]
    found = [f for f in lint_snippet(program, all_rules(), "keras3")
             if f.code in {"BN203", "BN209"}]
    assert [(f.code, f.span.start.row) for f in found] == [("BN209", 14)]
    assert "when `GAN.train` runs after `GAN.__init__`" in [r.message for r in found[0].related]


def test_unfreeze_in_a_helper_points_at_the_call() -> None:
    findings = lint_snippet("""
        import keras

        def unfreeze(model):
            model.trainable = True

        base = keras.applications.ResNet50(include_top=False, pooling="avg")
        base.trainable = False
        model = keras.Sequential([base, keras.layers.Dense(10)])
        model.compile(optimizer="adam", loss="mse")
        model.fit(x, y)
        unfreeze(base)
        model.compile(optimizer=keras.optimizers.Adam(1e-5), loss="mse")
        model.fit(x, y)
    """, all_rules(), "keras3")
    (bn201,) = [f for f in findings if f.code == "BN201"]
    assert bn201.span.start.row == 5
    (call,) = [note for note in bn201.related if "`unfreeze(...)` is called here" in note.message]
    assert call.span.start.row == 12
    rows = [note.span.start.row for note in bn201.related]
    assert rows == sorted(rows)  # the steps in program order


def test_training_in_a_helper_with_a_module_level_model() -> None:
    findings = lint_snippet("""
        import keras

        base = keras.applications.ResNet50(include_top=False, pooling="avg")
        base.trainable = False
        model = keras.Sequential([base, keras.layers.Dense(10)])

        def train(learning_rate, epochs):
            model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="mse")
            model.fit(x, y, epochs=epochs)

        train(1e-3, 5)
        base.trainable = True
        for layer in base.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.trainable = False
        train(1e-3, 10)
    """, all_rules(), "keras3")
    (bn204,) = [f for f in findings if f.code == "BN204"]
    assert bn204.span.start.row == 9  # the compile inside the helper
    calls = [note.span.start.row for note in bn204.related if "`train(...)`" in note.message]
    assert calls == [17]  # the call of the fine-tuning phase, not the first one
    assert not [f for f in findings if f.code in {"BN201", "BN202"}]  # BN layers kept frozen


def test_code_a_test_expects_to_raise_is_not_reported() -> None:
    code = """
import keras
import pytest

def test_rejects_string_trainable():
    with pytest.raises(ValueError):
        keras.layers.BatchNormalization(trainable="False")
    bn = keras.layers.BatchNormalization()
    bn.trainable = "False"
"""
    found = lint_snippet(code, list(all_rules()))
    assert [(f.code, f.span.start.row) for f in found] == [("BN103", 9)]


TRAINER = """
import keras

class Trainer:
    def __init__(self, model, base):
        self.model = model
        self.base = base

    def finetune(self, x, y):
        self.base.trainable = True
        self.model.fit(x, y)

base = keras.applications.ResNet50(include_top=False, pooling="avg")
base.trainable = False
model = keras.Sequential([base, keras.layers.Dense(10)])
model.compile(optimizer="adam", loss="mse")
trainer = Trainer(model, base)
"""


def test_a_method_nobody_calls_runs_on_the_instance_the_file_builds() -> None:
    # `finetune` is called from another file; the constructor's arguments come from
    # the instantiation here, so the unfreeze after compile() without a recompile holds
    found = [f for f in lint_snippet(TRAINER, all_rules(), "keras3") if f.code == "BN203"]
    assert [f.span.start.row for f in found] == [10]
    assert "when `Trainer.finetune` runs after `Trainer.__init__`" in [
        r.message for r in found[0].related]


def test_a_function_nobody_calls_is_read_on_its_own() -> None:
    code = """
import keras

def finetune(x, y):
    base = keras.applications.ResNet50(include_top=False, pooling="avg")
    base.trainable = False
    model = keras.Sequential([base, keras.layers.Dense(10)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y)
    base.trainable = True
    model.fit(x, y)
"""
    found = [f for f in lint_snippet(code, all_rules()) if f.code == "BN203"]
    assert [f.span.start.row for f in found] == [10]
    assert "when `finetune` runs" in [r.message for r in found[0].related]


def test_both_arms_on_a_default_of_a_function_nobody_calls_are_read() -> None:
    # `with_planes=False` is one value a caller may pass: the other arm is code that
    # runs for callers elsewhere, and its layers are checked as well
    code = """
from tensorflow.keras import layers
bn_mom = 0.1

def attention(x, with_planes=False):
    if with_planes:
        x = layers.BatchNormalization(momentum=bn_mom)(x)
    else:
        x = layers.BatchNormalization(momentum=0.9)(x)
    return x

def head(x, planes=64):
    if planes == 64:
        x = layers.BatchNormalization(momentum=bn_mom)(x)
    return x
"""
    found = [f.span.start.row for f in lint_snippet(code, all_rules()) if f.code == "BN402"]
    assert found == [7, 14]


def test_a_function_called_with_a_known_argument_runs_one_arm() -> None:
    code = """
import keras

def train(model, base, fine_tune=False):
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y)
    if fine_tune:
        base.trainable = True
        model.fit(x, y)

base = keras.applications.ResNet50(include_top=False, pooling="avg")
base.trainable = False
model = keras.Sequential([base, keras.layers.Dense(10)])
train(model, base, fine_tune={value})
"""
    def changed_after_compile(value: str) -> list[int]:
        return [f.span.start.row for f in lint_snippet(code.format(value=value), all_rules())
                if f.code == "BN203"]

    assert changed_after_compile("True") == [8]
    assert changed_after_compile("False") == []


def test_two_functions_nobody_calls_are_not_combined() -> None:
    # each runs after the module, not after the other: the freeze in one and the fit in
    # the other are no sequence
    code = """
import keras

base = keras.applications.ResNet50(include_top=False, pooling="avg")
model = keras.Sequential([base, keras.layers.Dense(10)])
model.compile(optimizer="adam", loss="mse")

def freeze():
    base.trainable = False

def train(x, y):
    model.fit(x, y)
"""
    assert [f.code for f in lint_snippet(code, all_rules()) if f.code.startswith("BN2")] == []


HEAD_ON_OUTPUT = """
import keras
base = keras.applications.ResNet50(include_top=False)
base.trainable = False
x = keras.layers.GlobalAveragePooling2D()(base.output)
x = keras.layers.Dense(64, activation="relu")(x)
outputs = keras.layers.Dense(10)(x)
model = keras.Model(base.input, outputs)
model.compile(optimizer="adam", loss="mse")
model.fit(x_train, y_train)
{selection}
    layer.trainable = True
model.compile(optimizer=keras.optimizers.Adam(1e-5), loss="mse")
model.fit(x_train, y_train)
"""


def test_an_index_loop_over_every_layer_is_an_unfreeze() -> None:
    code = HEAD_ON_OUTPUT.replace(
        "{selection}\n    layer.trainable = True",
        "for i in range(len(model.layers)):\n    model.layers[i].trainable = True")
    assert [f.code for f in lint_snippet(code, all_rules())
            if f.code == "BN201"] == ["BN201"]


def test_a_slice_that_covers_only_the_new_head_is_not_an_unfreeze() -> None:
    for selection in ("for layer in model.layers[len(base.layers):]:",
                      "for layer in model.layers[-3:]:"):
        code = HEAD_ON_OUTPUT.format(selection=selection)
        assert [f.code for f in lint_snippet(code, all_rules())
                if f.code in {"BN201", "BN204"}] == [], selection


def test_a_longer_tail_slice_reaches_into_the_base() -> None:
    code = HEAD_ON_OUTPUT.format(selection="for layer in model.layers[-30:]:")
    assert "BN201" in [f.code for f in lint_snippet(code, all_rules())]


DISPATCH = """
import keras

def resnet(classes):
    base = keras.applications.ResNet50(include_top=False, pooling="avg")
    return base, keras.Sequential([base, keras.layers.Dense(classes)])

def small(classes):
    return None, None

builders = {"resnet50": resnet, "small": small}
{mutation}
base, model = builders[{key}](10)
base.trainable = False
model.compile(optimizer="adam", loss="mse")
model.fit(x, y)
base.trainable = True
model.compile(optimizer=keras.optimizers.Adam(1e-5), loss="mse")
model.fit(x, y)
"""


def _dispatch(key: str, mutation: str = "") -> list[str]:
    code = DISPATCH.replace("{key}", key).replace("{mutation}", mutation)
    return [f.code for f in lint_snippet(code, all_rules()) if f.code == "BN201"]


def test_a_builder_chosen_from_a_dict_by_a_known_key_is_replayed() -> None:
    assert _dispatch('"resnet50"') == ["BN201"]
    assert _dispatch("backbone", mutation='backbone = "resnet50"') == ["BN201"]
    builders_updated = 'builders["resnet50"] = resnet'
    assert _dispatch('"resnet50"', mutation=builders_updated) == ["BN201"]


def test_a_builder_chosen_by_an_option_default_is_the_one_a_plain_run_takes() -> None:
    # `builders[args.backbone]` with `--backbone` defaulting to "resnet50": a run given
    # no options builds the ResNet (as its batches have the option's default size)
    option = ('import argparse\nparser = argparse.ArgumentParser()\n'
              'parser.add_argument("--backbone", default={default})\n'
              'args = parser.parse_args()')
    assert _dispatch("args.backbone", mutation=option.format(default='"resnet50"')) == [
        "BN201"]
    assert _dispatch("args.backbone", mutation=option.format(default='"small"')) == []
    flag = ('from absl import flags\nflags.DEFINE_string("backbone", "resnet50", "net")\n'
            'FLAGS = flags.FLAGS')
    assert _dispatch("FLAGS.backbone", mutation=flag) == ["BN201"]


def test_a_parameter_default_does_not_choose_the_builder() -> None:
    # in a function nobody calls, `name="resnet50"` is one value a caller may pass
    code = DISPATCH.replace("{key}", '"resnet50"').replace("{mutation}", "")
    body = code.split('base, model = builders["resnet50"](10)\n', 1)[1]
    function = 'def run(name="resnet50"):\n    base, model = builders[name](10)\n' + "".join(
        "    " + line + "\n" for line in body.splitlines())
    code = code.split('base, model = builders["resnet50"](10)\n', 1)[0] + function
    assert [f.code for f in lint_snippet(code, all_rules()) if f.code == "BN201"] == []


def test_a_dict_lookup_that_is_not_certain_stays_unknown() -> None:
    # another key, a key known only at run time, a dict changed in ways not followed
    assert _dispatch('"small"') == []
    assert _dispatch("sys.argv[1]", mutation="import sys") == []
    assert _dispatch('"resnet50"', mutation="builders.update(extra)") == []
    assert _dispatch('"resnet50"', mutation='if flag:\n    builders["resnet50"] = small') == []
    assert _dispatch('"resnet50"', mutation="builders[name] = small") == []


def test_a_model_is_named_as_the_code_that_trains_it_names_it() -> None:
    code = DISPATCH.replace("{key}", '"resnet50"').replace("{mutation}", "").replace(
        "base, model = builders", "backbone, classifier = builders").replace(
        "base.trainable", "backbone.trainable").replace("model.", "classifier.")
    (finding,) = [f for f in lint_snippet(code, all_rules()) if f.code == "BN201"]
    assert "`backbone`" in finding.message
    assert "`base`" not in finding.message


GRAPH_IN_INIT = """
from keras.layers import Input, Conv2D, BatchNormalization, Activation
from keras.models import Model


def conv_bn(x, filters):
    x = Conv2D(filters, 3, padding="same")(x)
    x = BatchNormalization()(x)
    return Activation("relu")(x)


class UNet(Model):
    def __init__(self, size):
        inputs = Input((size, size, 1))
        outputs = Conv2D(1, 1)(conv_bn(conv_bn(inputs, 16), 32))
        super(UNet, self).__init__(inputs=inputs, outputs=outputs)

    def build(self):
        self.compile(optimizer="adam", loss="binary_crossentropy")


unet = UNet(256)
unet.build()
{freeze}
unet.fit(images, masks, batch_size=2)
"""


def test_a_model_subclass_that_builds_its_graph_in_init_holds_its_layers() -> None:
    # `super().__init__(inputs=..., outputs=...)`: the graph's BN layers are the model's
    assert codes(GRAPH_IN_INIT.format(freeze=""), "tf-keras") == [("BN401", 25)]
    frozen = GRAPH_IN_INIT.format(freeze="""
for layer in unet.layers:
    if isinstance(layer, BatchNormalization):
        layer.trainable = False
""")
    assert not any(code == "BN401" for code, _ in codes(frozen, "tf-keras"))


FEATURES_OF_A_BASE = """
import tensorflow as tf
from tensorflow.keras import layers

base = tf.keras.applications.ResNet50(include_top=False, weights="imagenet",
                                      input_shape=(256, 256, 3))
{freeze}
features = base.get_layer("conv4_block6_out").output
x = layers.Conv2D(1, 1)(features)
model = tf.keras.Model(inputs=base.input, outputs=x)
model.compile("adam", "binary_crossentropy")
model.fit(images, masks, batch_size=1)
"""


def test_a_model_on_an_inner_layers_output_holds_the_base() -> None:
    # the model built on `get_layer(...).output` runs the base's BN layers
    found = codes(FEATURES_OF_A_BASE.format(freeze=""), "tf-keras")
    assert [item for item in found if item[0] == "BN401"] == [("BN401", 12)]
    frozen = FEATURES_OF_A_BASE.format(freeze="base.trainable = False")
    assert codes(frozen, "tf-keras") == []


REFREEZE_ALL_BUT_LAST = """
import tensorflow as tf
from tensorflow.keras import layers

base = tf.keras.applications.ResNet50(include_top=False, weights="imagenet",
                                      input_shape=(224, 224, 3))
base.trainable = False
x = layers.GlobalAveragePooling2D()(base.output)
x = layers.Dense(64, activation="relu")(x)
x = layers.Dropout(0.2)(x)
outputs = layers.Dense(3, activation="softmax")(x)
model = tf.keras.Model(inputs=base.input, outputs=outputs)
model.compile(optimizer="adam", loss="categorical_crossentropy")
model.fit(train_ds, epochs=5)
model.trainable = True
for layer in model.layers[:-{tail}]:
    layer.trainable = False
model.compile(optimizer=tf.keras.optimizers.Adam(1e-5), loss="categorical_crossentropy")
model.fit(train_ds, epochs=5)
"""


def test_refreezing_all_but_the_last_layers_of_a_model_on_a_base() -> None:
    # the last 20 layers are the 4 of the head and 16 of ResNet50, BN among them
    found = codes(REFREEZE_ALL_BUT_LAST.format(tail=20), "tf-keras")
    assert ("BN201", 15) in found
    # the last 4 are the head alone: every BN layer of the base is frozen again
    found = codes(REFREEZE_ALL_BUT_LAST.format(tail=4), "tf-keras")
    assert not any(code == "BN201" for code, _ in found)


TOGGLE_WITH_A_TYPO = """
from keras.layers import Input, Dense, BatchNormalization
from keras.models import Sequential, Model

dis = Sequential([Dense(8), BatchNormalization(), Dense(1)])
gen = Sequential([Dense(8), Dense(4)])
dis.trainable = False
gan = Model(z, dis(gen(z)))
gan.compile(optimizer="adam", loss="mse")
dis.trainable = True
dis.compile(optimizer="adam", loss="mse")
for step in range(100):
    dis.train_on_batch(x, y)
    dis.{freeze} = False
    gan.train_on_batch(z_batch, y)
    dis.trainable = True
"""


def test_setting_the_flag_it_already_holds_in_a_loop_changes_nothing() -> None:
    # with the typo, `dis.trainable` is True all along: `= True` in the loop is no change
    typo = codes(TOGGLE_WITH_A_TYPO.format(freeze="trainable128"), "tf-keras")
    assert not any(code == "BN203" for code, _ in typo)


GENERATOR_SHAPES = """
import numpy as np
from tensorflow import keras


class Batches:
    def __init__(self, paths, batch_size):
        self.paths = paths
        self.batch_size = batch_size

    def generate_batch(self):
        while True:
            yield np.zeros((self.batch_size, 8)), np.zeros((self.batch_size, 1))


def data_generator(path, b_size, mode):
    while True:
        yield np.zeros((b_size, 8)), np.zeros((b_size, 1))


model = keras.Sequential([keras.layers.Dense(16), keras.layers.BatchNormalization(),
                          keras.layers.Dense(1)])
model.compile("adam", "mse")
loader = Batches(paths, batch_size={method})
model.fit(loader.generate_batch(), steps_per_epoch=10)
model.fit(data_generator("data.h5", {function}, "train"), steps_per_epoch=10)
"""


def test_batches_of_a_generator_method_and_of_a_b_size_parameter() -> None:
    # reported where the number is written: the constructor's and the call's argument
    assert codes(GENERATOR_SHAPES.format(method=1, function=3), "tf-keras") == [
        ("BN401", 24), ("BN401", 26)]
    assert codes(GENERATOR_SHAPES.format(method=32, function=64), "tf-keras") == []


DATASET_HELPER = """
import tensorflow as tf


def tf_dataset(x, y, batch=32):
    dataset = tf.data.Dataset.from_tensor_slices((x, y))
    dataset = dataset.batch(batch)
    return dataset.prefetch(10)


model = tf.keras.Sequential([tf.keras.layers.Dense(8), tf.keras.layers.BatchNormalization(),
                             tf.keras.layers.Dense(1)])
model.compile("adam", "mse")
batch_size = 2
train = tf_dataset(features, targets, batch=batch_size)
model.fit(train, epochs=5)
"""


def test_a_pipeline_built_by_a_helper_is_reported_at_the_call_that_sizes_it() -> None:
    # the helper's `.batch(batch)` only passes the size on: the user sets it at line 15
    assert codes(DATASET_HELPER, "tf-keras") == [("BN401", 15)]
    assert codes(DATASET_HELPER.replace("batch_size = 2", "batch_size = 64"), "tf-keras") == []


BUILDER_BY_NAME = """
from keras.engine import Layer
from keras.layers import Input, Conv2D, BatchNormalization, Activation
from keras.models import Model

class Resize(Layer):
    def __init__(self, size, **kwargs):
        super(Resize, self).__init__(**kwargs)
        self.size = size

    def call(self, inputs):
        return resize(inputs, self.size)

def segnet(shape):
    inputs = Input(shape)
    x = Resize((64, 64))(BatchNormalization()(Conv2D(8, 3)(inputs)))
    return Model(inputs, Activation("softmax")(Conv2D(2, 1)(x)))

def build(name, shape):
    name = name.{method}()
    if name == "segnet":
        model = segnet(shape)
    else:
        inputs = Input(shape)
        model = Model(inputs, Conv2D(2, 1)(inputs))
    return model

model = build("{name}", (64, 64, 3))
model.compile("adam", "mse")
model.fit(x, y, batch_size=2)
"""


def test_a_builder_picked_by_a_normalised_name_through_a_keras2_custom_layer() -> None:
    # `name.lower()` decides the `if`; a subclass of Keras 2's `keras.engine.Layer`
    # passes the graph on, so the fitted model is known to hold BN
    assert ("BN401", 30) in codes(BUILDER_BY_NAME.format(method="lower", name="SegNet"))
    assert codes(BUILDER_BY_NAME.format(method="lower", name="UNet")) == []


PYRAMID_HEADS = """
from tensorflow import keras
from tensorflow.keras import layers

def backbone(inputs):
    x = layers.Conv2D(8, 3)(inputs)
    c3 = layers.BatchNormalization()(x)
    return c3, layers.MaxPooling2D()(c3)

def head(name):
    inputs = keras.Input(shape=(None, None, 8))
    return keras.Model(inputs, layers.Conv2D(4, 1)(inputs), name=name)

def build_pyramid(models, features):
    return [layers.Concatenate(axis=1)([model(f) for f in features]) for name, model in models]

inputs = keras.Input(shape=(64, 64, 3))
features = backbone(inputs)
model = keras.Model(inputs, build_pyramid({models}, features))
model.compile("adam", "mse")
model.fit(x, y, batch_size=2)
"""


def test_list_comprehensions_over_known_lists_build_the_graph_item_by_item() -> None:
    # the model's outputs come from comprehensions over the heads and the feature maps
    # of a backbone with BN: the fitted model holds that BN
    assert ("BN401", 21) in codes(PYRAMID_HEADS.format(
        models='[("regression", head("r")), ("classification", head("c"))]'))
    # over a list nobody knows, the outputs stay unknown, and so does the BN
    assert codes(PYRAMID_HEADS.format(models="load_heads()")) == []


UNFREEZE_LAST_N = """
import tensorflow as tf
from tensorflow.keras.applications import EfficientNetB0

def unfreeze_last(model, n):
    for layer in model.layers:
        layer.trainable = False
    total = len(model.layers)
    start = max(0, total - n)
    for i in range(start, total):
        model.layers[i].trainable = True

base = EfficientNetB0(include_top=False, weights="imagenet", pooling="avg")
model = tf.keras.Model(base.input, tf.keras.layers.Dense(2)(base.output))
unfreeze_last(model, {n})
model.compile(optimizer=tf.keras.optimizers.Adam(1e-5), loss="mse")
model.fit(x, y, epochs=3)
"""


def test_an_index_loop_over_the_last_n_layers_unfreezes_their_bn() -> None:
    # `range(max(0, total - n), total)` is the last n layers: 50 reach into the base
    assert ("BN201", 11) in codes(UNFREEZE_LAST_N.format(n=50), "tf-keras")
    # the last one is the new head's Dense only
    assert [c for c in codes(UNFREEZE_LAST_N.format(n=1), "tf-keras") if c[0] == "BN201"] == []


BUILDERS_IN_A_LOOP = """
import tensorflow as tf
from tensorflow.keras.applications import MobileNetV2, ResNet50


def build(base_fn):
    base = base_fn(weights="imagenet", include_top=False, pooling="avg")
    base.trainable = False
    out = tf.keras.layers.Dense(1)(base.output)
    return tf.keras.Model(base.input, out), base


for base_fn, name in [(ResNet50, "resnet"), (MobileNetV2, "mobilenet")]:
    model, base = build(base_fn)
    model.compile(optimizer="adam", loss="mse")
    model.fit(train_ds, epochs=5)
    base.trainable = True
{refreeze}
    model.compile(optimizer=tf.keras.optimizers.Adam(1e-5), loss="mse")
    model.fit(train_ds, epochs=5)
"""


def test_a_loop_over_a_list_of_builders_builds_each_model() -> None:
    assert [row for code, row in codes(BUILDERS_IN_A_LOOP.format(refreeze=""))
            if code == "BN201"] == [17]


def test_a_loop_over_builders_that_refreezes_batchnorm_stays_clean() -> None:
    refreeze = ("    for layer in base.layers:\n"
                "        if isinstance(layer, tf.keras.layers.BatchNormalization):\n"
                "            layer.trainable = False")
    assert [code for code, _ in codes(BUILDERS_IN_A_LOOP.format(refreeze=refreeze))
            if code.startswith("BN2")] == []


OWN_CHECKPOINT = """
import tensorflow as tf

PATH = "weights/d.h5"
model = tf.keras.Sequential([tf.keras.layers.Dense(8), tf.keras.layers.BatchNormalization(),
                             tf.keras.layers.Dense(1)])
model.load_weights({loaded})
model.trainable = False
model.compile("adam", "mse")
model.fit(x, y)
model.trainable = True
model.compile(tf.keras.optimizers.Adam(1e-5), "mse")
model.fit(x, y, callbacks=[{callback}])
{saved}
"""


def _own_checkpoint(loaded: str, saved: str = "", callback: str = "") -> list[str]:
    code = OWN_CHECKPOINT.format(loaded=loaded, saved=saved, callback=callback)
    return [f.code for f in lint_snippet(code, all_rules()) if f.code == "BN201"]


def test_weights_the_program_saves_itself_are_not_pretrained() -> None:
    # a resumed run reloads its own checkpoint: its BN statistics are its own training's,
    # which unfreezing goes on training (a GAN's discriminator, set 22 b)
    assert _own_checkpoint("PATH", saved="model.save_weights(PATH)") == []
    assert _own_checkpoint("PATH", callback="tf.keras.callbacks.ModelCheckpoint(PATH)") == []
    assert _own_checkpoint("PATH", callback="tf.keras.callbacks.ModelCheckpoint("
                           "filepath=PATH, save_weights_only=True)") == []
    # weights from elsewhere are pretrained, whatever the program saves
    assert _own_checkpoint('"pretrained.h5"', saved="model.save_weights(PATH)") == ["BN201"]
    assert _own_checkpoint("PATH") == ["BN201"]


def test_a_value_keyed_by_an_option_default_decides_nothing() -> None:
    # `{"linear": False, "full": True}[args.mode]` is what the default run uses, but a
    # run may pass another option: the user's own guard on it is not taken as skipped
    code = """
import argparse
import tensorflow as tf
parser = argparse.ArgumentParser()
parser.add_argument("--mode", default="full", choices=["linear", "full"])
args = parser.parse_args()
REFREEZE_BN = {"linear": True, "full": False}[args.mode]
base = tf.keras.applications.ResNet50(include_top=False, pooling="avg")
base.trainable = False
model = tf.keras.Sequential([base, tf.keras.layers.Dense(10)])
model.compile("adam", "mse")
model.fit(x, y)
base.trainable = True
if REFREEZE_BN:
    for layer in base.layers:
        if isinstance(layer, tf.keras.layers.BatchNormalization):
            layer.trainable = False
model.compile(tf.keras.optimizers.Adam(1e-5), "mse")
model.fit(x, y)
"""
    assert [f.code for f in lint_snippet(code, all_rules()) if f.code == "BN201"] == []


def test_a_path_written_alike_but_meaning_another_file_is_no_own_checkpoint() -> None:
    # the text of the path is the same, its value is not: a parameter of the loading
    # and of the saving helper, a name bound twice, a loop variable
    helpers = """
def load_pretrained(model, weights_path):
    model.load_weights(weights_path)

def export(model, weights_path):
    model.save_weights(weights_path)
"""
    code = OWN_CHECKPOINT.format(loaded="PATH", saved="", callback="").replace(
        "model.load_weights(PATH)", 'load_pretrained(model, "pretrained/imagenet.h5")')
    code = code.replace('PATH = "weights/d.h5"', helpers) + (
        'export(model, "out/finetuned.h5")\n')
    assert [f.code for f in lint_snippet(code, all_rules()) if f.code == "BN201"] == [
        "BN201"]
    rebound = OWN_CHECKPOINT.format(loaded="path", callback="", saved=(
        'path = "out/finetuned.h5"\nmodel.save_weights(path)')).replace(
        'PATH = "weights/d.h5"', 'path = "pretrained/imagenet.h5"')
    assert [f.code for f in lint_snippet(rebound, all_rules()) if f.code == "BN201"] == [
        "BN201"]


def test_a_checkpoint_path_given_by_keyword_is_the_programs_own() -> None:
    assert _own_checkpoint("filepath=PATH", saved="model.save_weights(filepath=PATH)") == []


# --- a batch-norm subclass builds its layer through `super().__init__(...)` ---------------

SUBCLASS_CONSTRUCTOR = """
import keras


class GroupedBatchNorm(keras.layers.BatchNormalization):
    def __init__(self, groups=2, **kwargs):
        super().__init__({arguments}**kwargs)
        self.groups = groups


class SyncedGroupedBatchNorm(GroupedBatchNorm):
    def __init__(self, **kwargs):
        super(SyncedGroupedBatchNorm, self).__init__(groups=4, {arguments}**kwargs)
"""


def test_super_constructor_arguments_of_a_batch_norm_subclass_are_the_layers() -> None:
    flagged = SUBCLASS_CONSTRUCTOR.format(arguments="fused=False, momentum=0.1, ")
    assert codes(flagged, target="keras3") == [
        ("BN305", 7), ("BN402", 7), ("BN305", 13), ("BN402", 13)]
    # tf-keras still has `fused=`; the momentum is wrong in every Keras
    assert codes(flagged, target="tf-keras") == [("BN402", 7), ("BN402", 13)]
    assert codes(SUBCLASS_CONSTRUCTOR.format(arguments="momentum=0.9, "),
                 target="keras3") == []


def test_super_constructor_of_a_class_that_is_not_batch_norm_is_not_a_layer() -> None:
    code = """
import keras


class Block(keras.layers.Layer):
    def __init__(self, momentum=0.1, **kwargs):
        super().__init__(fused=False, momentum=momentum, **kwargs)
        self.bn = keras.layers.BatchNormalization(momentum=0.99)
"""
    assert codes(code, target="keras3") == []


# --- `for i, layer in enumerate(base.layers)` is a loop over the layers -------------------

ENUMERATED_UNFREEZE = """
from keras.applications import EfficientNetB0
from keras.layers import BatchNormalization, Dense, GlobalAveragePooling2D
from keras.models import Model

base = EfficientNetB0(weights="imagenet", include_top=False)
base.trainable = False
model = Model(base.input, Dense(7)(GlobalAveragePooling2D()(base.output)))
model.compile("adam", "mse")
model.fit(x, y)
base.trainable = True
for i, layer in enumerate(base.layers):
{body}
model.compile(keras.optimizers.Adam(1e-5), "mse")
model.fit(x, y)
"""


def test_an_enumerated_loop_that_refreezes_batch_norm_is_understood() -> None:
    refreeze = """\
    if isinstance(layer, BatchNormalization):
        layer.trainable = False"""
    assert [c for c in codes(ENUMERATED_UNFREEZE.format(body=refreeze))
            if c[0] == "BN201"] == []
    nothing = "    print(i, layer.name)"
    assert [c for c in codes(ENUMERATED_UNFREEZE.format(body=nothing))
            if c[0] == "BN201"] == [("BN201", 11)]
    every = "    layer.trainable = True"
    assert [c for c in codes(ENUMERATED_UNFREEZE.format(body=every))
            if c[0] == "BN201"] == [("BN201", 13)]


# --- `if i < n:` on the counter of an enumerated layer loop splits the layers ------------

POSITION_SPLIT = """
import tensorflow as tf

base = tf.keras.applications.MobileNetV2(input_shape=(160, 160, 3), include_top=False,
                                         weights="imagenet")
base.trainable = False
x = tf.keras.layers.GlobalAveragePooling2D()(base.output)
model = tf.keras.Model(base.input, tf.keras.layers.Dense(1)(x))
model.compile(optimizer=tf.keras.optimizers.Adam(1e-3), loss="bce")
model.fit(train_dataset, epochs=10)
base.trainable = True
for i, layer in enumerate(base.layers):
    if {test}:
        layer.trainable = False
model.compile(optimizer=tf.keras.optimizers.RMSprop(1e-5), loss="bce")
model.fit(train_dataset, epochs=20)
"""


def test_a_position_test_on_the_enumerated_counter_selects_a_slice() -> None:
    # from layer 100 on (BN included) the base trains, as with `base.layers[:100]`
    assert codes(POSITION_SPLIT.format(test="i < 100")) == [("BN201", 11)]
    assert codes(POSITION_SPLIT.format(test="not i >= 100")) == [("BN201", 11)]
    # all but the last layer (the final ReLU) stay frozen: no BN is unfrozen
    assert codes(POSITION_SPLIT.format(test="i < len(base.layers) - 1")) == []
    # a bound nobody can read leaves the loop as unknown as before
    assert codes(POSITION_SPLIT.format(test="i < cutoff")) == []


def test_an_arm_that_leaves_the_loop_body_leaves_the_rest_to_the_other_part() -> None:
    # `if i < 100: continue` then an unfreeze: only `layers[100:]` (BN included) unfreeze
    loop = POSITION_SPLIT.replace("        layer.trainable = False\n", "        continue\n"
                                  "    layer.trainable = False\n")
    assert codes(loop.format(test="i >= 100")) == [("BN201", 11)]
    assert codes(loop.format(test="i < len(base.layers) - 1")) == []
    broken = POSITION_SPLIT.replace("        layer.trainable = False\n", "        break\n"
                                    "    layer.trainable = False\n")
    assert codes(broken.format(test="i >= 100")) == [("BN201", 11)]


def test_position_tests_written_the_other_way_round_or_counted_from_one() -> None:
    assert codes(POSITION_SPLIT.format(test="100 > i")) == [("BN201", 11)]
    counted = POSITION_SPLIT.replace("enumerate(base.layers)", "enumerate(base.layers, 1)")
    # from 1, `i < len(base.layers)` freezes all but the final ReLU
    assert codes(counted.format(test="i < len(base.layers)")) == []
    assert codes(counted.format(test="i < 100")) == [("BN201", 11)]
    in_a_bar = ENUMERATED_UNFREEZE.replace("enumerate(base.layers)",
                                           "tqdm(enumerate(base.layers, start=0))")
    refreeze = """\
    if isinstance(layer, BatchNormalization):
        layer.trainable = False"""
    assert [c for c in codes("from tqdm import tqdm\n" + in_a_bar.format(body=refreeze))
            if c[0] == "BN201"] == []


def test_a_batch_norm_subclass_frozen_by_its_constructor_is_frozen() -> None:
    code = """
import keras
from keras import layers


class FrozenBN(layers.BatchNormalization):
    def __init__(self, **kwargs):
        super().__init__(trainable=False, **kwargs)


model = keras.Sequential([layers.Dense(4), FrozenBN(), layers.Dense(1)])
model.compile("adam", "mse")
model.fit(x, y, batch_size=1)
"""
    assert [c for c in codes(code) if c[0] == "BN401"] == []
    assert [c for c in codes(code.replace("trainable=False, ", "")) if c[0] == "BN401"] == [
        ("BN401", 13)]


BACKBONE_WITH_MIXIN = """
import tensorflow as tf
from tensorflow.keras import layers


class LoggingMixin:
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.history = []


class Backbone(tf.keras.Model):
    def __init__(self, use_bn=True):
        super().__init__()
        self.conv = layers.Conv2D(16, 3)
        self.norm = layers.BatchNormalization() if use_bn else layers.LayerNormalization()

    def call(self, x, training=None):
        return self.norm(self.conv(x), training=training)


class {name}({bases}):
    def __init__(self):
        super().__init__(use_bn=True)


model = {name}()
opt = tf.keras.optimizers.Adam()
with tf.GradientTape() as tape:
    loss = tf.reduce_mean(model(x))
grads = tape.gradient(loss, model.trainable_variables)
opt.apply_gradients(zip(grads, model.trainable_variables))
"""


def test_super_follows_the_method_resolution_order_of_the_instance() -> None:
    # `super().__init__` in the mixin runs `Backbone.__init__` (the next class of
    # `Net`'s MRO), which builds the BatchNormalization the step runs in inference mode
    for bases in ("LoggingMixin, Backbone", "Backbone"):
        code = BACKBONE_WITH_MIXIN.format(name="Net", bases=bases)
        found = [f for f in lint_snippet(code, list(all_rules())) if f.code == "BN107"]
        assert [f.span.start.row for f in found] == [30]


def test_a_child_named_as_its_parent_runs_the_parents_method() -> None:
    # `class Net(base.Net)` spelt in one file: the parent builds a functional graph with
    # `super().__init__(inputs=..., outputs=...)`, which must not run the parent again
    code = """
import tensorflow as tf
from tensorflow.keras import layers


class Net(tf.keras.Model):
    def __init__(self, use_bn=True):
        inputs = tf.keras.Input((32, 32, 3))
        x = layers.Conv2D(16, 3)(inputs)
        if use_bn:
            x = layers.BatchNormalization()(x)
        outputs = layers.Dense(10)(layers.GlobalAveragePooling2D()(x))
        super().__init__(inputs=inputs, outputs=outputs)


_Base = Net


class Net(_Base):
    def __init__(self):
        super().__init__(use_bn=True)


model = Net()
opt = tf.keras.optimizers.Adam()
with tf.GradientTape() as tape:
    loss = tf.reduce_mean(model(x))
grads = tape.gradient(loss, model.trainable_variables)
opt.apply_gradients(zip(grads, model.trainable_variables))
"""
    found = [f for f in lint_snippet(code, list(all_rules())) if f.code == "BN107"]
    assert [f.span.start.row for f in found] == [27]
