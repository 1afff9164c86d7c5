"""A file's bytes after edits of its program text, with everything else kept.

A ``.py`` file keeps its encoding, byte order mark and line endings (an edit's line
breaks are written as the file writes its own); its final newline changes only if an
edit touches it. In a notebook each edit is carried into the cell its rows come from,
and only the changed strings of that cell's ``source`` are replaced in the JSON text:
outputs, metadata, cell ids and the JSON's formatting stay byte for byte. An edit that
touches a row IPython's input transformations changed (a magic, a ``!`` command) is
refused, as is one spanning two cells.
"""

from __future__ import annotations

import copy
import difflib
import io
import itertools
import json
import re
import tokenize
from collections.abc import Sequence
from typing import Any

from bnlint.finding import Edit, Position, Span
from bnlint.fix import EditError, apply_edits
from bnlint.source import Source

_BOM = b"\xef\xbb\xbf"
_ROW_END = re.compile(r"\r\n|\r|\n")
_ROW = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


class RewriteError(Exception):
    """Edits that cannot be written into the file; one line, starting with its path."""


def rewritten(path: str, data: bytes, source: Source, edits: Sequence[Edit]) -> bytes:
    """``data`` (the file ``source`` was read from) with ``edits`` of the program text
    applied; raise RewriteError when they cannot be carried into the file."""
    try:
        if source.kind == "notebook":
            return _rewritten_notebook(path, data, source, edits)
        return _rewritten_python(path, data, source, edits)
    except EditError as problem:
        raise RewriteError(f"{path}: {problem}") from None


def _rewritten_python(path: str, data: bytes, source: Source, edits: Sequence[Edit]) -> bytes:
    bom = data.startswith(_BOM)
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as problem:
        raise RewriteError(f"{path}: cannot decode: {problem.msg}") from None
    codec = "utf-8" if encoding == "utf-8-sig" else encoding
    raw = data[len(_BOM):] if bom else data
    if source.text.encode(codec, "surrogateescape") != raw:
        raise RewriteError(f"{path}: its encoding does not round-trip; not edited")
    text = apply_edits(source.text, edits)
    try:
        encoded = text.encode(codec)
    except UnicodeEncodeError:
        raise RewriteError(f"{path}: the fixed text cannot be written in {encoding}; "
                           "not edited") from None
    return (_BOM if bom else b"") + encoded


def _rewritten_notebook(path: str, data: bytes, source: Source,
                        edits: Sequence[Edit]) -> bytes:
    bom = data.startswith(_BOM)
    text = data.decode("utf-8-sig")
    document = json.loads(text)
    cells = cell_list(document)
    per_cell: dict[int, list[Edit]] = {}
    for edit in edits:
        index, cell_edit = _cell_edit(path, source, cells, edit)
        per_cell.setdefault(index, []).append(cell_edit)
    expected = copy.deepcopy(document)
    for index, cell_edits in sorted(per_cell.items()):
        cell = cell_list(expected)[index]
        key = "source" if "source" in cell else "input"
        raw = cell[key]
        new_text = apply_edits(_joined(raw), cell_edits)
        # one string per row, as Jupyter stores a cell
        new_raw: str | list[str] = _ROW.findall(new_text) if isinstance(raw, list) else new_text
        text = _spliced(path, text, expected, index, key, raw, new_raw)
    return (_BOM if bom else b"") + text.encode("utf-8")


def cell_list(document: object) -> list[dict[str, Any]]:
    """The cells of a notebook document (nbformat 4, or the worksheets of 3)."""
    if not isinstance(document, dict):
        return []
    cells = document.get("cells")
    if isinstance(cells, list):
        return cells
    joined: list[dict[str, Any]] = []
    for sheet in document.get("worksheets") or []:
        joined.extend(sheet.get("cells") or [])
    return joined


def _joined(raw: object) -> str:
    return "".join(raw) if isinstance(raw, list) else str(raw)


