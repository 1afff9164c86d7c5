"""Parses a Source as CPython reads it.

libcst parses the program. Where it fails, CPython's own parser (``compile``) has the
last word. A real syntax error becomes one BN000 finding at CPython's row and column,
with CPython's message (Python 2 syntax is named as such). Code that CPython accepts but
libcst does not is parsed again after a normalisation that keeps every row and column:
tab indentation rewritten as spaces (CPython's rules make that safe), the annotation of
a parenthesised target blanked (``(x): int = 1``), a backslash that ends the file
dropped. What libcst still cannot read is reported as such, not as a syntax error.

A notebook is compiled cell by cell, as IPython runs it: a cell that does not compile
gets its own BN000 at its row and is left out (its rows blank), and the other cells are
analysed in order as if it did nothing. A notebook whose kernel is Python 2 and whose
Python 2 cells cannot be ported (below) gets one BN000 at its first cell that Python 3
cannot compile, and nothing else.

Python 2 code (``print x``, ``except E, e:``) still gets its BN000, but where its
mechanical Python 3 port (bnlint.python2) compiles, the file, or the cell, is analysed
as that port: the rows are the same, so the findings stand where the user reads them.
A notebook gets one BN000 for all its ported cells, at the first.
Fixes are not offered on a port (its columns are not the file's).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from bnlint.finding import Finding, Position, Span
from bnlint.lexical import logical_lines
from bnlint.nesting import nesting_bound, tree_depth
from bnlint.source import Source

if TYPE_CHECKING:
    import libcst as cst

    from bnlint.python2 import Port

SYNTAX_ERROR_CODE = "BN000"
SYNTAX_ERROR_NAME = "syntax-error"

# What libcst parses but CPython rejects, found cheaply before asking CPython: an integer
# literal beyond int()'s digit limit (4300), and Python 2's `except X, e:`.
_HUGE_INTEGER = re.compile(r"\d{4301}")
_EXCEPT_COMMA = re.compile(r"^[ \t]*except[ \t]*(?:[\w.]+|\([^)\n]*\))[ \t]*,", re.MULTILINE)
_DIGIT_LIMIT = "integer string conversion"
# CPython refuses brackets nested deeper than this (its tokenizer's MAXLEVEL); libcst's
# native parser overflows its stack (the process dies) on a few thousand levels.
_PYTHON_NESTING = 200
_BRACKET = re.compile(r"[()\[\]{}]")
_ROW = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")
# CPython's TabError: indentation whose meaning depends on a tab's width, which Python 2
# read as 8 columns
_TAB_ERROR = "inconsistent use of tabs and spaces in indentation"
_PYTHON2_MESSAGES = (
    ("Missing parentheses in call to 'print'", "a print statement"),
    ("Missing parentheses in call to 'exec'", "an exec statement"),
    ("multiple exception types must be parenthesized", "`except X, e:`"),
    ("leading zeros in decimal integer literals", "an octal literal without 0o"),
    ("parameters cannot be parenthesized", "a tuple parameter"),
    (_TAB_ERROR, "tabs and spaces mixed in indentation"),
)
_PYTHON2_LINES = (
    (re.compile(r"^\s*raise\s+[^,(]+,"), "`raise E, message`"),
    (re.compile(r"\b\d+[lL]\b"), "a long integer literal"),
    (re.compile(r"(?<![\w'\"])[uU][rR]['\"]"), "a ur'' string"),
    (re.compile(r"^\s*def\s+\w+\s*\(\s*\(|\blambda\s*\("), "a tuple parameter"),
)


# A text whose nesting bound (bnlint.nesting) is at most this is parsed by libcst at once;
# above it, CPython's parser says first how deep the text really is.
_NESTING_CHECKED = 100
# A text with at most this many operators and brackets is not even scanned: it cannot
# nest deeper, and libcst parses a thousand levels without harm (it dies beyond 3,000).
_NESTING_SCANNED = 1000
DEFAULT_MAX_NESTING = 2000


@dataclass(frozen=True, slots=True)
class Parsed:
    """The module to analyse (None when there is nothing to analyse), the BN000 findings
    of what CPython rejects, and errors for what bnlint cannot read although CPython
    accepts it (one-line messages starting with the path)."""

    module: cst.Module | None
    findings: tuple[Finding, ...] = ()
    errors: tuple[str, ...] = ()
    ported: bool = False  # the module is the Python 3 port of Python 2 code
    # a ported file's columns: which of the file's each of the port's is
    port: Port | None = None

_PORTED = " and read this {} as {} mechanical Python 3 port (no fixes offered)"


class Rejection(NamedTuple):
    """Why CPython does not compile a text: 1-based row and column, and the message."""

    row: int
    column: int
    message: str
    python2: str | None = None  # the Python 2 construct, when it is one
    too_deep: bool = False  # CPython gave up for lack of stack or memory

    def finding(self, first_row: int = 1, note: str = "") -> Finding:
        """The BN000 finding, in a program whose row ``first_row`` is this text's first."""
        where = Position(first_row + self.row - 1, self.column)
        if self.python2 is not None and self.message.startswith(_TAB_ERROR):
            message = (f"SyntaxError: {self.message} (only Python 2 accepted it); bnlint "
                       f"checks Python 3 code{note}")
        elif self.python2 is not None:
            message = (f"SyntaxError: Python 2 syntax ({self.python2}); bnlint checks "
                       f"Python 3 code{note}")
        else:
            message = f"SyntaxError: {self.message}{note}"
        return Finding(code=SYNTAX_ERROR_CODE, name=SYNTAX_ERROR_NAME, severity="error",
                       message=message, span=Span(where, where))


