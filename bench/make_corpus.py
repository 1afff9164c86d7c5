#!/usr/bin/env python3
"""Generate a synthetic corpus of Keras-style training code for ``bench/bench.py``.

    python bench/make_corpus.py OUT_DIR --files 200 [--seed 0] [--notebook-share 0.1]

The corpus imitates a repository of user code: fine-tuning scripts (frozen and
unfrozen pretrained bases, right and wrong), from-scratch CNNs, custom training loops,
subclassed models, GANs, TF1 graph code, models without BatchNormalization, and many
plain-Python files (data helpers, CLIs, configs, metrics, scikit-learn baselines,
tests) that never mention Keras, so the prefilter has something to skip. Files are
100-300 lines. The same seed always gives byte-identical output. Every generated
script is checked with ``ast.parse`` before it is written.

Standard library only; nothing here imports TensorFlow or bnlint.
"""

from __future__ import annotations

import argparse
import ast
import itertools
import json
import random
import re
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path


def block(text: str) -> str:
    """Dedent a code template and end it with exactly one newline."""
    return textwrap.dedent(text).strip("\n") + "\n"


# --------------------------------------------------------------------------- API styles


@dataclass(frozen=True)
class Style:
    """One way user code imports Keras."""

    imports: tuple[str, ...]
    keras: str  # expression naming the keras module
    layers: str  # prefix of layer classes ("" when they are imported by name)
    bn_alias: str | None = None
    direct_from: str | None = None  # module the layer classes are imported from


STYLES: tuple[tuple[Style, int], ...] = (
    (Style(("import keras", "from keras import layers"), "keras", "layers."), 30),
    (Style(("import tensorflow as tf", "from tensorflow import keras",
            "from tensorflow.keras import layers"), "keras", "layers."), 25),
    (Style(("import tensorflow as tf",), "tf.keras", "tf.keras.layers."), 12),
    (Style(("import tensorflow as tf", "from tensorflow import keras"), "keras", "",
           direct_from="tensorflow.keras.layers"), 12),
    (Style(("import keras", "from keras import layers",
            "from keras.layers import BatchNormalization as BN"), "keras", "layers.",
           bn_alias="BN"), 6),
    (Style(("import tf_keras as keras", "from tf_keras import layers"), "keras", "layers."), 5),
    (Style(("import tensorflow as tf", "import keras", "from keras import layers"),
           "keras", "layers."), 10),
)


class Ctx:
    """Per-file generation state: the random stream, the Keras import style and the
    layer classes used (for styles that import them by name)."""

    def __init__(self, rng: random.Random, style: Style) -> None:
        self.rng = rng
        self.style = style
        self.direct: set[str] = set()
        self.used_names: set[str] = set()

    @property
    def k(self) -> str:
        return self.style.keras

    def L(self, name: str) -> str:  # upper-case: reads like the layer namespace
        if self.style.direct_from is not None:
            self.direct.add(name)
            return name
        return self.style.layers + name

    def bn(self, args: str = "") -> str:
        ctor = self.style.bn_alias or self.L("BatchNormalization")
        return f"{ctor}({args})"

    def choice(self, items):  # type: ignore[no-untyped-def]
        return self.rng.choice(items)

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def unique(self, name: str) -> str:
        candidate, n = name, 2
        while candidate in self.used_names:
            candidate, n = f"{name}_{n}", n + 1
        self.used_names.add(candidate)
        return candidate


# --------------------------------------------------------------------------- vocabulary

APPS_WITH_BN = (
    ("ResNet50", "resnet50", 224), ("EfficientNetB0", "efficientnet", 224),
    ("MobileNetV2", "mobilenet_v2", 224), ("DenseNet121", "densenet", 224),
    ("Xception", "xception", 299), ("InceptionV3", "inception_v3", 299),
    ("EfficientNetV2B0", "efficientnet_v2", 224), ("ResNet50V2", "resnet_v2", 224),
    ("MobileNetV3Small", "mobilenet_v3", 224), ("EfficientNetB3", "efficientnet", 300),
)
APPS_WITHOUT_BN = (("VGG16", "vgg16", 224), ("ConvNeXtTiny", "convnext", 224))
TFDS_SETS = (("tf_flowers", 5), ("cats_vs_dogs", 2), ("stanford_dogs", 120),
             ("oxford_iiit_pet", 37), ("food101", 101), ("eurosat", 10), ("caltech101", 102))
ARRAY_SETS = (("mnist", (28, 28, 1), 10), ("fashion_mnist", (28, 28, 1), 10),
              ("cifar10", (32, 32, 3), 10), ("cifar100", (32, 32, 3), 100))
MODEL_NAMES = ("model", "model", "net", "classifier", "clf")
BASE_NAMES = ("base", "base_model", "backbone", "encoder", "feature_extractor")


# --------------------------------------------------------------------------- helper pool
# Plain-Python helpers used to pad files (and as the body of non-Keras files).
# "__NAME__" is replaced by a name unique in the file.

