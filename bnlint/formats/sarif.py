"""SARIF 2.1.0 (the format GitHub code scanning and many viewers read).

One run: ``tool.driver`` names bnlint and describes every rule (summary, what it does,
its documentation as help text and markdown, its default level); each finding is a
result with its rule, level, message, location, related locations, a
``partialFingerprints`` entry (``bnlint/v1``, see ``bnlint.fingerprint``) and, in a
``.py`` file, its fix as ``fixes`` (the edits as replacements). Columns count
Unicode code points (``columnKind``). Paths under the working directory are relative
URIs against ``%SRCROOT%`` (the working directory), others absolute ``file:`` URIs.

A notebook is a JSON file, and code scanning shows regions of text files: a notebook
location is the line of the ``.ipynb`` file that holds the row (Jupyter writes one source
line per file line), without columns, and the message starts with ``cell N, row R:`` so
the cell coordinates are never lost. When that line cannot be found the region is the
file's first line.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from bnlint import __version__
from bnlint.formats.common import Entry, Place, entries, relative_to_cwd
from bnlint.formats.notebook_lines import notebook_line
from bnlint.formats.rules_meta import rule_metas

if TYPE_CHECKING:
    from bnlint.engine import FileResult

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
FINGERPRINT_KEY = "bnlint/v1"
SRCROOT = "%SRCROOT%"
LEVELS = {"error": "error", "warning": "warning", "info": "note"}


def render_sarif(results: Sequence[FileResult], errors: Sequence[str] = ()) -> str:
    """The SARIF log of the run (``errors``: the run's error messages, reported as tool
    execution notifications), indented, with a trailing newline."""
    metas = rule_metas()
    index = {meta.code: position for position, meta in enumerate(metas)}
    driver: dict[str, Any] = {
        "name": "bnlint",
        "version": __version__,
        "semanticVersion": __version__,
    }
    homepage = _homepage()
    if homepage is not None:
        driver["informationUri"] = homepage
    driver["rules"] = [
        {
            "id": meta.code,
            "name": meta.name,
            "shortDescription": {"text": meta.summary},
            "fullDescription": {"text": meta.what_it_does},
            "help": {"text": meta.documentation, "markdown": meta.documentation},
            "defaultConfiguration": {"level": LEVELS[meta.severity]},
        }
        for meta in metas
    ]
    run: dict[str, Any] = {
        "tool": {"driver": driver},
        "originalUriBaseIds": {SRCROOT: {"uri": Path.cwd().as_uri().rstrip("/") + "/"}},
        "columnKind": "unicodeCodePoints",
        "results": [_result(entry, index) for entry in entries(results)],
        "invocations": [_invocation(errors)],
    }
    log = {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"


def _result(entry: Entry, index: dict[str, int]) -> dict[str, Any]:
    finding = entry.finding
    result: dict[str, Any] = {
        "ruleId": finding.code,
        "level": LEVELS[finding.severity],
        "message": {"text": _prefix(entry.place) + finding.message},
        "locations": [{"physicalLocation": _physical(entry.place)}],
    }
    if finding.code in index:
        result["ruleIndex"] = index[finding.code]
    if entry.notes:
        result["relatedLocations"] = [
            {"id": number, "physicalLocation": _physical(note.place),
             "message": {"text": _prefix(note.place) + note.message}}
            for number, note in enumerate(entry.notes, start=1)
        ]
    result["partialFingerprints"] = {FINGERPRINT_KEY: entry.fingerprint}
    if finding.probe:
        result["properties"] = {"probe": [probe.to_json() for probe in finding.probe]}
    fix = finding.fix
    if fix is not None and entry.place.cell is None and fix.edits:
        # a notebook's regions are lines of its JSON: its edits cannot be located there
        safety = "" if fix.applicability == "safe" else " (unsafe: changes how the model trains)"
        result["fixes"] = [{
            "description": {"text": fix.message + safety},
            "artifactChanges": [{
                "artifactLocation": artifact_location(entry.place.path),
                "replacements": [
                    {"deletedRegion": {"startLine": edit.span.start.row,
                                       "startColumn": edit.span.start.column,
                                       "endLine": edit.span.end.row,
                                       "endColumn": edit.span.end.column},
                     "insertedContent": {"text": edit.content}}
                    for edit in fix.edits
                ],
            }],
        }]
    return result


def _prefix(place: Place) -> str:
    return "" if place.cell is None else f"cell {place.cell}, row {place.row}: "


def _physical(place: Place) -> dict[str, Any]:
    return {"artifactLocation": artifact_location(place.path), "region": _region(place)}


def artifact_location(path: str) -> dict[str, str]:
    """A file as SARIF addresses it: relative to %SRCROOT% when it is under the working
    directory, else an absolute ``file:`` URI."""
    relative = relative_to_cwd(path)
    if relative is not None:
        return {"uri": quote(relative), "uriBaseId": SRCROOT}
    return {"uri": Path(os.path.abspath(path)).as_uri()}


def _region(place: Place) -> dict[str, int]:
    if place.cell is not None:
        line = notebook_line(place.path, place.cell, place.row, place.code)
        return {"startLine": line if line is not None else 1}
    region = {"startLine": place.row, "startColumn": place.column}
    end_row, end_column = place.end_row, place.end_column
    if (end_row, end_column) > (place.row, place.column):
        region["endLine"] = end_row
        region["endColumn"] = end_column
    return region


def _invocation(errors: Sequence[str]) -> dict[str, Any]:
    invocation: dict[str, Any] = {"executionSuccessful": not errors}
    if errors:
        invocation["toolExecutionNotifications"] = [
            {"level": "error", "message": {"text": message}} for message in errors
        ]
    return invocation


def _homepage() -> str | None:
    """The project's URL from the installed package's metadata, when it names one."""
    from importlib import metadata

    try:
        info = metadata.metadata("bnlint")
    except metadata.PackageNotFoundError:
        return None
    for entry in info.get_all("Project-URL") or ():
        label, _, url = str(entry).partition(",")
        if label.strip().lower() in ("homepage", "repository", "source") and url.strip():
            return url.strip()
    home = info.get_all("Home-page") or ()
    return next((str(url).strip() for url in home if str(url).strip()), None)