def parse_source(source: Source, max_nesting: int = DEFAULT_MAX_NESTING) -> Parsed:
    """Parse ``source`` (see the module docstring); a program with expressions nested
    deeper than ``max_nesting`` is not parsed: it gets an error saying so."""
    too_deep = _too_deep(source, max_nesting)
    if too_deep is not None:
        return too_deep
    if source.kind == "notebook":
        return _parse_notebook(source)
    return _parse_python(source)


def _too_deep(source: Source, max_nesting: int) -> Parsed | None:
    """The error for a program nested deeper than ``max_nesting`` (libcst's native parser
    would overflow its stack and kill the process), the BN000 of one that CPython
    rejects, or None when libcst can be given the text."""
    text = source.text
    if nesting_bound(text, min(max_nesting, _NESTING_SCANNED)) <= _NESTING_CHECKED:
        return None
    outcome = _compile(text)
    if isinstance(outcome, Rejection) and not outcome.too_deep:
        # a notebook's cells are judged one by one, a file's syntax error is reported
        return None if source.kind == "notebook" else Parsed(None, (outcome.finding(),))
    if isinstance(outcome, Rejection):
        reason = "nesting deeper than Python's own parser accepts"
    elif tree_depth(outcome) > max_nesting:
        reason = f"nesting deeper than {max_nesting} (`max-nesting`)"
    else:
        return None
    return Parsed(None, errors=(f"{source.path}: could not be analysed: {reason}",))


def python_rejection(text: str) -> Rejection | None:
    """What CPython's parser says against ``text``, or None when it parses."""
    outcome = _compile(text)
    return outcome if isinstance(outcome, Rejection) else None


# --- Python files ----------------------------------------------------------------------


def _parse_python(source: Source) -> Parsed:
    import libcst as cst

    text = source.text
    if _nested_beyond_python(text):  # libcst would parse what CPython refuses
        rejection = python_rejection(text)
        if rejection is not None:
            return Parsed(None, (rejection.finding(),))
    try:
        module = cst.parse_module(text)
    except cst.ParserSyntaxError:
        outcome = _compile(text)
        if isinstance(outcome, Rejection):
            return _python2_port(text, outcome) or Parsed(None, (outcome.finding(),))
        normalised = _normalised(text, outcome)
        try:
            return Parsed(cst.parse_module(normalised))
        except cst.ParserSyntaxError as again:
            return Parsed(None, errors=(f"{source.path}: {_unreadable(again)}",))
    rejection = _accepted_by_libcst_only(text)
    if rejection is not None:
        return _python2_port(text, rejection) or Parsed(None, (rejection.finding(),))
    return Parsed(module)


def _python2_port(text: str, rejection: Rejection) -> Parsed | None:
    """Python 2 code read as its Python 3 port, beside the BN000 that says it is Python 2;
    None when it is not Python 2 or its port does not parse."""
    import libcst as cst

    from bnlint.python2 import port

    if rejection.python2 is None:
        return None
    ported = port(text)
    if ported is None:
        return None
    try:
        module = cst.parse_module(ported.text)
    except cst.ParserSyntaxError:
        return None
    return Parsed(module, (rejection.finding(note=_PORTED.format("file", "its")),), ported=True,
                  port=ported)


