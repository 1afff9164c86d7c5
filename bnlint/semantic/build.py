"""Builds the semantic model by replaying a module's statements in order.

One recursive pass over the libcst tree: imports feed an alias table (no libcst
metadata providers), assignments bind abstract values to names, and every Keras-relevant
step is appended to the event trace. Module scope runs top to bottom; user functions are
replayed at their call sites with their arguments bound (so their effects on arguments
and module objects land in the caller's trace); functions and methods never called are
replayed afterwards as entry points (see ``replay_unreached``). Branches join
conservatively (a state that differs between the arms becomes unknown), and where that
hides Keras steps the module is replayed again once per path (``paths``).

The replay is split by what each part knows: ``statements`` (blocks and control flow),
``expressions`` (values of names, attributes, subscripts), ``calls`` (which callee a call
reaches, user functions and classes), ``keras_effects`` (what the Keras API does), over
the shared state of ``replay``; ``trainability`` holds what ``trainable = v`` does to
layers and ``syntax`` what can be read off a node without evaluating it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import libcst as cst

from bnlint.semantic.calls import CallReplay
from bnlint.semantic.expressions import ExpressionEvaluation
from bnlint.semantic.imports import ImportReplay
from bnlint.semantic.keras_effects import KerasEffects
from bnlint.semantic.lookups import NameLookup
from bnlint.semantic.model import SemanticModel
from bnlint.semantic.paths import PathOracle, Relevance, explore
from bnlint.semantic.scan import ScanResult, scan_module
from bnlint.semantic.statements import StatementReplay
from bnlint.semantic.values import ClassValue, FunctionValue, Instance, Layer, Value

if TYPE_CHECKING:
    from bnlint.project import Project


def build_model(module: cst.Module, project: Project | None = None) -> SemanticModel:
    """Replay ``module`` with branches joined and return its semantic model."""
    return build_models(module, project)[0]


def build_models(module: cst.Module, project: Project | None = None) -> list[SemanticModel]:
    """The semantic model with branches joined, then, when the module trains or freezes
    something and has ``if``s whose condition is unknown and under which Keras steps
    happen, one model per path through them (each with its ``decisions``; the first
    ``MAX_PATHS`` paths). With a ``project``, imports of the project's own modules are
    followed (``imports``)."""
    relevance = Relevance()
    joined = _replay(module, None, relevance, project)
    models = [joined]
    if relevance.learn(joined):
        paths = explore(lambda oracle: _replay(module, oracle, relevance, project))
        for path in paths:
            path.result.decisions = path.decisions
            models.append(path.result)
    facts = scan_module(module)
    for model in models:
        _note_facts(model, facts, project)
    return models


def build_joined(module: cst.Module, project: Project | None = None) -> SemanticModel:
    """Only the replay with branches joined (no paths): the program of a module that
    imports the linted file, read for what it does to that file's code."""
    model = _replay(module, None, Relevance(), project)
    _note_facts(model, scan_module(module), project)
    return model


def _note_facts(model: SemanticModel, facts: ScanResult, project: Project | None) -> None:
    model.project = project
    model.attribute_reads = facts.attribute_reads
    model.discarded_calls = facts.discarded_calls
    model.weight_sources = facts.weight_sources
    model.raising_blocks = facts.raising_blocks


def _replay(module: cst.Module, oracle: PathOracle | None,
            relevance: Relevance, project: Project | None) -> SemanticModel:
    builder = Builder(module, oracle, relevance, project)
    builder.run()
    return builder.model


class Builder(StatementReplay, ImportReplay, ExpressionEvaluation, CallReplay, KerasEffects,
              NameLookup):
    """The whole replay of one module."""

    def run(self) -> None:
        self.exec_block(self.module.body, self.module_env)
        if self.oracle is None:
            self.relevance.called = frozenset(self.ran)
        self.replay_unreached()

    def replay_unreached(self) -> None:
        """Functions nobody called are replayed as entry points, each on its own with
        unknown arguments (parameters with defaults take them); a method runs on a fresh
        instance that its class's ``__init__`` built first, with the arguments of the
        class's first instantiation when the file has one. On one path, a function that
        the program calls on another (`if args.data == "celeba": net = celeba_net(x)`)
        is not run: on this path, nothing runs it."""
        index = 0
        skipped = self.relevance.called if self.oracle is not None else frozenset()
        while index < len(self.functions):
            function = self.functions[index]
            index += 1
            if id(function.node) not in self.ran and id(function.node) not in skipped:
                self.replay_entry(function, function.owner, function.qualname)
        # methods a class of this file inherits from another module of the project
        # (`GAN.train` from `models/base.py`) run on an instance of this class
        for owner in self.local_classes:
            for name, function in list(owner.methods.items()):
                if function.origin is not None and id(function.node) not in self.ran:
                    self.replay_entry(function, owner, f"{owner.name}.{name}")

    def replay_entry(self, function: FunctionValue, owner: ClassValue | None,
                     qualname: str) -> None:
        receiver: Value | None = None
        saved = self.context
        self.context = replace(saved, standalone=True, entry=qualname)
        module_state = _ModuleState.save(self)
        try:
            if owner is not None and owner.keras_base is not None:
                receiver = self.prototype(owner)
            elif owner is not None:
                receiver = self.plain_prototype(owner)
            if owner is None or function is not owner.methods.get("__init__"):
                self.call_function(function, [], {}, receiver, standalone=True)
        finally:
            self.context = saved
            module_state.restore(self)

    def plain_prototype(self, owner: ClassValue) -> Instance:
        """An instance of a plain class built by its ``__init__``."""
        instance = Instance(owner, owner.node)
        init = owner.methods.get("__init__")
        if init is not None and id(init.node) not in self.active:
            args, kwargs = owner.arguments or ([], {})
            self.call_function(init, args, kwargs, instance, standalone=owner.arguments is None)
        return instance

    def prototype(self, owner: ClassValue) -> Layer:
        """An instance of a user Keras class built by its ``__init__``."""
        layer = self.new_user_instance(owner, owner.node)
        init = owner.methods.get("__init__")
        if init is not None and id(init.node) not in self.active:
            args, kwargs = owner.arguments or ([], {})
            self.call_function(init, args, kwargs, layer, standalone=owner.arguments is None)
        return layer


@dataclass(slots=True)
class _ModuleState:
    """What an entry point may change that the next one must not see: the module's
    names and the layers' and optimizers' state as the module left them (each entry
    point runs after the module, not after the others). The layers' state is kept by
    the builder's journal, for the layers the entry point changes only."""

    names: dict[str, Value]

    @classmethod
    def save(cls, builder: Builder) -> _ModuleState:
        builder.journal.start(len(builder.model.layers))
        return cls(dict(builder.module_env.names))

    def restore(self, builder: Builder) -> None:
        builder.module_env.names = self.names
        builder.journal.restore()
