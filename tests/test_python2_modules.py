"""Python 2 code is read as its mechanical Python 3 port: a module that the linted code
imports, for what it defines, and a linted Python 2 file itself, beside the BN000 that
says it is Python 2, without fixes, and judged as Keras 2 code."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bnlint.python2 import as_python3

PYTHON2 = """\
import sys
def f(x):
    try:
        y = 0777 + 10L
    except ValueError, e:
        print "bad", e
        raise RuntimeError, "no"
    if x <> 1: print x,  # trailing comment
    print >>sys.stderr, "x", (1,
        2)
    print
    exec "a = 1"
    return x
"""


def test_python2_statements_become_python3_on_the_same_rows() -> None:
    ported = as_python3(PYTHON2)
    assert ported is not None
    ast.parse(ported)
    rows = ported.splitlines()
    assert len(rows) == len(PYTHON2.splitlines())
    assert rows[3].strip() == "y = 0o777 + 10"
    assert rows[4].strip() == "except ValueError as e:"
    assert rows[5].strip() == 'print( "bad", e)'
    assert rows[6].strip() == 'raise RuntimeError( "no")'
    assert rows[7].strip() == "if x != 1: print( x,)  # trailing comment"
    assert rows[10].strip() == "print()"


@pytest.mark.parametrize("text", [
    "print(1)\n",  # already Python 3: nothing to port
    "x = `1`\nprint x\n",  # backticks are not rewritten
    "print x\ndef (:\n",  # still not Python after the port
])
def test_what_cannot_be_ported_or_needs_no_port_gives_none(text: str) -> None:
    assert as_python3(text) is None


# The body of `unfreeze` is indented with a tab on one row and eight spaces on the next:
# one block to Python 2 (a tab is eight columns), a TabError to Python 3.
MIXED_TABS = (
    "from keras.applications import ResNet50\n"
    "base = ResNet50(weights='imagenet', include_top=False)\n"
    "def unfreeze(model):\n"
    "\tfor layer in model.layers:\n"
    "\t\tlayer.trainable = True\n"
    "        model.compile(optimizer='sgd', loss='mse')\n"
)


def test_indentation_mixing_tabs_and_spaces_is_read_as_python2_read_it() -> None:
    with pytest.raises(TabError):
        compile(MIXED_TABS, "<mixed>", "exec")
    ported = as_python3(MIXED_TABS)
    assert ported is not None
    tree = ast.parse(ported)
    function = tree.body[-1]
    assert isinstance(function, ast.FunctionDef)
    # the compile is in the function's body, after the loop, as Python 2 ran it
    assert [type(statement).__name__ for statement in function.body] == ["For", "Expr"]
    assert len(ported.splitlines()) == len(MIXED_TABS.splitlines())
    # CPython stops at a print statement first: the tabs are still read as Python 2 did
    with_print = as_python3('print "unfreezing"\n' + MIXED_TABS)
    assert with_print is not None
    assert [type(s).__name__ for s in ast.parse(with_print).body[-1].body] == ["For", "Expr"]


def test_a_script_mixing_tabs_and_spaces_is_linted_beside_its_bn000(tmp_path: Path) -> None:
    (tmp_path / "finetune.py").write_text(
        FINE_TUNE_PY2.replace('print "training the head"', 'print("training the head")')
        .replace("for layer in model.layers[172:]:\n    layer.trainable = True",
                 "for layer in model.layers[172:]:\n\tlayer.trainable = True\n"
                 "        layer.trainable = True"))
    _, found = bnlint_json(["finetune.py"], tmp_path)
    assert [f["code"] for f in found] == ["BN000", "BN201"]
    assert "inconsistent use of tabs and spaces in indentation (only Python 2 accepted it)" in (
        found[0]["message"])


GENERATOR = """\
import numpy as np

def batches(paths):
    while True:
        image = load(paths[0])
        yield image[np.newaxis, ...], label_of(image)[np.newaxis, ...]

if __name__ == "__main__":
    image, label = next(batches(["a.png"]))
    print image.shape
"""

TRAINER = """\
from keras.layers import Input, Conv2D, BatchNormalization
from keras.models import Model
from data import batches

