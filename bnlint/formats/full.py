"""The full format (ruff's default look): each finding's header line, a frame of the
source around it with the span underlined, then each related location with a frame of
its own line, and the summary line.

    path:61:1: BN201 warning: unfreezing `base` puts its BatchNormalization layers ...
       |
    59 | model.fit(x, y)
    60 |
    61 | base.trainable = True
       | ^^^^^^^^^^^^^^^^^^^^^
    62 | model.compile(optimizer="adam", loss="mse")
       |
       = note: path:40:8: `base` is created here with pretrained weights ...
       |
    40 | base = keras.applications.ResNet50(weights="imagenet", include_top=False)
       |        ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
       |

In a notebook the frame stays inside the finding's cell and its rows are numbered as in
the cell. Colour (ANSI) is the caller's choice (``bnlint.cli`` asks for it when stdout is
a terminal and ``NO_COLOR`` is not set).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bnlint.fingerprint import program_rows
from bnlint.formats.common import Entry, entries
from bnlint.probe.result import probe_text
from bnlint.report import FixSummary, fix_marker, fixable_lines, summary_line

if TYPE_CHECKING:
    from bnlint.engine import FileResult
    from bnlint.finding import Span
    from bnlint.source import Source

CONTEXT_ROWS = 2  # rows shown before and after the primary span
SPAN_ROWS = 4  # a longer span shows its first rows, an ellipsis and its last row
TAB = "    "
_RESET = "\x1b[0m"
_STYLES = {"error": "\x1b[1;31m", "warning": "\x1b[1;33m", "info": "\x1b[1;36m",
           "gutter": "\x1b[1;34m", "path": "\x1b[1m", "code": "\x1b[1m"}


@dataclass(frozen=True, slots=True)
class _Row:
    number: int | None  # None: an ellipsis row
    text: str
    underline: tuple[int, int] | None  # display columns [start, end) to underline


class _Painter:
    def __init__(self, color: bool) -> None:
        self.color = color

    def __call__(self, style: str, text: str) -> str:
        if not self.color or not text:
            return text
        return f"{_STYLES[style]}{text}{_RESET}"


def render_full(
    results: Sequence[FileResult], *, color: bool = False, other_errors: int = 0,
    fixes: FixSummary | None = None,
) -> str:
    """The full report; ``other_errors`` counts errors outside ``results`` (for the
    summary line); ``fixes`` says what the summary tells of fixes (as ruff: ``[*]``
    after the code of what ``--fix`` would fix, and a ``help:`` line naming the fix)."""
    fixes = fixes or FixSummary()
    paint = _Painter(color)
    texts = _Texts()
    found = entries(results)
    blocks = [_block(entry, paint, texts, fixes.unsafe) for entry in found]
    errors = other_errors + sum(len(result.errors) for result in results)
    findings = [entry.finding for entry in found]
    summary = [summary_line(findings, errors, fixes.fixed), *fixable_lines(findings, fixes)]
    return "".join(block + "\n" for block in blocks) + "".join(line + "\n" for line in summary)


def _block(entry: Entry, paint: _Painter, texts: _Texts, unsafe: bool = False) -> str:
    finding, severity = entry.finding, entry.finding.severity
    frames: list[tuple[str | None, list[_Row]]] = [
        (None, _frame(entry.result.source, texts, finding.span, CONTEXT_ROWS))
    ]
    for note in entry.notes:
        source = note.source if note.place.path == entry.place.path and note.source else (
            texts.source(note.place.path))
        header = f"note: {paint('path', note.place.text())}: {note.message}"
        frames.append((header, _frame(source, texts, note.span, 0, span_rows=1)))
    labels = [str(row.number) if row.number else "..." for _, rows in frames for row in rows]
    width = max((len(label) for label in labels), default=1)
    gutter = " " * width
    bar = paint("gutter", "|")
    header_line = (f"{paint('path', entry.place.text())}: {paint('code', finding.code)}"
                   f"{fix_marker(finding, unsafe)} {paint(severity, severity)}: "
                   f"{finding.message}")
    lines = [header_line]
    for note_header, rows in frames:
        if note_header is not None:
            lines.append(f"{gutter} {paint('gutter', '=')} {note_header}")
        if not rows:
            continue
        lines.append(f"{gutter} {bar}")
        for row in rows:
            label = "..." if row.number is None else str(row.number)
            text = f" {row.text}" if row.text else ""
            lines.append(f"{paint('gutter', label.rjust(width))} {bar}{text}")
            if row.underline is not None:
                start, end = row.underline
                carets = paint(severity, "^" * max(end - start, 1))
                lines.append(f"{gutter} {bar} {' ' * start}{carets}")
        lines.append(f"{gutter} {bar}")
    if finding.fix is not None:
        safety = "" if finding.fix.applicability == "safe" else " (unsafe fix)"
        lines.append(f"{gutter} {paint('gutter', '=')} help: {finding.fix.message}{safety}")
    lines.extend(f"{gutter} {paint('gutter', '=')} probe: {probe_text(result)}"
                 for result in finding.probe)
    return "".join(line + "\n" for line in lines)


def _frame(source: Source | None, texts: _Texts, span: Span, context: int,
           span_rows: int = SPAN_ROWS) -> list[_Row]:
    """The rows to show for ``span`` of ``source`` (program coordinates), numbered and
    indented as the user wrote them: ``context`` rows around it, at most ``span_rows``
    rows of the span itself."""
    if source is None:
        return []
    program = texts.rows(source)
    first, last = span.start.row, max(span.end.row, span.start.row)
    if last > first and span.end.column == 1:
        last -= 1  # the span stops at the start of its last row
    if not 1 <= first <= len(program):
        return []
    last = min(last, len(program))
    cell = source.locate(first)[0]

    def same_cell(row: int) -> bool:
        return 1 <= row <= len(program) and source.locate(row)[0] == cell

    spanned = list(range(first, last + 1))
    if span_rows == 1:
        spanned = [first]
    elif len(spanned) > span_rows:
        spanned = [*spanned[:span_rows - 1], 0, last]
    before = [row for row in range(first - context, first) if same_cell(row)]
    after = [row for row in range(spanned[-1] + 1, spanned[-1] + 1 + context)
             if same_cell(row)]
    rows: list[_Row] = []
    for row in [*before, *spanned, *after]:
        if row == 0:
            rows.append(_Row(None, "", None))
            continue
        text, shift = program[row - 1], source.position(row, 1)[2] - 1
        shown = " " * shift + text
        underline = None
        if first <= row <= last:
            start = span.start.column - 1 if row == first else len(text) - len(text.lstrip())
            end = span.end.column - 1 if row == last and span.end.row == row else len(text)
            underline = (_display(shown, start + shift), _display(shown, max(end, start) + shift))
        rows.append(_Row(source.locate(row)[1], shown.replace("\t", TAB).rstrip(), underline))
    while rows and not rows[-1].text and rows[-1].underline is None and rows[-1].number:
        rows.pop()  # trailing blank context rows say nothing
    return rows


def _display(text: str, column: int) -> int:
    """The display offset of 0-based code point ``column`` of ``text`` (tabs expanded)."""
    return len(text[:column].replace("\t", TAB))


class _Texts:
    """The program rows of each Source, split once, and the Sources of other project
    modules a note points into, each read once."""

    def __init__(self) -> None:
        self.cache: dict[str, Source | None] = {}
        self.split: dict[int, tuple[Source, list[str]]] = {}

    def rows(self, source: Source) -> list[str]:
        """The program rows of ``source``, split once."""
        known = self.split.get(id(source))
        if known is None or known[0] is not source:
            known = (source, program_rows(source))
            self.split[id(source)] = known
        return known[1]

    def source(self, path: str) -> Source | None:
        if path not in self.cache:
            from bnlint.sources import SourceError, read_source

            try:
                self.cache[path] = read_source(path)
            except (SourceError, OSError, ValueError):
                self.cache[path] = None
        return self.cache[path]
