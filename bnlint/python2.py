"""Reads a Python 2 module of the project as the Python 3 it would be after a mechanical
port, for what it defines.

A project's training script may import a module written for Python 2 (a data generator
whose ``__main__`` block prints with ``print x``). bnlint never lints such a file (it
gets BN000 when linted itself), but the code that imports it needs its functions: a
generator's batches, a builder's layers. The statements Python 3 rejects are rewritten
token by token, each on its own row: ``print x`` and ``exec code`` become calls,
``except E, e:`` becomes ``except E as e:``, ``raise E, message`` becomes
``raise E(message)``, ``<>`` becomes ``!=``, ``0777`` becomes ``0o777`` and ``10L``
becomes ``10``; indentation that mixes tabs and spaces is read as Python 2 read it (a
tab to the next multiple of 8 columns). Backticks and anything else are not rewritten:
the module stays unread.
"""

from __future__ import annotations

import ast
import io
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass

# (row, column, length of the text replaced, new text), rows 1-based as tokenize gives
_Edit = tuple[int, int, int, str]

_LINE_STARTS = frozenset({tokenize.NEWLINE, tokenize.NL, tokenize.INDENT, tokenize.DEDENT})
_STATEMENTS = frozenset({"print", "exec"})


@dataclass(frozen=True, slots=True)
class Port:
    """The Python 3 port of a text, and what it changed on each row: the edits (in the
    columns of the text with tabs expanded) and, where a row's indentation held tabs,
    its indentation's length before and after (0-based columns)."""

    text: str
    edits: dict[int, tuple[_Edit, ...]]
    indentation: dict[int, tuple[int, int]]

    def column(self, row: int, column: int) -> int:
        """The file's 1-based column of the port's 1-based ``column`` on ``row``."""
        at = column - 1
        moved = 0
        for _, start, length, new in self.edits.get(row, ()):
            if at < start + moved:
                break
            if at < start + moved + len(new):
                at = start  # inside a rewritten token: where the original text was
                moved = 0
                break
            moved += len(new) - length
        at -= moved
        before, after = self.indentation.get(row, (0, 0))
        at = at - (after - before) if at >= after else min(at, before)
        return max(at, 0) + 1


def as_python3(text: str) -> str | None:
    """``text`` with its Python 2 statements rewritten (see the module docstring), or
    None when it still does not compile, or nothing was Python 2."""
    ported = port(text)
    return ported.text if ported is not None else None


def port(text: str) -> Port | None:
    """The port of ``text`` (see ``as_python3``) with what it changed on each row."""
    original = text
    indentation: dict[int, tuple[int, int]] = {}
    if _mixes_tabs(text):
        text, indentation = _python2_indentation(text)
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return None
    edits = list(_edits(tokens))
    if not edits and text == original:
        return None
    rows = text.splitlines(keepends=True)
    for row, column, length, new in sorted(edits, reverse=True):
        if row > len(rows):
            return None
        line = rows[row - 1]
        rows[row - 1] = line[:column] + new + line[column + length:]
    ported = "".join(rows)
    try:
        ast.parse(ported)
    except (SyntaxError, ValueError):
        return None
    by_row: dict[int, list[_Edit]] = {}
    for edit in sorted(edits):
        by_row.setdefault(edit[0], []).append(edit)
    return Port(ported, {row: tuple(items) for row, items in by_row.items()}, indentation)


def _mixes_tabs(text: str) -> bool:
    """Is ``text`` indented with tabs on some rows and spaces on others (or both on one)?
    Python 3 rejects such code where its meaning depends on a tab's width (``TabError``);
    Python 2 read a tab as 8 columns, and so does the port (where Python 3 also accepts
    the code, that reading is the same)."""
    if "\t" not in text:
        return False
    kinds: set[str] = set()
    for row in text.splitlines():
        indentation = row[: len(row) - len(row.lstrip(" \t"))]
        kinds.update(indentation)
        if len(kinds) == 2:
            return True
    return False


def _python2_indentation(text: str) -> tuple[str, dict[int, tuple[int, int]]]:
    """Each row's indentation as Python 2 read it: a tab moves to the next multiple of 8
    columns (rows inside a multi-line string change too: only their text, which the
    analysis does not read as code); and for each row changed, its indentation's length
    before and after."""
    rows = text.splitlines(keepends=True)
    lengths: dict[int, tuple[int, int]] = {}
    for index, row in enumerate(rows):
        body = row.lstrip(" \t")
        indentation = row[: len(row) - len(body)]
        if "\t" in indentation:
            expanded = indentation.expandtabs(8)
            rows[index] = expanded + body
            lengths[index + 1] = (len(indentation), len(expanded))
    return "".join(rows), lengths


