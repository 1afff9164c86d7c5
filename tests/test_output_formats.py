"""The output formats: each says the same findings as the JSON output, in the shape its
consumer (GitHub Actions, code scanning, GitLab, JUnit readers, a terminal) expects."""

from __future__ import annotations

import json
import os
import pty
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from bnlint.finding import Finding, Position, Span
from bnlint.fingerprint import fingerprints
from bnlint.formats.github import escape_data, escape_property
from bnlint.registry import all_rules
from bnlint.source import Source

ROOT = Path(__file__).resolve().parent.parent
SARIF_SCHEMA = Path("/work/shared/schemas/sarif-schema-2.1.0.json")
FORMATS = ("full", "concise", "json", "json-lines", "github", "gitlab", "sarif", "junit")

TWICE = """import keras

bn = keras.layers.BatchNormalization()
bn.training = False
bn.training = False
"""
CLEAN = "import keras\n\nx = keras.layers.Dense(3)\n"


def notebook(*cells: tuple[str, str]) -> str:
    """A notebook as Jupyter writes it: one source line per string, indented."""
    return json.dumps({
        "nbformat": 4, "nbformat_minor": 5,
        "metadata": {"language_info": {"name": "python"}},
        "cells": [{"cell_type": kind, "metadata": {},
                   "source": text.splitlines(keepends=True),
                   **({"outputs": [], "execution_count": None} if kind == "code" else {})}
                  for kind, text in cells],
    }, indent=1)


NOTEBOOK = notebook(
    ("markdown", "# Fine-tuning\n"),
    ("code", "import keras\nbn = keras.layers.BatchNormalization()\n"),
    ("code", "x = 1\nif x:\n    bn.training = False\n"),
)


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "examples" / "finetune_sequential.py", tmp_path / "finetune.py")
    (tmp_path / "twice.py").write_text(TWICE, encoding="utf-8")
    (tmp_path / "odd,name:1.py").write_text(TWICE, encoding="utf-8")
    (tmp_path / "clean.py").write_text(CLEAN, encoding="utf-8")
    (tmp_path / "nb.ipynb").write_text(NOTEBOOK, encoding="utf-8")
    return tmp_path


