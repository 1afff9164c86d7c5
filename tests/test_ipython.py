"""IPython's input transformations of a cell, row for row (bnlint.ipython).

Each case was checked against IPython 9.18 with ipykernel 7.4: the cell goes through
``InteractiveShell.transform_cell`` and compiles (or not) exactly when the rows here do.
A row is written as its text, or as (text, shift) when IPython removed columns before it.
"""

from __future__ import annotations

import ast
import json

import pytest

from bnlint.ipython import LINE_MAGICS, Row, Session, transform_cell
from bnlint.sources import source_from_text, split_lines

Expected = list[str | tuple[str, int]]


def _rows(cell: str, bound: tuple[str, ...] = ()) -> Expected:
    rows = transform_cell(split_lines(cell), lambda name: name in bound)
    return [row.text if row.shift == 0 else (row.text, row.shift) for row in rows]


def _compiles(rows: Expected) -> bool:
    text = "".join((row if isinstance(row, str) else row[0]) + "\n" for row in rows)
    try:
        ast.parse(text)
    except SyntaxError:
        return False
    return True


# --- escapes at the start of a logical line: calls IPython makes ---------------------

@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("!pip install keras", ["pass"]),
        ("!!ls", ["pass"]),
        ("!pip install keras \\\n    tensorflow", ["pass", ""]),
        ("%matplotlib inline", ["pass"]),
        ("%pip install -q keras", ["pass"]),
        ("for i in range(2):\n    !echo $i", ["for i in range(2):", "    pass"]),
        ("if x:\n    %env A=1\n    y = 1", ["if x:", "    pass", "    y = 1"]),
        ("?obj", ["pass"]),
        ("??obj", ["pass"]),
        ("?", ["pass"]),
        ("??", ["pass"]),
        (",f a b", ["pass"]),
        (";f a b", ["pass"]),
        ("/f a b", ["pass"]),
        # the escape ends at the row: what follows in brackets is a new, broken line
        ("!echo (a\nb)", ["pass", "b)"]),
        # %%name on a later row is a line magic (`%%time` is not one: a runtime error)
        ("x = 1\n%%time", ["x = 1", "pass"]),
    ],
)
def test_escaped_commands_are_masked(cell: str, expected: Expected) -> None:
    assert _rows(cell) == expected


@pytest.mark.parametrize(
    "cell",
    [
        "x = (10\n% 3)",  # `%` at the start of a bracketed continuation row: modulo
        "x = 10 \\\n% 3",  # ... and of a backslash continuation row
        's = "hi!"',  # `!` in a string
        'x = """\n%not a magic\n!nor a shell\nreally?\n"""',  # rows inside a string
        "# !pip install keras",  # a comment
        "x = 1  # done?",
        "s = 'ok?'",
        "a != b",
        "x = 5 % 3",
        "f(a=1) % 2",
        "/",  # `/` without a name: IPython raises SyntaxError, the row stays
        "x = 1; !ls",  # not at the start of the logical line: stays, does not compile
    ],
)
def test_near_misses_of_escapes_are_left_alone(cell: str) -> None:
    assert _rows(cell) == split_lines(cell)


# --- assignments from a magic or a shell command --------------------------------------

@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("x = !ls", ["x = None"]),
        ("x, y = !ls", ["x, y = None"]),
        ("x = !!ls", ["x = None"]),
        ("files: list = !ls", ["files: list = None"]),
        ("files = !ls \\\n  -la", ["files = None", ""]),
        ("x = %time f()", ["x = None"]),
        ("elapsed = %timeit -o f()", ["elapsed = None"]),
        ("if x:\n    out = %sx ls", ["if x:", "    out = None"]),
    ],
)
def test_magic_assignments_keep_their_target(cell: str, expected: Expected) -> None:
    assert _rows(cell) == expected


