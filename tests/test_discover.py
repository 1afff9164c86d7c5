"""discover(): which files a run lints, in which order, and what it reports missing."""

from __future__ import annotations

import os
from pathlib import Path

import pathspec
import pytest

import bnlint.discover as discover_module
from bnlint.discover import DiscoveryError, discover
from bnlint.settings import DEFAULT_EXCLUDES, Settings


def _touch(root: Path, *relative: str) -> None:
    for name in relative:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x = 1\n", encoding="utf-8")


def _found(paths: list[str], settings: Settings) -> list[str]:
    return [name.replace(os.sep, "/") for name in discover(paths, settings).files]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_collects_python_and_notebooks_recursively_only(project: Path) -> None:
    _touch(project, "a.py", "pkg/b.py", "pkg/deep/c.ipynb", "notes.txt", "pkg/data.json")
    assert _found(["."], Settings()) == ["a.py", "pkg/b.py", "pkg/deep/c.ipynb"]


def test_default_excludes_skip_venv_build_and_pycache(project: Path) -> None:
    _touch(project, "keep.py", ".venv/lib/site.py", "build/lib/gen.py",
           "pkg/__pycache__/mod.py", "pkg/build/x.py", "pkg/ok.py")
    assert _found(["."], Settings()) == ["keep.py", "pkg/ok.py"]


