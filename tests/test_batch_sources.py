"""Where a training batch's size comes from when no `fit(batch_size=...)` says it: label
arrays made from the batch size, datasets iterated by a custom training loop, and the
training steps those loops call. Each test pins what BN401 reports, and where."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bnlint.registry import all_rules
from bnlint.testing import lint_snippet


def tiny_batches(code: str) -> list[tuple[int, str]]:
    return [(f.span.start.row, f.message) for f in lint_snippet(code, all_rules(), "auto")
            if f.code == "BN401"]


def project_tiny_batches(tmp_path: Path, files: dict[str, str],
                         linted: str) -> list[dict[str, object]]:
    """BN401 findings (JSON) of the CLI run on ``linted`` in a project made of ``files``."""
    (tmp_path / ".git").mkdir()
    for name, text in files.items():
        (tmp_path / name).write_text(text.lstrip("\n"), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "bnlint", "--no-cache", "--format", "json", "--select",
         "BN401", linted], cwd=tmp_path, capture_output=True, text=True, timeout=120,
        check=False)
    found: list[dict[str, object]] = json.loads(done.stdout)
    return found


GAN = """
import numpy as np
from keras.layers import Dense, BatchNormalization
from keras.models import Sequential

class GAN():
    def __init__(self):
        self.discriminator = Sequential([Dense(64), BatchNormalization(), Dense(1)])
        self.discriminator.compile(loss="binary_crossentropy", optimizer="adam")

    def train(self, epochs, batch_size=128):
        valid = {labels}
        for epoch in range(epochs):
            imgs = load_images()
            self.discriminator.train_on_batch(imgs, valid)

gan = GAN()
gan.train(epochs=100, batch_size=2)
"""


def test_labels_made_from_the_batch_size_give_the_train_on_batch_batch() -> None:
    found = tiny_batches(GAN.format(labels="np.ones((batch_size,) + (1,))"))
    assert [row for row, _ in found] == [18]  # the argument that sets it
    assert "batches of 2" in found[0][1]


def test_labels_from_a_normal_draw_of_that_many_rows_count_too() -> None:
    found = tiny_batches(GAN.format(labels="np.random.normal(0, 1, (batch_size, 1))"))
    assert [row for row, _ in found] == [18]


def test_labels_whose_rows_are_not_the_batch_size_say_nothing() -> None:
    assert tiny_batches(GAN.format(labels="np.ones((len(imgs), 1))")) == []
    assert tiny_batches(GAN.format(labels="np.ones(shape)")) == []


STEP = """
import tensorflow as tf
net = tf.keras.Sequential([tf.keras.layers.Dense(64), tf.keras.layers.BatchNormalization(),
                           tf.keras.layers.Dense(1)])
optimizer = tf.keras.optimizers.Adam()
train_ds = tf.data.Dataset.from_tensor_slices((xs, ys)).batch({size})

@tf.function
def train_step(x, y):
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean((net(x, training=True) - y) ** 2)
    grads = tape.gradient(loss, net.trainable_variables)
    optimizer.apply_gradients(zip(grads, net.trainable_variables))

for step, (x, y) in train_ds.enumerate():
    train_step(tf.convert_to_tensor(x), y)
{after}
"""


def test_a_custom_step_on_a_tiny_dataset_batch_is_reported_at_the_batch() -> None:
    found = tiny_batches(STEP.format(size=1, after='net.save("net.keras")'))
    assert [row for row, _ in found] == [6]
    assert "`net`" in found[0][1]


def test_a_custom_step_whose_model_then_predicts_is_reported() -> None:
    found = tiny_batches(STEP.format(size=2, after="preds = net.predict(test_x)"))
    assert [row for row, _ in found] == [6]


def test_a_model_that_only_trains_never_reads_its_moving_statistics() -> None:
    assert tiny_batches(STEP.format(size=1, after="")) == []


def test_a_model_run_in_training_mode_to_predict_uses_batch_statistics_on_purpose() -> None:
    found = tiny_batches(STEP.format(
        size=1, after='preview = net(test_x, training=True)\nnet.save("net.keras")'))
    assert found == []


def test_a_smoke_test_before_training_is_not_inference_after_it() -> None:
    code = STEP.format(size=1, after="")
    code = code.replace("optimizer = tf.keras", "print(net(sample_x, training=False))\n"
                        "optimizer = tf.keras", 1)
    assert tiny_batches(code) == []


def test_a_custom_step_on_large_batches_is_clean() -> None:
    assert tiny_batches(STEP.format(size=32, after='net.save("net.keras")')) == []


ITERATED = """
import tensorflow as tf
net = tf.keras.Sequential([tf.keras.layers.Dense(64), tf.keras.layers.BatchNormalization(),
                           tf.keras.layers.Dense(1)])
