"""BN401 bn-tiny-batch."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from bnlint.finding import Severity
from bnlint.probe.facts import model_facts
from bnlint.probe.scenario import scenario
from bnlint.rule import Example, Report, Rule, RuleContext
from bnlint.semantic import workflow as wf
from bnlint.semantic.events import Event
from bnlint.semantic.model import SemanticModel
from bnlint.semantic.values import Checkpoint, Dataset, Layer, Tensor, flattened
from bnlint.semantic.walk import run_visitor, walk

from ._arguments import argument

if TYPE_CHECKING:
    import libcst as cst
else:
    from bnlint.lazy import libcst as cst

# Dataset methods after which the `.batch(n)` size is no longer the training batch.
_REBATCHING = frozenset({
    "unbatch", "rebatch", "batch", "padded_batch", "ragged_batch", "window", "flat_map",
    "interleave", "bucket_by_sequence_length", "group_by_window",
})
# Model methods that keep the weights, moving statistics included, for later use.
_SAVING = frozenset({"save", "save_weights", "export"})
# Keras data generators: `fit(generator, batch_size=...)` ignores `batch_size`.
_GENERATORS = frozenset({"flow", "flow_from_directory", "flow_from_dataframe"})
# Keras utilities that return a batched tf.data.Dataset (fit ignores its batch_size too).
_DATASET_UTILITIES = frozenset({"image_dataset_from_directory", "text_dataset_from_directory",
                                "audio_dataset_from_directory",
                                "timeseries_dataset_from_array"})


class BnTinyBatch(Rule):
    """## What it does
    Flags `model.fit(..., batch_size=n)`, `model.fit(dataset)` with a `tf.data`
    dataset built by `.batch(n)`, and `model.fit(gen)` / `fit_generator(gen)` with `gen`
    a call of the project's own generator function (a `def` that `yield`s) given
    `batch_size=n` (reported at that `batch_size` argument of the outermost call that
    passes one, else at the generator the fit trains on; a wrapper that returns
    the generator, or None when there is no data, is followed), and `model.fit(loader)`
    with `loader` an instance of the project's `keras.utils.Sequence` / `PyDataset`
    subclass (or of Keras 2's image `Iterator`, given the size in `super().__init__`)
    whose `batch_size` is n (reported where the code sets it: the constructor's
    argument, or a later `loader.batch_size = n`; a Sequence that slices its batches by
    the `batch_size` of a settings object it keeps, `self.cfg.batch_size`, has that
    object's size, reported where it is set), and `train_on_batch` on the arrays a
    loop takes from such a generator (`for imgs_a, imgs_b in loader.load_batch(n)`,
    also under `enumerate`), for a literal `n` (or a name bound
    to one) of at most 7, when the fitted model
    definitely contains a BatchNormalization layer that is trainable at that point.
    A generator's batch size is its parameter named `batch_size` (or `bs`, `b_size`,
    `batchsize`), or for a generator method without one, its instance's `batch_size`.
    A `tf.data.Dataset.from_generator(gen, output_shapes=((n, 256, 256, 3), ...))`
    yields batches of the first shape's first axis `n` (reported there).
    A number written as an argument of a call that passes it on (`gan.train(epochs=200,
    batch_size=1)` whose loop trains on batches of that size, `Loader(lines, 4)`) is
    reported at that argument: that is where the user sets it. So is a constant handed
    on by name (`run(paths, BATCH)`): at the outermost call that does. Likewise a `tf.data`
    pipeline that a helper of the project batches (`tf_dataset(x, y, batch=batch_size)`
    returning `dataset.batch(batch)`) is reported at the helper's call that passes the size.
    A size written in a configuration dict of the linted file (`{"batch_size": 1}`) and
    read by code in another module of the project is reported at that entry.
    A size may also be the default of a command-line option (`argparse`, absl flags)
    or an entry of the project's JSON/YAML settings file that the program loads: a run
    given no options trains on it, and a note shows where it is set.
    Batches of 1-2 are a warning, 3-7 are info (both limits are settings:
    `tiny-batch-warning`, `tiny-batch-info`). A `batch_size=` that `fit()` ignores is
    not reported: the data is a tf.data dataset, a `*_dataset_from_directory` dataset or
    an `ImageDataGenerator` iterator, which make their own batches. Data that certainly
    holds a single sample is a batch of 1 whatever the call: `train_on_batch` (or `fit`)
    on `np.expand_dims(img, 0)`, `tf.expand_dims(x, 0)`, `x[np.newaxis]`,
    `x[None, ...]` or `x[i:i + 1]`.
    A custom training step counts as a fit: `model(x, training=True)` recorded on a
    `GradientTape` that gradients are taken from, where `x` is a batch a loop takes from
    such a dataset or generator (`for x, y in train_ds`, `train_ds.enumerate()`, through
    `tf.convert_to_tensor`) or takes with `next(iter(train_ds))`, also when a
    `tf.distribute` strategy hands the batches to its replicas
    (`strategy.experimental_distribute_dataset(train_ds)`, `strategy.run(step,
    args=(batch,))`: each replica normalises at most the batch's samples; a global batch
    of `per_replica * strategy.num_replicas_in_sync` gives each replica `per_replica`),
    when the model's moving statistics are read afterwards: it
    predicts or evaluates, is called outside training without `training=True`, or is
    saved (also by a `tf.train.Checkpoint` holding it, or that checkpoint's
    `CheckpointManager`). A model that only ever trains (a GAN's discriminator) never
    reads them, and one also run with `training=True` outside training (pix2pix's
    `generate_images`) uses batch statistics at inference on purpose: neither is
    reported. A checkpoint saves a discriminator (a model trained on another model's
    output, whose own output feeds no model) to resume training, not to infer.

    ## Why is this bad?
    In training mode BatchNormalization normalises every batch with its own mean and
    variance and folds them into the moving statistics used at inference. With one
    sample per batch a dense feature has variance 0, so the layer outputs `beta` whatever
    the input; with two, every output is +-1; with a handful the statistics are noise.
    The moving variance then drifts far from the data's (fact F13, verified: after 200
    steps at batch 1 moving_variance averaged 0.134 instead of 3.0, held-out MSE 183 vs
    1.4 at batch 32).

    ## Example
    ```python
    model = keras.Sequential([layers.Dense(64), layers.BatchNormalization(),
                              layers.Dense(1)])
    model.compile("adam", "mse")
    model.fit(x, y, batch_size=1)
    ```

    ## Use instead
    A batch of at least 8 (better 32), or, when memory forces tiny batches, freeze the
    BatchNormalization layers (`layer.trainable = False`) or replace them with
    `GroupNormalization` / `LayerNormalization`, which do not depend on the batch.

    ## Fix safety
    No automatic fix: the batch size is usually constrained by memory or by the data.

    ## References
    - Ioffe and Szegedy, "Batch Normalization" (2015); Wu and He, "Group Normalization"
      (2018), section 1
    - Keras `BatchNormalization` documentation
    """

    code = "BN401"
    name = "bn-tiny-batch"
    severity = "warning"
    reads_program = True
    summary = "Training BatchNormalization with batches of 1-7 samples"
    # (arrays filled by NumPy hold as many samples as their shape says: `np.zeros((1, 8))`)
    needles = (b"batch_size", b".batch(", b"expand_dims", b"newaxis", b"[None", b"+ 1]",
               b"+1]", b"zeros(", b"ones(", b"full(", b"empty(", b"random")
    flagged = (
        # Keras 3.0-3.15 fit() overrides the functional training=False: the base's BN
        # layers do train on the batches of 4
        Example(
            """
            import keras
            inputs = keras.Input((224, 224, 3))
            base = keras.applications.EfficientNetB0(include_top=False, pooling="avg")
            outputs = keras.layers.Dense(2)(base(inputs, training=False))
            model = keras.Model(inputs, outputs)
            model.compile("adam", "categorical_crossentropy")
            model.fit(x_train, y_train, batch_size=4)
            model.save("model.keras")
            """,
            target="keras3", keras_version="3.8",
        ),
        # random arrays of one sample: every step is a batch of one
        """
        import numpy as np
        from keras import layers, models
        inputs = layers.Input((64, 64, 3))
        outputs = layers.BatchNormalization()(layers.Conv2D(8, 3)(inputs))
        model = models.Model(inputs, outputs)
        model.compile("sgd", "mse")
        model.fit(np.random.random((1, 64, 64, 3)), np.random.random((1, 62, 62, 8)))
        model.save("model.keras")
        """,
        # one image made a batch of one
        """
        import numpy as np
        from tensorflow import keras
        model = keras.Sequential([keras.layers.Conv2D(8, 3), keras.layers.BatchNormalization(),
                                  keras.layers.Flatten(), keras.layers.Dense(1)])
        model.compile("adam", "mse")
        for img, label in pairs:
            model.train_on_batch(np.expand_dims(img, axis=0), label)
        """,
        """
        import tensorflow as tf
        model = tf.keras.Sequential([tf.keras.layers.Dense(8),
                                     tf.keras.layers.BatchNormalization(),
                                     tf.keras.layers.Dense(1)])
        model.compile("adam", "mse")
        for i in range(len(x_train)):
            model.train_on_batch(x_train[i:i + 1], y_train[i:i + 1])
        """,
        """
        import tensorflow as tf
        model = tf.keras.Sequential([tf.keras.layers.Dense(8),
                                     tf.keras.layers.BatchNormalization(),
                                     tf.keras.layers.Dense(1)])
        model.compile("adam", "mse")
        x = x_train[0][None, ...] / 255.0
        model.train_on_batch(x, y_train[:1])
        """,
        """
        import keras
        model = keras.Sequential([keras.layers.Dense(64), keras.layers.BatchNormalization(),
                                  keras.layers.Dense(1)])
        model.compile("adam", "mse")
        model.fit(x, y, batch_size=1)
        """,
        """
        import tensorflow as tf
        from tensorflow.keras.layers import BatchNormalization as BN, Dense
        model = tf.keras.Sequential([Dense(32), BN(), Dense(1)])
        model.compile("adam", "mse")
        ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(100).batch(2)
        model.fit(ds, epochs=10)
        """,
        """
        import tf_keras
        BATCH_SIZE = 4
        base = tf_keras.applications.ResNet50(include_top=False, pooling="avg")
        model = tf_keras.Sequential([base, tf_keras.layers.Dense(5)])
        model.compile("adam", "sparse_categorical_crossentropy")
        model.fit(images, labels, batch_size=BATCH_SIZE, epochs=3)
        """,
        """
        from tensorflow import keras
        from tensorflow.keras import layers
        inputs = keras.Input((16,))
        x = layers.Dense(16)(inputs)
        x = layers.BatchNormalization()(x)
        model = keras.Model(inputs, layers.Dense(1)(x))
        model.compile(optimizer="sgd", loss="mse")
        model.fit(features, targets, epochs=5, batch_size=1)
        """,
        # the batches come from the project's own generator, through a wrapper
        """
        import numpy as np
        from tensorflow import keras
        def data_generator(lines, batch_size):
            while True:
                rows = [lines[i % len(lines)] for i in range(batch_size)]
                yield np.array(rows), np.zeros(batch_size)
        def data_generator_wrapper(lines, batch_size):
            if len(lines) == 0 or batch_size <= 0:
                return None
            return data_generator(lines, batch_size)
        model = keras.Sequential([keras.layers.Dense(16), keras.layers.BatchNormalization(),
                                  keras.layers.Dense(1)])
        model.compile("adam", "mse")
        batch_size = 4
        model.fit(data_generator_wrapper(lines, batch_size), steps_per_epoch=100, epochs=5)
        """,
        # a training loop over the project's generator: each array of a batch holds 1
        """
        import numpy as np
        from tensorflow import keras
        class DataLoader:
            def load_batch(self, batch_size=1):
                for i in range(100):
                    yield np.zeros((batch_size, 8)), np.zeros((batch_size, 1))
        model = keras.Sequential([keras.layers.Dense(16), keras.layers.BatchNormalization(),
                                  keras.layers.Dense(1)])
        model.compile("adam", "mse")
        loader = DataLoader()
        for epoch in range(10):
            for step, (images, targets) in enumerate(loader.load_batch(batch_size=1)):
                model.train_on_batch([images], targets)
        """,
        # the default of a command-line option is the batch of a run given no options
        """
        import argparse
        from tensorflow import keras
        parser = argparse.ArgumentParser()
        parser.add_argument("--batch-size", type=int, default=2)
        args = parser.parse_args()
        model = keras.Sequential([keras.layers.Dense(16), keras.layers.BatchNormalization(),
                                  keras.layers.Dense(1)])
        model.compile("adam", "mse")
        model.fit(x, y, batch_size=args.batch_size)
        """,
        # a Sequence of the project: first phase at 16, the unfreeze phase at 4
        """
        import math
        import numpy as np
        from tensorflow import keras
        class Loader(keras.utils.Sequence):
            def __init__(self, lines, batch_size):
                self.lines = lines
                self.batch_size = batch_size
            def __len__(self):
                return math.ceil(len(self.lines) / self.batch_size)
            def __getitem__(self, index):
                rows = self.lines[index * self.batch_size:(index + 1) * self.batch_size]
                return np.array(rows), np.zeros(len(rows))
        model = keras.Sequential([keras.layers.Dense(16), keras.layers.BatchNormalization(),
                                  keras.layers.Dense(1)])
        model.compile("adam", "mse")
        loader = Loader(lines, 16)
        model.fit(loader, epochs=5)
        loader.batch_size = 4
        model.fit(loader, epochs=10)
        """,
        # a custom training step on batches of a `.batch(2)` dataset
        """
        import tensorflow as tf
        model = tf.keras.Sequential([tf.keras.layers.Dense(64),
                                     tf.keras.layers.BatchNormalization(),
                                     tf.keras.layers.Dense(1)])
        optimizer = tf.keras.optimizers.Adam()
        train_ds = tf.data.Dataset.from_tensor_slices((xs, ys)).batch(2)

        @tf.function
        def train_step(x, y):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean((model(x, training=True) - y) ** 2)
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))

        for x, y in train_ds:
            train_step(x, y)
        model.save("regressor.keras")
        """,
    )
    not_flagged = (
        # the base is called with training=False, which tf-keras honours in fit(): its
        # BN layers use their moving statistics whatever the batch
        Example(
            """
            import tensorflow as tf
            inputs = tf.keras.Input((224, 224, 3))
            base = tf.keras.applications.EfficientNetB0(include_top=False, pooling="avg")
            outputs = tf.keras.layers.Dense(2)(base(inputs, training=False))
            model = tf.keras.Model(inputs, outputs)
            model.compile("adam", "categorical_crossentropy")
            model.fit(x_train, y_train, batch_size=4)
            model.save("model.keras")
            """,
            target="tf-keras",
        ),
        # the same step on a model that is also run in training mode to predict
        # (pix2pix): batch statistics at inference are the author's choice
        """
        import tensorflow as tf
        model = tf.keras.Sequential([tf.keras.layers.Conv2D(8, 3),
                                     tf.keras.layers.BatchNormalization()])
        optimizer = tf.keras.optimizers.Adam()
        train_ds = tf.data.Dataset.from_tensor_slices((xs, ys)).batch(1)

        @tf.function
        def train_step(x, y):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.abs(model(x, training=True) - y))
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))

        for x, y in train_ds:
            train_step(x, y)
        preview = model(example, training=True)
        """,
        # a validation step on the same batches takes no gradient: not training
        """
        import tensorflow as tf
        model = tf.keras.Sequential([tf.keras.layers.Dense(64),
                                     tf.keras.layers.BatchNormalization()])
        val_ds = tf.data.Dataset.from_tensor_slices((xs, ys)).batch(1)
        for x, y in val_ds:
            with tf.GradientTape() as tape:
                out = model(x, training=False)
        """,
        # a batch of 32 rows, and a new last axis (not a batch of one)
        """
        import numpy as np
        import tensorflow as tf
        model = tf.keras.Sequential([tf.keras.layers.Dense(8),
                                     tf.keras.layers.BatchNormalization(),
                                     tf.keras.layers.Dense(1)])
        model.compile("adam", "mse")
        for i in range(0, len(x_train), 32):
            model.train_on_batch(x_train[i:i + 32], y_train[i:i + 32])
            model.train_on_batch(np.expand_dims(x_train, -1), y_train)
        """,
        """
        import keras
        model = keras.Sequential([keras.layers.Dense(64), keras.layers.BatchNormalization(),
                                  keras.layers.Dense(1)])
        model.compile("adam", "mse")
        model.fit(x, y, batch_size=32)
        """,
        """
        import keras
        base = keras.applications.ResNet50(include_top=False, pooling="avg")
        base.trainable = False
        model = keras.Sequential([base, keras.layers.Dense(5)])
        model.compile("adam", "sparse_categorical_crossentropy")
        model.fit(images, labels, batch_size=2)
        """,
        """
        import keras
        model = keras.Sequential([keras.layers.Dense(64), keras.layers.GroupNormalization(8),
                                  keras.layers.Dense(1)])
        model.compile("adam", "mse")
        model.fit(x, y, batch_size=1)
        """,
        """
        import tensorflow as tf
        model = tf.keras.Sequential([tf.keras.layers.Dense(8),
                                     tf.keras.layers.BatchNormalization()])
        model.compile("adam", "mse")
        ds = tf.data.Dataset.from_tensor_slices(shards).batch(1)
        ds = ds.flat_map(load_shard)
        model.fit(ds)
        """,
        """
        import keras
        model = keras.Sequential([keras.layers.Dense(64), keras.layers.BatchNormalization()])
        model.compile("adam", "mse")
        model.predict(x, batch_size=1)
        model.fit(x, y, batch_size=args.batch_size)
        """,
        # fit() ignores its batch_size for a generator or a dataset that batches itself
        """
        import tensorflow as tf
        from tensorflow.keras.preprocessing.image import ImageDataGenerator
        model = tf.keras.Sequential([tf.keras.layers.Conv2D(8, 3),
                                     tf.keras.layers.BatchNormalization(),
                                     tf.keras.layers.Flatten(), tf.keras.layers.Dense(2)])
        model.compile("adam", "categorical_crossentropy")
        train_gen = ImageDataGenerator(rescale=1 / 255).flow(x, y, batch_size=32)
        model.fit(train_gen, batch_size=1, epochs=5)
        """,
        """
        import keras
        model = keras.Sequential([keras.layers.Conv2D(8, 3), keras.layers.BatchNormalization(),
                                  keras.layers.Flatten(), keras.layers.Dense(2)])
        model.compile("adam", "sparse_categorical_crossentropy")
        train_ds = keras.utils.image_dataset_from_directory("data/train", batch_size=32)
        model.fit(train_ds, batch_size=1, epochs=5)
        """,
        # a generator of 32-sample batches; a function that returns batches but does
        # not yield them is not a generator, and its batch size is not read
        """
        import numpy as np
        from tensorflow import keras
        def data_generator(lines, batch_size):
            while True:
                yield np.array(lines[:batch_size]), np.zeros(batch_size)
        def load_all(lines, batch_size):
            return np.array(lines), np.zeros(len(lines))
        model = keras.Sequential([keras.layers.Dense(16), keras.layers.BatchNormalization(),
                                  keras.layers.Dense(1)])
        model.compile("adam", "mse")
        model.fit(data_generator(lines, 32), steps_per_epoch=100, epochs=5)
        x, y = load_all(lines, batch_size=2)
        model.fit(x, y)
        """,
        # a loop over the project's generator of 32-sample batches
        """
        import numpy as np
        from tensorflow import keras
        def load_batch(batch_size):
            while True:
                yield np.zeros((batch_size, 8)), np.zeros((batch_size, 1))
        model = keras.Sequential([keras.layers.Dense(16), keras.layers.BatchNormalization(),
                                  keras.layers.Dense(1)])
        model.compile("adam", "mse")
        for images, targets in load_batch(32):
            model.train_on_batch(images, targets)
        """,
        # a Sequence of 32-sample batches; a plain class with a batch_size is not one
        """
        import numpy as np
        from tensorflow import keras
        class Loader(keras.utils.Sequence):
            def __init__(self, lines, batch_size=32):
                self.lines, self.batch_size = lines, batch_size
            def __len__(self):
                return len(self.lines) // self.batch_size
            def __getitem__(self, index):
                return np.array(self.lines[:self.batch_size]), np.zeros(self.batch_size)
        class Config:
            def __init__(self):
                self.batch_size = 2
        model = keras.Sequential([keras.layers.Dense(16), keras.layers.BatchNormalization(),
                                  keras.layers.Dense(1)])
        model.compile("adam", "mse")
        model.fit(Loader(lines), epochs=5)
        model.fit(Config(), epochs=5)
        """,
    )

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        thresholds = ctx.settings.thresholds
        seen: set[int] = set()
        for event in _training_steps(ctx.model):
            size, where = event.batch_size, event.batch_node
            if size is None or where is None or not 1 <= size <= thresholds.tiny_batch_info:
                continue
            layer = event.layer
            if layer is None or layer.contains_bn() is not True:
                continue
            if event.bn_trainable_before is not True or id(where) in seen:
                continue
            if layer.runs_in_outer_mode("bn") is False and (
                    ctx.flavour.keras3_functional_override() is not True):
                # every trainable BN layer inside is called with `training=False`, which
                # this Keras honours: they normalise with their moving statistics
                continue
            if not _batch_reaches_model(ctx.model, event, where):
                continue
            written = event.batch_value
            if written is not None and written.assumed and written.setting is None:
                # the default of a parameter of a function nobody here calls: one size
                # a caller may pass, not the one it does (its callers are checked)
                continue
            passed: cst.CSTNode | None = ctx.model.literal_arguments.get(id(written.node)) if (
                written is not None and written.setting is None) else None
            if passed is None and written is not None and written.passed_at is not None and (
                    not _inside(written.passed_at, where)):
                passed = written.passed_at  # `run(size)`: the call that hands it on
            batched: cst.CSTNode | None = None
            if passed is None and written is not None and written.setting is None and (
                    id(where) in ctx.model.entry_sites or id(event.node) in ctx.model.entry_sites):
                # the size read from a configuration dict that this file writes and hands
                # to code in another module: the user sets it at that entry
                passed = ctx.model.literal_entries.get(id(written.node))
                batched = where if passed is not None else None
            if passed is not None:
                where = passed  # `gan.train(batch_size=1)`: the call that passes it on
            seen.add(id(where))
            severity: Severity = "warning" if size <= thresholds.tiny_batch_warning else "info"
            from bnlint.semantic.syntax import dotted  # imports libcst: a model is built

            callee = dotted(event.node.func) if (
                event.kind == "call" and isinstance(event.node, cst.Call)) else None
            label = callee or layer.label  # a training step names what it calls
            name = f"`{label}`" if label else "the model"
            related: list[tuple[cst.CSTNode, str]] = []
            if where is not event.node:
                related.append((event.node, "trained here"))
            if batched is not None:
                related.append((batched, f"batches of {size} are made here"))
            if written is not None and written.node is not None and not _inside(
                    written.node, where):
                origin = written.setting or "set here"
                related.append((written.node, f"batch size {size}, {origin}"))
            yield Report(
                where,
                _message(size, name),
                related=tuple(related),
                severity=severity,
                anchors=(layer.node,) if layer.node is not None else (),
                scenario=scenario(self.code, batch_size=size, **model_facts(layer)),
            )


def _training_steps(model: SemanticModel) -> Iterator[Event]:
    """The fits, then the calls of a custom training step: ``model(x, training=True)``
    on a batch of known size, recorded on a tape that gradients are taken from."""
    yield from model.events_of("fit")
    calls = list(model.events_of("call"))
    # a model also run with `training=True` outside training (pix2pix's generate_images)
    # uses batch statistics at inference on purpose: its moving statistics are unused
    on_purpose = {id(event.layer) for event in calls
                  if event.training == "true" and not wf.in_training_tape(model, event)}
    for event in calls:
        if event.batch_size is not None and id(event.layer) not in on_purpose and (
                wf.in_training_tape(model, event)) and _used_at_inference(model, event,
                                                                          on_purpose):
            yield event


def _used_at_inference(model: SemanticModel, step: Event,
                       on_purpose: set[int] | None = None) -> bool:
    """Are the moving statistics of the model trained at ``step`` read after it: the
    model (or one holding it) predicts or evaluates, is called outside training without
    ``training=True``, or is saved for later use (also in a ``tf.train.Checkpoint``)?
    (A GAN discriminator that only ever trains never reads them.) A checkpoint that also
    holds a model run with ``training=True`` outside training (``on_purpose``: pix2pix's
    generator, which uses batch statistics at inference) saves a recipe built on batch
    statistics, not moving statistics for inference; nor does a checkpoint save a
    discriminator for inference."""
    layer = step.layer
    if layer is None:
        return False

    def holds(other: object) -> bool:
        return other is layer or isinstance(other, Layer) and any(
            part is layer for part in other.descendants())

    for event in wf.events_between(model, step, None):
        if not holds(event.layer):
            continue
        if event.kind == "evaluate" or event.kind == "call" and event.training != "true" and (
                not wf.in_training_tape(model, event)):
            return True
    for call in model.calls:
        if call.method not in _SAVING:
            continue
        receiver = call.receiver
        if holds(receiver):
            return True
        if isinstance(receiver, Checkpoint) and any(holds(saved) for saved in receiver.saves) and (
                not any(id(saved) in (on_purpose or ()) for saved in receiver.saves)) and (
                not _is_critic(model, layer)):
            return True
    return False


def _is_critic(model: SemanticModel, layer: Layer) -> bool:
    """Is ``layer`` a critic: trained on what another model made (one of its training
    calls takes a tensor that a call of another model produced), while what it makes
    feeds no other model? A GAN's discriminator, which a checkpoint saves to resume
    training, never to infer; CycleGAN's generators feed each other and are no critics."""
    judges = feeds = False
    for event in model.events_of("call"):
        if event.training != "true" or event.layer is None:
            continue
        makers = {id(wiring.child) for value in event.inputs for item in flattened(value)
                  if isinstance(item, Tensor) for wiring in item.history
                  if wiring.child.is_model}
        if event.layer is layer:
            judges = judges or bool(makers - {id(layer)})
        elif event.layer.is_model and id(layer) in makers:
            feeds = True
    return judges and not feeds