PLAIN_HELPERS: tuple[tuple[str, str], ...] = (
    ("moving_average", '''
        def __NAME__(values, window=5):
            """Trailing moving average; the first window-1 points average what exists."""
            out = []
            total = 0.0
            for i, value in enumerate(values):
                total += value
                if i >= window:
                    total -= values[i - window]
                out.append(total / min(i + 1, window))
            return out
    '''),
    ("confusion_matrix", '''
        def __NAME__(y_true, y_pred, num_classes):
            """Counts of (true, predicted) label pairs as a dense matrix."""
            matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
            for t, p in zip(y_true, y_pred):
                matrix[int(t), int(p)] += 1
            return matrix
    '''),
    ("read_jsonl", '''
        def __NAME__(path):
            """Read one JSON object per line, skipping blank lines."""
            records = []
            with open(path, encoding="utf-8") as handle:
                for line_no, line in enumerate(handle, 1):
                    line = line.strip()
                    if not line:
                        continue
                    try:
                        records.append(json.loads(line))
                    except json.JSONDecodeError as error:
                        raise ValueError("%s:%d: %s" % (path, line_no, error)) from error
            return records
    '''),
    ("chunked", '''
        def __NAME__(items, size):
            """Split a sequence into lists of at most ``size`` items."""
            if size <= 0:
                raise ValueError("size must be positive")
            return [items[i:i + size] for i in range(0, len(items), size)]
    '''),
    ("set_seed", '''
        def __NAME__(seed):
            """Seed the Python and numpy generators."""
            random.seed(seed)
            np.random.seed(seed)
            os.environ["PYTHONHASHSEED"] = str(seed)
    '''),
    ("format_seconds", '''
        def __NAME__(seconds):
            """1h 02m 03s style durations for log lines."""
            seconds = int(round(seconds))
            hours, rest = divmod(seconds, 3600)
            minutes, seconds = divmod(rest, 60)
            if hours:
                return "%dh %02dm %02ds" % (hours, minutes, seconds)
            if minutes:
                return "%dm %02ds" % (minutes, seconds)
            return "%ds" % seconds
    '''),
    ("topk_accuracy", '''
        def __NAME__(scores, labels, k=5):
            """Share of rows whose label is among the k highest scores."""
            scores = np.asarray(scores)
            labels = np.asarray(labels)
            top = np.argsort(-scores, axis=1)[:, :k]
            hits = (top == labels[:, None]).any(axis=1)
            return float(hits.mean())
    '''),
    ("class_weights", '''
        def __NAME__(labels):
            """Inverse-frequency class weights, normalised to mean 1."""
            labels = np.asarray(labels).reshape(-1)
            classes, counts = np.unique(labels, return_counts=True)
            weights = counts.sum() / (len(classes) * counts)
            return {int(c): float(w) for c, w in zip(classes, weights)}
    '''),
    ("save_history", '''
        def __NAME__(history, path):
            """Write a metrics history (dict of lists) as JSON next to the checkpoints."""
            path = Path(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            clean = {key: [float(v) for v in values] for key, values in history.items()}
            path.write_text(json.dumps(clean, indent=2), encoding="utf-8")
            return path
    '''),
    ("load_labels", '''
        def __NAME__(csv_path, id_column="image_id", label_column="label"):
            """Map image ids to integer labels from a CSV file."""
            mapping = {}
            with open(csv_path, newline="", encoding="utf-8") as handle:
                for row in csv.DictReader(handle):
                    mapping[row[id_column]] = int(row[label_column])
            return mapping
    '''),
    ("list_images", '''
        def __NAME__(root, suffixes=(".jpg", ".jpeg", ".png")):
            """All image files below ``root``, sorted for reproducibility."""
            root = Path(root)
            files = [p for p in root.rglob("*") if p.suffix.lower() in suffixes]
            return sorted(files)
    '''),
    ("stratified_indices", '''
        def __NAME__(labels, share, seed=0):
            """Indices of a stratified sample holding ``share`` of every class."""
            rng = np.random.default_rng(seed)
            labels = np.asarray(labels)
            picked = []
            for cls in np.unique(labels):
                members = np.flatnonzero(labels == cls)
                n = max(1, int(round(len(members) * share)))
                picked.extend(rng.choice(members, size=n, replace=False).tolist())
            return np.sort(np.asarray(picked))
    '''),
    ("cosine_decay", '''
        def __NAME__(step, total_steps, base_lr, warmup=0):
            """Learning rate with linear warm-up and cosine decay to zero."""
            if warmup and step < warmup:
                return base_lr * (step + 1) / warmup
            progress = (step - warmup) / max(1, total_steps - warmup)
            return 0.5 * base_lr * (1.0 + math.cos(math.pi * min(1.0, progress)))
    '''),
    ("normalize_text", '''
        def __NAME__(text):
            """Lower-case, strip accents-free punctuation and squeeze whitespace."""
            text = text.lower()
            text = re.sub(r"[^a-z0-9\\s']", " ", text)
            return re.sub(r"\\s+", " ", text).strip()
    '''),
    ("build_vocabulary", '''
        def __NAME__(texts, max_size=20000, min_count=2):
            """Most frequent tokens first; index 0 is padding and 1 is out-of-vocabulary."""
            counts = collections.Counter(token for text in texts for token in text.split())
            vocab = ["<pad>", "<unk>"]
            for token, count in counts.most_common():
                if count < min_count or len(vocab) >= max_size:
                    break
                vocab.append(token)
            return {token: index for index, token in enumerate(vocab)}
    '''),
    ("encode_texts", '''
        def __NAME__(texts, vocab, length=128):
            """Token ids, padded or cut to ``length``."""
            out = np.zeros((len(texts), length), dtype=np.int32)
            for row, text in enumerate(texts):
                ids = [vocab.get(token, 1) for token in text.split()][:length]
                out[row, :len(ids)] = ids
            return out
    '''),
    ("precision_recall", '''
        def __NAME__(y_true, y_pred, positive=1):
            """Precision, recall and F1 of one class."""
            y_true = np.asarray(y_true)
            y_pred = np.asarray(y_pred)
            tp = int(np.sum((y_pred == positive) & (y_true == positive)))
            fp = int(np.sum((y_pred == positive) & (y_true != positive)))
            fn = int(np.sum((y_pred != positive) & (y_true == positive)))
            precision = tp / (tp + fp) if tp + fp else 0.0
            recall = tp / (tp + fn) if tp + fn else 0.0
            f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
            return precision, recall, f1
    '''),
    ("timer", '''
        class __NAME__:
            """Context manager that logs how long a block took."""

            def __init__(self, label, log=print):
                self.label = label
                self.log = log
                self.start = 0.0

            def __enter__(self):
                self.start = time.perf_counter()
                return self

            def __exit__(self, *exc_info):
                elapsed = time.perf_counter() - self.start
                self.log("%s took %.2fs" % (self.label, elapsed))
                return False
    '''),
    ("find_checkpoint", '''
        def __NAME__(directory, pattern="*.keras"):
            """The most recently modified checkpoint in ``directory``, or None."""
            candidates = sorted(Path(directory).glob(pattern), key=lambda p: p.stat().st_mtime)
            return candidates[-1] if candidates else None
    '''),
    ("setup_logging", '''
        def __NAME__(level="INFO", path=None):
            """Log to stderr and, when a path is given, to a file as well."""
            handlers = [logging.StreamHandler()]
            if path is not None:
                handlers.append(logging.FileHandler(path))
            logging.basicConfig(
                level=getattr(logging, level.upper()),
                format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                handlers=handlers,
            )
            return logging.getLogger("experiment")
    '''),
    ("random_crop", '''
        def __NAME__(image, size, rng=None):
            """A random ``size`` x ``size`` crop of an HWC array."""
            rng = rng or np.random.default_rng()
            height, width = image.shape[:2]
            if height < size or width < size:
                raise ValueError("image smaller than the crop")
            top = int(rng.integers(0, height - size + 1))
            left = int(rng.integers(0, width - size + 1))
            return image[top:top + size, left:left + size]
    '''),
    ("one_hot", '''
        def __NAME__(labels, num_classes):
            """Dense one-hot rows for integer labels."""
            labels = np.asarray(labels, dtype=np.int64).reshape(-1)
            out = np.zeros((labels.size, num_classes), dtype=np.float32)
            out[np.arange(labels.size), labels] = 1.0
            return out
    '''),
    ("merge_dicts", '''
        def __NAME__(base, override):
            """Recursively merge two configuration dicts; ``override`` wins."""
            merged = dict(base)
            for key, value in override.items():
                if isinstance(value, dict) and isinstance(merged.get(key), dict):
                    merged[key] = __NAME__(merged[key], value)
                else:
                    merged[key] = value
            return merged
    '''),
    ("batch_iterator", '''
        def __NAME__(arrays, size, shuffle=True, seed=0):
            """Yield aligned slices of several arrays."""
            count = len(arrays[0])
            order = np.arange(count)
            if shuffle:
                np.random.default_rng(seed).shuffle(order)
            for start in range(0, count, size):
                index = order[start:start + size]
                yield tuple(array[index] for array in arrays)
    '''),
    ("describe_array", '''
        def __NAME__(name, array):
            """One line with shape, dtype and value range, for quick sanity checks."""
            array = np.asarray(array)
            return "%s: shape=%s dtype=%s min=%.4g max=%.4g mean=%.4g" % (
                name, array.shape, array.dtype, array.min(), array.max(), array.mean())
    '''),
    ("iter_lines", '''
        def __NAME__(paths):
            """Yield (path, line number, text) for every non-empty line of the files."""
            for path in paths:
                with open(path, encoding="utf-8", errors="replace") as handle:
                    for number, line in enumerate(handle, 1):
                        if line.strip():
                            yield path, number, line.rstrip("\\n")
    '''),
)


TEXT_HELPERS = frozenset({"normalize_text", "build_vocabulary", "encode_texts"})


def plain_helper(ctx: Ctx, index: int | None = None) -> str:
    base_name, template = PLAIN_HELPERS[
        index if index is not None else ctx.rng.randrange(len(PLAIN_HELPERS))]
    name = ctx.unique(base_name.title().replace("_", "") if "class __NAME__" in template
                      else base_name)
    return block(template).replace("__NAME__", name)


