"""Parsing what CPython runs (bnlint.parse): syntax errors at CPython's row and column,
Python 2 named as such, what only libcst rejects normalised or reported plainly, and a
notebook's cells compiled one by one as IPython runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bnlint.engine import FileResult, lint_source
from bnlint.registry import all_rules
from bnlint.report import render_text
from bnlint.settings import Settings
from bnlint.sources import source_from_text

_BEFORE_PEP_758 = pytest.mark.skipif(sys.version_info >= (3, 14),
                                     reason="Python 3.14 accepts `except X, Y:` (PEP 758)")
# a rule needle, so that the prefilter lets every file through to the parser
HEADER = "import keras  # BatchNormalization\n"
MOMENTUM = "bn = keras.layers.BatchNormalization(momentum=0.1)"  # BN402 at `momentum`


def _lint(path: str, text: str) -> FileResult:
    return lint_source(source_from_text(path, text), Settings(), all_rules())


def _syntax(text: str) -> tuple[int, int, str]:
    result = _lint("t.py", HEADER + text)
    assert [f.code for f in result.findings] == ["BN000"], result
    finding = result.findings[0]
    return finding.span.start.row, finding.span.start.column, finding.message


# --- Python files: CPython's position and message --------------------------------------

@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # tokenizer errors used to land at 1:1
        ("x = 1\ny = 'abc\nz = 2\n",
         (3, 5, "SyntaxError: unterminated string literal (detected at line 3)")),
        ("x = 1\0\n", (2, 6, "SyntaxError: source code string cannot contain null bytes")),
        # parser errors used to be a line off
        ("x = (1,\ny = 2\n", (2, 5, "SyntaxError: '(' was never closed")),
        ("s = 'é'; x = = 1\n", (2, 14, "SyntaxError: invalid syntax")),  # code points
        ("if x:\n", (2, 6, ("SyntaxError: expected an indented block after 'if' statement "
                            "on line 2"))),
        ("if x:\n\ty = 1\n        z = 1\n",
         (4, 1, ("SyntaxError: inconsistent use of tabs and spaces in indentation (only "
                 "Python 2 accepted it); bnlint checks Python 3 code and read this file as "
                 "its mechanical Python 3 port (no fixes offered)"))),
        ("x = 1\n    y = 2\n", (3, 4, "SyntaxError: unexpected indent")),
    ],
)
def test_syntax_errors_are_reported_where_cpython_reports_them(
    text: str, expected: tuple[int, int, str]
) -> None:
    assert _syntax(text) == expected


_PORTED = " and read this file as its mechanical Python 3 port (no fixes offered)"


@pytest.mark.parametrize(
    ("text", "row", "construct", "ported"),
    [
        ("print 'hello'\n", 2, "a print statement", True),
        ("x = 1\nprint x,\n", 3, "a print statement", True),
        ("exec 'x = 1'\n", 2, "an exec statement", True),
        ("exec code in ns\n", 2, "an exec statement", True),
        # libcst parses this one: it is found before the analysis (Python 3.14 reads it
        # as `except (X, e):`, PEP 758)
        pytest.param("try:\n    pass\nexcept ValueError, e:\n    pass\n", 4,
                     "`except X, e:`", True, marks=_BEFORE_PEP_758),
        pytest.param("try:\n    pass\nexcept (A, B), e:\n    pass\n", 4, "`except X, e:`",
                     True, marks=_BEFORE_PEP_758),
        ("x = `y`\n", 2, "backticks", False),
        ("raise ValueError, 'bad'\n", 2, "`raise E, message`", True),
        ("mode = 0777\n", 2, "an octal literal without 0o", True),
        ("n = 10L\n", 2, "a long integer literal", True),
        ("if a <> b:\n    pass\n", 2, "the <> operator", True),
        ("s = ur'x'\n", 2, "a ur'' string", False),
        ("def f((a, b)):\n    pass\n", 2, "a tuple parameter", False),
        ("f = lambda (a, b): a\n", 2, "a tuple parameter", False),
    ],
)
def test_python2_syntax_is_one_bn000_that_says_so(text: str, row: int, construct: str,
                                                  ported: bool) -> None:
    found_row, _, message = _syntax(text)
    assert found_row == row
    assert message == (f"SyntaxError: Python 2 syntax ({construct}); bnlint checks Python 3 "
                       f"code{_PORTED if ported else ''}")


@pytest.mark.parametrize(
    "text",
    [
        "print('hello')\n",
        "print >>sys.stderr, 'x'\n",  # valid Python 3 (a tuple), whatever it does
        "try:\n    pass\nexcept (ValueError, TypeError):\n    pass\n",
        "try:\n    pass\nexcept ValueError as e:\n    pass\n",
        "mode = 0o777\n",
        "s = r'x'\n",
        "x = y if a != b else z\n",
    ],
)
def test_python3_lookalikes_of_python2_are_fine(text: str) -> None:
    assert _lint("t.py", HEADER + text).findings == ()


# --- Python files: what CPython runs and libcst rejects ---------------------------------

def _momentum_column(line: str) -> int:
    return line.index("momentum") + 1


def test_mixed_tabs_and_spaces_that_cpython_accepts_are_analysed_in_place() -> None:
    line = "\t " + MOMENTUM  # a tab and a space, under a block indented by one space
    result = _lint("t.py", f"import keras\nif a:\n if b:\n{line}\n")
    assert result.errors == ()
    assert [(f.code, f.span.start.row, f.span.start.column) for f in result.findings] == [
        ("BN402", 4, _momentum_column(line))]


def test_parenthesised_annotated_target_is_analysed() -> None:
    text = f"import keras\n(x): int = 1\n(y.z): 'T'\n{MOMENTUM}\n"
    result = _lint("t.py", text)
    assert result.errors == ()
    assert [(f.code, f.span.start.row) for f in result.findings] == [("BN402", 4)]


def test_backslash_ending_a_crlf_file_is_analysed() -> None:
    result = _lint("t.py", f"import keras\r\n{MOMENTUM}\r\nx = 1\\\r\n")
    assert result.errors == ()
    assert [(f.code, f.span.start.row, f.span.start.column) for f in result.findings] == [
        ("BN402", 2, _momentum_column(MOMENTUM))]


def test_what_libcst_cannot_read_although_python_can_is_an_error_not_bn000() -> None:
    result = _lint("t.py", HEADER + "if a:\n\n  \\\nx = 1\n")
    assert result.findings == ()
    assert len(result.errors) == 1
    assert result.errors[0].startswith(
        "t.py: cannot analyse: Python accepts this code but bnlint's parser (libcst) does not")
    assert "SyntaxError" not in result.errors[0]


# --- notebooks -------------------------------------------------------------------------

def _notebook(*cells: str | tuple[str, str], metadata: dict[str, Any] | None = None) -> str:
    def cell(item: str | tuple[str, str]) -> dict[str, Any]:
        kind, text = item if isinstance(item, tuple) else ("code", item)
        extra = {"outputs": [], "execution_count": None} if kind == "code" else {}
        return {"cell_type": kind, "metadata": {}, "source": text, **extra}
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": metadata or {},
                       "cells": [cell(item) for item in cells]})


def _report(*cells: str | tuple[str, str], metadata: dict[str, Any] | None = None) -> list[str]:
    result = _lint("nb.ipynb", _notebook(*cells, metadata=metadata))
    assert result.errors == ()
    return render_text([result], summary=False).splitlines()


def _bn000(where: str, message: str) -> str:
    return f"nb.ipynb:{where}: BN000 SyntaxError: {message}"


def _bn402(where: str) -> str:
    return f"nb.ipynb:{where}: BN402"


def _codes(lines: list[str]) -> list[str]:
    """Each report line cut after its code (the rule messages are long)."""
    return [line if " BN000 " in line else line[: line.index(" BN") + 6] for line in lines
            if not line.startswith("    note:")]


def test_a_cell_that_does_not_compile_is_reported_at_its_row_and_the_rest_analysed() -> None:
    lines = _report("import keras", ("markdown", "# text"), f"a = 1\n{MOMENTUM}",
                    "x = 1\ny = (\nz = 2", MOMENTUM)
    column = _momentum_column(MOMENTUM)
    assert _codes(lines) == [
        _bn402(f"cell 3:2:{column}"),
        _bn000("cell 4:2:5", "'(' was never closed"),
        _bn402(f"cell 5:1:{column}"),
    ]


def test_a_cell_with_an_open_block_does_not_swallow_the_next_cell() -> None:
    # IPython compiles each cell alone: the body in the next cell is not the if's body
    lines = _report("import keras\nif True:", f"    {MOMENTUM}")
    assert _codes(lines) == [
        _bn000("cell 1:2:9", "expected an indented block after 'if' statement on line 2"),
        _bn402(f"cell 2:1:{4 + _momentum_column(MOMENTUM)}"),  # the cell is dedented
    ]


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        (("x = (1,", "2)"), ["cell 2:1:5", "cell 3:1:2"]),  # an open bracket ends a cell
        (("x = 1 + \\", "2"), ["cell 2:1:10"]),  # so does a trailing backslash
        (('s = """', '"""'), ["cell 2:1:5", "cell 3:1:1"]),  # and an open string
        (("if x:\n    a = 1", "else:\n    a = 2"), ["cell 3:1:1"]),
        (("@decorator", "def f():\n    pass"), ["cell 2:1:1"]),
        (("    x = 1\n  y = 2",), ["cell 2:2:2"]),  # a later row is less indented
    ],
)
def test_cells_do_not_continue_one_another(cells: tuple[str, ...], expected: list[str]) -> None:
    lines = _report("import keras  # BatchNormalization", *cells)
    assert [line.split(": BN000")[0].removeprefix("nb.ipynb:") for line in lines] == expected


def test_bn000_column_points_at_the_user_text_of_a_dedented_cell() -> None:
    assert _codes(_report("import keras", "    x = 1\n    y = = 2  # BatchNormalization")) == [
        _bn000("cell 2:2:9", "invalid syntax")]


def test_findings_in_a_timed_statement_point_at_the_user_text() -> None:
    line = f"%time {MOMENTUM}"
    assert _codes(_report("import keras", line)) == [
        _bn402(f"cell 2:1:{_momentum_column(line)}")]


def test_a_cell_magic_body_that_does_not_compile_is_reported_in_its_cell() -> None:
    assert _codes(_report("import keras", "%%time\nx = 1\nmodel.fit(  # BatchNormalization",
                          MOMENTUM)) == [
        _bn000("cell 2:3:10", "'(' was never closed"),
        _bn402(f"cell 3:1:{_momentum_column(MOMENTUM)}")]


_PORTED_CELLS = (" and read this notebook's Python 2 cells as their mechanical Python 3 port "
                 "(no fixes offered)")


def test_python2_cell_in_a_python3_notebook_says_so_and_the_rest_is_analysed() -> None:
    assert _codes(_report("import keras\nprint 'start'", MOMENTUM)) == [
        _bn000("cell 1:2:1", "Python 2 syntax (a print statement); bnlint checks Python 3 code"
               + _PORTED_CELLS),
        _bn402(f"cell 2:1:{_momentum_column(MOMENTUM)}")]


def test_python2_notebook_is_read_as_its_port_with_one_bn000() -> None:
    metadata = {"kernelspec": {"name": "python2", "language": "python"}}
    lines = _report("import keras", "print 'a'", "print 'b'", MOMENTUM, metadata=metadata)
    assert _codes(lines) == [
        _bn000("cell 2:1:1", "Python 2 syntax (a print statement); bnlint checks Python 3 code"
               + _PORTED_CELLS),
        _bn402(f"cell 4:1:{_momentum_column(MOMENTUM)}")]


def test_python2_notebook_that_cannot_be_ported_is_one_bn000_and_nothing_else() -> None:
    metadata = {"kernelspec": {"name": "python2", "language": "python"}}
    lines = _report("import keras", "print `a`", "print 'b'", MOMENTUM, metadata=metadata)
    assert _codes(lines) == [
        _bn000("cell 2:1:7", "Python 2 syntax (backticks); bnlint checks Python 3 code")]


def test_python2_notebook_that_compiles_as_python3_is_analysed() -> None:
    metadata = {"language_info": {"name": "python", "version": "2.7.18"}}
    assert _codes(_report("import keras", MOMENTUM, metadata=metadata)) == [
        _bn402(f"cell 2:1:{_momentum_column(MOMENTUM)}")]


def test_syntax_of_a_newer_python_that_libcst_reads_is_not_a_syntax_error() -> None:
    # `type X = ...` is Python 3.12; on an older interpreter only libcst can read it
    assert _codes(_report("import keras", "type Shape = tuple[int, int]", MOMENTUM)) == [
        _bn402(f"cell 3:1:{_momentum_column(MOMENTUM)}")]


def test_notebook_bn000_end_to_end(tmp_path: Path) -> None:
    (tmp_path / "nb.ipynb").write_text(_notebook(
        "import keras", "    bn = keras.layers.BatchNormalization(\n    x = 1"), encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "bnlint", "--isolated", "--output-format",
                           "concise", "nb.ipynb"],
                          cwd=tmp_path, capture_output=True, text=True, check=False)
    assert done.returncode == 1, done.stderr
    assert done.stdout.splitlines()[0] == (
        "nb.ipynb:cell 2:1:41: BN000 SyntaxError: '(' was never closed")


def test_notebook_cells_libcst_rejects_are_normalised_like_files() -> None:
    result = _lint("nb.ipynb", _notebook(
        "import keras", "(x): int = 1\nif a:\n if b:\n\t y = 2", MOMENTUM))
    assert result.errors == ()
    assert [(f.code, f.span.start.row) for f in result.findings] == [("BN402", 6)]


def test_notebook_cell_libcst_cannot_read_is_an_error_and_the_rest_is_analysed() -> None:
    result = _lint("nb.ipynb", _notebook("import keras", "if a:\n\n  \\\nx = 1", MOMENTUM))
    assert [(f.code, f.span.start.row) for f in result.findings] == [("BN402", 6)]
    assert len(result.errors) == 1
    assert result.errors[0].startswith("nb.ipynb:cell 2: cannot analyse: Python accepts")
    assert result.errors[0].endswith("the other cells were checked")


# --- property: any notebook is analysed or reported, never a crash ---------------------

_ROWS = st.sampled_from([
    "import keras", MOMENTUM, "x = (", ")", "if x:", "    y = 1", "  z = 2", "else:",
    "%time f()", "%%time", "%%bash", "!pip install x \\", "pip install x", "obj?", "print ?",
    "print 'py2'", "x = !ls", '"""', "\t\tw = 3", "base.trainable = False", "", "@dec",
    "model.fit(x)", "s = 'it\\", "(a): int = 1", "x = 1\\",
])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(_ROWS, max_size=5).map("\n".join), max_size=5))
def test_generated_notebooks_are_analysed_or_reported(cells: list[str]) -> None:
    text = _notebook(*cells)
    source = source_from_text("gen.ipynb", text)
    result = lint_source(source, Settings(), all_rules())
    code_rows = {(where.cell, where.row) for where in source.cells}
    for finding in result.findings:
        cell, row, column = source.position(finding.span.start.row, finding.span.start.column)
        assert (cell, row) in code_rows and column >= 1
    assert all(" internal error" not in error for error in result.errors)
    script = lint_source(source_from_text("gen.py", "\n".join(cells)), Settings(), all_rules())
    assert all(" internal error" not in error for error in script.errors)
    assert [f.code for f in script.findings].count("BN000") <= 1


# --- nesting CPython refuses: never handed to libcst, whose parser would crash ---------

@pytest.mark.parametrize("depth", [201, 5000])
def test_brackets_nested_beyond_python_are_bn000(depth: int) -> None:
    text = "x = " + "(" * depth + "1" + ")" * depth + "\n"
    assert _syntax(text) == (2, 205, "SyntaxError: too many nested parentheses")
    result = _lint("nb.ipynb", _notebook("import keras  # BatchNormalization",
                                         "y = " + "[" * depth + "]" * depth, MOMENTUM))
    assert [(f.code, f.span.start.row) for f in result.findings] == [
        ("BN000", 2), ("BN402", 3)]


def test_brackets_nested_as_deep_as_python_allows_are_analysed() -> None:
    text = f"import keras\nx = {'(' * 200}1{')' * 200}\n{MOMENTUM}\n"
    assert [f.code for f in _lint("t.py", text).findings] == ["BN402"]
    strings = f"import keras\nx = '{'(' * 300}'\n{MOMENTUM}\n"  # brackets in a string
    assert [f.code for f in _lint("t.py", strings).findings] == ["BN402"]
