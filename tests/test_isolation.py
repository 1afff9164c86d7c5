"""A crash, a hang or a memory blow-up while analysing one file costs that file only: it
gets one error that says why, and every other file its findings, with one worker process
and with several."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from bnlint.isolation import Budget, Failure, run_isolated
from bnlint.nesting import nesting_bound, tree_depth

FLAGGED = "import keras\nbn = keras.layers.BatchNormalization(momentum=0.1)\n"
# `a and a and ...`: CPython keeps it flat and accepts it, libcst nests one node per
# `and` and its native parser overflows the stack (the process dies) long before 100,000.
CRASHES_LIBCST = FLAGGED + "x = " + " and ".join(["a"] * 100_000) + "\n"


def analyse(task: str) -> str:
    """Misbehaves as ``task`` says; otherwise returns it upper-cased."""
    if task == "segfault":
        os.kill(os.getpid(), signal.SIGSEGV)
    if task == "hang":
        threading.Event().wait()
    if task == "memory":
        return str(len(bytearray(64 << 30)))  # far beyond the budget below
    return task.upper()


@pytest.mark.parametrize("workers", [1, 2])
def test_each_misbehaving_task_fails_alone(workers: int) -> None:
    tasks = ["a", "segfault", "b", "hang", "c", "memory", "d"]
    outcomes = run_isolated(tasks, analyse, Budget(seconds=2, memory_mb=512), workers)
    assert outcomes[0::2] == ["A", "B", "C", "D"]
    reasons = [outcome.reason for outcome in outcomes[1::2] if isinstance(outcome, Failure)]
    assert reasons == [
        "the parser crashed (SIGSEGV), most likely on deep nesting",
        "stopped after 2 s (`file-timeout`)",
        "exceeded the memory budget of 512 MB (`file-memory`)",
    ]


def test_progress_is_called_once_per_task() -> None:
    done: list[None] = []
    outcomes = run_isolated(["a", "segfault", "b"], analyse, Budget(10, None), 1,
                            lambda: done.append(None))
    assert len(done) == 3 and outcomes[2] == "B"


# --- the cheap guard before libcst ------------------------------------------------------


@pytest.mark.parametrize("text", [
    "f = " + "lambda: " * 5000 + "1\n",
    "x = " + "not " * 10_000 + "a\n",
    "x = " + "-" * 100_000 + "1\n",
    "x = " + "+".join(["a"] * 100_000) + "\n",
    "x = a" + ".b" * 100_000 + "\n",
    "x = f" + "()" * 100_000 + "\n",
    "x = " + "(" * 1200 + "1" + ")" * 1200 + "\n",
    "x = (" + "\n+ a" * 5000 + ")\n",
    "x = a + \\\n" * 5000 + "a\n",
])
def test_deep_expressions_are_seen_by_the_token_bound(text: str) -> None:
    assert nesting_bound(text, 100) > 1000


@pytest.mark.parametrize("text", [
    "x = {" + ", ".join(f"'k{i}': a.b.c + {i}" for i in range(5000)) + "}\n",
    "".join(f"model.layers[{i}].trainable = not frozen  # (a comment\n" for i in range(5000)),
    '"""A docstring ((((( with [[[ brackets."""\n' * 2000,
])
def test_long_flat_code_is_not_mistaken_for_deep_code(text: str) -> None:
    assert nesting_bound(text, 100) < 20


def test_the_tree_depth_counts_each_and_as_libcst_nests_it() -> None:
    import ast

    assert tree_depth(ast.parse(" and ".join(["a"] * 500))) > 500
    assert tree_depth(ast.parse("x = [" + ", ".join(["a"] * 500) + "]")) < 10


# --- the command line -------------------------------------------------------------------


def bnlint(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bnlint", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_file_that_kills_the_parser_costs_that_file_only(tmp_path: Path, jobs: str) -> None:
    (tmp_path / "deep.py").write_text(CRASHES_LIBCST, encoding="utf-8")
    for index in range(24):  # enough files for two workers
        (tmp_path / f"m{index:02d}.py").write_text(FLAGGED, encoding="utf-8")
    # the guard against deep nesting is lifted, so only the worker process stands between
    # the crash and the run; the memory budget keeps a slow overflow from taking gigabytes
    args = [".", "--jobs", jobs, "--max-nesting", "1000000", "--file-memory", "1024",
            "--output-format", "concise"]
    for _ in range(2):  # the second run from the cache: the failure was not cached as clean
        done = bnlint(args, tmp_path)
        assert done.returncode == 2, done.stderr
        [error] = done.stderr.splitlines()
        assert error.startswith("bnlint: error: deep.py: could not be analysed: ")
        assert done.stdout.count(":2:38: BN402") == 24


def test_deep_nesting_is_reported_before_the_parser_sees_it(tmp_path: Path) -> None:
    (tmp_path / "deep.py").write_text(FLAGGED + "x = " + "+".join(["a"] * 2500) + "\n",
                                      encoding="utf-8")
    (tmp_path / "ok.py").write_text(FLAGGED, encoding="utf-8")
    done = bnlint([".", "--no-cache", "--max-nesting", "1000"], tmp_path)
    assert done.returncode == 2
    assert done.stderr == ("bnlint: error: deep.py: could not be analysed: nesting deeper "
                           "than 1000 (`max-nesting`)\n")
    assert "ok.py:2:38" in done.stdout


def test_a_slow_file_is_stopped_at_the_time_budget(tmp_path: Path) -> None:
    # a long chain that CPython accepts takes libcst many seconds to parse
    (tmp_path / "slow.py").write_text(FLAGGED + "x = " + "+".join(["a"] * 2800) + "\n",
                                      encoding="utf-8")
    (tmp_path / "ok.py").write_text(FLAGGED, encoding="utf-8")
    done = bnlint([".", "--no-cache", "--file-timeout", "0.2", "--max-nesting", "5000"],
                  tmp_path)
    assert done.returncode == 2
    assert done.stderr == ("bnlint: error: slow.py: could not be analysed: stopped after "
                           "0.2 s (`file-timeout`)\n")
    assert "ok.py:2:38" in done.stdout


def test_an_oversized_file_is_skipped_with_the_limit_named(tmp_path: Path) -> None:
    (tmp_path / "big.py").write_text(FLAGGED + "# padding\n" * 120_000, encoding="utf-8")
    (tmp_path / "ok.py").write_text(FLAGGED, encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text("[tool.bnlint]\nmax-file-size = 0.5\n",
                                             encoding="utf-8")
    done = bnlint([".", "--no-cache"], tmp_path)
    assert done.returncode == 2
    assert done.stderr == ("bnlint: error: big.py: skipped: 1.2 MB of code is more than the "
                           "limit of 0.5 MB (`max-file-size`)\n")
    assert "ok.py:2:38" in done.stdout
    assert bnlint([".", "--no-cache", "--max-file-size", "2"], tmp_path).returncode == 1


@pytest.mark.parametrize(("args", "expected"), [
    (["--max-file-size", "0"], "argument --max-file-size: expected a number of MB > 0, got '0'"),
    (["--file-timeout", "soon"], "argument --file-timeout: expected a number, got 'soon'"),
    (["--max-nesting", "10"], "argument --max-nesting: expected an integer >= 50, got '10'"),
])
def test_a_bad_limit_flag_is_a_usage_error(tmp_path: Path, args: list[str],
                                           expected: str) -> None:
    done = bnlint([".", *args], tmp_path)
    assert done.returncode == 2 and expected in done.stderr


def test_a_bad_limit_key_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "bnlint.toml").write_text("file-memory = 10\n", encoding="utf-8")
    done = bnlint(["."], tmp_path)
    assert done.returncode == 2
    assert "bnlint.toml: `file-memory` must be an integer number of MB >= 256, got 10" \
        in done.stderr


def test_stdin_that_kills_the_parser_is_reported_not_fatal(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bnlint", "-", "--max-nesting", "1000000", "--file-memory",
         "1024"], input=CRASHES_LIBCST, cwd=tmp_path, capture_output=True, text=True,
        timeout=300, check=False)
    assert done.returncode == 2
    assert done.stderr.startswith("bnlint: error: -: could not be analysed: ")
    assert done.stderr.count("\n") == 1
