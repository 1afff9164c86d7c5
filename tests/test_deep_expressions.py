"""Long flat expressions (`a + a + ... + a`) are deep trees: analysing one must cost time,
never an internal RecursionError for the file."""

from __future__ import annotations

import libcst as cst
import pytest

from bnlint.engine import lint_source
from bnlint.positions import node_ranges, tree_depth
from bnlint.registry import all_rules
from bnlint.settings import Settings
from bnlint.sources import source_from_text

FINETUNE = (
    "from tensorflow import keras\n"
    "base = keras.applications.ResNet50(weights='imagenet')\n"
    "base.trainable = False\n"
    "model = keras.Sequential([base])\n"
    "model.compile('adam')\n"
    "a = 1\n"
    "x = {terms}\n"
    "base.trainable = True\n"
    "model.compile('adam')\n"
    "model.fit(x)\n"
)


def _flat_sum(terms: int) -> str:
    return FINETUNE.format(terms="+".join(["a"] * terms))


@pytest.mark.parametrize("terms", [350, 900])
def test_flat_sum_in_a_file_with_findings_is_analysed(terms: int) -> None:
    result = lint_source(source_from_text("deep.py", _flat_sum(terms)), Settings(), all_rules())
    assert result.errors == ()
    assert [(f.code, f.span.start.row) for f in result.findings] == [("BN201", 8), ("BN204", 9)]


def test_positions_of_a_tree_deeper_than_the_recursion_limit() -> None:
    module = cst.parse_module("x = " + "+".join(["a"] * 3000) + "\n")
    assert tree_depth(module) > 3000
    last = module.body[0].body[0].value.right  # type: ignore[attr-defined]
    first = module.body[0].body[0].value  # type: ignore[attr-defined]
    ranges = node_ranges(module, [last, first])
    assert ranges[id(last)].start.column == 4 + 2 * 2999
    assert (ranges[id(first)].start.column, ranges[id(first)].end.column) == (4, 4 + 2 * 3000 - 1)


def test_flat_sum_of_1500_terms_is_analysed() -> None:
    result = lint_source(source_from_text("deep.py", _flat_sum(1500)), Settings(), all_rules())
    assert [f.code for f in result.findings] == ["BN201", "BN204"]
