"""Which rules run: rule selectors (codes, prefixes, names, ``ALL``) and ruff's rules
for ``select`` / ``extend-select`` / ``ignore`` / ``per-file-ignores``.

Resolution follows ruff. The selection starts from the default set (every rule that is
on by default). Each layer of configuration (the config file, then the command line)
is applied in turn: a layer's ``select`` replaces the set carried over, ``extend-select``
adds to it and ``ignore`` removes from it. Inside a layer, more specific selectors win
over less specific ones (``ALL`` < ``BN`` < ``BN2`` < ``BN20`` < ``BN201`` = a rule name),
and at equal specificity ``ignore`` wins over ``select``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bnlint.config import ConfigError
from bnlint.rule import Rule
from bnlint.settings import Settings

if TYPE_CHECKING:
    import pathspec

ALL = "ALL"
LINTER_PREFIX = "BN"
_CODE_PREFIX = re.compile(r"^[A-Z]+[0-9]*$")
_EXACT = 100  # specificity of a full code or a rule name


@dataclass(frozen=True, slots=True)
class SelectionLayer:
    """One layer of rule selection (a config file, or the command line)."""

    select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] = ()
    extend_select: tuple[str, ...] = ()


def layer_of(settings: Settings) -> SelectionLayer:
    """The selection layer a Settings object describes."""
    return SelectionLayer(settings.select, settings.ignore, settings.extend_select)


def default_codes(rules: Sequence[type[Rule]]) -> frozenset[str]:
    """Codes of the rules that are on when the user selects nothing."""
    return frozenset(rule.code for rule in rules if rule.default_enabled)


def expand_selector(selector: str, rules: Sequence[type[Rule]]) -> frozenset[str]:
    """The codes a selector stands for. Raises ConfigError for an unknown selector."""
    return _expand(selector, rules)[1]


def resolve_selection(
    settings: Settings,
    rules: Sequence[type[Rule]],
    cli: SelectionLayer | None = None,
) -> frozenset[str]:
    """The codes of the rules to run, from the settings' layer and, when given, the
    command line's layer on top of it (as ruff applies CLI options after the config)."""
    layers = [layer_of(settings)] + ([cli] if cli is not None else [])
    selected = default_codes(rules)
    for layer in layers:
        selected = _apply_layer(selected, layer, rules)
    return selected


def _apply_layer(
    carried: frozenset[str], layer: SelectionLayer, rules: Sequence[type[Rule]]
) -> frozenset[str]:
    selects = [_expand(s, rules) for s in (*(layer.select or ()), *layer.extend_select)]
    ignores = [_expand(s, rules) for s in layer.ignore]
    updates: dict[str, bool] = {}
    for specificity in sorted({spec for spec, _ in selects + ignores}):
        for value, expansions in ((True, selects), (False, ignores)):
            for spec, codes in expansions:
                if spec == specificity:
                    updates.update(dict.fromkeys(codes, value))
    added = {code for code, on in updates.items() if on}
    if layer.select is not None:
        return frozenset(added)
    removed = {code for code, on in updates.items() if not on}
    return frozenset((carried | added) - removed)


def _expand(selector: str, rules: Sequence[type[Rule]]) -> tuple[int, frozenset[str]]:
    """``(specificity, codes)`` of a selector."""
    text = selector.strip()
    if text.upper() == ALL:
        return 0, frozenset(rule.code for rule in rules)
    by_name = {rule.name: rule.code for rule in rules}
    if text.lower() in by_name:
        return _EXACT, frozenset({by_name[text.lower()]})
    upper = text.upper()
    if _CODE_PREFIX.match(upper) and upper.startswith(LINTER_PREFIX):
        codes = frozenset(rule.code for rule in rules if rule.code.startswith(upper))
        if codes or upper == LINTER_PREFIX:
            exact = any(rule.code == upper for rule in rules)
            return (_EXACT if exact else len(upper) - 1), codes
    if upper == "BN000" or text.lower() == "syntax-error":
        raise ConfigError(
            f"{selector!r} cannot be selected or ignored: BN000 (syntax-error) is no rule "
            "but Python's own verdict, reported on every file bnlint analyses that Python "
            "rejects "
            "(`bnlint --explain BN000`)")
    raise ConfigError(
        f"unknown rule selector {selector!r} "
        "(expected a rule code like BN101, a prefix like BN2, a rule name, or ALL; "
        "`bnlint --list-rules` lists them)"
    )


