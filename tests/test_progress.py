"""The progress bar: drawn on stderr when it is a terminal, erased before the report,
never drawn into a pipe, a CI log or with --no-progress."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bnlint.progress import ProgressBar

FLAGGED = "import keras\nbn = keras.layers.BatchNormalization(momentum=0.1)\n"

pty = pytest.importorskip("pty", reason="needs pseudo-terminals (POSIX)")


def project(root: Path, files: int = 5) -> Path:
    for index in range(files):
        (root / f"m{index}.py").write_text(FLAGGED, encoding="utf-8")
    return root


def run_on_terminal(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, str, str]:
    """Run bnlint with stderr on a pseudo-terminal; (exit code, stdout, terminal text)."""
    leader, follower = pty.openpty()
    try:
        done = subprocess.Popen([sys.executable, "-m", "bnlint", "--no-cache", *args],
                                cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=follower,
                                stdin=subprocess.DEVNULL)
        os.close(follower)
        chunks: list[bytes] = []
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the terminal closed with the child (EIO on Linux)
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert done.stdout is not None
        out = done.stdout.read().decode("utf-8")
        status = done.wait(timeout=120)
    finally:
        os.close(leader)
    return status, out, b"".join(chunks).decode("utf-8")


def quiet_env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in ("CI", "TERM")}
    env.update(extra)
    return env


def test_a_terminal_sees_the_bar_then_it_is_erased(tmp_path: Path) -> None:
    status, out, terminal = run_on_terminal(
        [".", "--progress", "--output-format", "concise"], project(tmp_path), quiet_env())
    assert status == 1 and out.count("BN402") == 5
    assert "\r[" in terminal and "] 5/5 files" in terminal
    assert terminal.endswith("\r\x1b[K")  # erased: the terminal is left clean


@pytest.mark.parametrize(("args", "env"), [
    (["--no-progress"], {}),
    ([], {"CI": "true"}),
    ([], {"TERM": "dumb"}),
])
def test_no_bar_when_asked_or_in_ci(tmp_path: Path, args: list[str],
                                    env: dict[str, str]) -> None:
    status, out, terminal = run_on_terminal([".", *args], project(tmp_path), quiet_env(**env))
    assert status == 1 and "BN402" in out
    assert terminal == ""


def test_no_bar_in_a_pipe(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "bnlint", "--no-cache", "--progress", "."],
                          cwd=project(tmp_path), capture_output=True, text=True, timeout=120,
                          check=False, env=quiet_env())
    assert done.returncode == 1 and done.stderr == ""


class Terminal:
    """Collects what a bar writes."""

    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> int:
        self.text += text
        return len(text)

    def flush(self) -> None:
        pass


def test_the_bar_counts_files_and_fills_up() -> None:
    terminal = Terminal()
    with ProgressBar(terminal, 4, delay=0) as bar:  # type: ignore[arg-type]
        for _ in range(4):
            bar()
        assert bar.line() == "[" + "=" * 30 + "] 4/4 files"
    assert terminal.text.startswith("\r[=======>")
    assert terminal.text.endswith("4/4 files\r\x1b[K")


@pytest.mark.probe
def test_the_probe_shows_its_own_bar_on_a_terminal_and_none_in_a_pipe(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text(FLAGGED, encoding="utf-8")
    status, out, terminal = run_on_terminal(
        ["m.py", "--probe", "--output-format", "concise"], tmp_path, quiet_env())
    assert status == 1 and "probe: confirmed" in out
    assert "probe [" in terminal and "1/1" not in out
    assert "Probe: 1 confirmed" in terminal
    piped = subprocess.run([sys.executable, "-m", "bnlint", "m.py", "--probe"], cwd=tmp_path,
                           env=quiet_env(), capture_output=True, text=True, check=False)
    assert "probe [" not in piped.stderr and "Probe: 1 confirmed" in piped.stderr