KERAS_HELPER_KINDS = 5


def keras_helper(ctx: Ctx, kind: int) -> str:
    """Keras-specific helpers (callbacks, plotting, augmentation) used by training scripts."""
    k = ctx.k
    if kind == 0:
        name = ctx.unique("make_callbacks")
        return block(f'''
            def {name}(checkpoint_path, patience=5):
                """Checkpoint the best model and stop when validation loss stalls."""
                return [
                    {k}.callbacks.ModelCheckpoint(checkpoint_path, save_best_only=True),
                    {k}.callbacks.EarlyStopping(patience=patience, restore_best_weights=True),
                    {k}.callbacks.ReduceLROnPlateau(factor=0.5, patience=max(1, patience // 2)),
                ]
        ''')
    if kind == 1:
        name = ctx.unique("plot_history")
        return block(f'''
            def {name}(history, metric="accuracy", path=None):
                """Training and validation curves of one metric."""
                plt.figure(figsize=(6, 4))
                plt.plot(history.history[metric], label="train")
                if "val_" + metric in history.history:
                    plt.plot(history.history["val_" + metric], label="validation")
                plt.xlabel("epoch")
                plt.ylabel(metric)
                plt.legend()
                if path:
                    plt.savefig(path, dpi=120, bbox_inches="tight")
                plt.close()
        ''')
    if kind == 2:
        name = ctx.unique("make_augmentation")
        return block(f'''
            def {name}(flip="horizontal", rotation=0.1, zoom=0.1):
                """Random flips, rotations and zooms, active only while fitting."""
                return {k}.Sequential(
                    [
                        {ctx.L("RandomFlip")}(flip),
                        {ctx.L("RandomRotation")}(rotation),
                        {ctx.L("RandomZoom")}(zoom),
                    ],
                    name="augmentation",
                )
        ''')
    if kind == 3:
        name = ctx.unique("count_parameters")
        return block(f'''
            def {name}(model):
                """Trainable and frozen parameter counts, for the log."""
                frozen = sum(int(np.prod(w.shape)) for w in model.non_trainable_weights)
                active = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
                return {{"trainable": active, "non_trainable": frozen}}
        ''')
    name = ctx.unique("warmup_schedule")
    return block(f'''
        class {name.title().replace("_", "")}({k}.optimizers.schedules.LearningRateSchedule):
            """Linear warm-up to ``peak`` over ``warmup_steps``, then constant."""

            def __init__(self, peak, warmup_steps):
                super().__init__()
                self.peak = peak
                self.warmup_steps = warmup_steps

            def __call__(self, step):
                step = tf.cast(step, tf.float32)
                ramp = self.peak * (step + 1.0) / float(self.warmup_steps)
                return tf.minimum(ramp, self.peak)

            def get_config(self):
                return {{"peak": self.peak, "warmup_steps": self.warmup_steps}}
    ''')


# --------------------------------------------------------------------------- data


@dataclass
class Data:
    """How the script's data is held: numpy arrays or tf.data pipelines."""

    arrays: bool
    input_shape: tuple[int, ...]
    num_classes: int
    code: str
    batch: int

    def fit_args(self, epochs: int, callbacks: str | None = None) -> str:
        extra = f", callbacks={callbacks}" if callbacks else ""
        if self.arrays:
            return (f"x_train, y_train, batch_size=BATCH_SIZE, epochs={epochs}, "
                    f"validation_data=(x_val, y_val){extra}")
        return f"train_ds, epochs={epochs}, validation_data=val_ds{extra}"

    @property
    def test(self) -> str:
        return "x_test, y_test" if self.arrays else "test_ds"


def pick_batch(ctx: Ctx) -> int:
    # Mostly ordinary sizes; a few tiny ones as found in memory-starved scripts.
    return ctx.choice((16, 32, 32, 32, 64, 64, 128, 256, 8, 4, 2, 1))


def array_data(ctx: Ctx) -> Data:
    name, shape, classes = ctx.choice(ARRAY_SETS)
    batch = pick_batch(ctx)
    expand = "[..., None]" if shape[-1] == 1 else ""
    code = block(f'''
        (x_train, y_train), (x_test, y_test) = {ctx.k}.datasets.{name}.load_data()
        x_train = x_train.astype("float32"){expand} / 255.0
        x_test = x_test.astype("float32"){expand} / 255.0
        y_train = y_train.reshape(-1)
        y_test = y_test.reshape(-1)
        x_train, x_val = x_train[:-5000], x_train[-5000:]
        y_train, y_val = y_train[:-5000], y_train[-5000:]
    ''')
    return Data(True, shape, classes, code, batch)


def tfds_data(ctx: Ctx, size: int) -> Data:
    name, classes = ctx.choice(TFDS_SETS)
    batch = pick_batch(ctx)
    code = block(f'''
        (train_raw, val_raw, test_raw), info = tfds.load(
            "{name}",
            split=["train[:70%]", "train[70%:85%]", "train[85%:]"],
            as_supervised=True,
            with_info=True,
        )


        def preprocess(image, label):
            image = tf.image.resize(image, (IMG_SIZE, IMG_SIZE))
            return tf.cast(image, tf.float32), label


        train_ds = (
            train_raw.map(preprocess, num_parallel_calls=tf.data.AUTOTUNE)
            .shuffle(1024)
            .batch(BATCH_SIZE)
            .prefetch(tf.data.AUTOTUNE)
        )
        val_ds = val_raw.map(preprocess).batch(BATCH_SIZE).prefetch(tf.data.AUTOTUNE)
        test_ds = test_raw.map(preprocess).batch(BATCH_SIZE)
    ''')
    return Data(False, (size, size, 3), classes, code, batch)


def directory_data(ctx: Ctx, size: int) -> Data:
    batch = pick_batch(ctx)
    classes = ctx.choice((2, 3, 5, 10, 12, 20))
    code = block(f'''
        train_ds = {ctx.k}.utils.image_dataset_from_directory(
            DATA_DIR,
            validation_split=0.2,
            subset="training",
            seed=SEED,
            image_size=(IMG_SIZE, IMG_SIZE),
            batch_size=BATCH_SIZE,
        )
        val_ds = {ctx.k}.utils.image_dataset_from_directory(
            DATA_DIR,
            validation_split=0.2,
            subset="validation",
            seed=SEED,
            image_size=(IMG_SIZE, IMG_SIZE),
            batch_size=BATCH_SIZE,
        )
        test_ds = {ctx.k}.utils.image_dataset_from_directory(
            TEST_DIR, image_size=(IMG_SIZE, IMG_SIZE), batch_size=BATCH_SIZE, shuffle=False
        )
        class_names = train_ds.class_names
        train_ds = train_ds.prefetch(tf.data.AUTOTUNE)
        val_ds = val_ds.prefetch(tf.data.AUTOTUNE)
    ''')
    return Data(False, (size, size, 3), classes, code, batch)


def constants(ctx: Ctx, data: Data, size: int | None, lr: float) -> str:
    lines = [f"BATCH_SIZE = {data.batch}", f"NUM_CLASSES = {data.num_classes}",
             f"EPOCHS = {ctx.choice((5, 10, 20, 30, 50))}", f"LEARNING_RATE = {lr!r}",
             f"SEED = {ctx.choice((0, 1, 7, 42, 1234))}"]
    if size is not None:
        lines.insert(0, f"IMG_SIZE = {size}")
    if not data.arrays:
        lines.append(f'DATA_DIR = "{ctx.choice(("data/train", "/data/images", "datasets/raw"))}"')
        lines.append('TEST_DIR = "data/test"')
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- models


