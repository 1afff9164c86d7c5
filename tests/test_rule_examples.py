"""Every rule's declared examples: the flagged ones are flagged, the others are not, and
the fix examples are fixed as declared, once and for all."""

from __future__ import annotations

import ast
import re
import textwrap

import pytest

from bnlint.registry import all_rules
from bnlint.rule import Example, FixExample, Rule
from bnlint.testing import DOC_SECTIONS, fix_example, lint_example

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


FIX_CASES = [
    pytest.param(rule, example, id=f"{rule.code}-fix-{i}")
    for rule in all_rules()
    for i, example in enumerate(rule.fixed)
]


@pytest.mark.parametrize(("rule", "example"), FIX_CASES)
def test_declared_fix_example(rule: type[Rule], example: FixExample) -> None:
    before = textwrap.dedent(example.before)
    assert lint_example(rule, Example(before, example.target, example.keras_version)), (
        f"{rule.code}'s fix example is not flagged:\n{before}")
    fixed = fix_example(rule, example)
    assert fixed == textwrap.dedent(example.after)
    ast.parse(fixed)
    # fixing the fixed text changes nothing, and nothing fixable is left
    assert fix_example(rule, FixExample(fixed, fixed, example.target,
                                        example.keras_version)) == fixed
    left = lint_example(rule, Example(fixed, example.target, example.keras_version))
    assert not [finding for finding in left if finding.fix is not None]


@pytest.mark.parametrize("rule", [rule for rule in all_rules() if rule.fixed],
                         ids=lambda rule: rule.code)
def test_fixing_rule_documents_its_fix_safety(rule: type[Rule]) -> None:
    section = rule.documentation().split("## Fix safety", 1)[1].split("##", 1)[0]
    assert "No automatic fix" not in section and "not applied" not in section.lower()
    assert ("unsafe" in section) == any(_unsafe(rule, example) for example in rule.fixed)


def _unsafe(rule: type[Rule], example: FixExample) -> bool:
    findings = lint_example(rule, Example(textwrap.dedent(example.before), example.target,
                                          example.keras_version))
    return any(f.fix is not None and f.fix.applicability == "unsafe" for f in findings)


@pytest.mark.parametrize(("rule", "example", "flagged"),
                         [case for case in CASES if case.values[2]])
def test_every_fix_of_a_flagged_example_parses_holds_and_is_stable(
    rule: type[Rule], example: Example, flagged: bool,
) -> None:
    code = textwrap.dedent(example.code)
    fixed = fix_example(rule, FixExample(code, "", example.target, example.keras_version))
    ast.parse(fixed)
    again = fix_example(rule, FixExample(fixed, "", example.target, example.keras_version))
    assert again == fixed
    left = lint_example(rule, Example(fixed, example.target, example.keras_version))
    assert not [finding for finding in left if finding.fix is not None], fixed
