"""The semantic model of one program: what the rules query."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bnlint.semantic.constants import ModuleConstants
from bnlint.semantic.events import Context, Event, EventKind, PathKind
from bnlint.semantic.trace import TraceIndex
from bnlint.semantic.trainings import Compiled, TrainingIndex, next_fit_without_recompile
from bnlint.semantic.values import ClassValue, Layer, Value

if TYPE_CHECKING:
    import libcst as cst

    from bnlint.project import Project
    from bnlint.semantic.paths import Decision
    from bnlint.semantic.workflow import Phase


@dataclass(eq=False, slots=True)
class CallSite:
    """A call whose callee the model resolved: an imported symbol (``name``, canonical)
    or a method call (``method`` on ``receiver``)."""

    node: cst.Call
    name: str | None
    context: Context
    method: str | None = None
    receiver: Value | None = None
    in_control_dependencies: bool = False
    # inside ``with slim.arg_scope(...)`` (or a helper whose name says it opens one): the
    # scope may set the call's arguments (``is_training``, ``updates_collections``)
    in_arg_scope: bool = False
    # the project module the call is written in (None: the linted file)
    origin: str | None = None
    # for TF1 batch normalization (``tf.layers.batch_normalization``, ``slim.batch_norm``):
    # the value of its ``training=`` / ``is_training=`` argument (None: not given)
    training: Value | None = None


@dataclass(eq=False, slots=True)
class Reference:
    """A use of an imported symbol that is not called (e.g. ``K.learning_phase`` in a
    ``feed_dict``), by canonical name."""

    name: str
    node: cst.CSTNode


@dataclass(eq=False, slots=True)
class SemanticModel:
    """Everything the replay learnt about one program."""

    module: cst.Module
    events: list[Event] = field(default_factory=list)
    calls: list[CallSite] = field(default_factory=list)
    references: list[Reference] = field(default_factory=list)
    layers: list[Layer] = field(default_factory=list)
    classes: list[ClassValue] = field(default_factory=list)
    # Raw module paths named by import statements, as written (for flavour inference).
    imports: list[str] = field(default_factory=list)
    # The libraries the file itself imports whole (`import tensorflow.compat.v1 as tf`),
    # not the project modules it reads (a copied `autoaugment.py` written for TF1 does
    # not put the eager program that maps its ops in graph mode).
    module_imports: set[str] = field(default_factory=set)
    # The names the file itself imports from a library (`tensorflow.compat.v1.ConfigProto`).
    from_imports: set[str] = field(default_factory=set)
    # `os.environ["TF_USE_LEGACY_KERAS"] = "1"` (or setdefault / putenv) seen.
    legacy_keras_env: bool = False
    # Anything that loads pretrained weights (weights=..., load_weights, load_model, ...).
    pretrained_signals: list[cst.CSTNode] = field(default_factory=list)
    # Module-wide syntactic facts (see semantic/scan.py): attribute names read anywhere
    # (or named in a string), calls whose result is discarded (by id), and every call
    # that may bring in weights trained elsewhere (restores, set_weights, weights=...).
    attribute_reads: set[str] = field(default_factory=set)
    discarded_calls: set[int] = field(default_factory=set)
    weight_sources: list[cst.CSTNode] = field(default_factory=list)
    # bodies of `with pytest.raises(...)` / `self.assertRaises(...)`: deliberate errors
    raising_blocks: list[cst.BaseSuite] = field(default_factory=list)
    # on a replay of one path: how each of those conditions was answered
    decisions: tuple[Decision, ...] = ()
    # the project's own modules the program imported and replayed (path -> tree)
    project_modules: dict[str, cst.Module] = field(default_factory=dict)
    # the project around the file (None when imports are not followed), and the
    # modules of it that import this file which a rule read (they count for the cache)
    project: Project | None = None
    importers_read: list[str] = field(default_factory=list)
    # the project's JSON/YAML files whose settings the program loaded (for the cache)
    settings_read: list[str] = field(default_factory=list)
    # a number written as a call's argument (`train(batch_size=1)`), by id of the
    # literal -> that argument: where the user sets what the call passes on
    literal_arguments: dict[int, cst.Arg] = field(default_factory=dict)
    # a number written in a dict display (`{"batch_size": 1}`), by id of the literal ->
    # that entry: where the user sets what a configuration dict hands on
    literal_entries: dict[int, cst.DictElement] = field(default_factory=dict)
    # a step taken inside another module of the project -> the statement of this file
    # that led there (the import or the call): where a finding of that step is reported
    entry_sites: dict[int, cst.CSTNode] = field(default_factory=dict)
    # calls of imported symbols in arms of this file's `if`s that a known value decided
    # against (`if self.m == 2: ... else: <here>`): code a caller giving another value
    # runs, for the rules that judge how one call is written (see `skipped.py`)
    skipped_calls: list[CallSite] = field(default_factory=list)
    # where batches of a known size were made (a data sequence built, a generator
    # called): the branches taken to get there, which a path should decide
    batch_paths: list[tuple[tuple[PathKind, cst.CSTNode], ...]] = field(default_factory=list)
    _events_at: dict[int, list[Event]] | None = None

    def importing_texts(self) -> list[tuple[str, str]]:
        """(path, text) of the project's modules that import this file (read once; a
        change to them re-lints this file)."""
        if self.project is None:
            return []
        from bnlint.project import module_text

        paths = self.project.importers()
        for path in paths:
            if path not in self.importers_read:
                self.importers_read.append(path)
        return [(path, module_text(path)) for path in paths]
    _constants: ModuleConstants | None = None
    _trainings: TrainingIndex | None = None
    _trace: TraceIndex | None = None
    _containers: dict[int, list[Layer]] | None = None
    # workflow.phases over the finished trace, computed once (rules ask per finding)
    phases_memo: dict[int, list[Phase]] | None = None

    @property
    def trace(self) -> TraceIndex:
        """Indexes over the finished trace (positions, loop bodies, changes...)."""
        if self._trace is None:
            self._trace = TraceIndex(self.events)
        return self._trace

    def position(self, event: Event) -> int:
        """The index of ``event`` in the trace (-1 when it is not there)."""
        return self.trace.position(event)

    def events_at(self, node: cst.CSTNode) -> list[Event]:
        """The events recorded at ``node`` (a statement replayed twice has two)."""
        if self._events_at is None:
            index: dict[int, list[Event]] = {}
            for event in self.events:
                index.setdefault(id(event.node), []).append(event)
            self._events_at = index
        return self._events_at.get(id(node), [])

    @property
    def constants(self) -> ModuleConstants:
        """The module's numeric constants (``EPOCHS = 10``), read once."""
        if self._constants is None:
            self._constants = ModuleConstants(self.module)
        return self._constants

    @property
    def trainings(self) -> TrainingIndex:
        """Every model's compiles and fits, by model (see ``trainings``)."""
        if self._trainings is None:
            self._trainings = TrainingIndex(self.events)
        return self._trainings

    def compiled_before(self, layer: Layer, position: int) -> Compiled | None:
        """The compile of ``layer`` in force at trace position ``position`` and the
        first fit under it (see ``trainings.TrainingIndex``)."""
        return self.trainings.compiled_before(layer, position)

    def next_fit_without_recompile(self, position: int, model: Layer,
                                   changed: Layer) -> Event | None:
        """The next fit of ``model`` after ``position`` that no compile capturing a
        change of ``changed`` precedes (see ``trainings.next_fit_without_recompile``)."""
        return next_fit_without_recompile(self.trace.training_steps_after(position), model,
                                          changed)

    def events_of(self, *kinds: EventKind) -> Iterator[Event]:
        """Events of the given kinds, in program order."""
        for event in self.events:
            if event.kind in kinds:
                yield event

    def events_on(self, layer: Layer, *kinds: EventKind) -> Iterator[Event]:
        """Events acting on ``layer`` itself (not on layers inside it)."""
        for event in self.events:
            if (not kinds or event.kind in kinds) and event.layer is layer:
                yield event

    def calls_named(self, *names: str) -> Iterator[CallSite]:
        """Calls of the given canonical names."""
        wanted = set(names)
        for call in self.calls:
            if call.name in wanted:
                yield call

    def method_calls(self, method: str) -> Iterator[CallSite]:
        for call in self.calls:
            if call.method == method:
                yield call

    def containers_of(self, layer: Layer) -> list[Layer]:
        """Tracked layers/models that contain ``layer`` (directly or not), in the order
        of ``layers``."""
        if self._containers is None:
            # each layer's descendants once, not once per question
            containers: dict[int, list[Layer]] = {}
            for other in self.layers:
                for inner in other.descendants():
                    containers.setdefault(id(inner), []).append(other)
            self._containers = containers
        return list(self._containers.get(id(layer), ()))

    @property
    def has_pretrained_weights(self) -> bool:
        return bool(self.pretrained_signals)

    @property
    def may_load_weights(self) -> bool:
        """Could any weights trained elsewhere enter this program? (False only when the
        file shows no sign at all: no pretrained factory, loader, restore, set_weights,
        ``weights=`` argument or helper named like one.)"""
        return bool(self.pretrained_signals or self.weight_sources)

    @property
    def may_overwrite_weights(self) -> bool:
        """Could weights trained elsewhere be written into a layer built here? Like
        :attr:`may_load_weights`, but calls that only *create* a pretrained object
        (``ResNet50(weights=...)``, ``load_model``, ``from_preset``, ``hub.KerasLayer``)
        do not count: a layer constructed in this file stays freshly initialised."""
        created = {
            id(event.node) for event in self.events_of("create")
            if isinstance(event.target, Layer) and event.target.pretrained
        }
        return any(id(node) not in created for node in self.weight_sources) or any(
            True for _ in self.events_of("load_weights")
        )

    def is_discarded(self, node: cst.CSTNode) -> bool:
        """Is ``node`` a call whose result the program throws away (``f(x)`` alone, or
        ``_ = f(x)``)?"""
        return id(node) in self.discarded_calls

    def is_read(self, attribute: str) -> bool:
        """Is ``.attribute`` read anywhere in the file (or named in a string)?"""
        return attribute in self.attribute_reads

    def class_named(self, name: str) -> ClassValue | None:
        """The user class of that name defined in this file (its first definition)."""
        return next((owner for owner in self.classes if owner.name == name), None)

    def containers_or_self(self, layer: Layer) -> list[Layer]:
        """``layer`` and every tracked layer/model that contains it."""
        return [layer, *self.containers_of(layer)]