def bn_args(ctx: Ctx) -> str:
    return ctx.choice(("", "", "", "", "momentum=0.9", "epsilon=1e-5", "axis=-1",
                       "momentum=0.99, epsilon=1e-3", "momentum=0.1", "trainable=False"))


def scratch_sequential(ctx: Ctx, model: str, data: Data) -> str:
    rows = [f"{ctx.k}.Input(shape={data.input_shape}),"]
    for filters in (32, 64, 128, 256)[: ctx.rng.randint(2, 4)]:
        use_bn = ctx.chance(0.85)
        rows.append(f'{ctx.L("Conv2D")}({filters}, 3, padding="same", use_bias={not use_bn}),')
        if use_bn:
            rows.append(ctx.bn(bn_args(ctx)) + ",")
        rows.append(f'{ctx.L("Activation")}("relu"),')
        rows.append(f'{ctx.L("MaxPooling2D")}(),')
    rows.append(f'{ctx.L("GlobalAveragePooling2D")}(),')
    if ctx.chance(0.6):
        rows.append(f'{ctx.L("Dropout")}({ctx.choice((0.2, 0.3, 0.5))}),')
    rows.append(f'{ctx.L("Dense")}(NUM_CLASSES, activation="softmax"),')
    body = "\n".join("        " + row for row in rows)
    return f"{model} = {ctx.k}.Sequential(\n    [\n{body}\n    ]\n)\n"


def functional_resnet(ctx: Ctx, model: str, data: Data) -> str:
    block_fn = ctx.unique("residual_block")
    build_fn = ctx.unique("build_model")
    bn = ctx.bn(bn_args(ctx))
    return block(f'''
        def {block_fn}(x, filters, strides=1):
            shortcut = x
            x = {ctx.L("Conv2D")}(filters, 3, strides=strides, padding="same", use_bias=False)(x)
            x = {bn}(x)
            x = {ctx.L("ReLU")}()(x)
            x = {ctx.L("Conv2D")}(filters, 3, padding="same", use_bias=False)(x)
            x = {ctx.bn()}(x)
            if strides != 1 or shortcut.shape[-1] != filters:
                shortcut = {ctx.L("Conv2D")}(filters, 1, strides=strides, use_bias=False)(shortcut)
                shortcut = {ctx.bn()}(shortcut)
            x = {ctx.L("Add")}()([x, shortcut])
            return {ctx.L("ReLU")}()(x)


        def {build_fn}(input_shape, num_classes, widths=(32, 64, 128)):
            inputs = {ctx.k}.Input(shape=input_shape)
            x = {ctx.L("Conv2D")}(widths[0], 3, padding="same", use_bias=False)(inputs)
            x = {ctx.bn()}(x)
            x = {ctx.L("ReLU")}()(x)
            for i, filters in enumerate(widths):
                x = {block_fn}(x, filters, strides=1 if i == 0 else 2)
                x = {block_fn}(x, filters)
            x = {ctx.L("GlobalAveragePooling2D")}()(x)
            x = {ctx.L("Dropout")}(0.3)(x)
            outputs = {ctx.L("Dense")}(num_classes, activation="softmax")(x)
            return {ctx.k}.Model(inputs, outputs, name="small_resnet")


        {model} = {build_fn}({data.input_shape}, NUM_CLASSES)
    ''')


def subclassed(ctx: Ctx, model: str, data: Data, forward_training: bool) -> str:
    cls = ctx.unique(ctx.choice(("ConvNet", "SimpleCNN", "Classifier", "TinyResNet")))
    bn_call = "(x, training=training)" if forward_training else "(x)"
    return block(f'''
        class {cls}({ctx.k}.Model):
            def __init__(self, num_classes, width=64, **kwargs):
                super().__init__(**kwargs)
                self.conv1 = {ctx.L("Conv2D")}(width, 3, padding="same", use_bias=False)
                self.bn1 = {ctx.bn()}
                self.conv2 = {ctx.L("Conv2D")}(width * 2, 3, padding="same", use_bias=False)
                self.bn2 = {ctx.bn()}
                self.pool = {ctx.L("GlobalAveragePooling2D")}()
                self.dropout = {ctx.L("Dropout")}(0.3)
                self.head = {ctx.L("Dense")}(num_classes)

            def call(self, inputs, training=False):
                x = self.conv1(inputs)
                x = self.bn1{bn_call}
                x = {ctx.k}.activations.relu(x)
                x = self.conv2(x)
                x = self.bn2{bn_call}
                x = {ctx.k}.activations.relu(x)
                x = self.pool(x)
                x = self.dropout(x, training=training)
                return self.head(x)


        {model} = {cls}(NUM_CLASSES)
    ''')


def text_model(ctx: Ctx, model: str) -> str:
    """A model without BatchNormalization (embedding + LayerNormalization or LSTM)."""
    if ctx.chance(0.5):
        return block(f'''
            inputs = {ctx.k}.Input(shape=(MAX_LEN,), dtype="int32")
            x = {ctx.L("Embedding")}(VOCAB_SIZE, 128)(inputs)
            attention = {ctx.L("MultiHeadAttention")}(num_heads=4, key_dim=32)(x, x)
            x = {ctx.L("LayerNormalization")}(epsilon=1e-6)(x + attention)
            ffn = {ctx.L("Dense")}(256, activation="relu")(x)
            ffn = {ctx.L("Dense")}(128)(ffn)
            x = {ctx.L("LayerNormalization")}(epsilon=1e-6)(x + ffn)
            x = {ctx.L("GlobalAveragePooling1D")}()(x)
            x = {ctx.L("Dropout")}(0.1)(x)
            outputs = {ctx.L("Dense")}(NUM_CLASSES, activation="softmax")(x)
            {model} = {ctx.k}.Model(inputs, outputs)
        ''')
    return block(f'''
        {model} = {ctx.k}.Sequential(
            [
                {ctx.k}.Input(shape=(MAX_LEN,), dtype="int32"),
                {ctx.L("Embedding")}(VOCAB_SIZE, 64, mask_zero=True),
                {ctx.L("Bidirectional")}({ctx.L("LSTM")}(64)),
                {ctx.L("Dense")}(64, activation="relu"),
                {ctx.L("Dense")}(NUM_CLASSES, activation="softmax"),
            ]
        )
    ''')


def compile_call(ctx: Ctx, model: str, optimizer: str, logits: bool = False) -> str:
    loss = ('"sparse_categorical_crossentropy"' if not logits else
            f"{ctx.k}.losses.SparseCategoricalCrossentropy(from_logits=True)")
    return block(f'''
        {model}.compile(
            optimizer={optimizer},
            loss={loss},
            metrics=["accuracy"],
        )
    ''')


def optimizer_expr(ctx: Ctx, lr: str | None) -> str:
    name = ctx.choice(("Adam", "Adam", "Adam", "RMSprop", "SGD", "AdamW"))
    if lr is None:
        return ctx.choice(('"adam"', '"rmsprop"', f"{ctx.k}.optimizers.{name}()"))
    if name == "SGD":
        return f"{ctx.k}.optimizers.SGD(learning_rate={lr}, momentum=0.9)"
    return f"{ctx.k}.optimizers.{name}(learning_rate={lr})"


# --------------------------------------------------------------------------- scripts


def docstring(ctx: Ctx, summary: str) -> str:
    extra = ctx.choice((
        "", "", "Run from the repository root; paths are relative to it.",
        "Checkpoints and logs go to ./runs/.", "Settings are the constants below.",
    ))
    if not extra:
        return f'"""{summary}"""\n'
    return f'"""{summary}\n\n{extra}\n"""\n'


