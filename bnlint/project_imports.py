"""Which modules of a whole project import a given file: what the Keras flavour a module
takes from its importers rests on (``semantic/flavour.py``).

Unlike ``Project.importers`` (the modules in the file's directory and above it, which a
caller's replay reads), this looks through every directory of the project, so that an
importer in `scripts/` counts as much as one beside the file, and notebooks that import
it are noticed. The import lines of each file are indexed once per process (refreshed
when files change, for the editor's long-running server); a project with more files than
``MAX_PROJECT_FILES`` is not indexed, and its files' importers stay unknown.
"""

from __future__ import annotations

import json
import os
import re
import stat
import time
from dataclasses import dataclass, field

from bnlint.project import Project, file_stamp, module_text
from bnlint.settings import DEFAULT_EXCLUDES

# A project with more Python files and notebooks than this is not indexed.
MAX_PROJECT_FILES = 3000
# What is read of one file for its import lines.
_READ_CHARACTERS = 4 * 1024 * 1024
# The index is trusted this long before the files' stamps are checked again.
_FRESH_SECONDS = 2.0
# A cache dependency on the set of a file's importers, not on one file's bytes.
IMPORTERS_KEY = "importers-of:"
_NAMES = re.compile(r"(?:^|[\s\"'])(?:from|import)[ \t]+([\w. \t,]+)", re.MULTILINE)
# `from package import (\n    blocks,\n    heads,\n)`
_LISTED = re.compile(r"\bimport[ \t]*\(([^)]*)\)")
_SKIPPED = frozenset(DEFAULT_EXCLUDES)


@dataclass(slots=True)
class _Index:
    checked: float
    # path -> (stamp, the names its import lines mention)
    files: dict[str, tuple[tuple[int, int], frozenset[str]]] = field(default_factory=dict)
    complete: bool = True


_INDEXES: dict[str, _Index] = {}
# path -> (stamp, the names its import lines mention), shared by every top indexed
_NAMES_READ: dict[str, tuple[tuple[int, int], frozenset[str]]] = {}


@dataclass(frozen=True, slots=True)
class Importers:
    """The project's Python modules that import a file, and whether a notebook does."""

    modules: tuple[str, ...]
    notebook: bool


def importers_of(project: Project) -> Importers | None:
    """The modules of ``project`` that import its linted file; None when the project is
    too large to know them all, or is only the file's own directory (a file outside any
    repository and outside the root: what imports it may lie anywhere)."""
    if not project.whole:
        return None
    index = _index(project.top)
    if not index.complete:
        return None
    own = project.importer
    stem = os.path.splitext(os.path.basename(own))[0]
    if stem == "__init__":
        stem = os.path.basename(os.path.dirname(own))
    modules: list[str] = []
    notebook = False
    for path, (stamp, names) in sorted(index.files.items()):
        if path == own or stem not in names:
            continue
        if path.endswith(".ipynb"):
            notebook = True  # (its imports are not resolved: it may import this file)
        elif own in _targets(project, path, stamp):
            modules.append(path)
    return Importers(tuple(modules), notebook)


# (project top, module, its stamp) -> the project files its import lines lead to
_TARGETS: dict[tuple[str, str, tuple[int, int]], frozenset[str]] = {}


def _targets(project: Project, path: str, stamp: tuple[int, int]) -> frozenset[str]:
    """The project files ``path`` imports, resolved once per version of it."""
    key = (project.top, path, stamp)
    found = _TARGETS.get(key)
    if found is None:
        found = frozenset(project.imported_paths(module_text(path), path))
        _TARGETS[key] = found
    return found


def importers_key(project: Project) -> str:
    """The cache dependency standing for the set of the file's importers."""
    return IMPORTERS_KEY + json.dumps([project.top, project.importer])


def importers_digest(key: str) -> str | None:
    """The digest of the importers an ``importers_key`` stands for, as they are now."""
    from bnlint.cache import content_hash

    try:
        top, importer = json.loads(key[len(IMPORTERS_KEY):])
    except (ValueError, TypeError):
        return None
    if not (isinstance(top, str) and isinstance(importer, str)):
        return None
    found = importers_of(Project(importer, top))
    shown = None if found is None else [list(found.modules), found.notebook]
    return content_hash(json.dumps(shown).encode("utf-8"))


def _index(top: str) -> _Index:
    now = time.monotonic()
    index = _INDEXES.get(top)
    if index is not None and now - index.checked < _FRESH_SECONDS:
        return index
    listed = _project_files(top)
    fresh = _Index(checked=now, complete=listed is not None)
    for path in listed or ():
        stamp = file_stamp(path)
        known = _NAMES_READ.get(path)
        if known is None or known[0] != stamp:
            known = (stamp, _imported_names(path))
            _NAMES_READ[path] = known
        fresh.files[path] = known
    _INDEXES[top] = fresh
    return fresh


def _project_files(top: str) -> list[str] | None:
    """The project's Python files and notebooks (None when there are too many)."""
    found: list[str] = []
    for directory, subdirectories, names in os.walk(top):
        subdirectories[:] = sorted(name for name in subdirectories
                                   if name not in _SKIPPED and not name.startswith("."))
        for name in sorted(names):
            path = os.path.join(directory, name)
            if name.endswith((".py", ".ipynb")) and os.path.isfile(path):
                found.append(path)  # (regular files only: a FIFO is never opened)
                if len(found) > MAX_PROJECT_FILES:
                    return None
    return found


def _imported_names(path: str) -> frozenset[str]:
    """Every name the file's import lines mention (``from a.b import c as d``: a, b, c,
    d), read from its raw text (a notebook's JSON included; the first MiBs of a large
    file)."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return frozenset()
        with open(path, encoding="utf-8", errors="replace") as handle:
            text = handle.read(_READ_CHARACTERS)
    except OSError:
        return frozenset()
    names: set[str] = set()
    for pattern in (_NAMES, _LISTED):
        for match in pattern.finditer(text):
            names.update(re.findall(r"\w+", match.group(1)))
    return frozenset(names)