@dataclass(frozen=True, slots=True)
class PerFileIgnore:
    """One ``per-file-ignores`` entry, compiled. A pattern starting with ``!`` applies
    to the files it does not match (as in ruff)."""

    pattern: str
    codes: frozenset[str]
    negated: bool
    basename_only: bool
    spec: pathspec.GitIgnoreSpec

    def applies_to(self, relative: str | None, basename: str) -> bool:
        """Does the entry apply to a file? ``relative`` is its path from the project
        root with ``/`` separators, or None when the file lies outside the root."""
        if self.basename_only:
            hit = self.spec.match_file(basename)
        else:
            hit = relative is not None and self.spec.match_file(relative)
        return hit != self.negated


@dataclass(frozen=True, slots=True)
class PerFileIgnores:
    """Every ``per-file-ignores`` entry of a run, compiled once."""

    root: str
    entries: tuple[PerFileIgnore, ...] = ()

    def codes_for(self, path: str, selected: frozenset[str]) -> frozenset[str]:
        """The selected codes minus those the entries matching ``path`` ignore."""
        if not self.entries:
            return selected
        relative = _relative_to(path, self.root)
        basename = os.path.basename(path)
        ignored: set[str] = set()
        for entry in self.entries:
            if entry.applies_to(relative, basename):
                ignored |= entry.codes
        return selected - ignored


def compile_per_file_ignores(
    settings: Settings, rules: Sequence[type[Rule]]
) -> PerFileIgnores:
    """Compile the settings' ``per-file-ignores``; raises ConfigError for an unknown
    selector. Globs are gitignore-style, relative to ``settings.root``; a glob without
    ``/`` matches the file's name in any directory."""
    import pathspec

    entries: list[PerFileIgnore] = []
    for pattern, selectors in settings.per_file_ignores:
        negated = pattern.startswith("!")
        glob = pattern[1:] if negated else pattern
        glob = glob.removeprefix("./")
        try:
            spec = pathspec.GitIgnoreSpec.from_lines([glob])
        except ValueError as error:
            raise ConfigError(f"per-file-ignores: invalid glob {pattern!r}: {error}") from None
        if not glob.strip():
            raise ConfigError(f"per-file-ignores: empty glob {pattern!r}")
        entries.append(
            PerFileIgnore(
                pattern=pattern,
                codes=_union(expand_selector(s, rules) for s in selectors),
                negated=negated,
                basename_only="/" not in glob,
                spec=spec,
            )
        )
    return PerFileIgnores(settings.root, tuple(entries))


def codes_for_file(
    path: str,
    settings: Settings,
    selected: frozenset[str],
    rules: Sequence[type[Rule]] | None = None,
) -> frozenset[str]:
    """The codes to run on one file: ``selected`` minus its ``per-file-ignores``.
    ``rules`` (default: every registered rule) resolve the selectors; for many files
    compile once with :func:`compile_per_file_ignores` instead."""
    if not settings.per_file_ignores:
        return selected
    if rules is None:
        from bnlint.registry import all_rules

        rules = all_rules()
    return compile_per_file_ignores(settings, rules).codes_for(path, selected)


def _union(groups: Iterable[frozenset[str]]) -> frozenset[str]:
    result: set[str] = set()
    for group in groups:
        result |= group
    return frozenset(result)


def _relative_to(path: str, root: str) -> str | None:
    try:
        relative = os.path.relpath(os.path.abspath(path), os.path.abspath(root))
    except ValueError:  # another drive on Windows
        return None
    relative = relative.replace(os.sep, "/")
    if relative == ".." or relative.startswith("../"):
        return None
    return relative
