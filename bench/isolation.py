#!/usr/bin/env python3
"""What analysing files in a worker process costs, next to analysing them in this one.

    python bench/isolation.py CORPUS_DIR [--runs N] [--jobs N]

Times ``bnlint.runner.lint_paths`` on every .py/.ipynb file of CORPUS_DIR (no cache)
with ``isolate=True`` (each file in a worker process, within its time and memory budget:
what the CLI does) and ``isolate=False`` (in this process: a crash of the parser ends
it), round-robin, after one untimed warm-up run of each; then the same for the first
file alone (a pre-commit run on one changed file). Prints the median wall seconds of
each and the ratio isolated / in-process, and checks that both give the same findings.
Nothing is asserted about the times.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence
from pathlib import Path

from bnlint.engine import FileResult
from bnlint.registry import all_rules
from bnlint.runner import lint_paths
from bnlint.selection import default_codes
from bnlint.settings import Settings


def corpus_files(root: Path) -> list[str]:
    """The .py and .ipynb files under ``root``, sorted."""
    return sorted(str(path) for path in root.rglob("*") if path.suffix in (".py", ".ipynb"))


def findings(results: Sequence[FileResult]) -> list[tuple[str, int, int, str]]:
    return [(result.path, finding.span.start.row, finding.span.start.column, finding.code)
            for result in results for finding in result.findings]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args()
    files = corpus_files(args.corpus)
    rules = all_rules()
    settings = Settings(root=str(args.corpus))
    codes = frozenset(default_codes(rules))

    def run(paths: list[str], isolate: bool) -> tuple[float, list[FileResult]]:
        start = time.perf_counter()
        results = lint_paths(paths, settings, rules, codes, jobs=args.jobs, isolate=isolate)
        return time.perf_counter() - start, results

    print(f"corpus: {args.corpus} ({len(files)} files), --jobs {args.jobs}, "
          f"{args.runs} runs each")
    for label, paths in (("whole corpus", files), ("one file", files[:1])):
        times: dict[bool, list[float]] = {True: [], False: []}
        outputs: dict[bool, list[tuple[str, int, int, str]]] = {}
        for isolate in (True, False):  # warm-up
            outputs[isolate] = findings(run(paths, isolate)[1])
        for _ in range(args.runs):
            for isolate in (True, False):
                times[isolate].append(run(paths, isolate)[0])
        isolated, here = statistics.median(times[True]), statistics.median(times[False])
        same = "same findings" if outputs[True] == outputs[False] else "FINDINGS DIFFER"
        print(f"{label:>13}: worker process {isolated:7.3f} s   in this process "
              f"{here:7.3f} s   ratio {isolated / here:5.2f}   ({same})")


if __name__ == "__main__":
    main()
