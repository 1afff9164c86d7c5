"""Paths through branches: which way each undecided condition goes on one replay.

The model is first replayed once with branches joined conservatively (a state that
differs between the arms of an ``if`` becomes unknown). When that replay trained,
compiled or froze something and met ``if``s whose condition it could not evaluate and
under which Keras steps happened (a model built, a flag set, a user function that does
so; or an early ``return`` before such steps), the module is also replayed once per
path: every such condition is answered by a :class:`PathOracle`, so each replay is one
consistent path on which every step is definite (at most ``MAX_PATHS`` of them, the
first ones depth-first). A condition is identified by
its text, so ``if args.finetune:`` asked twice (or ``if not args.finetune:``) is answered
the same way on one path, and the arms of one ``if``/``elif`` chain are never combined.
A condition that reads one setting (a command-line option, an entry of the settings
file) is identified by that setting, whatever it was stored in on the way:
``self.use_pix2pix = args.use_pix2pix`` in ``__init__``, then ``if self.use_pix2pix:``
in ``train_step`` asks what ``if args.use_pix2pix:`` asked. Equalities of one setting
with different constants exclude each other: on a path where ``args.data == "nyu"``
holds, ``if args.data == "unreal":`` is false without being a choice of its own (as in
an ``elif`` chain). :func:`explore` enumerates the paths depth-first and stops at a cap.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

from bnlint.semantic.names import GRAPH_GRADIENTS, keras_api
from bnlint.semantic.syntax import always_exits
from bnlint.semantic.walk import walk

if TYPE_CHECKING:
    import libcst as cst

    from bnlint.semantic.model import SemanticModel
else:
    from bnlint.lazy import libcst as cst

MAX_PATHS = 16
# a key that names the value a condition reads (`args.use_bn`), not a setting's origin
_NAME_READ = re.compile(r"[A-Za-z_][\w.]*")
Result = TypeVar("Result")

# Words whose presence after an early exit (`if not args.finetune: return`) makes the
# exit matter to the rules.
WORKFLOW_WORDS = frozenset({
    "trainable", "training", "compile", "fit", "fit_generator", "train_on_batch", "lr",
    "learning_rate", "load_weights", "set_weights", "GradientTape", "apply_gradients",
    "minimize", "set_value",
})
# Event kinds that make a module worth replaying per path.
WORKFLOW_EVENTS = frozenset({"compile", "fit", "set_trainable", "set_lr", "gradient"})
# (and so do graph-mode training steps, TF1 and Keras 2: a train op, `GRAPH_GRADIENTS`)


@dataclass(frozen=True, slots=True)
class ConditionSource:
    """What an ``if`` test reads, named by where it comes from (see
    ``condition_source``): the key that identifies the condition, whether the test means
    the key (False: ``self.norm != "batch"`` for ``args.norm == 'batch'``), and for an
    equality with a constant what is compared and the constant's text."""

    key: str
    means: bool = True
    equals: tuple[str, str] | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """One condition answered on a path: its text (without a leading ``not``), its
    truth on the path, and the ``if`` statements that asked it (the first one names
    it in notes)."""

    key: str
    value: bool
    ifs: tuple[cst.If, ...]
    # the condition's truth with the shipped settings (an option's default, an entry of
    # the settings file the program loads), when it compares only those and constants
    default: bool | None = None
    # the condition as the first ``if`` that asked it wrote it (the key may name the
    # setting it reads instead), and whether that text means the key (False:
    # `self.norm != "batch"` for the key `args.norm == 'batch'`)
    text: str = ""
    text_means: bool = True
    # for an equality with a string: what it compares and the string
    equals: tuple[str, str] | None = None

    @property
    def node(self) -> cst.If:
        return self.ifs[0]

    def implied_by(self, others: Sequence[Decision]) -> bool:
        """Is this a false equality that another answer implies (``args.stage ==
        'probe'`` false where ``args.stage == 'finetune'`` is true)?"""
        if self.value or self.equals is None:
            return False
        subject, constant = self.equals
        return any(other.value and other.equals is not None and other.equals[0] == subject
                   and other.equals[1] != constant for other in others)


