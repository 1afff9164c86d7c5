"""Which Keras a file targets when nothing is configured or pinned: code signals, and
"assumed" when there are none, where the flavour-dependent rules say nothing."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import libcst as cst
import pytest

from bnlint.registry import rule_by_code
from bnlint.semantic.build import build_model
from bnlint.semantic.flavour import resolve_flavour
from bnlint.settings import Settings
from bnlint.testing import lint_snippet


def flavour_of(code: str) -> tuple[str, bool]:
    model = build_model(cst.parse_module(textwrap.dedent(code)))
    flavour = resolve_flavour(model, Settings(), None)
    return flavour.name, flavour.assumed


@pytest.mark.parametrize(("code", "expected"), [
    ("import keras\nmodel.fit_generator(gen)\n", ("keras2", False)),
    ("from keras.layers.merge import concatenate\n", ("keras2", False)),
    ("from tensorflow.keras.layers.advanced_activations import LeakyReLU\nimport tensorflow\n",
     ("tf-keras", False)),
    ("import tensorflow as tf\nmodel.fit_generator(gen)\n", ("tf-keras", False)),
    # standalone Keras 2's TensorFlow backend module, beside `import tensorflow`
    ("import tensorflow as tf\nimport keras.backend.tensorflow_backend as KTF\n",
     ("keras2", False)),
    # `keras.utils.np_utils` was also in the keras package behind tf.keras 2.6-2.12
    ("import tensorflow as tf\nfrom keras.utils.np_utils import to_categorical\n",
     ("tf-keras", False)),
    ("import keras\nx = keras.ops.mean(y)\n", ("keras3", False)),
    ("import keras_hub\n", ("keras3", False)),
    ("import keras\nmodel = keras.Sequential()\n", ("keras3", True)),
    ("import keras\nmodel.fit_generator(g)\nx = keras.ops.mean(y)\n", ("keras3", True)),
])
def test_code_signals_decide_the_flavour(code: str, expected: tuple[str, bool]) -> None:
    assert flavour_of(code) == expected


LR = """
import keras
{extra}
opt = keras.optimizers.Adam(lr=1e-3)
"""


def test_lr_keyword_is_not_reported_when_nothing_says_which_keras() -> None:
    rule = rule_by_code("BN212")
    assert rule is not None
    assert lint_snippet(LR.format(extra=""), [rule]) == []


def test_lr_keyword_is_reported_when_the_code_is_keras3() -> None:
    rule = rule_by_code("BN212")
    assert rule is not None
    assert lint_snippet(LR.format(extra="keras.config.set_floatx('float32')"), [rule])


def test_lr_keyword_is_reported_under_a_configured_keras3() -> None:
    rule = rule_by_code("BN212")
    assert rule is not None
    assert lint_snippet(LR.format(extra=""), [rule], target="keras3")


def test_lr_keyword_in_keras2_code_is_not_reported() -> None:
    rule = rule_by_code("BN212")
    assert rule is not None
    assert lint_snippet(LR.format(extra="model.fit_generator(gen)"), [rule]) == []


def test_functional_training_false_is_neither_bn201_nor_bn202_when_assumed() -> None:
    code = """
    import keras
    base = keras.applications.ResNet50(include_top=False, pooling="avg")
    base.trainable = False
    inputs = keras.Input((224, 224, 3))
    model = keras.Model(inputs, keras.layers.Dense(10)(base(inputs, training=False)))
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y)
    base.trainable = True
    model.compile(optimizer=keras.optimizers.Adam(1e-5), loss="mse")
    model.fit(x, y)
    """
    rules = [rule_by_code("BN201"), rule_by_code("BN202")]
    assert lint_snippet(code, [r for r in rules if r is not None]) == []
    assert lint_snippet(code, [r for r in rules if r is not None], target="keras3")


def test_the_standalone_tensorflow_backend_module_is_keras_backend() -> None:
    # `KTF.set_learning_phase(1)` is Keras 2's global phase, as `K.set_learning_phase(1)`
    rule = rule_by_code("BN301")
    assert rule is not None
    found = lint_snippet("""
        import tensorflow as tf
        import keras.backend.tensorflow_backend as KTF
        KTF.set_learning_phase(1)
        model.fit_generator(gen)
    """, [rule])
    assert [(finding.code, finding.span.start.row, finding.severity) for finding in found] == [
        ("BN301", 4, "info")]


@pytest.mark.parametrize(("code", "expected"), [
    # the TF1 idiom: the whole compat.v1 namespace as `tf`, or its graph-mode names
    ("import tensorflow.compat.v1 as tf\n", ("tf1", False)),
    ("from tensorflow.compat.v1 import placeholder\n", ("tf1", False)),
    # a TF 2 program setting up its GPU session through compat.v1 runs eagerly
    (("import tensorflow as tf\nfrom tensorflow.compat.v1 import ConfigProto\n"
      "from tensorflow.compat.v1 import InteractiveSession\nconfig = ConfigProto()\n"
      "session = InteractiveSession(config=config)\n"), ("keras3", True)),
])
def test_compat_v1_is_graph_mode_unless_it_only_configures_the_session(
        code: str, expected: tuple[str, bool]) -> None:
    assert flavour_of(code) == expected


EAGER_LOOP = """\
import tensorflow as tf
from tensorflow.compat.v1 import ConfigProto, InteractiveSession
{imports}
config = ConfigProto()
config.gpu_options.allow_growth = True
session = InteractiveSession(config=config)
model = tf.keras.Sequential([tf.keras.layers.Dense(8), tf.keras.layers.BatchNormalization()])
optimizer = tf.keras.optimizers.Adam(1e-3)


@tf.function
def train_step(x):
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(model(x))
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
"""


def test_an_eager_loop_beside_a_tf1_helper_module_is_not_graph_mode(tmp_path: Path) -> None:
    # a TF1 module the program imports (a copied `autoaugment.py`) does not make the
    # eager training loop graph-mode code: BN107 still sees the missing training=True
    (tmp_path / ".git").mkdir()
    (tmp_path / "augment.py").write_text("import tensorflow.compat.v1 as tf\n\n\n"
                                         "def distort(image):\n    return tf.identity(image)\n")
    trainer = tmp_path / "train.py"
    trainer.write_text(EAGER_LOOP.format(imports="from augment import distort"))
    found = run_json(["--select", "BN107", "train.py"], tmp_path)
    assert [(item["code"], item["location"]["row"]) for item in found] == [("BN107", 14)]
    shown = subprocess.run([sys.executable, "-m", "bnlint", "--show-settings", "train.py",
                            "augment.py"], cwd=tmp_path, capture_output=True, text=True,
                           timeout=120, check=False)
    assert "keras['train.py'] = 'unknown" in shown.stdout
    assert "keras['augment.py'] = 'TensorFlow 1" in shown.stdout


def run_json(args: list[str], cwd: Path) -> list[dict[str, Any]]:
    done = subprocess.run([sys.executable, "-m", "bnlint", "--no-cache", "--format", "json",
                           *args], cwd=cwd, capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode in (0, 1), done.stderr
    return list(json.loads(done.stdout))


def test_compat_v1_imported_from_its_package_is_graph_mode() -> None:
    assert flavour_of("from tensorflow.compat import v1 as tf\n") == ("tf1", False)
