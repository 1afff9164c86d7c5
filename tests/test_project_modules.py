"""Projects, not files: a model built in one module, frozen or unfrozen in a second and
trained in a third is flagged where it is trained, with notes in the other two; the
correct recipe split the same way is clean."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from bnlint.project import Project, project_for

BUILDER = """\
import tensorflow as tf


def build_model(num_classes):
    base = tf.keras.applications.ResNet50(include_top=False, weights="imagenet",
                                          pooling="avg")
    base.trainable = False
    model = tf.keras.Sequential([base, tf.keras.layers.Dense(num_classes)])
    return model, base
"""
# the correct builder calls the base with training=False in a functional model
CORRECT_BUILDER = """\
import tensorflow as tf


def build_model(num_classes):
    base = tf.keras.applications.ResNet50(include_top=False, weights="imagenet",
                                          pooling="avg")
    base.trainable = False
    inputs = tf.keras.Input((224, 224, 3))
    outputs = tf.keras.layers.Dense(num_classes)(base(inputs, training=False))
    return tf.keras.Model(inputs, outputs), base
"""
UNFREEZE = """\
def unfreeze(base):
    base.trainable = True
"""
TRAINER = """\
import tensorflow as tf
from {builder} import build_model
from {helpers} import unfreeze

model, base = build_model(10)
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
model.fit(train_ds, epochs=5)
unfreeze(base)
model.compile(optimizer=tf.keras.optimizers.Adam(1e-5),
              loss="sparse_categorical_crossentropy")
