"""The rule author's API: a rule is a small query over the semantic model.

A rule module in ``rules/`` defines one subclass of :class:`Rule`. Its docstring is its
documentation (What it does / Why is this bad? / Example / Use instead / Fix safety /
References); ``flagged`` and ``not_flagged`` are examples the test suite runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, Literal

from bnlint.finding import Applicability, Severity
from bnlint.flavour import Flavour
from bnlint.settings import Settings

if TYPE_CHECKING:
    import libcst as cst

    from bnlint.probe.scenario import Scenario
    from bnlint.semantic.model import SemanticModel


@dataclass(frozen=True, slots=True)
class Example:
    """A snippet a rule must (or must not) flag, optionally under a given target."""

    code: str
    target: str = "auto"
    keras_version: str | None = None


@dataclass(frozen=True, slots=True)
class FixExample:
    """A snippet and what the rule's fix makes of it, under a given target."""

    before: str
    after: str
    target: str = "auto"
    keras_version: str | None = None


@dataclass(frozen=True, slots=True)
class Anchor:
    """A point of the program: where ``node`` starts or ends, or the end of the row on
    which it ends (after any comment: where a new line can follow the statement)."""

    node: cst.CSTNode
    side: Literal["start", "end", "row_end"]


@dataclass(frozen=True, slots=True)
class Change:
    """Replace the text from ``start`` to ``end`` by ``text``. With ``indent``, each
    line of ``text`` after the first is prefixed with the indentation of the row
    ``start`` is on (write inserted statements as if at column 0)."""

    start: Anchor
    end: Anchor
    text: str
    indent: bool = False

    @classmethod
    def replace(cls, node: cst.CSTNode, text: str) -> Change:
        """Replace the text of ``node``."""
        return cls(Anchor(node, "start"), Anchor(node, "end"), text)

    @classmethod
    def insert_after(cls, node: cst.CSTNode, text: str) -> Change:
        """Insert ``text`` just after ``node``."""
        return cls(Anchor(node, "end"), Anchor(node, "end"), text)

    @classmethod
    def lines_after(cls, statement: cst.CSTNode, lines: str) -> Change:
        """Insert ``lines`` (statements written at column 0, ``\n``-separated) on new
        rows after ``statement``, at its indentation."""
        end = Anchor(statement, "row_end")
        return cls(end, end, "\n" + lines, indent=True)


@dataclass(frozen=True, slots=True)
class Rewrite:
    """A rule's fix: a message (imperative, e.g. "Replace `lr=` by `learning_rate=`"),
    the changes applied together, and whether it is safe (ruff's model: an unsafe fix
    changes how the model trains and needs ``--unsafe-fixes``)."""

    message: str
    changes: tuple[Change, ...]
    applicability: Applicability = "safe"


@dataclass(frozen=True, slots=True)
class Report:
    """What a rule reports: the node where the user should act, a message, the other
    nodes that together cause the problem (each with a short message), and optionally
    the fix."""

    node: cst.CSTNode
    message: str
    related: tuple[tuple[cst.CSTNode, str], ...] = ()
    severity: Severity | None = None
    # the facts the runtime probe replays (rules with a probe scenario only)
    scenario: Scenario | None = None
    fix: Rewrite | None = None
    # steps the finding rests on that its notes do not show (where the trained model
    # was built): an `if` arm holding one of them is a condition of the finding
    anchors: tuple[cst.CSTNode, ...] = ()
    # for a node in another module of the project: the statement of the linted file that
    # leads to it on the reported path (else the first that reached it)
    entry: cst.CSTNode | None = None


@dataclass(frozen=True, slots=True)
class RuleContext:
    """Everything a rule may look at for one file."""

    model: SemanticModel
    settings: Settings
    flavour: Flavour = field(default_factory=lambda: Flavour("keras3"))


class Rule:
    """Base class of every rule. Subclasses set the class attributes and ``check``."""

    code: ClassVar[str]
    name: ClassVar[str]
    severity: ClassVar[Severity]
    summary: ClassVar[str]
    default_enabled: ClassVar[bool] = True
    # Advice to move off an API that a Keras flavour renamed, deprecated or removed:
    # not for the sources of Keras, tf-keras or TensorFlow themselves, which maintain
    # that API.
    advises_migration: ClassVar[bool] = False
    # A verdict on what a program does with its models (which phases train what, on
    # which batches), not on how one call is written: such a rule also judges a module
    # by the programs that import and drive it (see ``bnlint.callers``).
    reads_program: ClassVar[bool] = False
    # Byte strings of which at least one must occur in a file for the rule to apply.
    needles: ClassVar[tuple[bytes, ...]] = (b"BatchNorm", b"batch_norm", b"trainable")
    flagged: ClassVar[tuple[Example | str, ...]] = ()
    not_flagged: ClassVar[tuple[Example | str, ...]] = ()
    # Each (before, after): the fixes of the rule (unsafe ones included) turn the first
    # into the second; the test suite checks it, and that the result is stable.
    fixed: ClassVar[tuple[FixExample, ...]] = ()

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        """Yield the reports for one file."""
        raise NotImplementedError

    @classmethod
    def examples(cls, flagged: bool) -> tuple[Example, ...]:
        raw = cls.flagged if flagged else cls.not_flagged
        return tuple(item if isinstance(item, Example) else Example(item) for item in raw)

    @classmethod
    def documentation(cls) -> str:
        import inspect

        return inspect.cleandoc(cls.__doc__ or "")
