"""flake8 loads bnlint as its `BN` plugin and reports what bnlint reports."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
_LINE = re.compile(r"^(?P<path>[^:]+):(?P<row>\d+):(?P<col>\d+): (?P<code>[A-Z]+\d+) (?P<msg>.*)$")


def _run(args: list[str], cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("BNLINT_")}
    return subprocess.run(
        [sys.executable, "-m", "flake8", "--isolated", *args], cwd=cwd, env=env, input=stdin,
        capture_output=True, text=True, check=False,
    )


def _errors(output: str) -> list[tuple[str, int, int, str, str]]:
    errors = []
    for line in output.splitlines():
        match = _LINE.match(line)
        assert match, line
        errors.append((match["path"], int(match["row"]), int(match["col"]), match["code"],
                       match["msg"]))
    return errors


def test_flake8_lists_the_plugin() -> None:
    result = _run(["--version"], ROOT)
    assert result.returncode == 0, result.stderr
    assert "bnlint: " in result.stdout


def test_select_bn_reports_a_finding_at_bnlint_s_position(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(
        "import keras\n\nmodel = keras.Sequential([keras.layers.Dense(1)])\n"
        "if True:\n    model.training = False\n", encoding="utf-8")
    (tmp_path / "clean.py").write_text("import keras\n", encoding="utf-8")
    result = _run(["--select", "BN", "train.py", "clean.py"], tmp_path)
    assert result.returncode == 1, result.stderr
    [(path, row, col, code, message)] = _errors(result.stdout)
    assert (path, row, col, code) == ("train.py", 5, 5, "BN101")
    assert message.startswith("assigning `.training` on `model` has no effect")


def test_noqa_and_flake8_selection_apply(tmp_path: Path) -> None:
    source = ("import keras\n\nmodel = keras.Sequential([keras.layers.Dense(1)])\n"
              "model.training = False  # noqa: BN101\n")
    (tmp_path / "train.py").write_text(source, encoding="utf-8")
    assert _run(["--select", "BN", "train.py"], tmp_path).stdout == ""
    (tmp_path / "train.py").write_text(source.replace("  # noqa: BN101", ""), encoding="utf-8")
    assert _run(["--select", "BN2", "train.py"], tmp_path).stdout == ""
    assert _run(["--select", "BN1", "train.py"], tmp_path).returncode == 1


def test_stdin_is_linted_under_its_display_name(tmp_path: Path) -> None:
    text = "import keras\n\nmodel = keras.Sequential([])\nmodel.training = False\n"
    result = _run(["--select", "BN", "--stdin-display-name", "train.py", "-"], tmp_path, text)
    assert [error[:4] for error in _errors(result.stdout)] == [("train.py", 4, 1, "BN101")]


def test_select_bn_finds_the_examples_findings_as_bnlint_does(tmp_path: Path) -> None:
    """Every finding bnlint reports in the example project's scripts (flake8 does not
    read notebooks), at the same row, column and code, with the same message."""
    project = tmp_path / "examples"
    shutil.copytree(ROOT / "examples", project)
    result = _run(["--select", "BN", "."], project)
    assert result.returncode == 1, result.stderr
    found = sorted((os.path.normpath(path), row, col, code, message)
                   for path, row, col, code, message in _errors(result.stdout))
    bnlint = subprocess.run(
        [sys.executable, "-m", "bnlint", "--output-format", "json", "--no-cache", "."],
        cwd=project, capture_output=True, text=True, check=False,
    )
    expected = sorted(
        (os.path.normpath(item["filename"]), item["location"]["row"],
         item["location"]["column"], item["code"], item["message"])
        for item in json.loads(bnlint.stdout) if item["filename"].endswith(".py")
    )
    assert expected and found == expected


def test_readme_flake8_command_reports_the_examples(tmp_path: Path) -> None:
    command = re.search(r"^flake8 --select BN (\S+)$", README, re.MULTILINE)
    assert command is not None
    shutil.copytree(ROOT / "examples", tmp_path / command.group(1))
    result = _run(["--select", "BN", command.group(1)], tmp_path)
    assert result.returncode == 1 and " BN201 " in result.stdout, result.stdout
