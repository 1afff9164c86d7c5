"""Baselines: record today's findings (``--write-baseline FILE``) and report only the
ones that are not recorded (``--baseline FILE``), for adopting bnlint on a code base
that already has findings.

A finding is recognised by its fingerprint (``bnlint.fingerprint``, the one SARIF and
GitLab use), which no line number enters, so a finding survives edits that shift lines.
A renamed file keeps its findings too: a finding that matches nothing by fingerprint is
matched on the parts without the path (code, key, occurrence) against the entries of a
file that no longer exists or whose recorded content is the renamed file's content.
Every entry matches at most one finding, so of two identical findings in a file, one
new, one is reported.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from itertools import groupby
from typing import TYPE_CHECKING

from bnlint import __version__
from bnlint.fingerprint import FINGERPRINT_VERSION, FingerprintParts, fingerprint_parts
from bnlint.report import sorted_findings

if TYPE_CHECKING:
    from bnlint.engine import FileResult
    from bnlint.finding import Finding

SCHEMA_VERSION = 1


class BaselineError(Exception):
    """A baseline file that cannot be read or written; the message is one line."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One recorded finding."""

    fingerprint: str
    code: str
    path: str
    content_hash: str | None
    key: str
    occurrence: int

    def loose(self) -> tuple[str, str, int]:
        """What must match when the path may have changed."""
        return (self.code, self.key, self.occurrence)


def _file_hash(path: str, result: FileResult) -> str | None:
    """The hash of the file's bytes (of its program text when it is not on disk)."""
    from bnlint.cache import content_hash
    from bnlint.sources import SourceError, read_file_bytes

    try:
        return content_hash(read_file_bytes(path))
    except SourceError:
        if result.source is None:
            return None
        return content_hash(result.source.text.encode("utf-8", "surrogatepass"))


def _by_file(results: Sequence[FileResult]) -> list[tuple[FileResult, list[Finding]]]:
    """Each file with findings and its findings in report order (which the occurrence
    indices of the fingerprints follow)."""
    grouped: list[tuple[FileResult, list[Finding]]] = []
    for _, group in groupby(sorted_findings(results), key=lambda pair: id(pair[0])):
        items = list(group)
        grouped.append((items[0][0], [finding for _, finding in items]))
    return grouped


def _entries(results: Sequence[FileResult]) -> list[Entry]:
    entries: list[Entry] = []
    for result, findings in _by_file(results):
        digest = _file_hash(result.path, result)
        for parts in fingerprint_parts(result.path, result.source, findings):
            entries.append(_entry(parts, digest))
    return entries


def _entry(parts: FingerprintParts, digest: str | None) -> Entry:
    return Entry(parts.digest(), parts.code, parts.path, digest, parts.key, parts.occurrence)


def write_baseline(path: str, results: Sequence[FileResult]) -> int:
    """Record every finding of ``results`` in ``path``; return how many."""
    entries = _entries(results)
    document = {
        "schema_version": SCHEMA_VERSION,
        "bnlint_version": __version__,
        "fingerprint_version": FINGERPRINT_VERSION,
        "findings": [
            {"fingerprint": entry.fingerprint, "code": entry.code, "path": entry.path,
             "content_hash": entry.content_hash, "key": entry.key,
             "occurrence": entry.occurrence}
            for entry in entries
        ],
    }
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    try:
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        with open(path, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
    except OSError as error:
        raise BaselineError(
            f"{path}: cannot write the baseline: {error.strerror or error}") from None
    return len(entries)


def load_baseline(path: str) -> list[Entry]:
    """The entries of the baseline file at ``path``; raise BaselineError when it is
    missing, unreadable or not a baseline of this version."""
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except OSError as error:
        raise BaselineError(
            f"{path}: cannot read the baseline: {error.strerror or error}") from None
    except (ValueError, RecursionError) as error:
        raise BaselineError(f"{path}: not a valid baseline: {error}") from None
    if not isinstance(document, dict) or not isinstance(document.get("findings"), list):
        raise BaselineError(f"{path}: not a valid baseline: no list of findings")
    if document.get("schema_version") != SCHEMA_VERSION:
        raise BaselineError(f"{path}: unsupported baseline schema_version "
                            f"{document.get('schema_version')!r} (expected {SCHEMA_VERSION}); "
                            "write it again with --write-baseline")
    if document.get("fingerprint_version") != FINGERPRINT_VERSION:
        raise BaselineError(f"{path}: the baseline was written with another fingerprint "
                            "recipe; write it again with --write-baseline")
    entries: list[Entry] = []
    for index, item in enumerate(document["findings"]):
        entry = _parse_entry(item)
        if entry is None:
            raise BaselineError(f"{path}: not a valid baseline: finding {index} is malformed")
        entries.append(entry)
    return entries


def _parse_entry(item: object) -> Entry | None:
    if not isinstance(item, dict):
        return None
    strings = [item.get(name) for name in ("fingerprint", "code", "path", "key")]
    occurrence = item.get("occurrence")
    digest = item.get("content_hash")
    if not all(isinstance(value, str) for value in strings):
        return None
    if not isinstance(occurrence, int) or isinstance(occurrence, bool) or occurrence < 0:
        return None
    if digest is not None and not isinstance(digest, str):
        return None
    fingerprint, code, path, key = (str(value) for value in strings)
    return Entry(fingerprint, code, path, digest, key, occurrence)


def filter_results(
    results: Sequence[FileResult], entries: Sequence[Entry]
) -> tuple[FileResult, ...]:
    """``results`` with the findings the baseline records removed."""
    unused: dict[int, Entry] = dict(enumerate(entries))
    by_fingerprint: dict[str, list[int]] = {}
    for index, entry in unused.items():
        by_fingerprint.setdefault(entry.fingerprint, []).append(index)

    pending: list[tuple[FileResult, Finding, FingerprintParts, str | None]] = []
    new: dict[int, list[Finding]] = {}
    # first every finding whose fingerprint is recorded, so that a rename never takes
    # an entry that the file still at the recorded path needs
    for result, findings in _by_file(results):
        digest = _file_hash(result.path, result)
        for finding, parts in zip(
                findings, fingerprint_parts(result.path, result.source, findings)):
            candidates = by_fingerprint.get(parts.digest())
            if candidates:
                del unused[candidates.pop(0)]
            else:
                pending.append((result, finding, parts, digest))
    moved = {
        index: entry for index, entry in unused.items()
        if not os.path.exists(entry.path)
    }
    for result, finding, parts, digest in pending:
        loose = (parts.code, parts.key, parts.occurrence)
        match = next(
            (index for index, entry in unused.items()
             if entry.loose() == loose
             and (index in moved or (digest is not None and entry.content_hash == digest))),
            None,
        )
        if match is not None:
            del unused[match]
            continue
        new.setdefault(id(result), []).append(finding)
    return tuple(
        replace(result, findings=tuple(new.get(id(result), ()))) if result.findings else result
        for result in results
    )
