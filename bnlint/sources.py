"""Bytes -> Source: decoded program text, and for notebooks the map back to cells.

Python files are decoded as Python itself does (PEP 263 coding cookie, UTF-8 BOM).
Notebooks become one program: their code cells joined in order, with IPython magics,
shell escapes and help syntax masked line for line so that the rest still parses and
every program row maps back to its cell and row.
"""

from __future__ import annotations

import io
import json
import re
import tokenize
from collections.abc import Sequence
from typing import Literal, NamedTuple

from bnlint.source import CellLocation, Source

SourceKind = Literal["python", "notebook"]

_CODING = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)")
_NEWLINE = re.compile(r"\r\n|\r|\n")
# `x = !ls`, `a, b = %sx cmd`: IPython assigns the output of a magic or shell escape.
_MAGIC_ASSIGN = re.compile(r"(?P<indent>[ \t]*)(?P<target>[A-Za-z_][\w \t,.\[\]()*]*?)"
                           r"[ \t]*=[ \t]*[%!]")


class SourceError(Exception):
    """A file that cannot be turned into program text. The message is one user-facing
    line starting with the path."""


class _Lexical(NamedTuple):
    """Where a line ends lexically: open brackets, an open string's quote, a trailing
    backslash. A line starts a logical line only when all three are clear."""

    depth: int = 0
    quote: str = ""
    continued: bool = False

    @property
    def logical_start(self) -> bool:
        return self.depth == 0 and not self.quote and not self.continued


def kind_for(path: str) -> SourceKind:
    """The source kind a file name implies: ``.ipynb`` is a notebook, anything else Python."""
    return "notebook" if path.lower().endswith(".ipynb") else "python"


def read_source(path: str) -> Source:
    """Read and decode the file at ``path``; raise SourceError when that is impossible."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise SourceError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return source_from_text(path, data)


def source_from_text(path: str, data: str | bytes, kind: SourceKind | None = None) -> Source:
    """Build the Source of ``data`` (e.g. stdin) displayed as ``path``; the kind defaults
    to the one ``path``'s suffix implies. Raise SourceError when ``data`` is unusable."""
    kind = kind or kind_for(path)
    if kind == "notebook":
        text, cells = notebook_program(path, data)
        return Source(path, text, "notebook", cells)
    return Source(path, decode_python(path, data), "python")


def decode_python(path: str, data: str | bytes) -> str:
    """Decode Python source bytes per PEP 263 and strip a UTF-8 BOM."""
    if isinstance(data, str):
        return data.removeprefix("\ufeff")
    try:
        encoding, first_lines = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:
        raise SourceError(f"{path}: cannot decode: {exc.msg}") from None
    try:
        return data.decode(encoding)
    except (UnicodeError, LookupError) as exc:
        where = _decode_failure(data, exc)
        declared = _declared_coding(first_lines)
        how = f" (declared coding: {declared})" if declared else ""
        raise SourceError(f"{path}: cannot decode as {encoding}{how}{where}") from None


def _declared_coding(first_lines: Sequence[bytes]) -> str | None:
    """The coding cookie's name among the lines ``detect_encoding`` read, if any."""
    for line in first_lines:
        match = _CODING.match(line)
        if match:
            return match.group(1).decode("ascii", "replace")
    return None


def _decode_failure(data: bytes, exc: Exception) -> str:
    """': invalid byte 0xe9 on line 3' for a decoding error, '' when unknown."""
    if not isinstance(exc, UnicodeDecodeError) or exc.start >= len(data):
        return ""
    line = data.count(b"\n", 0, exc.start) + 1
    return f": invalid byte 0x{data[exc.start]:02x} on line {line}"


# --- notebooks -------------------------------------------------------------------------


def notebook_program(
    path: str, data: str | bytes
) -> tuple[str, tuple[CellLocation, ...]]:
    """The program of a notebook (code cells joined, magics masked) and, per program row,
    its cell (1-based among all cells) and row (1-based within the cell)."""
    rows: list[str] = []
    where: list[CellLocation] = []
    for number, cell_text in _code_cells(path, _load_notebook(path, data)):
        lines = split_lines(cell_text)
        rows.extend(mask_magics(lines))
        where.extend(CellLocation(number, row) for row in range(1, len(lines) + 1))
    return "".join(row + "\n" for row in rows), tuple(where)


def _load_notebook(path: str, data: str | bytes) -> object:
    """Parse the notebook's JSON (UTF-8, a BOM tolerated)."""
    text = data
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise SourceError(
                f"{path}: cannot decode as utf-8{_decode_failure(data, exc)}") from None
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        raise SourceError(f"{path}: not a valid notebook: {exc}") from None


def _code_cells(path: str, document: object) -> list[tuple[int, str]]:
    """(1-based index among all cells, source text) of each code cell, in order."""
    if not isinstance(document, dict):
        raise SourceError(f"{path}: not a valid notebook: top level is not an object")
    if not _is_python(document):
        return []
    code: list[tuple[int, str]] = []
    for number, cell in enumerate(_all_cells(path, document), start=1):
        if not isinstance(cell, dict):
            raise SourceError(f"{path}: not a valid notebook: cell {number} is not an object")
        if cell.get("cell_type") == "code":
            # nbformat 3 keeps a code cell's text in "input".
            raw = cell["source"] if "source" in cell else cell.get("input", "")
            code.append((number, _cell_text(path, number, raw)))
    return code


