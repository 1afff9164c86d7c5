"""IPython's input transformations of one notebook cell, row for row.

A notebook runs each code cell through ``InteractiveShell.transform_cell`` before Python
compiles it (IPython/core/inputtransformer2.py, IPython/core/prefilter.py; checked
against IPython 9.18 and ipykernel 7.4). This module repeats what that does to the
syntax, so that a cell reads as it runs:

- leading blank lines are dropped and the cell's common indentation is removed
  (``leading_empty_lines``, ``leading_indent``: ``textwrap.dedent`` of the cell in
  IPython 9; where the first line of code keeps more than the common indentation,
  IPython 9 fails and IPython 7 and 8 strip the first line's indentation from the lines
  that start with it, and the cell runs there), and pasted prompts too (``>>> ``/``... `` once a ``>>>`` line is there, ``In [3]: ``);
- a cell whose first line starts with ``%%`` is a cell magic (``cell_magic``); the body
  of ``%%time``, ``%%timeit``, ``%%prun``, ``%%debug`` and ``%%capture`` is itself a cell
  that IPython transforms and runs as Python, any other cell magic's body is not Python;
- at the start of a logical line, ``!cmd``, ``!!cmd``, ``%magic``, ``?obj``, ``??obj``
  and the quoting escapes ``,f a`` ``;f a`` ``/f a`` are calls (``EscapedCommand``), with
  the lines they continue with a backslash; ``x = %magic`` and ``x = !cmd`` assign the
  call's result (``MagicAssign``, ``SystemAssign``: the first ``=`` outside brackets);
  a logical line whose last token is ``?`` asks for help when it ends in a dotted name
  (``HelpEnd``: ``obj?``, ``obj.attr??``, ``%magic?``; ``print ?``, ``a = b ?``,
  ``obj? `` with a trailing space or ``obj?  # note`` stay, and do not compile);
- a cell that is one line after all that may be an automagic (prefilter, single-line
  cells only): a bare line magic such as ``pip install x``, ``cd dir``, ``ls``, ``pwd``
  or ``time f()``, unless the word is followed by ``=`` or ``,`` (an assignment) or
  names something the session bound (IPython then runs the line as Python).

Every transformation keeps the cell's row count, so a row of the result still maps to
the same row of the cell: a masked line becomes ``pass`` at its indentation (an
assignment keeps its target: ``x = None``), the lines it absorbed become empty. A row
keeps its text after any removed prefix, and ``Row.shift`` says how many columns were
removed before it (a common indent, the ``%time `` of a timed statement), so that
columns still point at the user's text. ``%time stmt``, ``%timeit stmt`` and their
automagic forms keep ``stmt``: IPython runs it as Python.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple

from bnlint.lexical import (
    CLOSING,
    OPENING,
    LogicalLine,
    Token,
    read_logical_line,
    rows_inside_strings,
)

# The line magics of a Jupyter kernel (IPython 9.18 with ipykernel 7.4 on Linux:
# ``magics_manager.magics["line"]``), and the shell aliases IPython defines on Windows.
LINE_MAGICS = frozenset({
    "alias", "alias_magic", "autoawait", "autocall", "automagic", "autosave", "bookmark",
    "cat", "cd", "clear", "code_wrap", "colors", "conda", "config", "connect_info", "cp",
    "debug", "dhist", "dirs", "doctest_mode", "ed", "edit", "env", "gui", "hist", "history",
    "killbgscripts", "ldir", "less", "lf", "lk", "ll", "load", "load_ext", "loadpy", "logoff",
    "logon", "logstart", "logstate", "logstop", "ls", "lsmagic", "lx", "macro", "magic",
    "mamba", "man", "matplotlib", "micromamba", "mkdir", "more", "mv", "notebook", "page",
    "pastebin", "pdb", "pdef", "pdoc", "pfile", "pinfo", "pinfo2", "pip", "popd", "pprint",
    "precision", "prun", "psearch", "psource", "pushd", "pwd", "pycat", "pylab", "qtconsole",
    "quickref", "recall", "rehashx", "reload_ext", "rep", "rerun", "reset", "reset_selective",
    "rm", "rmdir", "run", "save", "sc", "set_env", "subshell", "sx", "system", "tb", "time",
    "timeit", "unalias", "unload_ext", "uv", "who", "who_ls", "whos", "xdel", "xmode",
    "copy", "ddir", "echo", "ren",
})
# Cell magics that transform their body as a cell and run it as Python in the session.
# (%%python, %%python3 and %%pypy run their body in another process: not this session.)
PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "prun", "debug", "capture"})
# Line magics whose argument is a Python statement that IPython runs in the session.
TIMED_LINE_MAGICS = frozenset({"time", "timeit"})

_ESCAPES = frozenset({"!", "?", "%", ",", ";", "/"})
_DOUBLE_ESCAPES = frozenset({"!!", "??"})
_HELP_END = re.compile(r"(%{0,2}(?!\d)[\w*]+(\.(?!\d)[\w*]+|\[-?[0-9]+\])*)(\?\??)$")
_HELP_CELL_MAGIC = re.compile(r"%%\w+\?")
# Pasted prompts IPython strips: doctest's (``>>>``, ``...`` once a ``>>>`` line is there)
# and its own (``In [3]: ``, ``   ...: ``).
_DOCTEST_FIRST = re.compile(r"^\s*>>>")
_DOCTEST_PROMPT = re.compile(r"^\s*>>>[ \t]?|^\s*\.\.\.[ \t]?")
_IPYTHON_PROMPT = re.compile(r"^(((\[nav\]|\[ins\])? )?In \[\d+\]: |\s*\.{3,}: ?)")
# IPython's splitinput.line_split, less the escapes (transformed before it applies).
_LINE_SPLIT = re.compile(r"^(\s*)(%{0,2}[\w.*]*)(.*?$|$)")


class Row(NamedTuple):
    """One transformed row of a cell; ``shift`` columns were removed before its text."""

    text: str
    shift: int = 0


def transform_cell(lines: Sequence[str], is_bound: Callable[[str], bool]) -> list[Row]:
    """The rows of one code cell as IPython compiles them, one per line of the cell.
    ``is_bound(name)`` says whether earlier cells bound ``name`` at module level (a
    bound name is no automagic)."""
    rows = _leading_indent(lines)
    first = next((index for index, row in enumerate(rows) if row.text), None)
    if first is None:
        return rows
    rows = _without_prompts(rows, first)
    head = rows[first].text
    if head.startswith("%%") and not _HELP_CELL_MAGIC.match(head):
        return _cell_magic(rows, first, is_bound)
    texts = [row.text for row in rows]
    shifts = [row.shift for row in rows]
    changed, absorbed = _token_transforms(texts, shifts)
    if len(rows) - first - absorbed == 1 and first not in changed:
        _automagic(texts, shifts, first, is_bound)
    return [Row(text, shift) for text, shift in zip(texts, shifts)]


def _leading_indent(lines: Sequence[str]) -> list[Row]:
    """IPython's ``leading_indent``, row for row. IPython 9 removes the indentation
    common to the lines that are not blank (``textwrap.dedent``); IPython 7 and 8 remove
    the first line's indentation from every line that starts with it. Where the first
    line of code (a comment aside) keeps more than the common indentation, IPython 9
    fails with an indentation error; such a cell (`` model = Sequential([`` pasted one
    space in, its last line at the margin) is read as IPython 7 and 8 run it. Any other
    cell is read as IPython 9 reads it. Whitespace-only lines become empty."""
    filled = [line for line in lines if line.strip(" \t")]
    margin = _common_prefix([_indent(line) for line in filled])
    code = next((line for line in filled if not line.lstrip(" \t").startswith("#")), None)
    if code is None or _indent(code) == margin:
        return _dedent(lines)
    first = _indent(filled[0])
    return [Row("") if not line.strip(" \t") else
            Row(line[len(first):], len(first)) if line.startswith(first) else Row(line)
            for line in lines]


def _dedent(lines: Sequence[str]) -> list[Row]:
    """``textwrap.dedent``, row for row: the common leading whitespace of the lines that
    are not blank is removed; whitespace-only lines become empty."""
    indents = [_indent(line) for line in lines if line.strip(" \t")]
    margin = _common_prefix(indents)
    return [Row(line[len(margin):], len(margin)) if line.strip(" \t") else Row("")
            for line in lines]


def _without_prompts(rows: list[Row], first: int) -> list[Row]:
    """IPython's ``classic_prompt`` (doctest mode) and ``ipython_prompt``: pasted
    prompts are stripped, rows inside a string excepted."""
    texts = [row.text for row in rows]
    inside = rows_inside_strings(texts)
    if any(_DOCTEST_FIRST.match(text) for index, text in enumerate(texts)
           if index not in inside):
        stripped = [index for index in range(len(rows)) if index not in inside
                    and _DOCTEST_PROMPT.match(texts[index])]
        rows = _strip(rows, _DOCTEST_PROMPT, stripped)
        rows = _dedent_runs(rows, set(stripped), inside)
    texts = [row.text for row in rows]
    if _IPYTHON_PROMPT.match(texts[first]) or (
            first + 1 < len(texts) and _IPYTHON_PROMPT.match(texts[first + 1])):
        rows = _strip(rows, _IPYTHON_PROMPT, range(len(rows)))
    return rows


def _strip(rows: list[Row], prompt: re.Pattern[str], indices: Iterable[int]) -> list[Row]:
    rows = list(rows)
    for index in indices:
        match = prompt.match(rows[index].text)
        if match and match.end():
            rows[index] = Row(rows[index].text[match.end():], rows[index].shift + match.end())
    return rows


def _dedent_runs(rows: list[Row], stripped: set[int], inside: set[int]) -> list[Row]:
    """Dedent each run of rows outside strings in which a prompt was stripped."""
    result = list(rows)
    start = 0
    while start < len(rows):
        stop = start
        while stop < len(rows) and (stop in inside) == (start in inside):
            stop += 1
        if start not in inside and stripped & set(range(start, stop)):
            run = _dedent([row.text for row in rows[start:stop]])
            result[start:stop] = [Row(new.text, old.shift + new.shift) if new.text else Row("")
                                  for new, old in zip(run, rows[start:stop])]
        start = stop
    return result


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def _common_prefix(indents: Sequence[str]) -> str:
    if not indents:
        return ""
    shortest, longest = min(indents), max(indents)
    for index, char in enumerate(shortest):
        if char != longest[index]:
            return shortest[:index]
    return shortest


def _cell_magic(rows: list[Row], first: int, is_bound: Callable[[str], bool]) -> list[Row]:
    """A ``%%magic`` cell: the magic line is masked; the body is transformed as a cell
    of its own when the magic runs it as Python, and masked otherwise."""
    name = rows[first].text[2:].rstrip().partition(" ")[0]
    body = rows[first + 1:]
    masked = [Row("")] * (first + 1)
    if name not in PYTHON_CELL_MAGICS:
        return masked + [Row("")] * len(body)
    inner = transform_cell([row.text for row in body], is_bound)
    return masked + [Row(row.text, row.shift + outer.shift) if row.text else Row("")
                     for row, outer in zip(inner, body)]


# --- token transformations -------------------------------------------------------------


def _token_transforms(texts: list[str], shifts: list[int]) -> tuple[set[int], int]:
    """Apply IPython's token transformations in place, in order; return the rows they
    rewrote and how many rows they absorbed into another."""
    changed: set[int] = set()
    absorbed = 0
    row = 0
    while row < len(texts):
        line = read_logical_line(texts, row)
        done = _transform_line(texts, shifts, line)
        if done is None:
            row = line.last + 1
            continue
        start, end = done
        changed.add(start)
        absorbed += end - start
        row = end + 1
    return changed, absorbed


def _transform_line(texts: list[str], shifts: list[int],
                    line: LogicalLine) -> tuple[int, int] | None:
    """Transform one logical line if it is IPython syntax: the rows rewritten, else None.
    The order is IPython's: help, then an escape at the start, then an assignment."""
    tokens = line.tokens
    if not tokens or tokens[0].kind == "comment":
        return None
    start = tokens[0]
    # in brackets left open, even a blank row after the `?` takes it from the end
    if (tokens[-1].text == "?" and tokens[-1].kind == "other"
            and (line.ends or tokens[-1].row == line.last)):
        end = tokens[-1].row
        content = "\n".join([texts[start.row][start.column:], *texts[start.row + 1:end + 1]])
        if _HELP_END.search(content):
            return _mask(texts, shifts, start.row, end, texts[start.row][:start.column] + "pass")
    if start.text in _ESCAPES and start.kind in ("op", "other"):
        escaped = _escaped_command(texts, shifts, start)
        if escaped is not None:
            return escaped
    return _magic_assignment(texts, shifts, tokens)


def _escaped_command(texts: list[str], shifts: list[int],
                     start: Token) -> tuple[int, int] | None:
    end = _continued_end(texts, start.row)
    line = _assemble(texts, start.row, start.column, end)
    escape = line[:2] if line[:2] in _DOUBLE_ESCAPES else line[:1]
    content = line[len(escape):]
    name, _, arguments = content.partition(" ")
    if escape == "/" and not name:
        return None  # IPython raises SyntaxError: the line stays as it is
    text = texts[start.row]
    indent = text[:start.column]
    statement = arguments.lstrip()
    if (escape == "%" and name in TIMED_LINE_MAGICS and end == start.row and statement
            and not statement.startswith("-")):
        begins = len(text.rstrip()) - len(statement)
        shifts[start.row] += begins - len(indent)
        texts[start.row] = indent + text[begins:]
        return start.row, end
    return _mask(texts, shifts, start.row, end, indent + "pass")


def _magic_assignment(texts: list[str], shifts: list[int],
                      tokens: list[Token]) -> tuple[int, int] | None:
    """``x = %magic`` and ``x = !cmd`` after the first ``=`` outside brackets."""
    index = _assignment(tokens)
    if index is None or index + 1 >= len(tokens):
        return None
    value = tokens[index + 1]
    magic = (value.text == "%" and index + 2 < len(tokens)
             and tokens[index + 2].kind == "name")
    system = (value.text == "!" and value.kind == "other"
              and not texts[tokens[index].row].strip().startswith("="))
    if not (magic or system):
        return None
    end = _continued_end(texts, value.row)
    return _mask(texts, shifts, value.row, end, texts[value.row][:value.column] + "None")


def _assignment(tokens: Sequence[Token]) -> int | None:
    depth = 0
    for index, token in enumerate(tokens):
        if token.kind != "op":
            continue
        if token.text == "=" and depth == 0:
            return index
        if token.text in OPENING:
            depth += 1
        elif token.text in CLOSING and depth > 0:
            depth -= 1
    return None


def _mask(texts: list[str], shifts: list[int], start: int, end: int,
          replacement: str) -> tuple[int, int]:
    texts[start] = replacement
    for row in range(start + 1, end + 1):
        texts[row] = ""
        shifts[row] = 0
    return start, end


def _continued_end(texts: Sequence[str], row: int) -> int:
    """The last row of the lines continued by a trailing backslash from ``row``."""
    end = row
    while end + 1 < len(texts) and texts[end].endswith("\\"):
        end += 1
    return end


def _assemble(texts: Sequence[str], row: int, column: int, end: int) -> str:
    parts = [texts[row][column:], *texts[row + 1:end + 1]]
    return " ".join([part.rstrip()[:-1] for part in parts[:-1]] + [parts[-1].rstrip()])


# --- automagic -------------------------------------------------------------------------


def _automagic(texts: list[str], shifts: list[int], row: int,
               is_bound: Callable[[str], bool]) -> None:
    """A single-line cell that starts with a line magic's name runs that magic, unless
    the name is assigned (``ls = 1``, ``ls, x = ...``) or bound by the session while
    the line is valid Python. A line that is not Python is read as the magic even when
    the name may be bound: bnlint cannot know what the session holds."""
    line = texts[row]
    match = _LINE_SPLIT.match(line)
    if match is None:
        return
    name, rest = match.group(2), match.group(3).lstrip()
    if name not in LINE_MAGICS or rest.startswith(("=", ",")):
        return
    if is_bound(name) and compiles(line):
        return
    if name in TIMED_LINE_MAGICS and rest and not rest.startswith("-"):
        shifts[row] += len(line) - len(rest)
        texts[row] = rest
        return
    texts[row] = "pass"


def compiles(text: str) -> bool:
    """Does CPython parse ``text``?"""
    try:
        compile(text, "<cell>", "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
    except (SyntaxError, ValueError, OverflowError, RecursionError, MemoryError):
        return False
    return True


class Session:
    """The module-level names the cells run so far have bound, read when first asked
    (a single-line cell that names a line magic is rare)."""

    def __init__(self) -> None:
        self._pending: list[str] = []
        self._names: set[str] = set()

    def ran(self, rows: Iterable[Row]) -> None:
        """Record a cell's transformed rows as run."""
        self._pending.append("\n".join(row.text for row in rows) + "\n")

    def binds(self, name: str) -> bool:
        """Did a cell run so far bind ``name`` at module level?"""
        for text in self._pending:
            try:
                tree = compile(text, "<cell>", "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
            except (SyntaxError, ValueError, OverflowError, RecursionError, MemoryError):
                continue
            self._names.update(_bound_names(tree))
        self._pending.clear()
        return name in self._names


def _bound_names(tree: ast.AST) -> set[str]:
    """Names a module binds in its own namespace (not inside functions or classes)."""
    names: set[str] = set()
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            continue
        if isinstance(node, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp,
                             ast.GeneratorExp)):
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update(alias.asname or alias.name.split(".")[0]
                         for alias in node.names if alias.name != "*")
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)) and node.name:
            names.add(node.name)
        stack.extend(ast.iter_child_nodes(node))
    return names
