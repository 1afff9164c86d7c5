"""A model chosen by a name held in a string: ``globals()[model_name]``,
``getattr(models, name)``, ``eval(name)`` and ``importlib.import_module(path)`` reach
the builder the string names when the string is known (a constant, an argument, a
default), and nothing when it is not."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

NETS = """
from keras.layers import Input, Conv2D, BatchNormalization, Activation
from keras.models import Model


def with_bn(classes=3):
    inputs = Input((64, 64, 3))
    x = BatchNormalization()(Conv2D(8, 3)(inputs))
    return Model(inputs, Conv2D(classes, 1)(Activation("relu")(x)))


def without_bn(classes=3):
    inputs = Input((64, 64, 3))
    x = Conv2D(8, 3, activation="relu")(inputs)
    return Model(inputs, Conv2D(classes, 1)(x))
"""
# each trainer builds the network named by `name` and trains it on batches of 2
TRAINERS = {
    "globals": """
from nets import *


def train(name, x, y):
    model = globals()[name](classes=3)
    model.compile("adam", "mse")
    model.fit(x, y, batch_size=2)
""",
    "getattr": """
import nets


def train(name, x, y):
    model = getattr(nets, name)(classes=3)
    model.compile("adam", "mse")
    model.fit(x, y, batch_size=2)
""",
    "eval": """
from nets import with_bn, without_bn


def train(name, x, y):
    model = eval(name)(classes=3)
    model.compile("adam", "mse")
    model.fit(x, y, batch_size=2)
""",
    "import_module": """
import importlib


def train(name, x, y, package="ne"):
    module = importlib.import_module(package + "ts")
    model = getattr(module, name, None)(classes=3)
    model.compile("adam", "mse")
    model.fit(x, y, batch_size=2)
""",
}
DRIVER = """
import sys
from trainer import train

train({name}, x_train, y_train)
"""


def tiny_batches(root: Path, lookup: str, name: str) -> list[tuple[str, int]]:
    (root / ".git").mkdir()
    (root / "nets.py").write_text(NETS.lstrip(), encoding="utf-8")
    (root / "trainer.py").write_text(TRAINERS[lookup].lstrip(), encoding="utf-8")
    (root / "run.py").write_text(DRIVER.format(name=name).lstrip(), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "bnlint", "--no-cache", "--format", "json", "--select",
         "BN401", "."], cwd=root, capture_output=True, text=True, timeout=120,
        check=False)
    assert done.returncode in (0, 1), done.stderr
    found = json.loads(done.stdout)
    for item in found:
        assert ("run.py", 4) in [(note["filename"], note["location"]["row"])
                                 for note in item["related"]]
    return [(item["filename"], item["location"]["row"]) for item in found]


@pytest.mark.parametrize("lookup", sorted(TRAINERS))
def test_the_network_named_by_a_known_string_is_the_one_trained(tmp_path: Path,
                                                                  lookup: str) -> None:
    # reported at the fit's batch size, with the driver's call as a note
    fit_row = TRAINERS[lookup].lstrip().splitlines().index(
        "    model.fit(x, y, batch_size=2)") + 1
    assert tiny_batches(tmp_path, lookup, '"with_bn"') == [("trainer.py", fit_row)]


@pytest.mark.parametrize("lookup", sorted(TRAINERS))
def test_a_network_without_bn_named_the_same_way_is_clean(tmp_path: Path,
                                                          lookup: str) -> None:
    assert tiny_batches(tmp_path, lookup, '"without_bn"') == []


@pytest.mark.parametrize("lookup", sorted(TRAINERS))
def test_a_name_known_only_at_run_time_chooses_nothing(tmp_path: Path, lookup: str) -> None:
    assert tiny_batches(tmp_path, lookup, "sys.argv[1]") == []


@pytest.mark.parametrize("name", ['"with_bn.extra"', '"no_such_builder"', '"1abc"', "3",
                                  '"with_bn "'])
def test_a_string_that_names_nothing_known_chooses_nothing(tmp_path: Path, name: str) -> None:
    assert tiny_batches(tmp_path, "getattr", name) == []
