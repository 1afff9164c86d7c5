"""Configuration files: finding them, reading them, validating every key.

bnlint reads ``[tool.bnlint]`` in ``pyproject.toml``, or the top level of
``.bnlint.toml`` / ``bnlint.toml`` (like ``ruff.toml``). The nearest file walking up
from the first path wins; in one directory ``.bnlint.toml`` beats ``bnlint.toml``
beats ``pyproject.toml``. There is no inheritance between files (no ``extend``).
"""

from __future__ import annotations

import difflib
import math
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, get_args

from bnlint.flavour import parse_version
from bnlint.settings import Limits, Settings, TargetKeras, Thresholds

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

CONFIG_NAMES = (".bnlint.toml", "bnlint.toml")
PYPROJECT = "pyproject.toml"
TARGETS: tuple[str, ...] = get_args(TargetKeras)
CACHE_DIR_ENV = "BNLINT_CACHE_DIR"


class ConfigError(Exception):
    """A configuration problem the user must fix (exit code 2)."""


@dataclass(frozen=True, slots=True)
class CliOverrides:
    """Settings given on the command line; None (or empty) means "not given"."""

    select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] = ()
    extend_select: tuple[str, ...] = ()
    target_keras: TargetKeras | None = None
    force_exclude: bool | None = None
    respect_gitignore: bool | None = None
    fix: bool | None = None
    unsafe_fixes: bool | None = None
    # --cache-dir (or BNLINT_CACHE_DIR), relative to the working directory.
    cache_dir: str | None = None
    no_cache: bool = False
    # `[tool.bnlint]` limit keys given as flags (--max-file-size...), by field name
    limits: tuple[tuple[str, float], ...] = ()


def find_config(start: str) -> str | None:
    """The nearest configuration file for ``start`` (a file or directory, which need
    not exist), walking up to the filesystem root; None when there is none."""
    directory = os.path.abspath(start)
    if not os.path.isdir(directory):
        directory = os.path.dirname(directory)
    while True:
        found = _config_in(directory)
        if found is not None:
            return found
        parent = os.path.dirname(directory)
        if parent == directory:
            return None
        directory = parent


def _config_in(directory: str) -> str | None:
    for name in CONFIG_NAMES:
        candidate = os.path.join(directory, name)
        if os.path.isfile(candidate):
            return candidate
    candidate = os.path.join(directory, PYPROJECT)
    if os.path.isfile(candidate):
        tool = _read_toml(candidate).get("tool", {})
        if isinstance(tool, dict) and "bnlint" in tool:
            return candidate  # (a `tool` that is not a table holds no bnlint settings)
    return None


def load_settings(config_path: str | None, overrides: CliOverrides | None = None) -> Settings:
    """Settings from a configuration file (or the defaults when ``config_path`` is
    None, rooted at the working directory), with command-line overrides applied."""
    if config_path is None:
        root = os.getcwd()
        settings = Settings(root=root, cache_dir=default_cache_dir(root))
    else:
        table, label = _bnlint_table(config_path)
        root = os.path.dirname(os.path.abspath(config_path))
        settings = settings_from_table(table, label, root)
    return apply_overrides(settings, overrides) if overrides is not None else settings


def default_cache_dir(root: str) -> str:
    """The cache directory when none is configured: ``.bnlint_cache`` in the root."""
    from bnlint.cache import CACHE_DIR_NAME

    return os.path.join(root, CACHE_DIR_NAME)


