"""Lints one Source: prefilter, one parse (bnlint.parse), one semantic model, every
selected rule."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from bnlint.conditions import PathReport, holds
from bnlint.finding import Edit, Finding, Fix, Position, Related, Span
from bnlint.flavour import Flavour
from bnlint.rule import Anchor, Rewrite, Rule, RuleContext
from bnlint.settings import Settings
from bnlint.source import Source

if TYPE_CHECKING:
    import libcst as cst
    from libcst.metadata import CodeRange

    from bnlint.callers import CallerReports
    from bnlint.project import Project
    from bnlint.python2 import Port
    from bnlint.rule import Report
    from bnlint.semantic.model import SemanticModel


@dataclass(frozen=True, slots=True)
class FileResult:
    """The outcome for one file: its findings (selected, unsuppressed, sorted) and the
    one-line messages of anything that went wrong inside bnlint (exit code 2)."""

    path: str
    source: Source | None
    findings: tuple[Finding, ...] = ()
    errors: tuple[str, ...] = ()
    # the Keras flavour the file was judged for, and why (None when it was not parsed)
    flavour: Flavour | None = None
    # the project modules whose code the analysis read: (absolute path, content hash)
    dependencies: tuple[tuple[str, str], ...] = ()


def applicable_rules(text: str, rules: Sequence[type[Rule]]) -> list[type[Rule]]:
    """The rules whose needles occur in the text: a file none of them mention is clean
    without being parsed."""
    data = text.encode("utf-8", "surrogatepass")
    return [rule for rule in rules if any(needle in data for needle in rule.needles)]


def oversize_error(source: Source, settings: Settings) -> str | None:
    """Why ``source`` is too large to analyse (`max-file-size`), or None. The size is
    the program text's: a notebook's outputs and images do not count."""
    limit = settings.limits.max_file_size
    size = len(source.text)
    if size <= limit * 1_000_000:
        return None
    return (f"{source.path}: skipped: {size / 1_000_000:.1f} MB of code is more than "
            f"the limit of {limit:g} MB (`max-file-size`)")


def lint_source(
    source: Source,
    settings: Settings,
    rules: Sequence[type[Rule]],
    project_flavour: Flavour | None = None,
    project: Project | None = None,
) -> FileResult:
    """Run ``rules`` on ``source``. Suppression comments are honoured here; selection
    (including per-file-ignores) is the caller's job: pass only the selected rules.
    With a ``project``, the file's imports of the project's own modules are followed."""
    oversize = oversize_error(source, settings)
    if oversize is not None:
        return FileResult(source.path, source, errors=(oversize,))
    # a rule may need what an imported module of the project does (a helper freezes)
    text = source.text
    if project is not None and "import" in text:
        text += "\n" + project.imported_text(text)
    candidates = applicable_rules(text, rules)
    if project is not None and project.api_package() is not None:
        candidates = [rule for rule in candidates if not rule.advises_migration]
    if not candidates:
        return FileResult(source.path, source)

    from bnlint.parse import parse_source
    from bnlint.semantic.build import build_models
    from bnlint.semantic.flavour import resolve_flavour
    from bnlint.suppress import parse_suppressions

    parsed = parse_source(source, settings.limits.max_nesting)
    module = parsed.module
    if module is None:
        return FileResult(source.path, source, parsed.findings, parsed.errors)

    models = build_models(module, project)
    flavour = resolve_flavour(models[0], settings, project_flavour, source.legacy_keras_env,
                              parsed.ported)
    reports: list[PathReport] = []
    errors: dict[str, None] = dict.fromkeys(parsed.errors)
    for model in models:
        context = RuleContext(model=model, settings=settings, flavour=flavour)
        for rule in candidates:
            try:
                reports.extend(PathReport(rule, report, model, model is models[0])
                               for report in rule().check(context))
            except MemoryError:
                raise  # the file's memory budget, reported by its worker
            except Exception as error:  # noqa: BLE001 - a bug in one rule must not stop the others
                errors.setdefault(
                    f"{source.path}: internal error in {rule.code} ({rule.name}): "
                    f"{type(error).__name__}: {error}"
                )
    from bnlint.callers import caller_reports

    callers = caller_reports(module, project.importer if project is not None else source.path,
                             models[0], project, candidates, settings, flavour)
    errors.update(dict.fromkeys(callers.errors))
    dependencies = _dependencies(models, callers.read)
    if not reports and not callers.reports:
        return FileResult(source.path, source, parsed.findings, tuple(errors), flavour,
                          dependencies)

    suppressions = parse_suppressions(source.text)
    answers = [tuple((d.key, d.value) for d in model.decisions) for model in models[1:]]
    tried = frozenset(path[:end] for path in answers for end in range(1, len(path) + 1))
    findings = _to_findings(module, reports, source.text, tried, callers, models[0])
    kept = [
        finding
        for finding in findings
        if not suppressions.is_suppressed(finding.code, finding.name, finding.span.start.row)
    ]
    # a notebook cell that does not compile is reported beside the others' findings
    if parsed.ported:  # the port's columns are not the file's: nothing to apply
        kept = [replace(finding, fix=None) for finding in kept]
    if parsed.port is not None:
        kept = [_in_file_columns(finding, parsed.port) for finding in kept]
    kept = sorted([*parsed.findings, *kept],
                  key=lambda f: (f.span.start.row, f.span.start.column, f.code))
    return FileResult(source.path, source, tuple(kept), tuple(errors), flavour,
                      dependencies)


def _in_file_columns(finding: Finding, port: Port) -> Finding:
    """A finding on a ported file, with its columns (and its notes' in the file) those
    of the file as written."""
    def span(where: Span) -> Span:
        return Span(*(Position(at.row, port.column(at.row, at.column))
                      for at in (where.start, where.end)))

    return replace(finding, span=span(finding.span), related=tuple(
        replace(note, span=span(note.span)) if note.path is None else note
        for note in finding.related))


def _dependencies(models: list[SemanticModel],
                  callers_read: Sequence[str] = ()) -> tuple[tuple[str, str], ...]:
    """The project files a file's result rests on: the modules it imports, those that
    import it which a rule or a caller's replay read, and the settings files it loads
    (with their content digests, for the cache)."""
    from bnlint.project import content_digest

    paths = set(models[0].project_modules).union(
        *(model.importers_read for model in models),
        *(model.settings_read for model in models), callers_read)
    found = ((path, content_digest(path)) for path in sorted(paths))
    return tuple((path, digest) for path, digest in found if digest is not None)


def judged_flavour(source: Source, settings: Settings,
                   project_flavour: Flavour | None = None,
                   project: Project | None = None) -> Flavour | None:
    """The flavour ``lint_source`` judges ``source`` for (None when it does not parse),
    with the project modules it imports read as the lint reads them."""
    from bnlint.parse import parse_source
    from bnlint.semantic.build import build_model
    from bnlint.semantic.flavour import resolve_flavour

    parsed = parse_source(source, settings.limits.max_nesting)
    if parsed.module is None:
        return None
    return resolve_flavour(build_model(parsed.module, project), settings, project_flavour,
                           source.legacy_keras_env, parsed.ported)


def _to_findings(module: cst.Module, reports: Iterable[PathReport], text: str,
                 tried: frozenset[tuple[tuple[str, bool], ...]] | None = None,
                 callers: CallerReports | None = None,
                 home: SemanticModel | None = None) -> list[Finding]:
    """One finding per rule and primary location, whichever replays reported it.
    Positions are computed only here, once per file that has something to report, and
    only for the nodes a finding may name.

    A step taken in another module of the project is reported at the statement of this
    file that led there (the call, or the import that ran it), with the step itself as a
    note in its own file. A finding made only of steps inside one other module is left
    to that module's own report (its code is linted as an entry point there).

    The ``callers``' reports (the programs of modules importing this file) count where
    their evidence lies in this file and the modules it imports: those are the
    findings the callers' own reports leave to this file. ``home`` is this file's own
    model (its imports and its blocks that expect an error), when given."""

    from bnlint.semantic.paths import describe

    reports = list(reports)
    own = len(reports)
    if callers is not None:
        reports.extend(callers.reports)
    if not reports:
        return []
    model = home or reports[0].model
    others = {**callers.modules, **model.project_modules} if callers else (
        model.project_modules)
    where = _Locator(module, others, list(_located(reports, model.raising_blocks)))

    # a test that runs code to see it fail (`with pytest.raises(...)`) means it
    raising = [where.own(block) for block in model.raising_blocks]
    # (a step in another module is reported at the statement leading to it: steps
    # behind one call that say different things, `gan.fit(...)` running a train_step
    # that misuses two models, stay two findings)
    grouped: dict[tuple[str, Span, str | None], list[PathReport]] = {}
    for index, item in enumerate(reports):
        elsewhere: str | None = None
        primary = where.own(item.report.node)
        if index >= own:
            assert callers is not None
            if primary is None or not where.within(item.report, callers.home,
                                                   item.model.project):
                continue  # the caller's own report shows it
        elif primary is None:
            site = _entry_site(item)
            primary = where.own(site) if site is not None else None
            elsewhere = item.report.message
            if primary is None or not where.spans_files(
                    item.report.node,
                    [item.report.node, *(node for node, _ in item.report.related
                                         if node is not site)], item.model.project):
                continue  # (the call that leads there is no evidence of its own)
        if not any(_within(primary, block) for block in raising if block is not None):
            grouped.setdefault((item.rule.code, primary, elsewhere), []).append(item)
    findings: list[Finding] = []
    for (_, primary, _), group in grouped.items():
        holding = holds(group, tried)
        if holding is None:
            continue
        rule, report = holding.report.rule, holding.report.report
        steps: dict[tuple[str | None, Span, str], None] = {}
        if where.own(report.node) is None:
            located = where.anywhere(report.node)
            if located is not None:
                steps[(*located, _STEP_ELSEWHERE)] = None
        for node, message in report.related:
            located = where.anywhere(node)
            if located is not None:
                steps[(*located, message)] = None
        ordered = sorted(steps, key=lambda step: (step[0] is not None, step[0] or "",
                                                  step[1].start.row, step[1].start.column))
        related = tuple(Related(message, span, path) for path, span, message in ordered)
        for decision in holding.conditions:
            located = where.anywhere(decision.node.test)
            if located is not None:
                related += (Related(describe(decision), located[1], located[0]),)
        if holding.entry is not None:
            related += (Related(holding.entry, primary),)
        if any(holding.report is item for item in reports[own:]):
            site = _entry_site(holding.report)
            located = where.anywhere(site) if site is not None else None
            if located is not None:  # the caller's statement that runs this file's code
                related += (Related(_CALLED_FROM, located[1], located[0]),)
        findings.append(Finding(
            code=rule.code,
            name=rule.name,
            severity=report.severity or rule.severity,
            message=report.message,
            span=primary,
            related=related,
            scenario=report.scenario,
            fix=_fix(report.fix, where, text) if report.fix is not None else None,
        ))
    return sorted(findings, key=lambda f: (f.span.start.row, f.span.start.column, f.code))


_STEP_ELSEWHERE = "the step reported above, in another module of the project"
_CALLED_FROM = "the program that imports this module runs it from here"


def _fix(rewrite: Rewrite, where: _Locator, text: str) -> Fix | None:
    """The rule's rewrite as edits of this file's program text; None when a node it
    changes is not in this file."""
    from bnlint.sources import split_lines

    rows = split_lines(text)
    edits: list[Edit] = []
    for change in rewrite.changes:
        start = _anchor(change.start, where, rows)
        end = _anchor(change.end, where, rows)
        if start is None or end is None:
            return None
        content = change.text
        if change.indent:
            line = rows[start.row - 1] if start.row <= len(rows) else ""
            margin = line[: len(line) - len(line.lstrip(" \t"))]
            content = "\n".join([content.split("\n")[0], *(
                margin + piece if piece else piece for piece in content.split("\n")[1:])])
        edits.append(Edit(Span(start, end), content))
    return Fix(rewrite.message, rewrite.applicability, tuple(edits))


def _anchor(anchor: Anchor, where: _Locator, rows: Sequence[str]) -> Position | None:
    span = where.own(anchor.node)
    if span is None:
        return None
    if anchor.side == "start":
        return span.start
    if anchor.side == "end":
        return span.end
    row = span.end.row
    return Position(row, len(rows[row - 1]) + 1 if row <= len(rows) else 1)


class _Locator:
    """Spans of nodes of the linted module and of the project modules it imported
    (whose positions are computed only when one of their nodes is reported)."""

    def __init__(self, module: cst.Module, others: Mapping[str, cst.Module],
                 wanted: list[cst.CSTNode]) -> None:
        from bnlint.positions import node_ranges

        self.wanted = wanted
        self.ranges = node_ranges(module, wanted)
        self.others = others
        self.other_ranges: dict[str, dict[int, CodeRange]] = {}

    def own(self, node: cst.CSTNode) -> Span | None:
        where = self.ranges.get(id(node))
        return _span(where) if where is not None else None

    def spans_files(self, primary: cst.CSTNode, nodes: Iterable[cst.CSTNode],
                    project: Project | None) -> bool:
        """Does evidence made of ``nodes`` touch this file, or a module that the
        module of the step ``primary`` does not import (so that its own report cannot
        see the whole of it: a trainer class given a model built elsewhere)?"""
        files: set[str | None] = set()
        for node in nodes:
            located = self.located_in(node)
            if located is not None:
                files.add(located[0])
        home = self.located_in(primary)
        if None in files or home is None or home[0] is None:
            return None in files
        seen = _imported_closure(home[0], project, set(self.others))
        return not files <= seen

    def within(self, report: Report, home: str, project: Project | None) -> bool:
        """Does all evidence of ``report`` lie in this file (at ``home``) and the modules
        it imports, so that its own replays could see all of it?"""
        files: set[str | None] = set()
        for node in (report.node, *(node for node, _ in report.related)):
            located = self.located_in(node)
            if located is not None:
                files.add(located[0])
        return files <= {None} | _imported_closure(home, project, set(self.others))

    def anywhere(self, node: cst.CSTNode) -> tuple[str | None, Span] | None:
        """(path shown for another module or None for this file, span)."""
        from bnlint.project import shown_path

        located = self.located_in(node)
        if located is None:
            return None
        path, span = located
        return (shown_path(path) if path is not None else None), span

    def located_in(self, node: cst.CSTNode) -> tuple[str | None, Span] | None:
        """(absolute path of another module or None for this file, span)."""
        span = self.own(node)
        if span is not None:
            return None, span
        from bnlint.positions import node_ranges

        for path, module in self.others.items():
            if path not in self.other_ranges:
                try:
                    self.other_ranges[path] = node_ranges(module, self.wanted)
                except RecursionError:
                    self.other_ranges[path] = {}
            where = self.other_ranges[path].get(id(node))
            if where is not None:
                return path, _span(where)
        return None


def _imported_closure(home: str, project: Project | None,
                      read: set[str]) -> set[str | None]:
    """``home`` and the modules read for this file that it imports, directly or not:
    what the report of ``home`` itself sees."""
    from bnlint.project import module_text

    seen: set[str | None] = {home}
    if project is None:
        return seen
    queue = [home]
    while queue:
        path = queue.pop()
        for imported in project.imported_paths(module_text(path), path):
            if imported in read and imported not in seen:
                seen.add(imported)
                queue.append(imported)
    return seen


def _span(where: CodeRange) -> Span:
    return Span(Position(where.start.line, where.start.column + 1),
                Position(where.end.line, where.end.column + 1))


def _located(reports: Sequence[PathReport],
             raising_blocks: Iterable[cst.CSTNode]) -> Iterator[cst.CSTNode]:
    """Every node a finding made of ``reports`` may be located at: the primary and
    related nodes, the tests of the conditions of each path, the blocks expected to
    raise."""
    yield from raising_blocks
    models: dict[int, SemanticModel] = {}
    for item in reports:
        yield item.report.node
        site = _entry_site(item)
        if site is not None:  # where a step in another module is reported
            yield site
        for node, _ in item.report.related:
            yield node
        for change in item.report.fix.changes if item.report.fix is not None else ():
            yield change.start.node
            yield change.end.node
        models[id(item.model)] = item.model
    for model in models.values():
        for decision in model.decisions:
            yield decision.node.test


def _entry_site(item: PathReport) -> cst.CSTNode | None:
    """The statement of the linted file that led to the step a report names in another
    module: that of its primary node's event or, for a node no event names (the
    `batch_size=` argument of a fit), that of the first related step that has one."""
    sites = item.model.entry_sites
    site = item.report.entry or sites.get(id(item.report.node))
    for node, _ in item.report.related:
        if site is not None:
            break
        site = sites.get(id(node))
    return site


def _within(inner: Span, outer: Span) -> bool:
    return ((outer.start.row, outer.start.column) <= (inner.start.row, inner.start.column)
            and (inner.end.row, inner.end.column) <= (outer.end.row, outer.end.column))
