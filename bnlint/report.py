"""Renderers: findings of a run → one line each for a terminal, or JSON for tools
(the other formats live in ``bnlint.formats``).

All list findings sorted by filename, then row, column and code, whatever order the
files were linted in. The JSON schema is documented in docs/json-schema.md.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from bnlint.engine import FileResult
from bnlint.finding import Finding, Position
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
    results: Sequence[FileResult], *, summary: bool = True, other_errors: int = 0
) -> str:
    """ruff's concise format: ``path:row:col: CODE message`` (``path:cell N:row:col:``
    in notebooks), each related location on an indented ``note:`` line, then a summary
    line (``All checks passed!`` only when there is no finding and no error at all;
    ``other_errors`` counts errors outside ``results``, e.g. missing paths)."""
    lines: list[str] = []
    pairs = sorted_findings(results)
    for result, finding in pairs:
        where = _text_location(result.path, result.source, finding.span.start)
        lines.append(f"{where}: {finding.code} {finding.message}")
        for related in finding.related:
            note_at = (_text_location(result.path, result.source, related.span.start)
                       if related.path is None else
                       _text_location(related.path, None, related.span.start))
            lines.append(f"    note: {note_at}: {related.message}")
        lines.extend(f"    probe: {probe_text(result)}" for result in finding.probe)
    if summary:
        errors = other_errors + sum(len(result.errors) for result in results)
        lines.append(summary_line([finding for _, finding in pairs], errors))
    return "".join(line + "\n" for line in lines)


def summary_line(findings: Sequence[Finding], errors: int = 0) -> str:
    """``Found 3 findings (1 error, 2 warnings).``; ``Found 0 findings; bnlint reported
    1 error on stderr.`` when something could not be checked (``errors`` counts those);
    or ``All checks passed!``."""
    if not findings and not errors:
        return "All checks passed!"
    counts: Counter[str] = Counter(finding.severity for finding in findings)
    parts = [_plural(counts[severity], severity) for severity in _SEVERITIES if counts[severity]]
    line = f"Found {_plural(len(findings), 'finding')}"
    if parts:
        line += f" ({', '.join(parts)})"
    if errors:
        line += f"; bnlint reported {_plural(errors, 'error')} on stderr"
    return line + "."


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
        "fix": None,
        "probe": [probe.to_json() for probe in finding.probe] or None,
        "keras": _json_keras(result.flavour),
    }


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
