"""The README stays true: its rule table lists every rule, its commands match CI."""

from __future__ import annotations

import re
from pathlib import Path

from bnlint.registry import all_rules

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_rule_table_lists_every_rule_with_its_name_severity_and_default() -> None:
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| (BN\d{3}) \|.*$", README, re.MULTILINE)}
    for rule in all_rules():
        assert rule.code in rows, f"{rule.code} missing from the README rule table"
        row = rows[rule.code]
        assert f"`{rule.name}`" in row
        assert f"| {rule.severity} |" in row
        assert ("| on |" if rule.default_enabled else "| off |") in row
    assert set(rows) == {rule.code for rule in all_rules()}


def test_ci_runs_the_readme_test_command() -> None:
    command = "python -m pip install -e '.[test]' && python -m pytest"
    assert command in README
    assert command in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_readme_example_output_matches_the_real_findings() -> None:
    import subprocess
    import sys

    shown = re.search(r"\$ bnlint ([^\n]+)\n(.*?)```", README, re.DOTALL)
    assert shown is not None
    args, output = shown.group(1).split(), shown.group(2)
    result = subprocess.run(
        [sys.executable, "-m", "bnlint", *args], cwd=ROOT, capture_output=True, text=True,
        check=False,
    )
    assert result.returncode == 1
    assert result.stdout == output