def bn_class(ctx: Ctx) -> str:
    return ctx.style.bn_alias or ctx.L("BatchNormalization")


def finetune_script(ctx: Ctx) -> list[str]:
    with_bn = ctx.chance(0.85)
    app, module, size = ctx.choice(APPS_WITH_BN if with_bn else APPS_WITHOUT_BN)
    data = tfds_data(ctx, size) if ctx.chance(0.5) else directory_data(ctx, size)
    model, base = ctx.choice(MODEL_NAMES), ctx.choice(BASE_NAMES)
    head_lr = ctx.choice(("1e-3", "1e-2", "LEARNING_RATE", "3e-4"))
    parts = [
        docstring(ctx, f"Fine-tune an ImageNet {app} on a new image classification task."),
        "__IMPORTS__",
        constants(ctx, data, size, 1e-3),
        "__HELPERS__",
        data.code,
    ]
    weights = ctx.choice(('weights="imagenet", ', 'weights="imagenet", ', ""))
    wiring = ctx.choice(("sequential", "functional_false", "functional_false",
                         "functional_plain", "input_tensor"))
    preprocess = f"{ctx.k}.applications.{module}.preprocess_input"
    freeze_first = ctx.chance(0.85)
    if wiring == "input_tensor":
        parts.append(block(f'''
            inputs = {ctx.k}.Input(shape=(IMG_SIZE, IMG_SIZE, 3))
            x = {preprocess}(inputs)
            {base} = {ctx.k}.applications.{app}(
                {weights}include_top=False, input_tensor=x
            )
        '''))
        if freeze_first:
            parts.append(f"{base}.trainable = False\n")
        parts.append(block(f'''
            x = {ctx.L("GlobalAveragePooling2D")}()({base}.output)
            x = {ctx.L("Dropout")}(0.2)(x)
            outputs = {ctx.L("Dense")}(NUM_CLASSES, activation="softmax")(x)
            {model} = {ctx.k}.Model(inputs, outputs)
        '''))
    else:
        parts.append(block(f'''
            {base} = {ctx.k}.applications.{app}(
                {weights}include_top=False, input_shape=(IMG_SIZE, IMG_SIZE, 3)
            )
        '''))
        if freeze_first:
            parts.append(f"{base}.trainable = False\n")
        if wiring == "sequential":
            parts.append(block(f'''
                {model} = {ctx.k}.Sequential(
                    [
                        {ctx.k}.Input(shape=(IMG_SIZE, IMG_SIZE, 3)),
                        {ctx.L("Lambda")}({preprocess}),
                        {base},
                        {ctx.L("GlobalAveragePooling2D")}(),
                        {ctx.L("Dense")}(NUM_CLASSES, activation="softmax"),
                    ]
                )
            '''))
        else:
            training = ", training=False" if wiring == "functional_false" else ""
            parts.append(block(f'''
                inputs = {ctx.k}.Input(shape=(IMG_SIZE, IMG_SIZE, 3))
                x = {preprocess}(inputs)
                x = {base}(x{training})
                x = {ctx.L("GlobalAveragePooling2D")}()(x)
                x = {ctx.L("Dropout")}(0.2)(x)
                outputs = {ctx.L("Dense")}(NUM_CLASSES, activation="softmax")(x)
                {model} = {ctx.k}.Model(inputs, outputs)
            '''))
    parts.append(compile_call(ctx, model, optimizer_expr(ctx, head_lr)))
    parts.append(f"history = {model}.fit({data.fit_args(ctx.choice((3, 5, 10, 20)))})\n")

    # Phase 2: the unfreeze, in its many real-world shapes.
    unfreeze = ctx.choice(("container", "container", "tail", "tail_skip_bn", "none"))
    n_tail = ctx.choice((10, 20, 30, 50, 100))
    if unfreeze == "container":
        # A typo seen in the wild (`trainabe`) in a few scripts.
        attribute = "trainabe" if ctx.chance(0.05) else "trainable"
        parts.append(f"{base}.{attribute} = True\n")
    elif unfreeze == "tail":
        parts.append(block(f'''
            {base}.trainable = True
            for layer in {base}.layers[:-{n_tail}]:
                layer.trainable = False
        '''))
    elif unfreeze == "tail_skip_bn":
        target = model if wiring == "input_tensor" else base
        parts.append(block(f'''
            for layer in {target}.layers[-{n_tail}:]:
                if not isinstance(layer, {bn_class(ctx)}):
                    layer.trainable = True
        '''))
    if unfreeze in ("container", "tail") and ctx.chance(0.4):
        parts.append(block(f'''
            for layer in {base}.layers:
                if isinstance(layer, {bn_class(ctx)}):
                    layer.trainable = False
        '''))
    recompile = ctx.chance(0.85)
    if recompile:
        ft_lr = ctx.choice(("1e-5", "1e-5", "1e-4", "LEARNING_RATE / 10", None, "1e-3"))
        parts.append(compile_call(ctx, model, optimizer_expr(ctx, ft_lr)))
    parts.append(
        f"history_fine = {model}.fit({data.fit_args(ctx.choice((2, 5, 10)))})\n")
    parts.append(evaluation(ctx, model, data))
    return parts


def evaluation(ctx: Ctx, model: str, data: Data) -> str:
    kind = ctx.rng.randrange(5)
    save = ctx.choice((f'{model}.save("{model}_final.keras")\n',
                       f'{model}.save_weights("{model}.weights.h5")\n', ""))
    if kind == 0:
        code = block(f'''
            loss, accuracy = {model}.evaluate({data.test})
            print("test loss %.4f accuracy %.4f" % (loss, accuracy))
        ''')
    elif kind == 1:
        probs = f"{model}.predict({'x_test' if data.arrays else 'test_ds'}, verbose=0)"
        code = block(f'''
            probs = {probs}
            predicted = np.argmax(probs, axis=-1)
            print("predicted class histogram:", np.bincount(predicted))
        ''')
    elif kind == 2:
        source = "x_test[:256]" if data.arrays else "next(iter(test_ds))[0]"
        training = ctx.choice(("training=False", "training=False", "training=True"))
        code = block(f'''
            sample = {source}
            logits = {model}(sample, {training})
            print("mean confidence", float(np.mean(np.max(logits, axis=-1))))
        ''')
    elif kind == 3:
        code = block(f'''
            results = {model}.evaluate({data.test}, return_dict=True)
            for name, value in sorted(results.items()):
                print("%-12s %.4f" % (name, value))
        ''')
    else:
        code = block(f'''
            {model}.summary()
            print("layers:", len({model}.layers))
        ''')
    return code + save


def scratch_script(ctx: Ctx) -> list[str]:
    data = array_data(ctx) if ctx.chance(0.5) else directory_data(ctx, ctx.choice((64, 96, 128)))
    model = ctx.choice(MODEL_NAMES)
    shape = ctx.rng.randrange(3)
    parts = [docstring(ctx, "Train a convolutional classifier from scratch."), "__IMPORTS__",
             constants(ctx, data, None if data.arrays else data.input_shape[0], 1e-3),
             "__HELPERS__", data.code]
    if shape == 0:
        parts.append(scratch_sequential(ctx, model, data))
    elif shape == 1:
        parts.append(functional_resnet(ctx, model, data))
    else:
        parts.append(subclassed(ctx, model, data, forward_training=ctx.chance(0.8)))
    optimizer = optimizer_expr(ctx, ctx.choice(("1e-3", None, "LEARNING_RATE")))
    parts.append(compile_call(ctx, model, optimizer, logits=shape == 2))
    parts.append(f"history = {model}.fit({data.fit_args(ctx.choice((10, 20, 50)))})\n")
    parts.append(evaluation(ctx, model, data))
    return parts


