"""Reading the arguments of a call as written: keywords, positions, numeric literals.

Shared by rules that look at constructor arguments (BN305, BN402) and at TF1 function
calls (BN302, BN303). Everything here answers "unknown" (None) rather than guess.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bnlint.semantic.walk import run_visitor

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


def literal_number(node: cst.BaseExpression) -> float | None:
    """An int/float literal, possibly negated."""
    if isinstance(node, (cst.Integer, cst.Float)):
        return float(node.evaluated_value)
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
        inner = literal_number(node.expression)
        return -inner if inner is not None else None
    return None


class ModuleConstants:
    """Module-level names bound exactly once, to a number literal, and never rebound
    anywhere in the file (``BN_MOMENTUM = 0.1``)."""

    def __init__(self, module: cst.Module) -> None:
        self._values: dict[str, float] = {}
        candidates: dict[str, float] = {}
        for statement in module.body:
            if not isinstance(statement, cst.SimpleStatementLine):
                continue
            for small in statement.body:
                if isinstance(small, cst.Assign) and len(small.targets) == 1:
                    target = small.targets[0].target
                    value = literal_number(small.value)
                    if isinstance(target, cst.Name) and value is not None:
                        candidates[target.value] = value
        counter = _BindingCounter()
        run_visitor(counter, module)
        for name, value in candidates.items():
            if counter.count.get(name, 0) == 1:
                self._values[name] = value

    def number(self, node: cst.BaseExpression) -> float | None:
        """The numeric value of a literal or of a module constant."""
        value = literal_number(node)
        if value is not None:
            return value
        if isinstance(node, cst.Name):
            return self._values.get(node.value)
        return None


class _BindingCounter:
    """Counts every place a name is bound (assignments, loops, parameters, imports...)."""

    def __init__(self) -> None:
        self.count: dict[str, int] = {}

    def _bind(self, target: cst.BaseExpression | None) -> None:
        if isinstance(target, cst.Name):
            self.count[target.value] = self.count.get(target.value, 0) + 1
        elif isinstance(target, (cst.Tuple, cst.List)):
            for element in target.elements:
                self._bind(element.value)
        elif isinstance(target, cst.StarredElement):
            self._bind(target.value)

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        self._bind(node.target)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._bind(node.target)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._bind(node.target)

    def visit_For(self, node: cst.For) -> None:
        self._bind(node.target)

    def visit_CompFor(self, node: cst.CompFor) -> None:
        self._bind(node.target)

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self._bind(node.target)

    def visit_AsName(self, node: cst.AsName) -> None:
        if isinstance(node.name, cst.BaseExpression):
            self._bind(node.name)

    def visit_Param(self, node: cst.Param) -> None:
        self._bind(node.name)

    def visit_Global(self, node: cst.Global) -> None:
        for item in node.names:
            self._bind(item.name)
