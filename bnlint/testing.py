"""Helpers to run a rule on a snippet (used by the test suite and ``bnlint --explain``)."""

from __future__ import annotations

import textwrap

from bnlint.engine import lint_source
from bnlint.finding import Finding
from bnlint.flavour import parse_version
from bnlint.rule import Example, FixExample, Rule
from bnlint.settings import Settings
from bnlint.source import Source

DOC_SECTIONS = ("## What it does", "## Why is this bad?", "## Example", "## Use instead",
                "## Fix safety", "## References")


def lint_snippet(code: str, rules: list[type[Rule]], target: str = "auto",
                 keras_version: str | None = None, path: str = "snippet.py") -> list[Finding]:
    """Lint ``code`` with ``rules`` under the given target; raise on internal errors."""
    settings = Settings(
        target_keras=target,  # type: ignore[arg-type]
        keras_version=parse_version(keras_version) if keras_version else None,
    )
    result = lint_source(Source(path, textwrap.dedent(code)), settings, rules)
    if result.errors:
        raise RuntimeError("; ".join(result.errors))
    return list(result.findings)


def lint_example(rule: type[Rule], example: Example) -> list[Finding]:
    """The findings of ``rule`` on one of its declared examples."""
    findings = lint_snippet(example.code, [rule], example.target, example.keras_version)
    return [finding for finding in findings if finding.code == rule.code]


def fix_snippet(code: str, rules: list[type[Rule]], target: str = "auto",
                keras_version: str | None = None, unsafe: bool = True,
                rounds: int = 10) -> str:
    """``code`` with the fixes of ``rules`` applied in rounds until none is left, as
    ``--fix`` does (``unsafe``: with ``--unsafe-fixes``)."""
    from bnlint.fix import fix_text, signature

    text = textwrap.dedent(code)
    done: set[tuple[str, str, tuple[str, ...]]] = set()
    for _ in range(rounds):
        findings = lint_snippet(text, rules, target, keras_version)
        new_text, applied = fix_text(text, findings, unsafe, done)
        if not applied or new_text == text:
            return text
        done.update(signature(finding) for finding in applied)
        text = new_text
    return text


def fix_example(rule: type[Rule], example: FixExample) -> str:
    """What ``rule``'s fixes (unsafe ones included) make of a declared fix example."""
    return fix_snippet(example.before, [rule], example.target, example.keras_version)
