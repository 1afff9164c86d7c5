"""False-alarm census of bnlint over whole public repositories.

Re-materialises every repository listed in ``repos.toml`` from its bare git mirror at the
recorded commit, runs a given bnlint executable from each repository root as a user would
(``bnlint --format json --exit-zero --no-cache .``), matches the findings against the
verdicts in ``judgements.toml`` and prints, per rule: findings, judged correct, false
alarms, debatable, unjudged, and the share judged correct. It then lists the findings no
verdict covers (new findings) and the judged findings that no longer appear.

Standard library only. Typical use::

    python bench/census/census.py --bnlint .venv/bin/bnlint
    python bench/census/census.py --bnlint .venv/bin/bnlint --context 6   # show new findings
    python bench/census/census.py --bnlint .venv/bin/bnlint --template new.toml

Findings are matched on (repo, path, code, line, cell); when the same key occurs more than
once (two findings of one rule on one line) the verdicts are consumed in order.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import tomllib

HERE = Path(__file__).resolve().parent
MARKER = ".census-commit"
VERDICTS = ("correct", "false-alarm", "debatable")
CAUSES = (
    "branch",
    "unreached-code",
    "notebook-ipython",
    "flavour",
    "cross-module",
    "docstring-or-string",
    "rule-logic",
    "other",
)

Key = tuple[str, str, str, int, int]  # repo, path, code, line, cell (0 for .py files)


@dataclass
class Repo:
    name: str
    commit: str
    files_linted: int = 0
    notes: str = ""


@dataclass
class Finding:
    repo: str
    path: str
    code: str
    line: int
    cell: int
    message: str
    severity: str = ""

    @property
    def key(self) -> Key:
        return (self.repo, self.path, self.code, self.line, self.cell)


@dataclass
class RunResult:
    repo: Repo
    files: int
    findings: list[Finding]
    stderr: list[str]
    missing: list[str] = field(default_factory=list)
    returncode: int = 0


# --------------------------------------------------------------------------- materialise


def mirror_dir(mirror: Path, name: str) -> Path:
    return mirror / name.replace("/", "+") / "repo"


def git(git_dir: Path, *args: str, data: bytes | None = None) -> bytes:
    proc = subprocess.run(
        ["git", f"--git-dir={git_dir}", *args],
        input=data,
        capture_output=True,
        check=True,
    )
    return proc.stdout


def materialise(repo: Repo, mirror: Path, workdir: Path, fresh: bool) -> tuple[Path, list[str]]:
    """Write the tree of ``repo.commit`` into ``workdir/owner+name``; return the directory
    and the paths whose blobs the mirror lacks (snapshots omit files of 4 MiB and more).
    Symbolic links and submodules are not written."""
    target = workdir / repo.name.replace("/", "+")
    marker = target / MARKER
    missing_list = target / ".census-missing"
    if not fresh and marker.is_file() and marker.read_text().strip() == repo.commit:
        known = missing_list.read_text().splitlines() if missing_list.is_file() else []
        return target, known
    git_dir = mirror_dir(mirror, repo.name)
    if not git_dir.is_dir():
        sys.exit(f"census: no mirror at {git_dir}: fetch github:{repo.name} first")
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    listing = git(git_dir, "ls-tree", "-r", "-z", "--full-tree", repo.commit)
    blobs: list[tuple[str, str]] = []
    for entry in listing.split(b"\0"):
        if not entry:
            continue
        meta, _, raw_path = entry.partition(b"\t")
        mode, kind, sha = meta.decode().split()
        if kind != "blob" or mode == "120000":
            continue
        blobs.append((sha, raw_path.decode("utf-8", "surrogateescape")))
    request = "".join(f"{sha}\n" for sha, _ in blobs).encode()
    out = git(git_dir, "cat-file", "--batch", data=request)
    missing: list[str] = []
    pos = 0
    for sha, rel in blobs:
        end = out.index(b"\n", pos)
        header = out[pos:end].decode()
        pos = end + 1
        if header.endswith(" missing"):
            missing.append(rel)
            continue
        size = int(header.split()[2])
        body = out[pos : pos + size]
        pos += size + 1
        dest = target / rel
        if not dest.resolve().is_relative_to(target.resolve()):
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(body)
    missing_list.write_text("".join(f"{m}\n" for m in missing))
    marker.write_text(repo.commit + "\n")
    return target, missing


# --------------------------------------------------------------------------- run


def lintable(path: str) -> bool:
    return path.endswith((".py", ".ipynb"))


def run_bnlint(bnlint: str, repo: Repo, root: Path, missing: list[str]) -> RunResult:
    env = dict(os.environ)
    env.pop("BNLINT_CACHE_DIR", None)
    proc = subprocess.run(
        [bnlint, "--format", "json", "--exit-zero", "--no-cache", "."],
        check=False,
        cwd=root,
        capture_output=True,
        text=True,
        env=env,
    )
    try:
        raw = json.loads(proc.stdout or "[]")
    except json.JSONDecodeError:
        raw = []
        print(f"census: {repo.name}: bnlint printed no JSON", file=sys.stderr)
    shown = subprocess.run(
        [bnlint, "--show-files", "."],
        check=False,
        cwd=root,
        capture_output=True,
        text=True,
        env=env,
    )
    if shown.returncode == 0:
        files = sum(1 for line in shown.stdout.splitlines() if lintable(line.strip()))
    else:  # an older CLI without --show-files
        files = sum(1 for p in root.rglob("*") if p.is_file() and lintable(p.name))
    findings = [
        Finding(
            repo=repo.name,
            path=item["filename"].removeprefix("./"),
            code=item["code"],
            line=int(item["location"]["row"]),
            cell=int(item.get("cell") or 0),
            message=item.get("message", ""),
            severity=item.get("severity", ""),
        )
        for item in raw
    ]
    stderr = [line for line in proc.stderr.splitlines() if line.strip()]
    return RunResult(repo, files, findings, stderr, missing, proc.returncode)


# --------------------------------------------------------------------------- judgements


def load_repos(path: Path) -> list[Repo]:
    data = tomllib.loads(path.read_text())
    return [
        Repo(r["repo"], r["commit"], int(r.get("files_linted", 0)), r.get("notes", ""))
        for r in data["repo"]
    ]


def load_judgements(path: Path) -> list[dict[str, object]]:
    if not path.is_file():
        return []
    entries: list[dict[str, object]] = tomllib.loads(path.read_text()).get("finding", [])
    for entry in entries:
        verdict = entry.get("verdict")
        if verdict not in VERDICTS:
            sys.exit(f"census: bad verdict {verdict!r} in {entry}")
        if verdict == "false-alarm" and entry.get("cause") not in CAUSES:
            sys.exit(f"census: false alarm without a known cause: {entry}")
    return entries


def judgement_key(entry: dict[str, object]) -> Key:
    return (
        str(entry["repo"]),
        str(entry["path"]),
        str(entry["code"]),
        int(str(entry["line"])),
        int(str(entry.get("cell", 0))),
    )


def match(
    findings: list[Finding], judgements: list[dict[str, object]]
) -> tuple[list[tuple[Finding, dict[str, object] | None]], list[dict[str, object]]]:
    pool: dict[Key, list[dict[str, object]]] = defaultdict(list)
    for entry in judgements:
        pool[judgement_key(entry)].append(entry)
    pairs: list[tuple[Finding, dict[str, object] | None]] = []
    for finding in findings:
        queue = pool.get(finding.key)
        pairs.append((finding, queue.pop(0) if queue else None))
    gone = [entry for queue in pool.values() for entry in queue]
    return pairs, gone


# --------------------------------------------------------------------------- report


def context_lines(root: Path, finding: Finding, around: int) -> list[str]:
    path = root / finding.path
    try:
        if finding.cell:
            cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
            source = cells[finding.cell - 1].get("source", [])
            text = "".join(source) if isinstance(source, list) else str(source)
        else:
            text = path.read_text(encoding="utf-8", errors="replace")
    except (OSError, ValueError, KeyError, IndexError):
        return ["    (source not readable)"]
    lines = text.splitlines()
    lo, hi = max(finding.line - around, 1), min(finding.line + around, len(lines))
    return [
        f"    {'>' if n == finding.line else ' '}{n:5d} {lines[n - 1]}" for n in range(lo, hi + 1)
    ]


def toml_str(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def write_template(path: Path, unjudged: list[Finding]) -> None:
    chunks = []
    for f in unjudged:
        cell = f"cell = {f.cell}\n" if f.cell else ""
        chunks.append(
            "[[finding]]\n"
            f"repo = {toml_str(f.repo)}\npath = {toml_str(f.path)}\nline = {f.line}\n{cell}"
            f'code = {toml_str(f.code)}\nverdict = ""\ncause = ""\nwhy = ""\n'
            f"# {f.message[:200]}\n"
        )
    path.write_text("\n".join(chunks))


def report(
    results: list[RunResult],
    pairs: list[tuple[Finding, dict[str, object] | None]],
    gone: list[dict[str, object]],
    roots: dict[str, Path],
    around: int,
) -> list[Finding]:
    total_files = sum(r.files for r in results)
    print(f"repositories: {len(results)}   files linted: {total_files}")
    for r in results:
        extra = f"  missing blobs: {len(r.missing)}" if r.missing else ""
        print(
            f"  {r.repo.name:50s} {r.repo.commit[:12]}  files {r.files:5d}  "
            f"findings {len(r.findings):4d}{extra}"
        )
        for line in r.stderr:
            print(f"      stderr: {line}")
    rows: dict[str, Counter[str]] = defaultdict(Counter)
    causes: dict[str, Counter[str]] = defaultdict(Counter)
    for finding, entry in pairs:
        verdict = str(entry["verdict"]) if entry else "unjudged"
        rows[finding.code][verdict] += 1
        rows[finding.code]["findings"] += 1
        if entry and verdict == "false-alarm":
            causes[str(entry["cause"])][finding.code] += 1
    print()
    header = (
        f"{'rule':8s}{'findings':>9s}{'correct':>9s}{'false':>7s}{'debat.':>8s}"
        f"{'unjudged':>10s}{'% correct':>11s}"
    )
    print(header)
    print("-" * len(header))
    total: Counter[str] = Counter()
    for code in sorted(rows):
        row = rows[code]
        total.update(row)
        print(_row(code, row))
    print("-" * len(header))
    print(_row("all", total))
    if causes:
        print("\nfalse alarms by cause:")
        for cause, per_rule in sorted(causes.items(), key=lambda kv: -sum(kv[1].values())):
            detail = ", ".join(f"{c} {n}" for c, n in sorted(per_rule.items()))
            print(f"  {cause:22s}{sum(per_rule.values()):4d}   ({detail})")
    unjudged = [f for f, entry in pairs if entry is None]
    print(f"\nunjudged findings (new): {len(unjudged)}")
    for f in unjudged:
        where = f"{f.path}:cell {f.cell}:{f.line}" if f.cell else f"{f.path}:{f.line}"
        print(f"  {f.code} {f.repo} {where}: {f.message}")
        if around:
            print("\n".join(context_lines(roots[f.repo], f, around)))
    print(f"\njudged findings that disappeared: {len(gone)}")
    for entry in gone:
        cell = f":cell {entry['cell']}" if entry.get("cell") else ""
        print(
            f"  {entry['code']} {entry['repo']} {entry['path']}{cell}:{entry['line']} "
            f"[{entry['verdict']}] {entry.get('why', '')}"
        )
    return unjudged


def _row(code: str, row: Counter[str]) -> str:
    judged = row["correct"] + row["false-alarm"] + row["debatable"]
    share = f"{100 * row['correct'] / judged:.1f}" if judged else "-"
    return (
        f"{code:8s}{row['findings']:9d}{row['correct']:9d}{row['false-alarm']:7d}"
        f"{row['debatable']:8d}{row['unjudged']:10d}{share:>11s}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bnlint", required=True, help="the bnlint executable to measure")
    parser.add_argument("--repos", type=Path, default=HERE / "repos.toml")
    parser.add_argument("--judgements", type=Path, default=HERE / "judgements.toml")
    parser.add_argument(
        "--mirror",
        type=Path,
        default=Path("/work/.mirror"),
        help="directory of bare git mirrors, owner+name/repo",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path("/tmp/census"),
        help="where the repositories are materialised",
    )
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="re-materialise even when the workdir copy is at the commit",
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="OWNER/NAME",
        help="restrict to these repositories (repeatable)",
    )
    parser.add_argument(
        "--context",
        type=int,
        default=0,
        metavar="N",
        help="print N lines either side of every unjudged finding",
    )
    parser.add_argument(
        "--template", type=Path, help="write a judgements skeleton for the unjudged findings here"
    )
    parser.add_argument(
        "--findings-json",
        type=Path,
        help="write all findings of this run (with messages) as JSON here",
    )
    parser.add_argument(
        "--update-files",
        action="store_true",
        help="rewrite files_linted in --repos with this run's counts",
    )
    args = parser.parse_args(argv)

    bnlint = shutil.which(args.bnlint) or args.bnlint
    repos = load_repos(args.repos)
    if args.only:
        repos = [r for r in repos if r.name in args.only]
    judgements = load_judgements(args.judgements)
    names = {r.name for r in repos}
    judgements = [j for j in judgements if j["repo"] in names]
    version = subprocess.run(
        [bnlint, "--version"], check=False, capture_output=True, text=True
    ).stdout
    print(f"bnlint: {bnlint} ({version.strip()})")

    results: list[RunResult] = []
    roots: dict[str, Path] = {}
    for repo in repos:
        root, missing = materialise(repo, args.mirror, args.workdir, args.fresh)
        roots[repo.name] = root
        result = run_bnlint(bnlint, repo, root, missing)
        if repo.files_linted and result.files != repo.files_linted:
            result.stderr.append(
                f"(census) files linted {result.files}, recorded {repo.files_linted}"
            )
        results.append(result)
    findings = [f for r in results for f in r.findings]
    pairs, gone = match(findings, judgements)
    unjudged = report(results, pairs, gone, roots, args.context)
    if args.template:
        write_template(args.template, unjudged)
    if args.findings_json:
        args.findings_json.write_text(
            json.dumps([f.__dict__ for f in findings], indent=1, ensure_ascii=False) + "\n"
        )
    if args.update_files:
        update_files_linted(args.repos, {r.repo.name: r.files for r in results})
    return 0


def update_files_linted(path: Path, counts: dict[str, int]) -> None:
    out: list[str] = []
    current = ""
    for line in path.read_text().splitlines():
        if line.startswith("repo = "):
            current = json.loads(line.removeprefix("repo = "))
        if line.startswith("files_linted = ") and current in counts:
            line = f"files_linted = {counts[current]}"
        out.append(line)
    path.write_text("\n".join(out) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
