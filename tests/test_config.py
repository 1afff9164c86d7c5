"""Configuration files: discovery, every key, and the errors users see."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bnlint.config import (
    CliOverrides,
    ConfigError,
    apply_overrides,
    find_config,
    load_settings,
)
from bnlint.settings import DEFAULT_EXCLUDES, Settings, Thresholds


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def load(tmp_path: Path, text: str, name: str = "bnlint.toml") -> Settings:
    return load_settings(str(write(tmp_path / name, text)))


# --- finding the file ------------------------------------------------------------


def test_find_config_walks_up_to_the_nearest_bnlint_toml(tmp_path: Path) -> None:
    config = write(tmp_path / "bnlint.toml", "")
    start = tmp_path / "a" / "b"
    start.mkdir(parents=True)
    assert find_config(str(start)) == str(config)


def test_find_config_starts_from_a_file_s_directory(tmp_path: Path) -> None:
    config = write(tmp_path / "pkg" / "bnlint.toml", "")
    script = write(tmp_path / "pkg" / "train.py", "")
    assert find_config(str(script)) == str(config)


def test_find_config_accepts_a_path_that_does_not_exist(tmp_path: Path) -> None:
    config = write(tmp_path / "bnlint.toml", "")
    assert find_config(str(tmp_path / "unsaved.py")) == str(config)


def test_pyproject_counts_only_with_a_tool_bnlint_table(tmp_path: Path) -> None:
    outer = write(tmp_path / "pyproject.toml", "[tool.bnlint]\nselect = ['BN1']\n")
    write(tmp_path / "inner" / "pyproject.toml", "[tool.ruff]\nline-length = 100\n")
    assert find_config(str(tmp_path / "inner")) == str(outer)


def test_bnlint_toml_wins_over_pyproject_in_the_same_directory(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", "[tool.bnlint]\n")
    config = write(tmp_path / "bnlint.toml", "")
    assert find_config(str(tmp_path)) == str(config)


def test_nearer_pyproject_wins_over_farther_bnlint_toml(tmp_path: Path) -> None:
    write(tmp_path / "bnlint.toml", "")
    near = write(tmp_path / "sub" / "pyproject.toml", "[tool.bnlint]\n")
    assert find_config(str(tmp_path / "sub")) == str(near)


def test_no_config_anywhere_gives_none(tmp_path: Path) -> None:
    start = tmp_path / "x"
    start.mkdir()
    # Only meaningful when nothing above tmp_path configures bnlint.
    above = find_config(str(tmp_path.parent))
    assert find_config(str(start)) == above


# --- reading it ------------------------------------------------------------------


def test_no_config_gives_defaults_rooted_at_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(None)
    cache_dir = os.path.join(os.getcwd(), ".bnlint_cache")
    assert settings == Settings(root=os.getcwd(), cache_dir=cache_dir)


def test_every_key_is_read(tmp_path: Path) -> None:
    settings = load(tmp_path, """
select = ["BN1", "unfreeze-lr-too-high"]
ignore = ["BN102"]
extend-select = ["BN901"]
exclude = ["legacy"]
extend-exclude = ["scratch/*.ipynb"]
respect-gitignore = false
force-exclude = true
target-keras = "tf-keras"
keras-version = "2.15"
unfreeze-lr-threshold = 5e-4
unfreeze-lr-min-ratio = 10
tiny-batch-warning = 4
tiny-batch-info = 16
pytorch-momentum-max = 0.3
cache-dir = "build/bnlint-cache"

