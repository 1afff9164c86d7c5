#!/usr/bin/env python3
"""Score bnlint on held-out set 5 as a user would run it: inside each repository.

Set 5 (labels5_a.toml ... labels5_d.toml) labels every default-on rule, not only BN2xx,
and its files are read where they live: each repository's code, notebooks and pin
files are unpacked at the labelled commit from its mirror into `--work DIR/<owner>+<name>/`,
and bnlint runs from the repository root on the labelled paths (`--extend-select
BN210,BN211 --format json --no-cache`), so the repository's own pins and configuration
count, as they do for its users. The repositories are third-party code and are never
committed; only the labels are.

Findings are matched to labels as in score.py (file, code, line, cell); BN000 (CPython
rejects the file or a cell) is listed apart, as the labels cover the Keras rules only.
A second, lenient table for the whole set also matches a label at one of a finding's
notes (a step in a trainer module shown at the driver's call, a batch size shown where
it enters the pipeline with its default as a note): it is shown beside the strict
figures, which stay the measure. Labels marked
`cross_module = true` need another module of the project to be read; they are counted
in the overall figures and reported apart as well. Part d is the part never tuned on:
its false alarms and misses are counted but not listed unless `--details d` is given.
A third table counts each (file, rule) pair once, so that one habit repeated on a dozen
lines of one builder weighs as one mistake found or missed.

Set 6 (`--set 6 --parts ab`, labels6_a.toml and labels6_b.toml) holds multi-module
projects; part b is never tuned on. Set 7 (`--set 7 --parts abc`) holds 39 more
multi-module projects; part a is never tuned on. Set 8 (`--set 8 --parts abc`) holds 36
more, labelled before any run; part c is never tuned on. Set 9 (`--set 9 --parts abc`)
holds 37 more, labelled before any run; part b is never tuned on. Set 10 (`--set 10
--parts abc`) holds 38 more, labelled before any run; part a is never tuned on. Set 11
holds 35 more, labelled before any run; part b is never tuned on. Set 12 holds 36 more,
labelled before any run; part c is never tuned on. Sets 13, 14, 15, 16, 17, 18 and 19
hold 33, 35, 42, 43, 32, 39 and 39 more, and sets 20, 21, 22, 23 and 24 hold 39, 42, 39, 39
and 39, set 25 holds 39 and set 26 holds 39, labelled before any run; parts a, b, c, a, c, b, a,
b, c, a, b, c, a and b are never tuned on. The never-tuned part's
false alarms and misses are listed only when `--details` names it.

Usage: python bench/heldout/score_projects.py [--set 5|6|...|26] [--parts abcd] [--bnlint PATH]
           [--mirrors DIR] [--work DIR] [--json OUT] [--details PARTS]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import tomllib

sys.path.insert(0, str(Path(__file__).resolve().parent))
from score import OFF_BY_DEFAULT, default_bnlint, details, key, score, table

HERE = Path(__file__).resolve().parent
# The part of each set that is never tuned on: its misses and false alarms stay unread.
NEVER_TUNED = {5: "d", 6: "b", 7: "a", 8: "c", 9: "b", 10: "a", 11: "b", 12: "c", 13: "a", 14: "b", 15: "c", 16: "a", 17: "c", 18: "b", 19: "a", 20: "b", 21: "c",
               22: "a", 23: "b", 24: "c", 25: "a", 26: "b"}


def load(parts: str, number: int = 5) -> dict[str, dict[str, dict]]:
    """The label tables of each part of set ``number``, by part letter."""
    chosen: dict[str, dict[str, dict]] = {}
    for part in parts:
        path = HERE / f"labels{number}_{part}.toml"
        if path.exists():
            with open(path, "rb") as handle:
                chosen[part] = tomllib.load(handle)["files"]
    return chosen


# What bnlint reads of a repository: code, notebooks and the files that pin versions.
WANTED = (".py", ".ipynb", ".json", ".txt", ".toml", ".cfg", ".yml", ".yaml", "Dockerfile", "Pipfile")


def unpack(mirrors: Path, work: Path, repo: str, commit: str) -> Path | None:
    """The repository's code, notebooks and pin files at ``commit`` under ``work``
    (unpacked once). Blobs a partial mirror lacks are skipped."""
    target = work / repo.replace("/", "+") / commit[:12]
    if target.exists():
        return target
    root = mirrors / repo.replace("/", "+") / "repo"
    gdir = next((d for d in (root / ".git", root) if (d / "HEAD").exists()), None)
    if gdir is None:
        print(f"MISSING mirror for {repo} (fetch github:{repo})", file=sys.stderr)
        return None
    listing = subprocess.run(["git", f"--git-dir={gdir}", "ls-tree", "-r", "-z", commit],
                             capture_output=True, check=False)
    if listing.returncode != 0:
        print(f"MISSING {repo}@{commit}: {listing.stderr.decode(errors='replace').strip()}",
              file=sys.stderr)
        return None
    for item in listing.stdout.split(b"\0"):
        if not item:
            continue
        meta, _, name = item.partition(b"\t")
        path = name.decode(errors="surrogateescape")
        kind, obj = meta.split()[1:3]
        if kind != b"blob" or not path.endswith(WANTED):
            continue
        blob = subprocess.run(["git", f"--git-dir={gdir}", "cat-file", "blob", obj.decode()],
                              capture_output=True, check=False)
        if blob.returncode == 0:
            destination = target / path
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_bytes(blob.stdout)
    target.mkdir(parents=True, exist_ok=True)
    return target


def run(bnlint: str, root: Path, paths: list[str]) -> list[dict]:
    cmd = [bnlint, "--extend-select", "BN210,BN211", "--format", "json", "--exit-zero",
           "--no-cache", "--jobs", "1", *paths]
    proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True, check=False)
    if proc.returncode not in (0, 1):
        print(f"bnlint exited {proc.returncode} in {root}: {proc.stderr.strip()}",
              file=sys.stderr)
        return []
    if proc.stderr.strip():
        print(f"bnlint stderr in {root}:\n{proc.stderr.strip()}", file=sys.stderr)
    return json.loads(proc.stdout or "[]")


# BN000 says CPython rejects the file (Python 2 code, a broken notebook cell): the
# labels are about Keras mistakes, so syntax findings are counted apart.
UNLABELLED = {"BN000"}


def findings_for(labels: dict[str, dict], bnlint: str, mirrors: Path,
                 work: Path) -> list[dict]:
    """bnlint's findings on the labelled files, each renamed to its label's local name."""
    by_repo: dict[tuple[str, str], dict[str, str]] = {}
    for entry in labels.values():
        by_repo.setdefault((entry["repo"], entry["commit"]), {})[entry["path"]] = entry["local"]
    found: list[dict] = []
    for (repo, commit), locals_ in sorted(by_repo.items()):
        root = unpack(mirrors, work, repo, commit)
        if root is None:
            continue
        present = [path for path in locals_ if (root / path).exists()]
        for finding in run(bnlint, root, present):
            local = locals_.get(finding["filename"].removeprefix("./"))
            if local is not None:
                related = [{**note, "filename": locals_.get(
                    note["filename"].removeprefix("./"), note["filename"])}
                    for note in finding.get("related", [])]
                found.append({**finding, "filename": local, "related": related})
    return found


def score_at_notes(labels: dict[str, dict], found: list[dict]) -> dict:
    """The strict score, except that a finding also matches a label at one of its notes
    (same labelled file, line and cell): its primary location is elsewhere, but it names
    the labelled statement. Shown beside the strict figures, never instead of them: it
    measures how many strict mismatches are about where a finding is shown."""
    result = score(labels, found, None, "expected")
    expected, ambiguous_keys = result["expected"], set()
    for entry in labels.values():
        for item in entry.get("ambiguous", []):
            ambiguous_keys.add(key(entry["local"], item["code"], item["line"], item.get("cell")))
    matched: set[tuple] = set()
    tp, fp, amb = [], [], []
    for primary, finding in result["got"].items():
        keys = {primary} | {key(note["filename"], finding["code"], note["location"]["row"],
                                note.get("cell"))
                            for note in finding.get("related", [])}
        hits = keys & set(expected)
        matched |= hits
        if hits:
            tp.append(primary)
        elif keys & ambiguous_keys:
            amb.append(primary)
        else:
            fp.append(primary)
    fn = [label for label in expected if label not in matched]
    return {**result, "tp": tp, "fp": fp, "fn": fn, "ambiguous_hits": amb}


def syntax_findings(found: list[dict]) -> list[dict]:
    return [finding for finding in found if finding["code"] in UNLABELLED]


def without_cross_module(labels: dict[str, dict]) -> dict[str, dict]:
    """The labels with those that need another module moved to ``ambiguous``."""
    result = {}
    for name, entry in labels.items():
        expected = entry.get("expected", [])
        result[name] = {**entry,
                       "expected": [item for item in expected if not item.get("cross_module")],
                       "ambiguous": [*entry.get("ambiguous", []),
                                     *(item for item in expected if item.get("cross_module"))]}
    return result


def per_file_and_rule(result: dict) -> dict:
    """The result counted once per (file, rule): a repeated habit weighs as one mistake.

    A pair is found when any of its labels is matched, missed when it has labels and
    none is matched, and a false alarm when bnlint reports the rule there on no label.
    """
    def pair(k: tuple) -> tuple:
        return (k[0], k[1], 0, None)

    tp = {pair(k) for k in result["tp"]}
    fn = {pair(k) for k in result["fn"]} - tp
    expected = {pair(k): why for k, why in result["expected"].items()}
    fp = {pair(k) for k in result["fp"]} - set(expected)
    got = {pair(k): finding for k, finding in result["got"].items()}
    amb = {pair(k) for k in result["ambiguous_hits"]} - tp - fp - fn
    return {"expected": expected, "got": got, "tp": sorted(tp), "fp": sorted(fp),
            "fn": sorted(fn), "ambiguous_hits": sorted(amb)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", type=int, default=5, dest="number",
                        help="the held-out set: 5 (labels5_*.toml), 6 to 9 (labels6_*.toml "
                             "... labels9_*.toml: multi-module projects)")
    parser.add_argument("--parts", default="abcd")
    parser.add_argument("--bnlint", default=default_bnlint())
    parser.add_argument("--mirrors", default="/work/.mirror")
    parser.add_argument("--work", default="/tmp/heldout5")
    parser.add_argument("--json", help="also write the findings here")
    parser.add_argument("--details",
                        help="parts whose false alarms and misses are listed (default: "
                             "all but the set's never-tuned part)")
    args = parser.parse_args()
    if args.details is None:
        args.details = "abcd".replace(NEVER_TUNED.get(args.number, ""), "")

    parts = load(args.parts, args.number)
    name = f"set {args.number}"
    everything: dict[str, dict] = {}
    all_findings: list[dict] = []
    for part, labels in parts.items():
        found = findings_for(labels, args.bnlint, Path(args.mirrors), Path(args.work))
        syntax = syntax_findings(found)
        found = [finding for finding in found if finding not in syntax]
        for finding in syntax:
            print(f"syntax: {finding['filename']}: {finding['message']}")
        all_findings.extend(found)
        everything.update(labels)
        notebooks = sum(1 for e in labels.values() if e["path"].endswith(".ipynb"))
        repos = len({e["repo"] for e in labels.values()})
        print(f"\n===== part {part}: {len(labels)} files ({notebooks} notebooks) from "
              f"{repos} repositories, {len(found)} findings")
        result = score(labels, found, None, "expected")
        table(result, f"[part {part}] default rules")
        if part in args.details:
            details(result)
    if len(parts) > 1:
        print(f"\n===== {name}: {len(everything)} files, "
              f"{len({e['repo'] for e in everything.values()})} repositories")
        table(score(everything, all_findings, None, "expected"), f"[{name}] default rules")
        table(per_file_and_rule(score(everything, all_findings, None, "expected")),
              f"[{name}] default rules, counted once per file and rule")
        table(score(without_cross_module(everything), all_findings, None, "expected"),
              f"[{name}] default rules, single-module labels only")
        table(score_at_notes(everything, all_findings),
              f"[{name}] default rules, a finding also matching a label at one of its notes")
        table(score(everything, all_findings, OFF_BY_DEFAULT, "off_by_default"),
              f"[{name}] off by default (BN210, BN211)")
    if args.json:
        Path(args.json).write_text(json.dumps(all_findings, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
