"""Names given as strings: ``globals()[model_name]``, ``getattr(models, name)``,
``eval(name)`` and ``importlib.import_module(path)`` with a string the replay knows
(a constant, a parameter's argument, a setting's default) reach what a name written
in the code reaches. An unknown string stays unknown."""

from __future__ import annotations

import libcst as cst

from bnlint.semantic.names import canonical
from bnlint.semantic.replay import Env, ReplayBase
from bnlint.semantic.values import UNKNOWN, Const, ModuleRef, Unknown, Value

# `globals()[name]`, `locals()[name]`, `vars()[name]`: the names of a scope
NAMESPACE_BUILTINS = frozenset({"globals", "locals", "vars"})
# the builtins that look a name up: `getattr(owner, name[, default])`, `eval(name)`
LOOKUP_BUILTINS = frozenset({"getattr", "eval"})
# (`importlib.__import__("a.b")` gives the package `a`: left unknown)
IMPORTERS = frozenset({"importlib.import_module"})


def dotted_name(value: Value, strip: bool = False) -> list[str] | None:
    """The parts of a dotted identifier held by a string constant, else None (``eval``
    ignores the spaces around it: ``strip``)."""
    if not isinstance(value, Const) or not isinstance(value.value, str):
        return None
    text = value.value.strip(" \t") if strip else value.value
    parts = text.split(".")
    if not all(part.isidentifier() for part in parts):
        return None
    return parts


def namespace_call(node: cst.BaseExpression, env: Env) -> str | None:
    """``globals()`` / ``locals()`` / ``vars()`` (not shadowed): which one."""
    if not isinstance(node, cst.Call) or node.args or not isinstance(node.func, cst.Name):
        return None
    name = node.func.value
    return name if name in NAMESPACE_BUILTINS and env.lookup(name) is None else None


class NameLookup(ReplayBase):
    def looked_up(self, node: cst.Call, env: Env) -> Value | None:
        """``getattr(owner, "name")`` and ``eval("name")`` with a known name: what the
        name reaches. None when the call is not one of these or the name is unknown."""
        if not isinstance(node.func, cst.Name) or node.func.value not in LOOKUP_BUILTINS or (
                env.lookup(node.func.value) is not None):
            return None
        positional = [arg.value for arg in node.args if arg.keyword is None and not arg.star]
        if len(positional) != len(node.args):
            return None
        if node.func.value == "getattr" and len(positional) in {2, 3}:
            parts = dotted_name(self.eval(positional[1], env))
            if parts is None or len(parts) != 1:
                return None
            found = self.attribute_of(self.eval(positional[0], env), parts[0], node)
            return None if isinstance(found, Unknown) else found
        if node.func.value == "eval" and len(positional) == 1:
            parts = dotted_name(self.eval(positional[0], env), strip=True)
            if parts is None:
                return None
            found = self.name_value(parts[0], node, env)
            for part in parts[1:]:
                found = self.attribute_of(found, part, node)
            return None if isinstance(found, Unknown) else found
        return None

    def scope_entry(self, scope: str, key: Value, node: cst.CSTNode, env: Env) -> Value:
        """``globals()[key]``: the module's name ``key``; ``locals()[key]`` and
        ``vars()[key]``: the name as the current scope sees it."""
        parts = dotted_name(key)
        if parts is None or len(parts) != 1:
            return UNKNOWN
        if scope == "globals":
            while env.parent is not None:
                env = env.parent
        return self.name_value(parts[0], node, env)

    def imported_module(self, written: Value, node: cst.Call) -> Value:
        """``importlib.import_module("models.resnet")``: that module of the project,
        else that library module."""
        parts = dotted_name(written)
        if parts is None:
            return UNKNOWN
        path = ".".join(parts)
        found = self.project_module(path, 0, node)
        if found is not None:
            return found
        self.model.imports.append(path)
        return ModuleRef(canonical(path))
