#!/usr/bin/env python3
"""Score bnlint's BN2xx rules against the hand labels of the held-out corpus.

Runs `bnlint --isolated --select BN2 --format json --exit-zero` over the materialised
files (see materialise.py) from inside the corpus directory, so no configuration or
dependency pin of this repository leaks in (the target flavour is what bnlint infers
per file). Findings of the default-on rules are scored against `expected`; the
off-by-default BN210/BN211 are scored separately against `off_by_default`.

A finding matches a label when file, code, line and (for notebooks) cell agree.
Findings matching an `ambiguous` label count neither way. Prints per-rule and overall
TP/FP/FN, precision and recall, then every FP and FN with its message; findings of
the same code a few lines away from an unmatched label are shown as near misses.

Four labelled batches exist: set 1 (labels.toml), set 2 (labels2.toml), set 3
(labels3.toml) and set 4 (labels4.toml: snippets from threads where users reported
misbehaving code; files are named by `source` URL and must be collected by hand).
`--set 1`..`--set 4` or `--set all` (default) chooses; with `all` the tables are printed
per set and then combined.

Usage: python bench/heldout/score.py [--set 1|2|3|4|all] [--files DIR] [--bnlint PATH] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import tomllib

HERE = Path(__file__).resolve().parent
SETS = {"1": HERE / "labels.toml", "2": HERE / "labels2.toml", "3": HERE / "labels3.toml",
        "4": HERE / "labels4.toml"}
OFF_BY_DEFAULT = {"BN210", "BN211"}
NEAR = 3  # lines


def default_bnlint() -> str:
    local = HERE.parent.parent / ".venv" / "bin" / "bnlint"
    return str(local) if local.exists() else (shutil.which("bnlint") or "bnlint")


def key(local: str, code: str, line: int, cell: int | None) -> tuple:
    return (local, code, int(line), None if cell is None else int(cell))


def where(local: str, line: int, cell: int | None) -> str:
    return f"{local}:cell {cell}:{line}" if cell is not None else f"{local}:{line}"


def run_bnlint(bnlint: str, files_dir: Path, names: list[str]) -> list[dict]:
    cmd = [bnlint, "--isolated", "--select", "BN2", "--format", "json", "--exit-zero",
           "--jobs", "1", *names]
    proc = subprocess.run(cmd, cwd=files_dir, capture_output=True, text=True, check=False)
    if proc.returncode not in (0, 1):
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"bnlint failed with exit code {proc.returncode}")
    if proc.stderr.strip():
        sys.stderr.write("bnlint stderr:\n" + proc.stderr)
    return json.loads(proc.stdout or "[]")


def score(labels: dict, findings: list[dict], codes: set[str] | None,
          label_key: str) -> dict:
    """codes=None: every BN2 code except the off-by-default ones."""
    def wanted(code: str) -> bool:
        return code in codes if codes is not None else code not in OFF_BY_DEFAULT

    expected: dict[tuple, str] = {}
    ambiguous: set[tuple] = set()
    for entry in labels.values():
        local = entry["local"]
        for item in entry.get(label_key, []):
            if wanted(item["code"]):
                expected[key(local, item["code"], item["line"], item.get("cell"))] = item["why"]
        for item in entry.get("ambiguous", []):
            ambiguous.add(key(local, item["code"], item["line"], item.get("cell")))

    got: dict[tuple, dict] = {}
    for finding in findings:
        if not wanted(finding["code"]):
            continue
        name = os.path.basename(finding["filename"])
        got[key(name, finding["code"], finding["location"]["row"], finding["cell"])] = finding

    tp = [k for k in got if k in expected]
    fp = [k for k in got if k not in expected and k not in ambiguous]
    amb = [k for k in got if k not in expected and k in ambiguous]
    fn = [k for k in expected if k not in got]
    return {"expected": expected, "got": got, "tp": tp, "fp": fp, "fn": fn, "ambiguous_hits": amb}


def table(result: dict, title: str) -> None:
    codes = sorted({k[1] for k in result["expected"]} | {k[1] for k in result["got"]})
    tp, fp, fn = (Counter(k[1] for k in result[n]) for n in ("tp", "fp", "fn"))
    print(f"\n{title}")
    print(f"{'rule':7} {'TP':>4} {'FP':>4} {'FN':>4} {'precision':>10} {'recall':>7}")
    rows = [(c, tp[c], fp[c], fn[c]) for c in codes]
    rows.append(("overall", sum(tp.values()), sum(fp.values()), sum(fn.values())))
    for code, t, f, n in rows:
        precision = f"{t / (t + f):.2f}" if t + f else "-"
        recall = f"{t / (t + n):.2f}" if t + n else "-"
        print(f"{code:7} {t:>4} {f:>4} {n:>4} {precision:>10} {recall:>7}")
    if result["ambiguous_hits"]:
        print(f"(findings on ambiguous labels, not counted: {len(result['ambiguous_hits'])})")


def details(result: dict) -> None:
    for k in sorted(result["fp"]):
        finding = result["got"][k]
        print(f"FP {k[1]} {where(k[0], k[2], k[3])}: {finding['message']}")
    for k in sorted(result["fn"]):
        print(f"FN {k[1]} {where(k[0], k[2], k[3])}: expected because {result['expected'][k]}")
        near = [g for g in result["got"]
                if g[0] == k[0] and g[1] == k[1] and g[3] == k[3] and abs(g[2] - k[2]) <= NEAR]
        for g in near:
            print(f"   near miss: bnlint reports {g[1]} at {where(g[0], g[2], g[3])}")
    for k in sorted(result["ambiguous_hits"]):
        print(f"AMBIGUOUS {k[1]} {where(k[0], k[2], k[3])}: {result['got'][k]['message']}")


def report(labels: dict, findings: list[dict], title: str) -> None:
    locals_ = {e["local"] for e in labels.values()}
    mine = [f for f in findings if os.path.basename(f["filename"]) in locals_]
    print(f"\n===== {title}: {len(labels)} files, {len(mine)} BN2xx findings "
          f"({sum(1 for f in mine if f['code'] in OFF_BY_DEFAULT)} from BN210/BN211)")
    default = score(labels, mine, None, "expected")
    table(default, f"[{title}] Default rule set (BN2xx minus BN210/BN211)")
    details(default)
    off = score(labels, mine, OFF_BY_DEFAULT, "off_by_default")
    table(off, f"[{title}] Off by default (BN210, BN211; --extend-select)")
    details(off)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", choices=["1", "2", "3", "4", "all"], default="all",
                        help="which labelled batch to score (default: all, per set and combined)")
    parser.add_argument("--labels", help="a label file (overrides --set)")
    parser.add_argument("--files", default="/tmp/heldout/files")
    parser.add_argument("--bnlint", default=default_bnlint())
    parser.add_argument("--json", help="also write the raw findings here")
    args = parser.parse_args()

    if args.labels:
        chosen = {Path(args.labels).name: Path(args.labels)}
    elif args.set == "all":
        chosen = {f"set {k}": v for k, v in SETS.items()}
    else:
        chosen = {f"set {args.set}": SETS[args.set]}
    sets: dict[str, dict] = {}
    for name, path in chosen.items():
        with open(path, "rb") as handle:
            sets[name] = tomllib.load(handle)["files"]

    files_dir = Path(args.files)
    for name, labels in sets.items():
        absent = [e["local"] for e in labels.values() if not (files_dir / e["local"]).exists()]
        if absent:
            print(f"WARNING: {name}: {len(absent)} labelled files are not materialised "
                  f"(run materialise.py): {', '.join(absent)}")
            sets[name] = {k: e for k, e in labels.items() if e["local"] not in absent}
    present = sorted({e["local"] for labels in sets.values() for e in labels.values()})
    if not present:
        return 2
    findings = run_bnlint(args.bnlint, files_dir, present)
    if args.json:
        Path(args.json).write_text(json.dumps(findings, indent=2))

    for name, labels in sets.items():
        report(labels, findings, name)
    if len(sets) > 1:
        combined: dict = {}
        for name, labels in sets.items():
            combined.update({f"{name}:{k}": e for k, e in labels.items()})
        report(combined, findings, "combined")
    return 0


if __name__ == "__main__":
    sys.exit(main())
