"""What the formats say about a rule besides its findings: summary, what it does, its
documentation (markdown, as `bnlint rule CODE` prints it), default severity."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from bnlint.finding import Severity
from bnlint.parse import SYNTAX_ERROR_CODE, SYNTAX_ERROR_NAME

_SECTION = re.compile(r"^## (?P<title>.+)$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class RuleMeta:
    """A rule as the report formats describe it."""

    code: str
    name: str
    severity: Severity
    summary: str
    what_it_does: str
    documentation: str


@lru_cache(maxsize=1)
def rule_metas() -> tuple[RuleMeta, ...]:
    """Every rule, sorted by code, the syntax error (BN000) first."""
    from bnlint.registry import all_rules

    syntax = RuleMeta(
        SYNTAX_ERROR_CODE, SYNTAX_ERROR_NAME, "error",
        "a file (or notebook cell) that Python 3 cannot compile",
        "Reports the first syntax error CPython finds in a file, or in each notebook cell "
        "that does not compile; the rest of the file cannot be checked.",
        "## What it does\nReports code that Python 3 cannot compile, at the row and column "
        "CPython names, with its message. A notebook cell that does not compile gets its own "
        "finding and the other cells are still analysed.\n",
    )
    metas = [syntax]
    for rule in all_rules():
        documentation = rule.documentation() or rule.summary
        metas.append(RuleMeta(rule.code, rule.name, rule.severity, rule.summary,
                              _section(documentation, "What it does") or rule.summary,
                              documentation))
    return tuple(metas)


def _section(markdown: str, title: str) -> str | None:
    """The text of the ``## title`` section, without the heading."""
    headings = list(_SECTION.finditer(markdown))
    for index, heading in enumerate(headings):
        if heading.group("title").strip().lower() == title.lower():
            end = headings[index + 1].start() if index + 1 < len(headings) else len(markdown)
            return markdown[heading.end():end].strip() or None
    return None