model.fit(train_ds, epochs=5)
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def bnlint(args: list[str], cwd: Path, cache: bool = False) -> list[dict[str, object]]:
    flags = [] if cache else ["--no-cache"]
    done = subprocess.run(
        [sys.executable, "-m", "bnlint", *flags, "--format", "json", "--select", "BN201",
         "--target-keras", "tf-keras", *args],
        cwd=cwd, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode in (0, 1), done.stderr
    return list(json.loads(done.stdout))


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    return root


def assert_flagged_in_trainer(found: list[dict[str, object]], trainer: str,
                              builder: str, helpers: str) -> None:
    assert [(item["code"], item["filename"]) for item in found] == [("BN201", trainer)]
    related = found[0]["related"]
    assert isinstance(related, list)
    files = {note["filename"] for note in related}
    assert files == {trainer, builder, helpers}
    # the primary location is the call of the trainer that leads to the unfreeze
    assert found[0]["location"] == {"row": 8, "column": 1}


def test_scripts_beside_each_other(repo: Path) -> None:
    write(repo / "models.py", BUILDER)
    write(repo / "utils.py", UNFREEZE)
    write(repo / "train.py", TRAINER.format(builder="models", helpers="utils"))
    found = [item for item in bnlint(["."], repo) if item["filename"] == "train.py"]
    assert_flagged_in_trainer(found, "train.py", "models.py", "utils.py")


def test_naming_only_the_trainer_still_reads_the_others(repo: Path) -> None:
    write(repo / "models.py", BUILDER)
    write(repo / "utils.py", UNFREEZE)
    write(repo / "train.py", TRAINER.format(builder="models", helpers="utils"))
    assert_flagged_in_trainer(bnlint(["train.py"], repo), "train.py", "models.py",
                              "utils.py")


def test_a_package_with_relative_imports(repo: Path) -> None:
    write(repo / "pkg" / "__init__.py", "")
    write(repo / "pkg" / "nets" / "__init__.py", "from .resnet import build_model\n")
    write(repo / "pkg" / "nets" / "resnet.py", BUILDER)
    write(repo / "pkg" / "freezing.py", UNFREEZE)
    write(repo / "pkg" / "train.py", TRAINER.format(builder=".nets", helpers=".freezing"))
    trainer = os.path.join("pkg", "train.py")
    found = bnlint([trainer], repo)
    assert_flagged_in_trainer(found, trainer, os.path.join("pkg", "nets", "resnet.py"),
                              os.path.join("pkg", "freezing.py"))


def test_modules_of_a_namespace_package(repo: Path) -> None:
    # `nets/` and `helpers/` have no __init__.py: `from nets import resnet` is the module
    write(repo / "nets" / "resnet.py", BUILDER)
    write(repo / "helpers" / "freezing.py", UNFREEZE)
    trainer = TRAINER.format(builder="nets.resnet", helpers="helpers.freezing").replace(
        "from nets.resnet import build_model", "from nets import resnet").replace(
        "from helpers.freezing import unfreeze", "from helpers import freezing as fz").replace(
        "build_model(10)", "resnet.build_model(10)").replace("unfreeze(base)",
                                                           "fz.unfreeze(base)")
    write(repo / "train.py", trainer)
    found = bnlint(["train.py"], repo)
    assert_flagged_in_trainer(found, "train.py", os.path.join("nets", "resnet.py"),
                              os.path.join("helpers", "freezing.py"))


def test_a_src_layout_imported_by_a_script(repo: Path) -> None:
    write(repo / "src" / "project" / "__init__.py", "")
    write(repo / "src" / "project" / "models.py", BUILDER)
    write(repo / "src" / "project" / "utils.py", UNFREEZE)
    write(repo / "scripts" / "train.py",
          TRAINER.format(builder="project.models", helpers="project.utils"))
    trainer = os.path.join("scripts", "train.py")
    found = bnlint([trainer], repo)
    assert_flagged_in_trainer(found, trainer, os.path.join("src", "project", "models.py"),
                              os.path.join("src", "project", "utils.py"))


def test_module_attribute_calls(repo: Path) -> None:
    write(repo / "models.py", BUILDER)
    write(repo / "utils.py", UNFREEZE)
    write(repo / "train.py", TRAINER.replace("from {builder} import build_model",
                                             "import models")
          .replace("from {helpers} import unfreeze", "import utils as u")
          .replace("= build_model(", "= models.build_model(")
          .replace("\nunfreeze(base)", "\nu.unfreeze(base)"))
    found = bnlint(["train.py"], repo)
    assert [item["code"] for item in found] == ["BN201"]


def test_a_notebook_importing_project_modules(repo: Path) -> None:
    write(repo / "models.py", BUILDER)
    write(repo / "utils.py", UNFREEZE)
    cells = [{"cell_type": "code", "source": TRAINER.format(builder="models", helpers="utils"),
              "metadata": {}, "outputs": [], "execution_count": None}]
    (repo / "train.ipynb").write_text(json.dumps(
        {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}),
        encoding="utf-8")
    found = bnlint(["train.ipynb"], repo)
    assert [(item["code"], item["cell"]) for item in found] == [("BN201", 1)]


def test_the_correct_recipe_split_the_same_way_is_clean(repo: Path) -> None:
    write(repo / "models.py", CORRECT_BUILDER)
    write(repo / "utils.py", UNFREEZE)
    write(repo / "train.py", TRAINER.format(builder="models", helpers="utils"))
    assert bnlint(["."], repo) == []


def test_editing_the_builder_relints_the_trainer(repo: Path) -> None:
    write(repo / "models.py", CORRECT_BUILDER)
    write(repo / "utils.py", UNFREEZE)
    write(repo / "train.py", TRAINER.format(builder="models", helpers="utils"))
    assert bnlint(["train.py"], repo, cache=True) == []
    write(repo / "models.py", BUILDER)
    assert [item["code"] for item in bnlint(["train.py"], repo, cache=True)] == ["BN201"]
    write(repo / "models.py", CORRECT_BUILDER)
    assert bnlint(["train.py"], repo, cache=True) == []


def test_a_finding_inside_an_imported_module_is_left_to_that_module(repo: Path) -> None:
    # models.py itself unfreezes and trains at import time: its own report says so,
    # the file that imports it does not repeat it
    write(repo / "models.py", BUILDER + """\

model, base = build_model(10)
model.compile(optimizer="adam", loss="mse")
model.fit(x, y)
base.trainable = True
model.compile(optimizer="adam", loss="mse")
model.fit(x, y)
""")
    write(repo / "train.py", "from models import model\nmodel.summary()\n")
    found = bnlint(["."], repo)
    assert [item["filename"] for item in found] == ["models.py"]


def test_an_import_cycle_ends(repo: Path) -> None:
    write(repo / "a.py", "from b import helper\nimport tensorflow as tf\n"
          "def build():\n    return helper()\n")
    write(repo / "b.py", "from a import build\ndef helper():\n    return build()\n")
    write(repo / "train.py", "from a import build\nmodel = build()\nmodel.trainable = True\n")
    assert bnlint(["."], repo) == []


@pytest.mark.parametrize(("guard", "flagged"), [
    ('if __name__ == "__main__":', False),
    ("if True:", True),  # the same step outside a main guard does run on import
])
def test_a_main_guard_of_an_imported_module_does_not_run(repo: Path, guard: str,
                                                         flagged: bool) -> None:
    write(repo / "models.py", BUILDER + f"""
model, base = build_model(10)
{guard}
    base.trainable = True
""")
    write(repo / "train.py", """from models import model
model.compile(optimizer="adam", loss="mse")
model.fit(x, y)
""")
    found = bnlint(["train.py"], repo)
    assert [item["code"] for item in found] == (["BN201"] if flagged else [])
    if flagged:  # reported at the import that runs the module, the step as a note
        assert found[0]["location"] == {"row": 1, "column": 1}


# --- resolution ---------------------------------------------------------------------------


def test_library_names_are_never_project_modules(repo: Path) -> None:
    write(repo / "keras" / "__init__.py", "")  # a checkout of Keras itself
    write(repo / "keras" / "layers.py", "")
    write(repo / "train.py", "")
    project = project_for(str(repo / "train.py"), str(repo))
    assert project is not None
    assert project.resolve("keras.layers") is None
    assert project.resolve("keras") is None


def test_relative_imports_climb_packages(repo: Path) -> None:
    write(repo / "pkg" / "__init__.py", "")
    write(repo / "pkg" / "util.py", "")
    write(repo / "pkg" / "sub" / "__init__.py", "")
    write(repo / "pkg" / "sub" / "train.py", "")
    project = Project(str(repo / "pkg" / "sub" / "train.py"), str(repo))
    assert project.resolve("util", 2) == str(repo / "pkg" / "util.py")
    assert project.resolve("", 2) == str(repo / "pkg" / "__init__.py")
    assert project.resolve("missing", 1) is None


def test_a_file_outside_any_repository_stays_in_its_project_root(tmp_path: Path) -> None:
    write(tmp_path / "models.py", BUILDER)
    inner = tmp_path / "work" / "train.py"
    write(inner, "")
    project = project_for(str(inner), str(tmp_path / "work"))
    assert project is not None and project.top == str(tmp_path / "work")
    assert project.resolve("models") is None


def test_a_finding_inside_one_helper_module_is_reported_there_only(repo: Path) -> None:
    # the helper builds, freezes, trains, unfreezes and trains again on its own: every
    # step lies in utils.py, whose own report (an entry point) says so
    write(repo / "utils.py", """\
        import tensorflow as tf


        def finetune(x, y):
            base = tf.keras.applications.ResNet50(include_top=False, pooling="avg")
            base.trainable = False
            model = tf.keras.Sequential([base, tf.keras.layers.Dense(2)])
            model.compile(optimizer="adam", loss="mse")
            model.fit(x, y)
            base.trainable = True
            model.compile(optimizer=tf.keras.optimizers.Adam(1e-5), loss="mse")
            model.fit(x, y)
        """)
    write(repo / "train.py", "from utils import finetune\nfinetune(x, y)\n")
    assert [item["filename"] for item in bnlint(["."], repo)] == ["utils.py"]


def test_a_method_inherited_from_another_module_runs_on_this_files_class(
        repo: Path) -> None:
    # base.py drives training; the subclass in gan.py builds the models: the custom step
    # of gan.py calls its BN generator without training= (BN107)
    write(repo / "base.py", """\
        class BaseGAN:
            def train(self, data, steps):
                self.create_models()
                for _ in range(steps):
                    self.update_generator(data)
        """)
    write(repo / "gan.py", """\
        import tensorflow as tf
        from base import BaseGAN


        class GAN(BaseGAN):
            def create_models(self):
                self.generator = tf.keras.Sequential([
                    tf.keras.layers.Dense(16), tf.keras.layers.BatchNormalization(),
                    tf.keras.layers.Dense(4)])
                self.optimizer = tf.keras.optimizers.Adam(2e-4)

            def update_generator(self, noise):
                with tf.GradientTape() as tape:
                    fake = self.generator(noise)
                    loss = tf.reduce_mean(fake)
                grads = tape.gradient(loss, self.generator.trainable_weights)
                self.optimizer.apply_gradients(zip(grads, self.generator.trainable_weights))
        """)
    done = subprocess.run(
        [sys.executable, "-m", "bnlint", "--no-cache", "--format", "json",
         "--target-keras", "tf-keras", "gan.py"],
        cwd=repo, capture_output=True, text=True, timeout=120, check=False)
    found = json.loads(done.stdout)
    assert [(item["code"], item["location"]["row"]) for item in found] == [("BN107", 14)]


def test_a_network_chosen_from_a_package_dict_and_loaded_with_weights(repo: Path) -> None:
    # the classification-repository shape: nets/ builds the network from layers, its
    # __init__ maps names to builders, train.py loads pretrained weights, freezes the
    # first layers, then unfreezes every layer one by one
    write(repo / "nets" / "mobilenet.py", """\
        import tensorflow as tf

        def MobileNet(input_shape, classes):
            inputs = tf.keras.Input(input_shape)
            x = tf.keras.layers.Conv2D(32, 3)(inputs)
            x = tf.keras.layers.BatchNormalization()(x)
            x = tf.keras.layers.GlobalAveragePooling2D()(x)
            return tf.keras.Model(inputs, tf.keras.layers.Dense(classes)(x))
        """)
    write(repo / "nets" / "__init__.py", """\
        from .mobilenet import MobileNet

        get_model_from_name = {"mobilenet": MobileNet}
        freeze_layers = {"mobilenet": 3}
        """)
    write(repo / "train.py", """\
        import tensorflow as tf
        from nets import freeze_layers, get_model_from_name

        if __name__ == "__main__":
            backbone = "mobilenet"
            model = get_model_from_name[backbone]([224, 224, 3], 10)
            model.load_weights("model_data/mobilenet.h5", by_name=True)
            for i in range(freeze_layers[backbone]):
                model.layers[i].trainable = False
            model.compile(optimizer=tf.keras.optimizers.Adam(1e-3), loss="mse")
            model.fit(train_ds, epochs=5)
            for i in range(len(model.layers)):
                model.layers[i].trainable = True
            model.compile(optimizer=tf.keras.optimizers.Adam(1e-4), loss="mse")
            model.fit(train_ds, epochs=10)
        """)
    found = bnlint(["train.py"], repo)
    assert [(item["code"], item["location"]) for item in found] == [
        ("BN201", {"row": 13, "column": 9})]
    notes = {(note["filename"], note["message"]) for note in found[0]["related"]}
    assert (os.path.join("nets", "mobilenet.py"),
            "`model` is created here with BatchNormalization layers") in notes
    assert ("train.py", "pretrained weights are loaded into it here") in notes


DARKNET = """\
from functools import reduce, wraps

from tensorflow.keras.layers import BatchNormalization, Conv2D, LeakyReLU
from tensorflow.keras.models import Model


def compose(*funcs):
    if funcs:
        return reduce(lambda f, g: lambda *a, **kw: g(f(*a, **kw)), funcs)
    raise ValueError("Composition of empty sequence not supported.")


@wraps(Conv2D)
def DarknetConv2D(*args, **kwargs):
    options = {"padding": "valid" if kwargs.get("strides") == (2, 2) else "same"}
    options.update(kwargs)
    return Conv2D(*args, **options)


def DarknetConv2D_BN_Leaky(*args, **kwargs):
    no_bias = {"use_bias": False}
    no_bias.update(kwargs)
    return compose(DarknetConv2D(*args, **no_bias), {norm}, LeakyReLU(alpha=0.1))


def resblock_body(x, num_filters):
    x = DarknetConv2D_BN_Leaky(num_filters, (3, 3), strides=(2, 2))(x)
    y = compose(DarknetConv2D_BN_Leaky(num_filters // 2, (1, 1)),
                DarknetConv2D_BN_Leaky(num_filters, (3, 3)))(x)
    return x + y


def darknet_body(x):
    x = DarknetConv2D_BN_Leaky(32, (3, 3))(x)
    return resblock_body(x, 64)


def make_last_layers(x, num_filters, out_filters):
    # a chain of five composed blocks nests a lambda call per block
    x = compose(DarknetConv2D_BN_Leaky(num_filters, (1, 1)),
                DarknetConv2D_BN_Leaky(num_filters * 2, (3, 3)),
                DarknetConv2D_BN_Leaky(num_filters, (1, 1)),
                DarknetConv2D_BN_Leaky(num_filters * 2, (3, 3)),
                DarknetConv2D_BN_Leaky(num_filters, (1, 1)))(x)
    return x, DarknetConv2D(out_filters, (1, 1))(x)


def yolo_body(inputs, num_outputs):
    darknet = Model(inputs, darknet_body(inputs))
    x, y1 = make_last_layers(darknet.output, 512, num_outputs)
    return Model(inputs, [y1])
"""
YOLO_TRAINER = """\
from tensorflow.keras.layers import Input
from tensorflow.keras.optimizers import Adam

from yolo3.model import yolo_body


def create_model(weights_path="model_data/yolo_weights.h5"):
    model = yolo_body(Input(shape=(None, None, 3)), 24)
    model.load_weights(weights_path, by_name=True, skip_mismatch=True)
    for i in range(len(model.layers) - 3):
        model.layers[i].trainable = False
    return model


def _main():
    model = create_model()
    model.compile(optimizer=Adam(1e-3), loss="mse")
    model.fit(train_ds, epochs=50)
    for i in range(len(model.layers)):
        model.layers[i].trainable = True
    model.compile(optimizer=Adam(1e-4), loss="mse")
    model.fit(train_ds, epochs=100, initial_epoch=50)


if __name__ == "__main__":
    _main()
"""


@pytest.mark.parametrize(("norm", "flagged"), [
    ("BatchNormalization()", True),
    ("LeakyReLU(alpha=0.2)", False),  # the same network without BN: nothing to warn of
])
def test_a_network_of_composed_blocks_in_another_module(repo: Path, norm: str,
                                                        flagged: bool) -> None:
    # the keras-yolo3 shape: blocks chained by a `compose` helper (functools.reduce
    # over lambdas), built several helper calls deep in a package, pretrained weights
    # loaded and the body frozen in train.py, then every layer unfrozen
    write(repo / "yolo3" / "__init__.py", "")
    write(repo / "yolo3" / "model.py", DARKNET.replace("{norm}", norm))
    write(repo / "train.py", YOLO_TRAINER)
    found = bnlint(["train.py"], repo)
    assert [(item["code"], item["location"]) for item in found] == (
        [("BN201", {"row": 20, "column": 9})] if flagged else [])
    if flagged:
        notes = {(note["filename"], note["message"]) for note in found[0]["related"]}
        assert (os.path.join("yolo3", "model.py"),
                "`model` is created here with BatchNormalization layers") in notes


LEGACY_CALLS = """\
import tf_keras
from tf_keras import backend

backend.set_learning_phase(1)
tf_keras.optimizers.SGD(lr=0.1)
"""


def test_migration_advice_is_not_given_to_the_keras_sources_themselves(repo: Path) -> None:
    # a checkout of tf-keras: its own package keeps the legacy API it ships; the
    # examples beside it are code that uses tf-keras like any user's
    write(repo / "tf_keras" / "__init__.py", "")
    write(repo / "tf_keras" / "backend_test.py", LEGACY_CALLS)
    write(repo / "examples" / "demo.py", LEGACY_CALLS)
    done = subprocess.run(
        [sys.executable, "-m", "bnlint", "--no-cache", "--format", "json", "."],
        cwd=repo, capture_output=True, text=True, timeout=120, check=False)
    found = {(item["filename"], item["code"]) for item in json.loads(done.stdout)}
    demo = os.path.join("examples", "demo.py")
    assert found == {(demo, "BN301"), (demo, "BN212")}
    shown = subprocess.run(
        [sys.executable, "-m", "bnlint", "--show-settings",
         os.path.join("tf_keras", "backend_test.py"), demo],
        cwd=repo, capture_output=True, text=True, timeout=120, check=True).stdout
    assert shown.count("migration-rules[") == 1
    assert "`tf_keras` package's own sources" in shown


def test_a_folder_named_like_keras_without_a_package_is_user_code(repo: Path) -> None:
    write(repo / "keras" / "train.py", LEGACY_CALLS)  # no keras/__init__.py
    done = subprocess.run(
        [sys.executable, "-m", "bnlint", "--no-cache", "--format", "json", "."],
        cwd=repo, capture_output=True, text=True, timeout=120, check=False)
    assert {item["code"] for item in json.loads(done.stdout)} == {"BN301", "BN212"}


TF1_NETWORK = """\
import tensorflow as tf


def generator(z):
    h = tf.layers.dense(z, 128)
    h = tf.layers.batch_normalization(h)
    return tf.nn.relu(h)
"""
TF1_TRAINER = """\
import tensorflow as tf
{import_line}

z = tf.placeholder(tf.float32, [None, 100])
loss = tf.reduce_mean({call}(z))
{train}
"""
TRAIN_OP = "train_op = tf.train.AdamOptimizer(1e-3).minimize(loss)"


def findings_of(code: str, args: list[str], cwd: Path,
                cache: bool = False) -> list[dict[str, object]]:
    """The JSON findings of rule ``code`` for ``bnlint args`` run in ``cwd``."""
    done = subprocess.run(
        [sys.executable, "-m", "bnlint", *([] if cache else ["--no-cache"]), "--format",
         "json", "--select", code, *args],
        cwd=cwd, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode in (0, 1), done.stderr
    return list(json.loads(done.stdout))


def bn303(args: list[str], cwd: Path, cache: bool = False) -> list[dict[str, object]]:
    return findings_of("BN303", args, cwd, cache)


@pytest.mark.parametrize(("network", "import_line", "call"), [
    ("generator.py", "from generator import generator", "generator"),
    (os.path.join("nets", "generator.py"), "from nets.generator import generator",
     "generator"),
    (os.path.join("nets", "generator.py"), "from nets import generator",
     "generator.generator"),
    (os.path.join("nets", "generator.py"), "import nets.generator as gen",
     "gen.generator"),
])
def test_a_tf1_network_trained_by_the_module_that_imports_it(
        repo: Path, network: str, import_line: str, call: str) -> None:
    # generator.py only builds the graph; dcgan.py imports it and builds the train op
    if os.sep in network:
        write(repo / "nets" / "__init__.py", "")
    write(repo / network, TF1_NETWORK)
    trainer = TF1_TRAINER.format(import_line=import_line, call=call, train=TRAIN_OP)
    write(repo / "dcgan.py", trainer)
    found = bn303([network], repo)
    assert [(item["code"], item["location"]["row"]) for item in found] == [("BN303", 6)]
    assert "(`" + os.path.relpath("dcgan.py", os.path.dirname(network) or ".") in str(
        found[0]["message"])
    # nothing in the project trains the network: an inference graph, not reported
    write(repo / "dcgan.py", TF1_TRAINER.format(import_line=import_line, call=call, train=""))
    assert bn303([network], repo) == []


def test_editing_the_module_that_imports_a_network_relints_it(repo: Path) -> None:
    write(repo / "generator.py", TF1_NETWORK)
    trained = TF1_TRAINER.format(import_line="from generator import generator",
                                 call="generator", train=TRAIN_OP)
    write(repo / "dcgan.py", trained)
    assert [item["code"] for item in bn303(["generator.py"], repo, cache=True)] == ["BN303"]
    write(repo / "dcgan.py", trained.replace(TRAIN_OP, ""))
    assert bn303(["generator.py"], repo, cache=True) == []
    write(repo / "dcgan.py", trained)
    assert [item["code"] for item in bn303(["generator.py"], repo, cache=True)] == ["BN303"]


def test_an_importer_added_later_is_seen_by_the_same_process(repo: Path) -> None:
    # the editor's server lints generator.py, then the user writes the trainer beside it
    network = write(repo / "generator.py", TF1_NETWORK)
    assert Project(str(network), str(repo)).importers() == []
    time.sleep(0.01)  # a directory's modification time must move on
    trainer = write(repo / "dcgan.py", TF1_TRAINER.format(
        import_line="from generator import generator", call="generator", train=TRAIN_OP))
    assert Project(str(network), str(repo)).importers() == [str(trainer.resolve())]


GAN_NETS = """\
import tensorflow as tf


def make_generator():
    return tf.keras.Sequential([tf.keras.layers.Dense(64), tf.keras.layers.BatchNormalization(),
                                tf.keras.layers.Dense(784)])
"""
GAN_TRAINER = """\
import tensorflow as tf
{import_nets}

class Trainer:
    def __init__(self, generator):
        self.generator = {generator}
        self.optimizer = tf.keras.optimizers.Adam(1e-4)

    def train_step(self, noise):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(self.generator(noise))
        grads = tape.gradient(loss, self.generator.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.generator.trainable_variables))
"""
GAN_MAIN = """\
from nets import make_generator
from trainer import Trainer

trainer = Trainer(make_generator())
trainer.train_step(noise)
"""


def bn107(args: list[str], cwd: Path) -> list[dict[str, object]]:
    done = subprocess.run(
        [sys.executable, "-m", "bnlint", "--no-cache", "--format", "json", "--select",
         "BN107", "--target-keras", "tf-keras", *args],
        cwd=cwd, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode in (0, 1), done.stderr
    return list(json.loads(done.stdout))


def test_a_trainer_class_given_a_model_built_in_another_module(repo: Path) -> None:
    # trainer.py alone cannot know its generator holds BN: main.py, which hands it
    # the model from nets.py, reports the step, with notes in both modules
    write(repo / "nets.py", GAN_NETS)
    write(repo / "trainer.py", GAN_TRAINER.format(import_nets="", generator="generator"))
    write(repo / "main.py", GAN_MAIN)
    found = bn107(["."], repo)
    assert [(item["filename"], item["location"]["row"]) for item in found] == [  # type: ignore[index]
        ("main.py", 5)]
    notes = {note["filename"] for note in found[0]["related"]}  # type: ignore[attr-defined]
    assert notes == {"nets.py", "trainer.py"}


def test_a_trainer_that_builds_its_own_model_reports_it_itself(repo: Path) -> None:
    # here trainer.py imports the builder: its own report holds the finding, and the
    # module that drives it does not repeat it
    write(repo / "nets.py", GAN_NETS)
    write(repo / "trainer.py", GAN_TRAINER.format(import_nets="from nets import make_generator\n",
                                                  generator="make_generator()"))
    write(repo / "main.py", GAN_MAIN)
    assert [item["filename"] for item in bn107(["."], repo)] == ["trainer.py"]


SEGMENTER = """\
import tensorflow as tf


def get_model(normalise=True):
    inputs = tf.keras.Input((128, 128, 3))
    x = tf.keras.layers.Conv2D(16, 3)(inputs)
    if normalise:
        x = tf.keras.layers.BatchNormalization()(x)
    return tf.keras.Model(inputs, tf.keras.layers.Conv2D(2, 1)(x))
"""
TRAIN_FUNCTION = """\
from tensorflow import keras
from config import batch_size
from loader import Loader


def train(model, pairs):
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    data = Loader(batch_size, pairs)
    model.fit(data, epochs=10)
    model.save("model.keras")
    return model
"""
LOADER = """\
from tensorflow import keras


class Loader(keras.utils.Sequence):
    def __init__(self, batch_size, pairs):
        self.batch_size = batch_size
        self.pairs = pairs
"""
RUN = """\
from model import get_model
from train import train

if __name__ == "__main__":
    model = get_model({arguments})
    train(model, pairs)
"""


def tiny_batch_project(repo: Path, arguments: str = "") -> None:
    write(repo / "model.py", SEGMENTER)
    write(repo / "config.py", "batch_size = 1\n")
    write(repo / "loader.py", LOADER)
    write(repo / "train.py", TRAIN_FUNCTION)
    write(repo / "run.py", RUN.format(arguments=arguments))


def bn401(args: list[str], cwd: Path, cache: bool = False) -> list[dict[str, object]]:
    return findings_of("BN401", args, cwd, cache)


def test_a_trainer_function_is_judged_with_the_model_its_caller_hands_it(repo: Path) -> None:
    # train.py alone sees a parameter; run.py, which imports and calls it, hands it a
    # model with BN: the finding is train.py's (its steps are there and in the config it
    # imports), with a note at the call in run.py
    tiny_batch_project(repo)
    found = bn401(["train.py"], repo)
    assert [(item["filename"], item["location"]) for item in found] == [
        ("train.py", {"row": 8, "column": 19})]
    notes = {(note["filename"], note["location"]["row"])  # type: ignore[index]
             for note in found[0]["related"]}  # type: ignore[attr-defined]
    assert notes == {("train.py", 9), ("config.py", 1), ("run.py", 6)}
    # the whole project shows it once, in train.py
    assert [item["filename"] for item in bn401(["."], repo)] == ["train.py"]


def test_a_caller_handing_over_a_model_without_bn_makes_no_finding(repo: Path) -> None:
    tiny_batch_project(repo, arguments="normalise=False")
    assert bn401(["."], repo) == []


def test_editing_the_caller_relints_the_trainer(repo: Path) -> None:
    tiny_batch_project(repo, arguments="normalise=False")
    assert bn401(["train.py"], repo, cache=True) == []
    write(repo / "run.py", RUN.format(arguments=""))
    assert [item["filename"] for item in bn401(["train.py"], repo, cache=True)] == ["train.py"]


def test_a_caller_whose_replay_fails_leaves_the_files_own_findings(
        repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bnlint import engine
    from bnlint.registry import all_rules
    from bnlint.semantic import build
    from bnlint.settings import Settings
    from bnlint.source import Source

    tiny_batch_project(repo)
    trainer = repo / "train.py"
    # the trainer has a finding of its own, besides what its caller shows
    write(trainer, TRAIN_FUNCTION + "\nbn = keras.layers.BatchNormalization(momentum=0.1)\n")

    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("replay failed")

    monkeypatch.setattr(build, "build_joined", broken)
    result = engine.lint_source(Source(str(trainer), trainer.read_text(encoding="utf-8")),
                                Settings(), all_rules(), project=project_for(str(trainer),
                                                                             str(repo)))
    assert [finding.code for finding in result.findings] == ["BN402"]
    assert len(result.errors) == 1 and "run.py" in result.errors[0]
    assert "replay failed" in result.errors[0]


GAN_CLASSES = """\
import tensorflow as tf
from tensorflow import keras


class Critic(keras.Model):
    def __init__(self, encoder):
        super().__init__()
        self.encoder = encoder

    def call(self, x):
        return self.encoder(x)


class GAN(keras.Model):
    def __init__(self, generator, critic):
        super().__init__()
        self.generator = generator
        self.critic = critic

    def compile(self, g_optimizer, d_optimizer):
        super().compile()
        self.g_optimizer = g_optimizer
        self.d_optimizer = d_optimizer

    def train_step(self, data):
        with tf.GradientTape() as d_tape:
            d_loss = tf.reduce_mean(self.critic(data{training})) - tf.reduce_mean(
                self.critic(data * 2{training}))
        grads = d_tape.gradient(d_loss, self.critic.trainable_weights)
        self.d_optimizer.apply_gradients(zip(grads, self.critic.trainable_weights))
        with tf.GradientTape() as g_tape:
            g_loss = tf.reduce_mean(self.generator(data{training}))
        grads = g_tape.gradient(g_loss, self.generator.trainable_weights)
        self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights))
        return {{"d": d_loss, "g": g_loss}}
"""
GAN_DRIVER = """\
from tensorflow import keras
from gan import GAN, Critic

encoder = keras.Sequential([keras.layers.Dense(8), keras.layers.BatchNormalization(),
                            keras.layers.Dense(1)])
generator = keras.Sequential([keras.layers.Dense(8), keras.layers.BatchNormalization(),
                              keras.layers.Dense(4)])
gan = GAN(generator, Critic(encoder))
gan.compile(keras.optimizers.Adam(1e-4), keras.optimizers.Adam(1e-4))
gan.fit(dataset, epochs=10)
"""


@pytest.mark.parametrize("training", ["", ", training=True"])
def test_fit_runs_the_train_step_of_a_model_class_from_another_module(
        repo: Path, training: str) -> None:
    # each model the train_step calls without training= is its own finding (the critic
    # called twice is one), at the fit that runs it, with the step in gan.py as a note
    write(repo / "gan.py", GAN_CLASSES.format(training=training))
    write(repo / "train.py", GAN_DRIVER)
    found = bn107(["."], repo)
    if training:
        assert found == []
        return
    assert [(item["filename"], item["location"]["row"]) for item in found] == [  # type: ignore[index]
        ("train.py", 10), ("train.py", 10)]
    steps = sorted(note["location"]["row"] for item in found  # type: ignore[index]
                   for note in item["related"]  # type: ignore[attr-defined]
                   if note["filename"] == "gan.py" and "step reported above" in note["message"])
    assert steps == [27, 32]


SLIM_DECODER = """\
import tensorflow as tf
import tensorflow.contrib.slim as slim


def up(net, channels):
    net = slim.conv2d_transpose(net, channels, 3, activation_fn=None)
    return tf.nn.relu(slim.batch_norm(net))


def build_decoder(inputs):
{body}
"""
SLIM_TRAINER = """\
import tensorflow as tf
from {module} import build_decoder

sess = tf.Session()
images = tf.placeholder(tf.float32, [None, 64, 64, 3])
logits = build_decoder(images)
loss = tf.reduce_mean(logits)
opt = tf.train.AdamOptimizer(1e-4).minimize(loss)
"""


def bn302(args: list[str], cwd: Path) -> list[dict[str, object]]:
    return findings_of("BN302", args, cwd)


def test_a_slim_batch_norm_built_in_another_module_and_trained_here(repo: Path) -> None:
    # the decoder's slim.batch_norm defaults to is_training=True and UPDATE_OPS; the
    # backbone's arg_scope covers its own layers only
    write(repo / "model" / "__init__.py", "")
    backbone = ("    with slim.arg_scope([slim.conv2d], padding='SAME'):\n"
                "        inputs = slim.conv2d(inputs, 8, 3)\n"
                "    return up(inputs, 8)")
    write(repo / "model" / "unet.py", SLIM_DECODER.format(body=backbone))
    write(repo / "train.py", SLIM_TRAINER.format(module="model.unet"))
    found = bn302(["train.py"], repo)
    assert [(item["code"], item["location"]["row"]) for item in found] == [("BN302", 8)]
    assert [(note["filename"], note["location"]["row"]) for note in found[0]["related"]] == [
        (os.path.join("model", "unet.py"), 7)]


CONDITIONAL_BN = """\
import tensorflow as tf


def conv(x, bn=False):
    h = tf.layers.conv2d(x, 8, 3)
    if bn:
        h = tf.contrib.layers.batch_norm(h, is_training=True)
    return tf.nn.relu(h)


def small_net(x):
    return conv(x)


def big_net(x):
    return conv(x, bn=True)
"""
CHOOSING_TRAINER = """\
import argparse

import tensorflow as tf

from nets import big_net, small_net


def train(net, x):
    loss = tf.reduce_mean(net(x))
    return tf.train.AdamOptimizer(1e-4).minimize(loss)


parser = argparse.ArgumentParser()
parser.add_argument("--data", default="mnist")
args = parser.parse_args()
x = tf.placeholder(tf.float32, [None, 28, 28, 1])
if args.data == "mnist":
    train(small_net, x)
elif args.data == "celeba":
    train(big_net, x)
"""


def test_a_batch_norm_only_one_arm_builds_names_that_arm(repo: Path) -> None:
    # the train op is built on both paths, but only the celeba network has a
    # batch_norm: the finding holds when `--data celeba` is given, and says so
    write(repo / "nets.py", CONDITIONAL_BN)
    write(repo / "train.py", CHOOSING_TRAINER)
    found = bn302(["train.py"], repo)
    assert [item["location"]["row"] for item in found] == [10]
    assert [(note["filename"], note["location"]["row"], note["message"])
            for note in found[0]["related"]] == [
        ("nets.py", 7, "batch normalization built in training mode here"),
        ("train.py", 19, 'when `args.data == "celeba"` is true')]


def test_a_network_module_reached_through_another_module_is_read_for_the_prefilter(
        repo: Path) -> None:
    # train.py never mentions batch_norm: `nets.py` imports the module that builds it
    write(repo / "blocks.py", SLIM_DECODER.format(body="    return up(inputs, 8)"))
    write(repo / "nets.py", "from blocks import build_decoder\n")
    write(repo / "train.py", SLIM_TRAINER.format(module="nets"))
    assert [item["location"]["row"] for item in bn302(["train.py"], repo)] == [8]


def test_a_slim_batch_norm_inside_an_arg_scope_is_left(
        repo: Path) -> None:
    # an arg_scope around the call may set is_training or updates_collections
    scoped = ("    with slim.arg_scope([slim.batch_norm], is_training=False):\n"
              "        return up(inputs, 8)")
    write(repo / "unet.py", SLIM_DECODER.format(body=scoped))
    write(repo / "train.py", SLIM_TRAINER.format(module="unet"))
    assert bn302(["train.py"], repo) == []


def test_an_arg_scope_from_a_helper_or_held_in_a_name_may_set_the_batch_norm(
        repo: Path) -> None:
    for scoped in ("    with bn_scope():\n        return up(inputs, 8)",
                   ("    scope = slim.arg_scope([slim.batch_norm], updates_collections=None)\n"
                    "    with scope:\n        return up(inputs, 8)")):
        helper = ("\n\ndef bn_scope():\n"
                  "    return slim.arg_scope([slim.batch_norm], updates_collections=None)\n")
        write(repo / "unet.py", SLIM_DECODER.format(body=scoped) + helper)
        write(repo / "train.py", SLIM_TRAINER.format(module="unet"))
        assert bn302(["train.py"], repo) == [], scoped


def test_update_ops_used_by_another_train_op_do_not_excuse_this_one(repo: Path) -> None:
    # unet.py's own helper wraps its train op; train.py builds one without them
    handled = ("    return up(inputs, 8)\n\n\n"
               "def train_op(loss):\n"
               "    with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):\n"
               "        return tf.train.AdamOptimizer(1e-4).minimize(loss)")
    write(repo / "unet.py", SLIM_DECODER.format(body=handled))
    write(repo / "train.py", SLIM_TRAINER.format(module="unet"))
    assert [item["location"]["row"] for item in bn302(["train.py"], repo)] == [8]
    # the train op built by that helper is covered
    write(repo / "train.py", SLIM_TRAINER.format(module="unet").replace(
        "opt = tf.train.AdamOptimizer(1e-4).minimize(loss)", "opt = train_op(loss)").replace(
        "import build_decoder", "import build_decoder, train_op"))
    assert bn302(["train.py"], repo) == []
