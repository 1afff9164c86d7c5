"""A tolerant tokenizer for logical lines, for text that need not be Python.

IPython finds its syntax by tokenizing a cell and looking at the tokens of each logical
line; broken code must not stop it. This tokenizer does the same with a few regular
expressions: names, numbers, strings (prefixes, triple quotes, spanning rows), operators,
comments and any other character as a token of its own (``!``, ``?``, ``$``); rows are
joined into a logical line by open brackets, open strings and trailing backslashes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import NamedTuple

_TOKEN = re.compile(r"""
    (?P<space>[ \t\f]+)
  | (?P<comment>\#.*)
  | (?P<string>(?:[rRbBuUfFtT]{1,2})?(?:'''|\"\"\"|'|"))
  | (?P<name>[^\W\d]\w*)
  | (?P<number>\.?\d(?:[eE][-+]?\d|[\w.])*)
  | (?P<op>\*\*=|//=|>>=|<<=|\.\.\.|!=|%=|&=|\*\*|\*=|\+=|-=|->|//|/=|:=|<<|<=|==|>=|>>
          |@=|\^=|\|=|[-+*/%&|^~<>()\[\]{},:;.=@])
  | (?P<other>.)
""", re.VERBOSE)
OPENING = frozenset("([{")
CLOSING = frozenset(")]}")


class Token(NamedTuple):
    """A token and where it starts (0-based row and column)."""

    kind: str  # name, number, string, op, comment, other
    text: str
    row: int
    column: int


class LogicalLine(NamedTuple):
    """A logical line: its first and last rows, its tokens (comments included), and
    whether it ends (False when brackets or a string are still open at the end)."""

    first: int
    last: int
    tokens: list[Token]
    ends: bool = True


def rows_inside_strings(texts: Sequence[str]) -> set[int]:
    """The rows that start inside a string opened on an earlier row."""
    inside: set[int] = set()
    for line in logical_lines(texts):
        for token in line.tokens:
            if token.kind != "string":
                continue
            quote = token.text.lstrip("rRbBuUfFtT")
            end = string_end(texts, token.row, token.column + len(token.text), quote)
            inside.update(range(token.row + 1, (end[0] if end else len(texts) - 1) + 1))
    return inside


def logical_lines(texts: Sequence[str]) -> Iterator[LogicalLine]:
    """Every logical line of ``texts``, in order."""
    row = 0
    while row < len(texts):
        line = read_logical_line(texts, row)
        yield line
        row = line.last + 1


def read_logical_line(texts: Sequence[str], start: int) -> LogicalLine:
    """The logical line that starts at row ``start``: rows joined by open brackets,
    strings and trailing backslashes. Tolerant: never fails on broken code."""
    tokens: list[Token] = []
    depth = 0
    row, column = start, 0
    while row < len(texts):
        text = texts[row]
        continued = False
        while column < len(text):
            match = _TOKEN.match(text, column)
            assert match is not None  # `other` matches any character
            kind, value = match.lastgroup or "other", match.group()
            if kind == "space":
                column = match.end()
                continue
            if kind == "string":
                tokens.append(Token(kind, value, row, column))
                end = string_end(texts, row, match.end(), value.lstrip("rRbBuUfFtT"))
                if end is None:
                    return LogicalLine(start, len(texts) - 1, tokens, ends=False)
                row, column = end
                text = texts[row]
                continue
            if value == "\\" and match.end() == len(text):
                continued = True
                break
            tokens.append(Token(kind, value, row, column))
            if kind == "op" and value in OPENING:
                depth += 1
            elif kind == "op" and value in CLOSING:
                depth = max(depth - 1, 0)
            column = match.end()
        if depth == 0 and not continued:
            return LogicalLine(start, row, tokens)
        row, column = row + 1, 0
    return LogicalLine(start, len(texts) - 1, tokens, ends=depth == 0)


def string_end(texts: Sequence[str], row: int, column: int,
                quote: str) -> tuple[int, int] | None:
    """Where the string whose body starts at (row, column) ends: just past its closing
    quote. A one-line string left open ends with its line; an open triple-quoted string
    runs to the end of the cell (None)."""
    while row < len(texts):
        text = texts[row]
        while column < len(text):
            if text[column] == "\\":
                column += 2
            elif text.startswith(quote, column):
                return row, column + len(quote)
            else:
                column += 1
        if len(quote) == 1 and not (text.endswith("\\") and column == len(text) + 1):
            return row, len(text)
        row, column = row + 1, 0
    return None
