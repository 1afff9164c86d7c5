"""Bytes -> Source: decoded program text, and for notebooks the map back to cells.

Python files are decoded as Python itself does (PEP 263 coding cookie, UTF-8 BOM).
Notebooks become one program: their code cells joined in order, each as IPython
transforms it before running it (``bnlint.ipython``: magics, shell escapes, help syntax
and automagics masked row for row, a cell's common indentation removed), so that every
program row maps back to its cell, row and column.
"""

from __future__ import annotations

import codecs
import io
import json
import os
import re
import stat
import tokenize
from collections.abc import Sequence
from typing import Literal

from bnlint.ipython import Session, transform_cell
from bnlint.source import CellLocation, Source

SourceKind = Literal["python", "notebook"]

_CODING = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)")
_NEWLINE = re.compile(r"\r\n|\r|\n")
# Undecodable bytes with a NUL among the first ones are a binary file, not a bad encoding.
_BINARY_SNIFF = 8192


class SourceError(Exception):
    """A file that cannot be turned into program text. The message is one user-facing
    line starting with the path."""


def kind_for(path: str) -> SourceKind:
    """The source kind a file name implies: ``.ipynb`` is a notebook, anything else Python."""
    return "notebook" if path.lower().endswith(".ipynb") else "python"


def read_source(path: str) -> Source:
    """Read and decode the file at ``path``; raise SourceError when that is impossible."""
    return source_from_text(path, read_file_bytes(path))


def read_file_bytes(path: str) -> bytes:
    """The bytes of the regular file at ``path``. A FIFO, a device or a socket is refused
    before it is opened (reading one would block or never end); raise SourceError."""
    try:
        mode = os.stat(path).st_mode
        if not stat.S_ISREG(mode):
            raise SourceError(f"{path}: cannot read: not a regular file")
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise SourceError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except ValueError as exc:  # an embedded NUL byte in the path
        raise SourceError(f"{path}: cannot read: {exc}") from None


def source_from_text(path: str, data: str | bytes, kind: SourceKind | None = None) -> Source:
    """Build the Source of ``data`` (e.g. stdin) displayed as ``path``; the kind defaults
    to the one ``path``'s suffix implies. Raise SourceError when ``data`` is unusable."""
    kind = kind or kind_for(path)
    if kind == "notebook":
        return notebook_source(path, data)
    return Source(path, decode_python(path, data), "python")


def decode_python(path: str, data: str | bytes) -> str:
    """Decode Python source bytes per PEP 263 and strip a UTF-8 BOM."""
    if isinstance(data, str):
        return data.removeprefix("\ufeff")
    wide = _wide_encoding(data)
    if wide is not None:
        raise SourceError(f"{path}: cannot decode: {wide} text (byte order mark); Python "
                          "source must be UTF-8 or declare an ASCII-compatible coding")
    try:
        encoding, first_lines = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:
        raise SourceError(f"{path}: cannot decode: {exc.msg}") from None
    try:
        return data.decode(encoding)
    except (UnicodeError, LookupError) as exc:
        if b"\0" in data[:_BINARY_SNIFF]:
            raise SourceError(f"{path}: cannot decode: binary data (NUL bytes), not Python "
                              "source") from None
        where = _decode_failure(data, exc)
        declared = _declared_coding(first_lines)
        how = f" (declared coding: {declared})" if declared else ""
        raise SourceError(f"{path}: cannot decode as {encoding}{how}{where}") from None


def _wide_encoding(data: bytes) -> str | None:
    """'UTF-16' or 'UTF-32' when ``data`` starts with that encoding's byte order mark."""
    if data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "UTF-32"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "UTF-16"
    return None


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


def notebook_source(path: str, data: str | bytes) -> Source:
    """The Source of a notebook: its code cells joined in order, each as IPython
    transforms it before running it, with the map from program rows to cells."""
    document = _load_notebook(path, data)
    code_cells = _code_cells(path, document)
    text, cells = _program(code_cells)
    legacy = any(_LEGACY_KERAS_MAGIC.search(cell_text) for _, cell_text in code_cells)
    return Source(path, text, "notebook", cells, python2=_is_python2(document),
                  legacy_keras_env=legacy)


# `%env TF_USE_LEGACY_KERAS=1`, `%set_env TF_USE_LEGACY_KERAS 1` (IPython's env magics)
_LEGACY_KERAS_MAGIC = re.compile(
    r"^[ \t]*%(?:env|set_env)[ \t]+TF_USE_LEGACY_KERAS(?:[ \t]*=[ \t]*|[ \t]+)"
    r"([\"']?)(?:1|True|true)\1[ \t]*$", re.MULTILINE)


def _program(code_cells: Sequence[tuple[int, str]]) -> tuple[str, tuple[CellLocation, ...]]:
    """The transformed cells joined, and per program row its cell, row and shift."""
    rows: list[str] = []
    where: list[CellLocation] = []
    session = Session()
    for number, cell_text in code_cells:
        transformed = transform_cell(split_lines(cell_text), session.binds)
        session.ran(transformed)
        rows.extend(row.text for row in transformed)
        where.extend(CellLocation(number, index, row.shift)
                     for index, row in enumerate(transformed, start=1))
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


def _is_python2(document: object) -> bool:
    """Does the notebook's metadata name a Python 2 kernel?"""
    metadata = document.get("metadata") if isinstance(document, dict) else None
    if not isinstance(metadata, dict):
        return False
    kernel = metadata.get("kernelspec")
    if isinstance(kernel, dict) and kernel.get("name") == "python2":
        return True
    info = metadata.get("language_info")
    version = info.get("version") if isinstance(info, dict) else None
    return isinstance(version, str) and version.startswith("2.")


def _cell_text(path: str, number: int, raw: object) -> str:
    """A cell's source as one string (nbformat stores a string or a list of strings)."""
    if isinstance(raw, str):
        text = raw
    elif isinstance(raw, list) and all(isinstance(part, str) for part in raw):
        text = "".join(raw)
    else:
        raise SourceError(f"{path}: not a valid notebook: cell {number} source is not a "
                          "string or list of strings")
    # JSON can spell a lone surrogate (\ud800), which no parser, printer or encoder takes:
    # such a cell is not text, as an undecodable byte makes a .py file not text.
    surrogate = _LONE_SURROGATE.search(text)
    if surrogate is not None:
        raise SourceError(f"{path}: not a valid notebook: cell {number} source holds a lone "
                          f"surrogate {surrogate.group()!r}, which is not Unicode text")
    return text


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")  # json.loads joins the valid pairs


def split_lines(text: str) -> list[str]:
    """Split on the newlines Python's tokenizer knows (\\r\\n, \\r, \\n); a final newline
    ends the last line rather than starting an empty one."""
    if not text:
        return []
    lines = _NEWLINE.split(text)
    if lines[-1] == "":
        lines.pop()
    return lines