optimizer = tf.keras.optimizers.Adam()
batches = iter(tf.data.Dataset.from_tensor_slices((xs, ys)).repeat().batch({size}))
for step in range(1000):
    x, y = next(batches)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean((net(x, training=True) - y) ** 2)
    grads = tape.gradient(loss, net.trainable_variables)
    optimizer.apply_gradients(zip(grads, net.trainable_variables))
net.save("net.keras")
"""


def test_batches_taken_with_next_from_an_iterator_over_a_dataset_are_its_batches() -> None:
    assert [row for row, _ in tiny_batches(ITERATED.format(size=2))] == [6]
    assert tiny_batches(ITERATED.format(size=32)) == []


def test_one_batch_peeked_before_the_loop_is_not_the_batches_it_trains_on() -> None:
    # a smoke test: one step on two samples, then every step on batches of 128; the
    # moving statistics (momentum 0.99) forget that step
    smoke = ITERATED.format(size=128).replace(
        "for step in range(1000):",
        "xb, yb = next(iter(tf.data.Dataset.from_tensor_slices((xs, ys)).batch(2)))\n"
        "with tf.GradientTape() as tape:\n"
        "    loss = tf.reduce_mean((net(xb, training=True) - yb) ** 2)\n"
        "optimizer.apply_gradients(zip(tape.gradient(loss, net.trainable_variables),\n"
        "                              net.trainable_variables))\n"
        "for step in range(1000):")
    assert tiny_batches(smoke) == []


def test_a_keras_iterator_s_own_next_and_a_default_give_the_batch() -> None:
    own = ITERATED.format(size=2).replace("x, y = next(batches)", "x, y = batches.next()")
    assert [row for row, _ in tiny_batches(own)] == [6]
    defaulted = ITERATED.format(size=2).replace("x, y = next(batches)",
                                                "x, y = next(batches, None)")
    assert [row for row, _ in tiny_batches(defaulted)] == [6]


DISTRIBUTED = """
import tensorflow as tf
strategy = tf.distribute.MirroredStrategy()
with strategy.scope():
    net = tf.keras.Sequential([tf.keras.layers.Dense(64),
                               tf.keras.layers.BatchNormalization(), tf.keras.layers.Dense(1)])
    optimizer = tf.keras.optimizers.Adam()
GLOBAL_BATCH = {size}
dist_ds = strategy.experimental_distribute_dataset(
    tf.data.Dataset.from_tensor_slices((xs, ys)).batch(GLOBAL_BATCH))


def train_step(inputs):
    x, y = inputs
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean((net(x, training=True) - y) ** 2)
    grads = tape.gradient(loss, net.trainable_variables)
    optimizer.apply_gradients(zip(grads, net.trainable_variables))
    return loss


@tf.function
def distributed_step(inputs):
    return strategy.run(train_step, args=(inputs,))


for batch in dist_ds:
    distributed_step(batch)
net.save("net.keras")
"""


def test_a_distributed_dataset_gives_each_replica_no_more_than_its_batch() -> None:
    # the replicas split each global batch: one of 2 is at most 2 on every replica
    assert [row for row, _ in tiny_batches(DISTRIBUTED.format(size=2))] == [10]
    assert tiny_batches(DISTRIBUTED.format(size=64)) == []
    # sized per replica (the custom training tutorial's idiom): each replica takes 2
    per_replica = DISTRIBUTED.format(size="2 * strategy.num_replicas_in_sync")
    assert [row for row, _ in tiny_batches(per_replica)] == [10]
    assert tiny_batches(DISTRIBUTED.format(size="64 * strategy.num_replicas_in_sync")) == []
    # a number the file cannot know
    assert tiny_batches(DISTRIBUTED.format(size="2 * workers")) == []


ITERATOR = """
from keras.preprocessing.image import Iterator
from keras.models import Sequential
from keras.layers import Dense, BatchNormalization

class PairIterator(Iterator):
    def __init__(self, lines, batch_size=32, shuffle=True, seed=None):
        self.lines = lines
        super(PairIterator, self).__init__(len(lines), batch_size, shuffle, seed)

class PairGenerator(object):
    def flow(self, lines, batch_size=32):
        return PairIterator(lines, batch_size=batch_size)

model = Sequential([Dense(8), BatchNormalization(), Dense(1)])
model.compile(loss="mse", optimizer="adam")
model.fit_generator(PairGenerator().flow(lines, batch_size={size}))
"""


def test_a_keras_image_iterator_subclass_batches_what_its_constructor_is_given() -> None:
    found = tiny_batches(ITERATOR.format(size=2))
    assert [row for row, _ in found] == [17]
    assert "batches of 2" in found[0][1]
    assert tiny_batches(ITERATOR.format(size=16)) == []


SEQUENCE_HELPER = {
    "data.py": """
import tensorflow as tf

class Frames(tf.keras.utils.Sequence):
    def __init__(self, paths, batch_size=16):
        self.paths = paths
        self.batch_size = batch_size

def load(paths, batch_size):
    return Frames(paths, batch_size=batch_size)
""",
    "train.py": """
