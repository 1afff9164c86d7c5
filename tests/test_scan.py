"""The module-wide facts of bnlint.semantic.scan."""

from __future__ import annotations

import libcst as cst
import pytest

from bnlint.semantic.scan import _plain_name, scan_module

LITERALS = [
    "'a'", '"abc_1"', "'''x'''", '"""y"""', "r'a\\b'", "'\\x61'", "b'abc'", "u'ab'", "''",
    "'a b'", "'é'", "Rb'x'", "'\\n'", '""', '""""""', "'''a\nb'''", "R'name'", "'1a'",
    "'\\N{LATIN SMALL LETTER A}'", "BR'x'", "'a\\\nb'",
]


@pytest.mark.parametrize("literal", LITERALS)
def test_a_literal_is_read_as_evaluating_it_reads(literal: str) -> None:
    value = cst.SimpleString(literal).evaluated_value
    name = _plain_name(literal)
    assert name is None or name == (value if isinstance(value, str)
                                    and value.isidentifier() else "")


def test_names_in_strings_are_attribute_reads() -> None:
    module = cst.parse_module(
        "getattr(layer, 'momentum')\nhasattr(m, \"trainable\")\nx = '\\x61bc'\n"
        "y = b'not_a_name'\nz = 'two words'\n")
    reads = scan_module(module).attribute_reads
    assert {"momentum", "trainable", "abc"} <= reads
    assert not {"not_a_name", "two words"} & reads
