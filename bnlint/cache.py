"""A content-hash cache of lint results, so that an unchanged file is not analysed again.

Layout, as ruff's ``.ruff_cache``::

    .bnlint_cache/                 (the project root's, or cache-dir / BNLINT_CACHE_DIR / --cache-dir)
        .gitignore                 "*": the cache is never committed
        CACHEDIR.TAG               backup tools skip the directory
        0.1.0/                     one directory per bnlint version: an upgrade starts afresh
            <fingerprint>.json     one file per settings fingerprint

The fingerprint hashes everything that can change a file's findings apart from its bytes
and its rule codes: the settings (thresholds, target flavour, Keras version, root), the
project flavour resolved from pins, the rule classes, a stamp of bnlint's own code and
data files and of libcst's, and the Python version. The file maps each linted file's
absolute path to the hash of its bytes, a hash of the codes of the rules run on it and
its findings (after suppressions). A lookup hits only when hash and codes are equal and
the entry's ``check`` matches: a hash of the entry's content, its key and the fingerprint,
so that an entry edited by hand or by a faulty tool, or copied to another file's key or
into another cache file, is a miss rather than served as it is (it is a guard against
damage, not against someone who recomputes the hash).

The main process reads, looks up and, at the end of a run, writes the file once
(atomically, merged with the entries of files this run did not lint, pruned of files
that no longer exist). A cache that cannot be read is empty; one that cannot be written
costs only the cache (``problem`` says why, for one warning). Only the standard library
is imported here, and only cheap modules at import time.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from bnlint import __version__
from bnlint.finding import Edit, Finding, Fix, Position, Related, Span

if TYPE_CHECKING:
    from bnlint.engine import FileResult
    from bnlint.flavour import Flavour
    from bnlint.rule import Rule
    from bnlint.settings import Settings

CACHE_DIR_NAME = ".bnlint_cache"
# Bump when the layout of a cache file changes; old files then read as empty.
SCHEMA = 3
# Settings that cannot change a file's findings once its rule codes are known: the
# selection and per-file-ignores are already resolved into the codes of each entry, the
# others only decide which files are linted (or where the cache lives).
_NOT_FINGERPRINTED = frozenset({
    "select", "ignore", "extend_select", "per_file_ignores", "exclude", "extend_exclude",
    "respect_gitignore", "force_exclude", "cache_dir", "fix", "unsafe_fixes",
})
_CODE_SUFFIXES = (".py", ".toml", ".json")
_GITIGNORE = "# Automatically created by bnlint.\n*\n"
_CACHEDIR_TAG = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file is a cache directory tag created by bnlint.\n"
    "# For information about cache directory tags, see:\n"
    "#\thttps://bford.info/cachedir/\n"
)


def content_hash(data: bytes) -> str:
    """The hash of a file's bytes that keys its entry."""
    import hashlib

    return hashlib.blake2b(data, digest_size=16).hexdigest()


def fingerprint(
    settings: Settings, rules: Sequence[type[Rule]], project_flavour: Flavour | None
) -> str:
    """A hash of everything besides a file's bytes and rule codes that its findings
    depend on; it names the cache file."""
    import dataclasses
    import hashlib
    import json

    fields = {
        field.name: getattr(settings, field.name)
        for field in dataclasses.fields(settings)
        if field.name not in _NOT_FINGERPRINTED
    }
    key = {
        "schema": SCHEMA,
        "bnlint": __version__,
        "python": list(sys.version_info[:2]),
        "settings": _plain(fields),
        "project_flavour": _plain(project_flavour),
        "rules": sorted(f"{rule.code}={rule.__module__}.{rule.__qualname__}" for rule in rules),
        "code": _code_stamp(rules),
    }
    text = json.dumps(key, sort_keys=True, default=repr)
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def _plain(value: Any) -> Any:
    """Dataclasses, tuples and the like as JSON-ready values."""
    import dataclasses

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: _plain(getattr(value, field.name))
                for field in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def _code_stamp(rules: Sequence[type[Rule]]) -> list[list[object]]:
    """Size and modification time of every code and data file of bnlint, of the rules'
    modules (and their helpers beside them) and of libcst's package: an edited rule in
    a development checkout, or a reinstalled libcst, must not be served stale results.
    A few dozen stat calls; nothing is imported."""
    import importlib.util

    package = os.path.dirname(os.path.abspath(__file__))
    files = set(_code_files(package, recursive=True))
    for rule in rules:
        module_file = getattr(sys.modules.get(rule.__module__), "__file__", None)
        if module_file:
            files.update(_code_files(os.path.dirname(os.path.abspath(module_file)), False))
    try:
        spec = importlib.util.find_spec("libcst")
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.origin:
        files.add(spec.origin)
    stamp: list[list[object]] = []
    for path in sorted(files):
        try:
            status = os.stat(path)
        except OSError:
            continue
        stamp.append([path, status.st_size, status.st_mtime_ns])
    return stamp


