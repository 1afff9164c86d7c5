"""Lints the documents an editor holds open, as ``bnlint --force-exclude
--stdin-filename PATH`` lints their text: with the configuration found above each file
(read again when it changes), its selection and per-file-ignores, the Keras pins above
it, the project modules it imports, and the result cache. The language server's engine
room; it knows nothing of the protocol."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from bnlint.config import CACHE_DIR_ENV, CliOverrides, ConfigError, find_config, load_settings
from bnlint.settings import Settings
from bnlint.sources import kind_for

if TYPE_CHECKING:
    from bnlint.engine import FileResult
    from bnlint.rule import Rule


@dataclass(frozen=True, slots=True)
class _Setup:
    """The configuration of the files below one configuration file."""

    settings: Settings
    selected: frozenset[str]


# (size, modification time) of a configuration file; None when there is none
_Stamp = tuple[int, int] | None


class DocumentLinter:
    """Lints editor documents; remembers each configuration file's settings until the
    file changes on disk."""

    def __init__(self, rules: Sequence[type[Rule]] | None = None) -> None:
        if rules is None:
            from bnlint.registry import all_rules

            rules = all_rules()
        self.rules = tuple(rules)
        self._setups: dict[str | None, tuple[_Stamp, _Setup]] = {}

    def lint(self, path: str, text: str) -> FileResult | None:
        """The result of linting ``text`` as the content of the file at ``path`` (which
        need not be saved, nor exist). None when bnlint does not lint that document: a
        notebook (the editor's text of it is JSON, not the program), or a file that the
        configuration excludes. Raises ConfigError for a configuration it cannot use."""
        if kind_for(path) == "notebook":
            return None
        setup = self._setup(path)
        settings = setup.settings
        if _excluded(path, settings):
            return None
        from bnlint.runner import lint_text

        pinned = None
        if settings.target_keras == "auto":  # else the configuration names the flavour
            from bnlint.pins import PinIndex

            # a fresh index each time: an edited requirements file counts at once
            pinned = PinIndex(settings.root).flavour_for(path)
        cache = None
        if settings.cache_dir is not None:
            from bnlint.cache import ResultCache

            cache = ResultCache.open(settings.cache_dir, settings, self.rules, None)
        return lint_text(path, text, settings, self.rules, setup.selected,
                         project_flavour=pinned, cache=cache)

    def _setup(self, path: str) -> _Setup:
        config = find_config(path)
        stamp = _stamp(config)
        known = self._setups.get(config)
        if known is not None and known[0] == stamp:
            return known[1]
        from bnlint.selection import resolve_selection

        overrides = CliOverrides(cache_dir=os.environ.get(CACHE_DIR_ENV) or None)
        settings = load_settings(config, overrides)
        setup = _Setup(settings, resolve_selection(settings, self.rules))
        self._setups[config] = (stamp, setup)
        return setup


def _stamp(path: str | None) -> _Stamp:
    if path is None:
        return None
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_size, status.st_mtime_ns


def _excluded(path: str, settings: Settings) -> bool:
    """Would ``bnlint --force-exclude PATH`` skip this file (exclude, extend-exclude)?
    Decided by discovery, so only for a file that exists on disk."""
    if not os.path.isfile(path):
        return False
    from bnlint.discover import DiscoveryError, discover

    try:
        found = discover([path], replace(settings, force_exclude=True))
    except DiscoveryError as error:
        raise ConfigError(str(error)) from None
    return not found.files and not found.errors
