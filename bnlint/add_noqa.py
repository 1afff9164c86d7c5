"""``--add-noqa``: silence today's findings with ``# noqa: CODE`` comments, as ruff does.

Each finding gets its code in a ``# noqa:`` comment at the end of the row it starts on
(the row ``bnlint.suppress`` matches). An existing ``# noqa: A, B`` list on that row
takes the code (never twice); otherwise the comment is appended after two spaces.

A file is rewritten only when every edit is known to be honoured and harmless: the row
must end outside a string and not in a line continuation, the new text must compile
wherever the old text did, and reading it again must show each finding silenced (else
that finding is left alone, with a warning). The file keeps its encoding, byte order
mark, line endings and final newline, and is replaced atomically (a temporary file
renamed over it, its mode kept), and only when it has not changed since it was linted.
In a notebook only the edited lines of the cells' ``source`` change: outputs, metadata
and cell ids stay byte for byte, as does the JSON's formatting.
"""

from __future__ import annotations

import ast
import io
import json
import re
import tokenize
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bnlint.atomic_write import WriteError, replace_if_unchanged
from bnlint.rewrite import cell_list
from bnlint.sources import SourceError, read_file_bytes, source_from_text
from bnlint.suppress import parse_suppressions

if TYPE_CHECKING:
    from bnlint.engine import FileResult
    from bnlint.finding import Finding
    from bnlint.source import Source

# a noqa comment's list of codes (read as bnlint.suppress reads it)
_NOQA_LIST = re.compile(
    r"#\s*noqa\s*:(?P<pad>[ \t]*)(?P<codes>[A-Za-z]+[0-9]+(?:[ \t]*,?[ \t]*[A-Za-z]+[0-9]+)*)?",
    re.IGNORECASE,
)
_ROW_END = re.compile(r"\r\n|\r|\n")
_SYNTAX_ERROR = "BN000"


@dataclass(frozen=True, slots=True)
class Added:
    """What --add-noqa did: directives added, and whether anything went wrong."""

    count: int
    failed: bool


Report = Callable[[str], None]


def add_noqa(results: Sequence[FileResult], warn: Report, error: Report) -> Added:
    """Add a noqa directive for every finding of ``results``; ``warn`` reports a finding
    left alone, ``error`` a file that could not be rewritten."""
    count = 0
    failed = False
    for result in results:
        if not result.findings or result.source is None:
            continue
        try:
            count += _add_to_file(result.path, result.source, result.findings, warn)
        except _FileProblem as problem:
            error(str(problem))
            failed = True
    return Added(count, failed)


class _FileProblem(Exception):
    pass


def _add_to_file(path: str, source: Source, findings: Sequence[Finding], warn: Report) -> int:
    try:
        data = read_file_bytes(path)
        current = source_from_text(path, data, source.kind)
    except SourceError as problem:
        raise _FileProblem(str(problem)) from None
    if current.text != source.text:
        raise _FileProblem(f"{path}: changed since it was linted; not edited")
    wanted: dict[int, list[Finding]] = {}
    for finding in findings:
        if finding.code == _SYNTAX_ERROR:
            warn(f"{_where(source, finding)}: {finding.code} (a syntax error) cannot be "
                 "silenced; no noqa added")
            continue
        wanted.setdefault(finding.span.start.row, []).append(finding)
    writable = _commentable_rows(source)
    for row in list(wanted):
        if row not in writable:
            for finding in wanted.pop(row):
                warn(f"{_where(source, finding)}: the line of this {finding.code} finding "
                     "ends inside a string or continues on the next line; no noqa added")
    while wanted:
        new_data, added = _edited(path, data, source, wanted)
        failing = _failing_rows(path, source, new_data, wanted)
        if not failing:
            if added:
                _replace(path, data, new_data)
            return added
        for row in failing:
            for finding in wanted.pop(row):
                warn(f"{_where(source, finding)}: a noqa for this {finding.code} finding "
                     "would change the program or not be honoured; no noqa added")
    return 0