@pytest.mark.parametrize(
    "cell",
    [
        "x += %time f()",  # only a plain `=` assigns a magic
        "x == !ls",
        "f(a=!ls)",  # the first `=` outside brackets: there is none
        "x = a != b",
        "= !ls",  # a row that starts with `=`
        "x = 5 % time",  # `%` does not follow the `=`
    ],
)
def test_near_misses_of_magic_assignments_are_left_alone(cell: str) -> None:
    assert _rows(cell) == split_lines(cell)


# --- help ------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "cell",
    ["obj?", "obj??", "obj.attr?", "obj[0]?", "obj[-1]??", "%magic?", "%%time?",
     "a = b?",  # help on b: the assignment does not happen
     "!ls?", "%pip install x?"],  # help wins over the escape (on `ls`, on `x`)
)
def test_help_lines_are_masked(cell: str) -> None:
    assert _rows(cell) == ["pass"]


def test_help_inside_a_block_and_in_an_indented_cell() -> None:
    assert _rows("for i in x:\n    obj.attr?") == ["for i in x:", "    pass"]
    assert _rows("  obj?") == [("pass", 2)]
    assert _rows("%%time?\nx = 1") == ["pass", "x = 1"]


@pytest.mark.parametrize(
    "cell",
    [
        "print ?",  # a space before `?`: no name ends right before it
        "a = b ?",
        "obj? ",  # a trailing space after `?`
        "obj?  # note",  # a comment after `?`
        "obj.meth()?",
        "obj['key']?",
    ],
)
def test_near_misses_of_help_stay_and_do_not_compile(cell: str) -> None:
    rows = _rows(cell)
    assert rows == split_lines(cell)
    assert not _compiles(rows)


# --- timed statements: IPython runs them as Python -------------------------------------

@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("%time model.fit(x)", [("model.fit(x)", 6)]),
        ("%timeit  model.predict(x)", [("model.predict(x)", 9)]),
        ("%time history = model.fit(x)  ", [("history = model.fit(x)  ", 6)]),
        ("for i in x:\n    %time f(i)", ["for i in x:", ("    f(i)", 6)]),
        ("  %time f()", [("f()", 8)]),  # a common indent and the magic
        # not a plain statement: masked like any line magic
        ("%timeit -n 3 f()", ["pass"]),
        ("%time", ["pass"]),
        ("%time f(\\\n  x)", ["pass", ""]),
        ("%time\tf()", ["pass"]),  # IPython's magic name is `time\tf()`
    ],
)
def test_timed_statements_are_analysed_in_place(cell: str, expected: Expected) -> None:
    assert _rows(cell) == expected


# --- the cell's common indentation -----------------------------------------------------

@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("    a = 1\n    b = 2", [("a = 1", 4), ("b = 2", 4)]),
        ("\ta = 1\n\tb = 2", [("a = 1", 1), ("b = 2", 1)]),
        ("    if x:\n        y = 1", [("if x:", 4), ("    y = 1", 4)]),
        ("\n\n    x = 1\n   \n    y = 2", ["", "", ("x = 1", 4), "", ("y = 2", 4)]),
        ("  # a comment first\n  x = 1", [("# a comment first", 2), ("x = 1", 2)]),
        # a later line indented less than the first: IPython 7 and 8 strip the first
        # line's indentation from the lines that start with it (IPython 9 fails there)
        ("    a = 1\n  b = 2", [("a = 1", 4), "  b = 2"]),
        (" m = Sequential([Dense(1),\n                 BatchNormalization()])\nm(x)",
         [("m = Sequential([Dense(1),", 1), ("                BatchNormalization()])", 1),
          "m(x)"]),
        ("x = 1\n    y = 2", ["x = 1", "    y = 2"]),
        ("\t a\n\t  b", [("a", 2), (" b", 2)]),
    ],
)
def test_common_indentation_is_removed_row_for_row(cell: str, expected: Expected) -> None:
    assert _rows(cell) == expected


