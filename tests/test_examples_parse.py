"""The bundled example project stays valid input: every script parses with libcst and
every notebook is a well-formed nbformat 4 document with prose and code."""

from __future__ import annotations

import json
import re
from pathlib import Path

import libcst as cst
import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SCRIPTS = sorted(EXAMPLES.rglob("*.py"))
NOTEBOOKS = sorted(EXAMPLES.rglob("*.ipynb"))

# IPython-only lines (shell escapes, magics) are not Python.
_IPYTHON_LINE = re.compile(r"^\s*[!%]")


def _ids(paths: list[Path]) -> list[str]:
    return [str(path.relative_to(EXAMPLES)) for path in paths]


def test_examples_folder_has_scripts_and_notebooks() -> None:
    assert len(SCRIPTS) >= 5
    assert NOTEBOOKS


@pytest.mark.parametrize("path", SCRIPTS, ids=_ids(SCRIPTS))
def test_script_parses_with_libcst(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    module = cst.parse_module(source)
    assert module.code == source  # libcst round-trips what it parsed


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_is_nbformat4_with_markdown_and_code(path: Path) -> None:
    notebook = json.loads(path.read_text(encoding="utf-8"))
    assert notebook["nbformat"] == 4
    assert isinstance(notebook.get("nbformat_minor"), int)
    assert isinstance(notebook.get("metadata"), dict)
    cells = notebook["cells"]
    kinds = [cell["cell_type"] for cell in cells]
    assert "markdown" in kinds and "code" in kinds
    for cell in cells:
        assert isinstance(cell["source"], (str, list))
        if cell["cell_type"] == "code":
            assert cell["outputs"] == []
            assert cell["execution_count"] is None


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_code_cells_parse_once_ipython_lines_are_masked(path: Path) -> None:
    notebook = json.loads(path.read_text(encoding="utf-8"))
    for index, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] != "code":
            continue
        source = cell["source"]
        text = source if isinstance(source, str) else "".join(source)
        masked = "\n".join(
            "pass" if _IPYTHON_LINE.match(line) else line for line in text.splitlines()
        )
        try:
            cst.parse_module(masked + "\n")
        except cst.ParserSyntaxError as error:  # pragma: no cover - failure path
            pytest.fail(f"{path.name} cell {index}: {error}")