def _where(source: Source, finding: Finding) -> str:
    cell, row, column = source.position(finding.span.start.row, finding.span.start.column)
    if cell is None:
        return f"{source.path}:{row}:{column}"
    return f"{source.path}:cell {cell}:{row}:{column}"


def _chunks(source: Source) -> Iterable[tuple[int, str]]:
    """Each unit of the program (a code cell, or the whole file) as (rows before it,
    its text), so that a cell that does not tokenize spoils only itself."""
    rows = _ROW_END.split(source.text)
    for start, stop in _units(source):
        yield start, "".join(row + "\n" for row in rows[start:stop])


def _tokens(source: Source) -> Iterable[tuple[int, tokenize.TokenInfo]]:
    """Every token of the program with the row offset of its unit; a unit tokenize
    cannot follow yields none."""
    for offset, text in _chunks(source):
        try:
            found = list(tokenize.generate_tokens(io.StringIO(text).readline))
        except (tokenize.TokenError, SyntaxError, ValueError):
            continue
        for token in found:
            yield offset, token


def _commentable_rows(source: Source) -> set[int]:
    """The program rows whose end is outside any string and not a line continuation:
    where a comment can be appended without changing the program."""
    rows = _ROW_END.split(source.text)
    seen: set[int] = set()
    inside: set[int] = set()
    for offset, token in _tokens(source):
        seen.add(offset + token.start[0])
        if token.type in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT):
            continue
        inside.update(range(offset + token.start[0], offset + token.end[0]))
    return {
        index for index, row in enumerate(rows, start=1)
        if index in seen and index not in inside and not row.rstrip(" \t\f").endswith("\\")
    }


def _comment_columns(source: Source) -> dict[int, int]:
    """The column of each program row's comment."""
    return {offset + token.start[0]: token.start[1] for offset, token in _tokens(source)
            if token.type == tokenize.COMMENT}


def with_noqa(line: str, comment: int | None, codes: Iterable[str]) -> tuple[str, int]:
    """``line`` (without its line ending) with ``codes`` in a ``# noqa:`` comment; its
    comment starts at column ``comment`` (None: no comment). Return the new line and
    how many codes were added (codes already listed are not repeated)."""
    if comment is not None:
        match = _NOQA_LIST.search(line, comment)
        if match is not None:
            listed = re.split(r"[,\s]+", match.group("codes") or "")
            present = {code.upper() for code in listed if code}
            added = [code for code in dict.fromkeys(codes) if code not in present]
            if not added:
                return line, 0
            if match.group("codes"):
                end = match.end("codes")
                return line[:end] + "".join(f", {code}" for code in added) + line[end:], len(
                    added)
            end = match.end()
            return line[:end] + " " + ", ".join(added) + line[end:], len(added)
    added = list(dict.fromkeys(codes))
    body = line.rstrip(" \t")
    return f"{body}  # noqa: {', '.join(added)}{line[len(body):]}", len(added)


def _edited(
    path: str, data: bytes, source: Source, wanted: dict[int, list[Finding]]
) -> tuple[bytes, int]:
    if source.kind == "notebook":
        return _edited_notebook(path, data, source, wanted)
    return _edited_python(path, data, source, wanted)


def _edited_python(
    path: str, data: bytes, source: Source, wanted: dict[int, list[Finding]]
) -> tuple[bytes, int]:
    text = source.text
    bom = data.startswith(b"\xef\xbb\xbf")
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as problem:
        raise _FileProblem(f"{path}: cannot decode: {problem.msg}") from None
    codec = "utf-8" if encoding == "utf-8-sig" else encoding
    raw = data[3:] if bom else data
    if text.encode(codec) != raw:
        raise _FileProblem(f"{path}: its encoding does not round-trip; not edited")
    pieces = _ROW_END.split(text)
    endings = _ROW_END.findall(text)
    comments = _comment_columns(source)
    added = 0
    for row, findings in wanted.items():
        if 1 <= row <= len(pieces):
            line, count = with_noqa(pieces[row - 1], comments.get(row),
                                    sorted(f.code for f in findings))
            pieces[row - 1] = line
            added += count
    new_text = "".join(piece + ending for piece, ending in zip(pieces, [*endings, ""]))
    return (b"\xef\xbb\xbf" if bom else b"") + new_text.encode(codec), added