def test_unclosed_common_indentation_still_fails_where_ipython_fails() -> None:
    assert not _compiles(_rows("    a = 1\n  b = 2"))  # unexpected indent
    assert _compiles(_rows("    a = 1\n    b = 2"))
    # pasted one space in, the last line at the margin: runs in IPython 7 and 8
    assert _compiles(_rows(" m = Sequential([Dense(1),\n                 BN()])\nm(x)"))
    # a comment indented deeper than the code: IPython 9 strips the common indentation
    # and runs the cell (IPython 8 fails on it)
    rows = _rows("    # fine-tune the base\n  base = f()\n  base.trainable = True")
    assert rows == [("  # fine-tune the base", 2), ("base = f()", 2),
                    ("base.trainable = True", 2)]
    assert _compiles(rows)


# --- cell magics -----------------------------------------------------------------------

@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("%%time\nmodel.fit(x)", ["", "model.fit(x)"]),
        ("%%timeit -n 1 -r 1 x = 1\nmodel.fit(x)", ["", "model.fit(x)"]),
        ("%%prun -s cumulative\nmodel.fit(x)", ["", "model.fit(x)"]),
        ("%%debug\nmodel.fit(x)", ["", "model.fit(x)"]),
        ("%%capture out\n!pip install x\nmodel.fit(x)", ["", "pass", "model.fit(x)"]),
        ("%%time\n%%capture\nfit()", ["", "", "fit()"]),
        ("%%time\n    a = 1\n    b = 2", ["", ("a = 1", 4), ("b = 2", 4)]),  # body dedented
        ("\n  %%time\n  fit()", ["", "", ("fit()", 2)]),  # dedented, then a cell magic
        ("%%time\npip install x", ["", "pass"]),  # a one-line body may be an automagic
    ],
)
def test_cell_magics_that_run_python_keep_their_body(cell: str, expected: Expected) -> None:
    assert _rows(cell) == expected


@pytest.mark.parametrize(
    "cell",
    ["%%bash\nif [ -d x ]; then\n  echo (\nfi", "%%writefile train.py\nimport keras\n(",
     "%%html\n<b>x</b>", "%%javascript\nalert(1)", "%%sh\nls", "%%script bash\nls",
     "%%python3\nimport keras", "%%markdown\n# x", "%%latex\n$x$", "%%sql\nSELECT 1",
     "%%file a.py\nx"],
)
def test_other_cell_magics_are_skipped(cell: str) -> None:
    assert _rows(cell) == [""] * len(split_lines(cell))


def test_an_indented_cell_magic_over_an_unindented_line_is_still_a_cell_magic() -> None:
    # IPython 7 and 8 strip the first line's indentation: `%%time` over `fit()`, which
    # runs (IPython 9 reads a line magic `  %%time` and fails)
    rows = _rows("  %%time\nfit()")
    assert rows == ["", "fit()"]
    assert _compiles(rows)


# --- automagics: single-line cells only ------------------------------------------------

@pytest.mark.parametrize(
    "cell",
    ["pip install keras", "pip install keras\n", "pip", "conda install -y keras",
     "mamba install x", "uv pip install x", "cd ..", "cd", "ls", "ls -la", "pwd", "pwd()",
     "mkdir out", "cp a b", "load_ext autoreload", "matplotlib inline", "history", "who",
     "\n\npip install keras"],  # leading blank lines are dropped first
)
def test_single_line_automagics_are_masked(cell: str) -> None:
    rows = _rows(cell)
    assert rows[-1] == "pass" and all(row == "" for row in rows[:-1])


def test_single_line_timed_automagic_keeps_its_statement() -> None:
    assert _rows("time model.fit(x)") == [("model.fit(x)", 5)]
    assert _rows("timeit model.predict(x)") == [("model.predict(x)", 7)]


@pytest.mark.parametrize(
    "cell",
    [
        "ls = 1",  # an assignment to the name
        "ls, a = 1, 2",
        "pip install keras\n\n",  # two lines: no automagic, and no valid Python
        "# install\npip install keras",
        "autoreload 2",  # an extension's magic, not loaded by default
        "time.sleep(1)",  # a dotted name is no magic
        "model.fit(x)",
        "x = pwd",
    ],
)
def test_near_misses_of_automagics_are_left_alone(cell: str) -> None:
    assert _rows(cell) == split_lines(cell)


