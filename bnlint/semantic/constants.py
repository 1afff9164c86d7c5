"""Numbers a program spells as literals or as module constants (``EPOCHS = 10``).

The model answers "which epoch does this step run in?" and the rules "is this momentum
PyTorch-style?" from these; anything else is unknown (None).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bnlint.semantic.walk import run_visitor

if TYPE_CHECKING:
    import libcst as cst
else:
    from bnlint.lazy import libcst as cst


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