def _edited_notebook(
    path: str, data: bytes, source: Source, wanted: dict[int, list[Finding]]
) -> tuple[bytes, int]:
    text = data.decode("utf-8-sig")
    bom = data.startswith(b"\xef\xbb\xbf")
    document = json.loads(text)
    cells = cell_list(document)
    comments = _comment_columns(source)
    program_rows = _ROW_END.split(source.text)
    # (cell index, element index) -> (old string, new string)
    changed: dict[tuple[int, int | None], tuple[str, str]] = {}
    added = 0
    for row, findings in sorted(wanted.items()):
        where = source.cells[row - 1] if 1 <= row <= len(source.cells) else None
        if where is None:
            continue
        cell = cells[where.cell - 1]
        key = "source" if "source" in cell else "input"
        raw = cell[key]
        elements = raw if isinstance(raw, list) else [raw]
        located = _locate_row(elements, where.row)
        if located is None:
            continue
        index, start, stop = located
        element = str(elements[index])
        line = element[start:stop]
        comment = comments.get(row)
        column = comment + where.shift if comment is not None else None
        program_line = program_rows[row - 1]
        if column is not None and line[column:] != program_line[comment:]:
            continue  # the cell's row is not the program's row: leave it
        new_line, count = with_noqa(line, column, sorted(f.code for f in findings))
        if not count:
            continue
        new_element = element[:start] + new_line + element[stop:]
        slot = (where.cell - 1, index if isinstance(raw, list) else None)
        changed[slot] = (changed.get(slot, (element, ""))[0], new_element)
        if isinstance(raw, list):
            raw[index] = new_element
        else:
            cell[key] = new_element
        added += count
    if not changed:
        return data, 0
    new_text = _splice(text, changed) or _reserialised(path, text, document)
    return (b"\xef\xbb\xbf" if bom else b"") + new_text.encode("utf-8"), added


def _locate_row(elements: Sequence[object], row: int) -> tuple[int, int, int] | None:
    """(element index, start, stop) of the text of the cell's ``row`` (1-based) among
    the ``source`` strings, without its line ending."""
    current = 1
    for index, element in enumerate(elements):
        if not isinstance(element, str):
            return None
        offset = 0
        for match in _ROW_END.finditer(element):
            if current == row:
                return index, offset, match.start()
            current += 1
            offset = match.end()
        if offset < len(element):
            if current == row:
                return index, offset, len(element)
            if index + 1 < len(elements):
                return None  # a row split across two strings: leave it
    return None


def _splice(
    text: str, changed: dict[tuple[int, int | None], tuple[str, str]]
) -> str | None:
    """The notebook's text with each changed string replaced where it stands, so that
    the rest of the file keeps its bytes; None when a string cannot be placed."""
    expected = json.loads(text)
    cells = cell_list(expected)
    new_text = text
    for (cell, index), (old, new) in changed.items():
        key = "source" if "source" in cells[cell] else "input"
        if index is None:
            cells[cell][key] = new
        else:
            cells[cell][key][index] = new
        placed = _place(new_text, old, new, expected)
        if placed is None:
            return None
        new_text = placed
    return new_text


def _place(text: str, old: str, new: str, expected: object) -> str | None:
    """``text`` with the one occurrence of the JSON string ``old`` whose replacement by
    ``new`` gives the ``expected`` document."""
    for ensure_ascii in (False, True):
        literal = json.dumps(old, ensure_ascii=ensure_ascii)
        replacement = json.dumps(new, ensure_ascii=ensure_ascii)
        start = text.find(literal)
        tries = 0
        while start >= 0 and tries < 200:
            candidate = text[:start] + replacement + text[start + len(literal):]
            try:
                if json.loads(candidate) == expected:
                    return candidate
            except ValueError:
                pass
            start = text.find(literal, start + 1)
            tries += 1
    return None


