"""A Python 2 module that the linted code imports is read as its mechanical Python 3
port, for what it defines; the module itself is never linted that way."""

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
