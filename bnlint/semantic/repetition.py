"""How training repeats: the iterations of a training loop and the callback hooks fit()
runs.

The replay reads a loop body or a callback hook once, but Keras runs it many times:
``for epoch in range(10): model.fit(x, y, epochs=1)`` trains ten times, and fit() calls
``on_epoch_end`` after every epoch. Whether a step that changes the model acts before
the first training or between two trainings (where the train function already exists)
depends on which iteration it runs in. These questions read that off the loop and the
hook: the shapes that say so for sure (``if epoch == 5:``), never a guess.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bnlint.semantic.events import Event, PathKind
from bnlint.semantic.values import Const, Layer
from bnlint.semantic.walk import run_visitor

if TYPE_CHECKING:
    import libcst as cst

    from bnlint.semantic.constants import ModuleConstants
    from bnlint.semantic.model import SemanticModel
else:
    from bnlint.lazy import libcst as cst

_Steps = tuple[tuple[PathKind, "cst.CSTNode"], ...]

# Hooks fit() runs after a train step of the same fit() (with more to come for the
# epoch ones only when there is another epoch).
_AFTER_A_STEP = frozenset({"on_train_batch_end", "on_batch_end"})
# Hooks that also run before the first step: their first call (epoch or batch 0) is
# harmless, later ones are not.
_BEFORE_EACH_STEP = frozenset({"on_epoch_begin", "on_train_batch_begin", "on_batch_begin"})


@dataclass(frozen=True, slots=True)
class Loop:
    """A ``for`` / ``while`` statement whose body the replay read once."""

    node: cst.CSTNode
    model: SemanticModel
    # the events of one iteration, with their positions in the trace
    body: tuple[tuple[int, Event], ...]

    def fits_every_iteration(self, trained: Layer) -> list[tuple[int, Event]]:
        """The fits of ``trained`` that every iteration runs (in the body itself, not
        under a condition or an inner loop), with their positions in the trace."""
        return [(index, event) for index, event in self.body
                if event.kind == "fit" and event.layer is trained
                and not event.context.standalone and self.runs_every_iteration(event)]

    def may_recapture(self, trained: Layer, changed: Layer) -> bool:
        """Does an iteration compile ``trained``, ``changed`` or a model holding it, or
        hand one of them to code the model cannot follow (which may recompile it)?"""
        return any(event.kind in {"compile", "escape"} and event.layer is not None and (
            event.layer is trained or event.layer is changed
            or changed in event.layer.descendants()) for _, event in self.body)

    def may_end_early(self) -> bool:
        """Can the loop end early (``break``, ``return``, ``raise`` in its body, not those
        of a nested function; in a nested loop only ``return`` / ``raise``)? Then the
        iteration after a step may never come. True for anything but ``for`` / ``while``."""
        if not isinstance(self.node, (cst.For, cst.While)):
            return True
        finder = _ExitFinder()
        run_visitor(finder, self.node.body)
        return finder.found

    def runs_every_iteration(self, event: Event) -> bool:
        """Is ``event`` in the loop's body itself, under no ``if``, ``except`` or inner loop?"""
        return event.context.within(self.node) == ()

    def is_guarded(self, event: Event) -> bool:
        """Does a condition inside the loop (``if``, ``else``, ``except``) decide whether
        ``event`` runs in an iteration?"""
        return any(kind != "loop" for kind, _ in self.node_path(event))

    def runs_after_first_iteration(self, event: Event) -> bool:
        """Does ``event`` (in the loop) run in some iteration after the first? Only the
        shapes that say so for sure: ``if epoch == N`` / ``>=`` / ``>`` with N a known
        number, not 0 (and their ``else`` for ``== 0`` / ``<`` / ``<=``), on the loop
        variable of ``for epoch in range(...)``."""
        counter = self._counter()
        return counter is not None and after_first(
            counter, self.node_path(event), self.model.constants)

    def runs_before_last_iteration(self, event: Event) -> bool:
        """Does ``event`` run in an iteration that another one follows? ``if epoch == N``
        / ``>= N`` / ``> N`` on the loop variable, with N a known number below the last
        value of ``range(...)`` (when that is known)."""
        counter = self._counter()
        if counter is None:
            return False
        found = guard(counter, self.node_path(event), self.model.constants)
        if found is None or found[0] != "if":
            return False
        _, operator, number = found
        if not isinstance(operator, (cst.Equal, cst.GreaterThan, cst.GreaterThanEqual)):
            return False
        last = self.last_value()
        return last is None or number < last - (1 if isinstance(operator, cst.GreaterThan)
                                                else 0)

    def last_value(self) -> float | None:
        """The last value of ``for i in range(n)`` / ``range(a, n)``, when n is known."""
        if not isinstance(self.node, cst.For):
            return None
        call = self.node.iter
        if not (isinstance(call, cst.Call) and isinstance(call.func, cst.Name)
                and call.func.value == "range" and 1 <= len(call.args) <= 2):
            return None
        stop = self.model.constants.number(call.args[-1].value)
        return stop - 1 if stop is not None else None

    def entered_whenever(self, before: Event, first: Event) -> bool:
        """Does the loop run whenever ``before`` (a step ahead of it) ran? ``before`` runs
        for sure, and the part of the path of ``first`` (an event of the body) outside
        the loop is no more conditional than ``before``'s."""
        if not before.context.definite:
            return False
        outside: list[tuple[PathKind, cst.CSTNode]] = []
        for step in first.context.path:
            if step[1] is self.node:
                break
            outside.append(step)
        return all(kind == "loop" or any(node is other for _, other in before.context.path)
                   for kind, node in outside)

    def node_path(self, event: Event) -> _Steps:
        """The control structures between the loop and ``event`` (empty when it is in the
        body itself or outside the loop)."""
        return event.context.within(self.node) or ()

    def _counter(self) -> str | None:
        """The variable of ``for epoch in ...``."""
        if isinstance(self.node, cst.For) and isinstance(self.node.target, cst.Name):
            return self.node.target.value
        return None