def test_excluded_directories_are_not_entered(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _touch(project, "ok.py", "node_modules/pkg/x.py", ".venv/lib/y.py")
    entered: list[str] = []
    real_scandir = os.scandir

    def recording_scandir(path: str) -> os._ScandirIterator[str]:
        entered.append(os.path.basename(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", recording_scandir)
    assert _found(["."], Settings()) == ["ok.py"]
    assert "node_modules" not in entered and ".venv" not in entered
    assert entered  # the walk did go through os.scandir


def test_extend_exclude_globs_are_relative_to_root(project: Path) -> None:
    _touch(project, "src/gen/a.py", "gen/b.py", "src/tests/test_x.py", "src/model.py",
           "other/tests/test_y.py")
    settings = Settings(extend_exclude=("/gen", "src/tests/test_*.py"))
    assert _found(["."], settings) == ["other/tests/test_y.py", "src/gen/a.py", "src/model.py"]


def test_bare_name_in_exclude_matches_any_component(project: Path) -> None:
    _touch(project, "a/generated/x.py", "generated/y.py", "a/z.py")
    assert _found(["."], Settings(extend_exclude=("generated",))) == ["a/z.py"]


def test_replacing_exclude_drops_the_defaults(project: Path) -> None:
    _touch(project, "build/x.py", "only/y.py")
    assert _found(["."], Settings(exclude=("only",))) == ["build/x.py"]


def test_root_gitignore_is_honoured(project: Path) -> None:
    _touch(project, "keep.py", "scratch/tmp.py", "secret_notebook.ipynb")
    (project / ".gitignore").write_text("scratch/\n*.ipynb\n", encoding="utf-8")
    assert _found(["."], Settings()) == ["keep.py"]


def test_nested_gitignore_applies_below_its_directory_and_can_reinclude(project: Path) -> None:
    _touch(project, "a.gen.py", "pkg/b.gen.py", "pkg/keep.gen.py", "pkg/sub/c.py",
           "other/sub/d.py")
    (project / ".gitignore").write_text("*.gen.py\n", encoding="utf-8")
    (project / "pkg" / ".gitignore").write_text("!keep.gen.py\nsub/\n", encoding="utf-8")
    assert _found(["."], Settings()) == ["other/sub/d.py", "pkg/keep.gen.py"]


def test_gitignore_of_parent_applies_when_walking_a_subdirectory(project: Path) -> None:
    (project / ".git").mkdir()
    _touch(project, "pkg/a.py", "pkg/out/b.py")
    (project / ".gitignore").write_text("out/\n", encoding="utf-8")
    assert _found(["pkg"], Settings()) == ["pkg/a.py"]


def test_explicit_gitignored_directory_is_walked(project: Path) -> None:
    _touch(project, "scratch/a.py", "scratch/tmp/b.py")
    (project / ".gitignore").write_text("scratch/\ntmp/\n", encoding="utf-8")
    assert _found(["."], Settings()) == []
    assert _found(["scratch"], Settings()) == ["scratch/a.py"]


def test_git_info_exclude_is_honoured(project: Path) -> None:
    (project / ".git" / "info").mkdir(parents=True)
    (project / ".git" / "info" / "exclude").write_text("local.py\n", encoding="utf-8")
    _touch(project, "local.py", "shared.py")
    assert _found(["."], Settings()) == ["shared.py"]


def test_gitignore_ignored_when_not_respected(project: Path) -> None:
    _touch(project, "keep.py", "scratch/tmp.py")
    (project / ".gitignore").write_text("scratch/\n", encoding="utf-8")
    assert _found(["."], Settings(respect_gitignore=False)) == ["keep.py", "scratch/tmp.py"]


def test_invalid_gitignore_line_is_skipped_not_fatal(project: Path) -> None:
    _touch(project, "a.py", "b.py")
    (project / ".gitignore").write_text("!\n\\\nb.py\n", encoding="utf-8")
    assert _found(["."], Settings()) == ["a.py"]


def test_invalid_exclude_glob_raises_discovery_error(project: Path) -> None:
    with pytest.raises(DiscoveryError, match="invalid exclude pattern"):
        discover(["."], Settings(extend_exclude=("!",)))


def test_explicit_excluded_file_is_linted(project: Path) -> None:
    _touch(project, "build/gen.py")
    assert _found(["build/gen.py"], Settings()) == ["build/gen.py"]


def test_explicit_excluded_file_skipped_with_force_exclude(project: Path) -> None:
    _touch(project, "build/gen.py", "src/app.py")
    settings = Settings(force_exclude=True)
    assert _found(["build/gen.py", "src/app.py"], settings) == ["src/app.py"]


def test_explicit_file_with_other_extension_is_linted(project: Path) -> None:
    _touch(project, "script")
    assert _found(["script"], Settings()) == ["script"]


def test_explicit_excluded_directory_is_walked_unless_force_exclude(project: Path) -> None:
    _touch(project, "build/a.py", "build/__pycache__/b.py")
    assert _found(["build"], Settings()) == ["build/a.py"]
    assert _found(["build"], Settings(force_exclude=True)) == []


def test_order_is_sorted_as_a_tree_and_deduplicated(project: Path) -> None:
    _touch(project, "b.py", "a/z.py", "a.py", "a/b/c.py")
    result = _found(["b.py", ".", "a"], Settings())
    # Component-wise, as ruff orders paths: the directory "a" sorts before "a.py".
    assert result == ["a/b/c.py", "a/z.py", "a.py", "b.py"]


def test_missing_path_is_reported_and_others_still_found(project: Path) -> None:
    _touch(project, "real.py")
    result = discover(["nope.py", "real.py", "gone/"], Settings())
    assert result.files == ("real.py",)
    assert result.errors == ("nope.py: no such file or directory",
                             "gone/: no such file or directory")


def test_display_paths_keep_the_users_prefix(tmp_path: Path) -> None:
    _touch(tmp_path, "pkg/mod.py")
    settings = Settings(root=str(tmp_path))
    assert discover([str(tmp_path / "pkg")], settings).files == (
        os.path.join(str(tmp_path), "pkg", "mod.py"),)


def test_directory_outside_root_still_applies_bare_excludes(tmp_path: Path) -> None:
    _touch(tmp_path, "elsewhere/a.py", "elsewhere/build/b.py")
    (tmp_path / "root").mkdir()
    settings = Settings(root=str(tmp_path / "root"))
    files = discover([str(tmp_path / "elsewhere")], settings).files
    assert [os.path.basename(name) for name in files] == ["a.py"]


def test_symlinked_directories_are_not_followed(project: Path) -> None:
    _touch(project, "real/a.py")
    (project / "loop").symlink_to(project, target_is_directory=True)
    assert _found(["."], Settings()) == ["real/a.py"]


@pytest.mark.parametrize("patterns", [
    list(DEFAULT_EXCLUDES),
    [*DEFAULT_EXCLUDES, "data/*.ipynb", "/scripts/", "**/gen_*.py"],
    ["build/", "!build/keep.py", "*.ipynb"],  # a negation: the spec decides
])
def test_the_one_regex_matcher_agrees_with_the_pattern_list(patterns: list[str]) -> None:
    spec = pathspec.GitIgnoreSpec.from_lines(patterns)
    matches = discover_module._matcher(spec)
    paths = [".git/", ".venv/", "venv/", "src/", "src/build/", "build/", "build/keep.py",
             "node_modules/", "pkg/__pycache__/", "pkg/mod.py", "data/a.ipynb",
             "data/sub/a.ipynb", "scripts/", "a/scripts/", "gen_x.py", "a/b/gen_y.py",
             "site-packages/", "dist/", ".tox/", "x.ipynb", ".mypy_cache/", "a.py"]
    for path in paths:
        assert matches(path) == bool(spec.match_file(path)), path
