"""Fine-tuning workflow queries over the event trace: bases, phases, unfreezes, wiring.

These are the facts the BN2xx rules share: which pretrained base a model contains and
how it is wired in, when the base is frozen and unfrozen, and which training phases
(compile -> fit) a model goes through with which learning rate.

Every question of the form "does anything between event A and event B (un)freeze this
layer?" goes through ``trainable_changes_between``; the other freeze/unfreeze queries
narrow its answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from bnlint.semantic.events import Event
from bnlint.semantic.model import SemanticModel
from bnlint.semantic.trace import Changes
from bnlint.semantic.values import Const, Layer, LayerSelection, Tri, Variables, Wiring

if TYPE_CHECKING:
    import libcst as cst

    from bnlint.flavour import Flavour
else:
    from bnlint.lazy import libcst as cst

# How a base's BN layers run during fit(), from the way it is wired into the model.
BnMode = Literal[
    "training",  # Sequential, functional call without training=False, flattened, ...
    "inference",  # training=False honoured (subclassed call, tf-keras functional)
    "overridden",  # functional training=False that Keras 3.0-3.15 overrides (F5)
    "maybe-overridden",  # the same, Keras 3 of unknown version
    "explicit-true",  # the user hard-coded training=True
    "unknown",
]

# Keras layers without weights: their `trainable` flag trains nothing.
WEIGHTLESS = frozenset({
    "Activation", "Add", "AlphaDropout", "Average", "AveragePooling1D", "AveragePooling2D",
    "AveragePooling3D", "CenterCrop", "Concatenate", "Cropping1D", "Cropping2D",
    "Cropping3D", "Dropout", "ELU", "Flatten", "GaussianDropout", "GaussianNoise",
    "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D",
    "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D", "InputLayer",
    "LeakyReLU", "Maximum", "MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "Minimum",
    "Multiply", "Permute", "RandomBrightness", "RandomContrast", "RandomCrop", "RandomFlip",
    "RandomHeight", "RandomRotation", "RandomTranslation", "RandomWidth", "RandomZoom",
    "ReLU", "RepeatVector", "Rescaling", "Reshape", "Resizing", "Softmax",
    "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "Subtract",
    "UpSampling1D", "UpSampling2D", "UpSampling3D", "ZeroPadding1D", "ZeroPadding2D",
    "ZeroPadding3D",
})


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


def is_weightless(layer: Layer) -> bool:
    """A built-in Keras layer that certainly has no weights (pooling, dropout, ...)."""
    if layer.is_model or layer.children or layer.opaque or layer.user_class is not None:
        return False
    return layer.qualname.rsplit(".", 1)[-1] in WEIGHTLESS and layer.qualname.startswith(
        ("keras.", "tensorflow.", "tf_keras.", "tf.")
    )


def parts(model: Layer) -> list[Layer]:
    """The model and every tracked layer inside it."""
    return [model, *model.descendants()]


def flattened_into(container: Layer) -> list[Layer]:
    """Bases whose layers became ``container``'s own (built on ``base.output`` or via
    ``input_tensor=``)."""
    return [w.child for w in container.children if w.mode == "flattened"]


def inside(layer: Layer, container: Layer) -> bool:
    """Is ``layer`` the container itself, tracked inside it, or flattened into it?"""
    return layer is container or layer in container.descendants() or layer in flattened_into(
        container
    )


def trusted(event: Event) -> bool:
    """Events the workflow rules reason about: definitely executed on the path
    replayed (the whole module, or one entry point: see ``Context.entry``)."""
    return event.context.definite


def assigns(event: Event, value: bool) -> bool:
    """Does this event assign the constant ``value`` (``trainable = True``/``False``)?"""
    return isinstance(event.value, Const) and event.value.value is value


def touches(event: Event, layer: Layer) -> bool:
    """Could this ``set_trainable`` event change (part of) ``layer``'s trainability? True
    for the layer itself, a container of it, a layer inside it, or a selection of any of
    those; also for a target the model does not know (conservative)."""
    if event.kind != "set_trainable":
        return False
    target = event.layer
    if target is None:
        return True
    return inside(target, layer) or inside(layer, target)


def unfreezes(event: Event, base: Layer) -> bool:
    """Does this ``set_trainable`` event make (part of) ``base`` trainable, BN included?"""
    if event.kind != "set_trainable" or not assigns(event, True):
        return False
    target = event.target
    if isinstance(target, Layer):
        return _sets_flag_of(target, base)
    selection = event.selection
    if selection is None or selection.guard == "not_bn":
        return False
    if selection.members is not None:
        # `model.layers[2].trainable = True`: the selected layers are known; setting
        # the flag of the base's own BN layers unfreezes that part of it (a pretrained
        # model among them is a base of its own, with its own wiring; a model whose
        # weights came with the base's is part of it)
        return any(_sets_flag_of(member, base)
                   or member is not base and not is_pretrained_base(member)
                   and inside(member, base) and member.contains_bn() is True
                   for member in selection.members
                   if not (selection.guard == "bn" and not member.is_bn))
    container = selection.container
    return container is base or base in flattened_into(container)


def freezes(event: Event, base: Layer) -> bool:
    """Does this event set ``base`` (or a container of it) to ``trainable = False``?"""
    if event.kind != "set_trainable" or not assigns(event, False):
        return False
    target = event.target
    if isinstance(target, Layer):
        return _sets_flag_of(target, base)
    selection = event.selection
    return (selection is not None and selection.members is not None
            and selection.guard == "none"
            and any(_sets_flag_of(member, base) for member in selection.members))


def _sets_flag_of(target: Layer, layer: Layer) -> bool:
    """Does setting ``target.trainable`` set ``layer``'s own flag (Keras applies the
    assignment recursively)?"""
    return target is layer or layer in target.descendants()


def phases(model: SemanticModel) -> dict[int, list[Phase]]:
    """Training phases per model (keyed by ``id(layer)``), in program order (computed
    once per trace)."""
    if model.phases_memo is not None:
        return model.phases_memo
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
    model.phases_memo = found
    return found


def custom_steps(model: SemanticModel) -> dict[int, list[Phase]]:
    """The steps of custom training loops per model (keyed by ``id(layer)``), in
    program order: ``model(x, training=True)`` recorded on a GradientTape that gradients
    are taken from. No compile configures them: the layers' flags at the call decide
    what trains and how BatchNormalization normalises (each is a phase without a
    compile)."""
    found: dict[int, list[Phase]] = {}
    for event in model.events_of("call"):
        layer = event.layer
        if (layer is None or not layer.is_model or event.training != "true"
                or "bn_trainable" not in event.extra or not trusted(event)
                or not in_training_tape(model, event)):
            continue
        runs = found.setdefault(id(layer), [])
        runs.append(Phase(layer, None, event, len(runs)))
    return found


def runs_of(model: SemanticModel, phase: Phase) -> dict[int, list[Phase]]:
    """The phases ``phase`` is counted among: fits, or custom training steps."""
    return phases(model) if phase.fit.kind == "fit" else custom_steps(model)


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
                return ("unknown" if flavour.assumed else "maybe-overridden"), wiring
            return "inference", wiring
    return "training", decisive


def events_between(model: SemanticModel, start: Event | None,
                   end: Event | None) -> Iterator[Event]:
    """Events strictly after ``start`` (from the beginning when None) and strictly
    before ``end`` (to the end when None)."""
    bounds = model.trace.bounds(start, end)
    if bounds is None:
        return
    events = model.events
    for index in range(bounds[0] + 1, bounds[1]):
        yield events[index]


def position(model: SemanticModel, event: Event) -> int:
    """The index of ``event`` in the trace (-1 when it is not there)."""
    return model.position(event)


def trainable_changes_between(model: SemanticModel, layer: Layer, start: Event | None,
                              end: Event | None, *, to: bool | None = None
                              ) -> Iterator[Event]:
    """The ``set_trainable`` events strictly between ``start`` and ``end`` (None: the
    beginning / the end of the trace) that could change (part of) ``layer``'s
    trainability (see ``touches``), trusted or not. With ``to``, only those that may set
    it to ``to``: any value but the constant ``not to`` (unknown values count)."""
    changes = _touching(model, layer)
    bounds = model.trace.bounds(start, end)
    if bounds is None:
        return
    for index in changes.between(*bounds):
        event = changes.events[index]
        if to is None or not assigns(event, not to):
            yield event


def _latest_change(model: SemanticModel, layer: Layer, start: Event | None, end: Event,
                   to: bool, wanted: Callable[[Event], bool]) -> Event | None:
    """The last of ``trainable_changes_between(..., to=to)`` that is ``wanted``: read
    backwards from ``end``, so that a long trace is not read from its beginning."""
    changes = _touching(model, layer)
    bounds = model.trace.bounds(start, end)
    if bounds is None:
        return None
    for index in reversed(changes.between(*bounds)):
        event = changes.events[index]
        if not assigns(event, not to) and wanted(event):
            return event
    return None


def _touching(model: SemanticModel, layer: Layer) -> Changes:
    """The ``set_trainable`` events of the trace that ``touches`` ``layer``, found once
    per layer among the changes of the layers related to it (itself, those inside it,
    flattened into it or holding it), not among every change of the trace."""
    trace = model.trace
    found = trace.touching.get(id(layer))
    if found is not None:
        return found
    by_target, everywhere = _changes_by_target(model)
    related = [layer, *layer.descendants(), *flattened_into(layer),
               *model.containers_of(layer), *_flattening(model).get(id(layer), ())]
    candidates = set(everywhere)
    for other in related:
        candidates.update(by_target.get(id(other), ()))
    found = Changes()
    changes = trace.changes
    for index in sorted(candidates):
        event = changes.events[index]
        if touches(event, layer):
            found.positions.append(changes.positions[index])
            found.events.append(event)
    trace.touching[id(layer)] = found
    return found


def _changes_by_target(model: SemanticModel) -> tuple[dict[int, list[int]], list[int]]:
    """The trace's changes (indices into ``trace.changes``) by the layer they act on,
    and those that may touch any layer: no known target, or one the model does not
    track (then ``_touching`` checks them all)."""
    trace = model.trace
    if trace.by_target is None:
        tracked = {id(layer) for layer in model.layers}
        by_target: dict[int, list[int]] = {}
        everywhere: list[int] = []
        for index, event in enumerate(trace.changes.events):
            target = event.layer
            if target is None or id(target) not in tracked:
                everywhere.append(index)
            else:
                by_target.setdefault(id(target), []).append(index)
        trace.by_target, trace.everywhere = by_target, everywhere
    return trace.by_target, trace.everywhere


def _flattening(model: SemanticModel) -> dict[int, list[Layer]]:
    """Per layer (by id): the tracked layers it is flattened into."""
    trace = model.trace
    if trace.flattening is None:
        flattening: dict[int, list[Layer]] = {}
        for container in model.layers:
            for child in flattened_into(container):
                flattening.setdefault(id(child), []).append(container)
        trace.flattening = flattening
    return trace.flattening


def is_constructor_flag(event: Event) -> bool:
    """A ``trainable=`` argument of the call that creates the layer
    (``hub.KerasLayer(handle, trainable=True)``, ``from_preset(..., trainable=False)``),
    not an assignment to an existing layer."""
    return event.kind == "set_trainable" and isinstance(event.node, cst.Arg)


def is_noop_unfreeze(model: SemanticModel, base: Layer, unfreeze: Event) -> bool:
    """Not an unfreeze of something frozen before: ``trainable = True`` on a pretrained
    base built in this program (an application, or a model built from layers, weights
    loaded into it or not) that nothing froze before changes nothing, and a layer
    created with ``trainable=True`` is trained from its first phase on. (Training a base
    whole from the first phase is BN210's and BN211's concern, not an unfreeze.) Loaded
    models keep the flags they were saved with, so they never count as untouched."""
    if is_constructor_flag(unfreeze):
        return True
    selection = unfreeze.selection
    if base.restored_from is not None and selection is not None and (
            selection.extent != "all" or selection.guard != "none"):
        # a reload's layer list is not known: a slice of it (`model.layers[-2:]`, the
        # head the program added) need not reach the base's BatchNormalization layers
        return True
    if selection is not None and selection.members is not None and (
            base.model_kind != "loaded"):
        # `model.layers[i].trainable = True` over known layers: an unfreeze of the BN
        # layers only if one of them was frozen
        return unfreeze.bn_trainable_before is True
    freezes = list(trainable_changes_between(model, base, None, unfreeze, to=False))
    if selection is not None and base.model_kind != "loaded" and freezes and all(
            _disjoint_slices(selection, event.selection) for event in freezes):
        # `base.layers[:150]` frozen, then `base.layers[150:]` set trainable: the
        # layers made trainable were never frozen (fine-tuning the top from the start)
        return True
    if base.model_kind == "loaded" or unfreeze.trainable_before is not True:
        return False
    return not freezes and frozen_weights_copied(model, base, unfreeze) is None


def frozen_weights_copied(model: SemanticModel, base: Layer, unfreeze: Event) -> Event | None:
    """The copy into the model holding ``base`` (unfrozen as it was built) of the
    weights of a model in which a base built by the same call was frozen: the recipe
    that rebuilds the model for each phase (`build_model(unfreeze=True)`, then
    `model2.set_weights(model.get_weights())`) unfreezes what the first phase froze.
    The first model must have trained with that base frozen, and nothing may change
    the flags of ``base`` after the copy (a re-freeze through `get_layer(...)`)."""
    after = model.position(unfreeze)
    for event in model.events_of("copy_weights"):
        source = event.value.layer if isinstance(event.value, Variables) else None
        target = event.target
        if source is None or not isinstance(target, Layer) or not trusted(event) or (
                model.position(event) < after or not inside(base, target)):
            continue
        if next(trainable_changes_between(model, base, event, None, to=False), None) or any(
                model.position(change) > after and not isinstance(
                    change.target, (Layer, LayerSelection))
                for change in model.events_of("set_trainable")):
            continue  # (flags set on layers the model cannot name: `fine.get_layer(...)`)
        for part in parts(source):
            if part is base or part.node is not base.node:
                continue
            freeze = freeze_in_force(model, part, event)
            if freeze is not None and any(
                    model.position(freeze) < model.position(fit) < model.position(event)
                    and inside(part, fit.target) for fit in model.events_of("fit")
                    if isinstance(fit.target, Layer)):
                return event
    return None


def _disjoint_slices(one: LayerSelection, other: LayerSelection | None) -> bool:
    """Two slices of the same layer list with known, non-negative bounds that share no
    position."""
    if other is None or other.container is not one.container or (
            one.bounds is None or other.bounds is None):
        return False
    (low, high), (other_low, other_high) = one.bounds, other.bounds
    if any(value is not None and value < 0 for value in (low, high, other_low, other_high)):
        return False
    return (high is not None and other_low is not None and high <= other_low) or (
        other_high is not None and low is not None and other_high <= low)


def partial_refreezes(model: SemanticModel, base: Layer, after: Event,
                      before: Event) -> list[Event]:
    """Re-freezes of the head of ``base``'s layers between an unfreeze and a fit that
    leave its last BatchNormalization layers trainable (``base.layers[:100]``)."""
    from bnlint.semantic.trainability import head_size  # (it loads libcst)

    return [event for event in trainable_changes_between(model, base, after, before, to=False)
            if trusted(event) and event.selection is not None and assigns(event, False)
            and (event.selection.container is base and event.selection.keeps_bn_tail()
                 or flattened_into(event.selection.container) == [base]
                 and event.selection.keeps_bn_tail(base, head_size(event.selection.container)))]


def last_freeze(model: SemanticModel, base: Layer, before: Event) -> Event | None:
    """The last trusted ``trainable = False`` on ``base`` or a container of it before
    ``before``."""
    return _latest_change(model, base, None, before, False,
                          lambda event: trusted(event) and freezes(event, base))


def first_freeze(model: SemanticModel, base: Layer, before: Event) -> Event | None:
    """The first trusted ``trainable = False`` on ``base`` or a container of it in the
    trace, when it comes before ``before``."""
    trace = model.trace
    key = id(base)
    if key not in trace.first_freezes:
        trace.first_freezes[key] = next((event for event in trace.changes.events
                                         if trusted(event) and freezes(event, base)), None)
    found = trace.first_freezes[key]
    end = model.position(before)
    if found is None or end >= 0 and model.position(found) >= end:
        return None
    return found


def last_unfreeze(model: SemanticModel, base: Layer, before: Event,
                  after: Event | None = None) -> Event | None:
    """The last trusted event that unfreezes (part of) ``base`` before ``before`` (and
    after ``after`` when given)."""
    return _latest_change(model, base, after, before, True,
                          lambda event: trusted(event) and unfreezes(event, base))


def freeze_in_force(model: SemanticModel, layer: Layer, at: Event) -> Event | None:
    """The trusted ``trainable = False`` on ``layer`` or a container of it that is still
    in force at ``at``: nothing set the flag of ``layer`` or of a container of it to
    anything else (or to an unknown value) since."""
    freeze = last_freeze(model, layer, at)
    if freeze is None:
        return None
    for event in trainable_changes_between(model, layer, freeze, at, to=True):
        if isinstance(event.target, Layer) and _sets_flag_of(event.target, layer):
            return None
    return freeze


def bn_trainable_at(event: Event, layer: Layer) -> Tri:
    """BN trainability of ``layer`` when ``event`` (a compile or fit) happened."""
    return _state_at(event, layer, "bn_trainable")


def in_training_tape(model: SemanticModel, event: Event) -> bool:
    """Is the call recorded on a GradientTape that some gradient is taken from? (A
    ``test_step`` copied from ``train_step`` keeps the tape but never differentiates.)"""
    tapes = event.context.tapes
    return bool(tapes) and any(
        any(gradient.target is tape for tape in tapes)
        for gradient in model.events_of("gradient"))


def trainable_at(event: Event, layer: Layer) -> Tri:
    """The ``trainable`` flag of ``layer`` when ``event`` happened."""
    return _state_at(event, layer, "trainable")


def _state_at(event: Event, layer: Layer, key: str) -> Tri:
    """``layer``'s entry in the per-layer snapshot ``key`` the event carries."""
    states = event.extra.get(key)
    if isinstance(states, dict):
        value = states.get(id(layer))
        if value is None or isinstance(value, bool):
            return value
    return None


