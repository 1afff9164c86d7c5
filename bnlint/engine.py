"""Lints one Source: prefilter, one parse, one semantic model, every selected rule."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bnlint.finding import Finding, Position, Related, Span
from bnlint.flavour import Flavour
from bnlint.rule import Report, Rule, RuleContext
from bnlint.settings import Settings
from bnlint.source import Source

if TYPE_CHECKING:
    import libcst as cst

SYNTAX_ERROR_CODE = "BN000"
SYNTAX_ERROR_NAME = "syntax-error"


@dataclass(frozen=True, slots=True)
class FileResult:
    """The outcome for one file: its findings (selected, unsuppressed, sorted) and the
    one-line messages of anything that went wrong inside bnlint (exit code 2)."""

    path: str
    source: Source | None
    findings: tuple[Finding, ...] = ()
    errors: tuple[str, ...] = ()


def applicable_rules(text: str, rules: Sequence[type[Rule]]) -> list[type[Rule]]:
    """The rules whose needles occur in the text: a file none of them mention is clean
    without being parsed."""
    data = text.encode("utf-8", "surrogatepass")
    return [rule for rule in rules if any(needle in data for needle in rule.needles)]


def lint_source(
    source: Source,
    settings: Settings,
    rules: Sequence[type[Rule]],
    project_flavour: Flavour | None = None,
) -> FileResult:
    """Run ``rules`` on ``source``. Suppression comments are honoured here; selection
    (including per-file-ignores) is the caller's job: pass only the selected rules."""
    candidates = applicable_rules(source.text, rules)
    if not candidates:
        return FileResult(source.path, source)

    import libcst as cst

    from bnlint.semantic.build import build_model
    from bnlint.semantic.flavour import resolve_flavour
    from bnlint.suppress import parse_suppressions

    try:
        module = cst.parse_module(source.text)
    except cst.ParserSyntaxError as error:
        return FileResult(source.path, source, (_syntax_finding(error),))
    rejected = _rejected_by_python(source.text)
    if rejected is not None:
        return FileResult(source.path, source, (rejected,))

    model = build_model(module)
    flavour = resolve_flavour(model, settings, project_flavour)
    context = RuleContext(model=model, settings=settings, flavour=flavour)
    reports: list[tuple[type[Rule], Report]] = []
    errors: list[str] = []
    for rule in candidates:
        try:
            reports.extend((rule, report) for report in rule().check(context))
        except Exception as error:  # noqa: BLE001 - a bug in one rule must not stop the others
            errors.append(
                f"{source.path}: internal error in {rule.code} ({rule.name}): "
                f"{type(error).__name__}: {error}"
            )
    if not reports:
        return FileResult(source.path, source, (), tuple(errors))

    suppressions = parse_suppressions(source.text)
    findings = _to_findings(module, reports)
    kept = [
        finding
        for finding in findings
        if not suppressions.is_suppressed(finding.code, finding.name, finding.span.start.row)
    ]
    return FileResult(source.path, source, tuple(kept), tuple(errors))


def _to_findings(
    module: cst.Module, reports: Iterable[tuple[type[Rule], Report]]
) -> list[Finding]:
    """Positions are computed only here, once per file that has something to report."""
    from libcst.metadata import MetadataWrapper, PositionProvider

    positions = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)

    def span(node: cst.CSTNode) -> Span:
        where = positions[node]
        return Span(
            Position(where.start.line, where.start.column + 1),
            Position(where.end.line, where.end.column + 1),
        )

    unique: dict[tuple[str, Span], Finding] = {}
    for rule, report in reports:
        primary = span(report.node)
        # the steps in program order, each once
        steps = {(span(node), message): None for node, message in report.related}
        related = tuple(Related(message, where) for where, message in
                        sorted(steps, key=lambda step: (step[0].start.row, step[0].start.column)))
        finding = Finding(
            code=rule.code,
            name=rule.name,
            severity=report.severity or rule.severity,
            message=report.message,
            span=primary,
            related=related,
        )
        unique.setdefault((rule.code, primary), finding)
    return sorted(unique.values(), key=lambda f: (f.span.start.row, f.span.start.column, f.code))


def _rejected_by_python(text: str) -> Finding | None:
    """What libcst accepts but CPython rejects and the analysis cannot evaluate: an
    integer literal beyond int()'s digit limit (4300 digits). Checked only when the
    text has such a run of digits, which is rare."""
    if re.search(r"\d{4301}", text) is None:
        return None
    try:
        compile(text, "<bnlint>", "exec", dont_inherit=True)
    except SyntaxError as error:
        where = Position(error.lineno or 1, (error.offset or 0) or 1)
        return Finding(code=SYNTAX_ERROR_CODE, name=SYNTAX_ERROR_NAME, severity="error",
                       message=f"SyntaxError: {error.msg}", span=Span(where, where))
    except ValueError:
        return None
    return None


def _syntax_finding(error: Exception) -> Finding:
    row = getattr(error, "raw_line", 1) or 1
    column = (getattr(error, "raw_column", 0) or 0) + 1
    message = getattr(error, "message", None) or str(error).splitlines()[0]
    where = Position(row, column)
    return Finding(
        code=SYNTAX_ERROR_CODE,
        name=SYNTAX_ERROR_NAME,
        severity="error",
        message=f"SyntaxError: {message}",
        span=Span(where, where),
    )


