"""Where a notebook cell's row sits in the ``.ipynb`` file itself.

Code hosts annotate a notebook as the JSON text it is stored as. Jupyter writes each
source line of a cell as its own string of the cell's ``source`` array, one per line of
the file, so the file line of a cell's row can be found by reading the JSON with the
position of every string. When the file cannot be read or does not have that shape
(``source`` as one string holds every row on a single line, which is still exact), or
when its row does not hold the code that was linted (a file changed since, an editor's
unsaved text on stdin), the answer is None and the formats fall back to the cell and row
in the message.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_SCALAR = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|true|false|null")


class _Malformed(Exception):
    pass


def notebook_line(path: str, cell: int, row: int, code: str | None = None) -> int | None:
    """The 1-based line of ``path`` (an .ipynb file) that holds row ``row`` of cell
    ``cell`` (both 1-based, cells counted as Jupyter shows them), or None. ``code``, the
    program text of that row, must be what the row holds (IPython's transformations
    only remove a prefix: common indentation, ``%time``)."""
    try:
        status = os.stat(path)
    except OSError:
        return None
    cells = _cell_rows(path, status.st_mtime_ns, status.st_size)
    if cells is None or not 1 <= cell <= len(cells) or not 1 <= row <= len(cells[cell - 1]):
        return None
    line, text = cells[cell - 1][row - 1]
    if code is not None and not _normal(text).endswith(_normal(code)):
        return None
    return line


def _normal(text: str) -> str:
    return " ".join(text.split())


@lru_cache(maxsize=64)
def _cell_rows(path: str, mtime: int, size: int
               ) -> tuple[tuple[tuple[int, str], ...], ...] | None:
    """For each cell, the file line and the text of each of its source rows (``mtime``
    and ``size`` make a changed file a new entry)."""
    try:
        with open(path, encoding="utf-8-sig") as handle:
            text = handle.read()
        document = _Reader(text).document()
    except (OSError, UnicodeDecodeError, ValueError, _Malformed, RecursionError):
        return None
    if not isinstance(document, dict):
        return None
    cells = document.get("cells")
    if not isinstance(cells, list):
        return None
    found: list[tuple[tuple[int, str], ...]] = []
    for cell in cells:
        source = cell.get("source") if isinstance(cell, dict) else None
        found.append(_source_rows(source))
    return tuple(found)


def _source_rows(source: Any) -> tuple[tuple[int, str], ...]:
    """The file line and text of each row of a cell's ``source`` (strings carry their
    line; a row split over two strings is placed at its first)."""
    pieces = source if isinstance(source, list) else [source]
    rows: list[tuple[int, str]] = []
    starts_row = True
    for piece in pieces:
        if not isinstance(piece, _Located):
            return ()
        for text in re.split(r"(?<=\r\n)|(?<=\n)|(?<=\r)(?!\n)", piece.value):
            if not text:
                continue
            if starts_row:
                rows.append((piece.line, ""))
            line, before = rows[-1]
            rows[-1] = (line, before + text.rstrip("\r\n"))
            starts_row = text.endswith(("\n", "\r"))
    return tuple(rows)


@dataclass(frozen=True, slots=True)
class _Located:
    """A JSON string value with the file line where it starts."""

    value: str
    line: int


class _Reader:
    """A small JSON reader that keeps the line of every string (values only)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.index = 0
        # the line of ``counted_to``: lines are counted once, forward, as strings come
        self.counted_to = 0
        self.line = 1
        # the C scanner json itself uses (typeshed does not declare it)
        scanner = json.decoder.scanstring  # type: ignore[attr-defined]
        self.scan: Callable[[str, int, bool], tuple[str, int]] = scanner

    def document(self) -> Any:
        value = self.value()
        self._skip()
        if self.index != len(self.text):
            raise _Malformed
        return value

    def value(self) -> Any:
        self._skip()
        if self.index >= len(self.text):
            raise _Malformed
        char = self.text[self.index]
        if char == "{":
            return self._object()
        if char == "[":
            return self._array()
        if char == '"':
            self.line += self.text.count("\n", self.counted_to, self.index)
            self.counted_to = self.index
            return _Located(self._string(), self.line)
        match = _SCALAR.match(self.text, self.index)
        if match is None:
            raise _Malformed
        self.index = match.end()
        return json.loads(match.group())

    def _string(self) -> str:
        value, self.index = self.scan(self.text, self.index + 1, True)
        return value

    def _object(self) -> dict[str, Any]:
        self.index += 1
        result: dict[str, Any] = {}
        self._skip()
        if self._peek() == "}":
            self.index += 1
            return result
        while True:
            self._skip()
            if self._peek() != '"':
                raise _Malformed
            key = self._string()
            self._skip()
            self._expect(":")
            result[key] = self.value()
            self._skip()
            if self._peek() == ",":
                self.index += 1
                continue
            self._expect("}")
            return result

    def _array(self) -> list[Any]:
        self.index += 1
        result: list[Any] = []
        self._skip()
        if self._peek() == "]":
            self.index += 1
            return result
        while True:
            result.append(self.value())
            self._skip()
            if self._peek() == ",":
                self.index += 1
                continue
            self._expect("]")
            return result

    def _peek(self) -> str:
        return self.text[self.index:self.index + 1]

    def _expect(self, char: str) -> None:
        if self._peek() != char:
            raise _Malformed
        self.index += 1

    def _skip(self) -> None:
        match = _WHITESPACE.match(self.text, self.index)
        assert match is not None
        self.index = match.end()
