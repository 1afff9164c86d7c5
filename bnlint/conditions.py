"""When a finding holds: which replays reported it (the module with branches joined, one
path through its undecided conditions, code nobody calls replayed as an entry point),
and the conditions and entry point its notes must name."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bnlint.rule import Report, Rule

if TYPE_CHECKING:
    import libcst as cst

    from bnlint.semantic.events import Context
    from bnlint.semantic.model import SemanticModel
    from bnlint.semantic.paths import Decision


@dataclass(frozen=True, slots=True)
class PathReport:
    """A rule's report on one replay: with branches joined (``joined``), or on the path
    that answered ``decisions``."""

    rule: type[Rule]
    report: Report
    model: SemanticModel
    joined: bool


@dataclass(frozen=True, slots=True)
class Holding:
    """A finding that holds: the report to show, the conditions it needs (none when it
    holds whichever way they go) and, for code nobody calls, the entry point's note."""

    report: PathReport
    conditions: list[Decision]
    entry: str | None


def holds(group: Sequence[PathReport],
          tried: frozenset[tuple[tuple[str, bool], ...]] | None = None) -> Holding | None:
    """Whether the reports of one rule at one place make a finding, and under what.

    The conditions are those every path reporting it answered alike, counted only where
    a step of its evidence lies inside the arm taken; a finding seen on paths alone must
    not rest on an arm that would prevent it being skipped. ``tried`` holds the answers
    (from the first condition on) of every replayed path and their beginnings: where
    there were more paths than were replayed, a condition whose other answer was never
    tried after the same earlier answers says nothing either way. Steps from two entry
    points make no finding (their order is not known)."""
    joined = next((item for item in group if item.joined), None)
    on_paths = [item for item in group if not item.joined]
    shared = _shared_decisions(on_paths) if on_paths else []
    # `args.stage == 'probe'` false where `args.stage == 'finetune'` holds says nothing
    # more: neither a condition to name nor an arm the finding rests on
    shared = [d for d in shared if not d.implied_by(shared)]
    # a condition the shipped settings answer the way the path did is what a run given
    # no options does (`if args.data == "unreal":` is false by default): no gate
    conditions = [d for d in shared if _inside_arm(on_paths[0], d) or d.default is d.value]
    gates = [d for d in shared if d not in conditions
             and (tried is None or _flip_tried(on_paths[0].model.decisions, d, tried))]
    if joined is None and gates:
        return None
    # reported with branches joined, yet not on the replayed path that answers a gate the
    # other way: the joined replay took both arms' steps together (`if use_bn:` adds a
    # BatchNormalization to the graph), and the finding holds as the reporting paths
    # answered it, so that is its condition
    conditions += gates
    first = joined or on_paths[0]
    entry = _entry_point(first)
    if entry is False:
        return None
    return Holding(first, conditions, entry if isinstance(entry, str) else None)


def _entry_point(item: PathReport) -> str | bool | None:
    """For a finding found while replaying code the file never calls: the note saying
    when it holds ("when `Trainer.finetune` runs after `Trainer.__init__`"). Such code
    runs after the module (another file imports and calls it), so its steps may follow
    the module's own; None for a finding of the module's own flow, False when its
    steps come from two entry points (whose order is not known)."""
    model = item.model
    steps: list[set[str | None]] = []
    for node in (item.report.node, *(node for node, _ in item.report.related)):
        # (where a model is built always precedes its use: it orders nothing)
        entries = {event.context.entry for event in model.events_at(node)
                   if event.kind != "create"}
        if entries:  # steps the replay recorded (a note may point at plain syntax)
            steps.append(entries)
    if all(None in entries for entries in steps):
        return None
    candidates = sorted({name for entries in steps for name in entries if name is not None})
    entry = next((name for name in candidates
                  if all(name in entries or None in entries for entries in steps)), None)
    if entry is None:
        return False
    owner, _, method = entry.rpartition(".")
    if owner and method != "__init__":
        return f"when `{entry}` runs after `{owner}.__init__`"
    return f"when `{entry}` runs"


def _shared_decisions(group: Sequence[PathReport]) -> list[Decision]:
    """The answers every path that reported the finding gave: the conditions under
    which it holds (none when it holds whichever way they go)."""
    shared = {(d.key, d.value): d for d in group[0].model.decisions}
    for item in group[1:]:
        answers = {(d.key, d.value) for d in item.model.decisions}
        shared = {key: d for key, d in shared.items() if key in answers}
    return list(shared.values())


def _flip_tried(answers: Sequence[Decision], decision: Decision,
                tried: frozenset[tuple[tuple[str, bool], ...]]) -> bool:
    """Was the other answer to ``decision`` replayed after the same earlier answers?"""
    earlier: list[tuple[str, bool]] = []
    for answer in answers:
        if answer.key == decision.key:
            return (*earlier, (answer.key, not answer.value)) in tried
        earlier.append((answer.key, answer.value))
    return True


def _contexts(model: SemanticModel, nodes: Sequence[cst.CSTNode]) -> Iterator[Context]:
    """Where the replay met the finding's steps: the events recorded at them, and the
    calls resolved at them (a TF1 ``batch_norm`` the train op's graph holds is a call,
    not an event, and may be reached only through a call written in an arm)."""
    for node in nodes:
        for event in model.events_at(node):
            yield event.context
    wanted = {id(node) for node in nodes}
    for call in model.calls:
        if id(call.node) in wanted:
            yield call.context


def _inside_arm(item: PathReport, decision: Decision) -> bool:
    """Does a step of the finding's evidence run inside the arm the path took? If not,
    the finding rests on the other arm not running: on code the user wrote to guard
    against it (``if freeze: base.trainable = False``), which is not a mistake."""
    ifs = {id(node) for node in decision.ifs}
    nodes = [item.report.node, *(node for node, _ in item.report.related),
             *item.report.anchors]
    if any(id(step) in ifs for context in _contexts(item.model, nodes)
           for _, step in context.path):
        return True
    # a step that is no event (the argument that sets a batch size) written in the arm,
    # or reached from a statement of the arm (a call into another module)
    from bnlint.semantic.walk import walk

    written = {id(node) for node in nodes}
    written |= {id(site) for node in nodes
                if (site := item.model.entry_sites.get(id(node))) is not None}
    for node in decision.ifs:
        arm = node.body if decision.value else node.orelse
        if arm is not None and any(id(inner) in written for inner in walk(arm)):
            return True
    return False
