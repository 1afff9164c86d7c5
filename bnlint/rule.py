"""The rule author's API: a rule is a small query over the semantic model.

A rule module in ``rules/`` defines one subclass of :class:`Rule`. Its docstring is its
documentation (What it does / Why is this bad? / Example / Use instead / Fix safety /
References); ``flagged`` and ``not_flagged`` are examples the test suite runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from bnlint.finding import Severity
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
class Report:
    """What a rule reports: the node where the user should act, a message, and the
    other nodes that together cause the problem (each with a short message)."""

    node: cst.CSTNode
    message: str
    related: tuple[tuple[cst.CSTNode, str], ...] = ()
    severity: Severity | None = None
    # the facts the runtime probe replays (rules with a probe scenario only)
    scenario: Scenario | None = None


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
    # Byte strings of which at least one must occur in a file for the rule to apply.
    needles: ClassVar[tuple[bytes, ...]] = (b"BatchNorm", b"batch_norm", b"trainable")
    flagged: ClassVar[tuple[Example | str, ...]] = ()
    not_flagged: ClassVar[tuple[Example | str, ...]] = ()

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
