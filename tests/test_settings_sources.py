"""The settings a run uses when nobody passes any: command-line option defaults (argparse,
absl flags) and the project's JSON/YAML configuration files, read without running the
program."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from bnlint.cli import main

NETWORK = """\
from tensorflow import keras


def build():
    return keras.Sequential([keras.layers.Dense(8), keras.layers.BatchNormalization(),
                             keras.layers.Dense(1)])
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    write(root / "models.py", NETWORK)
    monkeypatch.chdir(root)
    return root


def lint(capsys: pytest.CaptureFixture[str], *args: str,
         cache: bool = False) -> list[dict[str, object]]:
    flags = [] if cache else ["--no-cache"]
    code = main([*flags, "--format", "json", "--select", "BN401", *args])
    out, err = capsys.readouterr()
    assert code in (0, 1), err
    return list(json.loads(out))


def batches(found: list[dict[str, object]]) -> list[tuple[int, str]]:
    """(row, note about where the batch size comes from) of each BN401 finding."""
    result = []
    for item in found:
        location = item["location"]
        assert isinstance(location, dict)
        notes = [note["message"] for note in item["related"]  # type: ignore[attr-defined]
                 if note["message"].startswith("batch size")]
        result.append((location["row"], notes[0] if notes else ""))
    return result


TRAIN_ARGPARSE = """\
import argparse
from models import build

parser = argparse.ArgumentParser()
group = parser.add_argument_group("training")
group.add_argument("--batch-size", type=int, default="{default}")
parser.add_argument("--epochs", type=int, default=10)
args = parser.parse_args()

model = build()
model.compile("adam", "mse")
model.fit(x, y, batch_size=args.batch_size, epochs=args.epochs)
"""


