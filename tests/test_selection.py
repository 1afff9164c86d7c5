"""Rule selection: selectors, ruff's select/extend-select/ignore layering, per-file-ignores."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from bnlint.config import ConfigError
from bnlint.rule import Report, Rule, RuleContext
from bnlint.selection import (
    SelectionLayer,
    codes_for_file,
    compile_per_file_ignores,
    expand_selector,
    resolve_selection,
)
from bnlint.settings import Settings


def fake_rule(code: str, name: str, default: bool = True) -> type[Rule]:
    class Fake(Rule):
        severity: ClassVar = "warning"
        summary: ClassVar = "fake"

        def check(self, ctx: RuleContext) -> Iterator[Report]:
            return iter(())

    Fake.code = code
    Fake.name = name
    Fake.default_enabled = default
    return Fake


RULES = (
    fake_rule("BN101", "training-attribute"),
    fake_rule("BN102", "frozen-training-true"),
    fake_rule("BN201", "unfreeze-without-recompile"),
    fake_rule("BN204", "unfreeze-lr-too-high"),
    fake_rule("BN901", "noisy-rule", default=False),
)
DEFAULT = {"BN101", "BN102", "BN201", "BN204"}


def select(settings: Settings, cli: SelectionLayer | None = None) -> set[str]:
    return set(resolve_selection(settings, RULES, cli))


def test_default_selection_is_every_rule_on_by_default() -> None:
    assert select(Settings()) == DEFAULT


@pytest.mark.parametrize(
    ("selector", "codes"),
    [
        ("BN101", {"BN101"}),
        ("bn101", {"BN101"}),
        ("BN2", {"BN201", "BN204"}),
        ("BN20", {"BN201", "BN204"}),
        ("BN", DEFAULT | {"BN901"}),
        ("ALL", DEFAULT | {"BN901"}),
        ("training-attribute", {"BN101"}),
    ],
)
def test_selectors_expand_to_codes(selector: str, codes: set[str]) -> None:
    assert set(expand_selector(selector, RULES)) == codes


@pytest.mark.parametrize("selector", ["BN999", "BN3", "E501", "no-such-rule", "", "BNX"])
def test_unknown_selector_is_a_config_error_naming_it(selector: str) -> None:
    with pytest.raises(ConfigError, match=repr(selector).replace("[", r"\[")):
        expand_selector(selector, RULES)


def test_select_replaces_the_default_set() -> None:
    assert select(Settings(select=("BN2",))) == {"BN201", "BN204"}


def test_extend_select_adds_to_the_default_set() -> None:
    assert select(Settings(extend_select=("BN901",))) == DEFAULT | {"BN901"}


def test_ignore_removes_from_the_selection() -> None:
    assert select(Settings(ignore=("BN1",))) == {"BN201", "BN204"}


def test_ignore_wins_over_select_at_equal_specificity() -> None:
    assert select(Settings(select=("BN101", "BN102"), ignore=("BN101",))) == {"BN102"}


def test_more_specific_select_wins_over_less_specific_ignore() -> None:
    assert select(Settings(select=("BN201",), ignore=("BN2",))) == {"BN201"}
    assert select(Settings(ignore=("BN",), extend_select=("BN204",))) == {"BN204"}


def test_more_specific_ignore_wins_over_less_specific_select() -> None:
    assert select(Settings(select=("ALL",), ignore=("BN9", "BN102"))) == DEFAULT - {"BN102"}


def test_rule_name_is_as_specific_as_its_code() -> None:
    assert select(Settings(select=("BN1",), ignore=("frozen-training-true",))) == {"BN101"}


def test_cli_select_replaces_the_config_selection_entirely() -> None:
    settings = Settings(ignore=("BN101",))
    assert select(settings, SelectionLayer(select=("BN101",))) == {"BN101"}


def test_cli_ignore_removes_rules_the_config_selected_specifically() -> None:
    # As in ruff, a later layer applies to what the earlier one resolved to.
    settings = Settings(select=("BN201",))
    assert select(settings, SelectionLayer(ignore=("BN2",))) == set()


def test_cli_extend_select_adds_to_config_selection() -> None:
    settings = Settings(select=("BN1",))
    assert select(settings, SelectionLayer(extend_select=("BN901",))) == {
        "BN101", "BN102", "BN901"}


def test_empty_select_selects_nothing() -> None:
    assert select(Settings(select=())) == set()


def pfi(root: Path, *entries: tuple[str, tuple[str, ...]]) -> Settings:
    return Settings(root=str(root), per_file_ignores=entries)


def test_per_file_ignores_glob_without_slash_matches_the_basename_anywhere(
    tmp_path: Path,
) -> None:
    settings = pfi(tmp_path, ("test_*.py", ("BN1",)))
    selected = frozenset(DEFAULT)
    deep = str(tmp_path / "a" / "b" / "test_x.py")
    assert codes_for_file(deep, settings, selected, RULES) == {"BN201", "BN204"}
    other = str(tmp_path / "a" / "model.py")
    assert codes_for_file(other, settings, selected, RULES) == selected


def test_per_file_ignores_glob_with_slash_is_relative_to_the_root(tmp_path: Path) -> None:
    settings = pfi(tmp_path, ("notebooks/*.ipynb", ("unfreeze-lr-too-high",)))
    selected = frozenset(DEFAULT)
    inside = str(tmp_path / "notebooks" / "a.ipynb")
    assert codes_for_file(inside, settings, selected, RULES) == DEFAULT - {"BN204"}
    nested = str(tmp_path / "src" / "notebooks" / "a.ipynb")
    assert codes_for_file(nested, settings, selected, RULES) == selected


def test_per_file_ignores_work_with_paths_relative_to_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = pfi(tmp_path, ("tests/**", ("ALL",)))
    selected = frozenset(DEFAULT)
    assert codes_for_file(os.path.join("tests", "unit", "t.py"), settings, selected,
                          RULES) == frozenset()


def test_per_file_ignores_negated_pattern_applies_to_other_files(tmp_path: Path) -> None:
    settings = pfi(tmp_path, ("!src/**", ("BN2",)))
    selected = frozenset(DEFAULT)
    assert codes_for_file(str(tmp_path / "src" / "m.py"), settings, selected, RULES) == selected
    assert codes_for_file(str(tmp_path / "scripts" / "m.py"), settings, selected,
                          RULES) == {"BN101", "BN102"}


def test_per_file_ignores_with_a_slash_never_match_outside_the_root(tmp_path: Path) -> None:
    settings = pfi(tmp_path / "project", ("**/x.py", ("ALL",)))
    outside = str(tmp_path / "elsewhere" / "x.py")
    assert codes_for_file(outside, settings, frozenset(DEFAULT), RULES) == DEFAULT


def test_per_file_ignores_unknown_selector_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="BN777"):
        compile_per_file_ignores(pfi(tmp_path, ("*.py", ("BN777",))), RULES)


@pytest.mark.parametrize("glob", ["\\", "!", ""])
def test_per_file_ignores_invalid_glob_is_a_config_error(tmp_path: Path, glob: str) -> None:
    with pytest.raises(ConfigError, match="per-file-ignores"):
        compile_per_file_ignores(pfi(tmp_path, (glob, ("BN1",))), RULES)
