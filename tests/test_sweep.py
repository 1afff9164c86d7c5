"""bench/sweep.py: real code linted through the engine counts bnlint's internal errors.
CI sweeps a fixed sample of the standard library of the interpreter running the tests
(the full sweep, and Keras/TensorFlow, is a documented command: bench/README.md)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import bnlint.semantic.build

SWEEP = Path(__file__).resolve().parent.parent / "bench" / "sweep.py"
FLAGGED = "import keras\nbn = keras.layers.BatchNormalization(momentum=0.1)\n"


def test_a_sample_of_the_standard_library_lints_without_internal_errors(tmp_path: Path) -> None:
    report = tmp_path / "sweep.json"
    done = subprocess.run(
        [sys.executable, str(SWEEP), "--target", "stdlib", "--sample", "150", "--alone",
         "--jobs", "2", "--json", str(report)],
        capture_output=True, text=True, timeout=900, check=False,
    )
    [stdlib] = json.loads(report.read_text(encoding="utf-8"))["targets"]
    assert stdlib["internal"] == [], done.stdout
    assert done.returncode == 0, done.stderr
    assert stdlib["files"] == 150
    # every rule ran on (nearly) every file: the parser and the model saw the code
    assert stdlib["analysed"] >= 145 and stdlib["lines"] > 20_000


@pytest.fixture
def sweep(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    spec = importlib.util.spec_from_file_location("sweep", SWEEP)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "sweep", module)  # its dataclasses look it up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("jobs", [1, 2])
def test_an_internal_error_is_counted_and_costs_only_its_file(
    jobs: int, sweep: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    tree = tmp_path / "src"
    tree.mkdir()
    for name, text in (("good.py", FLAGGED), ("boom.py", FLAGGED + "boom = 1\n"),
                       ("die.py", FLAGGED + "die = 1\n"), ("plain.py", "x = 1\n")):
        (tree / name).write_text(text, encoding="utf-8")
    real = bnlint.semantic.build.build_models

    def faulty(module: Any, project: Any = None) -> Any:
        if "boom = 1" in module.code:
            raise RuntimeError("a bug")
        if "die = 1" in module.code and jobs == 2:
            os._exit(3)  # a worker that dies: the file is retried alone, then counted
        return real(module, project)

    monkeypatch.setattr(bnlint.semantic.build, "build_models", faulty)
    report = tmp_path / "sweep.json"
    status = sweep.main(["--path", str(tree), "--jobs", str(jobs), "--json", str(report)])
    assert status == 1
    [target] = json.loads(report.read_text(encoding="utf-8"))["targets"]
    internal = sorted(target["internal"])
    assert target["files"] == 4
    assert internal[0].startswith(f"{tree / 'boom.py'}: internal error")
    if jobs == 2:
        assert internal[1:] == [f"{tree / 'die.py'}: internal error: the process analysing it died"]
        assert target["findings"] == 1  # good.py's
    else:
        assert internal[1:] == []
        assert target["findings"] == 2  # good.py's and die.py's
    assert f"internal errors {len(internal)}  other errors 0" in capsys.readouterr().out


def test_installed_packages_are_found_without_importing_them(
    sweep: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = tmp_path / "site-packages"
    (site / "keras" / "layers").mkdir(parents=True)
    (site / "keras" / "__init__.py").write_text("raise SystemExit('imported')\n")
    (site / "keras" / "layers" / "normalization.py").write_text(FLAGGED, encoding="utf-8")
    report = tmp_path / "sweep.json"
    status = sweep.main(["--target", "keras", "--target", "tensorflow", "--site-packages",
                         str(site), "--jobs", "1", "--json", str(report)])
    assert status == 0
    [keras] = json.loads(report.read_text(encoding="utf-8"))["targets"]
    assert (keras["name"], keras["files"], keras["findings"]) == ("keras", 2, 1)
    assert "keras" not in sys.modules
    assert f"tensorflow: not installed in {site}, skipped" in capsys.readouterr().err


def test_a_sample_is_spread_over_the_list_and_always_the_same(sweep: ModuleType) -> None:
    files = [f"f{index:03d}.py" for index in range(100)]
    assert sweep.evenly_spaced(files, 4) == ["f000.py", "f025.py", "f050.py", "f075.py"]
    assert sweep.evenly_spaced(files, None) == files
    assert sweep.evenly_spaced(files, 500) == files