def compile_site(model: SemanticModel, compile_: Event) -> cst.CSTNode:
    """Where the user chooses a phase's optimizer: the compile itself, or, for a compile
    inside a helper that is handed an optimizer its caller built (``Trainer(model,
    optimizer=SGD(...))`` compiling in ``__init__``), the outermost call of the helper,
    since the helper's compile line serves every phase."""
    optimizer = compile_.optimizer
    sites = compile_.context.call_sites
    if optimizer is None or optimizer.from_string or not sites:
        return compile_.node
    created = next((event for event in model.events_at(optimizer.node)
                    if event.kind == "create" and event.target is optimizer), None)
    if created is None or created.context.call_sites == sites and (
            created.context.function == compile_.context.function):
        return compile_.node
    return sites[0]


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


def fit_passes_training(model: SemanticModel, trained: Layer) -> bool:
    """Does fit() call ``trained`` with training=True? Yes, unless its class overrides
    ``train_step``: then only if that calls the model with ``training=True``."""
    if trained.user_class is None:
        return True
    owner = model.class_named(trained.user_class)
    if owner is None or "train_step" not in owner.methods:
        return True
    step = owner.methods["train_step"].qualname
    calls = [event for event in model.trace.calls_in(step)
             if event.layer is not None and event.layer.user_class == trained.user_class]
    return bool(calls) and all(event.training == "true" for event in calls)


