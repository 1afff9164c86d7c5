"""bnlint.positions gives the nodes it is asked about the very ranges libcst's
PositionProvider gives them, whichever nodes are asked and in whatever code."""

from __future__ import annotations

import json
import random
from pathlib import Path

import libcst as cst
import pytest
from libcst.metadata import CodeRange, MetadataWrapper, PositionProvider

from bnlint.parse import parse_source
from bnlint.positions import node_ranges
from bnlint.sources import read_source, source_from_text

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

# statements and expressions of every kind, formatted in many ways
VARIED = (Path(__file__).resolve().parent / "data" / "varied_code.txt").read_text(encoding="utf-8")


def _provider(module: cst.Module) -> dict[int, CodeRange]:
    every = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    return {id(node): where for node, where in every.items()}


def _nodes(module: cst.Module) -> list[cst.CSTNode]:
    found: list[cst.CSTNode] = []
    stack: list[cst.CSTNode] = [module]
    while stack:
        node = stack.pop()
        found.append(node)
        stack.extend(reversed(node.children))
    return found


def _check(module: cst.Module, seed: int = 0) -> None:
    expected = _provider(module)
    nodes = _nodes(module)
    assert node_ranges(module, nodes) == {id(node): expected[id(node)] for node in nodes}
    generator = random.Random(seed)
    for size in (1, 2, 5, 20):
        for _ in range(15):
            wanted = generator.sample(nodes, min(size, len(nodes)))
            assert node_ranges(module, wanted) == {
                id(node): expected[id(node)] for node in wanted}


def _modules() -> list[object]:
    texts = {
        "varied": VARIED,
        "crlf": VARIED.replace("\n", "\r\n"),
        "cr": VARIED.replace("\n", "\r"),
        "mixed": VARIED.replace("\n", "\r\n", 7).replace("continue\n", "continue\r"),
        "no trailing newline": VARIED.rstrip("\n"),
        "tabs": VARIED.replace("    ", "\t"),
        "unicode": VARIED.replace("Docstring", "Ünïcødé ✓ 🎉"),
        "empty": "",
        "only a comment": "# nothing\n",
        "blank lines": "\n\n\nx = 1\n\n\n",
        "form feed": "x = 1\n\x0c\ny = 2\n",
    }
    modules = [(name, cst.parse_module(text)) for name, text in texts.items()]
    for path in sorted(EXAMPLES.rglob("*.py")):
        modules.append((path.name, cst.parse_module(path.read_text(encoding="utf-8"))))
    for path in sorted(EXAMPLES.rglob("*.ipynb")):
        module = parse_source(read_source(str(path))).module
        assert module is not None
        modules.append((path.name, module))
    return [pytest.param(module, id=name) for name, module in modules]


@pytest.mark.parametrize("module", _modules())
def test_ranges_are_those_of_the_position_provider(module: cst.Module) -> None:
    _check(module)


def test_a_notebook_program_with_magics_and_multi_line_cells() -> None:
    cells = [
        {"cell_type": "markdown", "metadata": {}, "source": ["# Title\n"]},
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": 1,
         "source": ["%matplotlib inline\n", "import keras\n", "!pip install x\n",
                    "model = keras.Sequential([\n", "    keras.layers.Dense(1),\n", "])"]},
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": 2,
         "source": ["%%time\n", "model.fit(\n", "    x,\n", "    epochs=2)\n"]},
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": 3,
         "source": ["    indented = 1\n", "    other = (indented,\n", "             2)"]},
    ]
    document = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    source = source_from_text("nb.ipynb", json.dumps(document))
    module = parse_source(source).module
    assert module is not None
    _check(module, seed=1)


def test_nodes_outside_the_module_have_no_range() -> None:
    module = cst.parse_module("x = 1\n")
    stranger = cst.Name("y")
    assert node_ranges(module, [stranger]) == {}
    assert node_ranges(module, []) == {}
