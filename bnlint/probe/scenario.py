"""What a finding tells the probe: the rule and the facts of the user's code that a
reconstruction needs (container kind, ``training=`` wiring, learning rates, batch size,
BN settings). Plain data, JSON in and out; no TensorFlow here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

Fact = str | int | float | bool | None


@dataclass(frozen=True, slots=True)
class Scenario:
    """A rule's probe scenario for one finding: ``rule`` names the scenario, ``facts``
    parameterise it (sorted key/value pairs, so that scenarios compare and hash)."""

    rule: str
    facts: tuple[tuple[str, Fact], ...] = ()

    def get(self, key: str, default: Fact = None) -> Fact:
        """The fact named ``key``, else ``default``."""
        return dict(self.facts).get(key, default)

    def to_json(self) -> dict[str, object]:
        return {"rule": self.rule, "facts": dict(self.facts)}

    @classmethod
    def from_json(cls, value: Mapping[str, object]) -> Scenario:
        facts = value.get("facts")
        items = facts.items() if isinstance(facts, Mapping) else ()
        return scenario(str(value.get("rule", "")), **{
            str(key): item for key, item in items
            if item is None or isinstance(item, (str, int, float, bool))})


def scenario(rule: str, **facts: Fact) -> Scenario:
    """A scenario of ``rule`` with ``facts`` (None-valued facts are left out: unknown)."""
    return Scenario(rule, tuple(sorted((key, value) for key, value in facts.items()
                                       if value is not None)))
