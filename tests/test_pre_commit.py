"""The hook manifest works with the real pre-commit, as the README wires it.

pre-commit builds the hook's environment from this checkout (a virtualenv with bnlint
and its dependencies installed by pip), so these tests need git and the package index,
not the network beyond it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bnlint import __version__

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")

BROKEN = """\
import keras

model = keras.Sequential([keras.layers.Dense(1)])
model.training = False
"""

CLEAN = """\
import keras

model = keras.Sequential([keras.layers.Dense(1)])
model.trainable = False
"""

NOTEBOOK_CELL = [
    "import keras\n",
    "\n",
    "layer = keras.layers.BatchNormalization()\n",
    "layer.training = False\n",
]


def _notebook() -> str:
    cells = [
        {"cell_type": "markdown", "metadata": {}, "source": ["# Fine-tuning\n"]},
        {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
         "source": NOTEBOOK_CELL},
    ]
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5},
                      indent=1) + "\n"


def _git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A git repository with a script that has a finding, a clean one, a notebook with a
    finding, and an excluded script with a finding (the hook must honour the exclude)."""
    repo = tmp_path / "project"
    (repo / "vendored").mkdir(parents=True)
    (repo / "broken.py").write_text(BROKEN, encoding="utf-8")
    (repo / "clean.py").write_text(CLEAN, encoding="utf-8")
    (repo / "finetune.ipynb").write_text(_notebook(), encoding="utf-8")
    (repo / "vendored" / "third_party.py").write_text(BROKEN, encoding="utf-8")
    (repo / "pyproject.toml").write_text(
        '[tool.bnlint]\nextend-exclude = ["vendored/"]\n', encoding="utf-8")
    _git("init", "-q", cwd=repo)
    _git("add", "-A", cwd=repo)
    return repo


def _environment(tmp_path: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("BNLINT_", "PRE_COMMIT", "GIT_"))}
    env["PRE_COMMIT_HOME"] = str(tmp_path / "pre-commit-home")
    env["NO_COLOR"] = "1"
    return env


def _assert_hook_reported(result: subprocess.CompletedProcess[str]) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert re.search(r"^bnlint\.+Failed$", result.stdout, re.MULTILINE), output
    assert "- exit code: 1" in result.stdout, output
    assert "broken.py:4:1: BN101 error:" in result.stdout, output
    assert "finetune.ipynb:cell 2:4:1: BN101 error:" in result.stdout, output
    assert "clean.py" not in result.stdout.replace("Found", ""), output
    assert "third_party.py" not in result.stdout, output
    assert "Found 2 findings (2 errors)." in result.stdout, output


def test_try_repo_runs_the_hook_from_this_checkout(project: Path, tmp_path: Path) -> None:
    command = re.search(r"^pre-commit try-repo (\S+) bnlint --all-files$", README, re.MULTILINE)
    assert command is not None, "the README shows `pre-commit try-repo PATH bnlint --all-files`"
    result = subprocess.run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(ROOT), "bnlint", "--all-files",
         "--color", "never"],
        cwd=project, env=_environment(tmp_path), capture_output=True, text=True, check=False,
    )
    _assert_hook_reported(result)


def _readme_block_after(heading: str) -> str:
    section = README.split(heading, 1)[1]
    block = re.search(r"```yaml\n(.*?)```", section, re.DOTALL)
    assert block is not None
    return block.group(1)


def test_readme_config_works_with_a_tagged_copy_of_the_repository(
    project: Path, tmp_path: Path,
) -> None:
    """The README's configuration, its placeholder URL replaced by a clone of this
    checkout tagged as releases are tagged: pre-commit installs the hook at that tag."""
    config = _readme_block_after("## pre-commit")
    placeholder = "<bnlint repository URL>"
    assert placeholder in config
    tag = re.search(r"rev: (\S+)", config)
    assert tag is not None and tag.group(1) == f"v{__version__}"
    clone = tmp_path / "bnlint"
    _git("clone", "-q", str(ROOT), str(clone), cwd=tmp_path)
    _git("-c", "user.name=release", "-c", "user.email=release@example.invalid", "tag", "-a",
         tag.group(1), "-m", f"bnlint {__version__}", cwd=clone)
    (project / ".pre-commit-config.yaml").write_text(
        config.replace(placeholder, clone.as_uri()), encoding="utf-8")
    _git("add", ".pre-commit-config.yaml", cwd=project)
    result = subprocess.run(
        [sys.executable, "-m", "pre_commit", "run", "--all-files", "--color", "never"],
        cwd=project, env=_environment(tmp_path), capture_output=True, text=True, check=False,
    )
    _assert_hook_reported(result)


def test_local_hook_config_runs_the_installed_bnlint(project: Path, tmp_path: Path) -> None:
    """The README's `repo: local` form runs the bnlint installed beside pre-commit."""
    config = _readme_block_after("bnlint installed in the environment")
    (project / ".pre-commit-config.yaml").write_text(config, encoding="utf-8")
    _git("add", ".pre-commit-config.yaml", cwd=project)
    env = _environment(tmp_path)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    assert shutil.which("bnlint", path=env["PATH"]) is not None
    result = subprocess.run(
        [sys.executable, "-m", "pre_commit", "run", "--all-files", "--color", "never"],
        cwd=project, env=env, capture_output=True, text=True, check=False,
    )
    _assert_hook_reported(result)


FIXABLE = """\
import keras

bn = keras.layers.BatchNormalization()
bn.trainable = "False"
"""


def test_the_readme_fix_hook_fixes_files_and_stops_the_commit(tmp_path: Path) -> None:
    """The README's opt-in `bnlint-fix` configuration, installed from a tagged clone of
    this checkout: the safe fix is written and pre-commit stops the commit for review."""
    section = README.split("## pre-commit", 1)[1]
    blocks = re.findall(r"```yaml\n(.*?)```", section, re.DOTALL)
    [config] = [block for block in blocks if "id: bnlint-fix" in block]
    tag = re.search(r"rev: (\S+)", config)
    assert tag is not None and tag.group(1) == f"v{__version__}"
    clone = tmp_path / "bnlint"
    _git("clone", "-q", str(ROOT), str(clone), cwd=tmp_path)
    _git("-c", "user.name=release", "-c", "user.email=release@example.invalid", "tag", "-a",
         tag.group(1), "-m", f"bnlint {__version__}", cwd=clone)
    repo = tmp_path / "fixable"
    repo.mkdir()
    (repo / "train.py").write_text(FIXABLE, encoding="utf-8")
    (repo / "clean.py").write_text(CLEAN, encoding="utf-8")
    (repo / ".pre-commit-config.yaml").write_text(
        config.replace("<bnlint repository URL>", clone.as_uri()), encoding="utf-8")
    _git("init", "-q", cwd=repo)
    _git("add", "-A", cwd=repo)
    result = subprocess.run(
        [sys.executable, "-m", "pre_commit", "run", "--all-files", "--color", "never"],
        cwd=repo, env=_environment(tmp_path), capture_output=True, text=True, check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert re.search(r"^bnlint \(fix\)\.+Failed$", result.stdout, re.MULTILINE), output
    assert "files were modified by this hook" in result.stdout, output
    assert "Found 1 finding (1 fixed, 0 remaining)." in result.stdout, output
    assert (repo / "train.py").read_text(encoding="utf-8") == FIXABLE.replace(
        '"False"', "False")
    assert (repo / "clean.py").read_text(encoding="utf-8") == CLEAN