def apply_overrides(settings: Settings, overrides: CliOverrides) -> Settings:
    """Apply command-line options on top of file settings. A CLI ``--select`` replaces
    the file's whole selection; otherwise CLI ignores and extensions are appended.
    (For the exact ruff layering use ``selection.resolve_selection`` with a CLI layer.)"""
    if overrides.select is not None:
        settings = replace(
            settings,
            select=overrides.select,
            ignore=overrides.ignore,
            extend_select=overrides.extend_select,
        )
    else:
        settings = replace(
            settings,
            ignore=settings.ignore + overrides.ignore,
            extend_select=settings.extend_select + overrides.extend_select,
        )
    if overrides.target_keras is not None:
        settings = replace(settings, target_keras=overrides.target_keras)
    if overrides.force_exclude is not None:
        settings = replace(settings, force_exclude=overrides.force_exclude)
    if overrides.respect_gitignore is not None:
        settings = replace(settings, respect_gitignore=overrides.respect_gitignore)
    if overrides.limits:
        given: dict[str, Any] = dict(overrides.limits)
        settings = replace(settings, limits=replace(settings.limits, **given))
    if overrides.fix is not None:
        settings = replace(settings, fix=overrides.fix)
    if overrides.unsafe_fixes is not None:
        settings = replace(settings, unsafe_fixes=overrides.unsafe_fixes)
    if overrides.no_cache:
        settings = replace(settings, cache_dir=None)
    elif overrides.cache_dir is not None:
        cache_dir = os.path.abspath(os.path.expanduser(overrides.cache_dir))
        settings = replace(settings, cache_dir=cache_dir)
    return settings


def _read_toml(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: invalid TOML: {error}") from None
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: invalid TOML: not UTF-8 ({error.reason} at byte "
                          f"{error.start})") from None
    except RecursionError:
        raise ConfigError(f"{path}: invalid TOML: nested too deeply") from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot read: {error.strerror or error}") from None


def _bnlint_table(path: str) -> tuple[dict[str, Any], str]:
    """The bnlint keys of a config file and how to name their place in messages."""
    data = _read_toml(path)
    if os.path.basename(path) != PYPROJECT:
        return data, path
    tool = data.get("tool", {})
    table = tool.get("bnlint", {}) if isinstance(tool, dict) else {}
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.bnlint] must be a table")
    return table, f"{path} [tool.bnlint]"


def settings_from_table(table: Mapping[str, Any], label: str, root: str) -> Settings:
    """Validate a table of kebab-case keys into Settings; ``label`` names the file in
    error messages."""
    fields: dict[str, Any] = {"root": root}
    thresholds: dict[str, Any] = {}
    limits: dict[str, Any] = {}
    for key, value in table.items():
        if key in _SETTINGS_KEYS:
            field_name, convert = _SETTINGS_KEYS[key]
            fields[field_name] = _checked(label, key, value, convert)
        elif key in _THRESHOLD_KEYS:
            thresholds[key.replace("-", "_")] = _checked(label, key, value, _THRESHOLD_KEYS[key])
        elif key in LIMIT_KEYS:
            limits[key.replace("-", "_")] = _checked(label, key, value, LIMIT_KEYS[key])
        else:
            raise ConfigError(_unknown_key(label, key))
    fields["thresholds"] = _thresholds(label, thresholds)
    fields["limits"] = Limits(**limits)
    cache_dir = os.path.expanduser(fields.get("cache_dir", default_cache_dir(root)))
    fields["cache_dir"] = os.path.normpath(os.path.join(root, cache_dir))
    return Settings(**fields)


def _unknown_key(label: str, key: str) -> str:
    known = [*_SETTINGS_KEYS, *_THRESHOLD_KEYS, *LIMIT_KEYS]
    message = f"{label}: unknown key `{key}`"
    close = difflib.get_close_matches(key, known, n=1)
    if close:
        message += f" (did you mean `{close[0]}`?)"
    elif key == "tool":
        message += " (in bnlint.toml the settings are top-level, without [tool.bnlint])"
    return message


def _checked(label: str, key: str, value: Any, convert: Callable[[Any], Any]) -> Any:
    try:
        return convert(value)
    except _Invalid as invalid:
        shown = repr(value)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        raise ConfigError(f"{label}: `{key}` must be {invalid.expected}, got {shown}") from None


def _thresholds(label: str, values: dict[str, Any]) -> Thresholds:
    thresholds = Thresholds(**values)
    if thresholds.tiny_batch_info < thresholds.tiny_batch_warning:
        raise ConfigError(
            f"{label}: `tiny-batch-info` ({thresholds.tiny_batch_info}) must be >= "
            f"`tiny-batch-warning` ({thresholds.tiny_batch_warning})"
        )
    return thresholds


