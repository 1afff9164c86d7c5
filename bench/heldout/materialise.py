#!/usr/bin/env python3
"""Recreate the held-out corpus under /tmp/heldout/files from the stored mirrors.

The corpus itself is third-party code and is never committed: labels.toml (set 1),
labels2.toml (set 2) and labels3.toml (set 3) only name (repo, path, commit).
Set 4 (labels4.toml) is snippets from issue threads and Q&A pages, named by `source` URL:
they cannot be recreated from a mirror, so `--set 4` only lists the set-4 files missing
from the output directory (re-collect them by hand from their URLs, see `excerpt`). Each file is read with
`git --git-dir=<mirrors>/<owner>+<name>/repo show <commit>:<path>`.
Mirrors are git clones (either a bare
`.../repo` or a work tree with `.../repo/.git`); a missing mirror or commit is reported
and the file skipped.

Usage: python bench/heldout/materialise.py [--set 1|2|3|4|all] [--mirrors DIR] [--out DIR]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import tomllib

HERE = Path(__file__).resolve().parent
SETS = {"1": HERE / "labels.toml", "2": HERE / "labels2.toml", "3": HERE / "labels3.toml",
        "4": HERE / "labels4.toml"}


def label_files(which: str, override: str | None) -> list[Path]:
    """The label files of one batch ("1" ... "4") or of all of them ("all")."""
    if override:
        return [Path(override)]
    return list(SETS.values()) if which == "all" else [SETS[which]]


def git_dir(mirrors: Path, repo: str) -> Path | None:
    owner, name = repo.split("/", 1)
    root = mirrors / f"{owner}+{name}" / "repo"
    for candidate in (root / ".git", root):
        if (candidate / "HEAD").exists():
            return candidate
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", choices=["1", "2", "3", "4", "all"], default="all",
                        help="which labelled batch to materialise (default: all)")
    parser.add_argument("--labels", help="a label file (overrides --set)")
    parser.add_argument("--mirrors", default="/work/.mirror")
    parser.add_argument("--out", default="/tmp/heldout/files")
    args = parser.parse_args()

    files = {}
    for path in label_files(args.set, args.labels):
        with open(path, "rb") as handle:
            files.update(tomllib.load(handle)["files"])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    written, missing = 0, []
    for key, entry in files.items():
        if "source" in entry and "repo" not in entry:
            # web snippet (set 4): no mirror can recreate it; report it if absent
            if (out / entry["local"]).exists():
                written += 1
            else:
                missing.append(f"{key}: {entry['local']} is not in {out}; it is a short "
                               f"snippet from a public thread and must be re-collected "
                               f"by hand from {entry['source']} ({entry.get('excerpt', '')})")
            continue
        gdir = git_dir(Path(args.mirrors), entry["repo"])
        if gdir is None:
            missing.append(f"{key}: no mirror for {entry['repo']} (fetch github:{entry['repo']})")
            continue
        spec = f"{entry['commit']}:{entry['path']}"
        result = subprocess.run(["git", f"--git-dir={gdir}", "show", spec],
                                capture_output=True, check=False)
        if result.returncode != 0:
            missing.append(f"{key}: {entry['repo']} has no {spec} "
                           f"({result.stderr.decode(errors='replace').strip()})")
            continue
        (out / entry["local"]).write_bytes(result.stdout)
        written += 1
    print(f"materialised or present {written}/{len(files)} files in {out}")
    for line in missing:
        print("MISSING", line)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
