"""Failure behaviour end to end, aliasing through every import form, and the promise that
a plain lint never imports TensorFlow or Keras."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bnlint.registry import all_rules
from bnlint.testing import lint_snippet

FLAGGED = "import keras\nbn = keras.layers.BatchNormalization()\nbn.training = False\n"


def run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bnlint", "--isolated", *args],
        cwd=cwd, capture_output=True, text=True, check=False,
    )


def test_syntax_error_is_one_bn000_finding_and_the_run_continues(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("import keras\nmodel.trainable = (\n")
    (tmp_path / "good.py").write_text(FLAGGED)
    result = run(tmp_path, "--format", "json", ".")
    findings = json.loads(result.stdout)
    assert result.returncode == 1
    assert [(f["filename"], f["code"]) for f in findings] == [
        ("broken.py", "BN000"), ("good.py", "BN101")]
    assert "SyntaxError" in findings[0]["message"] or "yntax" in findings[0]["message"]


def test_what_python_rejects_but_libcst_parses_is_bn000_not_a_crash(tmp_path: Path) -> None:
    huge = "9" * 5000  # beyond int()'s digit limit: CPython refuses to compile it
    (tmp_path / "huge.py").write_text(
        f"import keras\nbase = keras.applications.ResNet50()\nfor l in base.layers[:{huge}]:\n"
        "    l.trainable = False\n")
    (tmp_path / "text.py").write_text(f"import keras\nDIGITS = '{huge}'\n")  # fine: a string
    result = run(tmp_path, "--format", "json", ".")
    findings = json.loads(result.stdout)
    assert result.returncode == 1 and result.stderr == ""
    assert [(f["filename"], f["code"], f["location"]["row"]) for f in findings] == [
        ("huge.py", "BN000", 3)]
    assert "4300 digits" in findings[0]["message"]


def test_undecodable_file_is_a_clear_one_line_error_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "latin.py").write_bytes(b"import keras\nname = '\xff\xfe'\n")
    (tmp_path / "good.py").write_text(FLAGGED)
    result = run(tmp_path, ".")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if "latin.py" in line]
    assert len(errors) == 1 and "decode" in errors[0]
    assert "good.py:3:1: BN101" in result.stdout


def test_notebook_that_is_not_json_is_reported_and_others_still_linted(tmp_path: Path) -> None:
    (tmp_path / "bad.ipynb").write_text("{not json")
    (tmp_path / "good.py").write_text(FLAGGED)
    result = run(tmp_path, ".")
    assert result.returncode == 2
    assert "bad.ipynb" in result.stderr and "Traceback" not in result.stderr
    assert "BN101" in result.stdout


def test_a_plain_lint_never_imports_tensorflow_or_keras(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(
        "import tensorflow as tf\nimport keras\n" + FLAGGED.split("\n", 1)[1]
    )
    code = (
        "import sys\nfrom bnlint.cli import main\n"
        "status = main(['--isolated', '--jobs', '1', 'train.py'])\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'tensorflow', 'keras', 'tf_keras', 'torch'})\n"
        "print('HEAVY', heavy, status)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                            text=True, check=True)
    assert "HEAVY [] 1" in result.stdout


def test_a_run_answered_from_the_cache_does_not_load_libcst(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(
        "import tensorflow as tf\nimport keras\n" + FLAGGED.split("\n", 1)[1]
    )
    code = (
        "import sys\nfrom bnlint.cli import main\n"
        "status = main(['--isolated', '--cache-dir', 'cache', 'train.py'])\n"
        "print('LIBCST', 'libcst' in sys.modules, status)\n"
    )
    runs = [subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                           text=True, check=True) for _ in range(2)]
    assert "LIBCST" in runs[0].stdout and runs[0].stdout.endswith(" 1\n")  # cold: parsed
    # (in a worker process: whether this one imported libcst says nothing on a cold run)
    assert "LIBCST False 1" in runs[1].stdout  # warm: same findings, no parser loaded
    assert runs[0].stdout.split("LIBCST")[0] == runs[1].stdout.split("LIBCST")[0]


ALIASES = {
    "tensorflow-keras-layers-as-L": "from tensorflow.keras import layers as L\nbn = L.BatchNormalization()\n",
    "import-keras": "import keras\nbn = keras.layers.BatchNormalization()\n",
    "from-keras-layers-as-BN": "from keras.layers import BatchNormalization as BN\nbn = BN()\n",
    "tf-keras": "import tf_keras\nbn = tf_keras.layers.BatchNormalization()\n",
    "tf-dot-keras": "import tensorflow as tf\nbn = tf.keras.layers.BatchNormalization()\n",
    "keras-src": "from keras.src.layers.normalization.batch_normalization import BatchNormalization\nbn = BatchNormalization()\n",
    "star-import": "from tensorflow.keras.layers import *\nbn = BatchNormalization()\n",
    # the optimizers' star import (read first) brings optimizers only, not `BatchNormalization`
    "star-imports-with-optimizers": ("from tensorflow.keras.layers import *\n"
                                     "from tensorflow.keras.optimizers import *\n"
                                     "bn = BatchNormalization()\n"),
    "module-alias": "import tensorflow.keras as K\nbn = K.layers.BatchNormalization()\n",
}


@pytest.mark.parametrize("prelude", ALIASES.values(), ids=ALIASES.keys())
def test_bn_layer_is_recognised_through_every_import_form(prelude: str) -> None:
    rules = [rule for rule in all_rules() if rule.code in {"BN101", "BN105", "BN402"}]
    code = prelude + "bn.training = False\ny = bn(x, trainable=False)\nB = None\n"
    found = {finding.code for finding in lint_snippet(code, rules)}
    assert {"BN101", "BN105"} <= found


def test_non_bn_normalisations_are_not_treated_as_bn() -> None:
    rules = [rule for rule in all_rules() if rule.code in {"BN402", "BN109"}]
    code = (
        "from keras import layers\n"
        "a = layers.LayerNormalization(momentum=0.1)\n"
        "b = layers.GroupNormalization(trainable=False)\n"
    )
    assert lint_snippet(code, rules) == []
