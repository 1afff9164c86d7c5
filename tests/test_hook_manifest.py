"""The pre-commit hook manifest declares the bnlint hook the way pre-commit expects.

The manifest is a one-hook YAML list with scalar and flow-list values only, so it is
read here with a small line parser instead of a YAML dependency.
"""

from __future__ import annotations

import re
from pathlib import Path

MANIFEST = Path(__file__).resolve().parent.parent / ".pre-commit-hooks.yaml"

_KEY_VALUE = re.compile(r"^(?P<key>[A-Za-z_][A-Za-z0-9_]*):\s*(?P<value>.*?)\s*$")


def _scalar(text: str) -> object:
    """A YAML scalar or flow list, as far as this manifest uses them."""
    if text.startswith("[") and text.endswith("]"):
        inner = text[1:-1].strip()
        return [_scalar(item.strip()) for item in inner.split(",")] if inner else []
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    if text in ("true", "True"):
        return True
    if text in ("false", "False"):
        return False
    return text


def load_hooks(text: str) -> list[dict[str, object]]:
    """Parse a list of flat mappings written in block style (``- key: value``)."""
    hooks: list[dict[str, object]] = []
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].rstrip()
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        stripped = line.lstrip()
        if stripped.startswith("- "):
            hooks.append({})
            stripped = stripped[2:].lstrip()
        assert hooks, f"entry outside a list item: {raw!r}"
        match = _KEY_VALUE.match(stripped)
        assert match, f"not a flat 'key: value' line: {raw!r}"
        key = match["key"]
        assert key not in hooks[-1], f"duplicate key {key!r}"
        hooks[-1][key] = _scalar(match["value"])
    return hooks


def bnlint_hook() -> dict[str, object]:
    hooks = load_hooks(MANIFEST.read_text(encoding="utf-8"))
    matching = [hook for hook in hooks if hook.get("id") == "bnlint"]
    assert len(matching) == 1, hooks
    return matching[0]


def test_manifest_parser_reads_scalars_and_flow_lists() -> None:
    hooks = load_hooks("- id: x\n  types_or: [python, jupyter]\n  require_serial: true\n"
                       "  minimum_pre_commit_version: \"2.9.2\"\n- id: y\n  args: []\n")
    assert hooks == [
        {"id": "x", "types_or": ["python", "jupyter"], "require_serial": True,
         "minimum_pre_commit_version": "2.9.2"},
        {"id": "y", "args": []},
    ]


def test_manifest_has_the_keys_pre_commit_requires() -> None:
    hook = bnlint_hook()
    for key in ("id", "name", "entry", "language"):
        assert isinstance(hook.get(key), str) and hook[key], key


def test_hook_runs_bnlint_with_force_exclude() -> None:
    hook = bnlint_hook()
    entry = str(hook["entry"]).split()
    assert entry[0] == "bnlint"
    # pre-commit passes file names explicitly; without this, excludes would not apply.
    assert "--force-exclude" in entry
    assert hook["language"] == "python"


def test_hook_selects_python_files_and_notebooks() -> None:
    hook = bnlint_hook()
    types_or = hook["types_or"]
    assert isinstance(types_or, list)
    assert {"python", "jupyter"} <= set(types_or)
    assert "types" not in hook  # `types` is AND-ed with types_or and would drop notebooks


def test_hook_runs_serially_and_states_its_pre_commit_minimum() -> None:
    hook = bnlint_hook()
    # bnlint parallelises over files itself.
    assert hook["require_serial"] is True
    # types_or needs pre-commit >= 2.9.2.
    assert hook["minimum_pre_commit_version"] == "2.9.2"
    assert hook.get("description")


def test_pre_commit_validates_the_manifest() -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "pre_commit", "validate-manifest", str(MANIFEST)],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_line_parser_reads_the_manifest_as_yaml_does() -> None:
    import yaml

    text = MANIFEST.read_text(encoding="utf-8")
    assert load_hooks(text) == yaml.safe_load(text)


def test_the_checking_hook_and_the_opt_in_fixing_hook_are_declared() -> None:
    hooks = load_hooks(MANIFEST.read_text(encoding="utf-8"))
    assert [hook["id"] for hook in hooks] == ["bnlint", "bnlint-fix"]
    check, fix = hooks
    assert str(fix["entry"]).split() == ["bnlint", "--force-exclude", "--fix"]
    # the same files, the same way, as the checking hook
    for key in ("language", "types_or", "require_serial", "minimum_pre_commit_version"):
        assert fix[key] == check[key], key