def _inside(node: cst.CSTNode, outer: object) -> bool:
    """Is ``node`` ``outer`` or one of its parts (the literal of a reported argument)?"""
    return isinstance(outer, cst.CSTNode) and any(inner is node for inner in walk(outer))


def _message(size: int, model: str) -> str:
    if size == 1:
        effect = ("one sample has zero variance on dense features, so the output is just "
                  "beta, and the moving statistics used at inference follow single samples")
    elif size == 2:
        effect = ("with two samples every normalised dense feature is +-1, and the moving "
                  "statistics used at inference drift far from the data's")
    else:
        effect = (f"the statistics of {size} samples are noise, and so are the moving "
                  "mean/variance used at inference")
    return (f"{model} trains BatchNormalization on batches of {size}: each batch is "
            f"normalised with its own mean and variance; {effect}; use batches of 8 or more, "
            "freeze the BN layers, or use GroupNormalization/LayerNormalization")


def _batch_reaches_model(model: SemanticModel, event: Event, where: object) -> bool:
    """The size really is the training batch: the `.batch(n)` dataset is not rebatched
    later, and a `batch_size=` argument is not ignored because the data is a generator
    or a dataset."""
    node = event.node
    if not isinstance(node, cst.Call):
        return False
    if any(where is arg for arg in node.args):
        # the fit call's own `batch_size=`
        if event.method != "fit":
            return False
        data = argument(node, "x", 0)
        if data is None:
            return False
        value = data.value
        if (isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute)
                and value.func.attr.value in _GENERATORS):
            return False
        return not _is_dataset_argument(model, value)
    for call in model.calls:
        receiver = call.receiver
        if (isinstance(receiver, Dataset) and receiver.batch_node is where
                and call.method in _REBATCHING):
            return False
    return True


def _is_dataset_argument(model: SemanticModel, value: cst.BaseExpression) -> bool:
    """``fit(ds, batch_size=n)`` with ``ds`` a tf.data pipeline or a generator that
    makes its own batches: Keras ignores n."""
    pipelines = {id(call.node) for call in model.calls
                 if isinstance(call.receiver, Dataset) or call.method in _GENERATORS
                 or (call.name is not None and (
                     call.name.startswith("tf.data.")
                     or call.name.rsplit(".", 1)[-1] in _DATASET_UTILITIES))}
    if isinstance(value, cst.Call):
        return id(value) in pipelines
    if not isinstance(value, cst.Name):
        return False
    finder = _Assignments(value.value)
    run_visitor(finder, model.module)
    return any(id(assigned) in pipelines for assigned in finder.values)


class _Assignments:
    """The values assigned to one name anywhere in the module."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.values: list[cst.BaseExpression] = []

    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            if isinstance(target.target, cst.Name) and target.target.value == self.name:
                self.values.append(node.value)
