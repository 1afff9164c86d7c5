"""The result cache: a warm run answers unchanged files without analysing them, and
anything that can change a file's findings (its bytes, its rules, the settings, the
project flavour, bnlint itself) makes it miss. A broken cache only costs the cache."""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

import bnlint.cache
import bnlint.runner
from bnlint.cache import ResultCache, entry_check, fingerprint
from bnlint.cli import main
from bnlint.engine import FileResult
from bnlint.flavour import Flavour
from bnlint.registry import all_rules
from bnlint.selection import default_codes
from bnlint.settings import Settings, Thresholds

# BN402 (momentum 0.1, PyTorch-style) and BN104 (training= in the constructor).
FLAGGED = (
    "import keras\n"
    "bn = keras.layers.BatchNormalization(momentum=0.1)\n"
    "bn2 = keras.layers.BatchNormalization(training=False)\n"
)
CLEAN = "import keras\nbn = keras.layers.BatchNormalization()\n"
PLAIN = "def add(a, b):\n    return a + b\n"  # no needle: skipped by the prefilter
SYNTAX_ERROR = "import keras\nbn = keras.layers.BatchNormalization(\n"
# BN305 (removed in Keras 3) depends on the target flavour.
TF1 = (
    "import tensorflow as tf\n"
    "x = tf.compat.v1.placeholder(tf.float32, [None, 4])\n"
    "y = tf.compat.v1.layers.batch_normalization(x, training=True)\n"
)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def notebook(*cells: tuple[str, str]) -> str:
    return json.dumps({
        "cells": [{"cell_type": kind, "metadata": {}, "source": text,
                   **({"outputs": [], "execution_count": None} if kind == "code" else {})}
                  for kind, text in cells],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5,
    })


class Counter:
    """Counts the files the engine analyses (replaces the runner's lint_source). The
    paths go to a file, so that analyses in the CLI's worker processes count too."""

    def __init__(self, log: Path) -> None:
        self.log = log
        log.write_text("", encoding="utf-8")

    @property
    def paths(self) -> PathLog:
        return PathLog(self.log)

    def __call__(self, source, settings, rules, project_flavour=None, project=None):  # type: ignore[no-untyped-def]
        self.paths.append(source.path)
        return _real_lint_source(source, settings, rules, project_flavour, project)


class PathLog(list[str]):
    """The paths logged so far; ``append`` and ``clear`` change the log file."""

    def __init__(self, log: Path) -> None:
        super().__init__(log.read_text(encoding="utf-8").splitlines())
        self.log = log

    def append(self, path: str) -> None:
        with self.log.open("a", encoding="utf-8") as handle:
            handle.write(path + "\n")

    def clear(self) -> None:
        self.log.write_text("", encoding="utf-8")


_real_lint_source = bnlint.runner.lint_source


@pytest.fixture
def analysed(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory,
             ) -> Iterator[Counter]:
    counter = Counter(tmp_path_factory.mktemp("analysed") / "paths.log")
    monkeypatch.setattr(bnlint.runner, "lint_source", counter)
    yield counter


def lint(
    files: Sequence[Path],
    cache_dir: Path | None,
    settings: Settings | None = None,
    selected: frozenset[str] | None = None,
    project_flavour: Flavour | None = None,
    jobs: int | None = 1,
    isolate: bool = False,  # in this process, where the counters of `analysed` count
) -> tuple[list[FileResult], ResultCache | None]:
    rules = all_rules()
    settings = settings or Settings(root=str(files[0].parent))
    cache = (ResultCache.open(str(cache_dir), settings, rules, project_flavour)
             if cache_dir is not None else None)
    results = bnlint.runner.lint_paths(
        [str(path) for path in files], settings, rules,
        default_codes(rules) if selected is None else selected,
        jobs=jobs, project_flavour=project_flavour, cache=cache, isolate=isolate,
    )
    return results, cache


def findings(results: Sequence[FileResult]) -> list[tuple[str, tuple[object, ...]]]:
    return [(result.path, result.findings) for result in results]


@pytest.fixture
def files(tmp_path: Path) -> list[Path]:
    src = tmp_path / "src"
    return [write(src / "flagged.py", FLAGGED), write(src / "clean.py", CLEAN),
            write(src / "plain.py", PLAIN), write(src / "broken.py", SYNTAX_ERROR)]