def test_an_option_default_is_the_batch_size(repo: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    write(repo / "train.py", TRAIN_ARGPARSE.format(default="4"))
    found = lint(capsys, "train.py")
    # the string default is converted by type=int, and the group shares the parser
    assert batches(found) == [(12, "batch size 4, the default of `--batch-size`")]
    assert "batches of 4" in str(found[0]["message"])


def test_a_large_option_default_is_not_flagged(repo: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    write(repo / "train.py", TRAIN_ARGPARSE.format(default="32"))
    assert lint(capsys, "train.py") == []


def test_options_given_in_the_code_are_not_the_defaults(
        repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = TRAIN_ARGPARSE.format(default="4")
    write(repo / "given.py", text.replace("parse_args()", 'parse_args(["--batch-size", "64"])'))
    write(repo / "empty.py", text.replace("parse_args()", "parse_args([])"))
    assert [item["filename"] for item in lint(capsys, ".")] == ["empty.py"]


def test_an_option_assigned_later_wins(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = TRAIN_ARGPARSE.format(default="4").replace(
        "model = build()", "args.batch_size = 64\nmodel = build()")
    write(repo / "train.py", text)
    assert lint(capsys, "train.py") == []


def test_destination_required_and_positional_options(
        repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(repo / "train.py", """\
import argparse
from models import build

parser = argparse.ArgumentParser()
parser.add_argument("-b", "--bs", dest="batch", type=int, default=2)
parser.add_argument("--required-batch", type=int, default=2, required=True)
parser.add_argument("positional_batch", type=int, default=2)
args, unknown = parser.parse_known_args()

model = build()
model.compile("adam", "mse")
model.fit(x, y, batch_size=args.batch)
model.fit(x, y, batch_size=args.required_batch)
model.fit(x, y, batch_size=args.positional_batch)
model.fit(x, y, batch_size=args.bs)
""")
    assert batches(lint(capsys, "train.py")) == [(12, "batch size 2, the default of `--bs`")]


def test_an_if_on_an_option_still_runs_both_ways(
        repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # `--small` is off by default, yet a user may turn it on: the small-batch arm is
    # one consistent path, as it was before option defaults were read
    write(repo / "train.py", """\
import argparse
from models import build

parser = argparse.ArgumentParser()
parser.add_argument("--small", action="store_true")
args = parser.parse_args()

model = build()
model.compile("adam", "mse")
if args.small:
    model.fit(x, y, batch_size=2)
else:
    model.fit(x, y, batch_size=64)
""")
    assert [row for row, _ in batches(lint(capsys, "train.py"))] == [11]


def test_options_reach_a_function_through_its_arguments(
        repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(repo / "trainer.py", """\
from models import build


def train(args):
    model = build()
    model.compile("adam", "mse")
    model.fit(x, y, batch_size=args.batch_size)
""")
    write(repo / "main.py", """\
import argparse
from trainer import train


def parse_args():
    parser = argparse.ArgumentParser()
    parser.set_defaults(batch_size=1)
    return parser.parse_args()


if __name__ == "__main__":
    train(parse_args())
""")
    found = lint(capsys, "main.py")
    assert [(item["filename"], item["location"]["row"]) for item in found] == [  # type: ignore[index]
        ("main.py", 12)]


def test_an_absl_flag_default(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(repo / "flags_def.py", """\
from absl import flags

flags.DEFINE_integer("batch_size", 2, "samples per batch")
flags.DEFINE_integer("steps", 100, "steps")
""")
    write(repo / "train.py", """\
from absl import flags
import flags_def
from models import build

FLAGS = flags.FLAGS
model = build()
model.compile("adam", "mse")
model.fit(x, y, batch_size=FLAGS.batch_size, steps_per_epoch=FLAGS.steps)
""")
    assert batches(lint(capsys, "train.py")) == [
        (8, "batch size 2, the default of flag `batch_size`")]


TRAIN_JSON = """\
import argparse
import json
from models import build

parser = argparse.ArgumentParser()
parser.add_argument("-c", "--conf", default="config.json")
args = parser.parse_args()
with open(args.conf) as handle:
    config = json.load(handle)

model = build()
model.compile("adam", "mse")
model.fit(x, y, batch_size=config["train"]["batch_size"],
          epochs=config["train"].get("epochs", 10))
"""


@pytest.mark.parametrize("load", ["json.load(handle)", "json.loads(handle.read())"])
def test_a_json_settings_file(repo: Path, capsys: pytest.CaptureFixture[str],
                              load: str) -> None:
    write(repo / "config.json", '{"train": {"batch_size": 4}}')
    write(repo / "scripts" / "train.py", TRAIN_JSON.replace("json.load(handle)", load))
    # run from the top while the script sits in scripts/: the file is found from the top
    found = lint(capsys, "scripts/train.py")
    assert batches(found) == [(13, "batch size 4, read from `config.json`")]


def test_a_yaml_settings_file_and_a_default_of_get(
        repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(repo / "configs" / "base.yaml", "train:\n  lr: 0.001\n")
    write(repo / "train.py", """\
import yaml
from models import build

with open("configs/base.yaml") as handle:
    config = yaml.safe_load(handle)
model = build()
model.compile("adam", "mse")
model.fit(x, y, batch_size=config["train"].get("batch_size", 2))
""")
    # the file has no batch_size: the default of `get` is the batch
    assert [row for row, _ in batches(lint(capsys, "train.py"))] == [8]


@pytest.mark.parametrize("config", [
    None,  # no such file
    "{not json",  # not well formed
    '{"train": {"batch_size": 64}}',
    # a file over 256 KiB is data, not settings
    '{"train": {"batch_size": 2}, "rows": [' + ",".join(["1234567"] * 40000) + "]}",
])
def test_settings_files_that_say_nothing_tiny(repo: Path, capsys: pytest.CaptureFixture[str],
                                              config: str | None) -> None:
    if config is not None:
        write(repo / "config.json", config)
    write(repo / "train.py", TRAIN_JSON)
    assert lint(capsys, "train.py") == []


def test_a_settings_file_outside_the_project_is_not_read(
        repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(repo.parent / "config.json", '{"train": {"batch_size": 4}}')
    write(repo / "train.py", TRAIN_JSON.replace('default="config.json"',
                                                'default="../config.json"'))
    assert lint(capsys, "train.py") == []


def test_editing_the_settings_file_relints_the_script(
        repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(repo / "config.json", '{"train": {"batch_size": 64}}')
    write(repo / "train.py", TRAIN_JSON)
    assert lint(capsys, "train.py", cache=True) == []
    write(repo / "config.json", '{"train": {"batch_size": 2}}')
    assert [row for row, _ in batches(lint(capsys, "train.py", cache=True))] == [13]


def test_a_learning_rate_from_an_option_is_not_judged(
        repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # BN204 compares rates the code sets; an option's default is one a run may replace
    write(repo / "train.py", """\
import argparse
import tensorflow as tf

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, default=0.005)
args = parser.parse_args()

base = tf.keras.applications.ResNet50(include_top=False, pooling="avg")
base.trainable = False
model = tf.keras.Sequential([base, tf.keras.layers.Dense(10)])
model.compile(optimizer=tf.keras.optimizers.Adam(args.lr), loss="mse")
model.fit(x, y)
base.trainable = True
model.compile(optimizer=tf.keras.optimizers.Adam(args.lr), loss="mse")
model.fit(x, y)
""")
    code = main(["--no-cache", "--format", "json", "--select", "BN204", "train.py"])
    out, _ = capsys.readouterr()
    assert code == 0 and json.loads(out) == []
    # the same with the rate written in the code is reported
    text = (repo / "train.py").read_text(encoding="utf-8")
    (repo / "train.py").write_text(text.replace("Adam(args.lr)", "Adam(0.005)"),
                                   encoding="utf-8")
    main(["--no-cache", "--format", "json", "--select", "BN204", "train.py"])
    out, _ = capsys.readouterr()
    assert [item["code"] for item in json.loads(out)] == ["BN204"]


def test_a_number_worked_out_from_an_option_decides_no_branch(
        repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(repo / "train.py", """\
import argparse
from models import build

parser = argparse.ArgumentParser()
parser.add_argument("--gpus", type=int, default=1)
args = parser.parse_args()

model = build()
model.compile("adam", "mse")
if args.gpus * 2 > 4:
    model.fit(x, y, batch_size=2)
""")
    assert [row for row, _ in batches(lint(capsys, "train.py"))] == [11]


def test_a_settings_file_of_any_name_that_the_program_loads_as_json(
        repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(repo / "solver.json.default", '{"train": {"batch_size": 4}}')
    write(repo / "train.py", TRAIN_JSON.replace('default="config.json"',
                                                'default="solver.json.default"'))
    assert batches(lint(capsys, "train.py")) == [
        (13, "batch size 4, read from `solver.json.default`")]


def test_settings_overwritten_under_keys_bnlint_cannot_read_are_unknown(
        repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(repo / "configs" / "base.yaml", "train:\n  batch_size: 4\n")
    train = """\
import yaml
from models import build

def merge(overrides):
    with open("configs/base.yaml") as handle:
        config = yaml.safe_load(handle)
    for section in overrides:
        for key in overrides[section]:
            config[section][key] = overrides[section][key]
    return config

config = merge(experiment)
model = build()
model.compile("adam", "mse")
model.fit(x, y, batch_size=config["train"]["batch_size"])
"""
    # an experiment's file may set any entry of the base settings: 4 is not certain
    write(repo / "train.py", train)
    assert lint(capsys, "train.py") == []
    # an entry written under keys it can read leaves the others known
    write(repo / "train.py", train.replace(
        "            config[section][key] = overrides[section][key]",
        '            config["train"]["epochs"] = overrides[section][key]'))
    assert [row for row, _ in batches(lint(capsys, "train.py"))] == [15]