def loops_repeating(model: SemanticModel, event: Event) -> Iterator[Loop]:
    """The loops whose iterations repeat ``event``, innermost first."""
    for node in reversed(event.context.loops()):
        inner = event.context.within(node) or ()
        if any(kind != "loop" and other is node for kind, other in inner):
            continue
        yield Loop(node, model, model.trace.loop_body(node))


@dataclass(frozen=True, slots=True)
class Hook:
    """A callback hook (``on_epoch_end``...) of a user callback, run by a ``fit()``."""

    name: str
    function: cst.FunctionDef
    fit: Event
    model: SemanticModel

    def events(self) -> list[Event]:
        """The events of the callbacks this fit() runs (every hook of every callback)."""
        return self.model.trace.callback_events(self.fit.node)

    def may_end_fit_or_escape(self) -> bool:
        """Do this fit()'s callbacks stop it (``self.model.stop_training = True``) or hand
        a model to code the model cannot follow?"""
        return any(event.kind == "escape" or event.kind == "set_attr"
                   and event.attr == "stop_training" for event in self.events())

    def acts_after_first_step(self, event: Event) -> bool:
        """Does the hook run ``event`` after fit() ran a train step, with more training of
        this fit() to come? After each batch: always; after each epoch: when fit() runs
        more than one; before each epoch or batch: when a guard on the hook's counter
        (``if epoch == 5:``) skips the first call."""
        if self.name in _AFTER_A_STEP:
            return True
        if self.name == "on_epoch_end":
            return more_than_one_epoch(self.fit.node)
        if self.name not in _BEFORE_EACH_STEP:
            return False
        params = self.function.params.params
        if len(params) < 2:
            return False
        inner = event.context.path
        for index, (kind, node) in enumerate(inner):
            if kind == "callback" and node is self.fit.node:
                inner = inner[index + 1:]
        return after_first(params[1].name.value, inner, self.model.constants)

    def rebuilds_train_function(self) -> bool:
        """Does the hook call ``make_train_function(force=True)`` (tf-keras)? Then the
        train function is rebuilt with the new configuration."""
        return "make_train_function" in cst.Module([]).code_for_node(self.function)


def hook_running(model: SemanticModel, event: Event) -> Hook | None:
    """The callback hook whose body runs ``event``, with the fit() (run for sure) that
    calls it; None when ``event`` is not in a hook or either is unknown."""
    fit_node = event.context.callback_of()
    if fit_node is None:
        return None
    fit = next((other for other in model.events_at(fit_node) if other.kind == "fit"
                and other.context.definite), None)
    owner, function = event.context.method_of, event.context.function
    if fit is None or owner is None or function is None:
        return None
    name = function.rsplit(".", 1)[-1]
    value = model.class_named(owner)
    method = value.methods.get(name) if value is not None else None
    if method is None or not isinstance(method.node, cst.FunctionDef):
        return None
    return Hook(name, method.node, fit, model)


