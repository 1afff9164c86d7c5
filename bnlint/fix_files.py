"""``--fix``, ``--fix-only`` and ``--diff``: the fixes of a run carried into its files.

Each file is fixed in rounds, as ruff does: the applicable fixes that do not touch one
another are applied together (``bnlint.fix``), the new text is linted again, and the
fixes found then are applied in turn, until none is left (at most ``MAX_ROUNDS``). A
round whose text no longer parses where the old one did is dropped, with what it would
have fixed. A file is written only once, at the end, atomically, and only if it still
holds what was linted (``bnlint.atomic_write``); ``--diff`` writes nothing and shows
what would change.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from bnlint.atomic_write import WriteError, replace_if_unchanged
from bnlint.engine import FileResult
from bnlint.finding import Finding
from bnlint.fix import non_overlapping, signature
from bnlint.parse import SYNTAX_ERROR_CODE
from bnlint.rewrite import RewriteError, cell_list, rewritten
from bnlint.sources import SourceError, read_file_bytes, source_from_text

MAX_ROUNDS = 10

# Lint a file's (new) bytes again: (path, data) -> its result.
Relint = Callable[[str, bytes], FileResult]


@dataclass(frozen=True, slots=True)
class FileFix:
    """One file after its fixes: ``result`` holds what remains on the fixed text,
    ``fixed`` the findings the applied fixes resolved; ``old`` and ``new`` are the
    file's bytes before and after; ``error`` says why it was left alone."""

    path: str
    result: FileResult
    before: FileResult
    fixed: tuple[Finding, ...] = ()
    old: bytes = b""
    new: bytes = b""
    error: str | None = None

    @property
    def changed(self) -> bool:
        """Do the fixes change the file?"""
        return self.error is None and self.new != self.old


def fix_results(results: Sequence[FileResult], relint: Relint, unsafe: bool) -> list[FileFix]:
    """Fix every file of ``results`` that has applicable fixes (in memory: see
    ``write_fixes``); the others are passed through."""
    return [_fix_file(result, relint, unsafe) if non_overlapping(result.findings, unsafe)
            else FileFix(result.path, result, result) for result in results]


def write_fixes(fixes: Iterable[FileFix]) -> list[FileFix]:
    """Write each changed file; one that cannot be written comes back unfixed, with its
    findings as they were and the error."""
    written: list[FileFix] = []
    for fix in fixes:
        if fix.changed:
            try:
                replace_if_unchanged(fix.path, fix.old, fix.new)
            except WriteError as problem:
                fix = FileFix(fix.path, fix.before, fix.before, error=str(problem))
        written.append(fix)
    return written


def unified_diff(fix: FileFix) -> str:
    """What the fixes change, as a unified diff (per cell for a notebook, as ruff
    shows them)."""
    if not fix.changed:
        return ""
    kind = fix.result.source.kind if fix.result.source is not None else "python"
    if kind == "notebook":
        return "".join(_cell_diffs(fix.path, fix.old, fix.new))
    before = source_from_text(fix.path, fix.old, kind).text
    after = source_from_text(fix.path, fix.new, kind).text
    return _diff(before, after, fix.path)


def _fix_file(result: FileResult, relint: Relint, unsafe: bool) -> FileFix:
    source = result.source
    if source is None:
        return FileFix(result.path, result, result)
    try:
        data = read_file_bytes(result.path)
        if source_from_text(result.path, data, source.kind).text != source.text:
            return FileFix(result.path, result, result, error=(
                f"{result.path}: changed since it was linted; not fixed"))
    except SourceError as problem:
        return FileFix(result.path, result, result, error=str(problem))
    current, current_data, fixed = result, data, []
    done: set[tuple[str, str, tuple[str, ...]]] = set()
    for _ in range(MAX_ROUNDS):
        step = _round(current, current_data, relint, unsafe, done)
        if step is None:
            break
        current, current_data, chosen = step
        fixed.extend(chosen)
        done.update(signature(finding) for finding in chosen)
    return FileFix(result.path, current, result, tuple(fixed), data, current_data)


def _round(result: FileResult, data: bytes, relint: Relint, unsafe: bool,
           done: set[tuple[str, str, tuple[str, ...]]],
           ) -> tuple[FileResult, bytes, list[Finding]] | None:
    """One round of fixes: the new result, bytes and fixed findings; None when nothing
    (more) can be fixed. A fix applied in an earlier round (``done``) is not applied
    again: it did not hold."""
    source = result.source
    chosen = non_overlapping(result.findings, unsafe, done)
    if source is None or not chosen:
        return None
    # a fix that cannot be written (a transformed notebook row) must not hold back others
    for candidates in (chosen, *([finding] for finding in chosen)):
        edits = [edit for finding in candidates if finding.fix is not None
                 for edit in finding.fix.edits]
        try:
            new_data = rewritten(result.path, data, source, edits)
        except RewriteError:
            continue
        if new_data == data:
            continue
        new_result = relint(result.path, new_data)
        if _still_parses(result, new_result):
            return new_result, new_data, list(candidates)
    return None


def _still_parses(old: FileResult, new: FileResult) -> bool:
    """Does the fixed text parse wherever the old one did (no new syntax error, no new
    file-level error)?"""
    if new.source is None:
        return False
    return (_syntax_errors(new) <= _syntax_errors(old)
            and set(new.errors) <= set(old.errors))


def _syntax_errors(result: FileResult) -> int:
    return sum(1 for finding in result.findings if finding.code == SYNTAX_ERROR_CODE)


def _diff(before: str, after: str, name: str) -> str:
    lines = difflib.unified_diff(before.splitlines(keepends=True),
                                 after.splitlines(keepends=True),
                                 fromfile=name, tofile=name)
    return "".join(line if line.endswith(("\n", "\r")) else line + "\n" for line in lines)


def _cell_diffs(path: str, old: bytes, new: bytes) -> Iterable[str]:
    before = _cell_sources(old)
    after = _cell_sources(new)
    for number, (first, second) in enumerate(zip(before, after, strict=False), start=1):
        if first != second:
            yield _diff(first, second, f"{path}:cell {number}")


def _cell_sources(data: bytes) -> list[str]:
    document = json.loads(data.decode("utf-8-sig"))
    return ["".join(raw) if isinstance(raw, list) else str(raw)
            for raw in (cell.get("source", cell.get("input", "")) for cell in cell_list(document))]

