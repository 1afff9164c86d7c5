"""The ordered event trace the semantic model records while replaying a program."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from bnlint.semantic.values import (
    Const,
    Layer,
    LayerSelection,
    Optimizer,
    Tape,
    TrainingArg,
    Tri,
    Value,
)

if TYPE_CHECKING:
    import libcst as cst
else:
    from bnlint.lazy import libcst as cst

PathKind = Literal["loop", "if", "else", "except", "callback"]

EventKind = Literal[
    "create",  # a Keras layer/model/optimizer was constructed
    "call",  # a layer/model was called on inputs
    "set_trainable",  # `.trainable = v` on a layer, a model or a selection of layers
    "set_attr",  # any other attribute assignment on a Keras object (typos, `.training`)
    "compile",
    "fit",  # fit / fit_generator / train_on_batch
    "evaluate",  # evaluate / predict / test_on_batch / predict_on_batch
    "set_lr",  # optimizer.learning_rate.assign / K.set_value(opt.lr, v) / opt.lr = v
    "gradient",  # tape.gradient(target, sources)
    "load_weights",
    "copy_weights",  # `model.set_weights(other.get_weights())`: ``value`` is the other's
    "escape",  # a layer/model was passed to a callee the model cannot follow
]


@dataclass(frozen=True, slots=True)
class Context:
    """Where an event happens.

    ``definite`` is False inside a branch, an ``except`` handler or a function replayed
    on its own with unknown arguments' effects; ``function`` is the name of the function
    whose body holds the event (None at module level); ``tape`` is the innermost
    GradientTape whose ``with`` block encloses it and ``tapes`` all of them (a function
    called inside the block inherits them: its operations are recorded too);
    ``loop_depth`` counts enclosing loops (comprehensions included) of the function;
    ``standalone`` marks a function replayed on its own with unknown arguments;
    ``path`` lists the enclosing control structures, outermost first, across inlined
    calls: ``("loop", For/While)``, ``("if", If)`` (its body), ``("else", If)`` (its
    ``else``), ``("except", ExceptHandler)``, ``("callback", fit call)`` (a hook of a
    callback that fit() runs); ``call_sites`` the calls of user functions
    through which the event was reached, outermost first; ``entry`` the function or
    method replayed as an entry point (code the file never calls: a class's
    ``__init__`` runs first, then the method) whose replay recorded the event.
    """

    definite: bool = True
    function: str | None = None
    method_of: str | None = None
    tape: Tape | None = None
    loop_depth: int = 0
    standalone: bool = False
    tapes: tuple[Tape, ...] = ()
    path: tuple[tuple[PathKind, cst.CSTNode], ...] = ()
    call_sites: tuple[cst.Call, ...] = ()
    entry: str | None = None

    def loops(self) -> list[cst.CSTNode]:
        """Enclosing ``for``/``while`` statements, outermost first."""
        return [node for kind, node in self.path if kind == "loop"]

    def callback_of(self) -> cst.CSTNode | None:
        """The ``fit()`` call whose callback hook runs the event, if any."""
        for kind, node in reversed(self.path):
            if kind == "callback":
                return node
        return None

    def within(self, loop: cst.CSTNode) -> tuple[tuple[PathKind, cst.CSTNode], ...] | None:
        """The part of ``path`` inside ``loop`` (None when the event is not in it)."""
        for index, (kind, node) in enumerate(self.path):
            if node is loop and kind == "loop":
                return self.path[index + 1:]
        return None


@dataclass(eq=False, slots=True)
class Event:
    """One step of the program. Fields beyond ``kind``/``node``/``target``/``context``
    are used by some kinds only (see ``EventKind``)."""

    kind: EventKind
    node: cst.CSTNode
    target: Value | None
    context: Context
    # call
    training: TrainingArg = "absent"
    inputs: tuple[Value, ...] = ()
    # `training=<parameter of the enclosing function>` (e.g. `training=training`)
    forwards_training: bool = False
    # set_trainable / set_attr
    attr: str = ""
    value: Value | None = None
    value_node: cst.CSTNode | None = None
    selection: LayerSelection | None = None
    # the statement of the linted file that led to the event, when the event happens
    # in another module of the project (one step there may be reached from several)
    entry_site: cst.CSTNode | None = None
    # state snapshot taken just before the event (set_trainable, call, compile, fit)
    trainable_before: Tri = None
    bn_trainable_before: Tri = None
    # compile / set_lr
    optimizer: Optimizer | None = None
    learning_rate: float | None = None
    # fit / evaluate
    method: str = ""
    batch_size: int | None = None
    batch_node: cst.CSTNode | None = None
    # the constant the batch size comes from, where the code (or a setting) writes it
    batch_value: Const | None = None
    # gradient
    sources_are_variables: Tri = None
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def layer(self) -> Layer | None:
        """The Keras layer/model the event acts on, when there is one."""
        if isinstance(self.target, Layer):
            return self.target
        if isinstance(self.target, LayerSelection):
            return self.target.container
        return None


def call_notes(event: Event, what: str) -> tuple[tuple[cst.CSTNode, str], ...]:
    """Related notes for an event inside a user function: where each call through which
    it was reached is made, outermost first (``what`` names the event: "the unfreeze")."""
    notes: list[tuple[cst.CSTNode, str]] = []
    for site in event.context.call_sites:
        callee = cst.Module([]).code_for_node(site.func)
        notes.append((site, f"`{callee}(...)` is called here: {what} happens inside it"))
    return tuple(notes)