inputs = Input((64, 64, 3))
model = Model(inputs, BatchNormalization()(Conv2D(8, 3)(inputs)))
model.compile("sgd", "mse")
model.fit_generator(batches(paths), 100, epochs=10)
model.save("segmenter.h5")
"""


def bnlint_json(args: list[str], cwd: Path) -> tuple[int, list[dict[str, object]]]:
    done = subprocess.run([sys.executable, "-m", "bnlint", "--no-cache", "--format", "json",
                           *args], cwd=cwd, capture_output=True, text=True, timeout=120,
                          check=False)
    return done.returncode, json.loads(done.stdout)


def test_a_python2_generator_module_gives_its_batches_to_the_trainer(tmp_path: Path) -> None:
    (tmp_path / "data.py").write_text(GENERATOR)
    (tmp_path / "train.py").write_text(TRAINER)
    status, found = bnlint_json(["train.py"], tmp_path)
    assert status == 1
    assert [(f["code"], f["location"]["row"]) for f in found] == [("BN401", 8)]
    assert "batches of 1" in str(found[0]["message"])
    notes = {(note["filename"], note["location"]["row"]) for note in found[0]["related"]}
    assert ("data.py", 6) in notes  # where the batch of one is made


def test_the_python2_module_itself_still_gets_its_syntax_error(tmp_path: Path) -> None:
    (tmp_path / "data.py").write_text(GENERATOR)
    (tmp_path / "train.py").write_text(TRAINER)
    _, found = bnlint_json(["data.py"], tmp_path)
    assert [f["code"] for f in found] == ["BN000"]
    assert "Python 2" in str(found[0]["message"])
    assert "read this file as its mechanical Python 3 port" in str(found[0]["message"])


# The Keras guide's fine-tuning recipe, as Python 2 scripts of 2017 wrote it: the base's
# layers are the model's own, and the top inception blocks (BN included) are unfrozen.
FINE_TUNE_PY2 = """from keras.applications.inception_v3 import InceptionV3
from keras.layers import Dense, GlobalAveragePooling2D
from keras.models import Model
from keras.optimizers import SGD

base_model = InceptionV3(weights='imagenet', include_top=False)
x = GlobalAveragePooling2D()(base_model.output)
model = Model(input=base_model.input, output=Dense(10, activation='softmax')(x))
for layer in base_model.layers:
    layer.trainable = False
model.compile(optimizer='rmsprop', loss='categorical_crossentropy')
print "training the head"
model.fit(x_train, y_train)
for layer in model.layers[172:]:
    layer.trainable = True
model.compile(optimizer=SGD(lr=0.0001, momentum=0.9), loss='categorical_crossentropy')
model.fit(x_train, y_train)
"""


def test_a_python2_script_is_linted_as_its_port_beside_its_bn000(tmp_path: Path) -> None:
    (tmp_path / "finetune.py").write_text(FINE_TUNE_PY2)
    status, found = bnlint_json(["finetune.py"], tmp_path)
    assert status == 1
    assert [(f["code"], f["location"]["row"]) for f in found] == [("BN000", 12),
                                                                  ("BN201", 15)]
    # Python 2 ran on Keras 2 only, where `lr=` was the argument's name: no BN212


def test_a_python2_script_is_judged_as_keras2_whatever_is_pinned(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("keras>=3.0\n")
    (tmp_path / "finetune.py").write_text(FINE_TUNE_PY2)
    done = subprocess.run([sys.executable, "-m", "bnlint", "--show-settings", "finetune.py"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          check=False)
    assert "the file is Python 2 code, which only Keras 2 ran on" in done.stdout
    ported = FINE_TUNE_PY2.replace('print "training the head"', 'print("training the head")')
    (tmp_path / "finetune.py").write_text(ported)
    _, found = bnlint_json(["finetune.py"], tmp_path)
    assert "BN212" in [f["code"] for f in found]  # the same code in Python 3 is Keras 3's


MISSPELT_PY2 = """from keras.layers import BatchNormalization
bn = BatchNormalization()
bn.trainabel = False
print "frozen"
"""


def test_no_fix_is_applied_to_a_python2_file(tmp_path: Path) -> None:
    script = tmp_path / "freeze.py"
    script.write_text(MISSPELT_PY2)
    _, found = bnlint_json(["freeze.py"], tmp_path)
    assert [f["code"] for f in found] == ["BN102", "BN000"]
    subprocess.run([sys.executable, "-m", "bnlint", "--no-cache", "--fix", "freeze.py"],
                   cwd=tmp_path, capture_output=True, timeout=120, check=False)
    assert script.read_text() == MISSPELT_PY2
    # the same mistake in Python 3 is fixed: the fix exists, the port withholds it
    script.write_text(MISSPELT_PY2.replace('print "frozen"', 'print("frozen")'))
    subprocess.run([sys.executable, "-m", "bnlint", "--no-cache", "--fix", "freeze.py"],
                   cwd=tmp_path, capture_output=True, timeout=120, check=False)
    assert "bn.trainable = False" in script.read_text()


def test_findings_on_a_port_are_at_the_file_s_columns(tmp_path: Path) -> None:
    # the tab is one character of the file (eight columns of the port), and `print "x",`
    # gained a parenthesis before the BatchNormalization on its row
    (tmp_path / "model.py").write_text(
        "import keras\n"
        "if True:\n"
        "\tbn = keras.layers.BatchNormalization(momentum=0.1)\n"
        "        print 'x'; other = keras.layers.BatchNormalization(momentum=0.2)\n")
    _, found = bnlint_json(["model.py"], tmp_path)
    columns = [(f["location"]["row"], f["location"]["column"], f["end_location"]["column"])
               for f in found if f["code"] == "BN402"]
    assert columns == [(3, 39, 51), (4, 60, 72)]
