"""Fine-tuning workflow queries over the event trace: bases, phases, unfreezes, wiring.

These are the facts the BN2xx rules share: which pretrained base a model contains and
how it is wired in, when the base is frozen and unfrozen, and which training phases
(compile -> fit) a model goes through with which learning rate.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from bnlint.semantic.events import Event
from bnlint.semantic.model import SemanticModel
from bnlint.semantic.values import Const, Layer, Tri, Wiring

if TYPE_CHECKING:
    from bnlint.flavour import Flavour

# How a base's BN layers run during fit(), from the way it is wired into the model.
BnMode = Literal[
    "training",  # Sequential, functional call without training=False, flattened, ...
    "inference",  # training=False honoured (subclassed call, tf-keras functional)
    "overridden",  # functional training=False that Keras 3.0-3.15 overrides (F5)
    "maybe-overridden",  # the same, Keras 3 of unknown version
    "explicit-true",  # the user hard-coded training=True
    "unknown",
]


@dataclass(frozen=True, slots=True)
class Phase:
    """A training phase of one model: the compile that configured it (if seen) and the
    fit that ran it, with the learning rate in effect at the fit."""

    model: Layer
    compile: Event | None
    fit: Event
    index: int

    @property
    def learning_rate(self) -> float | None:
        return self.fit.learning_rate


def is_pretrained_base(layer: Layer) -> bool:
    """A model carrying pretrained weights: an application/backbone with weights, a
    loaded model, or a model whose weights were loaded."""
    return layer.is_model and layer.pretrained


def is_bn_base(layer: Layer) -> bool:
    """A pretrained base that definitely contains BatchNormalization."""
    return is_pretrained_base(layer) and layer.contains_bn() is True


def trusted(event: Event) -> bool:
    """Events the workflow rules reason about: definitely executed, not a replay of a
    function with unknown arguments."""
    return event.context.definite and not event.context.standalone


def unfreezes(event: Event, base: Layer) -> bool:
    """Does this ``set_trainable`` event make (part of) ``base`` trainable, BN included?"""
    if event.kind != "set_trainable" or not _is_true(event):
        return False
    target = event.target
    if isinstance(target, Layer):
        return target is base or base in target.descendants()
    selection = event.selection
    if selection is None or selection.guard == "not_bn":
        return False
    container = selection.container
    if container is base:
        return True
    flattened = [w.child for w in container.children if w.mode == "flattened"]
    return base in flattened


def freezes(event: Event, base: Layer) -> bool:
    """Does this event set ``base`` (or a container of it) to ``trainable = False``?"""
    if event.kind != "set_trainable" or not _is_false(event):
        return False
    target = event.target
    return isinstance(target, Layer) and (target is base or base in target.descendants())


def _is_true(event: Event) -> bool:
    return isinstance(event.value, Const) and event.value.value is True


def _is_false(event: Event) -> bool:
    return isinstance(event.value, Const) and event.value.value is False


def phases(model: SemanticModel) -> dict[int, list[Phase]]:
    """Training phases per model (keyed by ``id(layer)``), in program order."""
    found: dict[int, list[Phase]] = {}
    last_compile: dict[int, Event] = {}
    for event in model.events:
        layer = event.layer
        if layer is None or not trusted(event):
            continue
        if event.kind == "compile":
            last_compile[id(layer)] = event
        elif event.kind == "fit":
            runs = found.setdefault(id(layer), [])
            runs.append(Phase(layer, last_compile.get(id(layer)), event, len(runs)))
    return found


def wiring_path(container: Layer, base: Layer) -> list[Wiring] | None:
    """The chain of wirings from ``container`` down to ``base`` (empty when they are the
    same object), or None when ``base`` is not inside ``container``."""
    if container is base:
        return []
    for wiring in container.children:
        if wiring.child is base:
            return [wiring]
        deeper = wiring_path(wiring.child, base)
        if deeper is not None:
            return [wiring, *deeper]
    return None


def bn_mode(path: list[Wiring], flavour: Flavour) -> tuple[BnMode, Wiring | None]:
    """How ``fit()`` runs the BN layers at the end of ``path``, and the wiring that
    decides it. ``fit()`` passes ``training=True``; each level either forwards it or
    overrides it with an explicit argument."""
    decisive: Wiring | None = None
    for wiring in path:
        decisive = wiring
        if wiring.mode in {"sequential", "flattened"}:
            continue
        if wiring.mode == "attribute" and not wiring.called:
            return "unknown", wiring  # how the subclassed call() uses it is not known
        if wiring.training in {"absent", "dynamic"}:
            continue
        if wiring.training == "true":
            return "explicit-true", wiring
        if wiring.training in {"false", "none"}:
            if wiring.training == "none" or wiring.mode == "attribute":
                return "inference", wiring
            # functional graph: recorded training=False
            override = flavour.keras3_functional_override()
            if override is True:
                return "overridden", wiring
            if override is None:
                return "maybe-overridden", wiring
            return "inference", wiring
    return "training", decisive


def events_between(model: SemanticModel, start: Event, end: Event) -> Iterator[Event]:
    """Events strictly after ``start`` and strictly before ``end``."""
    inside = False
    for event in model.events:
        if event is end:
            return
        if inside:
            yield event
        if event is start:
            inside = True


def bn_trainable_at(event: Event, layer: Layer) -> Tri:
    """BN trainability of ``layer`` when ``event`` (a compile or fit) happened."""
    states = event.extra.get("bn_trainable")
    if isinstance(states, dict):
        value = states.get(id(layer))
        if value is None or isinstance(value, bool):
            return value
    return None


def trainable_at(event: Event, layer: Layer) -> Tri:
    """The ``trainable`` flag of ``layer`` when ``event`` happened."""
    states = event.extra.get("trainable")
    if isinstance(states, dict):
        value = states.get(id(layer))
        if value is None or isinstance(value, bool):
            return value
    return None


def describe(layer: Layer) -> str:
    """`name` for messages."""
    return f"`{layer.label}`" if layer.label else "the model"


@dataclass(frozen=True, slots=True)
class UnfrozenBnBase:
    """A pretrained BN base unfrozen before a phase that trains it: the phase, the base,
    how fit() runs its BN layers (``mode``, decided at ``decisive``), and the unfreeze."""

    phase: Phase
    base: Layer
    mode: BnMode
    decisive: Wiring | None
    unfreeze: Event


def last_unfreeze(model: SemanticModel, base: Layer, before: Event) -> Event | None:
    """The last trusted event before ``before`` that unfreezes (part of) ``base``."""
    found: Event | None = None
    for event in model.events:
        if event is before:
            break
        if event.kind == "set_trainable" and trusted(event) and unfreezes(event, base):
            found = event
    return found


def unfrozen_bn_bases(model: SemanticModel, flavour: Flavour) -> Iterator[UnfrozenBnBase]:
    """Every phase that trains a pretrained BN base whose BN layers are trainable at the
    fit, after an unfreeze that a later compile made effective (an unfreeze without a
    recompile is BN203's concern). Each unfreeze is yielded once per base."""
    seen: set[tuple[int, int]] = set()
    for runs in phases(model).values():
        for phase in runs:
            if phase.compile is None:
                continue
            for base in [phase.model, *phase.model.descendants()]:
                if not is_bn_base(base) or bn_trainable_at(phase.fit, base) is not True:
                    continue
                path = wiring_path(phase.model, base)
                unfreeze = last_unfreeze(model, base, phase.fit)
                if path is None or unfreeze is None:
                    continue
                if model.events.index(phase.compile) < model.events.index(unfreeze):
                    continue
                key = (id(unfreeze), id(base))
                if key in seen:
                    continue
                seen.add(key)
                mode, decisive = bn_mode(path, flavour)
                yield UnfrozenBnBase(phase, base, mode, decisive, unfreeze)
