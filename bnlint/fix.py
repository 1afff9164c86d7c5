"""Fixes as data: a finding's edits, which fixes to apply together, and edits applied to
a program's text.

An edit replaces a span of the program (1-based rows and columns in code points, as a
Finding's span) by new text. This module applies edits to text and nothing else: the
command line's ``--fix``/``--diff`` (``bnlint.fix_files``) and an editor's code actions
both use it, so a fix means the same wherever it is applied.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence

from bnlint.finding import Edit, Finding, Fix, Position

_ROW_END = re.compile(r"\r\n|\r|\n")


class EditError(ValueError):
    """Edits that cannot be applied: overlapping, or outside the text."""


def finding_edits(finding: Finding) -> tuple[Edit, ...]:
    """The edits of ``finding``'s fix (none when it has no fix)."""
    return finding.fix.edits if finding.fix is not None else ()


def is_applicable(fix: Fix | None, unsafe: bool) -> bool:
    """Is ``fix`` applied: a safe fix always, an unsafe one only with ``unsafe``."""
    return fix is not None and bool(fix.edits) and (fix.applicability == "safe" or unsafe)


def apply_edits(text: str, edits: Iterable[Edit]) -> str:
    """``text`` with ``edits`` applied (in any order; they must not overlap). A line
    break in an edit's content is written as ``text`` writes its first one (``\\r\\n``
    in a CRLF file); raise EditError for overlapping edits or a position outside
    ``text``."""
    newline = _newline(text)
    starts = _row_starts(text)
    placed = sorted(
        ((_offset(text, starts, edit.span.start), _offset(text, starts, edit.span.end), edit)
         for edit in edits),
        key=lambda item: (item[0], item[1]),
    )
    pieces: list[str] = []
    done = 0
    previous: tuple[int, int] | None = None
    for start, end, edit in placed:
        if end < start:
            raise EditError(f"edit ends before it starts: {edit}")
        # two insertions at one point: which goes first would be a guess
        if start < done or previous == (start, end) == (start, start):
            raise EditError("edits overlap")
        previous = (start, end)
        pieces.append(text[done:start])
        pieces.append(edit.content.replace("\n", newline) if newline != "\n" else edit.content)
        done = end
    pieces.append(text[done:])
    return "".join(pieces)


def signature(finding: Finding) -> tuple[str, str, tuple[str, ...]]:
    """What a fix does, wherever it is: its rule, message and inserted texts. A round
    that offers a fix already applied in an earlier round means the fix did not hold
    (later code undoes it): it is not applied again."""
    return (finding.code, finding.fix.message if finding.fix is not None else "",
            tuple(edit.content for edit in finding_edits(finding)))


def non_overlapping(findings: Sequence[Finding], unsafe: bool,
                    applied: Collection[tuple[str, str, tuple[str, ...]]] = ()) -> list[Finding]:
    """The findings whose fixes are applied together: every applicable fix, in report
    order, except one that touches text an earlier one changes (it is left for the next
    round, on the fixed text) and one whose ``signature`` is among ``applied``."""
    chosen: list[Finding] = []
    taken: list[tuple[tuple[int, int], tuple[int, int]]] = []
    for finding in findings:
        if not is_applicable(finding.fix, unsafe) or (applied and signature(finding) in applied):
            continue
        spans = [(_key(edit.span.start), _key(edit.span.end)) for edit in finding_edits(finding)]
        if any(_touches(span, other) for span in spans for other in taken):
            continue
        chosen.append(finding)
        taken.extend(spans)
    return chosen


def fix_text(text: str, findings: Sequence[Finding], unsafe: bool,
             applied: Collection[tuple[str, str, tuple[str, ...]]] = ()
             ) -> tuple[str, list[Finding]]:
    """``text`` with the fixes of ``non_overlapping(findings, unsafe, applied)`` applied,
    and the findings they fix."""
    chosen = non_overlapping(findings, unsafe, applied)
    edits = [edit for finding in chosen for edit in finding_edits(finding)]
    return apply_edits(text, edits), chosen


def _newline(text: str) -> str:
    match = _ROW_END.search(text)
    return match.group() if match is not None else "\n"


def _row_starts(text: str) -> list[int]:
    return [0, *(match.end() for match in _ROW_END.finditer(text))]


def _offset(text: str, starts: Sequence[int], where: Position) -> int:
    if not 1 <= where.row <= len(starts) or where.column < 1:
        raise EditError(f"position {where.row}:{where.column} is outside the text")
    start = starts[where.row - 1]
    stop = starts[where.row] if where.row < len(starts) else len(text)
    row = _ROW_END.sub("", text[start:stop])
    if where.column - 1 > len(row):
        raise EditError(f"position {where.row}:{where.column} is outside the text")
    return start + where.column - 1


def _key(where: Position) -> tuple[int, int]:
    return where.row, where.column


def _touches(span: tuple[tuple[int, int], tuple[int, int]],
             other: tuple[tuple[int, int], tuple[int, int]]) -> bool:
    """Do two edited spans overlap or meet (then one fix might undo the other)?"""
    return span[0] <= other[1] and other[0] <= span[1]