def custom_loop_script(ctx: Ctx) -> list[str]:
    data = array_data(ctx)
    model = ctx.choice(MODEL_NAMES)
    parts = [docstring(ctx, "Custom training loop with tf.GradientTape."), "__IMPORTS__",
             constants(ctx, data, None, 1e-3), "__HELPERS__", data.code]
    parts.append(block('''
        train_ds = (
            tf.data.Dataset.from_tensor_slices((x_train, y_train))
            .shuffle(10000, seed=SEED)
            .batch(BATCH_SIZE)
        )
        val_ds = tf.data.Dataset.from_tensor_slices((x_val, y_val)).batch(512)
    '''))
    if ctx.chance(0.5):
        parts.append(scratch_sequential(ctx, model, data).replace(
            'activation="softmax"', "activation=None"))
    else:
        parts.append(subclassed(ctx, model, data, forward_training=True))
    call = ctx.choice((f"{model}(x_batch, training=True)", f"{model}(x_batch, training=True)",
                       f"{model}(x_batch)"))
    decorate = "@tf.function\n" if ctx.chance(0.7) else ""
    parts.append(block(f'''
        optimizer = {ctx.k}.optimizers.Adam(LEARNING_RATE)
        loss_fn = {ctx.k}.losses.SparseCategoricalCrossentropy(from_logits=True)
        train_metric = {ctx.k}.metrics.SparseCategoricalAccuracy()
        val_metric = {ctx.k}.metrics.SparseCategoricalAccuracy()
    '''))
    parts.append(decorate + block(f'''
        def train_step(x_batch, y_batch):
            with tf.GradientTape() as tape:
                logits = {call}
                loss = loss_fn(y_batch, logits)
                loss += sum({model}.losses)
            grads = tape.gradient(loss, {model}.trainable_weights)
            optimizer.apply_gradients(zip(grads, {model}.trainable_weights))
            train_metric.update_state(y_batch, logits)
            return loss
    '''))
    parts.append(decorate + block(f'''
        def test_step(x_batch, y_batch):
            logits = {model}(x_batch, training=False)
            val_metric.update_state(y_batch, logits)
    '''))
    # PyTorch habit (model.train() / model.eval()) in a few scripts.
    mode = ctx.chance(0.15)
    # (indented to fit the template below, before it is dedented)
    switch = "for layer in %s.layers:\n                layer.training = %s\n            "
    to_train = switch % (model, True) if mode else ""
    to_eval = switch % (model, False) if mode else ""
    parts.append(block(f'''
        for epoch in range(EPOCHS):
            {to_train}for step, (x_batch, y_batch) in enumerate(train_ds):
                loss = train_step(x_batch, y_batch)
                if step % 200 == 0:
                    print("epoch %d step %d loss %.4f" % (epoch, step, float(loss)))
            {to_eval}for x_batch, y_batch in val_ds:
                test_step(x_batch, y_batch)
            print(
                "epoch %d train acc %.4f val acc %.4f"
                % (epoch, float(train_metric.result()), float(val_metric.result()))
            )
            train_metric.reset_state()
            val_metric.reset_state()
    '''))
    if ctx.chance(0.3):
        parts.append(f"preds = {model}(x_test, training=True)\n"
                     "print(\"test accuracy\", float(np.mean(np.argmax(preds, -1) == y_test)))\n")
    else:
        parts.append(f"preds = {model}.predict(x_test, batch_size=512)\n"
                     "print(\"test accuracy\", float(np.mean(np.argmax(preds, -1) == y_test)))\n")
    return parts


def gan_script(ctx: Ctx) -> list[str]:
    k = ctx.k
    parts = [docstring(ctx, "DCGAN on MNIST trained with train_on_batch."), "__IMPORTS__",
             f"LATENT_DIM = 100\nBATCH_SIZE = 64\nSTEPS = {ctx.choice((2000, 5000, 20000))}\n",
             "__HELPERS__"]
    parts.append(block(f'''
        (x_train, _), _ = {k}.datasets.mnist.load_data()
        x_train = (x_train.astype("float32") - 127.5) / 127.5
        x_train = x_train[..., None]

        generator = {k}.Sequential(
            [
                {k}.Input(shape=(LATENT_DIM,)),
                {ctx.L("Dense")}(7 * 7 * 128),
                {ctx.bn("momentum=0.8")},
                {ctx.L("LeakyReLU")}(0.2),
                {ctx.L("Reshape")}((7, 7, 128)),
                {ctx.L("Conv2DTranspose")}(64, 4, strides=2, padding="same"),
                {ctx.bn("momentum=0.8")},
                {ctx.L("LeakyReLU")}(0.2),
                {ctx.L("Conv2DTranspose")}(1, 4, strides=2, padding="same", activation="tanh"),
            ]
        )
        discriminator = {k}.Sequential(
            [
                {k}.Input(shape=(28, 28, 1)),
                {ctx.L("Conv2D")}(64, 3, strides=2, padding="same"),
                {ctx.L("LeakyReLU")}(0.2),
                {ctx.L("Conv2D")}(128, 3, strides=2, padding="same"),
                {ctx.bn()},
                {ctx.L("LeakyReLU")}(0.2),
                {ctx.L("Flatten")}(),
                {ctx.L("Dense")}(1, activation="sigmoid"),
            ]
        )
        discriminator.compile(
            optimizer={k}.optimizers.Adam(2e-4, beta_1=0.5), loss="binary_crossentropy"
        )
        discriminator.trainable = False
        gan = {k}.Sequential([generator, discriminator])
        gan.compile(optimizer={k}.optimizers.Adam(2e-4, beta_1=0.5), loss="binary_crossentropy")

        rng = np.random.default_rng(0)
        for step in range(STEPS):
            real = x_train[rng.integers(0, len(x_train), BATCH_SIZE)]
            noise = rng.normal(size=(BATCH_SIZE, LATENT_DIM))
            fake = generator.predict(noise, verbose=0)
            d_loss = discriminator.train_on_batch(
                np.concatenate([real, fake]),
                np.concatenate([np.ones((BATCH_SIZE, 1)), np.zeros((BATCH_SIZE, 1))]),
            )
            g_loss = gan.train_on_batch(
                rng.normal(size=(BATCH_SIZE, LATENT_DIM)), np.ones((BATCH_SIZE, 1))
            )
            if step % 500 == 0:
                print("step %d d_loss %.4f g_loss %.4f" % (step, float(d_loss), float(g_loss)))
    '''))
    return parts


