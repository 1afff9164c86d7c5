"""Which compile() configured each training of a model.

Keras fixes the set of trainable weights when a model's train function is built: at
``compile()`` in tf-keras, at the first ``fit()`` after a compile in Keras 3. So a
question about a ``trainable`` change is a question about the compile in force and
whether a fit already ran under it. The index is built once per model (scanning the
whole trace for every change would be quadratic).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from bnlint.semantic.events import Event
from bnlint.semantic.values import Layer


@dataclass(frozen=True, slots=True)
class Compiled:
    """The compile in force for a model at some point, and the first fit that ran under
    it before that point (None: no fit yet, so Keras 3 has not built the train
    function)."""

    compile: Event
    first_fit: Event | None


@dataclass(slots=True)
class _Trainings:
    """One model's compile and fit events in trace order, with their trace positions
    and which of them are compiles (indices into ``events``)."""

    positions: list[int] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    compiles: list[int] = field(default_factory=list)

    def since_last_compile(self, end: int) -> Iterator[Event]:
        """The last compile before trace position ``end`` and the fits after it, up to
        the first trusted one."""
        before = bisect_left(self.positions, end)
        last = bisect_left(self.compiles, before) - 1
        if last < 0:
            return
        for event in self.events[self.compiles[last]:before]:
            yield event
            if event.kind == "fit" and event.context.definite:
                return


class TrainingIndex:
    """Every model's compiles and fits, by model."""

    def __init__(self, events: Sequence[Event]) -> None:
        self._by_layer: dict[int, _Trainings] = {}
        for position, event in enumerate(events):
            if event.kind in {"compile", "fit"} and event.layer is not None:
                entry = self._by_layer.setdefault(id(event.layer), _Trainings())
                if event.kind == "compile":
                    entry.compiles.append(len(entry.events))
                entry.positions.append(position)
                entry.events.append(event)

    def before(self, layer: Layer, end: int) -> list[Event]:
        """The compiles and fits of ``layer`` before trace position ``end``, in order."""
        found = self._by_layer.get(id(layer))
        if found is None:
            return []
        return found.events[:bisect_left(found.positions, end)]

    def compiled_before(self, layer: Layer, end: int) -> Compiled | None:
        """The compile of ``layer`` in force at trace position ``end``. None when there
        is none, when the last one may not run, or when a fit after it may or may not
        run (whether a fit ran decides the Keras 3 outcome)."""
        found = self._by_layer.get(id(layer))
        if found is None:
            return None
        return _compiled(found.since_last_compile(end), layer)


def _compiled(before: Iterable[Event], layer: Layer) -> Compiled | None:
    compile_event: Event | None = None
    fit: Event | None = None
    maybe_fit = False
    for event in before:
        if event.layer is not layer:
            continue
        if event.kind == "compile":
            compile_event = event if event.context.definite else None
            fit, maybe_fit = None, False
        elif event.kind == "fit" and fit is None and compile_event is not None:
            if event.context.definite:
                fit = event
            else:
                maybe_fit = True
    if compile_event is None or maybe_fit and fit is None:
        return None
    return Compiled(compile_event, fit)


def next_fit_without_recompile(steps: Iterable[Event], model: Layer,
                               touched: Layer) -> Event | None:
    """The next training of ``model`` among ``steps`` (the compiles, fits and
    maybe-run trainability changes after some point of the trace, in order), when no
    compile comes first that could capture a change of ``touched``: of ``model``, of
    ``touched``, of another model holding ``touched`` (the GAN recipe: compile D, freeze
    it, compile the combined model), or of a functional model whose graph is partly
    unknown (it may hold ``touched``: a generator from another module). None also when a
    trainable change of ``model`` that may or may not run comes first, or when the fit
    itself may not run."""
    for event in steps:
        layer = event.layer
        if event.kind == "compile" and layer is not None and (
            layer is model or layer is touched or touched in layer.descendants()
            or layer.has_bn is None and layer.model_kind == "functional"
        ):
            return None
        if event.kind == "set_trainable" and not event.context.definite and layer is not None and (
            layer is model or model in layer.descendants() or layer in model.descendants()
        ):
            return None
        if event.kind == "fit" and layer is model:
            return event if event.context.definite else None
    return None