import tensorflow as tf
import data

model = tf.keras.Sequential([tf.keras.layers.Dense(8), tf.keras.layers.BatchNormalization()])
model.compile(optimizer="adam", loss="mse")
train = data.load(paths, batch_size=2)
model.fit(x=train, batch_size=64, epochs=3)
""",
}


def test_a_sequence_built_in_another_module_is_reported_at_the_call_that_sizes_it(
        tmp_path: Path) -> None:
    found = project_tiny_batches(tmp_path, SEQUENCE_HELPER, "train.py")
    # the Sequence makes batches of 2 (fit's own `batch_size=64` is ignored), reported at
    # the argument that gives the other module's helper that size
    assert [(item["code"], item["filename"], item["location"]) for item in found] == [
        ("BN401", "train.py", {"row": 6, "column": 26})]
    assert "batches of 2" in found[0]["message"]


CONFIG_OBJECT = """
from tensorflow import keras
{config}
model = keras.Sequential([keras.layers.Dense(8), keras.layers.BatchNormalization(),
                         keras.layers.Dense(1)])
model.compile("adam", "mse")
model.fit(x, y, batch_size={size})
model.save("model.keras")
"""


def test_a_batch_size_held_by_a_configuration_class_is_read() -> None:
    config = """
class TrainingConfig(object):
    batch_size = 2
    epochs = 10

config = TrainingConfig()
"""
    found = tiny_batches(CONFIG_OBJECT.format(config=config, size="config.batch_size"))
    assert ["batches of 2" in message for _, message in found] == [True]
    # the class itself, and an instance whose own attribute was set, read the same way
    found = tiny_batches(CONFIG_OBJECT.format(config=config, size="TrainingConfig.batch_size"))
    assert len(found) == 1
    changed = config + "config.batch_size = 32\n"
    assert tiny_batches(CONFIG_OBJECT.format(config=changed, size="config.batch_size")) == []
    changed = config + "TrainingConfig.batch_size = 32\n"
    assert tiny_batches(CONFIG_OBJECT.format(config=changed, size="config.batch_size")) == []


def test_a_batch_size_computed_by_a_class_body_is_not_guessed() -> None:
    config = """
class TrainingConfig(object):
    batch_size = read_batch_size()

config = TrainingConfig()
"""
    assert tiny_batches(CONFIG_OBJECT.format(config=config, size="config.batch_size")) == []


def test_a_batch_size_held_by_an_easydict_is_read() -> None:
    config = """
from easydict import EasyDict as edict
__C = edict()
cfg = __C
__C.TRAIN = edict()
__C.TRAIN.BATCH_SIZE = 2
"""
    found = tiny_batches(CONFIG_OBJECT.format(config=config, size="cfg.TRAIN.BATCH_SIZE"))
    assert ["batches of 2" in message for _, message in found] == [True]
    # set on one path only, the entry may hold anything
    maybe = config + "if args.big:\n    __C.TRAIN.BATCH_SIZE = 64\n"
    assert tiny_batches(CONFIG_OBJECT.format(config=maybe, size="cfg.TRAIN.BATCH_SIZE")) == []
    built = "from types import SimpleNamespace\ncfg = SimpleNamespace(batch_size=4)\n"
    found = tiny_batches(CONFIG_OBJECT.format(config=built, size="cfg.batch_size"))
    assert ["batches of 4" in message for _, message in found] == [True]


GENERATOR = """
import numpy as np
from tensorflow import keras

def generator(images, labels):
    while True:
        for data, label in zip(images, labels):
            data = {batch}
            yield data, label

model = keras.Sequential([keras.layers.Dense(8), keras.layers.BatchNormalization(),
                         keras.layers.Dense(1)])
model.compile("adam", "mse")
model.fit(generator(x, y), steps_per_epoch=100)
model.save("model.keras")
"""


def test_a_generator_that_yields_single_samples_trains_on_batches_of_one() -> None:
    found = lint_snippet(GENERATOR.format(batch="data[np.newaxis, ...]"), all_rules())
    tiny = [f for f in found if f.code == "BN401"]
    assert [(f.span.start.row, "batches of 1" in f.message) for f in tiny] == [(14, True)]
    # the note shows where the generator makes each batch a single sample
    assert [r.span.start.row for r in tiny[0].related if "set here" in r.message] == [8]


def test_a_generator_whose_batches_are_not_known_says_nothing() -> None:
    assert tiny_batches(GENERATOR.format(batch="np.stack([data] * 32)")) == []
    assert tiny_batches(GENERATOR.format(batch="data")) == []


LOADER_LOOP = """
import tensorflow as tf

class Loader(object):
    def __init__(self, is_training):
        self.batch_size = {size}
        self.count = 0

    def __iter__(self):
        return self

    def __next__(self):
        self.count += 1
        return load(self.batch_size)

net = tf.keras.Sequential([tf.keras.layers.Dense(64), tf.keras.layers.BatchNormalization(),
                           tf.keras.layers.Dense(1)])
