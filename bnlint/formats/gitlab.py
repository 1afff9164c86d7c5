"""GitLab Code Quality report: a JSON array that GitLab shows in merge requests.

Each finding is ``{"description", "check_name", "fingerprint", "severity", "location":
{"path", "lines": {"begin", "end"}}}``. Severities: error → ``critical``, warning →
``major``, info → ``info``. The fingerprint is bnlint's (``bnlint.fingerprint``), so a
finding keeps it when unrelated lines move. Related locations are appended to the
description. In a notebook, ``lines`` are lines of the ``.ipynb`` file (the line that
holds the row; 1 when it cannot be found) and the description starts with ``cell N, row
R:``. Paths are relative to the working directory (GitLab wants them relative to the
repository, where CI runs).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bnlint.formats.common import Entry, entries, posix_path, relative_to_cwd
from bnlint.formats.notebook_lines import notebook_line
from bnlint.probe.result import probe_text

if TYPE_CHECKING:
    from bnlint.engine import FileResult

SEVERITIES = {"error": "critical", "warning": "major", "info": "info"}


def render_gitlab(results: Sequence[FileResult]) -> str:
    """The Code Quality report, indented, with a trailing newline."""
    issues = [_issue(entry) for entry in entries(results)]
    return json.dumps(issues, indent=2, ensure_ascii=False) + "\n"


def _issue(entry: Entry) -> dict[str, Any]:
    finding, place = entry.finding, entry.place
    description = f"{finding.code} {finding.message}"
    if place.cell is not None:
        description = f"cell {place.cell}, row {place.row}: {description}"
        line = notebook_line(place.path, place.cell, place.row, place.code) or 1
        lines = {"begin": line, "end": line}
    else:
        lines = {"begin": place.row, "end": max(place.end_row, place.row)}
    description += "".join(f"\nprobe: {probe_text(result)}" for result in finding.probe)
    description += "".join(f"\nnote: {note.place.text()}: {note.message}"
                           for note in entry.notes)
    return {
        "description": description,
        "check_name": finding.code,
        "fingerprint": entry.fingerprint,
        "severity": SEVERITIES[finding.severity],
        "location": {
            "path": relative_to_cwd(place.path) or posix_path(place.path),
            "lines": lines,
        },
    }
