"""What the syntax alone says: dotted names, keyword arguments, literal values and
the shape of function definitions, read off libcst nodes without evaluating anything."""

from __future__ import annotations

from collections.abc import Iterator
from typing import cast

import libcst as cst

from bnlint.semantic.values import (
    TrainingArg,
)
from bnlint.semantic.walk import Subclasses, lexical_children, walk


def dotted(node: cst.BaseExpression | None) -> str | None:
    """``a.b.c`` as written, for a name or an attribute chain of names; else None."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        base = dotted(node.value)
        return f"{base}.{node.attr.value}" if base else None
    return None


def is_main_guard(test: cst.BaseExpression) -> bool:
    """``__name__ == "__main__"``."""
    if (isinstance(test, cst.Comparison) and isinstance(test.left, cst.Name)
            and test.left.value == "__name__" and len(test.comparisons) == 1):
        comparator = test.comparisons[0].comparator
        return isinstance(comparator, cst.SimpleString) and "__main__" in comparator.value
    return False


IS_EXPRESSION = Subclasses("BaseExpression")
_IS_BLOCK = Subclasses("BaseSuite", "BaseStatement")


def expressions_in(node: cst.CSTNode) -> Iterator[cst.BaseExpression]:
    """Expressions nested directly inside a non-expression node (args, elements...)."""
    for child in lexical_children(node):
        if IS_EXPRESSION[type(child)]:
            yield cast("cst.BaseExpression", child)
        elif not _IS_BLOCK[type(child)]:
            yield from expressions_in(child)


def keyword(call: cst.Call, name: str) -> cst.Arg | None:
    """The argument passed to ``call`` as ``name=``."""
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == name:
            return arg
    return None


def literal_int(node: cst.BaseExpression | None) -> int | None:
    """An integer literal (with an optional minus sign) as written."""
    if isinstance(node, cst.Integer):
        return int(node.evaluated_value)
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
        inner = literal_int(node.expression)
        return -inner if inner is not None else None
    return None


def training_arg(node: cst.Arg | None) -> TrainingArg:
    """What a ``training=`` argument says as written (``dynamic`` for an expression)."""
    if node is None:
        return "absent"
    value = node.value
    if isinstance(value, cst.Name):
        if value.value == "True":
            return "true"
        if value.value == "False":
            return "false"
        if value.value == "None":
            return "none"
    if isinstance(value, cst.Integer):
        return "true" if value.evaluated_value else "false"
    return "dynamic"


def training_default(node: cst.FunctionDef) -> TrainingArg:
    """The default of a ``call`` method's ``training`` parameter, as written; "absent"
    when there is no such parameter, "none" when it has no default."""
    params = node.params
    for param in (*params.posonly_params, *params.params, *params.kwonly_params):
        if param.name.value == "training":
            if param.default is None:
                return "none"
            return training_arg(cst.Arg(value=param.default))
    return "absent"


def source_texts(module: cst.Module, node: cst.BaseExpression) -> list[str]:
    """The expressions of ``x`` or ``[x, y]`` as written (to match `tape.watch`)."""
    if isinstance(node, (cst.List, cst.Tuple)):
        return [module.code_for_node(element.value) for element in node.elements]
    return [module.code_for_node(node)]


def parameter_names(node: cst.FunctionDef) -> frozenset[str]:
    """The names of a function's named parameters."""
    params = node.params
    names = [param.name.value for param in
             (*params.posonly_params, *params.params, *params.kwonly_params)]
    return frozenset(names)


def list_elements(node: cst.Call) -> list[cst.BaseExpression]:
    """The elements of the list display passed as ``Sequential``'s layers."""
    value: cst.BaseExpression | None = None
    if node.args and node.args[0].keyword is None:
        value = node.args[0].value
    else:
        layers = keyword(node, "layers")
        value = layers.value if layers is not None else None
    if isinstance(value, (cst.List, cst.Tuple)):
        return [element.value for element in value.elements]
    return []


def nested_functions(node: cst.FunctionDef) -> list[cst.FunctionDef]:
    """Functions defined directly in a function's body."""
    body = node.body.body if isinstance(node.body, cst.IndentedBlock) else ()
    return [statement for statement in body if isinstance(statement, cst.FunctionDef)]