def _all_cells(path: str, document: dict[str, object]) -> list[object]:
    """Every cell in order: nbformat 4 ``cells``, or nbformat 3 ``worksheets[*].cells``."""
    cells = document.get("cells")
    if isinstance(cells, list):
        return cells
    worksheets = document.get("worksheets")
    if cells is not None or not isinstance(worksheets, list):
        raise SourceError(f"{path}: not a valid notebook: no list of cells")
    joined: list[object] = []
    for sheet in worksheets:
        sheet_cells = sheet.get("cells") if isinstance(sheet, dict) else None
        if not isinstance(sheet_cells, list):
            raise SourceError(f"{path}: not a valid notebook: a worksheet has no list of cells")
        joined.extend(sheet_cells)
    return joined


def _is_python(document: dict[str, object]) -> bool:
    """False only when the notebook's metadata names another language (an R kernel...)."""
    metadata = document.get("metadata")
    if not isinstance(metadata, dict):
        return True
    for section, key in (("language_info", "name"), ("kernelspec", "language")):
        value = metadata.get(section)
        language = value.get(key) if isinstance(value, dict) else None
        if isinstance(language, str) and language:
            return language.lower().startswith("python")
    return True


def _cell_text(path: str, number: int, raw: object) -> str:
    """A cell's source as one string (nbformat stores a string or a list of strings)."""
    if isinstance(raw, str):
        return raw
    if isinstance(raw, list) and all(isinstance(part, str) for part in raw):
        return "".join(raw)
    raise SourceError(
        f"{path}: not a valid notebook: cell {number} source is not a string or list of strings")


def split_lines(text: str) -> list[str]:
    """Split on the newlines Python's tokenizer knows (\\r\\n, \\r, \\n); a final newline
    ends the last line rather than starting an empty one."""
    if not text:
        return []
    lines = _NEWLINE.split(text)
    if lines[-1] == "":
        lines.pop()
    return lines


def mask_magics(lines: Sequence[str]) -> list[str]:
    """Mask IPython syntax in one cell's lines, keeping the line count.

    A ``%%`` cell magic masks the whole cell (its first line becomes ``pass``, the rest
    empty lines). At the start of a logical line, ``%magic``,
    ``!shell``, ``?help`` and ``help?`` become ``pass`` at the same indentation, and
    ``x = !cmd`` / ``x = %magic`` become ``x = None``; lines continued with a backslash
    are masked with them (as empty lines, which cannot upset indentation)."""
    magic_row = _cell_magic_row(lines)
    if magic_row is not None:
        return ["pass" if row == magic_row else "" for row in range(len(lines))]
    masked: list[str] = []
    state = _Lexical()
    continuing = False
    for line in lines:
        replacement = "" if continuing else None
        if replacement is None and state.logical_start:
            replacement = _masked_line(line, state)
        if replacement is not None:
            masked.append(replacement)
            continuing = line.endswith("\\")
            continue
        masked.append(line)
        state = _scan(line, state)[1]
    return masked


def _cell_magic_row(lines: Sequence[str]) -> int | None:
    """The index of the ``%%magic`` line when the cell is a cell magic: IPython makes it
    one when its first non-blank line starts with %%."""
    for index, line in enumerate(lines):
        if line.strip():
            return index if line.lstrip().startswith("%%") else None
    return None


def _masked_line(line: str, state: _Lexical) -> str | None:
    """The replacement for a logical line that is IPython syntax, else None."""
    stripped = line.lstrip()
    indent = line[: len(line) - len(stripped)]
    if not stripped or stripped.startswith("#"):
        return None
    if stripped[0] in "%!?":
        return indent + "pass"
    assignment = _MAGIC_ASSIGN.match(line)
    if assignment:
        return f"{indent}{assignment['target'].strip()} = None"
    code_end, after = _scan(line, state)
    if not after.quote and line[:code_end].rstrip().endswith("?"):
        return indent + "pass"
    return None


def _scan(line: str, state: _Lexical) -> tuple[int, _Lexical]:
    """Scan one line from ``state``: the index where its code ends (a comment starts)
    and the lexical state after it. Tolerant: never fails on broken code."""
    depth, quote = state.depth, state.quote
    index, end, length = 0, len(line), len(line)
    backslash_end = False
    while index < length:
        char = line[index]
        if quote:
            if char == "\\":
                backslash_end = index + 1 == length
                index += 2
            elif line.startswith(quote, index):
                index += len(quote)
                quote = ""
            else:
                index += 1
            continue
        if char == "#":
            end = index
            break
        if char in "\"'":
            quote = char * 3 if line.startswith(char * 3, index) else char
            index += len(quote)
            continue
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth = max(depth - 1, 0)
        elif char == "\\" and index + 1 == length:
            backslash_end = True
        index += 1
    if len(quote) == 1 and not backslash_end:
        quote = ""  # an unterminated one-line string ends with its line
    return end, _Lexical(depth, quote, backslash_end and not quote)
