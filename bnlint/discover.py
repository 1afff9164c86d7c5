"""Paths named on the command line -> the files to lint.

Directories are walked with ``os.scandir`` (no per-file ``stat``), skipping what the
``exclude`` / ``extend-exclude`` globs and, when asked, ``.gitignore`` files exclude;
excluded directories are never entered. Files named explicitly are linted whatever
their extension and even when excluded, unless ``force_exclude`` is set (as in ruff).
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import pathspec

from bnlint.settings import Settings

LINTED_SUFFIXES: tuple[str, ...] = (".py", ".ipynb")


class DiscoveryError(Exception):
    """The discovery settings themselves are unusable (an invalid exclude glob)."""


@dataclass(frozen=True, slots=True)
class DiscoveryResult:
    """The files to lint, as display paths in a deterministic order, and one-line
    messages for the paths that could not be used (missing, unreadable)."""

    files: tuple[str, ...]
    errors: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _IgnoreFile:
    """The patterns of one ignore file; they apply to paths below ``base``."""

    base: str
    spec: pathspec.GitIgnoreSpec


@dataclass(frozen=True, slots=True)
class _Walk:
    """What a directory walk needs to decide exclusions."""

    exclude: pathspec.GitIgnoreSpec
    exclude_base: str
    respect_gitignore: bool
    excludes: Callable[[str], bool]  # the exclude globs' match, see _matcher


def discover(paths: Sequence[str], settings: Settings) -> DiscoveryResult:
    """Expand ``paths`` (files and directories) into the sorted files to lint.

    Missing paths become messages in ``errors``; the other paths are still used."""
    root = os.path.abspath(settings.root)
    exclude = _compile([*settings.exclude, *settings.extend_exclude])
    found: dict[str, str] = {}
    errors: list[str] = []
    for path in paths:
        for absolute, display in _expand(path, root, exclude, settings, errors):
            found.setdefault(os.path.normcase(absolute), display)
    files = sorted(found.values(), key=_sort_key)
    return DiscoveryResult(tuple(files), tuple(errors))


def _expand(
    path: str, root: str, exclude: pathspec.GitIgnoreSpec, settings: Settings,
    errors: list[str],
) -> list[tuple[str, str]]:
    """The files one command-line path stands for, as (absolute path, display path)."""
    try:
        is_dir = stat.S_ISDIR(os.stat(path).st_mode)
    except (FileNotFoundError, NotADirectoryError):
        errors.append(f"{path}: no such file or directory")
        return []
    except (OSError, ValueError) as exc:  # ValueError: an embedded NUL byte
        errors.append(f"{path}: cannot access: {getattr(exc, 'strerror', None) or exc}")
        return []
    absolute = os.path.abspath(path)
    excluded = _matches(exclude, root, absolute, is_dir)
    if excluded and settings.force_exclude:
        return []
    if not is_dir:
        return [(absolute, path)]
    # An explicitly named excluded directory is walked anyway; inside it the globs are
    # matched relative to it (its own exclusion would hide every child), so bare names
    # such as `__pycache__` still apply there.
    inside_root = _relative(absolute, root) is not None
    base = root if inside_root and not excluded else absolute
    walk = _Walk(exclude, base, settings.respect_gitignore, _matcher(exclude))
    ignores = _ancestor_ignores(absolute, root) if settings.respect_gitignore else ()
    if _ignored(absolute, True, ignores):  # likewise for a directory .gitignore hides
        ignores = tuple(_IgnoreFile(absolute, ignore.spec) for ignore in ignores)
    files: list[tuple[str, str]] = []
    _walk_directory(absolute, os.path.normpath(path), ignores, walk, files, errors)
    return files


def _walk_directory(
    directory: str, display: str, ignores: tuple[_IgnoreFile, ...], walk: _Walk,
    files: list[tuple[str, str]], errors: list[str],
) -> None:
    """Append the lintable files below ``directory`` to ``files`` (depth first)."""
    try:
        with os.scandir(directory) as scan:
            entries = sorted(scan, key=lambda entry: entry.name)
    except OSError as exc:
        errors.append(f"{display}: cannot read directory: {exc.strerror or exc}")
        return
    if walk.respect_gitignore and any(entry.name == ".gitignore" for entry in entries):
        ignores = (*ignores, *_load_ignore(os.path.join(directory, ".gitignore"), directory))
    for entry in entries:
        is_dir = entry.is_dir(follow_symlinks=False)
        if not is_dir and not entry.name.endswith(LINTED_SUFFIXES):
            continue
        if _excluded(entry.path, is_dir, walk, ignores):
            continue
        child = entry.name if display == "." else os.path.join(display, entry.name)
        if is_dir:
            _walk_directory(entry.path, child, ignores, walk, files, errors)
            continue
        try:
            regular = entry.is_file()
        except OSError as exc:  # a symlink to itself, a link into a vanished mount...
            errors.append(f"{child}: cannot read: {exc.strerror or exc}")
            continue
        if regular:
            files.append((entry.path, child))


def _excluded(path: str, is_dir: bool, walk: _Walk, ignores: tuple[_IgnoreFile, ...]) -> bool:
    """Is ``path`` excluded by the exclude globs or by the nearest deciding ignore file?"""
    relative = _relative(path, walk.exclude_base)
    if relative and walk.excludes(relative + ("/" if is_dir else "")):
        return True
    return _ignored(path, is_dir, ignores)


def _matcher(spec: pathspec.GitIgnoreSpec) -> Callable[[str], bool]:
    """``spec.match_file`` as one regular expression when no pattern negates another
    (the default excludes): any match excludes, and one search replaces one per
    pattern for every file and directory walked."""
    patterns = [pattern for pattern in spec.patterns if pattern.include is not None]
    texts: list[str] = []
    for pattern in patterns:
        regex = getattr(pattern, "regex", None)
        if (not pattern.include or not isinstance(regex, re.Pattern)
                or not isinstance(regex.pattern, str) or "(?P=" in regex.pattern
                or regex.flags != re.UNICODE):
            return lambda path: spec.match_file(path)
        texts.append(_NAMED_GROUP.sub("(?:", regex.pattern))
    if not texts:
        return lambda path: False
    combined = re.compile("|".join(f"(?:{text})" for text in texts))
    return lambda path: combined.search(path) is not None


_NAMED_GROUP = re.compile(r"\(\?P<\w+>")


def _ignored(path: str, is_dir: bool, ignores: tuple[_IgnoreFile, ...]) -> bool:
    """Does the deepest ignore file with a matching pattern ignore ``path``?"""
    suffix = "/" if is_dir else ""
    for ignore in reversed(ignores):  # deeper ignore files take precedence
        relative = _relative(path, ignore.base)
        if relative is None:
            continue
        decision = ignore.spec.check_file(relative + suffix).include
        if decision is not None:
            return decision
    return False


def _matches(spec: pathspec.GitIgnoreSpec, base: str, path: str, is_dir: bool) -> bool:
    """Does ``spec`` (relative to ``base``) match ``path``? Paths outside never match."""
    relative = _relative(path, base)
    if not relative:
        return False
    return spec.match_file(relative + ("/" if is_dir else ""))


def _relative(path: str, base: str) -> str | None:
    """``path`` relative to ``base`` with forward slashes; '' for base itself, None if
    outside. Both are absolute, so plain string work suffices (no filesystem calls)."""
    if path == base:
        return ""
    prefix = base if base.endswith(os.sep) else base + os.sep
    if not path.startswith(prefix):
        return None
    return path[len(prefix):].replace(os.sep, "/")


def _ancestor_ignores(directory: str, root: str) -> tuple[_IgnoreFile, ...]:
    """Ignore files of the directories above ``directory`` that apply to it: up to the
    enclosing git work tree (plus its ``.git/info/exclude``), else up to ``root``."""
    top = _git_top(directory)
    limit = top if top is not None else root
    if _relative(directory, limit) is None:
        return ()
    ancestors: list[str] = []
    current = directory
    while current != limit:
        current = os.path.dirname(current)
        ancestors.append(current)
    ignores: list[_IgnoreFile] = []
    if top is not None:
        ignores.extend(_load_ignore(os.path.join(top, ".git", "info", "exclude"), top))
    for ancestor in reversed(ancestors):
        ignores.extend(_load_ignore(os.path.join(ancestor, ".gitignore"), ancestor))
    return tuple(ignores)


def _git_top(directory: str) -> str | None:
    """The nearest directory at or above ``directory`` that holds ``.git``."""
    current = directory
    while True:
        if os.path.exists(os.path.join(current, ".git")):
            return current
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent


def _load_ignore(path: str, base: str) -> tuple[_IgnoreFile, ...]:
    """The ignore file at ``path`` (empty when absent or unreadable)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return ()
    return (_IgnoreFile(base, _compile(lines, skip_invalid=True)),)


def _compile(lines: Iterable[str], skip_invalid: bool = False) -> pathspec.GitIgnoreSpec:
    """Compile gitignore-style lines; invalid ones are skipped (as git does) or refused."""
    valid: list[str] = []
    for line in lines:
        try:
            pathspec.GitIgnoreSpec.from_lines([line])
        except ValueError as exc:
            if skip_invalid:
                continue
            raise DiscoveryError(f"invalid exclude pattern {line!r}: {exc}") from None
        valid.append(line)
    return pathspec.GitIgnoreSpec.from_lines(valid)


def _sort_key(display: str) -> tuple[str, ...]:
    """Order files as a tree: by path components, not by raw string."""
    return tuple(display.replace(os.sep, "/").split("/"))