class PathOracle:
    """Answers the undecided conditions of one replay: a fixed answer where one is
    given, else True. Remembers every condition it was asked, in order."""

    def __init__(self, fixed: dict[str, bool]) -> None:
        self.fixed = fixed
        self.answers: dict[str, bool] = {}
        self.asked: dict[str, list[cst.If]] = {}
        self.defaults: dict[str, bool | None] = {}
        self.texts: dict[str, tuple[str, bool]] = {}
        self.equalities: dict[str, tuple[str, str]] = {}
        # what each compared value equals on this path (`args.data` -> `'nyu'`)
        self.equal: dict[str, str] = {}

    def excluded(self, equals: tuple[str, str] | None) -> bool:
        """Is the equality ``equals`` false because this path made the same value equal
        to another constant (``args.data == 'nyu'`` excludes ``args.data == 'unreal'``)?"""
        if equals is None:
            return False
        subject, constant = equals
        return self.equal.get(subject, constant) != constant

    def knows(self, source: ConditionSource) -> bool:
        """Has this path already decided the condition ``source`` names?"""
        return source.key in self.answers or self.excluded(source.equals)

    def decide(self, key: str, node: cst.If, default: bool | None = None,
               text: str | None = None, text_means: bool = True,
               equals: tuple[str, str] | None = None) -> bool:
        """The truth of the condition ``key`` on this path (``default``: its truth with
        the shipped settings, when known; ``text``: the condition as written, when the
        key is not, and ``text_means``: whether it means the key or its negation;
        ``equals``: what the condition compares with which constant, when it is an
        equality). An equality the path's other answers exclude is false without being
        a decision."""
        answer = self.answers.get(key)
        if answer is None and self.excluded(equals):
            return False
        if answer is None:
            answer = self.answers[key] = self.fixed.get(key, True)
            self.defaults[key] = default
            self.texts[key] = (text or key, text_means)
            if equals is not None:
                self.equalities[key] = equals
        if answer and equals is not None:
            self.equal[equals[0]] = equals[1]
        self.asked.setdefault(key, []).append(node)
        return answer

    def decisions(self) -> tuple[Decision, ...]:
        """What this path answered, in the order the conditions were first asked."""
        return tuple(Decision(key, value, tuple(self.asked[key]), self.defaults.get(key),
                              *self.texts[key], self.equalities.get(key))
                     for key, value in self.answers.items())


@dataclass(frozen=True, slots=True)
class Path(Generic[Result]):
    """The result of one replay and the conditions it decided."""

    result: Result
    decisions: tuple[Decision, ...]


def explore(replay: Callable[[PathOracle], Result],
            cap: int = MAX_PATHS) -> list[Path[Result]]:
    """Replay every combination of the conditions the replays ask, depth-first (a
    condition asked only on some paths is only varied there), up to ``cap`` paths: when
    there are more, the first ``cap`` stand (each one is still a consistent path; the
    others stay unread)."""
    work: list[dict[str, bool]] = [{}]
    seen: set[tuple[tuple[str, bool], ...]] = set()
    paths: list[Path[Result]] = []
    while work:
        fixed = work.pop()
        oracle = PathOracle(fixed)
        result = replay(oracle)
        taken = oracle.decisions()
        signature = tuple((d.key, d.value) for d in taken)
        if signature in seen:
            continue
        seen.add(signature)
        if not taken and not fixed:
            return []  # nothing to decide: the one path is the joined replay
        paths.append(Path(result, taken))
        if len(paths) >= cap:
            return paths
        prefix = dict(fixed)
        flips: list[dict[str, bool]] = []
        for decision in taken:
            if decision.key not in fixed:
                flips.append({**prefix, decision.key: not decision.value})
            prefix[decision.key] = decision.value
        work.extend(reversed(flips))
    return paths


def condition_key(test: cst.BaseExpression, module: cst.Module) -> tuple[str, bool]:
    """The condition as written, without leading ``not``s and with its whitespace
    normalised, and whether the test means it (True) or its negation (False)."""
    positive = True
    while isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        positive = not positive
        test = test.expression
    text = " ".join(module.code_for_node(test).split())
    return text, positive


