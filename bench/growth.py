#!/usr/bin/env python3
"""How bnlint's cost grows with the size of one file, per program shape.

    python bench/growth.py [--sizes 1000,10000,100000] [--shapes a,b,...] [--timeout S]
                           [--repeats 5,3,1] [--json FILE]

Writes, in a temporary directory that is removed afterwards, one generated file per
shape and size (lines of code; a notebook counts the lines of its code cells):

* ``layers``: a pretrained base and a Sequential model, then one
  ``model.layers[i].trainable = False`` per line, a compile and a fit;
* ``compile-fit``: repeated ``model.compile(...)`` / ``model.fit(...)`` blocks;
* ``phases``: freeze / compile / fit / unfreeze / compile / fit phases inside functions
  and ``if`` / ``else`` branches, each function called at module level;
* ``notebook``: a notebook of many small cells that build, freeze, unfreeze and train;
* ``plain``: ordinary Python (assignments, functions, classes, loops) under a Keras
  import, with a seven-line training script at the end (so that it is analysed);
* ``functions``: many small functions that each build and train a model (never
  called: each is replayed as an entry point).

Each measurement is a fresh process that imports bnlint, lints a 20-line file to warm
up, then times ``bnlint FILE --no-cache --exit-zero --jobs 1`` run in-process
(interpreter start-up and imports excluded) and reports its peak resident memory (``ru_maxrss``, itself and any child).
A measurement that runs past ``--timeout`` seconds is killed and shown as ``> T s``.
The table gives per shape and size the median wall time, the time per 1,000 lines,
libcst's share of it (``parse s``: ``libcst.parse_module``, timed around each call) and
the rest (bnlint's own work: reading, the semantic model, the rules, positions,
the report), the peak memory, the number of findings and the growth ratio of the time
and of the rest to the previous size: linear cost gives a ratio near 10 for each
tenfold size. Nothing is asserted.
Standard library only (bnlint installed in the running interpreter).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

HEADER = "from tensorflow import keras\nimport numpy as np\n"
BASE = (
    "base = keras.applications.ResNet50(weights='imagenet', include_top=False)\n"
    "model = keras.Sequential([base, keras.layers.GlobalAveragePooling2D(),"
    " keras.layers.Dense(10)])\n"
    "x = np.zeros((8, 224, 224, 3))\n"
    "y = np.zeros((8, 10))\n"
)


def _fill(lines: int, head: str, unit: Callable[[int], str], tail: str = "") -> str:
    """``head``, then ``unit(0)``, ``unit(1)``, ... until the text has ``lines`` lines,
    then ``tail``."""
    parts = [head]
    count = head.count("\n") + tail.count("\n")
    index = 0
    while count < lines:
        chunk = unit(index)
        parts.append(chunk)
        count += chunk.count("\n")
        index += 1
    parts.append(tail)
    return "".join(parts)


def layers_shape(lines: int) -> str:
    return _fill(lines, HEADER + BASE,
                 lambda i: f"model.layers[{i}].trainable = False\n",
                 "model.compile(optimizer='adam', loss='mse')\nmodel.fit(x, y)\n")


def compile_fit_shape(lines: int) -> str:
    def block(i: int) -> str:
        rate = "1e-3" if i % 2 == 0 else "1e-5"
        return (f"model.compile(optimizer=keras.optimizers.Adam({rate}), loss='mse')\n"
                f"model.fit(x, y, epochs={i % 5 + 1}, batch_size=32)\n")
    return _fill(lines, HEADER + BASE, block)


def phases_shape(lines: int) -> str:
    def phase(i: int) -> str:
        return (
            f"def phase_{i}(model, base, finetune):\n"
            "    base.trainable = False\n"
            "    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss='mse')\n"
            "    model.fit(x, y, epochs=1)\n"
            "    if finetune:\n"
            "        base.trainable = True\n"
            "        for layer in base.layers[:100]:\n"
            "            layer.trainable = False\n"
            "        model.compile(optimizer=keras.optimizers.Adam(1e-5), loss='mse')\n"
            "        model.fit(x, y, epochs=1)\n"
            "    else:\n"
            "        model.evaluate(x, y)\n"
            "\n"
            f"phase_{i}(model, base, {i % 2 == 0})\n"
            "\n"
        )
    return _fill(lines, HEADER + BASE, phase)


NOTEBOOK_CELLS = (
    "base.trainable = False\n",
    "model.compile(optimizer='adam', loss='mse')\nhistory = model.fit(x, y, epochs=1)\n",
    "print(history.history['loss'][-1])\n",
    "base.trainable = True\nfor layer in base.layers[:50]:\n    layer.trainable = False\n",
    "model.compile(optimizer=keras.optimizers.Adam(1e-5), loss='mse')\n",
    "model.fit(x, y, epochs=1)\n",
    "scores = model.evaluate(x, y)\nscores\n",
)


def notebook_shape(lines: int) -> str:
    cells: list[str] = [HEADER + BASE]
    count = cells[0].count("\n")
    index = 0
    while count < lines:
        cell = NOTEBOOK_CELLS[index % len(NOTEBOOK_CELLS)]
        cells.append(cell)
        count += cell.count("\n")
        index += 1
    document = {
        "cells": [{"cell_type": "code", "execution_count": None, "metadata": {},
                   "outputs": [], "source": cell.splitlines(keepends=True)}
                  for cell in cells],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                    "language": "python"}},
        "nbformat": 4, "nbformat_minor": 5,
    }
    return json.dumps(document, indent=1)


def plain_shape(lines: int) -> str:
    def unit(i: int) -> str:
        return (
            f"SETTING_{i} = {i} * 2 + 1\n"
            f"def helper_{i}(values, scale={i}):\n"
            "    total = 0\n"
            "    for value in values:\n"
            "        if value > scale:\n"
            "            total += value * scale\n"
            "    return total\n"
            f"class Record{i}:\n"
            "    def __init__(self, name):\n"
            "        self.name = name\n"
            f"result_{i} = helper_{i}([1, 2, 3], SETTING_{i})\n"
        )
    # a short training script at the end, so that the file is parsed and analysed
    tail = (BASE + "base.trainable = False\nmodel.compile(optimizer='adam', loss='mse')\n"
            "model.fit(x, y)\n")
    return _fill(lines, HEADER, unit, tail)


def functions_shape(lines: int) -> str:
    def unit(i: int) -> str:
        return (
            f"def train_{i}(x, y):\n"
            "    base = keras.applications.MobileNetV2(weights='imagenet', include_top=False)\n"
            "    base.trainable = False\n"
            "    inputs = keras.Input((224, 224, 3))\n"
            "    h = base(inputs, training=False)\n"
            "    outputs = keras.layers.Dense(1)(keras.layers.GlobalAveragePooling2D()(h))\n"
            "    model = keras.Model(inputs, outputs)\n"
            "    model.compile(optimizer='adam', loss='mse')\n"
            "    model.fit(x, y)\n"
            "    base.trainable = True\n"
            "    model.compile(optimizer=keras.optimizers.Adam(1e-5), loss='mse')\n"
            "    model.fit(x, y)\n"
            "    return model\n"
            "\n"
        )
    return _fill(lines, HEADER, unit)


SHAPES: dict[str, tuple[Callable[[int], str], str]] = {
    "layers": (layers_shape, ".py"),
    "compile-fit": (compile_fit_shape, ".py"),
    "phases": (phases_shape, ".py"),
    "notebook": (notebook_shape, ".ipynb"),
    "plain": (plain_shape, ".py"),
    "functions": (functions_shape, ".py"),
}

# Run in the measuring process: bnlint's CLI on one file, its wall time and peak memory.
CHILD = r"""
import contextlib, io, json, resource, sys, time
import libcst
from bnlint.cli import main
parsing = [0.0]
parse_module = libcst.parse_module
def timed_parse(*args, **kwargs):  # libcst's share of the time, apart from bnlint's
    start = time.perf_counter()
    try:
        return parse_module(*args, **kwargs)
    finally:
        parsing[0] += time.perf_counter() - start
