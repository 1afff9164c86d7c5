"""Lints many files: reads each, picks its rules (per-file-ignores), answers from the
result cache what it can, runs the engine on the rest in worker processes (bnlint.isolation:
one file's crash, hang or memory blow-up costs that file only), and returns the results in
the order given."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING

from bnlint.engine import FileResult, lint_source
from bnlint.flavour import Flavour
from bnlint.rule import Rule
from bnlint.selection import compile_per_file_ignores
from bnlint.settings import Settings
from bnlint.source import Source

if TYPE_CHECKING:
    from bnlint.cache import ResultCache
    from bnlint.pins import PinIndex

# Below this many files a second worker process costs more (start-up) than it saves.
PARALLEL_MIN_FILES = 20
# Called once per file analysed (a progress display).
Progress = Callable[[], None]


@dataclass(frozen=True, slots=True)
class Task:
    """One file to lint and the codes of the rules to run on it; ``data`` holds its
    bytes when the main process has read them already (to hash them for the cache);
    ``pinned`` is the flavour its project's dependency files pin for it."""

    path: str
    codes: frozenset[str]
    data: bytes | None = None
    pinned: Flavour | None = None


@dataclass(frozen=True, slots=True)
class Job:
    """What every task of a run shares."""

    settings: Settings
    rules: tuple[type[Rule], ...]


def lint_paths(
    files: Sequence[str],
    settings: Settings,
    rules: Sequence[type[Rule]],
    selected: frozenset[str],
    *,
    jobs: int | None = None,
    project_flavour: Flavour | None = None,
    pins: PinIndex | None = None,
    cache: ResultCache | None = None,
    isolate: bool = True,
    progress: Progress | None = None,
) -> list[FileResult]:
    """Lint ``files`` with the ``selected`` codes among ``rules`` (per-file-ignores
    resolved against all of ``rules``). ``jobs`` processes (default: one per CPU); a
    run of fewer than PARALLEL_MIN_FILES files to analyse stays in this process. Results
    come back in the order of ``files``; a file that cannot be read or crashes the
    analysis gets a result with an error. With a ``cache`` (opened for these settings,
    rules and project flavour), unchanged files are answered from it without being
    parsed (a hit without findings has no Source), and the cache is saved at the end
    (``cache.problem`` says why it could not be). Each file's pinned flavour is
    ``project_flavour`` when given, else what ``pins`` finds above it.

    With ``isolate`` (the default) files are analysed in worker processes within the
    time and memory budget of ``settings.limits`` (bnlint.isolation); without it, in
    this process, where a crash of the parser ends the process. ``progress`` is called
    once per file analysed."""
    ignores = compile_per_file_ignores(settings, rules)
    tasks = [
        Task(path, ignores.codes_for(path, selected), pinned=project_flavour or (
            pins.flavour_for(path) if pins is not None else None))
        for path in files
    ]
    job = Job(settings, tuple(rules))
    if cache is None:
        return _lint_tasks(tasks, job, jobs, isolate, progress)
    return _lint_cached(tasks, job, jobs, cache, isolate, progress)


def _lint_tasks(tasks: Sequence[Task], job: Job, jobs: int | None,
                isolate: bool, progress: Progress | None) -> list[FileResult]:
    if not tasks:
        return []
    if isolate:
        return _lint_isolated(tasks, job, _worker_count(len(tasks), jobs), progress)
    results = []
    for task in tasks:
        try:
            results.append(lint_task(task, job))
        except MemoryError:
            results.append(FileResult(task.path, None, errors=(
                f"{task.path}: could not be analysed: out of memory",)))
        if progress is not None:
            progress()
    return results


def _lint_cached(
    tasks: Sequence[Task], job: Job, jobs: int | None, cache: ResultCache,
    isolate: bool, progress: Progress | None,
) -> list[FileResult]:
    """Hits come from ``cache``; misses are linted from the very bytes that were hashed,
    so an entry never pairs one version of a file with another's findings."""
    from bnlint.cache import content_hash

    results: list[FileResult | None] = [None] * len(tasks)
    misses: list[tuple[int, Task, str | None]] = []
    for index, task in enumerate(tasks):
        data = _read_bytes(task.path)
        if data is None:  # let lint_task report it as usual
            misses.append((index, task, None))
            continue
        digest = content_hash(data)
        results[index] = _cached_result(task, data, digest, cache)
        if results[index] is None:
            misses.append((index, replace(task, data=data), digest))
        elif progress is not None:
            progress()
    fresh = _lint_tasks([task for _, task, _ in misses], job, jobs, isolate, progress)
    for (index, task, known), result in zip(misses, fresh):
        results[index] = result
        if known is not None:
            cache.store(task.path, known, task.codes, task.pinned, result)
    cache.save()
    return [result for result in results if result is not None]


def _cached_result(task: Task, data: bytes, digest: str, cache: ResultCache) -> FileResult | None:
    """The cached result of a file; None on a miss. When it has findings its Source is
    rebuilt from the bytes, without parsing, for the reporters to map notebook rows to
    cells; a clean hit carries no Source (a notebook's would cost more than the lookup)."""
    from bnlint.sources import SourceError, source_from_text

    cached = cache.lookup(task.path, digest, task.codes, task.pinned)
    if cached is None:
        return None
    findings, flavour = cached
    if not findings:
        return FileResult(task.path, None, flavour=flavour)
    try:
        source = source_from_text(task.path, data)
    except SourceError:  # cannot happen for bytes that were linted without error
        return None
    return FileResult(task.path, source, findings, flavour=flavour)


def _read_bytes(path: str) -> bytes | None:
    """The file's bytes for the cache, or None (then lint_task reports why)."""
    from bnlint.sources import SourceError, read_file_bytes

    try:
        return read_file_bytes(path)
    except SourceError:
        return None


