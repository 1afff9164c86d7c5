"""Bad input gets a clear message and exit code 2 and costs only itself: a
self-referencing symlink inside a linted directory, a FIFO or a device named on the
command line, a broken configuration value, an empty rule selection."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

FLAGGED = "import keras\nbn = keras.layers.BatchNormalization(momentum=0.1)\n"


def bnlint(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bnlint", "--no-cache", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_a_symlink_to_itself_does_not_stop_discovery(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(FLAGGED, encoding="utf-8")
    os.symlink("loop.py", tmp_path / "loop.py")
    os.symlink(".", tmp_path / "here")
    done = bnlint(["."], tmp_path)
    assert done.returncode == 2
    assert "a.py:2:38: BN402" in done.stdout
    assert "loop.py: cannot read: Too many levels of symbolic links" in done.stderr
    assert "internal error" not in done.stderr


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_named_on_the_command_line_is_refused_not_read(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(FLAGGED, encoding="utf-8")
    os.mkfifo(tmp_path / "pipe.py")
    done = bnlint(["pipe.py", "a.py"], tmp_path)  # would block forever if opened
    assert done.returncode == 2
    assert "pipe.py: cannot read: not a regular file" in done.stderr
    assert "a.py:2:38: BN402" in done.stdout


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_a_device_named_as_a_path_is_refused(tmp_path: Path) -> None:
    done = bnlint(["/dev/zero"], tmp_path)  # would grow without end if read
    assert done.returncode == 2
    assert "/dev/zero: cannot read: not a regular file" in done.stderr


# --- configuration faults: a message that names the file and the key, exit 2 ---------


@pytest.mark.parametrize(("content", "expected"), [
    (b'[tool.bnlint]\ncache-dir = "a\\u0000b"\n', "`cache-dir` must be a non-empty path"),
    (b'[tool.bnlint]\nkeras-version = "3.' + b"9" * 5000 + b'"\n',
     "`keras-version` must be a version string"),
    (b'[tool.bnlint]\nselect = ["BN1"]\n\xff = 1\n', "invalid TOML: not UTF-8"),
    (b"x = " + b"[" * 3000 + b"]" * 3000 + b"\n", "invalid TOML"),
])
def test_configuration_faults_name_the_file(tmp_path: Path, content: bytes,
                                            expected: str) -> None:
    (tmp_path / "pyproject.toml").write_bytes(content)
    (tmp_path / "a.py").write_text(FLAGGED, encoding="utf-8")
    done = bnlint(["a.py"], tmp_path)
    assert done.returncode == 2
    assert "pyproject.toml" in done.stderr and expected in done.stderr
    assert "internal error" not in done.stderr
    assert len(done.stderr) < 400  # a huge value is not echoed whole


def test_a_tool_key_that_is_not_a_table_holds_no_settings(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("tool = 5\n", encoding="utf-8")
    (tmp_path / "a.py").write_text(FLAGGED, encoding="utf-8")
    done = bnlint(["a.py"], tmp_path)
    assert done.returncode == 1, done.stderr
    assert "BN402" in done.stdout


@pytest.mark.parametrize("option", ["--select", "--ignore", "--extend-select"])
def test_an_empty_selection_is_an_error_not_silence(tmp_path: Path, option: str) -> None:
    (tmp_path / "a.py").write_text(FLAGGED, encoding="utf-8")
    done = bnlint([option, "", "a.py"], tmp_path)
    assert done.returncode == 2
    assert f"{option}: expected rule codes or names" in done.stderr


# --- standard streams ---------------------------------------------------------------


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_full_disk_under_stdout_is_reported(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(FLAGGED, encoding="utf-8")
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "bnlint", "--no-cache", "a.py"],
                              cwd=tmp_path, stdout=full, stderr=subprocess.PIPE, text=True,
                              timeout=60, check=False)
    assert done.returncode == 2
    assert done.stderr.strip() == ("bnlint: error: cannot write the report: "
                                   "No space left on device")


@pytest.mark.parametrize(("args", "closed", "message"), [
    (["a.py"], "stdout", "cannot write the report: standard output is closed"),
    (["-"], "stdin", "cannot read standard input: it is closed"),
])
def test_a_closed_standard_stream_is_reported(tmp_path: Path, args: list[str], closed: str,
                                              message: str) -> None:
    (tmp_path / "a.py").write_text(FLAGGED, encoding="utf-8")
    redirect = ">&-" if closed == "stdout" else "<&-"
    command = " ".join([sys.executable, "-m", "bnlint", "--no-cache", *args, redirect])
    done = subprocess.run(["sh", "-c", command], cwd=tmp_path, stderr=subprocess.PIPE,
                          stdout=subprocess.DEVNULL if closed == "stdin" else None,
                          text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert f"bnlint: error: {message}" in done.stderr
