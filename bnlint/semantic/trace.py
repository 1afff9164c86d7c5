"""Indexes over a finished event trace, so that the rules' questions cost what their
answers hold, not a scan of the whole trace each.

A rule asks, per event, where it is in the trace, which loop iterations and callback
hooks repeat it, which trainability changes come between two events and what comes
next before the next training. Each of those read the whole trace once per question,
which made the analysis quadratic in the number of events of a file. The index is built
on first use, after the replay: the trace does not change any more then.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bnlint.semantic.events import Event
from bnlint.semantic.values import Layer

if TYPE_CHECKING:
    import libcst as cst


@dataclass(slots=True)
class Changes:
    """``set_trainable`` events in trace order, with their positions in the trace."""

    positions: list[int] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)

    def between(self, start: int, end: int) -> range:
        """Indices (into ``events``) of the changes strictly between trace positions
        ``start`` and ``end``."""
        return range(bisect_right(self.positions, start), bisect_left(self.positions, end))


class TraceIndex:
    """Positions, loop bodies, callback events and trainability changes of one trace."""

    def __init__(self, events: Sequence[Event]) -> None:
        self.events = events
        self._positions: dict[int, int] = {}
        self.changes = Changes()
        # compiles, fits and changes that may or may not run: what ends a search for
        # the next training (see ``trainings.next_fit_without_recompile``)
        self.training_steps: list[int] = []
        for position, event in enumerate(events):
            self._positions.setdefault(id(event), position)
            if event.kind == "set_trainable":
                self.changes.positions.append(position)
                self.changes.events.append(event)
            if event.kind in {"compile", "fit"} or (
                    event.kind == "set_trainable" and not event.context.definite):
                self.training_steps.append(position)
        # per layer (by id): the changes that could change its trainability; filled by
        # ``workflow.trainable_changes_between``, which decides what "could" means
        self.touching: dict[int, Changes] = {}
        # what ``workflow`` indexes to fill ``touching``: the changes (indices into
        # ``changes``) by target layer, those of no tracked target, and per layer the
        # layers it is flattened into
        self.by_target: dict[int, list[int]] | None = None
        self.everywhere: list[int] = []
        self.flattening: dict[int, list[Layer]] | None = None
        # per layer (by id): the first trusted freeze of it (see ``workflow.first_freeze``)
        self.first_freezes: dict[int, Event | None] = {}
        self._loop_bodies: dict[int, list[tuple[int, Event]]] | None = None
        self._callbacks: dict[int, list[Event]] | None = None
        self._calls: dict[str | None, list[Event]] | None = None

    def position(self, event: Event) -> int:
        """The index of ``event`` in the trace (its first occurrence; -1 when it is not
        there)."""
        return self._positions.get(id(event), -1)

    def bounds(self, start: Event | None, end: Event | None) -> tuple[int, int] | None:
        """Trace positions strictly between which the events after ``start`` (the
        beginning when None) and before ``end`` (the end when None) lie; None when
        ``start`` is not in the trace."""
        low = -1 if start is None else self.position(start)
        if start is not None and low < 0:
            return None
        high = len(self.events) if end is None else self.position(end)
        if high < 0:
            high = len(self.events)
        return low, high

    def loop_body(self, loop: cst.CSTNode) -> tuple[tuple[int, Event], ...]:
        """The events inside ``loop`` (a For/While of some event's path), with their
        positions, in trace order."""
        if self._loop_bodies is None:
            bodies: dict[int, list[tuple[int, Event]]] = {}
            for position, event in enumerate(self.events):
                loops = {id(node) for kind, node in event.context.path if kind == "loop"}
                for key in loops:
                    bodies.setdefault(key, []).append((position, event))
            self._loop_bodies = bodies
        return tuple(self._loop_bodies.get(id(loop), ()))

    def callback_events(self, fit: cst.CSTNode) -> list[Event]:
        """The events run by the callback hooks of the ``fit()`` call ``fit`` (those whose
        innermost callback is that fit)."""
        if self._callbacks is None:
            callbacks: dict[int, list[Event]] = {}
            for event in self.events:
                node = event.context.callback_of()
                if node is not None:
                    callbacks.setdefault(id(node), []).append(event)
            self._callbacks = callbacks
        return list(self._callbacks.get(id(fit), ()))

    def calls_in(self, function: str) -> list[Event]:
        """The ``call`` events whose statement is in the body of ``function`` (a
        qualified name), in trace order."""
        if self._calls is None:
            calls: dict[str | None, list[Event]] = {}
            for event in self.events:
                if event.kind == "call":
                    calls.setdefault(event.context.function, []).append(event)
            self._calls = calls
        return list(self._calls.get(function, ()))

    def training_steps_after(self, position: int) -> Iterator[Event]:
        """The compiles, fits and maybe-run trainability changes after ``position``, in
        trace order."""
        steps = self.training_steps
        for index in range(bisect_right(steps, position), len(steps)):
            yield self.events[steps[index]]