def lint_text(
    path: str,
    data: str | bytes,
    settings: Settings,
    rules: Sequence[type[Rule]],
    selected: frozenset[str],
    *,
    project_flavour: Flavour | None = None,
    cache: ResultCache | None = None,
    isolate: bool = False,
) -> FileResult:
    """Lint text that is not read from disk (stdin, an editor's buffer); ``path`` names
    it for per-file-ignores, notebook detection, the project's imports and the report.
    With a ``cache``, text whose bytes were linted before (with the same codes and
    pinned flavour) is answered from it; a result is stored, and the cache saved, only
    when ``data`` is what the file at ``path`` holds, so that the cache keeps versions
    of files that exist, never every state of an unsaved buffer. With ``isolate``, the
    text is analysed in a worker process within the budget of ``settings.limits``, as
    ``lint_paths`` does."""
    codes = compile_per_file_ignores(settings, rules).codes_for(path, selected)
    job = Job(settings, tuple(rules))
    raw = data.encode("utf-8") if isinstance(data, str) else data
    digest: str | None = None
    if cache is not None:
        from bnlint.cache import content_hash

        digest = content_hash(raw)
        cached = _cached_result(Task(path, codes, raw, project_flavour), raw, digest, cache)
        if cached is not None:
            return cached
    if isolate:
        result = _lint_data_isolated(path, data, codes, project_flavour, job)
    else:
        result = _lint_data(path, data, codes, project_flavour, job)
    if cache is not None and digest is not None and raw == _read_bytes(path):
        cache.store(path, digest, codes, project_flavour, result)
        cache.save()
    return result


def _lint_data_isolated(path: str, data: str | bytes, codes: frozenset[str],
                        pinned: Flavour | None, job: Job) -> FileResult:
    from bnlint.isolation import Budget, Failure, run_isolated

    limits = job.settings.limits
    [outcome] = run_isolated(
        [data], partial(_lint_data, path, codes=codes, pinned=pinned, job=job),
        Budget(limits.file_timeout, limits.file_memory), 1, prepare=_import_analysis)
    if isinstance(outcome, Failure):
        return FileResult(path, None, errors=(f"{path}: could not be analysed: {outcome.reason}",))
    return outcome


def _lint_data(path: str, data: str | bytes, codes: frozenset[str], pinned: Flavour | None,
               job: Job) -> FileResult:
    from bnlint.sources import SourceError, source_from_text

    try:
        source = source_from_text(path, data)
    except SourceError as error:
        return FileResult(path, None, errors=(str(error),))
    return _guarded_lint(source, codes, pinned, job)


def lint_task(task: Task, job: Job) -> FileResult:
    """Read and lint one file; never raises for a problem with that file."""
    from bnlint.sources import SourceError, read_source, source_from_text

    try:
        if task.data is None:
            source = read_source(task.path)
        else:
            source = source_from_text(task.path, task.data)
    except SourceError as error:
        return FileResult(task.path, None, errors=(str(error),))
    except MemoryError:
        raise  # the worker reports its memory budget
    except Exception as error:  # noqa: BLE001 - a reader bug must not stop the run
        return FileResult(task.path, None, errors=(_internal(task.path, error),))
    return _guarded_lint(source, task.codes, task.pinned, job)


def _guarded_lint(source: Source, codes: frozenset[str], pinned: Flavour | None,
                  job: Job) -> FileResult:
    from bnlint.project import project_for

    rules = [rule for rule in job.rules if rule.code in codes]
    try:
        project = project_for(source.path, job.settings.root)
        return lint_source(source, job.settings, rules, pinned, project)
    except MemoryError:
        raise  # the worker reports its memory budget
    except Exception as error:  # noqa: BLE001 - e.g. a semantic-model bug: report it
        return FileResult(source.path, source, errors=(_internal(source.path, error),))


def _internal(path: str, error: Exception) -> str:
    return f"{path}: internal error: {type(error).__name__}: {error}"


def _worker_count(files: int, jobs: int | None) -> int:
    if files < PARALLEL_MIN_FILES:
        return 1
    return max(1, min(jobs or os.cpu_count() or 1, files))


def _import_analysis() -> None:
    """Import what analysing a file needs, so that its import time does not count in the
    first file's time budget."""
    import libcst  # noqa: F401

    import bnlint.parse
    import bnlint.semantic.build  # noqa: F401


def _lint_isolated(tasks: Sequence[Task], job: Job, workers: int,
                   progress: Progress | None) -> list[FileResult]:
    """Each file in a worker process within the time and memory budget of the
    settings; a file whose analysis crashes, hangs or blows up gets an error saying so,
    and the others their results as usual."""
    from bnlint.isolation import Budget, Failure, run_isolated

    if workers > 1:  # imported once here, forked workers inherit them
        _import_analysis()
    limits = job.settings.limits
    budget = Budget(limits.file_timeout, limits.file_memory)
    # largest files first, so that no worker is left alone with a big file at the end
    order = sorted(range(len(tasks)), key=lambda index: -_size(tasks[index]))
    outcomes = run_isolated([tasks[index] for index in order], partial(lint_task, job=job),
                            budget, workers, progress, _import_analysis)
    results: list[FileResult | None] = [None] * len(tasks)
    for index, outcome in zip(order, outcomes):
        path = tasks[index].path
        results[index] = outcome if not isinstance(outcome, Failure) else FileResult(
            path, None, errors=(f"{path}: could not be analysed: {outcome.reason}",))
    return [result for result in results if result is not None]


def _size(task: Task) -> int:
    if task.data is not None:
        return len(task.data)
    try:
        return os.path.getsize(task.path)
    except OSError:
        return 0
