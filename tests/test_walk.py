"""The fast child accessors of bnlint.semantic.walk agree with libcst's own."""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest

from bnlint.semantic import walk
from bnlint.semantic.syntax import IS_EXPRESSION
from bnlint.semantic.walk import children, lexical_children

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
VARIED = (Path(__file__).resolve().parent / "data" / "varied_code.txt").read_text(encoding="utf-8")


def _modules() -> list[object]:
    modules = [pytest.param(cst.parse_module(VARIED), id="varied")]
    modules += [pytest.param(cst.parse_module(path.read_text(encoding="utf-8")), id=path.name)
                for path in sorted(EXAMPLES.rglob("*.py"))]
    return modules


def _every_node(module: cst.Module) -> list[cst.CSTNode]:
    found: list[cst.CSTNode] = []
    stack: list[cst.CSTNode] = [module]
    while stack:
        node = stack.pop()
        found.append(node)
        stack.extend(node.children)
    return found


@pytest.mark.parametrize("module", _modules())
def test_lexical_children_are_libcsts_children_that_carry_code(module: cst.Module) -> None:
    for node in _every_node(module):
        ours = lexical_children(node)
        kept = {id(child) for child in ours}
        theirs = node.children
        assert [id(child) for child in theirs if id(child) in kept] == [id(c) for c in ours]
        # what is left out holds no code: no expression, statement or block below it
        for child in theirs:
            if id(child) not in kept:
                assert not any(isinstance(below, (cst.BaseExpression, cst.BaseStatement,
                                                  cst.BaseSuite, cst.BaseSmallStatement))
                               for below in _every_node(child)), (node, child)
        assert {id(child) for child in children(node)} == kept


def test_exact_type_tests_agree_with_isinstance() -> None:
    for node in _every_node(cst.parse_module(VARIED)):
        assert IS_EXPRESSION[type(node)] == isinstance(node, cst.BaseExpression)


def test_a_field_libcst_visits_only_when_it_is_filled() -> None:
    # an f-string replacement field visits its format spec only when it has one: the
    # first one seen without must not hide the spec of the next
    walk._LEXICAL_FIELDS.pop(cst.FormattedStringExpression, None)
    module = cst.parse_module('f"{a}"\nf"{b:>{c}}"\n')
    plain, spec = (statement.body[0].value.parts[0]  # type: ignore[attr-defined]
                   for statement in module.body)
    assert [type(child) for child in lexical_children(plain)] == [cst.Name]
    assert [type(child) for child in lexical_children(spec)] == [
        cst.Name, cst.FormattedStringText, cst.FormattedStringExpression]