def _accepted_by_libcst_only(text: str) -> Rejection | None:
    """CPython's verdict on what libcst parses but CPython may not; asked only when the
    text has such a thing, which is rare."""
    if _HUGE_INTEGER.search(text) is None and _EXCEPT_COMMA.search(text) is None:
        return None
    return python_rejection(text)


def _nested_beyond_python(text: str) -> bool:
    """Are brackets nested deeper than CPython allows? Strings and comments are counted
    too, so True only means CPython must be asked first; it is rare and cheap."""
    if text.count("(") + text.count("[") + text.count("{") <= _PYTHON_NESTING:
        return False
    depth = 0
    for match in _BRACKET.finditer(text):
        if match.group() in "([{":
            depth += 1
            if depth > _PYTHON_NESTING:
                return True
        elif depth:
            depth -= 1
    return False


def _unreadable(error: Exception) -> str:
    detail = (getattr(error, "message", None) or str(error)).splitlines()[0]
    return f"cannot analyse: Python accepts this code but bnlint's parser (libcst) " \
           f"does not ({detail})"


# --- CPython's verdict -----------------------------------------------------------------


def _compile(text: str) -> ast.Module | Rejection:
    """CPython's syntax tree of ``text``, or why it has none."""
    try:
        tree = compile(text, "<bnlint>", "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
    except SyntaxError as error:
        return _rejection(text, error)
    except ValueError as error:  # null bytes, before Python 3.12
        return _null_byte(text, str(error))
    except (RecursionError, MemoryError) as error:
        return Rejection(1, 1, f"Python cannot compile this: {type(error).__name__}: {error}",
                         too_deep=True)
    assert isinstance(tree, ast.Module)
    return tree


def _rejection(text: str, error: SyntaxError) -> Rejection:
    message = error.msg or "invalid syntax"
    if "null bytes" in message:
        return _null_byte(text, message)
    lines = [line.rstrip("\r\n") for line in _lines(text)]
    row = min(max(error.lineno or 1, 1), max(len(lines), 1))
    line = lines[row - 1] if lines else ""
    column = max(error.offset or 1, 1)
    if (error.lineno or 1) > len(lines):  # at the end of the text
        column = len(line) + 1
    return Rejection(row, column, message, _python2_construct(message, line, column))


def _null_byte(text: str, message: str) -> Rejection:
    before = text[: max(text.find("\0"), 0)]
    row = before.count("\n") + 1
    return Rejection(row, len(before) - (before.rfind("\n") + 1) + 1, message)


def _python2_construct(message: str, line: str, column: int) -> str | None:
    """The Python 2 construct CPython stopped at, if it is one."""
    for start, construct in _PYTHON2_MESSAGES:
        if message.startswith(start) or start in message:
            return construct
    at = line[column - 1: column + 1]
    if at.startswith("`"):
        return "backticks"
    if at == "<>":
        return "the <> operator"
    for pattern, construct in _PYTHON2_LINES:
        if pattern.search(line):
            return construct
    return None


# --- what CPython accepts and libcst does not ------------------------------------------


def _normalised(text: str, tree: ast.Module) -> str:
    """``text`` with what libcst rejects and CPython accepts rewritten, keeping every
    row and column."""
    lines = _lines(text)
    _spaces_for_tabs(lines)
    _blank_parenthesised_annotations(lines, tree)
    normalised = "".join(lines)
    # CPython accepts a backslash that ends the file before \r\n; libcst does not.
    return re.sub(r"\\(?=(?:\r\n|\r|\n)[ \t\f\r\n]*\Z)", " ", normalised)


def _lines(text: str) -> list[str]:
    """The rows of ``text`` with their line ends, split where Python's tokenizer splits
    (``str.splitlines`` also splits at form feeds and other separators)."""
    return _ROW.findall(text)


def _spaces_for_tabs(lines: list[str]) -> None:
    """Indentation with tabs as spaces, one per character. CPython accepts a file only
    when counting a tab as one column orders its indentation as counting it up to a
    multiple of eight does, so the blocks stay the same; columns do not move."""
    bodies = [line.rstrip("\r\n") for line in lines]
    for logical in logical_lines(bodies):
        row = logical.first
        body = bodies[row]
        indent = body[: len(body) - len(body.lstrip(" \t\f"))]
        if "\t" in indent and "\f" not in indent:
            lines[row] = " " * len(indent) + lines[row][len(indent):]


def _blank_parenthesised_annotations(lines: list[str], tree: ast.Module) -> None:
    """``(x): int = 1`` as ``(x)      = 1``: libcst rejects an annotated target in
    parentheses; the annotation means nothing to the analysis. Only a one-row
    annotation is blanked."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.AnnAssign) or node.simple:
            continue
        row = node.lineno - 1
        start = _column(lines[row], node.col_offset)
        annotation = node.annotation
        if (lines[row][start:start + 1] != "(" or annotation.lineno != node.target.end_lineno
                or annotation.end_lineno != annotation.lineno):
            continue
        target_row = lines[annotation.lineno - 1]
        after_target = _column(target_row, node.target.end_col_offset or 0)
        colon = target_row.find(":", after_target)
        end = _column(target_row, annotation.end_col_offset or 0)
        if colon < 0 or target_row[after_target:colon].strip(") \t"):
            continue
        lines[annotation.lineno - 1] = target_row[:colon] + " " * (end - colon) + target_row[end:]


def _column(line: str, byte_offset: int) -> int:
    """The character column of an ast byte offset (ast counts UTF-8 bytes)."""
    return len(line.encode("utf-8")[:byte_offset].decode("utf-8", "replace"))


# --- notebooks -------------------------------------------------------------------------


def _parse_notebook(source: Source) -> Parsed:
    import libcst as cst

    rows = source.text.split("\n")[:-1]
    findings: list[Finding] = []
    ported = False
    for start, stop in source.cell_rows():
        rejection = _cell_rejection(rows[start:stop])
        if rejection is None:
            continue
        port = _ported_cell(rows[start:stop], rejection)
        if port is not None:
            if not ported:  # one BN000 says it for every Python 2 cell
                findings.append(rejection.finding(start + 1, _PORTED.format(
                    "notebook's Python 2 cells", "their")))
            rows[start:stop] = port
            ported = True
            continue
        if source.python2:
            note = "" if rejection.python2 else (
                " (the notebook's kernel is Python 2; bnlint checks Python 3 code)")
            return Parsed(None, (rejection.finding(start + 1, note),))
        findings.append(rejection.finding(start + 1))
        rows[start:stop] = [""] * (stop - start)
    text = "".join(row + "\n" for row in rows)
    try:
        return Parsed(cst.parse_module(text), tuple(findings), ported=ported)
    except cst.ParserSyntaxError:
        pass
    module, errors = _parse_what_libcst_can(source, rows)
    return Parsed(module, tuple(findings), errors, ported)


def _ported_cell(rows: list[str], rejection: Rejection) -> list[str] | None:
    """The rows of a Python 2 cell's Python 3 port (as many as the cell's), or None."""
    from bnlint.python2 import as_python3

    if rejection.python2 is None:
        return None
    ported = as_python3("".join(row + "\n" for row in rows))
    if ported is None:
        return None
    port = ported.split("\n")[:-1]
    if len(port) != len(rows) or _cell_rejection(port) is not None:
        return None
    return port


def _cell_rejection(rows: Sequence[str]) -> Rejection | None:
    """Why a cell does not compile, or None. A cell that only this interpreter rejects
    (syntax of a newer Python that libcst knows) is accepted, as in a .py file."""
    import libcst as cst

    text = "".join(row + "\n" for row in rows)
    rejection = python_rejection(text)
    if (rejection is None or rejection.python2 or _DIGIT_LIMIT in rejection.message
            or _nested_beyond_python(text)):
        return rejection
    try:
        cst.parse_module(text)
    except cst.ParserSyntaxError:
        return rejection
    return None


def _parse_what_libcst_can(
    source: Source, rows: list[str]
) -> tuple[cst.Module | None, tuple[str, ...]]:
    """Every cell compiles but libcst rejects the program: normalise it; cells libcst
    still rejects are left out, each with an error."""
    import libcst as cst

    text = "".join(row + "\n" for row in rows)
    outcome = _compile(text)
    if isinstance(outcome, ast.Module):
        text = _normalised(text, outcome)
        rows = text.split("\n")[:-1]
    errors: list[str] = []
    for start, stop in source.cell_rows():
        cell = "".join(row + "\n" for row in rows[start:stop])
        try:
            cst.parse_module(cell)
        except cst.ParserSyntaxError as error:
            cell_number = source.cells[start].cell
            errors.append(f"{source.path}:cell {cell_number}: {_unreadable(error)}; "
                          "the other cells were checked")
            rows[start:stop] = [""] * (stop - start)
    try:
        return cst.parse_module("".join(row + "\n" for row in rows)), tuple(errors)
    except cst.ParserSyntaxError as error:
        return None, (*errors, f"{source.path}: {_unreadable(error)}")