def _cell_edit(path: str, source: Source, cells: list[dict[str, Any]],
               edit: Edit) -> tuple[int, Edit]:
    """(0-based cell index, the edit in the cell's own rows and columns)."""
    first, last = edit.span.start.row, edit.span.end.row
    if not (1 <= first <= last <= len(source.cells)):
        raise RewriteError(f"{path}: a fix lies outside the notebook's cells; not edited")
    where, end = source.cells[first - 1], source.cells[last - 1]
    if where.cell != end.cell:
        raise RewriteError(f"{path}: a fix spans two cells; not edited")
    cell = cells[where.cell - 1]
    cell_rows = _ROW_END.split(_joined(cell.get("source", cell.get("input", ""))))
    program_rows = _ROW_END.split(source.text)
    for row in range(first, last + 1):
        location = source.cells[row - 1]
        if not (location.row <= len(cell_rows) and location.shift == where.shift
                and cell_rows[location.row - 1][location.shift:] == program_rows[row - 1]):
            raise RewriteError(f"{path}:cell {where.cell}: a fix touches a line IPython "
                               "transforms; not edited")
    content = edit.content
    if where.shift and "\n" in content:
        margin = cell_rows[where.row - 1][:where.shift]
        if margin.strip():
            raise RewriteError(f"{path}:cell {where.cell}: a fix adds lines after a magic; "
                               "not edited")
        content = content.replace("\n", "\n" + margin)
    span = Span(Position(where.row, edit.span.start.column + where.shift),
                Position(end.row, edit.span.end.column + end.shift))
    return where.cell - 1, Edit(span, content)


def _spliced(path: str, text: str, expected: object, index: int, key: str,
             raw: str | list[str], new_raw: str | list[str]) -> str:
    """The notebook's JSON ``text`` with cell ``index``'s source changed from ``raw``
    to ``new_raw`` by replacing only the changed strings where they stand; ``expected``
    (the document as parsed so far) is updated to match."""
    cell = cell_list(expected)[index]
    if isinstance(raw, str) or isinstance(new_raw, str):
        cell[key] = new_raw
        return _placed(path, text, [str(raw)], [str(new_raw)], expected)
    runs = _changed_runs(raw, new_raw)
    current = list(raw)
    # from the last run back, so the earlier runs' indices stay valid
    for start, stop, replacement in reversed(runs):
        old_run = current[start:stop]
        current[start:stop] = replacement
        cell[key] = list(current)
        text = _placed(path, text, old_run, replacement, expected)
    return text


def _changed_runs(old: list[str], new: list[str]) -> list[tuple[int, int, list[str]]]:
    """Each change of ``old`` into ``new`` as (start, stop, replacement) with at least
    one old string (an insertion or deletion takes a neighbour along)."""
    runs: list[tuple[int, int, list[str]]] = []
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        if i1 == i2 or j1 == j2:  # an insertion or a deletion: anchor on a neighbour
            if i1 > 0:
                runs.append((i1 - 1, i2, [old[i1 - 1], *new[j1:j2]]))
            elif i2 < len(old):
                runs.append((i1, i2 + 1, [*new[j1:j2], old[i2]]))
            else:
                runs.append((i1, i2, new[j1:j2]))
            continue
        runs.append((i1, i2, new[j1:j2]))
    return _merged(runs)


def _merged(runs: list[tuple[int, int, list[str]]]) -> list[tuple[int, int, list[str]]]:
    """Runs that overlap (two changes anchored on one string) would be placed twice:
    such runs make a file this module leaves alone."""
    for (_, stop, _), (start, _, _) in itertools.pairwise(runs):
        if start < stop:
            raise EditError("changes of one cell overlap in its source strings")
    return runs


def _placed(path: str, text: str, old_run: Sequence[str], new_run: Sequence[str],
            expected: object) -> str:
    """``text`` with the JSON strings of ``old_run`` (consecutive elements of an array,
    or one string) replaced by those of ``new_run``, at the one place that gives the
    ``expected`` document."""
    for ensure_ascii in (False, True):
        literals = [json.dumps(item, ensure_ascii=ensure_ascii) for item in old_run]
        pattern = re.compile(r"\s*,\s*".join(re.escape(literal) for literal in literals))
        for match in pattern.finditer(text):
            separator = _separator(text, match, len(literals[0]), len(literals) > 1)
            replacement = separator.join(json.dumps(item, ensure_ascii=ensure_ascii)
                                         for item in new_run)
            candidate = text[:match.start()] + replacement + text[match.end():]
            try:
                if json.loads(candidate) == expected:
                    return candidate
            except ValueError:
                continue
    raise RewriteError(f"{path}: cannot place the fix in the notebook's JSON; not edited")


def _separator(text: str, match: re.Match[str], first: int, several: bool) -> str:
    """How the array separates its strings: as between the first two matched ones
    (``first`` is the length of the first), else a comma, a line break and the
    indentation of the first string's row."""
    if several:
        between = re.match(r"\s*,\s*", text[match.start() + first:])
        if between is not None:
            return between.group()
    row_start = text.rfind("\n", 0, match.start()) + 1
    indent = text[row_start:match.start()]
    return ",\n" + indent if not indent.strip() else ", "
