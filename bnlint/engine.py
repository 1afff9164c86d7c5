"""Lints one Source: prefilter, one parse (bnlint.parse), one semantic model, every
selected rule."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bnlint.conditions import PathReport, holds
from bnlint.finding import Finding, Position, Related, Span
from bnlint.flavour import Flavour
from bnlint.rule import Rule, RuleContext
from bnlint.settings import Settings
from bnlint.source import Source

if TYPE_CHECKING:
    import libcst as cst

    from bnlint.semantic.model import SemanticModel


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

    from bnlint.parse import parse_source
    from bnlint.semantic.build import build_models
    from bnlint.semantic.flavour import resolve_flavour
    from bnlint.suppress import parse_suppressions

    parsed = parse_source(source)
    module = parsed.module
    if module is None:
        return FileResult(source.path, source, parsed.findings, parsed.errors)

    models = build_models(module)
    flavour = resolve_flavour(models[0], settings, project_flavour)
    reports: list[PathReport] = []
    errors: dict[str, None] = dict.fromkeys(parsed.errors)
    for model in models:
        context = RuleContext(model=model, settings=settings, flavour=flavour)
        for rule in candidates:
            try:
                reports.extend(PathReport(rule, report, model, model is models[0])
                               for report in rule().check(context))
            except Exception as error:  # noqa: BLE001 - a bug in one rule must not stop the others
                errors.setdefault(
                    f"{source.path}: internal error in {rule.code} ({rule.name}): "
                    f"{type(error).__name__}: {error}"
                )
    if not reports:
        return FileResult(source.path, source, parsed.findings, tuple(errors))

    suppressions = parse_suppressions(source.text)
    findings = _to_findings(module, reports)
    kept = [
        finding
        for finding in findings
        if not suppressions.is_suppressed(finding.code, finding.name, finding.span.start.row)
    ]
    # a notebook cell that does not compile is reported beside the others' findings
    kept = sorted([*parsed.findings, *kept],
                  key=lambda f: (f.span.start.row, f.span.start.column, f.code))
    return FileResult(source.path, source, tuple(kept), tuple(errors))


def _to_findings(module: cst.Module, reports: Iterable[PathReport]) -> list[Finding]:
    """One finding per rule and primary location, whichever replays reported it.
    Positions are computed only here, once per file that has something to report, and
    only for the nodes a finding may name."""
    from bnlint.positions import node_ranges
    from bnlint.semantic.paths import describe

    reports = list(reports)
    # a test that runs code to see it fail (`with pytest.raises(...)`) means it
    raising_blocks = reports[0].model.raising_blocks if reports else []
    ranges = node_ranges(module, _located(reports, raising_blocks))

    def span(node: cst.CSTNode) -> Span:
        where = ranges[id(node)]
        return Span(
            Position(where.start.line, where.start.column + 1),
            Position(where.end.line, where.end.column + 1),
        )

    raising = [span(block) for block in raising_blocks]
    grouped: dict[tuple[str, Span], list[PathReport]] = {}
    for item in reports:
        primary = span(item.report.node)
        if not any(_within(primary, block) for block in raising):
            grouped.setdefault((item.rule.code, primary), []).append(item)
    findings: list[Finding] = []
    for (_, primary), group in grouped.items():
        holding = holds(group)
        if holding is None:
            continue
        rule, report = holding.report.rule, holding.report.report
        steps = {(span(node), message): None for node, message in report.related}
        ordered = sorted(steps, key=lambda step: (step[0].start.row, step[0].start.column))
        related = tuple(Related(message, where) for where, message in ordered) + tuple(
            Related(describe(decision), span(decision.node.test))
            for decision in holding.conditions)
        if holding.entry is not None:
            related += (Related(holding.entry, primary),)
        findings.append(Finding(
            code=rule.code,
            name=rule.name,
            severity=report.severity or rule.severity,
            message=report.message,
            span=primary,
            related=related,
        ))
    return sorted(findings, key=lambda f: (f.span.start.row, f.span.start.column, f.code))


def _located(reports: Sequence[PathReport],
             raising_blocks: Iterable[cst.CSTNode]) -> Iterator[cst.CSTNode]:
    """Every node a finding made of ``reports`` may be located at: the primary and
    related nodes, the tests of the conditions of each path, the blocks expected to
    raise."""
    yield from raising_blocks
    models: dict[int, SemanticModel] = {}
    for item in reports:
        yield item.report.node
        for node, _ in item.report.related:
            yield node
        models[id(item.model)] = item.model
    for model in models.values():
        for decision in model.decisions:
            yield decision.node.test


def _within(inner: Span, outer: Span) -> bool:
    return ((outer.start.row, outer.start.column) <= (inner.start.row, inner.start.column)
            and (inner.end.row, inner.end.column) <= (outer.end.row, outer.end.column))
