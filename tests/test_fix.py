"""Fixes: edits applied to text, ``--fix``/``--diff``/``--fix-only`` on real files (what
they write, what they keep, what they print and exit with), and the fixer's properties
(fixing twice is fixing once; the result always parses)."""

from __future__ import annotations

import ast
import json
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bnlint.engine import FileResult
from bnlint.finding import Edit, Finding, Fix, Position, Span
from bnlint.fix import EditError, apply_edits, finding_edits, fix_text, non_overlapping
from bnlint.fix_files import fix_results, write_fixes
from bnlint.registry import all_rules
from bnlint.rule import FixExample, Rule
from bnlint.runner import lint_text
from bnlint.settings import Settings
from bnlint.testing import fix_snippet, lint_snippet

SARIF_SCHEMA = Path("/work/shared/schemas/sarif-schema-2.1.0.json")  # as test_output_formats

LR = """\
import keras
opt = keras.optimizers.Adam(lr=1e-5)
bn = keras.layers.BatchNormalization()
bn.trainable = "False"
"""
LR_FIXED = LR.replace("(lr=", "(learning_rate=").replace('"False"', "False")
CLEAN = """\
import keras
bn = keras.layers.BatchNormalization()
bn.trainable = False
"""


def _span(row: int, column: int, end_row: int, end_column: int) -> Span:
    return Span(Position(row, column), Position(end_row, end_column))


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("BNLINT_")}
    env["NO_COLOR"] = "1"
    return subprocess.run([sys.executable, "-m", "bnlint", "--no-cache", "--target-keras",
                           "keras3", "--output-format", "concise", *args],
                          cwd=cwd, env=env, capture_output=True, text=True, check=False)


# --- edits on text ---------------------------------------------------------------------


def test_edits_apply_in_any_order_and_write_the_text_s_own_line_breaks() -> None:
    text = "ab\r\ncd\r\n"
    edits = [Edit(_span(2, 3, 2, 3), "!"), Edit(_span(1, 2, 1, 3), "X\nY")]
    assert apply_edits(text, edits) == "aX\r\nY\r\ncd!\r\n"


def test_overlapping_edits_and_positions_outside_the_text_are_refused() -> None:
    with pytest.raises(EditError):
        apply_edits("abcdef\n", [Edit(_span(1, 1, 1, 4), ""), Edit(_span(1, 3, 1, 5), "")])
    with pytest.raises(EditError):
        apply_edits("ab\n", [Edit(_span(1, 1, 1, 1), "x"), Edit(_span(1, 1, 1, 1), "y")])
    with pytest.raises(EditError):
        apply_edits("ab\n", [Edit(_span(1, 5, 1, 6), "")])
    with pytest.raises(EditError):
        apply_edits("ab\n", [Edit(_span(4, 1, 4, 1), "")])


def test_fixes_that_touch_each_other_wait_for_the_next_round() -> None:
    def finding(start: int, end: int, applicability: str = "safe") -> Finding:
        fix = Fix("f", applicability, (Edit(_span(1, start, 1, end), "Z"),))  # type: ignore[arg-type]
        return Finding("BN999", "x", "error", "m", _span(1, start, 1, end), fix=fix)

    first, touching, apart, unsafe = finding(1, 3), finding(3, 4), finding(5, 6), finding(
        7, 8, "unsafe")
    assert non_overlapping([first, touching, apart, unsafe], unsafe=False) == [first, apart]
    assert non_overlapping([first, unsafe], unsafe=True) == [first, unsafe]
    text, applied = fix_text("abcdefgh", [first, touching, apart], unsafe=False)
    assert text == "ZcdZfgh" and applied == [first, apart]
    assert finding_edits(Finding("BN999", "x", "error", "m", _span(1, 1, 1, 1))) == ()


