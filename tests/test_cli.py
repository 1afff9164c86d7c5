"""The command line end to end (the real CLI in a subprocess) and the runner under it.

Most end-to-end tests run the CLI with small fake rules (a driver script swaps the
registry) so that they pin the CLI's behaviour, not the real rules' judgement; one test
runs the real registry on a real rule's own flagged example.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import ClassVar

import pytest

from bnlint import __version__
from bnlint.engine import FileResult
from bnlint.rule import Report, Rule, RuleContext
from bnlint.settings import Settings

FAKE_RULES = '''
from typing import Iterator

from bnlint.rule import Report, Rule, RuleContext


class MarkBatchNorm(Rule):
    """## What it does
    Flags every top-level statement that mentions BatchNormalization."""

    code = "BN101"
    name = "mark-batchnorm"
    severity = "warning"
    summary = "marks BatchNormalization statements"
    needles = (b"BatchNormalization",)

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        module = ctx.model.module
        for statement in module.body:
            if "BatchNormalization" in module.code_for_node(statement):
                yield Report(statement, "BatchNormalization here",
                             related=((module.body[0], "file starts here"),))


class MarkDense(Rule):
    """Flags every top-level statement that mentions Dense."""

    code = "BN201"
    name = "mark-dense"
    severity = "error"
    summary = "marks Dense statements"
    needles = (b"Dense",)

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        module = ctx.model.module
        for statement in module.body:
            if "Dense" in module.code_for_node(statement):
                yield Report(statement, "Dense here")


class Crash(Rule):
    """Crashes on files that say CRASH."""

    code = "BN401"
    name = "crash"
    severity = "info"
    summary = "always crashes"
    needles = (b"CRASH",)

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        raise RuntimeError("boom")


class Noisy(Rule):
    """Off by default."""

    code = "BN402"
    name = "noisy"
    severity = "info"
    summary = "off by default"
    default_enabled = False
    needles = (b"Dense",)

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        yield Report(ctx.model.module.body[0], "noisy")


RULES = (MarkBatchNorm, MarkDense, Crash, Noisy)
'''

DRIVER = '''
import sys
sys.path.insert(0, {here!r})
import bnlint.registry
import fake_rules
bnlint.registry.all_rules = lambda: fake_rules.RULES
from bnlint.cli import main
raise SystemExit(main(sys.argv[1:]))
'''

BN_SCRIPT = "import keras\nbn = keras.layers.BatchNormalization()\nx = 1\n"
DENSE_SCRIPT = "import keras\nd = keras.layers.Dense(3)\n"
HEAVY = {"libcst", "tensorflow", "keras"}


def run(args: Sequence[str], cwd: Path, stdin: str | None = None,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The real CLI, with the real registry."""
    return subprocess.run([sys.executable, "-m", "bnlint", *args], cwd=cwd, input=stdin,
                          capture_output=True, text=True, timeout=120, check=False,
                          env={**os.environ, **(env or {})})