def _edits(tokens: list[tokenize.TokenInfo]) -> Iterator[_Edit]:
    previous: tokenize.TokenInfo | None = None
    for index, token in enumerate(tokens):
        starts_line = previous is None or previous.type in _LINE_STARTS
        if token.type == tokenize.ERRORTOKEN and token.string.strip() == "`":
            return  # backticks: left unread
        if token.type == tokenize.NAME and token.string in _STATEMENTS and (
                starts_line or previous is not None and previous.string == ":"):
            # `print x`, also after `if verbose:` on the same row
            yield from _statement_call(tokens, index)
        elif token.type == tokenize.NAME and starts_line and token.string in {"except", "raise"}:
            yield from _comma_clause(tokens, index, token.string)
        elif token.type == tokenize.OP and token.string == "<>" or _adjacent(
                token, tokens, index, "<", ">"):
            yield (*token.start, 2, "!=")
        elif token.type == tokenize.NUMBER and _old_octal(token.string):
            yield (*token.start, len(token.string), "0o" + token.string[1:])
        elif token.type == tokenize.NUMBER and token.string == "0" and index + 1 < len(
                tokens) and tokens[index + 1].type == tokenize.NUMBER and (
                tokens[index + 1].start == token.end and tokens[index + 1].string.isdigit()):
            yield (*token.start, 1, "0o")  # `0777`, read by Python 3 as `0` then `777`
        elif (token.type == tokenize.NAME and token.string in {"L", "l"} and previous is not None
              and previous.type == tokenize.NUMBER and previous.end == token.start):
            yield (*token.start, 1, "")
        if token.type != tokenize.COMMENT:
            previous = token


def _statement_call(tokens: list[tokenize.TokenInfo], index: int) -> Iterator[_Edit]:
    """``print x, y`` -> ``print(x, y)``; ``print >>f, x`` -> ``print(f, x)``."""
    following = tokens[index + 1] if index + 1 < len(tokens) else None
    if following is None or following.type == tokenize.OP and following.string in {
            "(", "=", ".", "[", ","}:
        return  # already a call, or the name used as a value
    end = _logical_end(tokens, index)
    if end is None:
        return
    word = tokens[index]
    if following.type == tokenize.OP and following.string == ">>":
        yield (*following.start, 2, "")
    yield (word.end[0], word.end[1], 0, "(")
    yield (end[0], end[1], 0, ")")


def _comma_clause(tokens: list[tokenize.TokenInfo], index: int, keyword: str) -> Iterator[_Edit]:
    """``except E, e:`` -> ``except E as e:``; ``raise E, message`` ->
    ``raise E(message)``: the first comma outside brackets before the clause ends."""
    depth = 0
    for token in tokens[index + 1:]:
        if token.type in {tokenize.NEWLINE, tokenize.ENDMARKER}:
            return
        if token.type == tokenize.OP and token.string in "([{":
            depth += 1
        elif token.type == tokenize.OP and token.string in ")]}":
            depth -= 1
        elif token.type == tokenize.OP and token.string == ":" and depth == 0:
            return
        elif token.type == tokenize.OP and token.string == "," and depth == 0:
            if keyword == "except":
                yield (*token.start, 1, " as")
                return
            end = _logical_end(tokens, index)
            if end is not None:
                yield (*token.start, 1, "(")
                yield (end[0], end[1], 0, ")")
            return


def _logical_end(tokens: list[tokenize.TokenInfo], index: int) -> tuple[int, int] | None:
    """Where the code of the logical line holding ``tokens[index]`` ends (before a
    trailing comment and the line end)."""
    last: tokenize.TokenInfo | None = None
    for token in tokens[index:]:
        if token.type in {tokenize.NEWLINE, tokenize.ENDMARKER}:
            return last.end if last is not None else None
        if token.type not in {tokenize.COMMENT, tokenize.NL}:
            if token.type == tokenize.OP and token.string == ";":
                return last.end if last is not None else None
            last = token
    return None


def _old_octal(number: str) -> bool:
    return len(number) > 1 and number[0] == "0" and number.isdigit() and number.strip("0") != ""


def _adjacent(token: tokenize.TokenInfo, tokens: list[tokenize.TokenInfo], index: int,
              first: str, second: str) -> bool:
    """Are ``token`` and the next one the operators ``first`` and ``second`` written
    together (Python 3 reads ``<>`` as ``<`` then ``>``)?"""
    following = tokens[index + 1] if index + 1 < len(tokens) else None
    return token.type == tokenize.OP and token.string == first and following is not None and (
        following.string == second and following.start == token.end)