def _reserialised(path: str, text: str, document: object) -> str:
    """The notebook written as Jupyter writes it (indent 1, keys sorted, non-ASCII kept)."""
    new_text = json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False,
                          separators=(",", ": "))
    if text.endswith("\n"):
        new_text += "\n"
    if json.loads(new_text) != document:
        raise _FileProblem(f"{path}: the notebook does not survive rewriting; not edited")
    return new_text


def _failing_rows(
    path: str, source: Source, new_data: bytes, wanted: dict[int, list[Finding]]
) -> set[int]:
    """The rows whose edit is not honoured, or whose cell (the file, for .py) no longer
    compiles; every row when the new text cannot be read or has other rows."""
    try:
        new = source_from_text(path, new_data, source.kind)
    except SourceError:
        return set(wanted)
    return _unhonoured_rows(source, new.text, wanted)


def _unhonoured_rows(source: Source, new_text: str, wanted: dict[int, list[Finding]]) -> set[int]:
    """The rows of ``wanted`` whose findings the program ``new_text`` does not silence, or
    whose cell (the file, for .py) compiled before and no longer does; every row when
    the new program has other rows."""
    old_rows = _ROW_END.split(source.text)
    new_rows = _ROW_END.split(new_text)
    if len(old_rows) != len(new_rows):
        return set(wanted)
    suppressions = parse_suppressions(new_text)
    failing = {
        row for row, findings in wanted.items()
        if not all(suppressions.is_suppressed(f.code, f.name, row) for f in findings)
    }
    for start, stop in _units(source):
        rows = [row for row in wanted if start < row <= stop]
        if rows and _compiles(old_rows[start:stop]) and not _compiles(new_rows[start:stop]):
            failing.update(rows)
    return failing


def noqa_line(source: Source, row: int, findings: Sequence[Finding]) -> str | None:
    """The text of program row ``row`` (1-based, without its line ending) of a Python
    ``source`` with the codes of ``findings`` added to its ``# noqa:`` comment, under the
    same checks as --add-noqa: the row must end outside a string and a continuation, and
    the edited program must silence every one of ``findings`` and still compile. None
    when one of them fails, when every code is listed already, or for a notebook (whose
    program rows are not the file's lines)."""
    codes = sorted({finding.code for finding in findings if finding.code != _SYNTAX_ERROR})
    rows = _ROW_END.split(source.text)
    if source.kind != "python" or not codes or not 1 <= row <= len(rows):
        return None
    if row not in _commentable_rows(source):
        return None
    line, added = with_noqa(rows[row - 1], _comment_columns(source).get(row), codes)
    if not added:
        return None
    new_text = "".join(
        (line if index == row - 1 else text) + ending
        for index, (text, ending) in enumerate(
            zip(rows, [*_ROW_END.findall(source.text), ""])))
    wanted = {row: [finding for finding in findings if finding.code in codes]}
    return None if _unhonoured_rows(source, new_text, wanted) else line


def _units(source: Source) -> list[tuple[int, int]]:
    """The ranges of program rows compiled as one: each code cell, or the whole file."""
    if source.kind == "notebook":
        return source.cell_rows()
    return [(0, len(_ROW_END.split(source.text)))]


def _compiles(rows: Sequence[str]) -> bool:
    try:
        compile("\n".join(rows) + "\n", "<bnlint>", "exec", dont_inherit=True,
                flags=ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return False
    return True


def _replace(path: str, old: bytes, new: bytes) -> None:
    """Write ``new`` over ``path`` atomically, if it still holds ``old``."""
    try:
        replace_if_unchanged(path, old, new)
    except WriteError as problem:
        raise _FileProblem(str(problem)) from None