optimizer = tf.keras.optimizers.Adam()
trainset = Loader(is_training=True)
for images, targets in trainset:
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(net(images, training=True) - targets))
    grads = tape.gradient(loss, net.trainable_variables)
    optimizer.apply_gradients(zip(grads, net.trainable_variables))
net.save("net.keras")
"""


def test_a_loader_iterated_for_batches_of_its_batch_size() -> None:
    found = tiny_batches(LOADER_LOOP.format(size="2 if is_training else 1"))
    # reported at the loader's construction, which fixes its batches
    assert [(row, "batches of 2" in message) for row, message in found] == [(19, True)]
    assert tiny_batches(LOADER_LOOP.format(size="32 if is_training else 1")) == []
    assert tiny_batches(LOADER_LOOP.format(size="read_size()")) == []


NEXT_BATCH = """
import numpy as np
from tensorflow import keras

def batches(images, labels):
    while True:
        for image, label in zip(images, labels):
            image = np.transpose(np.expand_dims(image, axis=0), {permutation})
            yield np.copy(image), label

model = keras.Sequential([keras.layers.Dense(8), keras.layers.BatchNormalization(),
                         keras.layers.Dense(1)])
model.compile("adam", "mse")
data = batches(images, labels)
for step in range(1000):
    X, Y = next(data)
    model.train_on_batch(X, Y)
model.save("model.keras")
"""


def test_next_of_a_generator_gives_one_of_its_batches() -> None:
    found = tiny_batches(NEXT_BATCH.format(permutation="(0, 2, 3, 1)"))
    assert [("batches of 1" in message) for _, message in found] == [True]
    # a permutation that moves the samples off the first axis says nothing
    assert tiny_batches(NEXT_BATCH.format(permutation="(1, 0, 2, 3)")) == []


def test_int_of_a_batch_size_is_that_batch_size() -> None:
    code = CONFIG_OBJECT.format(config="size = '2'\nbatch = int(2)\n", size="batch")
    assert ["batches of 2" in message for _, message in tiny_batches(code)] == [True]
    code = CONFIG_OBJECT.format(config="batch = int(size_text)\n", size="batch")
    assert tiny_batches(code) == []


TWO_GENERATORS = """
import argparse
from tensorflow import keras

def generate(values, batch_size):
    while True:
        yield load(values, batch_size)

def data_generators(values, batch_size=None):
    return generate(values[50:], batch_size), generate(values[:50], batch_size)

def train(batch, weights):
    if weights:
        model = keras.models.load_model(weights)
    else:
        model = keras.Sequential([keras.layers.Dense(8), keras.layers.BatchNormalization(),
                                  keras.layers.Dense(1)])
        model.compile("adam", "mse")
    train_generator, val_generator = data_generators(values, batch_size=batch)
    model.fit(train_generator, validation_data=val_generator, steps_per_epoch=500)
    model.save("model.keras")

parser = argparse.ArgumentParser()
parser.add_argument("--batch", type=int, default=2)
parser.add_argument("--weights", type=str, default=None)
args = parser.parse_args()
train(args.batch, args.weights)
"""


def test_generators_returned_as_a_pair_keep_their_batch_size() -> None:
    found = lint_snippet(TWO_GENERATORS, all_rules())
    tiny = [f for f in found if f.code == "BN401"]
    # at the argument of the outermost call that hands the size on (`--batch` enters
    # the training code there), on the path where the model with BN is the one built
    # here (a loaded model's layers are not known)
    assert [f.span.start.row for f in tiny] == [27]
    assert "when `weights` is false" in [note.message for note in tiny[0].related]


RETINA_LOOP = """
import tensorflow as tf
from tensorflow import keras

class DataGenerator:
    def __init__(self, lines, batch_size):
        self.lines = lines
        self.batch_size = batch_size

    def data_generate(self):
        while True:
            images = tf.stack([load(line) for line in self.lines[:self.batch_size]])
            yield [images, [boxes(), classes()]], tf.zeros(shape=(self.batch_size,))

@tf.function
def train_step(optimizer, input_img, model):
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(model(input_img, training=True))
    gradients = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(gradients, model.trainable_variables))

inputs = keras.Input(shape=(64, 64, 3))
model = keras.Model(inputs, keras.layers.BatchNormalization()(keras.layers.Conv2D(8, 3)(inputs)))
batches = DataGenerator(lines,
                        batch_size=2).data_generate()
optimizer = keras.optimizers.Adam()
for data in batches:
    train_step(optimizer, {image}, model)