def describe(decision: Decision) -> str:
    """``when `args.finetune` is true``."""
    text = decision.text or decision.key
    truth = "true" if decision.value == decision.text_means else "false"
    read = re.sub(r"#\d+", "", decision.key)  # (a parameter's key names the parameter)
    if text != read and _NAME_READ.fullmatch(read):
        # `if use_bn:` on a parameter holding `gen_cfg.use_bn`: say which value it reads
        return f"when `{text}` (`{read}`) is {truth}"
    return f"when `{text}` is {truth}"


class Relevance:
    """Which undecided ``if`` statements a path should decide: those under which the
    joined replay recorded an event (a layer built, a model compiled, a flag set) or made
    batches of a known size, and early exits followed by code that mentions training. Filled from the joined
    replay, read by the path replays."""

    def __init__(self) -> None:
        self.ifs: set[int] = set()
        self.exits: set[int] = set()
        # the functions (by id of their node) the joined replay ran from the module's own
        # flow, before replaying the ones nobody called
        self.called: frozenset[int] = frozenset()
        # per block (keyed by its last statement): does the suffix from a statement on
        # mention training?
        self.suffixes: dict[int, dict[int, bool]] = {}

    def learn(self, model: SemanticModel) -> bool:
        """Take the ``if``s that matter from the joined ``model``; is a path worth it?"""
        graph_steps = [call.context.path for call in model.calls
                       if call.method == "minimize" or call.name in GRAPH_GRADIENTS]
        if not graph_steps and not any(event.kind in WORKFLOW_EVENTS
                                       for event in model.events):
            return False
        # the branches under which a step happened or batches of a known size were made
        # (`if args.data == "nyu": train_gen = NYUSequence(batch_size=args.bs)`), or a
        # graph's train op or gradients were built (`if args.mode == "train": train(args)`)
        # or its batch normalization (`if args.data == "celeba": logits = bn_net(x)`)
        tf1_norms = keras_api().tf1_bn_functions
        paths = [event.context.path for event in model.events] + model.batch_paths + (
            graph_steps) + [call.context.path for call in model.calls
                            if graph_steps and call.name in tf1_norms]
        for path in paths:
            for kind, node in path:
                if kind in {"loop", "callback"}:
                    break  # decided per iteration, not per path
                if kind in {"if", "else"} and isinstance(node, cst.If):
                    self.ifs.add(id(node))
        self.ifs |= self.exits
        return bool(self.ifs)

    def note_exit(self, node: cst.If, rest: Sequence[cst.CSTNode]) -> None:
        """The joined replay met ``node``, undecided: remember it when an arm leaves the
        block before a ``rest`` that mentions training."""
        exits = always_exits(node.body) or node.orelse is not None and always_exits(node.orelse)
        if exits and self.rest_mentions(rest):
            self.exits.add(id(node))

    def matters(self, node: cst.If) -> bool:
        """Should a path decide ``node``?"""
        return id(node) in self.ifs

    def rest_mentions(self, rest: Sequence[cst.CSTNode]) -> bool:
        """Does any of these statements mention training? Answers for every suffix of a
        block are computed together, so that a block of many early exits stays linear."""
        if not rest:
            return False
        key = id(rest[-1])
        suffixes = self.suffixes.get(key)
        if suffixes is None:
            suffixes = {}
            seen = False
            for statement in reversed(rest):
                seen = seen or _mentions(statement, WORKFLOW_WORDS)
                suffixes[id(statement)] = seen
            self.suffixes[key] = suffixes
        answer = suffixes.get(id(rest[0]))
        if answer is None:  # a longer suffix of the same block than first asked
            answer = any(_mentions(statement, WORKFLOW_WORDS) for statement in rest)
        return answer


def _mentions(node: cst.CSTNode, words: frozenset[str]) -> bool:
    return any(isinstance(child, cst.Name) and child.value in words for child in walk(node))
