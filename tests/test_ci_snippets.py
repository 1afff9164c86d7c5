"""The README's CI snippets and the composite action work as written.

Each YAML snippet parses; the install command, its placeholder URL replaced by a clone
of this checkout tagged as releases are, installs bnlint into a fresh virtual
environment; each bnlint command then runs there on a copy of the example project and
writes what the host reads. The action's steps run as the runner runs them (bash, with
GITHUB_ACTION_PATH set to the action's checkout at the tag and its inputs substituted).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from bnlint import __version__

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
PLACEHOLDER_URL = "<bnlint repository URL>"
PLACEHOLDER_ACTION = "<owner>/bnlint"
TAG = f"v{__version__}"
GITHUB_SHELL = ["bash", "--noprofile", "--norc", "-eo", "pipefail"]  # `shell: bash`
_EXPRESSION = re.compile(r"\$\{\{\s*inputs\.([A-Za-z0-9_-]+)\s*\}\}")


def _ci_section() -> str:
    return README.split("## In CI\n", 1)[1].split("\n## ", 1)[0]


def _yaml_blocks(text: str) -> list[Any]:
    return [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", text, re.DOTALL)]


def _steps(document: Any) -> list[dict[str, Any]]:
    if isinstance(document, dict) and "steps" in document:
        return list(document["steps"])
    return [step for job in document["jobs"].values() for step in job["steps"]]


def _github_workflows() -> list[Any]:
    return [block for block in _yaml_blocks(_ci_section())
            if isinstance(block, dict) and ("jobs" in block or "steps" in block)]


def _gitlab_job() -> dict[str, Any]:
    [job] = [block["bnlint"] for block in _yaml_blocks(_ci_section())
             if isinstance(block, dict) and "bnlint" in block]
    assert isinstance(job, dict)
    return job


def _commands() -> list[str]:
    runs = [step["run"] for workflow in _github_workflows() for step in _steps(workflow)
            if "run" in step]
    return [*runs, *_gitlab_job()["script"]]


def _git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def _clean_env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("BNLINT_", "PIP_REQUIRE", "VIRTUAL_ENV", "GIT_"))}
    env.update(extra)
    return env


@dataclass(frozen=True)
class Installed:
    """A virtual environment where the README's install command installed bnlint."""

    bin: Path
    clone: Path

    def env(self, **extra: str) -> dict[str, str]:
        return _clean_env(PATH=os.pathsep.join([str(self.bin), os.environ.get("PATH", "")]),
                          **extra)


@pytest.fixture(scope="module")
def tagged_clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This checkout's HEAD, cloned and tagged as a release is."""
    clone = tmp_path_factory.mktemp("hosted") / "bnlint"
    _git("clone", "-q", str(ROOT), str(clone), cwd=clone.parent)
    _git("-c", "user.name=release", "-c", "user.email=release@example.invalid", "tag", "-a",
         TAG, "-m", f"bnlint {__version__}", cwd=clone)
    return clone


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory, tagged_clone: Path) -> Installed:
    [install] = sorted({command for command in _commands() if "pip install" in command})
    venv = tmp_path_factory.mktemp("ci") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    environment = Installed(venv / "bin", tagged_clone)
    command = install.replace(PLACEHOLDER_URL, tagged_clone.as_uri())
    result = subprocess.run([*GITHUB_SHELL, "-c", command], env=environment.env(),
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert (venv / "bin" / "bnlint").exists()
    return environment


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The example project, as a repository's top."""
    shutil.copytree(ROOT / "examples", tmp_path / "project")
    return tmp_path / "project"


def _run_command(command: str, cwd: Path, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*GITHUB_SHELL, "-c", command], cwd=cwd, env=dict(env),
                          capture_output=True, text=True, check=False)


def _output_file(command: str) -> str:
    words = shlex.split(command)
    return words[words.index("-o") + 1]


def test_every_yaml_snippet_parses() -> None:
    blocks = _yaml_blocks(README)
    assert len(blocks) >= 6
    assert all(isinstance(block, dict) for block in blocks)


def test_install_commands_name_the_placeholder_url_at_the_release_tag() -> None:
    installs = {command for command in _commands() if "pip install" in command}
    assert installs == {f'python -m pip install "git+{PLACEHOLDER_URL}@{TAG}"'}


def test_every_snippet_command_is_an_install_or_a_bnlint_run() -> None:
    for command in _commands():
        assert "pip install" in command or command.startswith("bnlint "), command


def test_github_annotation_command(installed: Installed, project: Path) -> None:
    [command] = [c for c in _commands() if "--output-format github" in c]
    result = _run_command(command, project, installed.env())
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines and all(re.match(r"::(error|warning|notice) file=", line) for line in lines)
    assert any("file=finetune_sequential.py,line=61," in line for line in lines)


