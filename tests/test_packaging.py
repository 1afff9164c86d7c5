"""rules/ ships inside the wheel (as bnlint.rules) and works from an editable install."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RULE_FILES = sorted(p.name for p in (ROOT / "rules").glob("bn*.py"))

SNIPPET = "import keras\nbn = keras.layers.BatchNormalization()\nbn.training = False\n"


def _lint_from(cwd: Path, pythonpath: str | None) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin"}
    if pythonpath is not None:
        env["PYTHONPATH"] = pythonpath
    (cwd / "snippet.py").write_text(SNIPPET)
    return subprocess.run(
        [sys.executable, "-m", "bnlint", "--isolated", "--format", "json", "snippet.py"],
        cwd=cwd, env=env, capture_output=True, text=True, check=False,
    )


def test_wheel_contains_every_rule_and_the_data_table(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "-w", str(tmp_path / "dist"), str(ROOT)],
        check=True, capture_output=True,
    )
    (wheel,) = (tmp_path / "dist").glob("bnlint-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert RULE_FILES, "no rule modules found in rules/"
    for rule_file in RULE_FILES:
        assert f"bnlint/rules/{rule_file}" in names
    assert "bnlint/data/keras_api.toml" in names
    assert not any(name.startswith(("rules/", "tests/", "examples/")) for name in names)

    unpacked = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(unpacked)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # The unpacked wheel alone (plus the venv's libcst) must lint with the real rules.
    site = subprocess.run(
        [sys.executable, "-c", "import libcst, os; print(os.path.dirname(os.path.dirname(libcst.__file__)))"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    result = _lint_from(elsewhere, f"{unpacked}:{site}")
    assert result.returncode == 1, result.stderr
    assert json.loads(result.stdout)[0]["code"] == "BN101"
    imported = subprocess.run(
        [sys.executable, "-c", "import bnlint.rules, sys; print(bnlint.rules.__file__)"],
        cwd=elsewhere, env={"PYTHONPATH": f"{unpacked}:{site}"},
        capture_output=True, text=True, check=True,
    ).stdout
    assert imported.startswith(str(unpacked))


def test_editable_install_finds_rules_from_any_directory(tmp_path: Path) -> None:
    result = _lint_from(tmp_path, None)
    assert result.returncode == 1, result.stderr
    findings = json.loads(result.stdout)
    assert [finding["code"] for finding in findings] == ["BN101"]
    listed = subprocess.run(
        [sys.executable, "-m", "bnlint", "--list-rules"], cwd=tmp_path,
        capture_output=True, text=True, check=True,
    ).stdout
    for rule_file in RULE_FILES:
        assert rule_file[:5].upper() in listed