[per-file-ignores]
"tests/*" = ["ALL"]
"__init__.py" = ["BN2"]
""")
    assert settings.select == ("BN1", "unfreeze-lr-too-high")
    assert settings.ignore == ("BN102",)
    assert settings.extend_select == ("BN901",)
    assert settings.exclude == ("legacy",)
    assert settings.extend_exclude == ("scratch/*.ipynb",)
    assert settings.respect_gitignore is False
    assert settings.force_exclude is True
    assert settings.target_keras == "tf-keras"
    assert settings.keras_version == (2, 15)
    assert settings.per_file_ignores == (("tests/*", ("ALL",)), ("__init__.py", ("BN2",)))
    assert settings.thresholds == Thresholds(5e-4, 10.0, 4, 16, 0.3)
    assert settings.root == str(tmp_path)
    assert settings.cache_dir == str(tmp_path / "build" / "bnlint-cache")


def test_pyproject_keys_live_under_tool_bnlint(tmp_path: Path) -> None:
    settings = load(tmp_path, "[project]\nname = 'x'\n[tool.bnlint]\nignore = ['BN2']\n",
                    name="pyproject.toml")
    assert settings.ignore == ("BN2",)
    assert settings.exclude == DEFAULT_EXCLUDES


def test_unknown_key_names_the_file_and_suggests_the_right_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, "selct = ['BN1']\n")
    message = str(caught.value)
    assert "bnlint.toml" in message and "`selct`" in message and "`select`" in message


def test_tool_table_in_bnlint_toml_is_explained(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="top-level"):
        load(tmp_path, "[tool.bnlint]\nselect = ['BN1']\n")


def test_unknown_key_in_pyproject_names_the_table(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"pyproject.toml \[tool.bnlint\].*`colour`"):
        load(tmp_path, "[tool.bnlint]\ncolour = 'red'\n", name="pyproject.toml")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("select = 'BN1'", "a list of strings"),
        ("ignore = [1]", "a list of strings"),
        ("respect-gitignore = 'no'", "true or false"),
        ("target-keras = 'keras4'", '"keras3"'),
        ("keras-version = 3.15", "version string"),
        ("keras-version = 'three'", "version string"),
        ("unfreeze-lr-threshold = 0", "> 0"),
        ("unfreeze-lr-threshold = 'high'", "> 0"),
        ("unfreeze-lr-min-ratio = 0.5", ">= 1"),
        ("tiny-batch-warning = 0", "integer >= 1"),
        ("tiny-batch-warning = 2.5", "integer >= 1"),
        ("tiny-batch-warning = true", "integer >= 1"),
        ("pytorch-momentum-max = 1", "between 0 and 1"),
        ("pytorch-momentum-max = nan", "between 0 and 1"),
        ("per-file-ignores = ['x']", "table"),
    ],
)
def test_bad_value_names_file_key_and_expectation(
    tmp_path: Path, line: str, expected: str
) -> None:
    key = line.split(" =")[0]
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, line + "\n")
    message = str(caught.value)
    assert "bnlint.toml" in message and f"`{key}`" in message and expected in message


def test_tiny_batch_info_below_warning_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="tiny-batch-info.*tiny-batch-warning"):
        load(tmp_path, "tiny-batch-warning = 10\n")


def test_invalid_toml_reports_the_parser_message(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"bnlint.toml: invalid TOML: .*line 2"):
        load(tmp_path, "select = ['BN1']\nignore = = 3\n")


def test_invalid_pyproject_met_while_searching_is_an_error(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", "[tool.bnlint\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        find_config(str(tmp_path))


# --- command-line overrides --------------------------------------------------------


def test_cli_select_replaces_the_file_selection() -> None:
    settings = Settings(select=("BN1",), ignore=("BN101",), extend_select=("BN9",))
    merged = apply_overrides(settings, CliOverrides(select=("BN2",)))
    assert (merged.select, merged.ignore, merged.extend_select) == (("BN2",), (), ())


def test_cli_ignore_and_extend_select_add_to_the_file_selection() -> None:
    settings = Settings(select=("BN1",), ignore=("BN101",))
    merged = apply_overrides(settings, CliOverrides(ignore=("BN102",), extend_select=("BN2",)))
    assert merged.select == ("BN1",)
    assert merged.ignore == ("BN101", "BN102")
    assert merged.extend_select == ("BN2",)


def test_cli_switches_override_the_file(tmp_path: Path) -> None:
    config = write(tmp_path / "bnlint.toml", "target-keras = 'keras3'\nforce-exclude = false\n")
    overrides = CliOverrides(target_keras="tf1", force_exclude=True, respect_gitignore=False)
    settings = load_settings(str(config), overrides)
    assert settings.target_keras == "tf1"
    assert settings.force_exclude is True
    assert settings.respect_gitignore is False
