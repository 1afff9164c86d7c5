"""The data that flows from the rules to the reporters."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from bnlint.probe.result import ProbeResult
    from bnlint.probe.scenario import Scenario

Severity = Literal["error", "warning", "info"]
# ruff's model: a safe fix keeps what the code means (or restores what it states); an
# unsafe one changes how the model trains and is applied only with --unsafe-fixes.
Applicability = Literal["safe", "unsafe"]


@dataclass(frozen=True, slots=True)
class Position:
    """A 1-based row and 1-based column in a program's text (code points)."""

    row: int
    column: int


@dataclass(frozen=True, slots=True)
class Span:
    """A half-open range of program text; ``end`` is just past the last character."""

    start: Position
    end: Position


@dataclass(frozen=True, slots=True)
class Related:
    """Another location that, together with the primary one, causes a finding;
    ``path`` names its file when it lies in another module of the project (as the
    report shows paths), None for the finding's own file."""

    message: str
    span: Span
    path: str | None = None


@dataclass(frozen=True, slots=True)
class Edit:
    """Replace the program text in ``span`` by ``content`` (an insertion when the span
    is empty, a deletion when ``content`` is). Line breaks in ``content`` are ``\n``;
    applying the edit writes them as the file writes its own."""

    span: Span
    content: str


@dataclass(frozen=True, slots=True)
class Fix:
    """What would resolve a finding: edits applied together or not at all."""

    message: str
    applicability: Applicability
    edits: tuple[Edit, ...]


@dataclass(frozen=True, slots=True)
class Finding:
    """One reported problem, located in program coordinates of its Source.

    For a notebook the rows count lines of the joined program; ``Source.locate`` maps
    them back to a cell and a row within that cell.
    """

    code: str
    name: str
    severity: Severity
    message: str
    span: Span
    related: tuple[Related, ...] = ()
    # what the runtime probe needs to replay it (None: the rule has no probe scenario);
    # not part of what is reported, so not compared, and not kept in the result cache
    # (a --probe run analyses afresh)
    scenario: Scenario | None = field(default=None, compare=False)
    # what ``--probe`` measured
    probe: tuple[ProbeResult, ...] = ()
    fix: Fix | None = None
