#!/usr/bin/env python3
"""Lint real code through bnlint's engine and count what went wrong inside bnlint.

    python bench/sweep.py [--target stdlib|keras|tensorflow|tf_keras ...] [--path DIR ...]
                          [--site-packages DIR] [--sample N] [--jobs N] [--as-users]
                          [--alone] [--progress] [--json FILE]

Targets: the standard library of the interpreter running this script (``stdlib``), and
the installed sources of Keras, TensorFlow and tf_keras (found with
``importlib.util.find_spec``, which imports nothing; with ``--site-packages DIR`` they
are looked up in that directory instead, say another virtual environment's). Without
``--target`` or ``--path`` every target that is present is swept. ``--path DIR`` adds
any directory.

Each ``.py`` file (``__pycache__`` and symbolic links left out) is read and linted by
``bnlint.engine.lint_source`` with every rule, the ones off by default included, the
way a run from the swept directory would (its project index for imports). By default
every rule is made to apply to every file, so the parser, the semantic model and every
rule see all of the code, not only the few files that mention Keras words; with
``--as-users`` the engine's prefilter decides, as in a normal run. ``--alone`` lints
each file without the project index (no summaries of the modules it imports): much
faster on a tree as interlinked as the standard library, and what CI samples.

It prints, per target: files, lines, files analysed, findings, **internal errors** (a
message from bnlint about its own failure, an exception out of the engine, or a worker
process that died: each one is a bug), other errors (bnlint's one-line messages about
the input, e.g. an undecodable test fixture of the standard library), wall seconds,
files per second, the CPU seconds spent linting (files per CPU second does not depend on
how busy the machine is) and the files that took the most CPU time. The exit status is 1 when there was an
internal error. ``--sample N`` lints N files of each target spread evenly over the
sorted list (the same files every time). Nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import importlib.machinery
import importlib.util
import json
import multiprocessing
import os
import sys
import sysconfig
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bnlint.rule import Rule

PACKAGES = ("keras", "tensorflow", "tf_keras")
# Third-party code installed inside the standard library's directory is not its own.
_NOT_STDLIB = frozenset({"site-packages", "dist-packages", "__pycache__"})
_INTERNAL = "internal error"


@dataclass(frozen=True)
class Outcome:
    """What linting one file gave."""

    path: str
    lines: int
    seconds: float
    cpu: float = 0.0
    analysed: bool = False
    findings: int = 0
    internal: tuple[str, ...] = ()
    other: tuple[str, ...] = ()


@dataclass
class Summary:
    """The totals of one target."""

    name: str
    directory: str
    files: int = 0
    lines: int = 0
    analysed: int = 0
    findings: int = 0
    seconds: float = 0.0
    cpu: float = 0.0
    internal: list[str] = field(default_factory=list)
    other: list[str] = field(default_factory=list)
    slowest: list[tuple[float, float, str]] = field(default_factory=list)


def stdlib_directory() -> str:
    """The standard library of this interpreter."""
    return sysconfig.get_paths()["stdlib"]


def package_directory(name: str, site_packages: str | None) -> str | None:
    """The source directory of an installed package, without importing it."""
    if site_packages is not None:
        spec = importlib.machinery.PathFinder.find_spec(name, [site_packages])
    else:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    return locations[0] if locations else None


def python_files(directory: str, skip: frozenset[str] = frozenset({"__pycache__"})) -> list[str]:
    """Every ``.py`` file below ``directory``, sorted, symbolic links not followed."""
    found: list[str] = []
    for top, folders, names in os.walk(directory):
        folders[:] = sorted(name for name in folders if name not in skip)
        found.extend(os.path.join(top, name) for name in names
                     if name.endswith(".py") and not os.path.islink(os.path.join(top, name)))
    return sorted(found)


def evenly_spaced(files: Sequence[str], count: int | None) -> list[str]:
    """``count`` of ``files`` spread evenly over the list (all of them when None)."""
    if count is None or count >= len(files):
        return list(files)
    return [files[index * len(files) // count] for index in range(count)]


@lru_cache(maxsize=2)
def _rules(as_users: bool) -> tuple[type[Rule], ...]:
    """Every rule; unless ``as_users``, each made to apply to any text (an empty needle
    occurs in every file), so that the prefilter lets everything through."""
    from bnlint.registry import all_rules

    if as_users:
        return all_rules()
    return tuple(type(rule.__name__, (rule,), {"needles": (b"",), "__module__": rule.__module__})
                 for rule in all_rules())


@dataclass(frozen=True)
class Mode:
    """How files are linted: ``as_users`` keeps the prefilter; ``alone`` leaves out the
    project index."""

    as_users: bool = False
    alone: bool = False

    def describe(self) -> str:
        """A few words for the report."""
        rules = "prefilter as in a normal run" if self.as_users else "every rule on every file"
        return rules + (", each file alone" if self.alone else ", with the project index")


def lint_file(path: str, root: str, mode: Mode) -> Outcome:
    """Lint one file as a run from ``root`` would, with every rule; never raises."""
    from bnlint.engine import applicable_rules, lint_source
    from bnlint.project import project_for
    from bnlint.settings import Settings
    from bnlint.sources import SourceError, read_source

    started, cpu = time.perf_counter(), time.process_time()
    lines = 0
    try:
        source = read_source(path)
        lines = source.text.count("\n")
        rules = _rules(mode.as_users)
        project = None if mode.alone else project_for(path, root)
        result = lint_source(source, Settings(root=root), rules, None, project)
    except SourceError as error:
        return Outcome(path, lines, time.perf_counter() - started,
                       time.process_time() - cpu, other=(str(error),))
    except Exception as error:  # noqa: BLE001 - the sweep counts it, it must not stop
        message = f"{path}: {_INTERNAL}: exception out of the engine: " \
                  f"{type(error).__name__}: {error}"
        return Outcome(path, lines, time.perf_counter() - started,
                       time.process_time() - cpu, internal=(message,))
    internal = tuple(message for message in result.errors if _INTERNAL in message)
    other = tuple(message for message in result.errors if _INTERNAL not in message)
    return Outcome(path, lines, time.perf_counter() - started, time.process_time() - cpu,
                   analysed=bool(applicable_rules(source.text, rules)),
                   findings=len(result.findings), internal=internal, other=other)


def _lint_chunk(paths: Sequence[str], root: str, mode: Mode) -> list[Outcome]:
    return [lint_file(path, root, mode) for path in paths]


def lint_all(paths: Sequence[str], root: str, mode: Mode, jobs: int) -> Iterator[Outcome]:
    """Lint ``paths`` on ``jobs`` processes (in this one for 1). A file whose worker
    dies is tried again alone; dying alone is an internal error of that file."""
    if jobs <= 1:
        for path in paths:
            yield lint_file(path, root, mode)
        return
    chunks = [list(paths[start:start + 4]) for start in range(0, len(paths), 4)]
    lost: list[str] = []
    with _pool(jobs) as pool:
        futures: list[tuple[list[str], Future[list[Outcome]]]] = [
            (chunk, pool.submit(_lint_chunk, chunk, root, mode)) for chunk in chunks]
        for chunk, future in futures:
            try:
                yield from future.result()
            except BrokenProcessPool:
                lost.extend(chunk)
    for path in lost:
        yield _lint_alone(path, root, mode)


def _lint_alone(path: str, root: str, mode: Mode) -> Outcome:
    with _pool(1) as pool:
        try:
            return pool.submit(lint_file, path, root, mode).result()
        except BrokenProcessPool:
            message = f"{path}: {_INTERNAL}: the process analysing it died"
            return Outcome(path, 0, 0.0, internal=(message,))


def _pool(workers: int) -> ProcessPoolExecutor:
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    return ProcessPoolExecutor(max_workers=workers, mp_context=context)


def sweep(name: str, directory: str, files: Sequence[str], mode: Mode,
          jobs: int, progress: bool = False) -> Summary:
    """Lint ``files`` of one target and total what happened."""
    summary = Summary(name, directory)
    started = time.perf_counter()
    timings: list[tuple[float, float, str]] = []
    for outcome in lint_all(files, directory, mode, jobs):
        summary.files += 1
        summary.lines += outcome.lines
        summary.analysed += outcome.analysed
        summary.findings += outcome.findings
        summary.cpu += outcome.cpu
        summary.internal.extend(outcome.internal)
        summary.other.extend(outcome.other)
        timings.append((outcome.cpu, outcome.seconds, outcome.path))
        if progress and summary.files % 100 == 0:
            print(f"{name}: {summary.files}/{len(files)} files", file=sys.stderr, flush=True)
    summary.seconds = time.perf_counter() - started
    summary.slowest = sorted(timings, reverse=True)[:5]
    return summary


def _targets(args: argparse.Namespace) -> list[tuple[str, str, frozenset[str]]]:
    """(name, directory, folders to skip) for each target asked for and present."""
    wanted = args.target or ([] if args.path else ["stdlib", *PACKAGES])
    found: list[tuple[str, str, frozenset[str]]] = []
    for name in wanted:
        if name == "stdlib":
            found.append((name, stdlib_directory(), _NOT_STDLIB))
            continue
        directory = package_directory(name, args.site_packages)
        if directory is None:
            where = args.site_packages or "this interpreter"
            print(f"{name}: not installed in {where}, skipped", file=sys.stderr)
        else:
            found.append((name, directory, frozenset({"__pycache__"})))
    found.extend((path, os.path.abspath(path), frozenset({"__pycache__"}))
                 for path in args.path)
    return found


def report(summary: Summary, jobs: int, mode: Mode) -> None:
    """Print one target's totals."""
    rate = summary.files / summary.seconds if summary.seconds else 0.0
    print(f"{summary.name}: {summary.directory}")
    print(f"  files {summary.files:,}  lines {summary.lines:,}  analysed {summary.analysed:,}"
          f" ({mode.describe()})  findings {summary.findings:,}")
    print(f"  internal errors {len(summary.internal)}  other errors {len(summary.other)}")
    print(f"  wall {summary.seconds:.1f} s on {jobs} process(es): {rate:.1f} files/s, "
          f"{summary.lines / summary.seconds if summary.seconds else 0.0:,.0f} lines/s")
    cpu_rate = summary.files / summary.cpu if summary.cpu else 0.0
    print(f"  CPU {summary.cpu:.1f} s in the linting processes: {cpu_rate:.1f} files per "
          f"CPU second (what a busy machine does not change)")
    for message in summary.internal:
        print(f"  INTERNAL {message}")
    for message in summary.other[:20]:
        print(f"  other    {message}")
    if len(summary.other) > 20:
        print(f"  ... and {len(summary.other) - 20} more")
    for cpu, seconds, path in summary.slowest:
        print(f"  slowest  {cpu:6.2f} CPU s ({seconds:6.2f} s wall)  "
              f"{os.path.relpath(path, summary.directory)}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--target", action="append", choices=["stdlib", *PACKAGES],
                        help="what to sweep (repeatable; default: all that are present)")
    parser.add_argument("--path", action="append", default=[],
                        help="also sweep this directory (repeatable)")
    parser.add_argument("--site-packages", metavar="DIR",
                        help="find keras/tensorflow/tf_keras in DIR instead")
    parser.add_argument("--sample", type=int, metavar="N",
                        help="lint N files of each target, spread evenly (deterministic)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--as-users", action="store_true",
                        help="let the prefilter skip files, as a normal run does")
    parser.add_argument("--alone", action="store_true",
                        help="lint each file without the project index")
    parser.add_argument("--progress", action="store_true",
                        help="print a line on stderr every 100 files")
    parser.add_argument("--json", metavar="FILE", help="also write the totals as JSON")
    args = parser.parse_args(argv)
    mode = Mode(as_users=args.as_users, alone=args.alone)
    summaries: list[Summary] = []
    for name, directory, skip in _targets(args):
        files = evenly_spaced(python_files(directory, skip), args.sample)
        summary = sweep(name, directory, files, mode, args.jobs, args.progress)
        report(summary, args.jobs, mode)
        summaries.append(summary)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump({"python": sys.version, "jobs": args.jobs, "mode": asdict(mode),
                       "targets": [asdict(summary) for summary in summaries]}, out, indent=1)
    return 1 if any(summary.internal for summary in summaries) else 0


if __name__ == "__main__":
    sys.exit(main())