def tf1_script(ctx: Ctx) -> list[str]:
    with_deps = ctx.chance(0.5)
    training_arg = ctx.choice((", training=is_training", ", training=is_training", ""))
    minimize = "train_op = optimizer.minimize(loss)"
    if with_deps:
        minimize = block('''
            update_ops = tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS)
            with tf.control_dependencies(update_ops):
                train_op = optimizer.minimize(loss)
        ''').rstrip("\n")
    phase = "tf.keras.backend.set_learning_phase(1)\n" if ctx.chance(0.3) else ""
    parts = [docstring(ctx, "TF1-style graph training of a small MNIST network."),
             "__IMPORTS__", "STEPS = 1000\nBATCH_SIZE = 128\n", "__HELPERS__"]
    parts.append("tf.compat.v1.disable_eager_execution()\n" + phase)
    parts.append(block(f'''
        (x_train, y_train), _ = tf.keras.datasets.mnist.load_data()
        x_train = x_train.reshape(-1, 784).astype(np.float32) / 255.0

        images = tf.compat.v1.placeholder(tf.float32, [None, 784])
        labels = tf.compat.v1.placeholder(tf.int64, [None])
        is_training = tf.compat.v1.placeholder(tf.bool, [])

        hidden = tf.compat.v1.layers.dense(images, 256, use_bias=False)
        hidden = tf.compat.v1.layers.batch_normalization(hidden{training_arg})
        hidden = tf.nn.relu(hidden)
        logits = tf.compat.v1.layers.dense(hidden, 10)
        loss = tf.reduce_mean(
            tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
        )
        optimizer = tf.compat.v1.train.MomentumOptimizer(0.01, 0.9)
    '''))
    parts.append(minimize + "\n")
    parts.append(block('''
        with tf.compat.v1.Session() as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            rng = np.random.default_rng(0)
            for step in range(STEPS):
                idx = rng.integers(0, len(x_train), BATCH_SIZE)
                feed = {images: x_train[idx], labels: y_train[idx], is_training: True}
                _, value = sess.run([train_op, loss], feed_dict=feed)
                if step % 100 == 0:
                    print("step", step, "loss", value)
    '''))
    return parts


def text_script(ctx: Ctx) -> list[str]:
    model = ctx.choice(MODEL_NAMES)
    parts = [docstring(ctx, "Text classification without convolutions."), "__IMPORTS__",
             "VOCAB_SIZE = 20000\nMAX_LEN = 200\nNUM_CLASSES = 2\nBATCH_SIZE = 32\n",
             "__HELPERS__"]
    parts.append(block(f'''
        (x_train, y_train), (x_test, y_test) = {ctx.k}.datasets.imdb.load_data(num_words=VOCAB_SIZE)
        x_train = {ctx.k}.utils.pad_sequences(x_train, maxlen=MAX_LEN)
        x_test = {ctx.k}.utils.pad_sequences(x_test, maxlen=MAX_LEN)
    '''))
    parts.append(text_model(ctx, model))
    parts.append(compile_call(ctx, model, optimizer_expr(ctx, ctx.choice(("1e-3", None)))))
    parts.append(block(f'''
        {model}.fit(x_train, y_train, batch_size=BATCH_SIZE, epochs=3, validation_split=0.1)
        print({model}.evaluate(x_test, y_test, verbose=0))
    '''))
    return parts


# --------------------------------------------------------------------------- plain files


def plain_script(ctx: Ctx) -> list[str]:
    kind = ctx.choice(("data", "cli", "config", "metrics", "text", "sklearn", "tests"))
    parts = [docstring(ctx, {
        "data": "Dataset preparation helpers.",
        "cli": "Command-line tool for preparing experiment folders.",
        "config": "Experiment configuration objects.",
        "metrics": "Evaluation metrics computed with numpy.",
        "text": "Text cleaning and vocabulary utilities.",
        "sklearn": "Classical baselines on extracted features.",
        "tests": "Tests for the helper functions.",
    }[kind]), "__IMPORTS__", "__HELPERS__"]
    if kind == "cli":
        parts.append(block('''
            def main(argv=None):
                parser = argparse.ArgumentParser(description=__doc__)
                parser.add_argument("source", type=Path)
                parser.add_argument("target", type=Path)
                parser.add_argument("--limit", type=int, default=0)
                parser.add_argument("--dry-run", action="store_true")
                args = parser.parse_args(argv)
                files = sorted(args.source.rglob("*"))
                if args.limit:
                    files = files[: args.limit]
                for path in files:
                    if path.is_file():
                        destination = args.target / path.relative_to(args.source)
                        if args.dry_run:
                            print(path, "->", destination)
                            continue
                        destination.parent.mkdir(parents=True, exist_ok=True)
                        destination.write_bytes(path.read_bytes())
                return 0


            if __name__ == "__main__":
                sys.exit(main())
        '''))
    elif kind == "config":
        parts.append(block('''
            @dataclass
            class ExperimentConfig:
                name: str
                data_dir: str = "data"
                batch_size: int = 32
                epochs: int = 10
                learning_rate: float = 1e-3
                tags: list = field(default_factory=list)

                @classmethod
                def from_json(cls, path):
                    raw = json.loads(Path(path).read_text(encoding="utf-8"))
                    known = {key: raw[key] for key in cls.__dataclass_fields__ if key in raw}
                    return cls(**known)

                def to_json(self, path):
                    Path(path).write_text(json.dumps(self.__dict__, indent=2), encoding="utf-8")
        '''))
    elif kind == "sklearn":
        parts.append(block('''
            def run_baseline(features, labels, seed=0):
                x_tr, x_te, y_tr, y_te = train_test_split(
                    features, labels, test_size=0.2, random_state=seed, stratify=labels
                )
                clf = LogisticRegression(max_iter=2000, C=1.0)
                clf.fit(x_tr, y_tr)
                return float(clf.score(x_te, y_te))


            if __name__ == "__main__":
                data = np.load("features.npz")
                print("logistic regression accuracy", run_baseline(data["x"], data["y"]))
        '''))
    elif kind == "tests":
        parts.append(block('''
            def test_chunks_cover_everything():
                items = list(range(10))
                pieces = [items[i:i + 3] for i in range(0, 10, 3)]
                assert sum(pieces, []) == items


            def test_one_hot_rows_sum_to_one():
                rows = np.eye(4)[[0, 2, 3]]
                assert np.allclose(rows.sum(axis=1), 1.0)


            def test_paths_are_sorted(tmp_path):
                for name in ("b.txt", "a.txt"):
                    (tmp_path / name).write_text("x")
                assert [p.name for p in sorted(tmp_path.iterdir())] == ["a.txt", "b.txt"]
        '''))
    return parts


# --------------------------------------------------------------------------- assembly

KINDS = (  # (kind, generator, weight); every kind but "util" is Keras/TF code
    ("finetune", finetune_script, 18),
    ("scratch", scratch_script, 13),
    ("custom_loop", custom_loop_script, 7),
    ("text", text_script, 8),
    ("gan", gan_script, 3),
    ("tf1", tf1_script, 3),
    ("util", plain_script, 48),
)

AUTO_IMPORTS = (  # (regex on the body, import line, is stdlib)
    (r"(?<![.\w])argparse\.", "import argparse", True),
    (r"(?<![.\w])collections\.", "import collections", True),
    (r"(?<![.\w])csv\.", "import csv", True),
    (r"(?<![.\w])json\.", "import json", True),
    (r"(?<![.\w])logging\.", "import logging", True),
    (r"(?<![.\w])math\.", "import math", True),
    (r"(?<![.\w])os\.", "import os", True),
    (r"(?<![.\w])random\.", "import random", True),
    (r"(?<![.\w])re\.(sub|compile|match|findall|split)", "import re", True),
    (r"(?<![.\w])sys\.", "import sys", True),
    (r"(?<![.\w])time\.", "import time", True),
    (r"@dataclass", "from dataclasses import dataclass, field", True),
    (r"(?<![.\w])Path\b", "from pathlib import Path", True),
    (r"(?<![.\w])np\.", "import numpy as np", False),
    (r"(?<![.\w])plt\.", "import matplotlib.pyplot as plt", False),
    (r"(?<![.\w])LogisticRegression\(",
     "from sklearn.linear_model import LogisticRegression", False),
    (r"(?<![.\w])train_test_split\(",
     "from sklearn.model_selection import train_test_split", False),
    (r"(?<![.\w])tf\.", "import tensorflow as tf", False),
    (r"(?<![.\w])tfds\.", "import tensorflow_datasets as tfds", False),
)