# --- hits and misses ---------------------------------------------------------------


def test_a_warm_run_analyses_nothing_and_returns_equal_results(
    files: list[Path], tmp_path: Path, analysed: Counter
) -> None:
    cold, _ = lint(files, tmp_path / "cache")
    assert len(analysed.paths) == len(files)
    analysed.paths.clear()
    warm, _ = lint(files, tmp_path / "cache")
    assert analysed.paths == []
    assert findings(warm) == findings(cold)
    # A hit carries its Source (not parsed) when it has findings to locate, else none.
    assert [r.source for r in warm] == [r.source if r.findings else None for r in cold]
    codes = {finding.code for result in warm for finding in result.findings}
    assert codes == {"BN402", "BN104", "BN000"}  # syntax errors are findings: cached too


def test_a_warm_run_does_not_even_call_the_engine(
    files: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cold, _ = lint(files, tmp_path / "cache")

    def refuse(*args: object, **kwargs: object) -> FileResult:
        raise AssertionError("a cached file was analysed")

    monkeypatch.setattr(bnlint.runner, "lint_source", refuse)
    warm, _ = lint(files, tmp_path / "cache")
    assert findings(warm) == findings(cold)
    assert all(not result.errors for result in warm)


def test_an_edited_file_misses_and_the_others_still_hit(
    files: list[Path], tmp_path: Path, analysed: Counter
) -> None:
    lint(files, tmp_path / "cache")
    analysed.paths.clear()
    write(files[1], FLAGGED)  # clean.py now has the two findings too
    results, _ = lint(files, tmp_path / "cache")
    assert analysed.paths == [str(files[1])]
    assert [f.code for f in results[1].findings] == ["BN402", "BN104"]


def test_the_same_file_named_differently_shares_its_entry(
    files: list[Path], tmp_path: Path, analysed: Counter, monkeypatch: pytest.MonkeyPatch
) -> None:
    lint(files, tmp_path / "cache")
    analysed.paths.clear()
    monkeypatch.chdir(tmp_path)
    relative = [Path("src") / path.name for path in files]
    results, _ = lint(relative, tmp_path / "cache", Settings(root=str(tmp_path / "src")))
    assert analysed.paths == []
    assert [result.path for result in results] == [str(path) for path in relative]


CHANGES = {
    "target": {"target_keras": "tf-keras"},
    "keras-version": {"keras_version": (3, 8)},
    "thresholds": {"thresholds": Thresholds(pytorch_momentum_max=0.05)},
    "root": {"root": "/elsewhere"},
}


@pytest.mark.parametrize("change", ["selection", *CHANGES])
def test_changed_selection_or_settings_miss(
    change: str, files: list[Path], tmp_path: Path, analysed: Counter
) -> None:
    settings = Settings(root=str(files[0].parent))
    lint(files, tmp_path / "cache", settings)
    analysed.paths.clear()
    if change == "selection":
        lint(files, tmp_path / "cache", settings, default_codes(all_rules()) - {"BN402"})
    else:
        lint(files, tmp_path / "cache", dataclasses.replace(settings, **CHANGES[change]))
    assert len(analysed.paths) == len(files)


def test_settings_that_only_choose_files_keep_the_cache(
    files: list[Path], tmp_path: Path, analysed: Counter
) -> None:
    settings = Settings(root=str(files[0].parent))
    lint(files, tmp_path / "cache", settings)
    analysed.paths.clear()
    lint(files, tmp_path / "cache", dataclasses.replace(
        settings, extend_exclude=("generated/",), force_exclude=True, respect_gitignore=False))
    assert analysed.paths == []


def test_changed_thresholds_give_the_new_findings_not_the_cached_ones(
    files: list[Path], tmp_path: Path
) -> None:
    settings = Settings(root=str(files[0].parent))
    before, _ = lint(files, tmp_path / "cache", settings)
    lenient = dataclasses.replace(settings, thresholds=Thresholds(pytorch_momentum_max=0.05))
    after, _ = lint(files, tmp_path / "cache", lenient)
    assert "BN402" in [f.code for f in before[0].findings]
    assert "BN402" not in [f.code for f in after[0].findings]


def test_changed_target_gives_the_new_findings(tmp_path: Path) -> None:
    script = write(tmp_path / "legacy.py", TF1)
    keras3 = Settings(root=str(tmp_path), target_keras="keras3")
    tf_keras = dataclasses.replace(keras3, target_keras="tf-keras")
    first, _ = lint([script], tmp_path / "cache", keras3)
    second, _ = lint([script], tmp_path / "cache", tf_keras)
    assert "BN305" in [f.code for f in first[0].findings]
    assert "BN305" not in [f.code for f in second[0].findings]


def test_a_changed_project_flavour_misses(
    files: list[Path], tmp_path: Path, analysed: Counter
) -> None:
    lint(files, tmp_path / "cache", project_flavour=Flavour("keras3", (3, 8), "pin"))
    analysed.paths.clear()
    lint(files, tmp_path / "cache", project_flavour=Flavour("keras3", (3, 16), "pin"))
    assert len(analysed.paths) == len(files)


def test_a_new_bnlint_version_starts_a_new_cache(
    files: list[Path], tmp_path: Path, analysed: Counter, monkeypatch: pytest.MonkeyPatch
) -> None:
    lint(files, tmp_path / "cache")
    analysed.paths.clear()
    monkeypatch.setattr(bnlint.cache, "__version__", "99.0.0")
    lint(files, tmp_path / "cache")
    assert len(analysed.paths) == len(files)
    versions = sorted(p.name for p in (tmp_path / "cache").iterdir() if p.is_dir())
    assert versions == [bnlint.__version__, "99.0.0"]


def test_an_edited_rule_module_changes_the_fingerprint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = write(tmp_path / "plugin" / "my_rules.py", "from bnlint.rule import Rule\n"
                   "class Mine(Rule):\n    code = 'BN999'\n    name = 'mine'\n")
    monkeypatch.syspath_prepend(str(module.parent))
    import my_rules  # type: ignore[import-not-found]

    settings = Settings(root=str(tmp_path))
    before = fingerprint(settings, [my_rules.Mine], None)
    assert fingerprint(settings, [my_rules.Mine], None) == before
    stat = module.stat()
    os.utime(module, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert fingerprint(settings, [my_rules.Mine], None) != before


def test_a_file_deleted_since_is_pruned_when_the_cache_is_rewritten(
    files: list[Path], tmp_path: Path
) -> None:
    lint(files, tmp_path / "cache")
    files[2].unlink()
    write(files[0], CLEAN)  # something to write
    _, cache = lint([files[0]], tmp_path / "cache")
    assert cache is not None
    entries = json.loads(Path(cache.file).read_text(encoding="utf-8"))["entries"]
    assert sorted(entries) == sorted(str(path) for path in files if path.exists())


def test_a_run_that_changes_nothing_does_not_rewrite_the_cache(
    files: list[Path], tmp_path: Path
) -> None:
    _, cache = lint(files, tmp_path / "cache")
    assert cache is not None
    written = Path(cache.file).stat().st_mtime_ns
    os.utime(cache.file, ns=(written - 10**9, written - 10**9))
    lint(files, tmp_path / "cache")
    assert Path(cache.file).stat().st_mtime_ns == written - 10**9


def test_the_cache_directory_is_gitignored_and_tagged(files: list[Path], tmp_path: Path) -> None:
    _, cache = lint(files, tmp_path / "cache")
    assert cache is not None
    assert (tmp_path / "cache" / ".gitignore").read_text(encoding="utf-8").endswith("*\n")
    tag = (tmp_path / "cache" / "CACHEDIR.TAG").read_text(encoding="utf-8")
    assert tag.startswith("Signature: 8a477f597d28d172789f06886806bc55")
    assert Path(cache.file).parent == tmp_path / "cache" / bnlint.__version__
    assert not [p for p in Path(cache.file).parent.iterdir() if p.name.startswith(".tmp")]


# --- what is not cached ----------------------------------------------------------


def test_results_with_errors_are_not_cached(
    tmp_path: Path, analysed: Counter, monkeypatch: pytest.MonkeyPatch
) -> None:
    undecodable = tmp_path / "latin.py"
    undecodable.write_bytes(b"import keras\nname = '\xe9'\nbn = keras.layers.BatchNormalization()\n")
    crashing = write(tmp_path / "crash.py", CLEAN)
    real = bnlint.runner.lint_source

    def crash_on(source, settings, rules, project_flavour=None, project=None):  # type: ignore[no-untyped-def]
        analysed.paths.append(source.path)
        if source.path.endswith("crash.py"):
            raise RuntimeError("boom")
        return real(source, settings, rules, project_flavour, project)

    monkeypatch.setattr(bnlint.runner, "lint_source", crash_on)
    first, cache = lint([undecodable, crashing], tmp_path / "cache")
    assert all(result.errors for result in first)
    assert cache is not None and not Path(cache.file).exists()
    second, _ = lint([undecodable, crashing], tmp_path / "cache")
    assert [r.errors for r in second] == [r.errors for r in first]
    assert analysed.paths.count(str(crashing)) == 2


# --- a broken cache only costs the cache -----------------------------------------


@pytest.mark.parametrize("garbage", [
    b"", b"\x00\xff not json", b"[]", b'{"schema": 1, "entries": []}',
    b'{"schema": 1, "entries": {"x": 1}}',
])
def test_a_corrupt_cache_file_is_ignored(
    garbage: bytes, files: list[Path], tmp_path: Path, analysed: Counter
) -> None:
    cold, cache = lint(files, tmp_path / "cache")
    assert cache is not None
    Path(cache.file).write_bytes(garbage)
    analysed.paths.clear()
    again, _ = lint(files, tmp_path / "cache")
    assert findings(again) == findings(cold)
    assert len(analysed.paths) == len(files)
    json.loads(Path(cache.file).read_text(encoding="utf-8"))  # rewritten whole


def test_a_corrupt_entry_is_a_miss_not_a_crash(
    files: list[Path], tmp_path: Path, analysed: Counter
) -> None:
    cold, cache = lint(files, tmp_path / "cache")
    assert cache is not None
    document = json.loads(Path(cache.file).read_text(encoding="utf-8"))
    entry = document["entries"][str(files[0])]
    entry["findings"] = [["BN402", "x", "fatal", "m", [1, 1, 1, 1], []], "junk"]
    Path(cache.file).write_text(json.dumps(document), encoding="utf-8")
    analysed.paths.clear()
    again, _ = lint(files, tmp_path / "cache")
    assert analysed.paths == [str(files[0])]
    assert findings(again) == findings(cold)


def test_an_unwritable_cache_dir_loses_only_the_cache(files: list[Path], tmp_path: Path) -> None:
    blocker = write(tmp_path / "not-a-dir", "")
    cold, _ = lint(files, None)
    results, cache = lint(files, blocker / "cache")
    assert findings(results) == findings(cold)
    assert cache is not None and cache.problem is not None
    assert str(blocker / "cache") in cache.problem


# --- an entry is checked before it is served -------------------------------------


def _document(cache: ResultCache) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(Path(cache.file).read_text(encoding="utf-8"))
    return document


def _rewrite(cache: ResultCache, document: dict[str, Any]) -> None:
    Path(cache.file).write_text(json.dumps(document), encoding="utf-8")


def test_an_entry_with_edited_findings_is_a_miss(
    files: list[Path], tmp_path: Path, analysed: Counter
) -> None:
    cold, cache = lint(files, tmp_path / "cache")
    assert cache is not None
    document = _document(cache)
    entry = document["entries"][str(files[0])]
    assert [item[0] for item in entry["findings"]] == ["BN402", "BN104"]
    entry["findings"] = entry["findings"][:1]  # well-formed: one finding fewer
    entry["findings"][0][3] = "an edited message"
    _rewrite(cache, document)
    analysed.paths.clear()
    again, _ = lint(files, tmp_path / "cache")
    assert analysed.paths == [str(files[0])]
    assert findings(again) == findings(cold)


def test_an_entry_copied_to_another_files_key_is_a_miss(
    files: list[Path], tmp_path: Path, analysed: Counter
) -> None:
    flagged, clean = str(files[0]), str(files[1])
    cold, cache = lint(files, tmp_path / "cache")
    assert cache is not None
    document = _document(cache)
    copied = dict(document["entries"][flagged])
    copied["hash"] = document["entries"][clean]["hash"]  # as if it were clean.py's bytes
    document["entries"][clean] = copied
    _rewrite(cache, document)
    analysed.paths.clear()
    again, _ = lint(files, tmp_path / "cache")
    assert analysed.paths == [clean]
    assert again[1].findings == () and findings(again) == findings(cold)


def test_an_entry_copied_into_another_settings_cache_file_is_a_miss(
    files: list[Path], tmp_path: Path, analysed: Counter
) -> None:
    settings = Settings(root=str(files[0].parent))
    other = dataclasses.replace(settings, thresholds=Thresholds(pytorch_momentum_max=0.2))
    _, first = lint(files, tmp_path / "cache", settings)
    cold, second = lint(files, tmp_path / "cache", other)
    assert first is not None and second is not None and first.file != second.file
    document = _document(second)
    # the first settings' entry: same bytes, codes and pinned flavour, other fingerprint
    document["entries"][str(files[0])] = _document(first)["entries"][str(files[0])]
    _rewrite(second, document)
    analysed.paths.clear()
    again, _ = lint(files, tmp_path / "cache", other)
    assert analysed.paths == [str(files[0])]
    assert findings(again) == findings(cold)


def test_an_edited_entry_with_a_recomputed_check_is_served(
    files: list[Path], tmp_path: Path, analysed: Counter
) -> None:
    """The check is what tells an edited entry apart: recomputed, the edit is served."""
    _, cache = lint(files, tmp_path / "cache")
    assert cache is not None
    document = _document(cache)
    key = str(files[0])
    entry = document["entries"][key]
    entry["findings"] = entry["findings"][:1]
    entry["check"] = entry_check(Path(cache.file).stem, key, entry)
    _rewrite(cache, document)
    analysed.paths.clear()
    again, _ = lint(files, tmp_path / "cache")
    assert analysed.paths == []
    assert [f.code for f in again[0].findings] == ["BN402"]


def test_an_entry_without_a_check_is_a_miss(
    files: list[Path], tmp_path: Path, analysed: Counter
) -> None:
    cold, cache = lint(files, tmp_path / "cache")
    assert cache is not None
    document = _document(cache)
    for entry in document["entries"].values():
        del entry["check"]
    _rewrite(cache, document)
    analysed.paths.clear()
    again, _ = lint(files, tmp_path / "cache")
    assert len(analysed.paths) == len(files)
    assert findings(again) == findings(cold)


# --- damage and concurrency: always the same results as without a cache ----------


def test_a_truncated_or_flipped_cache_file_gives_the_results_of_no_cache(
    files: list[Path], tmp_path: Path
) -> None:
    expected, _ = lint(files, None)
    _, cache = lint(files, tmp_path / "cache")
    assert cache is not None
    whole = Path(cache.file).read_bytes()
    for step in range(1, 16):
        cut = len(whole) * step // 16
        for damaged in (whole[:cut], whole[:cut] + bytes([whole[cut] ^ 0x5A]) + whole[cut + 1:]):
            Path(cache.file).write_bytes(damaged)
            results, _ = lint(files, tmp_path / "cache")
            assert findings(results) == findings(expected), (step, damaged[cut - 20:cut + 20])


def test_a_read_only_cache_serves_its_entries_and_warns(
    files: list[Path], tmp_path: Path, analysed: Counter, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, warm = lint(files, tmp_path / "cache")
    assert warm is not None
    write(files[1], FLAGGED)  # one changed file: the run has something to write
    expected, _ = lint(files, None)
    before = Path(warm.file).read_bytes()
    folders = [tmp_path / "cache", Path(warm.file).parent]
    for folder in folders:
        folder.chmod(0o555)

    def read_only(*args: object, **kwargs: object) -> tuple[int, str]:
        # what a read-only mount answers; mode bits alone do not stop root
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    analysed.paths.clear()
    try:
        results, cache = lint(files, tmp_path / "cache")
    finally:
        for folder in folders:
            folder.chmod(0o755)
    assert findings(results) == findings(expected)
    assert analysed.paths == [str(files[1])]  # the others were served
    assert cache is not None and cache.problem is not None
    assert "cannot write the cache" in cache.problem
    assert Path(warm.file).read_bytes() == before


def test_two_caches_open_at_once_each_save_a_readable_file(
    files: list[Path], tmp_path: Path, analysed: Counter
) -> None:
    """Two runs that load the same cache before either saves: whichever writes last
    wins, and what it wrote still answers correctly."""
    expected, _ = lint(files, None)
    rules = all_rules()
    settings = Settings(root=str(files[0].parent))
    first = ResultCache.open(str(tmp_path / "cache"), settings, rules, None)
    second = ResultCache.open(str(tmp_path / "cache"), settings, rules, None)
    for cache, part in ((first, files[:2]), (second, files[2:])):
        bnlint.runner.lint_paths([str(path) for path in part], settings, rules,
                                 default_codes(rules), jobs=1, cache=cache)
    assert first.problem is None and second.problem is None
    analysed.paths.clear()
    results, _ = lint(files, tmp_path / "cache", settings)
    assert findings(results) == findings(expected)
    assert analysed.paths == [str(path) for path in files[:2]]  # the first run's were lost


def _cli(project: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bnlint", "src", "--output-format", "concise", "--jobs", "1",
         *args], cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={key: value for key, value in os.environ.items() if key != "BNLINT_CACHE_DIR"},
    )


def test_two_runs_at_once_on_one_cache_print_what_no_cache_prints(tmp_path: Path) -> None:
    project = tmp_path / "project"
    for index in range(12):
        write(project / "src" / f"m{index:02d}.py", FLAGGED if index % 3 else CLEAN)
    expected = _cli(project, "--no-cache").communicate(timeout=120)
    cache_dir = str(tmp_path / "shared-cache")
    for _ in range(2):  # a cold race, then a race on the cache it left
        runs = [_cli(project, "--cache-dir", cache_dir) for _ in range(2)]
        for run in runs:
            assert run.communicate(timeout=120) == expected
            assert run.returncode == 1
    [cache_file] = (tmp_path / "shared-cache" / bnlint.__version__).glob("*.json")
    assert len(json.loads(cache_file.read_text(encoding="utf-8"))["entries"]) == 12
    assert _cli(project, "--cache-dir", cache_dir).communicate(timeout=120) == expected


# --- notebooks -------------------------------------------------------------------


def test_notebook_cell_locations_survive_a_hit(tmp_path: Path, analysed: Counter) -> None:
    path = write(tmp_path / "nb.ipynb", notebook(
        ("markdown", "# Fine-tuning"),
        ("code", "import keras\n%matplotlib inline"),
        ("markdown", "More"),
        ("code", "x = 1\nbn = keras.layers.BatchNormalization(momentum=0.1)"),
    ))
    cold, _ = lint([path], tmp_path / "cache")
    analysed.paths.clear()
    warm, _ = lint([path], tmp_path / "cache")
    assert analysed.paths == []
    [finding] = warm[0].findings
    assert warm[0].source is not None and cold[0].source is not None
    assert warm[0].source.locate(finding.span.start.row) == (4, 2)
    assert warm[0].source == cold[0].source


# --- the command line ------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "project"
    write(root / "pyproject.toml", "[tool.bnlint]\nextend-select = ['BN210']\n")
    write(root / "src" / "flagged.py", FLAGGED)
    write(root / "src" / "broken.py", SYNTAX_ERROR)
    write(root / "src" / "plain.py", PLAIN)
    write(root / "nb" / "train.ipynb", notebook(
        ("markdown", "# Title"),
        ("code", "import keras\nbn = keras.layers.BatchNormalization(momentum=0.1)"),
    ))
    monkeypatch.chdir(root)
    monkeypatch.delenv("BNLINT_CACHE_DIR", raising=False)
    return root


@pytest.mark.parametrize("output_format", ["text", "json"])
def test_cli_output_is_identical_cold_and_warm(
    output_format: str, project: Path, analysed: Counter, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [".", "--format", output_format, "--jobs", "1"]
    cold_status = main(args)
    cold = capsys.readouterr()
    assert analysed.paths
    analysed.paths.clear()
    warm_status = main(args)
    warm = capsys.readouterr()
    assert analysed.paths == []
    assert (warm_status, warm.out, warm.err) == (cold_status, cold.out, cold.err)
    assert cold_status == 1 and "cell 2" in cold.out.replace('"cell": 2', "cell 2")


def test_cli_caches_in_the_project_root_by_default(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    os.chdir(project / "src")
    main(["."])
    assert (project / ".bnlint_cache" / "CACHEDIR.TAG").is_file()
    assert not (project / "src" / ".bnlint_cache").exists()
    main(["--show-settings"])
    assert f"cache_dir = {str(project / '.bnlint_cache')!r}" in capsys.readouterr().out


def test_cache_dir_precedence_flag_then_env_then_config(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write(project / "pyproject.toml", "[tool.bnlint]\ncache-dir = 'from-config'\n")

    def shown(*args: str) -> str:
        main(["--show-settings", *args])
        line = [x for x in capsys.readouterr().out.splitlines() if x.startswith("cache_dir")]
        return line[0]

    assert shown() == f"cache_dir = {str(project / 'from-config')!r}"
    monkeypatch.setenv("BNLINT_CACHE_DIR", "from-env")
    assert shown() == f"cache_dir = {str(project / 'from-env')!r}"
    assert shown("--cache-dir", "from-flag") == f"cache_dir = {str(project / 'from-flag')!r}"
    assert shown("--cache-dir", "x", "--no-cache") == "cache_dir = None"
    main(["src", "--cache-dir", "from-flag"])
    assert (project / "from-flag" / bnlint.__version__).is_dir()
    assert not (project / "from-env").exists() and not (project / "from-config").exists()


def test_no_cache_neither_reads_nor_writes(
    project: Path, analysed: Counter, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["."])
    analysed.paths.clear()
    main([".", "--no-cache"])
    assert analysed.paths  # analysed again although the cache is warm
    (project / "src" / "new.py").write_text(FLAGGED, encoding="utf-8")
    before = sorted(p.name for p in (project / ".bnlint_cache").rglob("*"))
    main([".", "--no-cache"])
    assert sorted(p.name for p in (project / ".bnlint_cache").rglob("*")) == before
    capsys.readouterr()


def test_stdin_never_uses_the_cache(project: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bnlint", "-", "--stdin-filename", "src/flagged.py"],
        cwd=project, input=FLAGGED, capture_output=True, text=True, timeout=120, check=False,
        env={key: value for key, value in os.environ.items() if key != "BNLINT_CACHE_DIR"},
    )
    assert done.returncode == 1 and "BN402" in done.stdout
    assert not (project / ".bnlint_cache").exists()


def test_cli_unwritable_cache_warns_once_and_keeps_the_exit_code(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(project / "blocker", "")
    status = main(["src", "--cache-dir", "blocker/cache"])
    out, err = capsys.readouterr()
    assert status == 1 and "BN402" in out
    assert err.count("\n") == 1 and err.startswith("bnlint: warning: cannot write the cache")


def test_parallel_run_fills_the_cache_and_a_warm_run_starts_no_worker(
    tmp_path: Path, analysed: Counter, monkeypatch: pytest.MonkeyPatch
) -> None:
    sources = [write(tmp_path / "src" / f"m{index:02d}.py", FLAGGED if index % 3 else CLEAN)
               for index in range(24)]
    cold, cache = lint(sources, tmp_path / "cache", jobs=2, isolate=True)  # > 20 files
    assert cache is not None
    assert len(json.loads(Path(cache.file).read_text(encoding="utf-8"))["entries"]) == 24
    assert len(analysed.paths) == 24  # in the workers
    analysed.paths.clear()

    def no_workers(*args: object) -> None:
        raise AssertionError("workers were started on a warm run")

    monkeypatch.setattr(bnlint.runner, "_lint_isolated", no_workers)
    warm, _ = lint(sources, tmp_path / "cache", jobs=2, isolate=True)
    assert analysed.paths == []
    assert findings(warm) == findings(cold)
    serial, _ = lint(sources, None, jobs=1)
    assert findings(serial) == findings(cold)


def test_importing_the_cache_is_cheap() -> None:
    code = ("import sys, bnlint.cache\n"
            "print(sorted({'libcst', 'json', 'hashlib', 'tempfile'} & set(sys.modules)))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    assert done.stdout.strip() == "[]"
