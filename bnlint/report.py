"""Renderers: findings of a run → one line each for a terminal, or JSON for tools
(the other formats live in ``bnlint.formats``).

All list findings sorted by filename, then row, column and code, whatever order the
files were linted in. The JSON schema is documented in docs/json-schema.md.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from bnlint.engine import FileResult
from bnlint.finding import Finding, Fix, Position
from bnlint.fix import is_applicable
from bnlint.flavour import Flavour
from bnlint.probe.result import probe_text
from bnlint.source import Source

_SEVERITIES = ("error", "warning", "info")


def sorted_findings(results: Iterable[FileResult]) -> list[tuple[FileResult, Finding]]:
    """Every finding with its file, in report order (filename, row, column, code)."""
    pairs = [(result, finding) for result in results for finding in result.findings]
    return sorted(
        pairs,
        key=lambda pair: (
            pair[0].path,
            pair[1].span.start.row,
            pair[1].span.start.column,
            pair[1].code,
        ),
    )


def render_text(
    results: Sequence[FileResult], *, summary: bool = True, other_errors: int = 0,
    fixes: FixSummary | None = None,
) -> str:
    """ruff's concise format: ``path:row:col: CODE message`` (``path:cell N:row:col:``
    in notebooks; ``CODE [*]`` when ``--fix`` would fix it), each related location on
    an indented ``note:`` line, then a summary line (``All checks passed!`` only when
    there is no finding and no error at all; ``other_errors`` counts errors outside
    ``results``, e.g. missing paths) and ruff's line on what is fixable."""
    fixes = fixes or FixSummary()
    lines: list[str] = []
    pairs = sorted_findings(results)
    for result, finding in pairs:
        where = _text_location(result.path, result.source, finding.span.start)
        lines.append(f"{where}: {finding.code}{fix_marker(finding, fixes.unsafe)} "
                     f"{finding.message}")
        for related in finding.related:
            note_at = (_text_location(result.path, result.source, related.span.start)
                       if related.path is None else
                       _text_location(related.path, None, related.span.start))
            lines.append(f"    note: {note_at}: {related.message}")
        lines.extend(f"    probe: {probe_text(result)}" for result in finding.probe)
    if summary:
        errors = other_errors + sum(len(result.errors) for result in results)
        found = [finding for _, finding in pairs]
        lines.append(summary_line(found, errors, fixes.fixed))
        lines.extend(fixable_lines(found, fixes))
    return "".join(line + "\n" for line in lines)


@dataclass(frozen=True, slots=True)
class FixSummary:
    """What the summary says about fixes: how many findings ``--fix`` fixed, whether
    unsafe fixes are enabled, and whether to hint at ``--fix`` at all (not when the
    run fixed)."""

    fixed: int = 0
    unsafe: bool = False
    hint: bool = True


def fix_marker(finding: Finding, unsafe: bool) -> str:
    """ruff's `` [*]`` after the code of a finding ``--fix`` would fix, else ``""``."""
    return " [*]" if is_applicable(finding.fix, unsafe) else ""


def summary_line(findings: Sequence[Finding], errors: int = 0, fixed: int = 0) -> str:
    """``Found 3 findings (1 error, 2 warnings).``; ``Found 3 findings (2 fixed, 1
    remaining).`` after ``--fix``; ``Found 0 findings; bnlint reported 1 error on
    stderr.`` when something could not be checked (``errors`` counts those); or ``All
    checks passed!``."""
    if not findings and not errors and not fixed:
        return "All checks passed!"
    if fixed:
        line = (f"Found {_plural(len(findings) + fixed, 'finding')} ({fixed} fixed, "
                f"{len(findings)} remaining)")
    else:
        counts: Counter[str] = Counter(finding.severity for finding in findings)
        parts = [_plural(counts[severity], severity) for severity in _SEVERITIES
                 if counts[severity]]
        line = f"Found {_plural(len(findings), 'finding')}"
        if parts:
            line += f" ({', '.join(parts)})"
    if errors:
        line += f"; bnlint reported {_plural(errors, 'error')} on stderr"
    return line + "."