libcst.parse_module = timed_parse
# Analysed in this process, not in a worker (which the CLI uses to isolate a file's
# crash, at about 60 ms a run): the parse timing above must see the parse.
import functools
import bnlint.runner
bnlint.runner.lint_paths = functools.partial(bnlint.runner.lint_paths, isolate=False)
# The per-file limits (60 s, 4 GB, 10 MB by default) would stop the largest sizes: this
# measures the analysis itself, so they are lifted.
ARGS = ["--no-cache", "--exit-zero", "--jobs", "1", "--output-format", "json",
        "--file-timeout", "100000", "--file-memory", "1000000", "--max-file-size", "1000"]
warm = sys.argv[2]  # a small Keras file: imports and first-use set-up are not timed
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    main([warm, *ARGS])
out = io.StringIO()
parsing[0] = 0.0
start = time.perf_counter()
with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
    code = main([sys.argv[1], *ARGS])
elapsed = time.perf_counter() - start
peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
           resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
try:
    findings = len(json.loads(out.getvalue() or "[]"))
except ValueError:
    findings = -1
print(json.dumps({"seconds": elapsed, "parse_seconds": parsing[0], "peak_kb": peak,
                  "code": code, "findings": findings}))
"""


@dataclass
class Measurement:
    shape: str
    lines: int
    seconds: float | None  # median; None: past the timeout
    samples: list[float]
    parse_seconds: float | None  # libcst.parse_module's share, in the median run
    peak_mb: float | None
    findings: int | None
    timeout: float


def measure_once(path: Path, timeout: float, cwd: Path) -> dict[str, float] | None:
    """One fresh process linting ``path``; None when it ran past ``timeout``."""
    warm = cwd / "warm_up.py"
    if not warm.exists():
        warm.write_text(compile_fit_shape(20), encoding="utf-8")
    try:
        done = subprocess.run([sys.executable, "-c", CHILD, str(path), str(warm)],
                              capture_output=True,
                              text=True, timeout=timeout, cwd=cwd, check=False)
    except subprocess.TimeoutExpired:
        return None
    if done.returncode != 0:
        raise SystemExit(f"measuring {path.name} failed:\n{done.stderr.strip()}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def measure(shape: str, lines: int, repeats: int, timeout: float,
            workdir: Path) -> Measurement:
    generate, suffix = SHAPES[shape]
    path = workdir / f"{shape.replace('-', '_')}_{lines}{suffix}"
    path.write_text(generate(lines), encoding="utf-8")
    samples: list[float] = []
    parses: list[float] = []
    peaks: list[float] = []
    findings: int | None = None
    for _ in range(repeats):
        result = measure_once(path, timeout, workdir)
        if result is None:
            return Measurement(shape, lines, None, samples, None, None, None, timeout)
        samples.append(result["seconds"])
        parses.append(result["parse_seconds"])
        peaks.append(result["peak_kb"] / 1024)
        findings = int(result["findings"])
    median = statistics.median(samples)
    parse = parses[min(range(len(samples)), key=lambda index: abs(samples[index] - median))]
    return Measurement(shape, lines, median, samples, parse, max(peaks), findings, timeout)


def _int_list(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def _seconds(value: Measurement) -> str:
    return f"> {value.timeout:.0f} s" if value.seconds is None else f"{value.seconds:.2f}"


def _growth(now: float | None, before: float | None, timeout: float) -> str:
    if before is None or before <= 0:
        return "-"
    if now is None:
        return f"> {timeout / before:.0f}"
    return f"{now / before:.1f}"


def rows(results: list[Measurement]) -> Iterator[str]:
    """The table: a header, then one row per measurement."""
    yield (f"{'shape':<12} {'lines':>7} {'median s':>9} {'s/1k lines':>10} {'parse s':>8} "
           f"{'rest s':>7} {'peak MB':>8} {'findings':>8} {'growth':>7} {'rest growth':>11}")
    previous: Measurement | None = None
    for value in results:
        if previous is not None and previous.shape != value.shape:
            previous = None
        growth = rest_growth = ""
        rest = None
        if value.seconds is not None and value.parse_seconds is not None:
            rest = value.seconds - value.parse_seconds
        if previous is not None:
            growth = _growth(value.seconds, previous.seconds, value.timeout)
            before = None
            if previous.seconds is not None and previous.parse_seconds is not None:
                before = previous.seconds - previous.parse_seconds
            rest_growth = _growth(rest, before, value.timeout)
        per_k = "" if value.seconds is None else f"{value.seconds / value.lines * 1000:.3f}"
        parse = "" if value.parse_seconds is None else f"{value.parse_seconds:.2f}"
        rest_text = "" if rest is None else f"{rest:.2f}"
        peak = "" if value.peak_mb is None else f"{value.peak_mb:.0f}"
        found = "" if value.findings is None else str(value.findings)
        yield (f"{value.shape:<12} {value.lines:>7} {_seconds(value):>9} {per_k:>10} "
               f"{parse:>8} {rest_text:>7} {peak:>8} {found:>8} {growth:>7} {rest_growth:>11}")
        previous = value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=_int_list, default=[1_000, 10_000, 100_000],
                        help="file sizes in lines, comma-separated (default 1000,10000,100000)")
    parser.add_argument("--shapes", default=",".join(SHAPES),
                        help=f"comma-separated, of: {', '.join(SHAPES)} (default: all)")
    parser.add_argument("--repeats", type=_int_list, default=[5, 3, 1],
                        help="runs per size, in the order of --sizes; the last value "
                        "serves the larger sizes (default 5,3,1)")
    parser.add_argument("--timeout", type=float, default=300.0,
                        help="seconds before a measurement is stopped (default 300)")
    parser.add_argument("--json", metavar="FILE", help="also write every sample to FILE")
    args = parser.parse_args()
    shapes = [name.strip() for name in args.shapes.split(",") if name.strip()]
    unknown = [name for name in shapes if name not in SHAPES]
    if unknown:
        parser.error(f"unknown shape(s): {', '.join(unknown)}")

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"# python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load {load:.2f}, "
          f"timeout {args.timeout:.0f} s, repeats {args.repeats}", flush=True)
    results: list[Measurement] = []
    print(next(rows(results)), flush=True)
    with tempfile.TemporaryDirectory(prefix="bnlint-growth-") as temp:
        workdir = Path(temp)
        for shape in shapes:
            stopped = False
            for position, lines in enumerate(args.sizes):
                repeats = args.repeats[min(position, len(args.repeats) - 1)]
                if stopped:  # the smaller size already ran past the timeout
                    value = Measurement(shape, lines, None, [], None, None, None, args.timeout)
                else:
                    value = measure(shape, lines, repeats, args.timeout, workdir)
                stopped = value.seconds is None
                results.append(value)
                print(list(rows(results))[-1], flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(value) for value in results], indent=1),
                                   encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
