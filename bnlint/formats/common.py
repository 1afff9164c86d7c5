"""What the formats share: each finding located in the user's coordinates, with its
fingerprint and its related locations, and paths shown the same way everywhere."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import TYPE_CHECKING

from bnlint.fingerprint import fingerprints, program_rows
from bnlint.report import sorted_findings

if TYPE_CHECKING:
    from bnlint.engine import FileResult
    from bnlint.finding import Finding, Position, Span
    from bnlint.source import Source


@dataclass(frozen=True, slots=True)
class Place:
    """A location as the user sees it: path, notebook cell (None for .py), 1-based row
    and column (code points) of the start, and just past the end; ``code`` is the program
    text of the start's row when the Source is at hand."""

    path: str
    cell: int | None
    row: int
    column: int
    end_row: int
    end_column: int
    code: str | None = None

    def text(self) -> str:
        """``path:row:col`` or ``path:cell N:row:col``."""
        if self.cell is None:
            return f"{self.path}:{self.row}:{self.column}"
        return f"{self.path}:cell {self.cell}:{self.row}:{self.column}"


@dataclass(frozen=True, slots=True)
class Note:
    """A related location and what happens there."""

    message: str
    place: Place
    span: Span
    source: Source | None  # the finding's Source when the note is in the same file


@dataclass(frozen=True, slots=True)
class Entry:
    """One finding of the report with everything a format needs."""

    result: FileResult
    finding: Finding
    place: Place
    notes: tuple[Note, ...]
    fingerprint: str


def entries(results: Sequence[FileResult]) -> list[Entry]:
    """Every finding of the run in report order."""
    pairs = sorted_findings(results)
    found: list[Entry] = []
    for _, group in groupby(pairs, key=lambda pair: id(pair[0])):
        items = list(group)
        result = items[0][0]
        prints = fingerprints(result.path, result.source, [finding for _, finding in items])
        source = result.source
        rows = program_rows(source) if source is not None else None
        for (_, finding), fingerprint in zip(items, prints):
            notes = tuple(
                Note(related.message,
                     place_of(related.path or result.path,
                              source if related.path is None else None, related.span,
                              rows if related.path is None else None),
                     related.span,
                     source if related.path is None else None)
                for related in finding.related
            )
            found.append(Entry(result, finding, place_of(result.path, source,
                                                          finding.span, rows),
                               notes, fingerprint))
    return found


def place_of(path: str, source: Source | None, span: Span,
             rows: Sequence[str] | None = None) -> Place:
    """``span`` of ``source`` in the user's coordinates (program coordinates when the
    Source is not at hand, as for a note in another module); ``rows``, the program's
    rows, give the start row's text."""
    cell, row, column = _locate(source, span.start)
    _, end_row, end_column = _locate(source, span.end)
    code = None
    if rows is not None and 1 <= span.start.row <= len(rows):
        code = rows[span.start.row - 1]
    return Place(path, cell, row, column, end_row, end_column, code)


def _locate(source: Source | None, where: Position) -> tuple[int | None, int, int]:
    if source is None:
        return None, where.row, where.column
    return source.position(where.row, where.column)


def posix_path(path: str) -> str:
    """A displayed path with ``/`` separators."""
    return path.replace(os.sep, "/") if os.sep != "/" else path


def relative_to_cwd(path: str) -> str | None:
    """``path`` relative to the working directory with ``/`` separators, or None when it
    lies outside it."""
    absolute = os.path.abspath(path)
    cwd = os.getcwd()
    try:
        relative = os.path.relpath(absolute, cwd)
    except ValueError:  # another drive
        return None
    if relative == os.pardir or relative.startswith(os.pardir + os.sep):
        return None
    return posix_path(relative)