def always_exits(arm: cst.CSTNode) -> bool:
    """Does this arm of an ``if`` (its body or ``else``) always leave the enclosing block:
    does it end in ``return``, ``raise``, ``continue``, ``break`` or ``sys.exit()``?"""
    if isinstance(arm, cst.Else):
        arm = arm.body
    if isinstance(arm, cst.If):  # an `elif`: every arm of it
        return always_exits(arm.body) and arm.orelse is not None and always_exits(arm.orelse)
    if not isinstance(arm, (cst.IndentedBlock, cst.SimpleStatementSuite)) or not arm.body:
        return False
    last: cst.CSTNode = arm.body[-1]
    if isinstance(last, cst.SimpleStatementLine) and last.body:
        last = last.body[-1]
    if isinstance(last, (cst.Return, cst.Raise, cst.Continue, cst.Break)):
        return True
    if isinstance(last, cst.Expr):
        return ends_program(last.value)
    if isinstance(last, cst.If):
        return always_exits(last)
    return False


def ends_program(node: cst.BaseExpression) -> bool:
    """``sys.exit()``, ``exit()``, ``quit()``, ``os._exit()``."""
    return isinstance(node, cst.Call) and dotted(node.func) in {
        "sys.exit", "exit", "quit", "os._exit"}


_SCOPES = Subclasses("FunctionDef", "ClassDef", "Lambda")


def assigned_names(suite: cst.CSTNode) -> frozenset[str]:
    """The names that statements inside ``suite`` bind (assignments, augmented
    assignments, ``for`` and ``with ... as`` targets, ``:=``), not counting those of
    functions and classes defined there."""
    return frozenset(target.value for target in _bound_targets(suite)
                     if isinstance(target, cst.Name))


# Methods that change the list, dict or set they are called on.
_CHANGING_METHODS = frozenset({
    "append", "extend", "insert", "pop", "remove", "clear", "update", "add", "discard",
    "setdefault", "popitem", "sort", "reverse",
})


def assigned_targets(statement: cst.CSTNode) -> frozenset[str]:
    """What statements inside ``statement`` (a loop, its target included) bind or change
    in place, written as dotted names: ``i``, ``x``, ``self.count``, ``done`` of
    ``done.append(n)`` (not inside functions and classes defined there)."""
    changed = [node.func.value for node in walk(statement, prune=lambda node: _SCOPES[
        type(node)]) if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute)
        and node.func.attr.value in _CHANGING_METHODS]
    return frozenset(written for target in [*_bound_targets(statement), *changed]
                     if (written := dotted(target)) is not None)


def _bound_targets(suite: cst.CSTNode) -> list[cst.BaseExpression]:
    """The single targets that statements inside ``suite`` bind, tuples unpacked."""
    found: list[cst.BaseExpression] = []
    targets: list[cst.BaseExpression] = []
    for node in walk(suite, prune=lambda node: _SCOPES[type(node)]):
        if isinstance(node, cst.Assign):
            targets.extend(target.target for target in node.targets)
        elif isinstance(node, (cst.AugAssign, cst.AnnAssign, cst.For, cst.NamedExpr)):
            targets.append(node.target)
        elif isinstance(node, cst.AsName):
            targets.append(cast(cst.BaseExpression, node.name))
    while targets:
        target = targets.pop()
        if isinstance(target, (cst.Tuple, cst.List)):
            targets.extend(element.value for element in target.elements)
        elif isinstance(target, cst.StarredElement):
            targets.append(target.value)
        else:
            found.append(target)
    return found


_GENERATORS: dict[int, tuple[cst.FunctionDef, bool]] = {}


def is_generator(node: cst.FunctionDef) -> bool:
    """Does the function's own body ``yield`` (not that of a function inside it)?"""
    known = _GENERATORS.get(id(node))
    if known is not None and known[0] is node:
        return known[1]
    if len(_GENERATORS) > 4096:
        _GENERATORS.clear()
    found = any(isinstance(inner, cst.Yield)
                for inner in walk(node.body, prune=lambda inner: _SCOPES[type(inner)]))
    _GENERATORS[id(node)] = (node, found)
    return found


def plain_reference(node: cst.BaseExpression) -> bool:
    """``base.layers``, ``self.model.layers[1:]``, ``cfg["use_bn"]``: names, attributes
    and subscripts by constants only, which reading again changes nothing."""
    while isinstance(node, (cst.Attribute, cst.Subscript)):
        if isinstance(node, cst.Subscript) and not all(
                isinstance(element.slice, cst.Slice) or isinstance(element.slice, cst.Index)
                and isinstance(element.slice.value, (cst.Integer, cst.Name,
                                                     cst.UnaryOperation, cst.SimpleString))
                for element in node.slice):
            return False
        node = node.value
    return isinstance(node, cst.Name)