def fixable_lines(findings: Sequence[Finding], fixes: FixSummary) -> list[str]:
    """ruff's hint after the summary: ``[*] 2 fixable with the `--fix` option (1 hidden
    fix can be enabled with the `--unsafe-fixes` option).``, or ``No fixes available
    (...)``; nothing when no finding has a fix."""
    if not fixes.hint:
        return []
    applicable = sum(1 for finding in findings if is_applicable(finding.fix, fixes.unsafe))
    hidden = sum(1 for finding in findings
                 if is_applicable(finding.fix, True) and not is_applicable(finding.fix,
                                                                         fixes.unsafe))
    hidden_text = (f"{hidden} hidden fix{'' if hidden == 1 else 'es'} can be enabled with "
                   "the `--unsafe-fixes` option")
    if applicable and hidden:
        return [f"[*] {applicable} fixable with the `--fix` option ({hidden_text})."]
    if applicable:
        return [f"[*] {applicable} fixable with the `--fix` option."]
    if hidden:
        return [f"No fixes available ({hidden_text})."]
    return []


def render_statistics(results: Sequence[FileResult]) -> str:
    """One line per rule, most frequent first: ``count<TAB>code<TAB>name``."""
    counts = Counter((finding.code, finding.name) for _, finding in sorted_findings(results))
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0][0]))
    width = max((len(str(count)) for count in counts.values()), default=1)
    return "".join(f"{count:>{width}}\t{code}\t{name}\n" for (code, name), count in ordered)


def json_findings(results: Sequence[FileResult]) -> list[dict[str, Any]]:
    """The finding objects of the JSON output (docs/json-schema.md), in report order."""
    return [_json_finding(result, finding) for result, finding in sorted_findings(results)]


def render_json(results: Sequence[FileResult]) -> str:
    """A JSON array of findings (schema in docs/json-schema.md), indented, with a
    trailing newline."""
    return json.dumps(json_findings(results), indent=2, ensure_ascii=False) + "\n"


def render_json_lines(results: Sequence[FileResult]) -> str:
    """The objects of ``render_json``, one compact JSON object per line."""
    return "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in json_findings(results))


def _json_finding(result: FileResult, finding: Finding) -> dict[str, Any]:
    cell, row, column = _locate(result.source, finding.span.start)
    _, end_row, end_column = _locate(result.source, finding.span.end)
    return {
        "code": finding.code,
        "name": finding.name,
        "severity": finding.severity,
        "message": finding.message,
        "filename": result.path,
        "cell": cell,
        "location": {"row": row, "column": column},
        "end_location": {"row": end_row, "column": end_column},
        "related": list(_json_related(result, finding)),
        "fix": _json_fix(result.source, finding.fix),
        "probe": [probe.to_json() for probe in finding.probe] or None,
        "keras": _json_keras(result.flavour),
    }


def _json_fix(source: Source | None, fix: Fix | None) -> dict[str, Any] | None:
    """ruff's fix object: applicability, message and edits, located as findings are."""
    if fix is None:
        return None
    edits = []
    for edit in fix.edits:
        cell, row, column = _locate(source, edit.span.start)
        _, end_row, end_column = _locate(source, edit.span.end)
        edits.append({"content": edit.content, "cell": cell,
                      "location": {"row": row, "column": column},
                      "end_location": {"row": end_row, "column": end_column}})
    return {"applicability": fix.applicability, "message": fix.message, "edits": edits}


def _json_keras(flavour: Flavour | None) -> dict[str, Any] | None:
    """Which Keras the file was judged for and what decided it."""
    if flavour is None:
        return None
    return {
        "flavour": "unknown" if flavour.assumed else flavour.name,
        "version": ".".join(str(part) for part in flavour.version) if flavour.version else None,
        "decided_by": flavour.reason,
    }


def _json_related(result: FileResult, finding: Finding) -> Iterator[dict[str, Any]]:
    for related in finding.related:
        source = result.source if related.path is None else None
        cell, row, column = _locate(source, related.span.start)
        yield {
            "message": related.message,
            "filename": related.path or result.path,
            "cell": cell,
            "location": {"row": row, "column": column},
        }


def _locate(source: Source | None, where: Position) -> tuple[int | None, int, int]:
    """A program position in the user's coordinates (a notebook's cell, row, column)."""
    if source is None:
        return None, where.row, where.column
    return source.position(where.row, where.column)


def _text_location(path: str, source: Source | None, where: Position) -> str:
    cell, row, column = _locate(source, where)
    if cell is None:
        return f"{path}:{row}:{column}"
    return f"{path}:cell {cell}:{row}:{column}"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