model.save_weights("retina.h5")
"""


def test_a_batch_taken_whole_keeps_its_arrays_where_the_generator_yields_them() -> None:
    found = tiny_batches(RETINA_LOOP.format(image="data[0][0]"))
    assert [row for row, _ in found] == [25]  # the constructor's `batch_size=2`
    assert "batches of 2" in found[0][1]


def test_an_entry_of_a_batch_that_is_not_an_array_position_says_nothing() -> None:
    # `data[2]` is past what the generator yields: nothing is known of it
    assert tiny_batches(RETINA_LOOP.format(image="data[2]")) == []




def sliced_sequence(name: str, default: str = "") -> str:
    """A `keras.utils.Sequence` subclass of the project that slices its items into
    batches of its `batch_size` (the constructor's argument)."""
    return f"""class {name}(keras.utils.Sequence):
    def __init__(self, names, batch_size{default}):
        self.names = names
        self.batch_size = batch_size

    def __len__(self):
        return len(self.names) // self.batch_size

    def __getitem__(self, index):
        return load(self.names[index * self.batch_size:(index + 1) * self.batch_size])
"""


ITERATOR_FACTORY = """
import keras
from keras.layers import Input, Conv2D, BatchNormalization
from keras.models import Model

""" + sliced_sequence("SegIterator", "=32") + """
class Augmenter:
    def flow_from_directory(self, names, batch_size=32, shuffle=True):
        return SegIterator(names, batch_size=batch_size)

class Config:
    batch_size = 2

inputs = Input((64, 64, 3))
model = Model(inputs, BatchNormalization()(Conv2D(8, 3)(inputs)))
model.compile("adam", "mse")
model.fit(Augmenter().flow_from_directory(
    names,
    batch_size=Config.batch_size,
    shuffle=True))
"""


def test_a_project_method_returning_the_iterator_it_sizes_is_reported_at_its_argument() -> None:
    found = tiny_batches(ITERATOR_FACTORY)
    assert [row for row, _ in found] == [29]  # `batch_size=Config.batch_size`
    assert "batches of 2" in found[0][1]


INHERITED_SEQUENCE = """
from tensorflow import keras

class Generator(keras.utils.Sequence):
    def __init__(self, batch_size=32, shuffle=True):
        self.batch_size = int(batch_size)

    def __len__(self):
        return 10

    def __getitem__(self, index):
        return load(index, self.batch_size)

class VocGenerator(Generator):
    def __init__(self, data_dir, **kwargs):
        self.data_dir = data_dir
        {parent}

inputs = keras.Input(shape=(64, 64, 3))
model = keras.Model(inputs, keras.layers.BatchNormalization()(keras.layers.Conv2D(8, 3)(inputs)))
model.compile("adam", "mse")
model.fit(VocGenerator("/data", batch_size=2), epochs=3)
model.save("detector.h5")
"""


def test_a_loader_that_hands_its_size_to_its_parent_class_is_read_through_super() -> None:
    found = tiny_batches(INHERITED_SEQUENCE.format(
        parent="super(VocGenerator, self).__init__(**kwargs)"))
    assert [row for row, _ in found] == [22]
    assert "batches of 2" in found[0][1]
    # the parent's default is not what this call passes on when the subclass drops it
    assert tiny_batches(INHERITED_SEQUENCE.format(
        parent="super().__init__(batch_size=64)")) == []


DATA_BY_OPTION = """
import argparse
from tensorflow import keras

""" + sliced_sequence("NyuSequence") + """
def nyu_data(batch_size):
    return NyuSequence(names(), batch_size=batch_size)

parser = argparse.ArgumentParser()
parser.add_argument("--data", default="{default}")
parser.add_argument("--bs", type=int, default=4)
args = parser.parse_args()

inputs = keras.Input(shape=(64, 64, 3))
model = keras.Model(inputs, keras.layers.BatchNormalization()(keras.layers.Conv2D(8, 3)(inputs)))
model.compile("adam", "mse")
if args.data == 'nyu': train_data = nyu_data(args.bs)
if args.data == 'unreal': train_data = NyuSequence(names(), batch_size=32)
model.fit(train_data, epochs=3)
model.save("depth.h5")
"""


def test_an_option_default_picks_the_data_of_a_run_given_no_options() -> None:
    # the run with the shipped defaults takes the `nyu` arm, where the sequence made
    # there keeps the size its constructor set, and skips the `unreal` one
    found = [f for f in lint_snippet(DATA_BY_OPTION.format(default="nyu"), all_rules(), "auto")
             if f.code == "BN401"]
    assert [f.span.start.row for f in found] == [27]
    notes = [note.message for note in found[0].related]
    assert "when `args.data == 'nyu'` is true" in notes
    # `--data` equal to 'nyu' is not equal to 'unreal': that arm is not a choice the
    # finding rests on
    assert not [note for note in notes if "unreal" in note]


def test_an_arm_the_defaults_do_not_take_is_reported_with_its_condition() -> None:
    # with `--data unreal` by default, a run given `--data nyu` takes the `nyu` arm and
    # skips the `unreal` one (one value equals one string): reported, when that holds
    found = tiny_batches(DATA_BY_OPTION.format(default="unreal"))
    assert [row for row, _ in found] == [27]
    found_notes = [note.message for finding in lint_snippet(
        DATA_BY_OPTION.format(default="unreal"), all_rules(), "auto")
        if finding.code == "BN401" for note in finding.related]
    assert "when `args.data == 'nyu'` is true" in found_notes


def test_two_arms_on_one_option_run_one_at_a_time() -> None:
    # the sequence of batch 32 made when `--data` is 'unreal' replaces nothing on the
    # `nyu` path; with a condition on another option in between, still one at a time
    code = DATA_BY_OPTION.format(default="unreal").replace(
        "if args.data == 'unreal':", "if args.bs > 2: pass\nif 'unreal' == args.data:")
    assert [row for row, _ in tiny_batches(code)] == [27]


PAIRED_FILES = """
import tensorflow as tf
from tensorflow import keras

def pairs(batch_size=32, **options):
    files = list_pairs()
    train = files.map(load_pair, {parallel}).batch(batch_size)
    if options.get("captions"):
        train = tf.data.Dataset.zip((train, captions().batch(batch_size)))
    return train

inputs = keras.Input(shape=(64, 64, 3))
model = keras.Model(inputs, keras.layers.BatchNormalization()(keras.layers.Conv2D(8, 3)(inputs)))
model.compile("adam", "mse")
model.fit(pairs(batch_size=1), epochs=3)
model.save("pix2pix.h5")
"""


def test_a_map_only_tf_data_has_makes_a_dataset_of_what_nobody_knows() -> None:
    # `num_parallel_calls=` is tf.data's; a keyword nobody passed is None for `.get`
    found = tiny_batches(PAIRED_FILES.format(parallel="num_parallel_calls=tf.data.AUTOTUNE"))
    assert [row for row, _ in found] == [15]
    assert "batches of 1" in found[0][1]
    # any other `map` of an unknown object is not known to be a dataset
    assert tiny_batches(PAIRED_FILES.format(parallel="workers=4")) == []


def test_a_size_handed_on_through_star_args_is_reported_at_its_argument() -> None:
    code = PAIRED_FILES.format(parallel="num_parallel_calls=tf.data.AUTOTUNE").replace(
        "model.fit(pairs(batch_size=1), epochs=3)",
        "def get_data(kind, *args):\n    return pairs(*args)\n\n"
        "BATCH = 1\nmodel.fit(get_data(\n    'pairs',\n    BATCH,\n), epochs=3)")
    found = tiny_batches(code)
    assert [row for row, _ in found] == [21]  # the `BATCH` that `*args` hands on


PAIRED_STEP = """
import tensorflow as tf
from tqdm import tqdm
net = tf.keras.Sequential([tf.keras.layers.Dense(64), tf.keras.layers.BatchNormalization(),
                           tf.keras.layers.Dense(1)])
optimizer = tf.keras.optimizers.Adam()
dataset = {dataset}
checkpoint = tf.train.Checkpoint(net=net, optimizer=optimizer)
manager = tf.train.CheckpointManager(checkpoint, "checkpoints", max_to_keep=3)

def train_step(x, y):
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean((net(x, training=True) - y) ** 2)
    grads = tape.gradient(loss, net.trainable_variables)
    optimizer.apply_gradients(zip(grads, net.trainable_variables))

for epoch in range(10):
    for {loop}:
        train_step(batch[0], batch[1])
    {save}
"""


def paired(dataset: str = "tf.data.Dataset.zip((xs, ys)).shuffle(100).batch(1)",
           loop: str = "batch in dataset", save: str = "manager.save()") -> str:
    return PAIRED_STEP.format(dataset=dataset, loop=loop, save=save)


def test_a_model_saved_through_a_checkpoint_manager_reads_its_statistics_later() -> None:
    assert [row for row, _ in tiny_batches(paired())] == [7]
    assert [row for row, _ in tiny_batches(paired(save="checkpoint.save('ckpt')"))] == [7]


def test_a_checkpoint_that_does_not_hold_the_model_is_not_its_save() -> None:
    code = paired().replace("tf.train.Checkpoint(net=net, optimizer=optimizer)",
                            "tf.train.Checkpoint(optimizer=optimizer)")
    assert tiny_batches(code) == []


def test_an_entry_of_a_batch_of_a_zipped_dataset_is_a_batch_of_each_part() -> None:
    assert [row for row, _ in tiny_batches(paired(
        dataset="tf.data.Dataset.from_tensor_slices((xs, ys)).batch(1)"))] == [7]


def test_an_entry_of_a_batch_of_single_arrays_is_one_sample_not_a_batch() -> None:
    # batch[0] of a batch of plain tensors is its first row: nobody knows the size
    assert tiny_batches(paired(
        dataset="tf.data.Dataset.from_tensor_slices(xs).batch(1)")) == []


def test_a_map_that_reshapes_the_elements_forgets_their_structure() -> None:
    assert tiny_batches(paired(
        dataset="tf.data.Dataset.zip((xs, ys)).map(parse).batch(1)")) == []


def test_a_progress_bar_yields_the_batches_it_wraps() -> None:
    assert [row for row, _ in tiny_batches(paired(loop="batch in tqdm(dataset)"))] == [7]
    assert [row for row, _ in tiny_batches(paired(
        loop="step, batch in tqdm(enumerate(dataset))"))] == [7]


CONFIGURED_TRAINER = {
    "trainer.py": """
import tensorflow as tf


class Trainer:
    def __init__(self, configs):
        self.configs = configs
        self.net = tf.keras.Sequential([tf.keras.layers.Dense(64),
                                        tf.keras.layers.BatchNormalization()])
        self.optimizer = tf.keras.optimizers.Adam()
        self.dataset = tf.data.Dataset.zip((xs, ys)).batch(configs["batch_size"])

    def train(self):
        for batch in self.dataset:
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(self.net(batch[0], training=True) - batch[1])
            grads = tape.gradient(loss, self.net.trainable_variables)
            self.optimizer.apply_gradients(zip(grads, self.net.trainable_variables))
        self.net.save("net.keras")
""",
    "run.py": """
from trainer import Trainer

configs = {
    "lr": 2e-4,
    "batch_size": 1,
}
Trainer(configs).train()
""",
}


def test_a_size_set_in_a_configuration_dict_for_another_module_is_reported_there(
        tmp_path: Path) -> None:
    found = project_tiny_batches(tmp_path, CONFIGURED_TRAINER, "run.py")
    assert [(item["filename"], item["location"]["row"]) for item in found] == [("run.py", 5)]
    notes = {(note["filename"], note["location"]["row"], note["message"])
             for note in found[0]["related"]}
    assert ("trainer.py", 10, "batches of 1 are made here") in notes


RUN_BY_NAME = """
from tensorflow import keras


class Frames(keras.utils.Sequence):
    def __init__(self, paths, batch_size):
        self.paths = paths
        self.batch_size = batch_size


def run(paths, size):
    loader = Frames(paths, batch_size=size)
    model = keras.Sequential([keras.layers.Dense(8), keras.layers.BatchNormalization()])
    model.compile("adam", "mse")
    model.fit(loader, epochs=3)
    model.save("model.keras")


BATCH = 2
run(paths, {argument})
"""


def test_a_constant_handed_on_by_name_is_reported_at_the_outermost_call() -> None:
    # where the size enters the training code, as for `run(paths, 2)`
    assert [row for row, _ in tiny_batches(RUN_BY_NAME.format(argument="BATCH"))] == [20]
    assert [row for row, _ in tiny_batches(RUN_BY_NAME.format(argument="2"))] == [20]


BATCHED_ELSEWHERE = {
    "data.py": """
import tensorflow as tf


def make(configs):
    return tf.data.Dataset.zip((xs, ys)).batch(configs["batch_size"])
""",
    "train.py": """
import tensorflow as tf
from data import make

configs = {"batch_size": 1}
net = tf.keras.Sequential([tf.keras.layers.Dense(64), tf.keras.layers.BatchNormalization()])
optimizer = tf.keras.optimizers.Adam()
for batch in make(configs):
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(net(batch[0], training=True) - batch[1])
    grads = tape.gradient(loss, net.trainable_variables)
    optimizer.apply_gradients(zip(grads, net.trainable_variables))
net.save("net.keras")
""",
}


def test_a_configuration_dict_batched_by_another_module_is_reported_at_its_entry(
        tmp_path: Path) -> None:
    found = project_tiny_batches(tmp_path, BATCHED_ELSEWHERE, "train.py")
    assert [(item["filename"], item["location"]["row"]) for item in found] == [("train.py", 4)]


GAN_CHECKPOINT = """
import tensorflow as tf
gen = tf.keras.Sequential([tf.keras.layers.Dense(8), tf.keras.layers.Dense(8)])
disc = tf.keras.Sequential([tf.keras.layers.Dense(8), tf.keras.layers.BatchNormalization(),
                            tf.keras.layers.Dense(1)])
opt = tf.keras.optimizers.Adam()
dataset = tf.data.Dataset.from_tensor_slices((xs, ys)).batch(1)
checkpoint = tf.train.Checkpoint(gen=gen, disc=disc)
for x, y in dataset:
    with tf.GradientTape() as tape:
        fake = gen(x, training=True)
        loss = tf.reduce_mean(disc({judged}, training=True) - y)
    grads = tape.gradient(loss, disc.trainable_variables)
    opt.apply_gradients(zip(grads, disc.trainable_variables))
{preview}
checkpoint.save("ckpt")
"""


def gan_checkpoint(judged: str = "[x, y]", preview: str = "") -> str:
    return GAN_CHECKPOINT.format(judged=judged, preview=preview)


def test_a_checkpoint_of_a_recipe_that_infers_with_batch_statistics_is_no_inference() -> None:
    # pix2pix: batches of 1, and the generator is run with training=True to infer; its
    # checkpoint saves the discriminator for resuming, not for inference
    assert [row for row, _ in tiny_batches(gan_checkpoint())] == [7]
    assert tiny_batches(gan_checkpoint(preview="sample = gen(test_x, training=True)")) == []


def test_a_checkpoint_saves_a_critic_to_resume_training_not_to_infer() -> None:
    # the discriminator judges what the generator made: its statistics serve training
    assert tiny_batches(gan_checkpoint(judged="[x, fake]")) == []
    # the same model trained on the data alone is a model in its own right
    assert [row for row, _ in tiny_batches(gan_checkpoint(judged="[x, y]"))] == [7]


GENERATED = """
import numpy as np
import tensorflow as tf
from tqdm import tqdm
net = tf.keras.Sequential([tf.keras.layers.Conv2D(8, 3), tf.keras.layers.BatchNormalization(),
                           tf.keras.layers.GlobalAveragePooling2D(), tf.keras.layers.Dense(1)])
optimizer = tf.keras.optimizers.Adam()
BATCH = 4

def batches():
    while True:
        yield np.zeros((BATCH, 64, 64, 3)), np.zeros((BATCH, 1))

loader = tf.data.Dataset.from_generator(
    batches, output_types=(tf.float32, tf.float32),
    output_shapes={shapes}).prefetch(2)
progress = {loop}
for {target} in progress:
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean((net(images, training=True) - labels) ** 2)
    grads = tape.gradient(loss, net.trainable_variables)
    optimizer.apply_gradients(zip(grads, net.trainable_variables))
net.save("net.keras")
"""


def generated(shapes: str = "((BATCH, 64, 64, 3), (BATCH, 1))",
              loop: str = "tqdm(enumerate(loader), total=100)",
              target: str = "step, (images, labels)") -> list[int]:
    code = GENERATED.format(shapes=shapes, loop=loop, target=target)
    return [row for row, _ in tiny_batches(code)]


def test_the_batch_axis_of_a_generated_dataset_is_its_batch_size() -> None:
    # reported where output_shapes writes the batch axis
    assert generated() == [16]
    assert generated(loop="loader", target="images, labels") == [16]
    assert generated(loop="loader.enumerate()") == [16]


def test_an_enumerated_dataset_held_in_a_variable_yields_step_and_batch() -> None:
    # the step counter is not a batch: `step` bound to the batches would name nothing,
    # the pair after it is the batch
    assert generated(loop="enumerate(loader)") == [16]


def test_elements_of_single_samples_or_batched_again_are_not_generated_batches() -> None:
    # a scalar part means one sample per element; batching again sets another size
    assert generated(shapes="((64, 64, 3), ())", loop="loader",
                     target="images, labels") == []
    code = GENERATED.format(shapes="((BATCH, 64, 64, 3), (BATCH, 1))", loop="loader",
                            target="images, labels")
    assert [row for row, _ in tiny_batches(code.replace(".prefetch(2)", ".unbatch()"))] == []
    assert [row for row, _ in tiny_batches(
        code.replace(".prefetch(2)", ".unbatch().padded_batch(32)"))] == []
    assert [row for row, _ in tiny_batches(
        code.replace(".prefetch(2)", ".unbatch().padded_batch(2)"))] == [16]


def test_an_unknown_or_open_batch_axis_says_nothing() -> None:
    assert generated(shapes="((None, 64, 64, 3), (None, 1))") == []
    assert generated(shapes="((size, 64, 64, 3), (size, 1))") == []
    assert generated(shapes="((64, 64, 3), (1,))".replace("64, 64, 3", "BATCH * 16, 64, 3")
                     ) == []


SLICED_BATCHES = """
from keras.models import Sequential
from keras.layers import Dense, BatchNormalization


def train(batch_size, epochs):
    model = Sequential([Dense(8, input_dim=4), BatchNormalization(), Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    for index in range(len(x_train) // batch_size):
        x = x_train[{rows}]
        y = y_train[{rows}]
        model.train_on_batch(x, y)


train(batch_size={size}, epochs=10)
"""


def test_rows_sliced_by_the_batch_size_are_a_batch_of_that_size() -> None:
    for rows in ("index * batch_size:(index + 1) * batch_size",
                 "index:index + batch_size"):
        found = tiny_batches(SLICED_BATCHES.format(rows=rows, size=2))
        assert [row for row, _ in found] == [15], rows
        assert "batches of 2" in found[0][1]


def test_rows_sliced_by_a_large_or_unknown_size_say_nothing() -> None:
    assert tiny_batches(SLICED_BATCHES.format(
        rows="index * batch_size:(index + 1) * batch_size", size=64)) == []
    assert tiny_batches(SLICED_BATCHES.format(
        rows="index * batch_size:(index + 2) * batch_size", size=2)) == []
    assert tiny_batches(SLICED_BATCHES.format(rows="index:stop", size=2)) == []
