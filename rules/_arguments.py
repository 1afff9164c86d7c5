"""Reading the arguments of a call as written: keywords and positions.

Shared by rules that look at constructor arguments (BN305, BN402) and at TF1 function
calls (BN302, BN303). Everything here answers "unknown" (None) rather than guess.
Numbers (literals, module constants) are read by ``bnlint.semantic.constants``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import libcst as cst
else:
    from bnlint.lazy import libcst as cst


def keyword(call: cst.Call, name: str) -> cst.Arg | None:
    """The ``name=`` argument of ``call``, if written."""
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == name:
            return arg
    return None


def has_star_arguments(call: cst.Call) -> bool:
    """``*args`` or ``**kwargs`` may supply any parameter: the call is not fully known."""
    return any(arg.star for arg in call.args)


def positional(call: cst.Call) -> list[cst.Arg]:
    """The plain positional arguments, in order."""
    return [arg for arg in call.args if arg.keyword is None and not arg.star]


def argument(call: cst.Call, name: str, position: int) -> cst.Arg | None:
    """The argument bound to parameter ``name`` (``position`` counts from 0)."""
    found = keyword(call, name)
    if found is not None:
        return found
    plain = positional(call)
    return plain[position] if position < len(plain) else None


def is_literal_false(node: cst.BaseExpression) -> bool:
    """``False`` or ``0`` as written."""
    if isinstance(node, cst.Name):
        return node.value == "False"
    return isinstance(node, cst.Integer) and node.evaluated_value == 0

