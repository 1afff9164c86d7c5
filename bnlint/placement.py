"""One finding, one place, when several files of a project are linted together.

A script that hands a model to a trainer module (`train(model, data)` in `main.py`,
the `fit` or the tape step in `train.py`) reports a finding whose step lies in the
trainer at its own call, with the step as a note: that is where a user who linted only
the script can see it. The trainer's own report replays the scripts importing it and
shows the same finding at the step itself, where the user changes the code. When both
files are linted in one run, the script's copy is dropped: each finding is shown once,
at the step."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bnlint.engine import FileResult
    from bnlint.finding import Finding, Span

# The note a finding carries at a step that lies in another module (engine).
STEP_ELSEWHERE = "the step reported above, in another module of the project"
# The note at the statement of the importing program that runs the step.
CALLED_FROM = "the program that imports this module runs it from here"


def shown_once(results: Sequence[FileResult]) -> list[FileResult]:
    """``results`` without the findings that another result of the same run shows at
    the step they point to."""
    shown: set[tuple[str, str, Span]] = set()
    for result in results:
        home = os.path.abspath(result.path)
        shown.update((home, finding.code, finding.span) for finding in result.findings)
    kept: list[FileResult] = []
    for result in results:
        findings = tuple(finding for finding in result.findings
                         if not _shown_at_its_step(finding, shown))
        kept.append(result if len(findings) == len(result.findings) else replace(
            result, findings=findings))
    return kept


def _shown_at_its_step(finding: Finding, shown: set[tuple[str, str, Span]]) -> bool:
    return any(note.message == STEP_ELSEWHERE and note.path is not None and (
        os.path.abspath(note.path), finding.code, note.span) in shown
        for note in finding.related)
