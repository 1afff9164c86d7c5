"""The project around a linted file: which of its imports name the project's own modules,
and those modules' syntax trees (read, never run).

An import is resolved the way Python would find it when the file runs as a script or as
part of its package: relative imports from the file's package; absolute imports from the
file's own directory, then each directory above it up to the project's top, then
``src/`` under the top. Names of Keras, TensorFlow and other libraries bnlint knows are
never looked up in the project (a checkout of Keras itself stays "the Keras API").
What is not found stays an unknown library.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import libcst as cst

# Top-level packages that are APIs bnlint models itself, never project code.
_LIBRARIES = frozenset({
    "keras", "tensorflow", "tf_keras", "keras_hub", "keras_cv", "keras_nlp",
    "tensorflow_hub", "tensorflow_addons", "numpy", "torch", "jax", "os", "sys",
})
# Packages that define the Keras API (a checkout of them is their own sources).
_API_PACKAGES = frozenset({"keras", "tf_keras", "tensorflow"})
# A module larger than this is generated or vendored: not read for its summaries.
LARGEST_MODULE = 512 * 1024
# At most this many project modules are read for one linted file.
MAX_MODULES = 24
# At most this many files are read when looking for the modules that import a file.
MAX_IMPORTERS = 200


@dataclass(slots=True)
class Project:
    """The project of one linted file: where its imports lead, and the modules read."""

    importer: str  # absolute path of the linted file
    top: str  # absolute path of the project's top directory
    _parsed: dict[str, cst.Module | None] = field(default_factory=dict)
    # False when the top is only the file's own directory (no repository around it, and
    # outside the root): not a project whose every module can be looked through
    whole: bool = True

    def imported_text(self, text: str) -> str:
        """The text of the project modules that ``text`` imports, directly or through
        each other, as many as a replay follows (found without parsing: the prefilter
        asks whether they mention what a rule needs: `train.py` imports `dcgan.py`,
        which imports the `generator.py` that builds the batch norm)."""
        found = dict.fromkeys(self.imported_paths(text))
        queue = list(found)
        texts: list[str] = []
        while queue and len(texts) <= MAX_MODULES:
            path = queue.pop(0)
            module = _text(path, file_stamp(path))
            texts.append(module)
            for imported in self.imported_paths(module, path):
                if imported not in found and imported != self.importer:
                    found[imported] = None
                    queue.append(imported)
        return "\n".join(texts)

    def resolve(self, module: str, level: int = 0, from_path: str | None = None) -> str | None:
        """The project file that ``import module`` (``level`` dots for a relative
        import) made in ``from_path`` (default: the linted file) finds, or None."""
        start = os.path.dirname(from_path or self.importer)
        parts = [part for part in module.split(".") if part] if module else []
        if level:
            base = start
            for _ in range(level - 1):
                base = os.path.dirname(base)
            return _module_file(base, parts) if parts else _package_file(base)
        if not parts or parts[0] in _LIBRARIES:
            return None
        for root in self._roots(start):
            found = _module_file(root, parts)
            if found is not None:
                return found
        return None

    def module(self, path: str) -> cst.Module | None:
        """The syntax tree of the project module at ``path`` (None if it cannot be read
        or parsed, or is too large); a process parses each version of a file once."""
        if path not in self._parsed:
            self._parsed[path] = _parse(path, file_stamp(path))
        return self._parsed[path]

    def seen_from(self, caller: str, module: cst.Module) -> Project:
        """The project as the module at ``caller`` sees it when it imports this file:
        the import reads ``module``, the tree being linted (so that what the caller's
        program does there lands on this file's nodes)."""
        self._parsed[self.importer] = module
        return Project(caller, self.top, self._parsed, self.whole)

    def importers(self) -> list[str]:
        """The project's modules that import the linted file: Python files in its
        directory and the directories above it, up to the project's top, whose imports
        resolve to it (found from their text; at most ``MAX_IMPORTERS`` files are read)."""
        own = self.importer
        stem = os.path.splitext(os.path.basename(own))[0]
        if stem == "__init__":
            stem = os.path.basename(os.path.dirname(own))
        found: list[str] = []
        read = 0
        for directory in self._roots(os.path.dirname(own)):
            for candidate in _python_files(directory, file_stamp(directory)):
                if candidate == own or read >= MAX_IMPORTERS:
                    continue
                read += 1
                text = _text(candidate, file_stamp(candidate))
                if stem in text and own in self._imports_of(text, candidate):
                    found.append(candidate)
        return found

    def imported_paths(self, text: str, path: str | None = None) -> list[str]:
        """The project files the import lines of ``text`` (the module at ``path``,
        default the linted file) lead to: ``import a.b``, ``from a import b`` (the
        module ``a``, and ``a.b`` when that is a module: of a package, or of a
        directory without ``__init__.py``), relative imports alike."""
        found: list[str] = []
        for match in _IMPORT_LINE.finditer(text):
            relative, origin, listed, plain = match.groups()
            if plain is not None:
                names = [name.strip().split(" ")[0] for name in plain.split(",")]
                targets = [self.resolve(name, 0, path) for name in names]
            else:
                level = len(relative or "")
                targets = [self.resolve(origin or "", level, path)]
                for name in (listed or "").split(","):
                    name = name.strip().split(" ")[0]
                    if name:
                        targets.append(self.resolve(f"{origin}.{name}" if origin else name,
                                                    level, path))
            found.extend(target for target in targets if target is not None)
        return found

    def _imports_of(self, text: str, path: str) -> set[str]:
        """The project files the import lines of ``text`` (the module at ``path``)
        lead to."""
        return set(self.imported_paths(text, path))

    def api_package(self) -> str | None:
        """The Keras or TensorFlow package whose own sources the linted file is part of
        (``tf_keras/backend_test.py`` in a checkout of tf-keras), or None. Those sources
        define and maintain the legacy APIs that migration advice is about."""
        relative = os.path.relpath(self.importer, self.top)
        first = relative.split(os.sep, 1)[0]
        if first in _API_PACKAGES and os.sep in relative and os.path.isfile(
                os.path.join(self.top, first, "__init__.py")):
            return first
        return None

    def _roots(self, start: str) -> list[str]:
        roots: list[str] = []
        directory = start
        while True:
            roots.append(directory)
            parent = os.path.dirname(directory)
            if directory == self.top or parent == directory or not is_below(directory, self.top):
                break
            directory = parent
        source = os.path.join(self.top, "src")
        if source not in roots:
            roots.append(source)
        return roots


def project_for(path: str, root: str) -> Project | None:
    """The project of the file at ``path``: its top is the repository's top (the
    directory holding ``.git`` / ``.hg``), else ``root`` when the file lies below it,
    else the file's own directory. None for a path that is not a file on disk."""
    importer = os.path.abspath(path)
    if not os.path.isfile(importer):
        return None
    directory = os.path.dirname(importer)
    top = repository_top(directory)
    if top is None:
        absolute_root = os.path.abspath(root)
        below = is_below(directory, absolute_root)
        return Project(importer, absolute_root if below else directory, whole=below)
    return Project(importer, top)


_REPOSITORY_MARKERS = (".git", ".hg")


@lru_cache(maxsize=4096)
def repository_top(directory: str) -> str | None:
    """The nearest directory at or above ``directory`` (absolute) holding ``.git`` or
    ``.hg``; None outside a repository."""
    if any(os.path.exists(os.path.join(directory, marker)) for marker in _REPOSITORY_MARKERS):
        return directory
    parent = os.path.dirname(directory)
    return None if parent == directory else repository_top(parent)


@lru_cache(maxsize=256)
def _python_files(directory: str, stamp: tuple[int, int]) -> tuple[str, ...]:
    """The ``.py`` files directly in ``directory`` (absolute, sorted); ``stamp`` is the
    directory's own, so a long-running process (the editor's server) sees files added
    since it last listed it."""
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return ()
    return tuple(os.path.join(directory, name) for name in names
                 if name.endswith(".py") and os.path.isfile(os.path.join(directory, name)))


def _module_file(root: str, parts: list[str]) -> str | None:
    if not parts:
        return None
    path = os.path.join(root, *parts)
    for candidate in (path + ".py", os.path.join(path, "__init__.py")):
        if os.path.isfile(candidate):
            return os.path.abspath(candidate)
    return None


def _package_file(directory: str) -> str | None:
    candidate = os.path.join(directory, "__init__.py")
    return os.path.abspath(candidate) if os.path.isfile(candidate) else None


def is_below(path: str, root: str) -> bool:
    """Is the absolute ``path`` ``root`` itself or inside it?"""
    try:
        return os.path.commonpath([path, root]) == root
    except ValueError:
        return False


_IMPORT_LINE = re.compile(
    r"^[ \t]*(?:from[ \t]+(\.*)([\w.]*)[ \t]+import\b[ \t]*\(?[ \t]*"
    r"((?:\w+(?:[ \t]+as[ \t]+\w+)?(?:[ \t]*,[ \t]*)?)*)"
    r"|import[ \t]+([\w.]+(?:[ \t]+as[ \t]+\w+)?"
    r"(?:[ \t]*,[ \t]*[\w.]+(?:[ \t]+as[ \t]+\w+)?)*))", re.MULTILINE)


def file_stamp(path: str) -> tuple[int, int]:
    """What tells one version of a file from the next: (size, modification time)."""
    try:
        status = os.stat(path)
    except OSError:
        return (-1, -1)
    return status.st_size, status.st_mtime_ns


@lru_cache(maxsize=256)
def _text(path: str, stamp: tuple[int, int]) -> str:
    from bnlint.sources import SourceError, read_source

    if stamp[0] < 0 or stamp[0] > LARGEST_MODULE:
        return ""
    try:
        return read_source(path).text
    except (OSError, SourceError):
        return ""


@lru_cache(maxsize=64)
def _parse(path: str, stamp: tuple[int, int]) -> cst.Module | None:
    from bnlint.parse import parse_source
    from bnlint.sources import SourceError, read_source

    if stamp[0] < 0 or stamp[0] > LARGEST_MODULE:
        return None
    try:
        source = read_source(path)
    except (OSError, SourceError):
        return None
    try:
        module = parse_source(source).module
        if module is None and source.kind == "python":
            # a Python 2 module the project imports: read for what it defines
            from bnlint.python2 import as_python3

            ported = as_python3(source.text)
            if ported is not None:
                module = parse_source(replace(source, text=ported)).module
        return module
    except Exception:  # noqa: BLE001 - a module we cannot read is an unknown library
        return None


def module_text(path: str) -> str:
    """The text of a project module ("" when it cannot be read or is too large)."""
    return _text(path, file_stamp(path))


def content_digest(path: str) -> str | None:
    """The hash of a project module's bytes, for the cache entries that used it (or of
    the set of a module's importers, for a ``project_imports.importers_key``)."""
    from bnlint.cache import content_hash
    from bnlint.sources import SourceError, read_file_bytes

    if path.startswith("importers-of:"):
        from bnlint.project_imports import importers_digest

        return importers_digest(path)

    try:
        return content_hash(read_file_bytes(path))
    except SourceError:
        return None


def shown_path(path: str) -> str:
    """An absolute path as reports show it: relative to the working directory when
    below it."""
    here = os.getcwd()
    return os.path.relpath(path, here) if is_below(path, here) else path