def test_code_scanning_command_writes_the_file_the_upload_step_reads(
    installed: Installed, project: Path,
) -> None:
    [workflow] = [w for w in _github_workflows() if "jobs" in w and any(
        "upload-sarif" in step.get("uses", "") for step in _steps(w))]
    steps = _steps(workflow)
    [command] = [step["run"] for step in steps if "--output-format sarif" in step.get("run", "")]
    [upload] = [step for step in steps if "upload-sarif" in step.get("uses", "")]
    assert upload["uses"] == "github/codeql-action/upload-sarif@v3"
    assert upload["with"]["sarif_file"] == _output_file(command)
    assert workflow["jobs"]["bnlint"]["permissions"]["security-events"] == "write"
    result = _run_command(command, project, installed.env())
    assert result.returncode == 0, result.stderr
    log = json.loads((project / _output_file(command)).read_text(encoding="utf-8"))
    assert log["version"] == "2.1.0"
    assert {r["ruleId"] for r in log["runs"][0]["results"]} >= {"BN201", "BN204"}


def test_gitlab_job_writes_its_code_quality_report(installed: Installed, project: Path) -> None:
    job = _gitlab_job()
    [command] = [c for c in job["script"] if "--output-format gitlab" in c]
    assert job["artifacts"]["reports"]["codequality"] == _output_file(command)
    assert job["artifacts"]["when"] == "always"  # the job fails on findings
    result = _run_command(command, project, installed.env())
    assert result.returncode == 1, result.stderr
    issues = json.loads((project / _output_file(command)).read_text(encoding="utf-8"))
    assert issues and {"description", "check_name", "fingerprint", "severity",
                       "location"} <= set(issues[0])


def _action(clone: Path) -> dict[str, Any]:
    action = yaml.safe_load((clone / "action.yml").read_text(encoding="utf-8"))
    assert isinstance(action, dict)
    return action


def _substituted(text: str, inputs: Mapping[str, str]) -> str:
    return _EXPRESSION.sub(lambda match: inputs[match.group(1)], text)


def _action_steps(clone: Path, given: Mapping[str, str]) -> Iterator[tuple[str, dict[str, str]]]:
    """Each step's script and environment, with the inputs substituted as the runner
    does (defaults, then what the workflow gives)."""
    action = _action(clone)
    inputs = {name: str(spec.get("default", "")) for name, spec in action["inputs"].items()}
    assert set(given) <= set(inputs), f"unknown inputs {set(given) - set(inputs)}"
    inputs.update(given)
    for step in action["runs"]["steps"]:
        assert step["shell"] == "bash"
        assert "${{" not in step["run"], "inputs reach scripts through env, never inline"
        env = {key: _substituted(str(value), inputs) for key, value in step.get("env", {}).items()}
        assert not any("${{" in value for value in env.values())
        yield step["run"], env


def test_action_is_a_composite_action_with_documented_inputs() -> None:
    action = _action(ROOT)
    assert action["runs"]["using"] == "composite"
    assert action["name"] and action["description"]
    for spec in action["inputs"].values():
        assert spec["description"]


def _run_action(clone: Path, runner_temp: Path, project: Path, given: Mapping[str, str],
                first_step: int = 0) -> subprocess.CompletedProcess[str]:
    env = _clean_env(GITHUB_ACTION_PATH=str(clone), RUNNER_TEMP=str(runner_temp),
                     GITHUB_WORKSPACE=str(project))
    result = None
    for script, step_env in list(_action_steps(clone, given))[first_step:]:
        result = subprocess.run([*GITHUB_SHELL, "-c", script], cwd=project,
                                env={**env, **step_env}, capture_output=True, text=True,
                                check=False)
        if result.returncode != 0:
            break
    assert result is not None
    return result


def test_action_installs_bnlint_from_its_checkout_and_annotates(
    tagged_clone: Path, tmp_path: Path, project: Path,
) -> None:
    [snippet] = [w for w in _github_workflows() if "steps" in w]
    [uses] = [step for step in snippet["steps"]
              if step.get("uses", "").startswith(PLACEHOLDER_ACTION)]
    assert uses["uses"] == f"{PLACEHOLDER_ACTION}@{TAG}"
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir()

    annotated = _run_action(tagged_clone, runner_temp, project, {})
    assert annotated.returncode == 1, annotated.stderr
    lines = annotated.stdout.splitlines()
    assert lines and all(re.match(r"::(error|warning|notice) file=", line) for line in lines)

    # The same runner again, with the README's inputs; bnlint is installed already, so
    # the install step (the first) is not repeated.
    sarif = _run_action(tagged_clone, runner_temp, project, uses["with"], first_step=1)
    assert sarif.returncode == 0, sarif.stderr
    [upload] = [step for step in snippet["steps"] if "upload-sarif" in step.get("uses", "")]
    log = json.loads((project / upload["with"]["sarif_file"]).read_text(encoding="utf-8"))
    assert log["runs"][0]["results"]
