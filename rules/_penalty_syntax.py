"""How a gradient penalty is written in the source: the norms taken of gradients, the
functions that enclose a call, and the names a function binds once (for BN403)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bnlint.semantic.constants import literal_number
from bnlint.semantic.model import SemanticModel
from bnlint.semantic.walk import run_visitor, walk

from ._arguments import argument, keyword

if TYPE_CHECKING:
    import libcst as cst
else:
    from bnlint.lazy import libcst as cst


NORMS = frozenset({"tf.norm", "tf.linalg.norm", "tf.math.norm", "keras.ops.norm"})


SQRTS = frozenset({"tf.sqrt", "tf.math.sqrt", "keras.ops.sqrt", "keras.backend.sqrt"})


SUMS = frozenset({"tf.reduce_sum", "tf.math.reduce_sum", "keras.ops.sum", "keras.backend.sum"})


SQUARES = frozenset({"tf.square", "tf.math.square", "keras.ops.square",
                      "keras.backend.square"})




def norm_taken_of(gradient: cst.Call, model: SemanticModel, names: dict[int, str],
                  functions: Functions) -> bool:
    """Is the norm of what ``gradient`` returns taken in its function: a norm (or the
    root of a sum of squares) whose argument reads the gradient, itself or through the
    names it is bound to (``gradients = tf.gradients(...)[0]``, ``slopes = ...``)?"""
    scope = functions.innermost(gradient)
    for call in model.calls:
        if functions.innermost(call.node) is not scope or call.name is None:
            continue
        norm = call.name in NORMS or (call.name in SQRTS
                                      and is_sum_of_squares(call.node, names, functions))
        if norm and reads(call.node, gradient, scope, model.module, depth=4):
            return True
    return False


def reads(node: cst.CSTNode, target: cst.Call, scope: cst.FunctionDef | None,
          module: cst.Module, depth: int) -> bool:
    """Does ``node`` contain ``target``, or read a name that some assignment in
    ``scope`` binds to something that does, up to ``depth`` bindings away?"""
    for found in walk(node):
        if found is target:
            return True
        if depth and isinstance(found, cst.Name) and any(
                reads(bound, target, scope, module, depth - 1)
                for bound in _bindings(found.value, scope, module)):
            return True
    return False


def _bindings(name: str, scope: cst.FunctionDef | None,
              module: cst.Module) -> list[cst.BaseExpression]:
    """What the assignments in ``scope`` (the module's own statements when None) bind
    ``name`` to (``grads = tape.gradient(...)``, then ``grads = tf.reshape(grads, ...)``)."""
    finder = _Bindings(name, top_level=scope is None)
    run_visitor(finder, scope if scope is not None else module)
    return [value for value in finder.values if value is not None]


def bound_once(name: str, scope: cst.FunctionDef | None,
               module: cst.Module) -> cst.BaseExpression | None:
    """What ``name`` is bound to by the one assignment that binds it in ``scope`` (the
    module's own statements when None); None for a parameter or any other binding."""
    if scope is not None and any(param.name.value == name for param in parameters(scope)):
        return None
    finder = _Bindings(name, top_level=scope is None)
    run_visitor(finder, scope if scope is not None else module)
    return finder.values[0] if len(finder.values) == 1 else None


def keyword_or_position(node: cst.Call, function: cst.FunctionDef,
                        parameter: str) -> cst.Arg | None:
    found = keyword(node, parameter)
    if found is not None:
        return found
    names = [param.name.value for param in function.params.params]
    if isinstance(node.func, cst.Attribute) and names and names[0] == "self":
        names = names[1:]
    if parameter not in names:
        return None
    plain = [arg for arg in node.args if arg.keyword is None and not arg.star]
    index = names.index(parameter)
    return plain[index] if index < len(plain) else None


def is_sum_of_squares(sqrt: cst.Call, names: dict[int, str], functions: Functions) -> bool:
    """``sqrt(sum(square(g)))``, also written ``sum(g ** 2)``, with a small constant
    added under the root (``+ 1e-12``, ``+ K.epsilon()``), and with the steps bound to
    names assigned once in the same function (the Keras 2 recipe)."""
    inner = argument(sqrt, "x", 0)
    if inner is None:
        return False
    scope = functions.innermost(sqrt)
    total: cst.BaseExpression | None = _summand(resolve(inner.value, scope), names, scope)
    if total is None:
        total = resolve(inner.value, scope)
    if not isinstance(total, cst.Call) or names.get(id(total)) not in SUMS:
        return False
    squared = argument(total, "input_tensor", 0)
    if squared is None:
        return False
    value = resolve(squared.value, scope)
    if isinstance(value, cst.Call):
        return names.get(id(value)) in SQUARES
    return (isinstance(value, cst.BinaryOperation) and isinstance(value.operator, cst.Power)
            and isinstance(value.right, cst.Integer) and value.right.evaluated_value == 2)


def _summand(node: cst.BaseExpression, names: dict[int, str],
             scope: cst.FunctionDef | None) -> cst.Call | None:
    """In ``sum(...) + eps`` (either order), the sum call; eps must be a number, a name,
    an attribute or a call of a function named ``epsilon``."""
    if not (isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Add)):
        return None
    for side, other in ((node.left, node.right), (node.right, node.left)):
        total = resolve(side, scope)
        if (isinstance(total, cst.Call) and names.get(id(total)) in SUMS
                and _is_small_constant(other)):
            return total
    return None


def _is_small_constant(node: cst.BaseExpression) -> bool:
    if literal_number(node) is not None or isinstance(node, (cst.Name, cst.Attribute)):
        return True
    if isinstance(node, cst.Call) and not node.args:
        func = node.func
        name = func.attr.value if isinstance(func, cst.Attribute) else (
            func.value if isinstance(func, cst.Name) else "")
        return name == "epsilon"
    return False


def resolve(node: cst.BaseExpression, scope: cst.FunctionDef | None) -> cst.BaseExpression:
    """A name assigned exactly once in ``scope`` stands for its value (one step)."""
    if scope is None or not isinstance(node, cst.Name):
        return node
    value = assigned_value(scope, node.value)
    return value if value is not None else node


def assigned_call(function: cst.FunctionDef, name: str) -> cst.Call | None:
    """The call assigned to ``name`` in ``function``, if it is assigned exactly once."""
    value = assigned_value(function, name)
    return value if isinstance(value, cst.Call) else None


def assigned_value(function: cst.FunctionDef, name: str) -> cst.BaseExpression | None:
    """The value assigned to ``name`` in ``function``, if it is bound exactly once there
    (and is not a parameter)."""
    if any(param.name.value == name for param in parameters(function)):
        return None
    finder = _Bindings(name, unpacked=False)
    run_visitor(finder, function)
    if len(finder.values) != 1:
        return None
    return finder.values[0]


def parameters(function: cst.FunctionDef) -> list[cst.Param]:
    params = function.params
    return [*params.posonly_params, *params.params, *params.kwonly_params]


class _Bindings:
    """The right-hand sides of the assignments that bind ``name``; None for an augmented
    assignment, and for an unpacking one unless ``unpacked`` (``_, logits, _ =
    critic(x)``: the name holds part of that value)."""

    def __init__(self, name: str, top_level: bool = False, unpacked: bool = True) -> None:
        self.name = name
        self.top_level = top_level  # (the module's statements, not its functions')
        self.unpacked = unpacked
        self.values: list[cst.BaseExpression | None] = []

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return not self.top_level

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return not self.top_level

    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            bound = target.target
            if isinstance(bound, cst.Name):
                if bound.value == self.name:
                    self.values.append(node.value)
            elif isinstance(bound, (cst.Tuple, cst.List)) and any(
                    isinstance(element.value, cst.Name) and element.value.value == self.name
                    for element in bound.elements):
                self.values.append(node.value if self.unpacked else None)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        if isinstance(node.target, cst.Name) and node.target.value == self.name:
            self.values.append(None)


class Functions:
    """Maps the calls of a module to the functions that enclose them, outermost first
    (the module is walked on the first question: most have no gradient to ask about)."""

    def __init__(self, module: cst.Module) -> None:
        self._module = module
        self._chains: dict[int, tuple[cst.FunctionDef, ...]] | None = None

    def enclosing(self, node: cst.Call) -> tuple[cst.FunctionDef, ...]:
        if self._chains is None:
            finder = _FunctionFinder()
            run_visitor(finder, self._module)
            self._chains = finder.chains
        return self._chains.get(id(node), ())

    def innermost(self, node: cst.Call) -> cst.FunctionDef | None:
        chain = self.enclosing(node)
        return chain[-1] if chain else None


class _FunctionFinder:
    def __init__(self) -> None:
        self.open: list[cst.FunctionDef] = []
        self.chains: dict[int, tuple[cst.FunctionDef, ...]] = {}

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.open.append(node)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.open.pop()

    def visit_Call(self, node: cst.Call) -> None:
        if self.open:
            self.chains[id(node)] = tuple(self.open)