def run_fake(args: Sequence[str], cwd: Path,
             stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """The real CLI with the fake rules above instead of the registry's."""
    support = cwd.parent / f"{cwd.name}-support"
    support.mkdir(exist_ok=True)
    (support / "fake_rules.py").write_text(FAKE_RULES, encoding="utf-8")
    driver = support / "driver.py"
    driver.write_text(DRIVER.format(here=str(support)), encoding="utf-8")
    return subprocess.run([sys.executable, str(driver), *args], cwd=cwd, input=stdin,
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / ".git").mkdir()  # keep .gitignore lookups inside the project
    return root


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def notebook(*cells: tuple[str, str]) -> str:
    return json.dumps({
        "nbformat": 4, "nbformat_minor": 5,
        "metadata": {"language_info": {"name": "python"}},
        "cells": [{"cell_type": kind, "metadata": {}, "source": text,
                   **({"outputs": [], "execution_count": None} if kind == "code" else {})}
                  for kind, text in cells],
    })


# --- cheap paths ---------------------------------------------------------------------


def test_version_prints_name_and_version(tmp_path: Path) -> None:
    done = run(["--version"], tmp_path)
    assert (done.returncode, done.stdout.strip()) == (0, f"bnlint {__version__}")


@pytest.mark.parametrize("code", [
    "import bnlint",
    "import bnlint.cli\ntry:\n    bnlint.cli.main(['--version'])\nexcept SystemExit:\n    pass",
    "import bnlint.cli\ntry:\n    bnlint.cli.main(['--help'])\nexcept SystemExit:\n    pass",
])
def test_import_version_and_help_do_not_import_libcst_or_tensorflow(
    tmp_path: Path, code: str
) -> None:
    probe = code + (
        "\nimport sys\nprint('MODULES', sorted(m for m in sys.modules "
        f"if m.split('.')[0] in {sorted(HEAVY)!r}))"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "MODULES []" in done.stdout


def test_usage_error_exits_2_with_usage(tmp_path: Path) -> None:
    done = run(["--no-such-flag"], tmp_path)
    assert done.returncode == 2
    assert "usage: bnlint" in done.stderr and "--no-such-flag" in done.stderr


def test_stdin_dash_with_other_paths_is_a_usage_error(tmp_path: Path) -> None:
    assert run(["-", "a.py"], tmp_path, stdin="").returncode == 2


# --- exit codes and text output --------------------------------------------------------


def test_clean_file_exits_0_and_prints_all_checks_passed(project: Path) -> None:
    write(project / "clean.py", "import keras\nx = 1\n")
    done = run_fake(["clean.py"], project)
    assert (done.returncode, done.stdout, done.stderr) == (0, "All checks passed!\n", "")


def test_findings_exit_1_in_ruff_concise_format(project: Path) -> None:
    write(project / "m.py", BN_SCRIPT)
    done = run_fake(["--output-format", "concise", "m.py"], project)
    assert done.returncode == 1, done.stderr
    assert done.stdout.splitlines() == [
        "m.py:2:1: BN101 BatchNormalization here",
        "    note: m.py:1:1: file starts here",
        "Found 1 finding (1 warning).",
    ]
    assert done.stderr == ""


def test_default_path_is_the_working_directory(project: Path) -> None:
    write(project / "pkg" / "m.py", BN_SCRIPT)
    done = run_fake([], project)
    assert done.returncode == 1
    assert done.stdout.startswith(os.path.join("pkg", "m.py") + ":2:1: BN101")


def test_exit_zero_reports_findings_but_exits_0(project: Path) -> None:
    write(project / "m.py", BN_SCRIPT)
    done = run_fake(["--exit-zero", "m.py"], project)
    assert done.returncode == 0
    assert "BN101" in done.stdout


def test_real_rules_flag_their_own_first_example(project: Path) -> None:
    from bnlint.registry import all_rules

    rules = [rule for rule in all_rules() if rule.examples(True)]
    assert rules, "every shipped rule declares flagged examples; none were found"
    rule = rules[0]
    example = rule.examples(True)[0]
    write(project / "example.py", textwrap.dedent(example.code))
    config = f"target-keras = {example.target!r}\n"
    if example.keras_version:
        config += f"keras-version = {example.keras_version!r}\n"
    write(project / "bnlint.toml", config)
    done = run(["--select", rule.code, "example.py"], project)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f": {rule.code} " in done.stdout


def test_notebook_findings_name_cell_and_row(project: Path) -> None:
    write(project / "nb.ipynb", notebook(("markdown", "# Fine-tuning"),
                                         ("code", "import keras"),
                                         ("code", "x = 1\nbn = keras.layers.BatchNormalization()")))
    done = run_fake(["--output-format", "concise", "nb.ipynb"], project)
    assert done.returncode == 1, done.stderr
    assert done.stdout.splitlines()[:2] == [
        "nb.ipynb:cell 3:2:1: BN101 BatchNormalization here",
        "    note: nb.ipynb:cell 2:1:1: file starts here",
    ]


def test_statistics_print_counts_per_rule(project: Path) -> None:
    write(project / "a.py", BN_SCRIPT + DENSE_SCRIPT)
    write(project / "b.py", DENSE_SCRIPT)
    done = run_fake(["--statistics", "."], project)
    assert done.returncode == 1
    assert done.stdout == "2\tBN201\tmark-dense\n1\tBN101\tmark-batchnorm\n"


# --- errors ------------------------------------------------------------------------


def test_bad_config_value_exits_2_naming_file_and_key(project: Path) -> None:
    write(project / "bnlint.toml", "tiny-batch-warning = 0\n")
    write(project / "m.py", BN_SCRIPT)
    done = run(["m.py"], project)
    assert done.returncode == 2
    assert done.stderr.startswith("bnlint: error: ")
    assert "bnlint.toml" in done.stderr and "`tiny-batch-warning`" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_invalid_toml_exits_2(project: Path) -> None:
    write(project / "pyproject.toml", "[tool.bnlint\n")
    done = run(["."], project)
    assert done.returncode == 2
    assert "invalid TOML" in done.stderr and len(done.stderr.splitlines()) == 1


def test_explicit_config_that_does_not_exist_exits_2(project: Path) -> None:
    done = run(["--config", "nope.toml", "."], project)
    assert done.returncode == 2 and "nope.toml" in done.stderr


@pytest.mark.parametrize("selector", ["BN999", "E501", "no-such-rule"])
def test_unknown_selector_exits_2_naming_it(project: Path, selector: str) -> None:
    done = run(["--select", selector, "."], project)
    assert done.returncode == 2
    assert f"'{selector}'" in done.stderr and "Traceback" not in done.stderr


def test_unknown_selector_in_config_exits_2(project: Path) -> None:
    write(project / "bnlint.toml", "ignore = ['BN9999']\n")
    done = run(["."], project)
    assert done.returncode == 2 and "BN9999" in done.stderr


def test_missing_path_exits_2_and_other_files_are_still_linted(project: Path) -> None:
    write(project / "m.py", BN_SCRIPT)
    done = run_fake(["missing.py", "m.py"], project)
    assert done.returncode == 2
    assert "bnlint: error: missing.py: no such file or directory" in done.stderr
    assert "m.py:2:1: BN101" in done.stdout
    assert "All checks passed" not in done.stdout


def test_unreadable_notebook_is_a_one_line_error_and_exit_2(project: Path) -> None:
    write(project / "broken.ipynb", "{not json")
    write(project / "m.py", BN_SCRIPT)
    done = run_fake(["."], project)
    assert done.returncode == 2
    errors = done.stderr.splitlines()
    assert len(errors) == 1 and errors[0].startswith("bnlint: error: broken.ipynb")
    assert "m.py:2:1: BN101" in done.stdout


def test_internal_rule_error_exits_2_even_with_findings(project: Path) -> None:
    write(project / "m.py", BN_SCRIPT + "CRASH = 1\n")
    done = run_fake(["m.py"], project)
    assert done.returncode == 2
    assert "m.py:2:1: BN101" in done.stdout
    assert "internal error in BN401" in done.stderr and "boom" in done.stderr
    assert "Traceback" not in done.stderr


def test_unexpected_exception_is_one_line_with_the_debug_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import bnlint.runner
    from bnlint.cli import main

    def explode(*args: object, **kwargs: object) -> list[FileResult]:
        raise ValueError("kaput")

    monkeypatch.setattr(bnlint.runner, "lint_paths", explode)
    monkeypatch.delenv("BNLINT_DEBUG", raising=False)
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "m.py", "x = 1\n")
    assert main(["--isolated", "."]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [
        ("bnlint: error: internal error: ValueError: kaput "
         "(run with BNLINT_DEBUG=1 for the traceback)")
    ]


# --- selection and suppression end to end ---------------------------------------------


def test_cli_select_and_ignore(project: Path) -> None:
    write(project / "m.py", BN_SCRIPT + DENSE_SCRIPT)
    only_dense = run_fake(["--select", "BN2", "m.py"], project)
    assert "BN201" in only_dense.stdout and "BN101" not in only_dense.stdout
    no_dense = run_fake(["--ignore", "mark-dense", "m.py"], project)
    assert "BN101" in no_dense.stdout and "BN201" not in no_dense.stdout
    extended = run_fake(["--extend-select", "BN402", "m.py"], project)
    assert "BN402" in extended.stdout


def test_cli_select_overrides_config_ignore(project: Path) -> None:
    write(project / "bnlint.toml", "ignore = ['BN101']\n")
    write(project / "m.py", BN_SCRIPT)
    assert run_fake(["m.py"], project).returncode == 0
    assert run_fake(["--select", "BN101", "m.py"], project).returncode == 1


def test_config_is_found_from_the_first_path(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    write(root / "pyproject.toml", "[tool.bnlint]\nselect = ['BN2']\n")
    write(root / "src" / "m.py", BN_SCRIPT + DENSE_SCRIPT)
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    done = run_fake([str(root / "src")], elsewhere)
    assert "BN201" in done.stdout and "BN101" not in done.stdout


def test_per_file_ignores_from_config(project: Path) -> None:
    write(project / "bnlint.toml", '[per-file-ignores]\n"tests/*" = ["BN1"]\n')
    write(project / "tests" / "t.py", BN_SCRIPT)
    write(project / "src" / "t.py", BN_SCRIPT)
    done = run_fake(["."], project)
    assert os.path.join("src", "t.py") + ":2:1: BN101" in done.stdout
    assert os.path.join("tests", "t.py") not in done.stdout


def test_noqa_and_bnlint_ignore_suppress_findings(project: Path) -> None:
    write(project / "m.py", "import keras\n"
          "bn = keras.layers.BatchNormalization()  # noqa: BN101\n"
          "d = keras.layers.Dense(3)  # bnlint: ignore[mark-dense]\n"
          "bn2 = keras.layers.BatchNormalization()  # noqa: E501\n")
    done = run_fake(["--output-format", "concise", "m.py"], project)
    assert done.stdout.splitlines()[0] == "m.py:4:1: BN101 BatchNormalization here"
    assert "Found 1 finding" in done.stdout


# --- JSON ------------------------------------------------------------------------------


def test_json_output_is_the_documented_array(project: Path) -> None:
    write(project / "m.py", BN_SCRIPT)
    done = run_fake(["--format", "json", "m.py"], project)
    assert done.returncode == 1
    data = json.loads(done.stdout)
    assert [(item["code"], item["filename"], item["location"]) for item in data] == [
        ("BN101", "m.py", {"row": 2, "column": 1})]
    assert data[0]["related"][0]["message"] == "file starts here"


# --- stdin -----------------------------------------------------------------------------


def test_stdin_dash_lints_standard_input(project: Path) -> None:
    done = run_fake(["-"], project, stdin=BN_SCRIPT)
    assert done.returncode == 1
    assert done.stdout.startswith("-:2:1: BN101")


def test_stdin_filename_names_the_input_and_picks_per_file_ignores(project: Path) -> None:
    write(project / "bnlint.toml", '[per-file-ignores]\n"legacy_*.py" = ["ALL"]\n')
    named = run_fake(["--stdin-filename", "src/train.py", "-"], project, stdin=BN_SCRIPT)
    assert named.stdout.startswith("src/train.py:2:1: BN101")
    ignored = run_fake(["--stdin-filename", "legacy_x.py"], project, stdin=BN_SCRIPT)
    assert (ignored.returncode, ignored.stdout) == (0, "All checks passed!\n")


def test_stdin_notebook_is_read_as_a_notebook(project: Path) -> None:
    text = notebook(("code", "import keras\nbn = keras.layers.BatchNormalization()"))
    done = run_fake(["--stdin-filename", "nb.ipynb", "-"], project, stdin=text)
    assert done.stdout.startswith("nb.ipynb:cell 1:2:1: BN101")


def test_stdin_force_exclude_of_an_excluded_name_prints_nothing(project: Path) -> None:
    write(project / "bnlint.toml", "extend-exclude = ['generated']\n")
    target = write(project / "generated" / "m.py", BN_SCRIPT)
    name = str(target.relative_to(project))
    done = run_fake(["--force-exclude", "--stdin-filename", name, "-"], project, stdin=BN_SCRIPT)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    linted = run_fake(["--stdin-filename", name, "-"], project, stdin=BN_SCRIPT)
    assert linted.returncode == 1


# --- rules documentation -----------------------------------------------------------------


def test_list_rules_prints_a_table(project: Path) -> None:
    done = run_fake(["--list-rules"], project)
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["CODE", "NAME", "DEFAULT", "SEVERITY", "SUMMARY"]
    assert lines[1].split()[:4] == ["BN101", "mark-batchnorm", "on", "warning"]
    assert any(line.split()[:3] == ["BN402", "noisy", "off"] for line in lines)


@pytest.mark.parametrize(("args", "title"), [
    (["rule", "BN101"], "# mark-batchnorm (BN101)\n"),
    (["--explain", "mark-batchnorm"], "# mark-batchnorm (BN101)\n"),
    # the syntax-error finding is no rule, and has its page too
    (["rule", "BN000"], "# syntax-error (BN000)\n"),
    (["--explain", "syntax-error"], "# syntax-error (BN000)\n"),
])
def test_rule_documentation(project: Path, args: list[str], title: str) -> None:
    done = run_fake(args, project)
    assert done.returncode == 0
    assert done.stdout.startswith(title)
    assert "## What it does" in done.stdout


def test_explain_unknown_rule_exits_2(project: Path) -> None:
    done = run_fake(["rule", "BN999"], project)
    assert done.returncode == 2 and "BN999" in done.stderr


@pytest.mark.parametrize("option", ["--ignore", "--select", "--extend-select"])
def test_the_syntax_error_finding_cannot_be_selected_or_ignored(project: Path,
                                                                 option: str) -> None:
    write(project / "old.py", 'import keras\nbn = keras.layers.BatchNormalization()\n'
                              'print "x"\n')
    done = run([option, "BN000", "old.py"], project)
    assert done.returncode == 2
    assert "BN000 (syntax-error) is no rule" in done.stderr
    assert "BN000" in run(["old.py"], project).stdout  # and it is always reported


# --- parallel runs -----------------------------------------------------------------------


def test_output_is_identical_whatever_the_number_of_jobs(project: Path) -> None:
    for index in range(30):
        body = BN_SCRIPT * (index % 4 + 1) + (DENSE_SCRIPT if index % 3 else "")
        write(project / f"pkg{index % 3}" / f"m{index:02d}.py", body)
    serial = run_fake(["--jobs", "1", "."], project)
    parallel = run_fake(["--jobs", "3", "."], project)
    assert serial.returncode == parallel.returncode == 1
    assert serial.stdout == parallel.stdout
    assert serial.stdout.count("BN101") > 30


# --- the runner, in process ---------------------------------------------------------------


class MarkAll(Rule):
    """Flags the first statement of every file that mentions BatchNormalization."""

    code: ClassVar[str] = "BN101"
    name: ClassVar[str] = "mark-all"
    severity: ClassVar = "warning"
    summary: ClassVar[str] = "marks files"
    needles: ClassVar[tuple[bytes, ...]] = (b"BatchNormalization",)

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        yield Report(ctx.model.module.body[0], "file mentions BatchNormalization")


RUNNER_RULES: tuple[type[Rule], ...] = (MarkAll,)


def lint(files: Sequence[Path], root: Path, jobs: int | None = None,
         settings: Settings | None = None) -> list[FileResult]:
    from bnlint.runner import lint_paths

    return lint_paths([str(path) for path in files], settings or Settings(root=str(root)),
                      RUNNER_RULES, frozenset({"BN101"}), jobs=jobs)


def test_runner_keeps_input_order_serial_and_parallel(tmp_path: Path) -> None:
    files = [write(tmp_path / f"f{index:02d}.py", BN_SCRIPT * (25 - index))
             for index in range(25)]
    serial = lint(files, tmp_path, jobs=1)
    parallel = lint(files, tmp_path, jobs=2)
    assert [result.path for result in serial] == [str(path) for path in files]
    assert serial == parallel
    assert all(len(result.findings) == 1 for result in serial)


def test_runner_records_unreadable_files_and_continues(tmp_path: Path) -> None:
    good = write(tmp_path / "good.py", BN_SCRIPT)
    results = lint([tmp_path / "gone.py", good], tmp_path)
    assert results[0].errors and "gone.py" in results[0].errors[0]
    assert results[0].findings == ()
    assert len(results[1].findings) == 1 and not results[1].errors


def test_runner_applies_per_file_ignores(tmp_path: Path) -> None:
    files = [write(tmp_path / "keep.py", BN_SCRIPT), write(tmp_path / "skip.py", BN_SCRIPT)]
    settings = Settings(root=str(tmp_path), per_file_ignores=(("skip.py", ("mark-all",)),))
    results = lint(files, tmp_path, settings=settings)
    assert [len(result.findings) for result in results] == [1, 0]


def test_runner_turns_an_analysis_crash_into_an_error_for_that_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bnlint.engine
    import bnlint.runner

    real = bnlint.engine.lint_source

    def fragile(source, *args, **kwargs):  # type: ignore[no-untyped-def]
        if source.path.endswith("bad.py"):
            raise KeyError("model")
        return real(source, *args, **kwargs)

    monkeypatch.setattr(bnlint.runner, "lint_source", fragile)
    files = [write(tmp_path / "bad.py", BN_SCRIPT), write(tmp_path / "ok.py", BN_SCRIPT)]
    results = lint(files, tmp_path, jobs=1)
    assert results[0].errors == (f"{files[0]}: internal error: KeyError: 'model'",)
    assert len(results[1].findings) == 1


def test_no_lintable_files_warns_and_exits_0(project: Path) -> None:
    write(project / "notes.txt", "nothing to lint")
    done = run_fake(["."], project)
    assert (done.returncode, done.stdout) == (0, "All checks passed!\n")
    assert done.stderr == (
        "bnlint: warning: no Python files or notebooks found under the given paths\n")


def test_show_settings_names_the_config_and_the_selection(project: Path) -> None:
    write(project / "bnlint.toml", "select = ['BN2']\n")
    done = run_fake(["--show-settings", "--extend-select", "BN101"], project)
    assert done.returncode == 0
    assert f"config = {str(project / 'bnlint.toml')!r}" in done.stdout
    assert "selected = ['BN101', 'BN201']" in done.stdout
