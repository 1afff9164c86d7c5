#!/usr/bin/env python3
"""Time bnlint on a corpus, next to ruff measured in the same run.

    python bench/bench.py CORPUS_DIR [--runs N] [--jobs N] [--ruff PATH] [--json FILE]
                          [--baseline PYTHON]

Counts the .py/.ipynb files and lines in CORPUS_DIR, then times whole processes:

* ``python -c pass`` (interpreter floor) and ``bnlint --version`` (start-up);
* ``bnlint CORPUS_DIR --exit-zero`` with ``--jobs 1``, with ``--jobs N`` (default 2) and
  with no ``--jobs`` (the default, one process per CPU), cold (``--no-cache`` when the
  CLI has it);
* ``bare_parse.py CORPUS_DIR``: libcst parses every file in one process and nothing else
  (notebooks as their joined code cells), the floor of a cold run;
* a warm run from a primed cache (every file unchanged), when the CLI has
  ``--cache-dir``; the untimed warm-up run fills the cache, and the summary gives the
  cold/warm ratio against the cold row with the same ``--jobs``;
* ``ruff check --isolated --no-cache --exit-zero --select ALL CORPUS_DIR`` when ruff is
  found (``--ruff PATH`` or ``ruff`` on PATH or next to this interpreter).

* with ``--baseline PYTHON``, the cold ``--jobs 1`` and default rows again for the bnlint
  installed in that interpreter (another version), to compare two versions in one run.

Commands run round-robin (one run of each, N times) after one untimed warm-up run each,
so drift on a shared machine hits them alike. The table gives medians: wall seconds,
CPU seconds of the child and its children, cores used (CPU / wall), files/s, seconds per
1,000 lines and the ratio to ruff from this same run. Nothing is asserted: this script
reports, it does not judge.

bnlint runs as ``sys.executable -m bnlint`` from an empty temporary directory, so the
caller's working directory (its config, its cache) does not leak into the numbers.
Standard library only.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

try:  # CPU time of the children; not available on Windows
    import resource
except ImportError:  # pragma: no cover
    resource = None  # type: ignore[assignment]

SKIP_DIRS = {"__pycache__", "node_modules", "venv", "site-packages"}
FINDING_LINE = re.compile(r"^.+:\d+:\d+: [A-Z]+\d+\b", re.MULTILINE)


# --------------------------------------------------------------------------- corpus


@dataclass
class Corpus:
    py_files: int = 0
    notebooks: int = 0
    lines: int = 0  # newlines in .py files plus source lines of notebook code cells
    bytes: int = 0

    @property
    def files(self) -> int:
        return self.py_files + self.notebooks


def notebook_code_lines(path: Path) -> int:
    """Lines of source in a notebook's code cells (0 if it is not valid JSON)."""
    try:
        cells = json.loads(path.read_bytes()).get("cells", [])
    except (ValueError, AttributeError):
        return 0
    total = 0
    for cell in cells:
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            source = cell.get("source", "")
            text = "".join(source) if isinstance(source, list) else str(source)
            total += len(text.splitlines())
    return total


def measure_corpus(root: Path) -> Corpus:
    corpus = Corpus()
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith(".") and d not in SKIP_DIRS)
        for name in files:
            path = Path(directory, name)
            if name.endswith(".py"):
                data = path.read_bytes()
                corpus.py_files += 1
                corpus.lines += data.count(b"\n")
                corpus.bytes += len(data)
            elif name.endswith(".ipynb"):
                corpus.notebooks += 1
                corpus.lines += notebook_code_lines(path)
                corpus.bytes += path.stat().st_size
    return corpus


# --------------------------------------------------------------------------- timing


