"""Inline suppression comments: which findings the user silenced, and where.

Three forms are understood, all in real comments (a ``#`` inside a string is not one):

- ``# noqa`` / ``# noqa: BN101, BN2`` (ruff/flake8): on the finding's line. Without codes
  it silences everything on the line. Codes of other tools (``E501``, ``F401``) are
  ignored, so ``# noqa: E501`` alone does not silence a BN finding. A BN code is also a
  prefix: ``BN2`` silences every BN2xx rule, as in flake8.
- ``# bnlint: ignore[BN101, training-attribute, BN2]``: on the finding's line; items are
  codes, prefixes or rule names. ``# bnlint: ignore`` without brackets silences every BN
  finding on the line.
- ``# bnlint: file-ignore[BN1]`` (or ruff's spelling ``# bnlint: noqa: BN1``) on a line of
  its own, anywhere in the file: silences those rules in the whole file. Without codes
  (``# bnlint: file-ignore``, ``# bnlint: noqa``) it silences every BN rule in the file.

A finding is matched against the row where it starts (for a multi-line statement, the
first line of the reported node), never against its last line.
"""

from __future__ import annotations

import io
import re
import tokenize
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

# The noqa marker, optionally followed by a colon and codes; the codes run up to a
# further hash so that an explanation can follow in its own comment.
_NOQA = re.compile(r"#\s*noqa(?![\w-])(?P<colon>\s*:(?P<codes>[^#]*))?", re.IGNORECASE)
_CODE = re.compile(r"^[A-Za-z]+[0-9]+$")
# `# bnlint: ignore[...]`, `# bnlint: file-ignore[...]`, `# bnlint: noqa[: codes]`.
_BNLINT = re.compile(
    r"#\s*bnlint\s*:\s*(?P<kind>file-ignore|ignore|noqa)(?![\w-])"
    r"(?:\s*\[(?P<items>[^\]]*)\]|\s*:(?P<codes>[^#]*))?",
    re.IGNORECASE,
)
_PREFIX = re.compile(r"^BN[0-9]*$")


@dataclass(frozen=True, slots=True)
class Directive:
    """One suppression: ``selectors`` are codes, prefixes or rule names; empty means
    every rule (a blanket ``# noqa``)."""

    selectors: tuple[str, ...] = ()

    def covers(self, code: str, name: str) -> bool:
        """Does this directive silence the rule ``code`` / ``name``?"""
        if not self.selectors:
            return True
        return any(_selector_covers(selector, code, name) for selector in self.selectors)


@dataclass(frozen=True, slots=True)
class Suppressions:
    """The suppressions of one file: per-row directives and file-wide directives."""

    by_row: dict[int, tuple[Directive, ...]] = field(default_factory=dict)
    file_wide: tuple[Directive, ...] = ()

    def is_suppressed(self, code: str, name: str, row: int) -> bool:
        """Is the finding of rule ``code``/``name`` starting on ``row`` (1-based)
        silenced by a comment on that row or by a file-level directive?"""
        if any(directive.covers(code, name) for directive in self.file_wide):
            return True
        return any(directive.covers(code, name) for directive in self.by_row.get(row, ()))


def parse_suppressions(text: str) -> Suppressions:
    """Find every suppression comment in a program's text."""
    lowered = text.lower()
    if "noqa" not in lowered and "bnlint" not in lowered:
        return Suppressions()
    by_row: dict[int, list[Directive]] = {}
    file_wide: list[Directive] = []
    for row, comment, own_line in _comments(text):
        for directive, whole_file in _directives(comment):
            if whole_file:
                # ruff ignores a file-level exemption that trails code; so do we.
                if own_line:
                    file_wide.append(directive)
            else:
                by_row.setdefault(row, []).append(directive)
    return Suppressions(
        {row: tuple(directives) for row, directives in by_row.items()}, tuple(file_wide)
    )


def _comments(text: str) -> Iterator[tuple[int, str, bool]]:
    """Yield ``(row, comment text, is the comment alone on its line)``."""
    try:
        found = list(_tokenized_comments(text))
    except (tokenize.TokenError, SyntaxError, ValueError):
        # Text tokenize cannot follow (e.g. newer syntax): a plain line scan is good
        # enough, it can only see too many comments, never too few.
        found = list(_scanned_comments(text))
    return iter(found)


def _tokenized_comments(text: str) -> Iterator[tuple[int, str, bool]]:
    readline = io.StringIO(text).readline
    for token in tokenize.generate_tokens(readline):
        if token.type == tokenize.COMMENT:
            row, column = token.start
            yield row, token.string, not token.line[:column].strip()


def _scanned_comments(text: str) -> Iterator[tuple[int, str, bool]]:
    for row, line in enumerate(text.splitlines(), start=1):
        column = line.find("#")
        if column >= 0:
            yield row, line[column:], not line[:column].strip()


def _directives(comment: str) -> Iterator[tuple[Directive, bool]]:
    """The directives in one comment, each with whether it applies to the whole file."""
    for match in _BNLINT.finditer(comment):
        kind = match.group("kind").lower()
        raw = match.group("items") if match.group("items") is not None else match.group("codes")
        selectors = _bnlint_items(raw) if raw is not None else ()
        if raw is not None and not selectors:
            continue  # `[]` or `[E501]`: nothing of ours, so not a blanket either
        yield Directive(selectors), kind != "ignore"
    for match in _NOQA.finditer(comment):
        if match.group("colon") is None:
            yield Directive(), False
            continue
        codes = _noqa_codes(match.group("codes") or "")
        if codes:
            yield Directive(codes), False
        # A noqa list without a code of ours (other tools' codes, or nothing after the
        # colon) is not a blanket: it leaves BN findings alone.


def _split(raw: str) -> Iterable[str]:
    return (item for item in re.split(r"[,\s]+", raw) if item)


def _noqa_codes(raw: str) -> tuple[str, ...]:
    """BN codes (or BN prefixes) of a ``# noqa:`` list; other tools' codes are dropped.
    The list ends at the first word that is not a code, as in ruff."""
    codes: list[str] = []
    for item in _split(raw):
        if not _CODE.match(item):
            break
        if item.upper().startswith("BN"):
            codes.append(item.upper())
    return tuple(codes)


def _bnlint_items(raw: str) -> tuple[str, ...]:
    """Codes, prefixes (upper-cased) and kebab names (lower-cased) of a bnlint list."""
    items: list[str] = []
    for item in _split(raw):
        if _PREFIX.match(item.upper()):
            items.append(item.upper())
        elif not _CODE.match(item):
            items.append(item.lower())
    return tuple(items)


def _selector_covers(selector: str, code: str, name: str) -> bool:
    if _PREFIX.match(selector):
        return code.startswith(selector)
    return selector == name