def bnlint(cwd: Path, *args: str, env: dict[str, str] | None = None
           ) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("NO_COLOR", "FORCE_COLOR", "BNLINT_OUTPUT_FORMAT")}
    return subprocess.run([sys.executable, "-m", "bnlint", "--isolated", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120, check=False,
                          env={**environment, **(env or {})})


def json_findings(cwd: Path, *paths: str) -> list[dict[str, Any]]:
    done = bnlint(cwd, "--output-format", "json", *paths)
    assert done.returncode == 1, done.stderr
    found: list[dict[str, Any]] = json.loads(done.stdout)
    return found


def file_line(path: Path, text: str) -> int:
    """The 1-based line of ``path`` whose text contains ``text`` (JSON-escaped)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    needle = json.dumps(text)[1:-1]
    matches = [number for number, line in enumerate(lines, 1) if needle in line]
    assert len(matches) == 1, matches
    return matches[0]


# --- exit codes and the options ------------------------------------------------------


@pytest.mark.parametrize("output_format", FORMATS)
def test_exit_codes_are_the_same_in_every_format(project: Path, output_format: str) -> None:
    assert bnlint(project, "--output-format", output_format, "twice.py").returncode == 1
    assert bnlint(project, "--output-format", output_format, "clean.py").returncode == 0
    (project / "broken.ipynb").write_text("{not json", encoding="utf-8")
    done = bnlint(project, "--output-format", output_format, "broken.ipynb", "twice.py")
    assert done.returncode == 2
    assert "broken.ipynb" in done.stderr


def test_full_is_the_default_as_in_ruff(project: Path) -> None:
    default = bnlint(project, "twice.py")
    assert default.stdout == bnlint(project, "--output-format", "full", "twice.py").stdout
    chosen = bnlint(project, "twice.py", env={"BNLINT_OUTPUT_FORMAT": "concise"})
    assert chosen.stdout == bnlint(project, "--output-format", "concise", "twice.py").stdout


def test_an_unknown_format_in_the_environment_is_a_usage_error(project: Path) -> None:
    done = bnlint(project, "twice.py", env={"BNLINT_OUTPUT_FORMAT": "pretty"})
    assert done.returncode == 2
    assert "BNLINT_OUTPUT_FORMAT" in done.stderr


def test_format_and_text_stay_aliases(project: Path) -> None:
    concise = bnlint(project, "--output-format", "concise", "twice.py").stdout
    assert bnlint(project, "--format", "text", "twice.py").stdout == concise
    assert bnlint(project, "--format", "concise", "twice.py").stdout == concise
    assert bnlint(project, "--format", "json", "twice.py").stdout == bnlint(
        project, "--output-format", "json", "twice.py").stdout


@pytest.mark.parametrize("output_format", ["full", "json", "sarif"])
def test_output_file_receives_the_report_instead_of_stdout(project: Path,
                                                           output_format: str) -> None:
    expected = bnlint(project, "--output-format", output_format, "twice.py").stdout
    done = bnlint(project, "--output-format", output_format, "--output-file",
                  "reports/out.txt", "twice.py")
    assert done.returncode == 1
    assert done.stdout == ""
    written = (project / "reports" / "out.txt").read_text(encoding="utf-8")
    if output_format == "sarif":  # the same log (paths are relative to the same root)
        assert json.loads(written) == json.loads(expected)
    else:
        assert written == expected
    assert bnlint(project, "-o", "clean.txt", "clean.py").returncode == 0
    assert (project / "clean.txt").read_text(encoding="utf-8") == "All checks passed!\n"


def test_an_unwritable_output_file_is_an_error(project: Path) -> None:
    (project / "blocker").write_text("", encoding="utf-8")
    done = bnlint(project, "-o", "blocker/out.txt", "twice.py")
    assert done.returncode == 2
    assert "blocker/out.txt" in done.stderr


# --- full and concise --------------------------------------------------------------


def test_full_shows_each_finding_with_severity_frame_and_notes(project: Path) -> None:
    done = bnlint(project, "--output-format", "full", "finetune.py")
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert lines[0].startswith("finetune.py:61:1: BN201 warning: unfreezing `base`")
    assert "61 | base.trainable = True" in lines
    caret = lines[lines.index("61 | base.trainable = True") + 1]
    assert caret == "   | ^^^^^^^^^^^^^^"
    note = next(line for line in lines if "`base` is frozen here" in line)
    assert note.startswith("   = note: finetune.py:41:1: ")
    after = lines[lines.index(note) + 1:lines.index(note) + 5]
    assert after == ["   |", "41 | base.trainable = False", "   | ^^^^^^^^^^^^^^", "   |"]
    assert lines[-2:] == ["Found 2 findings (2 warnings).",
                          ("No fixes available (1 hidden fix can be enabled with the "
                           "`--unsafe-fixes` option).")]
    assert "\x1b[" not in done.stdout  # not a terminal


def test_full_frames_a_notebook_cell_with_its_own_rows(project: Path) -> None:
    done = bnlint(project, "--output-format", "full", "nb.ipynb")
    lines = done.stdout.splitlines()
    assert lines[0].startswith("nb.ipynb:cell 3:3:5: BN101 error: ")
    assert lines[1:7] == [
        "  |",
        "1 | x = 1",
        "2 | if x:",
        "3 |     bn.training = False",
        "  |     ^^^^^^^^^^^",
        "  |",
    ]


def test_concise_is_one_line_per_finding_with_notes(project: Path) -> None:
    done = bnlint(project, "--output-format", "concise", "twice.py", "nb.ipynb")
    assert done.stdout.splitlines()[0].startswith("nb.ipynb:cell 3:3:5: BN101 assigning")
    assert done.stdout.splitlines()[1].startswith("twice.py:4:1: BN101 assigning")


def _terminal_output(cwd: Path, env: dict[str, str]) -> str:
    """What bnlint prints when its stdout is a terminal."""
    primary, secondary = pty.openpty()
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("NO_COLOR", "FORCE_COLOR", "BNLINT_OUTPUT_FORMAT")}
    with subprocess.Popen([sys.executable, "-m", "bnlint", "--isolated", "twice.py"],
                          cwd=cwd, stdout=secondary, stderr=subprocess.DEVNULL,
                          env={**environment, **env}) as process:
        os.close(secondary)
        chunks: list[bytes] = []
        while True:
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # the terminal closed
                break
            if not chunk:
                break
            chunks.append(chunk)
        process.wait(timeout=120)
    os.close(primary)
    return b"".join(chunks).decode("utf-8")


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_full_colours_a_terminal_unless_no_color(project: Path) -> None:
    assert "\x1b[" in _terminal_output(project, {})
    plain = _terminal_output(project, {"NO_COLOR": "1"})
    assert "\x1b[" not in plain
    assert "twice.py:4:1: BN101 error: " in plain


# --- json-lines --------------------------------------------------------------------


def test_json_lines_are_the_json_objects_one_per_line(project: Path) -> None:
    expected = json_findings(project, ".")
    done = bnlint(project, "--output-format", "json-lines", ".")
    assert done.returncode == 1
    assert [json.loads(line) for line in done.stdout.splitlines()] == expected
    assert len(done.stdout.splitlines()) == len(expected)


# --- github ------------------------------------------------------------------------

_COMMAND = re.compile(r"^::(?P<kind>error|warning|notice) (?P<properties>[^:]*)::(?P<data>.*)$")


def _unescape(text: str) -> str:
    for escaped, plain in (("%3A", ":"), ("%2C", ","), ("%0A", "\n"), ("%0D", "\r"),
                           ("%25", "%")):
        text = text.replace(escaped, plain)
    return text


def parse_github(output: str) -> list[dict[str, Any]]:
    """Workflow commands back to their parts, as the runner reads them."""
    commands = []
    for line in output.splitlines():
        match = _COMMAND.match(line)
        assert match is not None, line
        properties = dict(item.split("=", 1) for item in match.group("properties").split(","))
        commands.append({
            "kind": match.group("kind"),
            **{key: _unescape(value) for key, value in properties.items()},
            "message": _unescape(match.group("data")),
        })
    return commands


def test_github_escapes_data_and_properties() -> None:
    assert escape_data("100% done\r\nnext: a, b") == "100%25 done%0D%0Anext: a, b"
    assert escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"


def test_github_commands_parse_back_to_the_findings(project: Path) -> None:
    expected = json_findings(project, ".")
    done = bnlint(project, "--output-format", "github", ".")
    assert done.returncode == 1
    commands = parse_github(done.stdout)
    assert len(commands) == len(expected)
    kinds = {"error": "error", "warning": "warning", "info": "notice"}
    for command, finding in zip(commands, expected):
        assert command["kind"] == kinds[finding["severity"]]
        assert command["file"] == finding["filename"]
        assert command["title"] == f"{finding['code']} ({finding['name']})"
        first, *notes = command["message"].split("\n")
        if finding["cell"] is None:
            assert first == finding["message"]
            row, end_row = finding["location"]["row"], finding["end_location"]["row"]
            if end_row > row and finding["end_location"]["column"] == 1:
                end_row -= 1  # the span stops at the start of its last row
            assert (int(command["line"]), int(command["endLine"])) == (row, end_row)
            if finding["end_location"]["row"] == row:
                assert (int(command["col"]), int(command["endColumn"])) == (
                    finding["location"]["column"], finding["end_location"]["column"])
            else:  # GitHub takes columns only on one line
                assert "col" not in command
                assert "endColumn" not in command
        else:
            prefix = f"cell {finding['cell']}, row {finding['location']['row']}: "
            assert first == prefix + finding["message"]
            assert int(command["line"]) == file_line(project / "nb.ipynb",
                                                     "    bn.training = False\n")
            assert "col" not in command
        assert notes == [f"note: {_where(related)}: {related['message']}"
                         for related in finding["related"]]
    assert any(command["file"] == "odd,name:1.py" for command in commands)
    assert any(len(command["message"].split("\n")) > 3 for command in commands)
    assert any("col" not in command and command["file"] == "finetune.py"
               for command in commands)


def _where(item: dict[str, Any]) -> str:
    cell = "" if item["cell"] is None else f"cell {item['cell']}:"
    return f"{item['filename']}:{cell}{item['location']['row']}:{item['location']['column']}"


# --- sarif -------------------------------------------------------------------------


def sarif(cwd: Path, *paths: str) -> dict[str, Any]:
    done = bnlint(cwd, "--output-format", "sarif", *paths)
    assert done.returncode in (0, 1), done.stderr
    log: dict[str, Any] = json.loads(done.stdout)
    return log


def test_sarif_validates_against_the_2_1_0_schema(project: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)
    for paths in ((".",), ("clean.py",)):
        log = sarif(project, *paths)
        errors = sorted(validator.iter_errors(log), key=lambda error: list(error.path))
        assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]
    assert log["runs"][0]["results"] == []


def test_sarif_describes_every_rule_from_its_documentation(project: Path) -> None:
    driver = sarif(project, "twice.py")["runs"][0]["tool"]["driver"]
    assert driver["name"] == "bnlint"
    rules = {rule["id"]: rule for rule in driver["rules"]}
    assert "BN000" in rules
    levels = {"error": "error", "warning": "warning", "info": "note"}
    for rule in all_rules():
        described = rules[rule.code]
        assert described["name"] == rule.name
        assert described["shortDescription"]["text"] == rule.summary
        assert described["help"]["markdown"] == rule.documentation()
        assert described["help"]["text"] == rule.documentation()
        assert described["fullDescription"]["text"]
        assert described["fullDescription"]["text"] in rule.documentation()
        assert described["defaultConfiguration"]["level"] == levels[rule.severity]


def test_sarif_results_carry_rule_locations_related_locations_and_fingerprints(
        project: Path) -> None:
    expected = json_findings(project, ".")
    run = sarif(project, ".")["runs"][0]
    results = run["results"]
    assert len(results) == len(expected)
    rules = run["tool"]["driver"]["rules"]
    assert run["columnKind"] == "unicodeCodePoints"
    for result, finding in zip(results, expected):
        assert result["ruleId"] == finding["code"]
        assert rules[result["ruleIndex"]]["id"] == finding["code"]
        physical = result["locations"][0]["physicalLocation"]
        assert physical["artifactLocation"]["uriBaseId"] == "%SRCROOT%"
        region = physical["region"]
        if finding["cell"] is None:
            assert physical["artifactLocation"]["uri"] == finding["filename"].replace(
                ",", "%2C").replace(":", "%3A")
            assert result["message"]["text"] == finding["message"]
            assert (region["startLine"], region["startColumn"]) == (
                finding["location"]["row"], finding["location"]["column"])
        else:
            assert physical["artifactLocation"]["uri"] == "nb.ipynb"
            assert result["message"]["text"] == "cell 3, row 3: " + finding["message"]
            assert region == {"startLine": file_line(project / "nb.ipynb",
                                                     "    bn.training = False\n")}
        related = result.get("relatedLocations", [])
        assert [item["message"]["text"] for item in related] == [
            item["message"] for item in finding["related"]]
        for item, want in zip(related, finding["related"]):
            location = item["physicalLocation"]
            assert location["artifactLocation"]["uri"] == want["filename"]
            assert location["region"]["startLine"] == want["location"]["row"]
    prints = [result["partialFingerprints"]["bnlint/v1"] for result in results]
    assert len(set(prints)) == len(prints)
    assert any(len(result.get("relatedLocations", [])) == 5 for result in results)


# --- gitlab ------------------------------------------------------------------------


def gitlab(cwd: Path, *paths: str) -> list[dict[str, Any]]:
    done = bnlint(cwd, "--output-format", "gitlab", *paths)
    assert done.returncode == 1, done.stderr
    report: list[dict[str, Any]] = json.loads(done.stdout)
    return report


def test_gitlab_report_has_code_quality_fields(project: Path) -> None:
    expected = json_findings(project, ".")
    report = gitlab(project, ".")
    assert len(report) == len(expected)
    severities = {"error": "critical", "warning": "major", "info": "info"}
    for issue, finding in zip(report, expected):
        assert issue["check_name"] == finding["code"]
        assert issue["severity"] == severities[finding["severity"]]
        assert finding["message"] in issue["description"]
        assert issue["location"]["path"] == finding["filename"]
        if finding["cell"] is None:
            assert issue["location"]["lines"] == {
                "begin": finding["location"]["row"], "end": finding["end_location"]["row"]}
    fingerprints_seen = [issue["fingerprint"] for issue in report]
    assert len(set(fingerprints_seen)) == len(fingerprints_seen)


def test_gitlab_fingerprints_survive_lines_inserted_above(project: Path) -> None:
    before = gitlab(project, "finetune.py", "twice.py")
    for name in ("finetune.py", "twice.py"):
        path = project / name
        path.write_text("# a comment\n\nimport os\n" + path.read_text(encoding="utf-8"),
                        encoding="utf-8")
    after = gitlab(project, "finetune.py", "twice.py")
    assert [issue["fingerprint"] for issue in after] == [
        issue["fingerprint"] for issue in before]
    assert [issue["location"]["lines"]["begin"] for issue in after] == [
        issue["location"]["lines"]["begin"] + 3 for issue in before]


# --- junit -------------------------------------------------------------------------


def test_junit_is_one_suite_with_a_case_per_file_and_a_failure_per_finding(
        project: Path) -> None:
    expected = json_findings(project, ".")
    done = bnlint(project, "--output-format", "junit", ".")
    assert done.returncode == 1
    root = ET.fromstring(done.stdout)
    suites = root.findall("testsuite")
    assert len(suites) == 1
    cases = {case.get("name"): case for case in suites[0].findall("testcase")}
    assert set(cases) == {"finetune.py", "twice.py", "odd,name:1.py", "clean.py", "nb.ipynb"}
    assert cases["clean.py"].findall("failure") == []
    for name, case in cases.items():
        mine = [finding for finding in expected if finding["filename"] == name]
        failures = case.findall("failure")
        assert [failure.get("type") for failure in failures] == [f["code"] for f in mine]
        for failure, finding in zip(failures, mine):
            assert finding["message"] in (failure.get("message") or "")
            assert (failure.text or "").count("note: ") == len(finding["related"])
    assert suites[0].get("tests") == "5"
    assert suites[0].get("failures") == "4"


# --- the fingerprint ---------------------------------------------------------------


def _finding(row: int, message: str = "m", code: str = "BN101") -> Finding:
    return Finding(code, "name", "error", message,
                   Span(Position(row, 1), Position(row, 12)))


def test_fingerprints_are_unique_and_count_identical_lines() -> None:
    source = Source("a.py", "x.training = 1\nx.training = 1\ny.training = 1\n")
    prints = fingerprints("a.py", source, [_finding(1), _finding(2), _finding(3)])
    assert len(set(prints)) == 3


def test_fingerprints_ignore_lines_inserted_above_and_whitespace_changes() -> None:
    text = "x.training = 1\nx.training = 1\n"
    before = fingerprints("a.py", Source("a.py", text), [_finding(1), _finding(2)])
    shifted = Source("a.py", "import os\n\n" + text.replace("= 1", "=  1"))
    assert fingerprints("a.py", shifted, [_finding(3), _finding(4)]) == before


def test_fingerprints_depend_on_rule_path_code_and_message() -> None:
    source = Source("a.py", "x.training = 1\ny.training = 1\n")
    base = fingerprints("a.py", source, [_finding(1)])
    assert fingerprints("b.py", source, [_finding(1)]) != base
    assert fingerprints("a.py", source, [_finding(2)]) != base
    assert fingerprints("a.py", source, [_finding(1, code="BN102")]) != base
    assert fingerprints("a.py", source, [_finding(1, message="other")]) != base


def test_full_frames_a_note_in_another_module_with_that_module_s_source(
        tmp_path: Path) -> None:
    (tmp_path / "models.py").write_text(
        "import keras\n\n\ndef build():\n"
        "    base = keras.applications.ResNet50(weights=\"imagenet\", include_top=False)\n"
        "    base.trainable = False\n    return base\n", encoding="utf-8")
    (tmp_path / "train.py").write_text(
        "import keras\nfrom models import build\n\nbase = build()\n"
        "model = keras.Sequential([base, keras.layers.Dense(10)])\n"
        "model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=\"mse\")\n"
        "model.fit(x, y)\nbase.trainable = True\n"
        "model.compile(optimizer=keras.optimizers.Adam(1e-5), loss=\"mse\")\n"
        "model.fit(x, y)\n", encoding="utf-8")
    lines = bnlint(tmp_path, "--output-format", "full", "train.py").stdout.splitlines()
    note = next(line for line in lines if "models.py:6:5:" in line)
    assert lines[lines.index(note) + 2:lines.index(note) + 4] == [
        " 6 |     base.trainable = False", "   |     ^^^^^^^^^^^^^^"]


def test_a_notebook_row_that_is_not_the_linted_code_gets_no_line(project: Path) -> None:
    """Unsaved text on stdin (or a file changed since): the cell and row stay in the
    message, the file line is not guessed."""
    edited = notebook(
        ("markdown", "# Fine-tuning\n"),
        ("code", "import keras\nbn = keras.layers.BatchNormalization()\n"),
        ("code", "x = 1\ny = 2\nif x:\n    bn.training = False\n"),
    )
    done = subprocess.run(
        [sys.executable, "-m", "bnlint", "--isolated", "--output-format", "github", "-",
         "--stdin-filename", "nb.ipynb"],
        cwd=project, input=edited, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1, done.stderr
    (command,) = parse_github(done.stdout)
    assert "line" not in command
    assert command["message"].startswith("cell 3, row 4: ")
    done = subprocess.run(
        [sys.executable, "-m", "bnlint", "--isolated", "--output-format", "github", "-",
         "--stdin-filename", "nb.ipynb"],
        cwd=project, input=NOTEBOOK, capture_output=True, text=True, timeout=120, check=False)
    (command,) = parse_github(done.stdout)
    assert int(command["line"]) == file_line(project / "nb.ipynb", "    bn.training = False\n")


def test_an_indented_or_timed_notebook_row_is_found_in_the_file(tmp_path: Path) -> None:
    (tmp_path / "nb.ipynb").write_text(notebook(
        ("code", "import keras\nbn = keras.layers.BatchNormalization()\n"),
        ("code", "  x = 1\n  bn.training = False\n"),
        ("code", "%time bn.training = True\n"),
    ), encoding="utf-8")
    commands = parse_github(bnlint(tmp_path, "--output-format", "github", "nb.ipynb").stdout)
    assert [(command["message"][:14], int(command["line"])) for command in commands] == [
        ("cell 2, row 2:", file_line(tmp_path / "nb.ipynb", "  bn.training = False\n")),
        ("cell 3, row 1:", file_line(tmp_path / "nb.ipynb", "%time bn.training = True\n")),
    ]
