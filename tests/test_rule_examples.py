"""Every rule's declared examples: the flagged ones are flagged, the others are not."""

from __future__ import annotations

import re

import pytest

from bnlint.registry import all_rules
from bnlint.rule import Example, Rule
from bnlint.testing import DOC_SECTIONS, lint_example

CASES = [
    pytest.param(rule, example, flagged, id=f"{rule.code}-{'flagged' if flagged else 'ok'}-{i}")
    for rule in all_rules()
    for flagged in (True, False)
    for i, example in enumerate(rule.examples(flagged))
]


@pytest.mark.parametrize(("rule", "example", "flagged"), CASES)
def test_declared_example(rule: type[Rule], example: Example, flagged: bool) -> None:
    findings = lint_example(rule, example)
    if flagged:
        assert findings, f"{rule.code} should flag:\n{example.code}"
    else:
        assert not findings, f"{rule.code} should not flag:\n{example.code}\n{findings}"


@pytest.mark.parametrize("rule", all_rules(), ids=lambda rule: rule.code)
def test_rule_is_documented_with_enough_examples(rule: type[Rule]) -> None:
    doc = rule.documentation()
    for section in DOC_SECTIONS:
        assert section in doc, f"{rule.code} docstring lacks {section!r}"
    assert len(rule.examples(True)) >= 3
    assert len(rule.examples(False)) >= 3
    assert re.fullmatch(r"BN\d{3}", rule.code)
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", rule.name)
    assert rule.severity in {"error", "warning", "info"}
    assert rule.summary and rule.needles


def test_rule_codes_and_names_are_unique() -> None:
    rules = all_rules()
    assert len({rule.code for rule in rules}) == len(rules)
    assert len({rule.name for rule in rules}) == len(rules)