class _Invalid(Exception):
    """A value of the wrong type or range; ``expected`` says what was wanted."""

    def __init__(self, expected: str) -> None:
        super().__init__(expected)
        self.expected = expected


def _strings(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _Invalid("a list of strings")
    return tuple(value)


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Invalid("true or false")
    return value


def _target(value: Any) -> str:
    if value not in TARGETS:
        raise _Invalid("one of " + ", ".join(f'"{name}"' for name in TARGETS))
    return str(value)


def _version(value: Any) -> tuple[int, ...]:
    if not isinstance(value, str) or len(value) > 32:
        raise _Invalid('a version string like "3.15"')
    parsed = parse_version(value)
    if parsed is None or ".".join(map(str, parsed)) != value.strip():
        raise _Invalid('a version string like "3.15"')
    return parsed


def _path(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or "\0" in value:
        raise _Invalid("a non-empty path string without NUL characters")
    return value


def _per_file_ignores(value: Any) -> tuple[tuple[str, tuple[str, ...]], ...]:
    expected = "a table of glob = list of rule selectors"
    if not isinstance(value, dict):
        raise _Invalid(expected)
    entries: list[tuple[str, tuple[str, ...]]] = []
    for pattern, selectors in value.items():
        try:
            entries.append((pattern, _strings(selectors)))
        except _Invalid:
            raise _Invalid(expected) from None
    return tuple(entries)


def _number(test: Callable[[float], bool], expected: str) -> Callable[[Any], float]:
    def convert(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _Invalid(expected)
        if not math.isfinite(value) or not test(value):
            raise _Invalid(expected)
        return float(value)

    return convert


def _integer(minimum: int, expected: str) -> Callable[[Any], int]:
    def convert(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise _Invalid(expected)
        return value

    return convert


_SETTINGS_KEYS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "select": ("select", _strings),
    "ignore": ("ignore", _strings),
    "extend-select": ("extend_select", _strings),
    "per-file-ignores": ("per_file_ignores", _per_file_ignores),
    "exclude": ("exclude", _strings),
    "extend-exclude": ("extend_exclude", _strings),
    "respect-gitignore": ("respect_gitignore", _boolean),
    "force-exclude": ("force_exclude", _boolean),
    "fix": ("fix", _boolean),
    "unsafe-fixes": ("unsafe_fixes", _boolean),
    "target-keras": ("target_keras", _target),
    "keras-version": ("keras_version", _version),
    "cache-dir": ("cache_dir", _path),
}

_THRESHOLD_KEYS: dict[str, Callable[[Any], Any]] = {
    "unfreeze-lr-threshold": _number(lambda x: x > 0, "a number > 0"),
    "unfreeze-lr-min-ratio": _number(lambda x: x >= 1, "a number >= 1"),
    "tiny-batch-warning": _integer(1, "an integer >= 1"),
    "tiny-batch-info": _integer(1, "an integer >= 1"),
    "pytorch-momentum-max": _number(lambda x: 0 < x < 1, "a number between 0 and 1 (exclusive)"),
}

# What one file may cost (bnlint.settings.Limits); the command line has a flag for each.
LIMIT_KEYS: dict[str, Callable[[Any], Any]] = {
    "max-file-size": _number(lambda x: x > 0, "a number of MB > 0"),
    "max-nesting": _integer(50, "an integer >= 50"),
    "file-timeout": _number(lambda x: x > 0, "a number of seconds > 0"),
    "file-memory": _integer(256, "an integer number of MB >= 256"),
}


def limit_from_text(key: str, text: str) -> float:
    """The value of the limit ``key`` written as ``text`` (a command-line flag); raise
    ValueError saying what was expected."""
    try:
        number = float(text)
        value: float = LIMIT_KEYS[key](int(number) if number.is_integer() else number)
        return value
    except (ValueError, OverflowError):
        raise ValueError("a number") from None
    except _Invalid as invalid:
        raise ValueError(invalid.expected) from None
