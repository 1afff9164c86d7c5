"""Paths that cannot be read cost themselves only: a self-referencing symlink inside a
linted directory, a FIFO or a device named on the command line get one clear message
each, and every other file is linted as usual."""

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
