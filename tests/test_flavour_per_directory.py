"""Which Keras each file targets: pins per directory, every pin source, code signals, and
"unknown" as an answer (no flavour-dependent finding when nothing says which Keras)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bnlint.engine import judged_flavour
from bnlint.flavour import Flavour
from bnlint.pins import PinIndex, project_flavour
from bnlint.project import project_for
from bnlint.settings import Settings
from bnlint.sources import source_from_text

# BN212 depends on the flavour: `lr=` is right in Keras 2 and tf-keras < 2.11, ignored in
# tf-keras >= 2.11 and rejected by Keras 3.
LR_SCRIPT = """\
import tensorflow as tf
opt = tf.keras.optimizers.Adam(lr=0.001)
model = tf.keras.Sequential([tf.keras.layers.Dense(1)])
model.compile(optimizer=opt, loss="mse")
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def bnlint(args: list[str], cwd: Path) -> list[dict[str, object]]:
    done = subprocess.run(
        [sys.executable, "-m", "bnlint", "--no-cache", "--format", "json", *args],
        cwd=cwd, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode in (0, 1), done.stderr
    return list(json.loads(done.stdout))


def cached_codes(repo: Path, path: str) -> list[str]:
    """The codes bnlint reports on ``path``, run with its cache."""
    done = subprocess.run(
        [sys.executable, "-m", "bnlint", "--format", "json", path], cwd=repo,
        capture_output=True, text=True, timeout=120, check=False)
    return [item["code"] for item in json.loads(done.stdout)]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    return root


# --- the nearest pinned directory ------------------------------------------------------


def test_each_directory_takes_its_own_pins(repo: Path) -> None:
    write(repo / "legacy" / "requirements.txt", "tensorflow==1.15.5\n")
    write(repo / "modern" / "requirements.txt", "tensorflow==2.15.0\n")
    index = PinIndex(str(repo))
    legacy = index.flavour_for(str(repo / "legacy" / "train.py"))
    modern = index.flavour_for(str(repo / "modern" / "deep" / "train.py"))
    assert legacy is not None and (legacy.name, legacy.version) == ("tf1", (1, 15, 5))
    assert modern is not None and (modern.name, modern.version) == ("tf-keras", (2, 15, 0))
    assert index.flavour_for(str(repo / "other" / "train.py")) is None


def test_the_nearest_pin_wins_over_the_root(repo: Path) -> None:
    write(repo / "requirements.txt", "keras==3.8.0\n")
    write(repo / "old" / "requirements.txt", "keras==2.4.3\n")
    index = PinIndex(str(repo))
    assert index.flavour_for(str(repo / "old" / "a.py")).name == "keras2"  # type: ignore[union-attr]
    assert index.flavour_for(str(repo / "new" / "a.py")).name == "keras3"  # type: ignore[union-attr]


def test_a_directory_that_decides_nothing_passes_the_question_up(repo: Path) -> None:
    write(repo / "requirements.txt", "tensorflow==2.10.0\n")
    write(repo / "sub" / "requirements.txt", "numpy\ntensorflow\n")  # bare: says nothing
    flavour = PinIndex(str(repo)).flavour_for(str(repo / "sub" / "a.py"))
    assert flavour is not None and flavour.version == (2, 10, 0)


def test_the_search_stops_at_the_repository_top(tmp_path: Path) -> None:
    write(tmp_path / "requirements.txt", "tensorflow==1.15\n")  # outside the repository
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    assert PinIndex(str(repo)).flavour_for(str(repo / "src" / "a.py")) is None


def test_the_answer_does_not_depend_on_where_bnlint_starts(repo: Path) -> None:
    write(repo / "requirements.txt", "tensorflow==2.15.0\n")
    write(repo / "src" / "train.py", LR_SCRIPT)
    from_top = bnlint(["src/train.py"], repo)
    from_inside = bnlint(["train.py"], repo / "src")
    assert [item["code"] for item in from_top] == ["BN212"]
    assert [item["code"] for item in from_inside] == ["BN212"]
    for found in (from_top, from_inside):
        keras = found[0]["keras"]
        assert isinstance(keras, dict)
        assert (keras["flavour"], keras["version"]) == ("tf-keras", "2.15.0")
        assert str(keras["decided_by"]).endswith("requirements.txt")


def test_two_pinned_directories_give_two_verdicts_in_one_run(repo: Path) -> None:
    write(repo / "keras2_era" / "requirements.txt", "tensorflow==2.4.1\n")
    write(repo / "keras3_era" / "requirements.txt", "tensorflow==2.17.0\n")
    write(repo / "keras2_era" / "train.py", LR_SCRIPT)
    write(repo / "keras3_era" / "train.py", LR_SCRIPT)
    found = bnlint(["."], repo)
    assert [(item["filename"], item["code"]) for item in found] == [
        (os.path.join("keras3_era", "train.py"), "BN212")]
    assert "Keras 3" in str(found[0]["message"])
    assert "keras3_era" in str(found[0]["message"])  # the pin that decided is named


# --- every pin source ------------------------------------------------------------------


@pytest.mark.parametrize(("name", "text", "expected"), [
    ("setup.py", """\
        from setuptools import setup
        setup(name="x", install_requires=["numpy", "tensorflow==2.4.1"])
        """, ("tf-keras", (2, 4, 1))),
    ("setup.py", """\
        import setuptools
        REQUIRED = ["keras==2.3.1"]
        setuptools.setup(name="x", install_requires=REQUIRED)
        """, ("keras2", (2, 3, 1))),
    ("setup.py", """\
        from setuptools import setup
        setup(name="x", extras_require={"gpu": ["tensorflow-gpu==1.14.0"]})
        """, ("tf1", (1, 14, 0))),
    ("Pipfile", """\
        [packages]
        numpy = "*"
        tensorflow = "==2.9.1"
        """, ("tf-keras", (2, 9, 1))),
    ("Pipfile", """\
        [dev-packages]
        keras = {version = "==3.3.3", extras = ["jax"]}
        """, ("keras3", (3, 3, 3))),
    ("Dockerfile", """\
        FROM python:3.8
        RUN pip install --no-cache-dir numpy && \\
            pip install tensorflow==2.3.0 -r requirements.txt
        """, ("tf-keras", (2, 3, 0))),
    ("Dockerfile", """\
        FROM tensorflow/tensorflow:1.15.5-gpu-py3
        RUN pip install pillow
        """, ("tf1", (1, 15, 5))),
    ("pyproject.toml", """\
        [tool.poetry.dependencies]
        tensorflow = "2.12.0"
        """, ("tf-keras", (2, 12, 0))),
    ("environment.yml", """\
        dependencies:
          - python=3.7
          - pip:
            - keras==2.2.4
        """, ("keras2", (2, 2, 4))),
])
def test_every_pin_source(tmp_path: Path, name: str, text: str,
                          expected: tuple[str, tuple[int, ...]]) -> None:
    write(tmp_path / name, text)
    flavour = project_flavour(str(tmp_path))
    assert flavour is not None
    assert (flavour.name, flavour.version) == expected
    assert name in flavour.reason


@pytest.mark.parametrize(("name", "text"), [
    ("setup.py", "setup(install_requires=[f'tensorflow=={VERSION}'])\n"),  # not a literal
    ("setup.py", "def broken(:\n"),
    ("Pipfile", "[packages\n"),
    ("Dockerfile", "RUN pip install -r requirements.txt\n"),
    ("Dockerfile", "FROM tensorflow/tensorflow:latest-gpu\n"),
])
def test_what_cannot_be_read_statically_pins_nothing(tmp_path: Path, name: str,
                                                     text: str) -> None:
    write(tmp_path / name, text)
    assert project_flavour(str(tmp_path)) is None


def test_setup_py_is_read_not_run(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    write(tmp_path / "setup.py", f"""\
        open({str(marker)!r}, "w").close()
        from setuptools import setup
        setup(install_requires=["tensorflow==2.4.1"])
        """)
    assert project_flavour(str(tmp_path)) is not None
    assert not marker.exists()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_named_like_a_requirements_file_is_not_read(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "requirements.txt")
    assert project_flavour(str(tmp_path)) is None  # would block forever if opened


# --- code signals ----------------------------------------------------------------------


def flavour_of(text: str, path: str = "t.py") -> Flavour | None:
    return judged_flavour(source_from_text(path, textwrap.dedent(text)), Settings())


@pytest.mark.parametrize(("text", "name", "because"), [
    ("""\
     import os
     os.environ["TF_USE_LEGACY_KERAS"] = "1"
     import tensorflow as tf
     """, "tf-keras", "TF_USE_LEGACY_KERAS"),
    ("""\
     import os
     os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
     """, "tf-keras", "TF_USE_LEGACY_KERAS"),
    ("""\
     from tensorflow.python.keras import backend as K
     K.learning_phase()
     """, "tf-keras", "tensorflow.python.keras"),
    ("""\
     import keras
     from keras import backend as K
     session = K.get_session()
     """, "keras2", "get_session"),
    ("""\
     import tensorflow as tf
     from tensorflow import keras
     session = keras.backend.get_session()
     """, "tf1", "TF1"),
    ("""\
     from keras.layers.merge import concatenate
     """, "keras2", "keras.layers.merge"),
    ("""\
     import tensorflow.compat.v1 as tf
     tf.disable_v2_behavior()
     """, "tf1", "TF1"),
])
def test_code_signals(text: str, name: str, because: str) -> None:
    flavour = flavour_of(text)
    assert flavour is not None and not flavour.assumed
    assert flavour.name == name
    assert because in flavour.reason


def test_an_environment_key_other_than_the_legacy_switch_says_nothing() -> None:
    flavour = flavour_of("""\
        import os
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "1"
        import tensorflow as tf
        """)
    assert flavour is not None and flavour.assumed


def test_a_notebooks_env_magic_selects_tf_keras() -> None:
    cells = [
        {"cell_type": "code", "source": "%env TF_USE_LEGACY_KERAS=1", "metadata": {},
         "outputs": [], "execution_count": None},
        {"cell_type": "code", "source": LR_SCRIPT, "metadata": {}, "outputs": [],
         "execution_count": None},
    ]
    notebook = json.dumps({"cells": cells, "metadata": {}, "nbformat": 4,
                           "nbformat_minor": 5})
    flavour = judged_flavour(source_from_text("t.ipynb", notebook), Settings())
    assert flavour is not None and flavour.name == "tf-keras"


def test_nothing_says_which_keras_is_unknown_and_flavour_rules_stay_silent(
        repo: Path) -> None:
    write(repo / "train.py", LR_SCRIPT)
    found = bnlint(["train.py"], repo)
    assert found == []
    shown = subprocess.run(
        [sys.executable, "-m", "bnlint", "--show-settings", "train.py"], cwd=repo,
        capture_output=True, text=True, timeout=120, check=False)
    assert "keras['train.py'] = 'unknown:" in shown.stdout


def test_keras2_only_code_with_nothing_pinned_gets_no_keras3_verdict(repo: Path) -> None:
    write(repo / "train.py", """\
        from keras.models import Sequential
        from keras.layers import Dense
        from keras.optimizers import Adam
        model = Sequential([Dense(1)])
        model.compile(optimizer=Adam(lr=0.001), loss="mse")
        model.fit_generator(batches, epochs=3)
        """)
    assert bnlint(["train.py"], repo) == []


def test_show_settings_names_what_decided_for_each_path(repo: Path) -> None:
    write(repo / "old" / "requirements.txt", "tensorflow==1.15\n")
    write(repo / "new" / "train.py", 'import tf_keras\n')
    shown = subprocess.run(
        [sys.executable, "-m", "bnlint", "--show-settings", "old", "new/train.py"], cwd=repo,
        capture_output=True, text=True, timeout=120, check=False)
    assert shown.returncode == 0, shown.stderr
    assert ("keras['old'] = 'TensorFlow 1.15 (tensorflow==1.15 in "
            f"{os.path.join('old', 'requirements.txt')})'") in shown.stdout
    assert "keras['new/train.py'] = 'tf-keras (Keras 2) 2.15 (the file imports tf_keras)'" in (
        shown.stdout)


# --- the cache ---------------------------------------------------------------------------


def test_changing_a_directorys_pin_relints_its_files(repo: Path) -> None:
    write(repo / "sub" / "requirements.txt", "tensorflow==2.4.1\n")
    write(repo / "sub" / "train.py", LR_SCRIPT)

    assert cached_codes(repo, "sub") == []
    write(repo / "sub" / "requirements.txt", "tensorflow==2.17.0\n")
    assert cached_codes(repo, "sub") == ["BN212"]
    assert cached_codes(repo, "sub") == ["BN212"]  # from the cache, with the same verdict


@pytest.mark.parametrize(("pins", "expected"), [
    ("keras==2.2.4\n", ("tf-keras", None)),
    ("keras==2.2.4\ntensorflow-gpu==1.13.2\n", ("tf1", (1, 13, 2))),
    ("keras==2.4.3\ntensorflow==2.4.1\n", ("tf-keras", (2, 4, 3))),
])
def test_a_standalone_keras_pin_does_not_decide_tf_keras_code(
        repo: Path, pins: str, expected: tuple[str, tuple[int, ...] | None]) -> None:
    write(repo / "requirements.txt", pins)
    train = write(repo / "train.py", "import tensorflow as tf\nmodel = tf.keras.Sequential()\n")
    pinned = PinIndex(str(repo)).flavour_for(str(train))
    assert pinned is not None and pinned.name in {"keras2", "tf1", "tf-keras"}
    flavour = judged_flavour(source_from_text(str(train), train.read_text()), Settings(),
                             pinned)
    assert flavour is not None and (flavour.name, flavour.version) == expected
    standalone = judged_flavour(source_from_text("k.py", "import keras\n"), Settings(), pinned)
    assert standalone is not None and standalone.name == pinned.name


def test_show_settings_reads_the_modules_a_file_imports_as_the_lint_does(
        repo: Path) -> None:
    # the Keras 2 module `models.py` uses decides for the script that imports it, in
    # --show-settings as in the findings' `keras` entry
    write(repo / "models.py", """\
        from keras.engine.topology import Layer
        from keras.layers import Dense
        """)
    write(repo / "train.py", "import models\nimport keras\nmodel = keras.Sequential()\n")
    shown = subprocess.run(
        [sys.executable, "-m", "bnlint", "--show-settings", "train.py"], cwd=repo,
        capture_output=True, text=True, timeout=120, check=False)
    assert shown.returncode == 0, shown.stderr
    assert "keras['train.py'] = 'standalone Keras 2 (the file uses `keras.engine" in (
        shown.stdout)


# --- the modules importing a file run it on their Keras ----------------------------------

FUSED_LAYER = """\
    import tensorflow as tf


    class CrossReplicaBatchNorm(tf.keras.layers.BatchNormalization):
        def __init__(self, fused=False, **kwargs):
            super().__init__(fused=fused, **kwargs)
    """
KERAS3_IMPORTER = """\
    import tensorflow as tf
    from layers import CrossReplicaBatchNorm

    def masked_mean(x, mask):
        return tf.keras.ops.mean(tf.keras.ops.where(mask, x, 0.0))
    """
KERAS2_IMPORTER = """\
    import tensorflow as tf
    from layers import CrossReplicaBatchNorm

    def train(model, batches):
        model.fit_generator(batches, epochs=1)
    """


def test_a_module_takes_the_keras_of_the_module_that_imports_it(repo: Path) -> None:
    # nothing pinned; `layers.py` says nothing itself, `data.py` runs it on Keras 3
    write(repo / "layers.py", FUSED_LAYER)
    assert bnlint(["layers.py"], repo) == []
    write(repo / "data.py", KERAS3_IMPORTER)
    found = bnlint(["layers.py"], repo)
    assert [(item["code"], item["location"]["row"]) for item in found] == [("BN305", 6)]
    assert found[0]["keras"] == {
        "flavour": "keras3", "version": None,
        "decided_by": "`data.py` imports it and uses `keras.ops.mean`, which only Keras 3 has"}
    shown = subprocess.run(
        [sys.executable, "-m", "bnlint", "--show-settings", "layers.py"], cwd=repo,
        capture_output=True, text=True, timeout=120, check=False)
    assert "keras['layers.py'] = 'Keras 3 (`data.py` imports it" in shown.stdout


def test_importers_that_disagree_decide_nothing(repo: Path) -> None:
    write(repo / "layers.py", FUSED_LAYER)
    write(repo / "data.py", KERAS3_IMPORTER)
    write(repo / "legacy.py", KERAS2_IMPORTER)
    assert bnlint(["layers.py"], repo) == []


def test_an_importer_written_for_keras_2_keeps_the_keras_2_verdict(repo: Path) -> None:
    write(repo / "layers.py", FUSED_LAYER)
    write(repo / "legacy.py", KERAS2_IMPORTER)
    flavour = judged_flavour(source_from_text(str(repo / "layers.py"),
                                              (repo / "layers.py").read_text()),
                             Settings(), None, project_for(str(repo / "layers.py"),
                                                           str(repo)))
    assert flavour is not None and flavour.name == "tf-keras" and not flavour.assumed
    assert flavour.reason == ("`legacy.py` imports it and uses `.fit_generator()`, which "
                              "Keras 3 removed")


def test_a_pin_still_wins_over_the_importers(repo: Path) -> None:
    write(repo / "requirements.txt", "tensorflow==2.12.0\n")
    write(repo / "layers.py", FUSED_LAYER)
    write(repo / "data.py", KERAS3_IMPORTER)
    assert bnlint(["layers.py"], repo) == []


def test_an_importers_comment_or_string_says_nothing(repo: Path) -> None:
    write(repo / "layers.py", FUSED_LAYER)
    write(repo / "data.py", """\
        # ported from code using tf.keras.ops.mean
        from layers import CrossReplicaBatchNorm
        NOTE = "keras.ops is Keras 3 only"
        """)
    assert bnlint(["layers.py"], repo) == []


# --- a TensorFlow 1 pin beside code only TensorFlow 2 runs -------------------------------

EAGER_LOOP = """\
    import tensorflow as tf

    model = tf.keras.Sequential([tf.keras.layers.Dense(8), tf.keras.layers.BatchNormalization()])
    optimizer = tf.keras.optimizers.Adam()
    {writer}
    for x, y in batches:
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean((model(x) - y) ** 2)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
    """


@pytest.mark.parametrize("writer", [
    'writer = tf.summary.create_file_writer("logs")',
    'gpus = tf.config.list_physical_devices("GPU")',
])
def test_a_tf1_pin_beside_tensorflow_2_code_is_stale(repo: Path, writer: str) -> None:
    write(repo / "requirements.txt", "tensorflow-gpu==1.12.0\n")
    write(repo / "train.py", EAGER_LOOP.format(writer=writer))
    assert [(item["code"], item["location"]["row"]) for item in bnlint(["train.py"], repo)] == [
        ("BN107", 8)]
    shown = subprocess.run(
        [sys.executable, "-m", "bnlint", "--show-settings", "train.py"], cwd=repo,
        capture_output=True, text=True, timeout=120, check=False)
    assert ("keras['train.py'] = 'unknown: tensorflow-gpu==1.12.0 in requirements.txt is "
            "stale: the code uses `tf.") in shown.stdout


def test_a_tf1_pin_still_decides_code_tensorflow_1_could_run(repo: Path) -> None:
    write(repo / "requirements.txt", "tensorflow-gpu==1.12.0\n")
    write(repo / "train.py", EAGER_LOOP.format(
        writer='gpus = tf.config.experimental.list_physical_devices("GPU")'))
    assert bnlint(["train.py"], repo) == []


def test_importers_anywhere_in_the_project_count(repo: Path) -> None:
    write(repo / "models" / "layers.py", FUSED_LAYER)
    write(repo / "export.py", KERAS3_IMPORTER.replace("from layers", "from models.layers"))
    found = bnlint(["models/layers.py"], repo)
    assert [item["code"] for item in found] == ["BN305"]
    # a Keras 2 script in a sibling directory disagrees: nothing is decided, and
    # --show-settings names both
    write(repo / "scripts" / "train.py",
          KERAS2_IMPORTER.replace("from layers", "from models.layers"))
    assert bnlint(["models/layers.py"], repo) == []
    shown = subprocess.run(
        [sys.executable, "-m", "bnlint", "--show-settings", "models/layers.py"], cwd=repo,
        capture_output=True, text=True, timeout=120, check=False)
    assert ("keras['models/layers.py'] = 'unknown: the modules importing it disagree: "
            "`export.py` imports it and uses `keras.ops.mean`, which only Keras 3 has; "
            f"`{os.path.join('scripts', 'train.py')}` imports it and uses "
            "`.fit_generator()`, which Keras 3 removed;") in shown.stdout


def test_a_notebook_importing_the_module_leaves_it_undecided(repo: Path) -> None:
    write(repo / "layers.py", FUSED_LAYER)
    write(repo / "data.py", KERAS3_IMPORTER)
    notebook = {"cells": [{"cell_type": "code", "metadata": {}, "outputs": [],
                           "execution_count": None,
                           "source": ["from layers import CrossReplicaBatchNorm\n",
                                      "model.fit_generator(batches)\n"]}],
                "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (repo / "explore.ipynb").write_text(json.dumps(notebook), encoding="utf-8")
    assert bnlint(["layers.py"], repo) == []


def test_a_new_importer_relints_a_cached_module(repo: Path) -> None:
    write(repo / "layers.py", FUSED_LAYER)
    assert cached_codes(repo, "layers.py") == []
    write(repo / "data.py", KERAS3_IMPORTER)
    assert cached_codes(repo, "layers.py") == ["BN305"]
    (repo / "data.py").unlink()
    assert cached_codes(repo, "layers.py") == []


def test_a_tf1_pin_is_stale_for_the_modules_a_tensorflow_2_program_imports(
        repo: Path) -> None:
    write(repo / "requirements.txt", "tensorflow-gpu==1.12.0\n")
    write(repo / "trainer.py", EAGER_LOOP.format(writer=""))
    write(repo / "main.py", """\
        import tensorflow as tf
        import trainer
        writer = tf.summary.create_file_writer("logs")
        """)
    assert [item["code"] for item in bnlint(["trainer.py"], repo)] == ["BN107"]


def test_code_guarding_a_tensorflow_2_call_beside_tf1_calls_keeps_the_pin(
        repo: Path) -> None:
    write(repo / "requirements.txt", "tensorflow-gpu==1.12.0\n")
    guarded = ('if hasattr(tf.config, "list_physical_devices"):\n'
               '        gpus = tf.config.list_physical_devices("GPU")\n'
               '    x_in = tf.placeholder(tf.float32, [None, 8])')
    write(repo / "train.py", EAGER_LOOP.format(writer=guarded))
    shown = subprocess.run(
        [sys.executable, "-m", "bnlint", "--show-settings", "train.py"], cwd=repo,
        capture_output=True, text=True, timeout=120, check=False)
    assert "keras['train.py'] = 'TensorFlow 1.12.0 (tensorflow-gpu==1.12.0" in shown.stdout


def test_importers_are_looked_for_only_in_a_whole_project(tmp_path: Path) -> None:
    # no repository around the files: the root (where bnlint runs) bounds the project;
    # a file outside the root is alone, and what imports it may lie anywhere
    layers = write(tmp_path / "code" / "layers.py", FUSED_LAYER)
    write(tmp_path / "code" / "data.py", KERAS3_IMPORTER)
    source = source_from_text(str(layers), layers.read_text())
    inside = judged_flavour(source, Settings(), None, project_for(str(layers), str(tmp_path)))
    assert inside is not None and inside.name == "keras3" and not inside.assumed
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    outside = judged_flavour(source, Settings(), None, project_for(str(layers), str(elsewhere)))
    assert outside is not None and outside.assumed
