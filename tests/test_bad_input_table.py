"""Each row of docs/bad-inputs.md: the real CLI on a directory that holds the odd input
and a normal file with a known finding; the odd input gets the documented message and
exit code, and the normal file's finding is still reported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

FLAGGED = "import keras\nbn = keras.layers.BatchNormalization(momentum=0.1)\n"
GOOD_FINDING = "good.py:2:38: BN402"


@dataclass(frozen=True)
class Case:
    """One row: how to make the input, then what bnlint must print and return."""

    make: Callable[[Path], None]
    status: int
    error: str | None = None  # the one line on stderr (after "bnlint: error: "), if any
    finding: str | None = None  # a line of the concise report for the odd input
    args: tuple[str, ...] = (".",)


def write(name: str, data: bytes | str) -> Callable[[Path], None]:
    def make(root: Path) -> None:
        path = root / name
        path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)

    return make


def notebook(document: object) -> bytes:
    return json.dumps(document).encode("utf-8")


def code_cell(source: object) -> dict[str, object]:
    return {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
            "source": source}


def fifo(root: Path) -> None:
    os.mkfifo(root / "x.py")


def looping_link(root: Path) -> None:
    os.symlink("x.py", root / "x.py")


def unreadable(root: Path) -> None:
    (root / "x.py").write_text(FLAGGED, encoding="utf-8")
    os.chmod(root / "x.py", 0)


CASES: dict[str, Case] = {
    "empty file": Case(write("x.py", b""), 1),
    "only comments": Case(write("x.py", "# nothing\n# here\n"), 1),
    "binary file": Case(write("x.py", bytes(range(256)) * 4), 2,
                        "x.py: cannot decode: binary data (NUL bytes), not Python source"),
    "NUL byte in text": Case(
        write("x.py", FLAGGED.replace("import keras", "import keras\nx = 1\0")), 1,
        finding="x.py:2:6: BN000 SyntaxError: source code string cannot contain null bytes"),
    "undecodable bytes": Case(write("x.py", b"import keras\nname = '\xe9'\n"), 2,
                              "x.py: cannot decode as utf-8: invalid byte 0xe9 on line 2"),
    "wrong PEP 263 declaration": Case(
        write("x.py", b"# -*- coding: ascii -*-\nimport keras\nname = '\xc3\xa9'\n"), 2,
        "x.py: cannot decode as ascii (declared coding: ascii): invalid byte 0xc3 on line 3"),
    "unknown PEP 263 coding": Case(write("x.py", b"# coding: klingon\nimport keras\n"), 2,
                                   "x.py: cannot decode: unknown encoding: klingon"),
    "UTF-16 with a BOM": Case(
        write("x.py", ("\ufeff" + FLAGGED).encode("utf-16")), 2,
        "x.py: cannot decode: UTF-16 text (byte order mark); Python source must be UTF-8 "
        "or declare an ASCII-compatible coding"),
    "very large file": Case(
        write("x.py", FLAGGED + "# padding\n" * 120_000), 2,
        "x.py: skipped: 1.2 MB of code is more than the limit of 1 MB (`max-file-size`)",
        args=(".", "--max-file-size", "1")),
    "deep nesting": Case(
        write("x.py", FLAGGED + "x = " + "-" * 100_000 + "1\n"), 2,
        "x.py: could not be analysed: nesting deeper than Python's own parser accepts"),
    "nesting beyond max-nesting": Case(
        write("x.py", FLAGGED + "x = " + "+".join(["a"] * 2100) + "\n"), 2,
        "x.py: could not be analysed: nesting deeper than 2000 (`max-nesting`)"),
    "a directory named x.py": Case(lambda root: (root / "x.py").mkdir(), 1),
    "a FIFO named x.py in a directory": Case(fifo, 1),
    "a FIFO named x.py on the command line": Case(
        fifo, 2, "x.py: cannot read: not a regular file", args=("x.py", "good.py")),
    "unreadable permissions": Case(unreadable, 2, "x.py: cannot read: Permission denied"),
    "a broken symlink in a directory": Case(
        lambda root: os.symlink("missing.py", root / "x.py"), 1),
    "a broken symlink on the command line": Case(
        lambda root: os.symlink("missing.py", root / "x.py"), 2,
        "x.py: no such file or directory", args=("x.py", "good.py")),
    "a looping symlink": Case(looping_link, 2,
                             "x.py: cannot read: Too many levels of symbolic links"),
    "notebook that is not JSON": Case(
        write("x.ipynb", "{not json"), 2,
        "x.ipynb: not a valid notebook: Expecting property name enclosed in double quotes: "
        "line 1 column 2 (char 1)"),
    "nbformat 3 notebook": Case(
        write("x.ipynb", notebook({"nbformat": 3, "metadata": {}, "worksheets": [
            {"cells": [{"cell_type": "code", "input": FLAGGED}]}]})), 1,
        finding="x.ipynb:cell 1:2:38: BN402"),
    "notebook without cells": Case(
        write("x.ipynb", notebook({"nbformat": 4, "metadata": {}})), 2,
        "x.ipynb: not a valid notebook: no list of cells"),
    "notebook with only markdown": Case(
        write("x.ipynb", notebook({"nbformat": 4, "metadata": {}, "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": "# Title"}]})), 1),
    "notebook whose source is a string": Case(
        write("x.ipynb", notebook({"nbformat": 4, "metadata": {}, "cells": [
            code_cell(FLAGGED)]})), 1, finding="x.ipynb:cell 1:2:38: BN402"),
    "Python 2 code": Case(
        write("x.py", FLAGGED + "print 'done'\n"), 1,
        finding="x.py:3:1: BN000 SyntaxError: Python 2 syntax (a print statement); "
        "bnlint checks Python 3 code and read this file as its mechanical Python 3 port "
        "(no fixes offered)"),
    "Python 2 code read as its port": Case(
        write("x.py", FLAGGED + "print 'done'\n"), 1, finding="x.py:2:38: BN402"),
    "Python 2 indentation mixing tabs and spaces": Case(
        write("x.py", "import keras\nif True:\n\tbn = keras.layers.BatchNormalization("
              "momentum=0.1)\n        print('done')\n"), 1,
        finding="x.py:4:1: BN000 SyntaxError: inconsistent use of tabs and spaces in "
        "indentation (only Python 2 accepted it); bnlint checks Python 3 code and read "
        "this file as its mechanical Python 3 port (no fixes offered)"),
    "Python 2 code that cannot be ported": Case(
        write("x.py", FLAGGED + "print `done`\n"), 1,
        finding="x.py:3:7: BN000 SyntaxError: Python 2 syntax (backticks); "
        "bnlint checks Python 3 code"),
    "CRLF line ends": Case(write("x.py", FLAGGED.replace("\n", "\r\n")), 1,
                           finding="x.py:2:38: BN402"),
    "lone CR line ends": Case(write("x.py", FLAGGED.replace("\n", "\r")), 1,
                              finding="x.py:2:38: BN402"),
    "mixed line ends": Case(write("x.py", "import keras\r\nx = 1\r" + FLAGGED.split("\n")[1]),
                            1, finding="x.py:3:38: BN402"),
}


def _unsupported(name: str) -> str | None:
    if ("FIFO" in name and not hasattr(os, "mkfifo")) or (
            "symlink" in name and not hasattr(os, "symlink")):
        return "not supported on this platform"
    return None


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_row(tmp_path: Path, name: str) -> None:
    case = CASES[name]
    reason = _unsupported(name)
    if reason is not None:
        pytest.skip(reason)
    (tmp_path / "good.py").write_text(FLAGGED, encoding="utf-8")
    case.make(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "bnlint", "--no-cache", "--output-format", "concise",
         *case.args], cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)
    assert GOOD_FINDING in done.stdout, done.stderr
    if name == "unreadable permissions" and os.geteuid() == 0:
        # root reads any file: the refusal cannot happen here, the rest of the row can
        assert done.returncode == 1 and done.stderr == ""
        return
    assert done.returncode == case.status, done.stderr
    expected = f"bnlint: error: {case.error}\n" if case.error is not None else ""
    assert done.stderr == expected
    if case.finding is not None:
        assert any(line.startswith(case.finding) for line in done.stdout.splitlines())
    else:
        assert "x.py" not in done.stdout and "x.ipynb" not in done.stdout