def test_a_finding_s_edits_locate_the_fix_in_the_program() -> None:
    [finding] = [f for f in lint_snippet(LR, [_rule("BN212")], "keras3") if f.code == "BN212"]
    assert finding.fix is not None and finding.fix.applicability == "safe"
    assert finding_edits(finding) == (Edit(_span(2, 29, 2, 31), "learning_rate"),)
    assert apply_edits(LR, finding_edits(finding)).splitlines()[1] == (
        "opt = keras.optimizers.Adam(learning_rate=1e-5)")


# --- the command line ------------------------------------------------------------------


def test_fix_writes_the_fixes_and_reports_what_remains_as_ruff_does(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(LR + "bn.training = False\n", encoding="utf-8")
    result = _run("--fix", "train.py", cwd=tmp_path)
    assert (tmp_path / "train.py").read_text(encoding="utf-8") == (
        LR_FIXED + "bn.training = False\n")
    assert "Found 3 findings (2 fixed, 1 remaining)." in result.stdout, result.stdout
    assert "BN101 " in result.stdout and "BN212" not in result.stdout
    assert result.returncode == 1


def test_fix_exits_zero_when_everything_was_fixed_unless_asked(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(LR, encoding="utf-8")
    result = _run("--fix", "train.py", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Found 2 findings (2 fixed, 0 remaining)." in result.stdout
    (tmp_path / "train.py").write_text(LR, encoding="utf-8")
    assert _run("--fix", "--exit-non-zero-on-fix", "train.py", cwd=tmp_path).returncode == 1
    # nothing left to fix: exit 0 even with the flag
    assert _run("--fix", "--exit-non-zero-on-fix", "train.py", cwd=tmp_path).returncode == 0


def test_without_fix_fixable_findings_are_marked_and_counted(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(LR + "bn.training = False\n", encoding="utf-8")
    result = _run("train.py", cwd=tmp_path)
    lines = result.stdout.splitlines()
    assert any(line.startswith("train.py:2:29: BN212 [*] ") for line in lines), lines
    assert any(line.startswith("train.py:5:1: BN101 ") and "[*]" not in line
               for line in lines), lines
    assert "[*] 2 fixable with the `--fix` option." in lines
    assert (tmp_path / "train.py").read_text(encoding="utf-8") == LR + "bn.training = False\n"
    full = _run("--output-format", "full", "train.py", cwd=tmp_path).stdout
    assert "BN212 [*] error:" in full and "help: Rename `lr=` to `learning_rate=`" in full


def test_diff_shows_the_fixes_writes_nothing_and_exits_one(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(LR, encoding="utf-8")
    result = _run("--diff", "train.py", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout.splitlines()[:2] == ["--- train.py", "+++ train.py"]
    assert "-opt = keras.optimizers.Adam(lr=1e-5)" in result.stdout
    assert "+opt = keras.optimizers.Adam(learning_rate=1e-5)" in result.stdout
    assert "Would fix 2 findings." in result.stderr
    assert (tmp_path / "train.py").read_text(encoding="utf-8") == LR
    (tmp_path / "clean.py").write_text(CLEAN, encoding="utf-8")
    clean = _run("--diff", "clean.py", cwd=tmp_path)
    assert (clean.returncode, clean.stdout) == (0, "")


def test_fix_only_fixes_and_reports_only_the_count(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(LR + "bn.training = False\n", encoding="utf-8")
    result = _run("--fix-only", "train.py", cwd=tmp_path)
    assert result.stdout == "Fixed 2 findings.\n"
    assert result.returncode == 0
    (tmp_path / "train.py").write_text(LR, encoding="utf-8")
    assert _run("--fix-only", "--exit-non-zero-on-fix", "train.py",
                cwd=tmp_path).returncode == 1


def test_json_output_carries_the_fix_edits(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(LR, encoding="utf-8")
    result = _run("--output-format", "json", "train.py", cwd=tmp_path)
    fixes = {item["code"]: item["fix"] for item in json.loads(result.stdout)}
    assert fixes["BN212"] == {
        "applicability": "safe",
        "message": "Rename `lr=` to `learning_rate=`",
        "edits": [{"content": "learning_rate", "cell": None,
                   "location": {"row": 2, "column": 29},
                   "end_location": {"row": 2, "column": 31}}],
    }
    assert fixes["BN103"]["edits"][0]["content"] == "False"


def test_fix_refuses_stdin() -> None:
    result = subprocess.run([sys.executable, "-m", "bnlint", "--fix", "-"], input=LR,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 2 and "cannot read stdin" in result.stderr


# --- what a fixed file keeps -----------------------------------------------------------


def test_fix_keeps_crlf_bom_encoding_mode_and_missing_final_newline(tmp_path: Path) -> None:
    text = "# -*- coding: latin-1 -*-\r\n# café\r\n" + LR.replace("\n", "\r\n").rstrip("\r\n")
    path = tmp_path / "legacy.py"
    path.write_bytes(text.encode("latin-1"))
    path.chmod(0o751)
    assert _run("--fix", "legacy.py", cwd=tmp_path).returncode == 0
    expected = ("# -*- coding: latin-1 -*-\r\n# café\r\n"
                + LR_FIXED.replace("\n", "\r\n").rstrip("\r\n"))
    assert path.read_bytes() == expected.encode("latin-1")
    assert stat.S_IMODE(path.stat().st_mode) == 0o751
    bom = tmp_path / "bom.py"
    bom.write_bytes(b"\xef\xbb\xbf" + LR.encode("utf-8"))
    assert _run("--fix", "bom.py", cwd=tmp_path).returncode == 0
    assert bom.read_bytes() == b"\xef\xbb\xbf" + LR_FIXED.encode("utf-8")
    assert not [name for name in os.listdir(tmp_path) if name.startswith(".bnlint-")]


def _notebook(source: list[str]) -> str:
    cells = [
        {"cell_type": "markdown", "id": "intro", "metadata": {"tags": ["keep"]},
         "source": ["# Fine-tuning\n"]},
        {"cell_type": "code", "execution_count": 3, "id": "train", "metadata": {},
         "outputs": [{"name": "stdout", "output_type": "stream", "text": ["é\n"]}],
         "source": source},
    ]
    return json.dumps({"cells": cells, "metadata": {"kernelspec": {"name": "python3"}},
                       "nbformat": 4, "nbformat_minor": 5}, indent=1, ensure_ascii=False) + "\n"


def test_fix_in_a_notebook_changes_only_the_fixed_source_lines(tmp_path: Path) -> None:
    source = ["import keras\n", "%matplotlib inline\n",
              "opt = keras.optimizers.Adam(lr=1e-5)\n",
              "bn = keras.layers.BatchNormalization()\n", 'bn.trainable = "False"']
    before = _notebook(source)
    path = tmp_path / "finetune.ipynb"
    path.write_text(before, encoding="utf-8")
    diff = _run("--diff", "finetune.ipynb", cwd=tmp_path)
    assert diff.stdout.splitlines()[:2] == ["--- finetune.ipynb:cell 2",
                                            "+++ finetune.ipynb:cell 2"]
    assert _run("--fix", "finetune.ipynb", cwd=tmp_path).returncode == 0
    after = path.read_text(encoding="utf-8")
    fixed = [*source[:2], "opt = keras.optimizers.Adam(learning_rate=1e-5)\n", source[3],
             "bn.trainable = False"]
    assert after == _notebook(fixed)
    changed = [(old, new) for old, new in zip(before.splitlines(), after.splitlines(),
                                              strict=True) if old != new]
    assert len(changed) == 2 and all("source" not in old for old, _ in changed)


def test_a_file_changed_since_it_was_linted_is_not_fixed(tmp_path: Path) -> None:
    path = tmp_path / "train.py"
    path.write_text(LR, encoding="utf-8")
    settings = Settings(target_keras="keras3")
    rules = all_rules()
    codes = frozenset(rule.code for rule in rules)
    result = lint_text(str(path), path.read_bytes(), settings, rules, codes)
    path.write_text(LR + "x = 1\n", encoding="utf-8")

    def relint(name: str, data: bytes) -> FileResult:
        return lint_text(name, data, settings, rules, codes)

    [fixed] = fix_results([result], relint, unsafe=False)
    assert fixed.error is not None and "changed since it was linted" in fixed.error
    assert not fixed.changed


def test_a_fix_whose_result_does_not_parse_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "train.py"
    path.write_text(CLEAN, encoding="utf-8")
    settings = Settings(target_keras="keras3")
    rules = all_rules()
    codes = frozenset(rule.code for rule in rules)
    clean = lint_text(str(path), path.read_bytes(), settings, rules, codes)
    breaking = Fix("break it", "safe", (Edit(_span(3, 16, 3, 16), " ("),))
    bogus = Finding("BN999", "bogus", "error", "m", _span(3, 1, 3, 2), fix=breaking)
    result = FileResult(clean.path, clean.source, (bogus,))

    def relint(name: str, data: bytes) -> FileResult:
        return lint_text(name, data, settings, rules, codes)

    [fixed] = fix_results([result], relint, unsafe=False)
    assert not fixed.changed and fixed.fixed == ()


# --- properties ------------------------------------------------------------------------


def _rule(code: str) -> type[Rule]:
    return next(rule for rule in all_rules() if rule.code == code)


FIX_EXAMPLES = [(rule, example) for rule in all_rules() for example in rule.fixed]
UNRELATED = st.sampled_from([
    "x = 1", "print('trainable')", "import os", "def helper():\n    return 2",
    "value = [1, 2,\n         3]", "# a comment", "if x:\n    pass", "y = 'lr=1e-5'",
])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(FIX_EXAMPLES), st.lists(st.tuples(st.integers(0, 50), UNRELATED),
                                               max_size=3))
def test_fixing_twice_is_fixing_once_and_the_result_parses(
    case: tuple[type[Rule], FixExample], insertions: list[tuple[int, str]],
) -> None:
    rule, example = case
    lines = textwrap.dedent(example.before).split("\n")
    for where, statement in insertions:
        # only between top-level statements, so the program stays valid
        tops = [i for i, line in enumerate(lines) if i == 0 or (
            line and not line[0].isspace() and not lines[i - 1].rstrip().endswith(("(", ","))
            and not lines[i - 1].lstrip().startswith("@"))]  # not between decorator and def
        at = tops[where % len(tops)]
        lines[at:at] = statement.split("\n")
    code = "\n".join(lines)
    once = fix_snippet(code, [rule], example.target, example.keras_version)
    ast.parse(once)
    assert fix_snippet(once, [rule], example.target, example.keras_version) == once


UNFREEZE = """\
import keras
base = keras.applications.ResNet50(include_top=False, pooling="avg")
base.trainable = False
model = keras.Sequential([base, keras.layers.Dense(10)])
model.compile(optimizer="adam", loss="mse")
model.fit(x, y)
base.trainable = True
model.compile(optimizer=keras.optimizers.Adam(1e-5), loss="mse")
model.fit(x, y)
"""


def test_unsafe_fixes_are_hidden_until_asked_for(tmp_path: Path) -> None:
    path = tmp_path / "finetune.py"
    path.write_text(UNFREEZE, encoding="utf-8")
    listed = _run("--select", "BN201", "finetune.py", cwd=tmp_path)
    assert "BN201 [*]" not in listed.stdout
    assert ("No fixes available (1 hidden fix can be enabled with the `--unsafe-fixes` "
            "option).") in listed.stdout
    assert "BN201 [*]" in _run("--select", "BN201", "--unsafe-fixes", "finetune.py",
                               cwd=tmp_path).stdout
    safe_only = _run("--select", "BN201", "--fix", "finetune.py", cwd=tmp_path)
    assert safe_only.returncode == 1 and path.read_text(encoding="utf-8") == UNFREEZE
    diff = _run("--select", "BN201", "--diff", "finetune.py", cwd=tmp_path)
    assert diff.returncode == 0 and diff.stdout == ""
    assert "No findings would be fixed (1 fix available with `--unsafe-fixes`)." in diff.stderr
    unsafe = _run("--select", "BN201", "--fix", "--unsafe-fixes", "finetune.py", cwd=tmp_path)
    assert unsafe.returncode == 0, unsafe.stdout + unsafe.stderr
    assert "Found 1 finding (1 fixed, 0 remaining)." in unsafe.stdout
    assert path.read_text(encoding="utf-8") == UNFREEZE.replace(
        "base.trainable = True\n",
        "base.trainable = True\nfor layer in base.layers:\n"
        "    if isinstance(layer, keras.layers.BatchNormalization):\n"
        "        layer.trainable = False\n")


def test_sarif_carries_fixes_of_python_files_and_validates(tmp_path: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    (tmp_path / "train.py").write_text(LR, encoding="utf-8")
    log = json.loads(_run("--output-format", "sarif", "train.py", cwd=tmp_path).stdout)
    validator = jsonschema.validators.validator_for(schema)(schema)
    assert not list(validator.iter_errors(log))
    fixes = {result["ruleId"]: result["fixes"] for result in log["runs"][0]["results"]}
    [change] = fixes["BN212"][0]["artifactChanges"]
    assert change["artifactLocation"]["uri"] == "train.py"
    assert change["replacements"] == [{
        "deletedRegion": {"startLine": 2, "startColumn": 29, "endLine": 2, "endColumn": 31},
        "insertedContent": {"text": "learning_rate"}}]


def _as_notebook(code: str) -> tuple[str, list[list[str]]]:
    """``code`` as a notebook of two code cells (split before its last top-level
    statement) around a markdown cell, with outputs and metadata to keep."""
    rows = code.splitlines(keepends=True)
    tops = [i for i, row in enumerate(rows) if i and row[:1] not in ("", " ", "\t", "\n", ")")
            and not rows[i - 1].startswith("@") and not rows[i - 1].rstrip().endswith(("(", ","))]
    split = tops[-1] if tops else len(rows)
    sources = [rows[:split], rows[split:]]
    cells: list[dict[str, object]] = [
        {"cell_type": "code", "execution_count": 1, "id": "first", "metadata": {"tags": []},
         "outputs": [{"data": {"text/plain": ["'é'"]}, "execution_count": 1,
                      "metadata": {}, "output_type": "execute_result"}],
         "source": sources[0]},
        {"cell_type": "markdown", "id": "prose", "metadata": {}, "source": ["Then:\n"]},
        {"cell_type": "code", "execution_count": 2, "id": "second", "metadata": {},
         "outputs": [], "source": sources[1]},
    ]
    document = {"cells": cells, "metadata": {"kernelspec": {"name": "python3"}},
                "nbformat": 4, "nbformat_minor": 5}
    return json.dumps(document, indent=1, ensure_ascii=False) + "\n", sources


@pytest.mark.parametrize(("rule", "example"), FIX_EXAMPLES,
                         ids=[f"{rule.code}-{i}" for i, (rule, _) in enumerate(FIX_EXAMPLES)])
def test_fix_examples_fix_the_same_way_in_a_notebook(
    rule: type[Rule], example: FixExample, tmp_path: Path,
) -> None:
    code = textwrap.dedent(example.before)
    text, _ = _as_notebook(code)
    path = tmp_path / "nb.ipynb"
    path.write_text(text, encoding="utf-8")
    settings = Settings(target_keras=example.target,  # type: ignore[arg-type]
                        keras_version=_version(example.keras_version))
    codes = frozenset({rule.code})

    def relint(name: str, data: bytes) -> FileResult:
        return lint_text(name, data, settings, [rule], codes)

    [fixed] = fix_results([relint(str(path), path.read_bytes())], relint, unsafe=True)
    assert fixed.changed and fixed.error is None
    document = json.loads(fixed.new)
    before = json.loads(text)
    # everything but the code cells' sources is as it was, byte for byte in the text
    for old, new in zip(before["cells"], document["cells"], strict=True):
        assert {k: v for k, v in old.items() if k != "source"} == {
            k: v for k, v in new.items() if k != "source"}
    program = "".join("".join(cell["source"]) for cell in document["cells"]
                      if cell["cell_type"] == "code")
    assert program == fix_snippet(code, [rule], example.target, example.keras_version)
    # the JSON text outside the changed source strings is kept as written
    old_lines, new_lines = text.splitlines(), fixed.new.decode().splitlines()
    outside = [line for line in old_lines if not line.startswith('    "') or '": ' in line]
    assert [line for line in new_lines if not line.startswith('    "') or '": ' in line] == (
        outside)
    [again] = fix_results([relint(str(path), fixed.new)], relint, unsafe=True)
    assert not [f for f in again.result.findings if f.fix is not None] or not again.changed


def _version(text: str | None) -> tuple[int, ...] | None:
    from bnlint.flavour import parse_version

    return parse_version(text) if text else None


def test_a_warm_cached_run_keeps_the_fixes(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(LR, encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if not key.startswith("BNLINT_")}
    command = [sys.executable, "-m", "bnlint", "--target-keras", "keras3", "--cache-dir",
               str(tmp_path / "cache"), "--output-format", "json", "train.py"]
    cold, warm = (subprocess.run(command, cwd=tmp_path, env=env, capture_output=True,
                                 text=True, check=False) for _ in range(2))
    assert (tmp_path / "cache").exists()
    assert json.loads(cold.stdout) == json.loads(warm.stdout)
    assert all(item["fix"] is not None for item in json.loads(warm.stdout))
    fixed = subprocess.run([*command[:-3], "--fix", "train.py"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, check=False)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert (tmp_path / "train.py").read_text(encoding="utf-8") == LR_FIXED



def test_a_file_changed_while_fixing_is_not_overwritten_and_keeps_its_findings(
    tmp_path: Path,
) -> None:
    path = tmp_path / "train.py"
    path.write_text(LR, encoding="utf-8")
    settings = Settings(target_keras="keras3")
    rules = all_rules()
    codes = frozenset(rule.code for rule in rules)

    def relint(name: str, data: bytes) -> FileResult:
        return lint_text(name, data, settings, rules, codes)

    original = relint(str(path), path.read_bytes())
    [fixed] = fix_results([original], relint, unsafe=False)
    assert fixed.changed and len(fixed.fixed) == 2
    path.write_text(LR + "# edited meanwhile\n", encoding="utf-8")
    [written] = write_fixes([fixed])
    assert written.error is not None and "changed on disk" in written.error
    assert written.result is original and not written.changed
    assert path.read_text(encoding="utf-8") == LR + "# edited meanwhile\n"


def test_configured_fix_and_unsafe_fixes_apply_unless_the_flags_say_otherwise(
    tmp_path: Path,
) -> None:
    path = tmp_path / "finetune.py"
    path.write_text(UNFREEZE + LR, encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text("[tool.bnlint]\nfix = true\n", encoding="utf-8")
    assert _run("--no-fix", "finetune.py", cwd=tmp_path).returncode == 1
    assert path.read_text(encoding="utf-8") == UNFREEZE + LR
    configured = _run("finetune.py", cwd=tmp_path)
    assert "(2 fixed, 1 remaining)" in configured.stdout, configured.stdout
    assert "base.trainable = True\nmodel.compile" in path.read_text(encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text(
        "[tool.bnlint]\nfix = true\nunsafe-fixes = true\n", encoding="utf-8")
    unsafe = _run("finetune.py", cwd=tmp_path)
    assert unsafe.returncode == 0 and "(1 fixed, 0 remaining)" in unsafe.stdout
    assert "layer.trainable = False" in path.read_text(encoding="utf-8")
    # stdin is linted, not fixed, whatever the configuration says
    piped = subprocess.run([sys.executable, "-m", "bnlint", "--target-keras", "keras3",
                            "--no-cache", "-", "--stdin-filename", "other.py"], input=LR,
                           cwd=tmp_path, capture_output=True, text=True, check=False)
    assert piped.returncode == 1 and "BN212" in piped.stdout