def test_a_bound_name_is_python_when_the_line_is_python() -> None:
    assert _rows("history", bound=("history",)) == ["history"]
    assert _rows("history") == ["pass"]
    # not Python at all: the magic, whatever the session may hold
    assert _rows("time model.fit(x)", bound=("time",)) == [("model.fit(x)", 5)]


def test_line_magic_names_are_those_of_a_jupyter_kernel() -> None:
    assert {"pip", "conda", "cd", "ls", "pwd", "time", "timeit", "matplotlib",
            "load_ext", "run", "history", "clear", "less", "autosave"} <= LINE_MAGICS
    assert not {"autoreload", "print", "bash", "writefile", "capture"} & LINE_MAGICS


# --- the session: names earlier cells bound --------------------------------------------

def test_session_knows_the_module_level_names_of_the_cells_run() -> None:
    session = Session()
    session.ran([Row("import time, os.path as osp"), Row("from pprint import pprint")])
    session.ran([Row("history = model.fit(x)"), Row("for run in runs:"), Row("    pass")])
    session.ran([Row("def load():"), Row("    who = 1"), Row("class env: pass")])
    session.ran([Row("x = (")])  # does not compile: binds nothing
    for name in ("time", "osp", "pprint", "history", "run", "load", "env"):
        assert session.binds(name), name
    assert not session.binds("who")  # local to a function
    assert not session.binds("os")
    assert not session.binds("x")


def test_notebook_cells_see_the_names_bound_before_them() -> None:
    cells = [{"cell_type": "code", "source": text, "metadata": {}, "outputs": []}
             for text in ("history", "history = model.fit(x)", "history")]
    source = source_from_text("nb.ipynb", json.dumps({"cells": cells, "metadata": {}}))
    assert source.text == "pass\nhistory = model.fit(x)\nhistory\n"


# --- pasted prompts --------------------------------------------------------------------

@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        (">>> x = 1\n>>> y = x", [("x = 1", 4), ("y = x", 4)]),
        (">>> for i in range(2):\n...     print(i)", [("for i in range(2):", 4),
                                                    ("    print(i)", 4)]),
        ("    >>> x = 1\n    >>> y = 2", [("x = 1", 8), ("y = 2", 8)]),
        (">>>x=1", [("x=1", 3)]),
        (">>> x = 1\nprint(x)", [("x = 1", 4), "print(x)"]),
        ("a = 1\n>>> b = 2", ["a = 1", ("b = 2", 4)]),
        ("In [1]: x = 1\n   ...: y = 2", [("x = 1", 8), ("y = 2", 8)]),
        ("x = 1\nIn [2]: y", ["x = 1", ("y", 8)]),  # the second line has a prompt
    ],
)
def test_pasted_prompts_are_stripped(cell: str, expected: Expected) -> None:
    assert _rows(cell) == expected


@pytest.mark.parametrize(
    "cell",
    [
        "def f():\n    ...",  # an Ellipsis body: no `>>>` line, no prompt
        'def f():\n    """\n    >>> f()\n    """\n    ...',  # `>>>` only inside a string
        "x = '''\n>>> a\n'''\n...",
        "x = 1\ny = 2\nIn [3]: z",  # IPython looks at the first two lines only
    ],
)
def test_near_misses_of_prompts_are_left_alone(cell: str) -> None:
    assert _rows(cell) == split_lines(cell)


def test_help_at_the_end_of_a_cell_left_in_open_brackets() -> None:
    # IPython's help takes the whole open logical line; a blank row after it does not
    assert _rows("x = (10\nobj?") == ["pass", ""]
    assert _rows("x = (10\nobj?\n   ") == ["x = (10", "obj?", ""]