def unfrozen_bn_bases(model: SemanticModel, flavour: Flavour) -> Iterator[UnfrozenBnBase]:
    """Every phase that trains a pretrained BN base whose BN layers are trainable at the
    fit, after an unfreeze that a later compile made effective (an unfreeze without a
    recompile is BN203's concern), and every step of a custom training loop that does
    so after an unfreeze (it needs no compile). Each unfreeze is yielded once per base."""
    seen: set[tuple[int, int]] = set()
    fitted = [phase for runs in phases(model).values() for phase in runs
              if phase.compile is not None and fit_passes_training(model, phase.model)]
    stepped = [phase for runs in custom_steps(model).values() for phase in runs]
    for phase in [*fitted, *stepped]:
        for base in parts(phase.model):
            if not is_bn_base(base) or bn_trainable_at(phase.fit, base) is not True:
                continue
            path = wiring_path(phase.model, base)
            unfreeze = last_unfreeze(model, base, phase.fit)
            if path is None or unfreeze is None or is_noop_unfreeze(model, base, unfreeze):
                continue
            if phase.compile is not None and (
                    model.position(phase.compile) < model.position(unfreeze)):
                continue
            key = (id(unfreeze), id(base))
            if key in seen:
                continue
            seen.add(key)
            mode, decisive = bn_mode(path, flavour)
            yield UnfrozenBnBase(phase, base, mode, decisive, unfreeze)