def more_than_one_epoch(fit_node: cst.CSTNode) -> bool:
    """``epochs=`` is given and is not the literal 1 (fit()'s default is one epoch)."""
    if not isinstance(fit_node, cst.Call):
        return False
    for index, arg in enumerate(fit_node.args):
        keyword = arg.keyword.value if arg.keyword is not None else None
        if keyword == "epochs" or keyword is None and index == 3:
            return not (isinstance(arg.value, cst.Integer) and arg.value.evaluated_value <= 1)
    return False


def sets_back(change: Event, repeated: Iterable[Event]) -> bool:
    """Do the ``repeated`` events (a loop body, a fit's callbacks) also set what
    ``change`` (``trainable = <constant>``) set to another value, or to an unknown one
    (the GAN loop's ``D.trainable = True`` ... ``D.trainable = False`` around each
    model's own step)? Then each training may see the configuration it was compiled
    with."""
    target = change.layer
    value = change.value.value if isinstance(change.value, Const) else None
    for event in repeated:
        if event is change or event.kind != "set_trainable" or event.layer is None:
            continue
        other = event.value
        if isinstance(other, Const) and other.value is value:
            continue
        if event.layer is target or target in event.layer.descendants() or (
                target is not None and event.layer in target.descendants()):
            return True
    return False


def guard(counter: str, inner: _Steps,
          constants: ModuleConstants) -> tuple[str, cst.BaseCompOp, float] | None:
    """The one ``if`` around a step (``inner``: its path below the loop or hook) when it
    compares ``counter`` with a known number: (branch taken, operator, number)."""
    if len(inner) != 1 or inner[0][0] not in {"if", "else"}:
        return None
    kind, node = inner[0]
    if not isinstance(node, cst.If):
        return None
    test = node.test
    if not isinstance(test, cst.Comparison) or len(test.comparisons) != 1:
        return None
    left, comparison = test.left, test.comparisons[0]
    if not isinstance(left, cst.Name) or left.value != counter:
        return None
    number = constants.number(comparison.comparator)
    if number is None or number < 0:
        return None
    return kind, comparison.operator, number


def after_first(counter: str, inner: _Steps, constants: ModuleConstants) -> bool:
    """Is the step under one ``if`` on ``counter`` (a loop variable, the ``epoch``
    parameter of a callback hook) that is false for its first value (0)?"""
    found = guard(counter, inner, constants)
    if found is None:
        return False
    kind, operator, number = found
    if kind == "if":
        if isinstance(operator, cst.Equal):
            return number != 0
        return isinstance(operator, cst.GreaterThan) or (
            isinstance(operator, cst.GreaterThanEqual) and number >= 1)
    if isinstance(operator, cst.Equal):
        return number == 0
    return isinstance(operator, cst.LessThanEqual) or (
        isinstance(operator, cst.LessThan) and number >= 1)


class _ExitFinder:
    """Finds ``break`` / ``return`` / ``raise`` that leave a loop (not those of nested
    loops or functions)."""

    def __init__(self) -> None:
        self.found = False

    def visit_Break(self, node: cst.Break) -> bool:
        self.found = True
        return False

    def visit_Return(self, node: cst.Return) -> bool:
        self.found = True
        return False

    def visit_Raise(self, node: cst.Raise) -> bool:
        self.found = True
        return False

    def visit_For(self, node: cst.For) -> bool:
        self.nested(node)
        return False

    def visit_While(self, node: cst.While) -> bool:
        self.nested(node)
        return False

    def nested(self, node: cst.For | cst.While) -> None:
        """In a nested loop only ``return`` / ``raise`` leave the outer one, except in
        its ``else:``, which runs in the outer loop's body."""
        run_visitor(_ReturnFinder(self), node.body)
        if node.orelse is not None:
            run_visitor(self, node.orelse)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False


class _ReturnFinder:
    """Inside a nested loop only ``return`` / ``raise`` leave the outer loop."""

    def __init__(self, outer: _ExitFinder) -> None:
        self.outer = outer

    def visit_Return(self, node: cst.Return) -> bool:
        self.outer.found = True
        return False

    def visit_Raise(self, node: cst.Raise) -> bool:
        self.outer.found = True
        return False

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False