def _code_files(directory: str, recursive: bool) -> Iterable[str]:
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return
    for entry in entries:
        if entry.name == "__pycache__":
            continue
        if entry.name.endswith(_CODE_SUFFIXES) and entry.is_file():
            yield entry.path
        elif recursive and entry.is_dir(follow_symlinks=False):
            yield from _code_files(entry.path, recursive)


def cache_key_path(path: str) -> str:
    """The key of a file in the cache: its absolute path, so that ``src/a.py`` and
    ``./src/a.py`` share an entry (findings carry no path: the report adds it)."""
    return os.path.normcase(os.path.abspath(path))


class ResultCache:
    """The cached results of one settings fingerprint, loaded from and saved to
    ``directory``. Never raises for a problem with the cache itself."""

    def __init__(self, directory: str, key: str) -> None:
        self.directory = directory
        self.file = os.path.join(directory, __version__, f"{key}.json")
        self._key = key
        self.problem: str | None = None
        self._entries = _load_entries(self.file)
        self._fresh: dict[str, dict[str, Any]] = {}
        self._visited: set[str] = set()

    @classmethod
    def open(
        cls,
        directory: str,
        settings: Settings,
        rules: Sequence[type[Rule]],
        project_flavour: Flavour | None,
    ) -> ResultCache:
        """The cache in ``directory`` for a run with these settings and rules."""
        return cls(directory, fingerprint(settings, rules, project_flavour))

    def lookup(self, path: str, digest: str, codes: frozenset[str],
               pinned: Flavour | None = None
               ) -> tuple[tuple[Finding, ...], Flavour | None] | None:
        """The cached findings of the file at ``path`` whose bytes hash to ``digest``
        when ``codes`` were run on it with ``pinned`` as its pinned flavour, and the
        flavour it was judged for; None on a miss."""
        key = cache_key_path(path)
        self._visited.add(key)
        entry = self._entries.get(key)
        if entry is None or entry.get("hash") != digest or entry.get(
                "codes") != _codes_key(codes) or entry.get("pinned") != _pinned_key(pinned):
            return None
        expected = entry_check(self._key, key, entry)
        if expected is None or entry.get("check") != expected:
            return None  # damaged, edited, or copied from another file's key
        if not _dependencies_unchanged(entry.get("dependencies", [])):
            return None  # a project module the analysis read has changed
        try:
            findings = tuple(_decode_finding(item) for item in entry["findings"])
        except (KeyError, TypeError, ValueError, IndexError):
            return None
        return findings, decode_flavour(entry.get("flavour"))

    def store(self, path: str, digest: str, codes: frozenset[str], pinned: Flavour | None,
              result: FileResult) -> None:
        """Remember ``result`` for these bytes, codes and pinned flavour, unless something
        went wrong."""
        if result.errors:
            return
        key = cache_key_path(path)
        self._visited.add(key)
        entry: dict[str, Any] = {
            "hash": digest,
            "codes": _codes_key(codes),
            "pinned": _pinned_key(pinned),
            "findings": [_encode_finding(finding) for finding in result.findings],
            "flavour": _encode_flavour(result.flavour),
            "dependencies": [list(item) for item in result.dependencies],
        }
        entry["check"] = entry_check(self._key, key, entry)
        self._fresh[key] = entry

    def save(self) -> None:
        """Write the cache file if this run changed it; on failure set ``problem``."""
        if not self._fresh:
            return
        entries = {
            key: entry for key, entry in self._entries.items()
            if key in self._visited or os.path.exists(key)
        }
        entries.update(self._fresh)
        try:
            self._write({"schema": SCHEMA, "version": __version__, "entries": entries})
        except OSError as error:
            reason = error.strerror or str(error)
            self.problem = f"cannot write the cache in {self.directory}: {reason}"
        else:
            self._entries = entries
            self._fresh = {}

    def _write(self, document: dict[str, Any]) -> None:
        import json
        import tempfile

        _prepare(self.directory)
        folder = os.path.dirname(self.file)
        os.makedirs(folder, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(document, out, separators=(",", ":"))
            os.chmod(temporary, 0o666 & ~_umask())  # mkstemp's 0600 would keep CI users out
            os.replace(temporary, self.file)
        except BaseException:
            try:
                os.unlink(temporary)
            except OSError:
                pass
            raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _prepare(directory: str) -> None:
    """Create the cache directory with its .gitignore and CACHEDIR.TAG (once)."""
    os.makedirs(directory, exist_ok=True)
    for name, text in ((".gitignore", _GITIGNORE), ("CACHEDIR.TAG", _CACHEDIR_TAG)):
        target = os.path.join(directory, name)
        if not os.path.exists(target):
            with open(target, "w", encoding="utf-8") as out:
                out.write(text)


def _load_entries(file: str) -> dict[str, dict[str, Any]]:
    """The entries of a cache file; empty when it is missing, unreadable or not ours."""
    import json

    try:
        with open(file, "rb") as handle:
            document = json.loads(handle.read())
    except (OSError, ValueError, RecursionError):
        return {}
    if not isinstance(document, dict) or document.get("schema") != SCHEMA:
        return {}
    entries = document.get("entries")
    if not isinstance(entries, dict):
        return {}
    return {key: entry for key, entry in entries.items() if isinstance(entry, dict)}


def entry_check(fingerprint: str, key: str, entry: dict[str, Any]) -> str | None:
    """The integrity hash of a cache entry: its content (all but ``check`` itself) with
    the file key it is stored under and the fingerprint of the cache file holding it.
    The content is hashed as canonical JSON, which reads back to the same text; None
    for content that is not JSON (it matches no check)."""
    import hashlib
    import json

    content = {name: value for name, value in entry.items() if name != "check"}
    try:
        text = json.dumps([fingerprint, key, content], sort_keys=True,
                          separators=(",", ":"))
    except (TypeError, ValueError, RecursionError):
        return None
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def _encode_flavour(flavour: Flavour | None) -> list[Any] | None:
    if flavour is None:
        return None
    return [flavour.name, list(flavour.version) if flavour.version else None,
            flavour.reason, flavour.assumed]


def decode_flavour(value: Any) -> Flavour | None:
    """The flavour an entry recorded; None for none or anything malformed."""
    from bnlint.flavour import Flavour

    if not isinstance(value, list) or len(value) != 4:
        return None
    name, version, reason, assumed = value
    if name not in ("keras3", "tf-keras", "keras2", "tf1") or not isinstance(reason, str):
        return None
    if version is not None and not (isinstance(version, list) and all(
            isinstance(part, int) and not isinstance(part, bool) for part in version)):
        return None
    return Flavour(name, tuple(version) if version else None, reason, assumed is True)


def _dependencies_unchanged(value: Any) -> bool:
    """Do the project modules an entry's analysis read still have the same bytes?"""
    if not isinstance(value, list):
        return False
    for item in value:
        if not (isinstance(item, list) and len(item) == 2
                and all(isinstance(part, str) for part in item)):
            return False
        path, digest = item
        from bnlint.project import content_digest

        if content_digest(path) != digest:
            return False
    return True


def _pinned_key(pinned: Flavour | None) -> list[Any] | None:
    """A file's pinned flavour as its entry records it (JSON compares equal)."""
    if pinned is None:
        return None
    return [pinned.name, list(pinned.version) if pinned.version else None, pinned.reason,
            _pinned_key(pinned.bundled)]


def _codes_key(codes: frozenset[str]) -> str:
    """A short stand-in for a set of rule codes (the same few sets recur in every entry)."""
    import hashlib

    text = ",".join(sorted(codes)).encode("ascii", "backslashreplace")
    return hashlib.blake2b(text, digest_size=8).hexdigest()


def _encode_span(span: Span) -> list[int]:
    return [span.start.row, span.start.column, span.end.row, span.end.column]


def _decode_span(value: Any) -> Span:
    row, column, end_row, end_column = (_int(part) for part in value)
    return Span(Position(row, column), Position(end_row, end_column))


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("not an integer")
    return value


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("not a string")
    return value


def _encode_finding(finding: Finding) -> list[Any]:
    related = [[item.message, _encode_span(item.span), item.path] for item in finding.related]
    encoded = [finding.code, finding.name, finding.severity, finding.message,
               _encode_span(finding.span), related]
    if finding.fix is not None:
        fix = finding.fix
        encoded.append([fix.message, fix.applicability,
                        [[_encode_span(edit.span), edit.content] for edit in fix.edits]])
    return encoded


def _decode_finding(value: Any) -> Finding:
    code, name, severity, message, span, related, *rest = value
    if severity not in ("error", "warning", "info"):
        raise ValueError(f"unknown severity {severity!r}")
    return Finding(
        code=_str(code),
        name=_str(name),
        severity=severity,
        message=_str(message),
        span=_decode_span(span),
        related=tuple(_decode_related(item) for item in related),
        fix=_decode_fix(rest[0]) if rest else None,
    )


def _decode_fix(value: Any) -> Fix:
    message, applicability, edits = value
    if applicability not in ("safe", "unsafe"):
        raise ValueError(f"unknown applicability {applicability!r}")
    return Fix(_str(message), applicability,
               tuple(Edit(_decode_span(span), _str(content)) for span, content in edits))


def _decode_related(value: Any) -> Related:
    text, where, *rest = value
    path = rest[0] if rest else None
    if path is not None:
        path = _str(path)
    return Related(_str(text), _decode_span(where), path)