@dataclass
class Command:
    label: str
    argv: list[str]
    lints_corpus: bool  # rows that process the corpus get files/s and s/kLOC
    check_exit: bool = True
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    first_stdout: str | None = None
    first_stderr: str | None = None
    last_stdout: str | None = None  # of a timed run: for the warm row, a run from the cache

    @property
    def median_wall(self) -> float:
        return statistics.median(self.wall)

    @property
    def median_cpu(self) -> float | None:
        return statistics.median(self.cpu) if self.cpu else None

    @property
    def cores(self) -> float | None:
        """Cores kept busy: the median of CPU seconds over wall seconds, run by run."""
        if not self.cpu:
            return None
        return statistics.median(cpu / wall for cpu, wall in zip(self.cpu, self.wall) if wall)


def children_cpu() -> float | None:
    if resource is None:
        return None
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_once(command: Command, cwd: Path, record: bool) -> None:
    cpu_before = children_cpu()
    start = time.perf_counter()
    completed = subprocess.run(command.argv, cwd=cwd, capture_output=True, check=False,
                               text=True, errors="replace")
    wall = time.perf_counter() - start
    cpu_after = children_cpu()
    if command.check_exit and completed.returncode != 0:
        sys.stderr.write(f"bench: {command.label!r} exited {completed.returncode}\n"
                         f"command: {' '.join(command.argv)}\n{completed.stderr[-4000:]}\n")
        raise SystemExit(2)
    command.last_stdout = completed.stdout
    if command.first_stdout is None:
        command.first_stdout = completed.stdout
        command.first_stderr = completed.stderr
    if record:
        command.wall.append(wall)
        if cpu_before is not None and cpu_after is not None:
            command.cpu.append(cpu_after - cpu_before)


def cli_help(python: str, cwd: Path) -> str:
    completed = subprocess.run([python, "-m", "bnlint", "--help"], cwd=cwd,
                               capture_output=True, check=False, text=True)
    if completed.returncode != 0:
        sys.stderr.write("bench: `python -m bnlint --help` failed; is bnlint installed in "
                         f"this interpreter ({python})? Try `pip install -e .`\n"
                         + completed.stderr[-2000:] + "\n")
        raise SystemExit(2)
    return completed.stdout


def tool_version(argv: list[str], cwd: Path) -> str:
    try:
        completed = subprocess.run(argv, cwd=cwd, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, check=False, text=True)
    except OSError as error:
        return f"unavailable ({error})"
    return completed.stdout.strip().splitlines()[0] if completed.stdout.strip() else "?"


def find_ruff(explicit: str | None) -> str | None:
    if explicit:
        return explicit
    found = shutil.which("ruff")
    if found:
        return found
    beside = Path(sys.executable).parent / ("ruff.exe" if os.name == "nt" else "ruff")
    return str(beside) if beside.exists() else None


# --------------------------------------------------------------------------- report


def fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def table(commands: list[Command], corpus: Corpus, ruff: Command | None) -> str:
    header = ("command", "runs", "median s", "min-max s", "CPU s", "cores", "files/s",
              "s/kLOC", "x ruff")
    rows = [header]
    for command in commands:
        if not command.wall:
            continue
        median = command.median_wall
        per_file = per_kloc = ratio = None
        if command.lints_corpus:
            per_file = corpus.files / median if median > 0 else None
            per_kloc = median / (corpus.lines / 1000) if corpus.lines else None
            if ruff is not None and ruff.wall and command is not ruff:
                ratio = median / ruff.median_wall
        rows.append((
            command.label,
            str(len(command.wall)),
            fmt(median),
            f"{min(command.wall):.3f}-{max(command.wall):.3f}",
            fmt(command.median_cpu, 2),
            fmt(command.cores, 2),
            fmt(per_file, 1),
            fmt(per_kloc, 4),
            fmt(ratio, 1),
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = []
    for index, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:])]
        lines.append("| " + " | ".join(cells) + " |")
        if index == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def load_average() -> str:
    try:
        return " ".join(f"{value:.2f}" for value in os.getloadavg())
    except (AttributeError, OSError):
        return "n/a"


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Benchmark bnlint against ruff on a corpus; prints medians.")
    parser.add_argument("corpus", type=Path, help="directory of .py/.ipynb files")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per command (default 5)")
    parser.add_argument("--jobs", type=int, default=2,
                        help="worker count compared with --jobs 1 (default 2)")
    parser.add_argument("--ruff", metavar="PATH", help="ruff executable (default: ruff on PATH)")
    parser.add_argument("--json", metavar="FILE", type=Path,
                        help="also write every sample and the environment as JSON")
    parser.add_argument("--baseline", metavar="PYTHON",
                        help="also time the bnlint installed in this interpreter (cold rows)")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    corpus_dir = args.corpus.resolve()
    if not corpus_dir.is_dir():
        parser.error(f"{args.corpus} is not a directory")

    corpus = measure_corpus(corpus_dir)
    if corpus.files == 0:
        parser.error(f"no .py or .ipynb files under {args.corpus}")
    python = sys.executable

    with tempfile.TemporaryDirectory(prefix="bnlint-bench-") as scratch:
        cwd = Path(scratch, "cwd")
        cwd.mkdir()
        help_text = cli_help(python, cwd)
        cold_flags = ["--no-cache"] if "--no-cache" in help_text else []
        bnlint = [python, "-m", "bnlint"]
        lint = [*bnlint, str(corpus_dir), "--exit-zero"]

        commands = [
            Command("python -c pass", [python, "-c", "pass"], lints_corpus=False),
            Command("bnlint --version", [*bnlint, "--version"], lints_corpus=False),
            Command("bnlint --jobs 1", [*lint, "--jobs", "1", *cold_flags], lints_corpus=True),
        ]
        if args.jobs != 1:
            commands.append(Command(f"bnlint --jobs {args.jobs}",
                                    [*lint, "--jobs", str(args.jobs), *cold_flags],
                                    lints_corpus=True))
        default = Command("bnlint (default --jobs)", [*lint, *cold_flags], lints_corpus=True)
        commands.append(default)
        bare = Command("bare libcst parse, one process",
                       [python, str(Path(__file__).resolve().parent / "bare_parse.py"),
                        str(corpus_dir)], lints_corpus=True)
        commands.append(bare)
        baselines: list[Command] = []
        if args.baseline:
            base_help = cli_help(args.baseline, cwd)
            base_cold = ["--no-cache"] if "--no-cache" in base_help else []
            base_lint = [args.baseline, "-m", "bnlint", str(corpus_dir), "--exit-zero"]
            baselines = [
                Command("baseline --jobs 1", [*base_lint, "--jobs", "1", *base_cold],
                        lints_corpus=True),
                Command("baseline (default --jobs)", [*base_lint, *base_cold],
                        lints_corpus=True),
            ]
            commands.extend(baselines)
        warm: Command | None = None
        if "--cache-dir" in help_text:
            cache_dir = Path(scratch, "cache")
            warm = Command(f"bnlint --jobs {args.jobs} (warm cache)",
                           [*lint, "--jobs", str(args.jobs), "--cache-dir", str(cache_dir)],
                           lints_corpus=True)
            commands.append(warm)
        ruff_path = find_ruff(args.ruff)
        ruff: Command | None = None
        if ruff_path:
            ruff = Command("ruff check --select ALL",
                           [ruff_path, "check", "--isolated", "--no-cache", "--exit-zero",
                            "--select", "ALL", str(corpus_dir)], lints_corpus=True)
            commands.append(ruff)

        versions = {"bnlint": tool_version([*bnlint, "--version"], cwd)}
        if args.baseline:
            versions["baseline"] = "baseline " + tool_version(
                [args.baseline, "-m", "bnlint", "--version"], cwd)
        if ruff_path:
            versions["ruff"] = tool_version([ruff_path, "--version"], cwd)
        load_before = load_average()

        # One untimed run each: page cache, .pyc files, and the warm run's cache.
        for command in commands:
            run_once(command, cwd, record=False)
        for _ in range(args.runs):
            for command in commands:
                run_once(command, cwd, record=True)
        load_after = load_average()
        # One cache file per settings fingerprint: more than one means bnlint's code
        # changed during the runs (it is part of the key), so some warm runs were cold.
        cache_files = len(list(Path(scratch, "cache").glob("*/*.json")))

    print(f"corpus: {corpus_dir}")
    print(f"  {corpus.py_files} .py + {corpus.notebooks} .ipynb files, {corpus.lines:,} lines "
          f"({corpus.bytes / 1e6:.1f} MB)")
    print(f"python {platform.python_version()} on {platform.platform()}, "
          f"{os.cpu_count()} CPUs; load average before {load_before}, after {load_after}")
    print("versions: " + "; ".join(versions.values()))
    if not cold_flags:
        print("note: this bnlint has no --no-cache flag; 'cold' rows use its default caching")
    if warm is None:
        print("note: this bnlint has no --cache-dir flag; no warm-cache row")
    elif cache_files > 1:
        print(f"note: the cache key changed {cache_files - 1} time(s) during the runs (was "
              "bnlint's code edited?); the warm row includes cold runs")
    if ruff is None:
        print("note: ruff not found (pass --ruff PATH); no ratio column")
    print()
    print(table(commands, corpus, ruff))
    print()

    serial = commands[2]
    parallel = commands[3] if args.jobs != 1 else None
    findings = len(FINDING_LINE.findall(serial.first_stdout or ""))
    print(f"bnlint findings: {findings}")
    errors = [line for line in (serial.first_stderr or "").splitlines() if "error" in line]
    if errors:
        print(f"bnlint reported {len(errors)} error line(s) on stderr, e.g.: {errors[0]}")
    if parallel is not None:
        same = serial.first_stdout == parallel.first_stdout
        print(f"--jobs 1 vs --jobs {args.jobs}: output {'identical' if same else 'DIFFERENT'}, "
              f"speed-up {serial.median_wall / parallel.median_wall:.2f}x")
    same = default.first_stdout == serial.first_stdout
    print(f"default --jobs: output {'identical' if same else 'DIFFERENT'}, "
          f"{fmt(default.cores, 2)} cores busy (CPU s / wall s), "
          f"{serial.median_wall / default.median_wall:.2f}x faster than --jobs 1")
    print(f"bare libcst parse: {(bare.first_stdout or '').strip()}; cold default run / bare "
          f"parse = {default.median_wall / bare.median_wall:.2f}x (wall), --jobs 1 / bare "
          f"parse = {serial.median_wall / bare.median_wall:.2f}x (wall), "
          f"{(serial.median_cpu or 0) / (bare.median_cpu or 1):.2f}x (CPU)")
    for base in baselines:
        mine = serial if "--jobs 1" in base.label else default
        same = base.first_stdout == mine.first_stdout
        print(f"{base.label} vs {mine.label}: output {'identical' if same else 'DIFFERENT'}, "
              f"{base.median_wall / mine.median_wall:.2f}x the wall time, "
              f"{(base.median_cpu or 0) / (mine.median_cpu or 1):.2f}x the CPU time")
    if warm is not None:
        same = (warm.last_stdout or "") == (serial.first_stdout or "")
        cold = parallel or serial  # the cold row with the warm row's --jobs
        print(f"warm cache vs cold ({cold.label}): output {'identical' if same else 'DIFFERENT'}"
              f", cold {cold.median_wall:.3f} s vs warm {warm.median_wall:.3f} s median, "
              f"{cold.median_wall / warm.median_wall:.1f}x faster")
    print(f"Medians of {args.runs} runs from this one invocation; quote them together, "
          "and compare ratios only within one run.")

    if args.json:
        record = {
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "corpus": {"path": str(corpus_dir), "py_files": corpus.py_files,
                       "notebooks": corpus.notebooks, "lines": corpus.lines,
                       "bytes": corpus.bytes},
            "python": platform.python_version(), "platform": platform.platform(),
            "cpus": os.cpu_count(), "load_before": load_before, "load_after": load_after,
            "versions": versions, "runs": args.runs,
            "commands": [{"label": c.label, "argv": c.argv, "wall": c.wall, "cpu": c.cpu,
                          "median_wall": c.median_wall if c.wall else None}
                         for c in commands],
        }
        args.json.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