def imports_for(ctx: Ctx, body: str, keras: bool) -> str:
    stdlib, third = [], []
    for pattern, line, is_std in AUTO_IMPORTS:
        if re.search(pattern, body):
            (stdlib if is_std else third).append(line)
    keras_lines: list[str] = []
    if keras:
        keras_lines = [line for line in ctx.style.imports
                       if not (ctx.style.bn_alias and line.endswith(" as " + ctx.style.bn_alias)
                               and not re.search(rf"\b{ctx.style.bn_alias}\b", body))]
        if ctx.style.direct_from and ctx.direct:
            names = sorted(ctx.direct)
            keras_lines.append(f"from {ctx.style.direct_from} import (\n"
                               + "".join(f"    {n},\n" for n in names) + ")")
    def isort_key(line: str) -> tuple[bool, str]:
        return line.startswith("from "), line.split()[1]

    third_party = sorted(set(third) | set(keras_lines), key=isort_key)
    groups = [sorted(stdlib, key=isort_key), third_party]
    return "\n\n".join("\n".join(g) for g in groups if g) + "\n"


def join_parts(parts: list[str]) -> str:
    """Join top-level chunks: two blank lines around definitions, one elsewhere."""
    def defines(chunk: str) -> bool:
        return re.search(r"^(def |class |@)", chunk, re.MULTILINE) is not None

    text = parts[0]
    for previous, current in itertools.pairwise(parts):
        text += ("\n\n" if defines(previous) or defines(current) else "\n") + current
    return text


def assemble(ctx: Ctx, kind: str, target_lines: int) -> str:
    """Render one file of ``kind``, padded with helpers to about ``target_lines``."""
    generator = {name: fn for name, fn, _ in KINDS}[kind]
    keras = kind != "util"
    parts = generator(ctx)
    main_parts = [p for p in parts[1:] if p not in ("__IMPORTS__", "__HELPERS__")]
    lines = sum(p.count("\n") + 1 for p in main_parts) + 12  # docstring and imports

    plain = [index for index, (name, _) in enumerate(PLAIN_HELPERS)
             if kind in ("util", "text") or name not in TEXT_HELPERS]
    ctx.rng.shuffle(plain)
    keras_kinds = list(range(KERAS_HELPER_KINDS))
    ctx.rng.shuffle(keras_kinds)
    helpers: list[str] = []
    while lines < target_lines:
        if keras and keras_kinds and ctx.chance(0.3):
            helper = keras_helper(ctx, keras_kinds.pop())
        else:
            helper = plain_helper(ctx, plain.pop() if plain else None)
        helpers.append(helper)
        lines += helper.count("\n") + 2

    body_parts: list[str] = []
    for part in parts[1:]:
        if part == "__HELPERS__":
            body_parts.extend(helpers)
        elif part != "__IMPORTS__":
            body_parts.append(part)
    body = join_parts(body_parts)
    return parts[0] + "\n" + imports_for(ctx, body, keras) + "\n\n" + body


def as_notebook(code: str, rng: random.Random) -> str:
    """Split a script at top-level statements into cells, with markdown between them."""
    tree = ast.parse(code)
    lines = code.splitlines(keepends=True)
    starts = [node.lineno - 1 for node in tree.body]
    for i, node in enumerate(tree.body):  # decorators belong to their function
        decorators = getattr(node, "decorator_list", [])
        if decorators:
            starts[i] = decorators[0].lineno - 1
    starts[0] = 0
    bounds = starts + [len(lines)]
    chunks: list[list[str]] = []
    for begin, end in itertools.pairwise(bounds):
        piece = lines[begin:end]
        if chunks and (len(chunks[-1]) < 12 or rng.random() < 0.4):
            chunks[-1].extend(piece)
        else:
            chunks.append(list(piece))
    cells = [{"cell_type": "markdown", "metadata": {},
              "source": ["# Experiment notebook\n", "\n", "Generated for benchmarking."]}]
    magic = rng.choice(("%matplotlib inline\n", "!pip install -q keras tensorflow-datasets\n",
                        "%load_ext autoreload\n%autoreload 2\n"))
    cells.append({"cell_type": "code", "execution_count": None, "metadata": {},
                  "outputs": [], "source": magic.rstrip("\n").splitlines(keepends=True)})
    for number, chunk in enumerate(chunks, 1):
        source = "".join(chunk).strip("\n")
        if not source:
            continue
        cells.append({"cell_type": "markdown", "metadata": {}, "source": [f"## Step {number}"]})
        cells.append({"cell_type": "code", "execution_count": None, "metadata": {},
                      "outputs": [], "source": source.splitlines(keepends=True)})
    for index, cell in enumerate(cells):
        cell["id"] = f"c{index:03d}"
    notebook = {
        "cells": cells,
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                    "name": "python3"},
                     "language_info": {"name": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return json.dumps(notebook, indent=1) + "\n"


@dataclass
class Summary:
    py_files: int = 0
    notebooks: int = 0
    lines: int = 0
    keras_files: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)


def generate(out: Path, files: int, seed: int, notebook_share: float) -> Summary:
    rng = random.Random(seed)
    kinds = [name for name, _, _ in KINDS]
    weights = [weight for _, _, weight in KINDS]
    styles = [style for style, _ in STYLES]
    style_weights = [weight for _, weight in STYLES]
    summary = Summary()
    for index in range(files):
        kind = rng.choices(kinds, weights)[0]
        file_rng = random.Random(f"{seed}:{index}")
        style = file_rng.choices(styles, style_weights)[0]
        if kind == "tf1":
            style = Style(("import tensorflow as tf",), "tf.keras", "tf.keras.layers.")
        ctx = Ctx(file_rng, style)
        code = assemble(ctx, kind, file_rng.randint(100, 300))
        try:
            ast.parse(code)
        except SyntaxError as error:  # a template bug: fail loudly, never write bad input
            raise SystemExit(f"generated invalid Python for file {index} ({kind}): {error}")
        project = out / f"project_{index // 40:02d}"
        folder = {"util": "utils", "text": "nlp", "tf1": "legacy"}.get(kind, "train")
        notebook = kind != "util" and rng.random() < notebook_share
        name = f"{kind}_{index:04d}"
        if notebook:
            path = project / "notebooks" / f"{name}.ipynb"
            content = as_notebook(code, file_rng)
            summary.notebooks += 1
        else:
            path = project / folder / f"{name}.py"
            content = code
            summary.py_files += 1
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        summary.lines += code.count("\n")
        summary.keras_files += kind != "util"
        summary.by_kind[kind] = summary.by_kind.get(kind, 0) + 1
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Write a deterministic synthetic corpus of Keras-style scripts.")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--files", type=int, default=200, help="number of files (default 200)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--notebook-share", type=float, default=0.1,
                        help="share of Keras scripts written as .ipynb (default 0.1)")
    parser.add_argument("--force", action="store_true",
                        help="write into OUT_DIR even if it is not empty")
    args = parser.parse_args(argv)
    if args.files < 1:
        parser.error("--files must be at least 1")
    if not 0.0 <= args.notebook_share <= 1.0:
        parser.error("--notebook-share must be between 0 and 1")
    if args.out_dir.exists() and any(args.out_dir.iterdir()) and not args.force:
        parser.error(f"{args.out_dir} is not empty (use --force to write into it)")
    summary = generate(args.out_dir, args.files, args.seed, args.notebook_share)
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(summary.by_kind.items()))
    print(f"wrote {summary.py_files} .py and {summary.notebooks} .ipynb files, "
          f"{summary.lines} lines of code, to {args.out_dir}")
    print(f"{summary.keras_files} files use Keras/TensorFlow; by kind: {kinds}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
