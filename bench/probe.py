"""Time the runtime probe: every flagged example of every rule with a probe scenario
(its verdict and seconds, median of --repeat runs in one warm worker per flavour), then
``bnlint --probe`` on a project as a whole process (median of --repeat runs).

    python bench/probe.py [--repeat 3] [--flavours keras3,tf-keras] [PROJECT]

Needs the `probe` extra (TensorFlow) in this interpreter. Prints a table; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bnlint.probe.scenario import Scenario
from bnlint.probe.session import Pool
from bnlint.registry import all_rules
from bnlint.testing import lint_example

ROOT = Path(__file__).resolve().parent.parent


def rule_examples() -> list[tuple[str, int, Scenario]]:
    """(rule code, example number, scenario) for every flagged example with a scenario."""
    found = []
    for rule in all_rules():
        for number, example in enumerate(rule.examples(flagged=True), start=1):
            scenarios = {finding.scenario for finding in lint_example(rule, example)
                         if finding.scenario is not None}
            found.extend((rule.code, number, item) for item in sorted(
                scenarios, key=lambda s: s.facts))
    return found


def time_examples(flavours: list[str], repeat: int) -> None:
    print(f"{'flavour':<9} {'rule':<6} {'ex':>3} {'verdict':<15} {'median s':>8}  facts")
    for flavour in flavours:
        started = time.perf_counter()
        pool = Pool(timeout=600)
        pool.run(flavour, Scenario("BN000"))  # start the worker: import cost apart
        print(f"{flavour:<9} worker start (import TensorFlow/Keras): "
              f"{time.perf_counter() - started:.1f} s")
        try:
            for code, number, item in rule_examples():
                seconds, verdict = [], ""
                for _ in range(repeat):
                    pool._done.clear()  # measure each run, not the memo
                    result = pool.run(flavour, item)
                    seconds.append(result.seconds)
                    verdict = result.verdict
                facts = ", ".join(f"{k}={v}" for k, v in item.facts)
                print(f"{flavour:<9} {code:<6} {number:>3} {verdict:<15} "
                      f"{statistics.median(seconds):>8.2f}  {facts}")
        finally:
            pool.close()


def time_project(project: str, repeat: int) -> None:
    walls = []
    for _ in range(repeat):
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "bnlint", "--probe", "--exit-zero",
                               "--output-format", "concise", project],
                              check=False, capture_output=True, text=True)
        walls.append(time.perf_counter() - started)
        summary = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ""
    print(f"bnlint --probe {project}: median {statistics.median(walls):.1f} s over "
          f"{repeat} runs (min {min(walls):.1f}, max {max(walls):.1f}); {summary}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("project", nargs="?", default=str(ROOT / "examples"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--flavours", default="keras3")
    parser.add_argument("--skip-examples", action="store_true")
    args = parser.parse_args()
    if not args.skip_examples:
        time_examples(args.flavours.split(","), args.repeat)
    time_project(args.project, args.repeat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
