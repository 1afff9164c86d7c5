"""Pieces of fixes shared by rules: the statement around a node, a call with one
keyword set, the re-freeze loop of BN201/BN202, and how the file spells a Keras class.

Each answers None rather than guess; a rule offers no fix then.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bnlint.rule import Change, Rewrite
from bnlint.semantic import workflow as wf
from bnlint.semantic.values import Layer, LayerSelection
from bnlint.semantic.walk import children, walk

if TYPE_CHECKING:
    import libcst as cst

    from bnlint.semantic.model import SemanticModel
else:
    from bnlint.lazy import libcst as cst

# Keras's own top-level packages (the spelling before `applications`, `models`...).
_KERAS_PACKAGES = ("keras", "tensorflow.keras", "tf_keras", "tensorflow.python.keras")
_MODEL_MODULES = ("applications", "models", "saving", "Model", "Sequential")


def enclosing_statement(module: cst.Module, node: cst.CSTNode) -> cst.SimpleStatementLine | None:
    """The statement line (one small statement on its own row) that holds ``node``."""
    path = _path_to(module, node)
    if path is None:
        return None
    for ancestor in reversed(path):
        if isinstance(ancestor, cst.SimpleStatementLine):
            return ancestor if len(ancestor.body) == 1 else None
        if isinstance(ancestor, (cst.SimpleStatementSuite, cst.BaseCompoundStatement)):
            return None
    return None


def _path_to(root: cst.CSTNode, target: cst.CSTNode) -> list[cst.CSTNode] | None:
    """The nodes from ``root`` down to ``target`` (included)."""
    stack: list[tuple[cst.CSTNode, int]] = [(root, 0)]
    path: list[cst.CSTNode] = []
    while stack:
        node, depth = stack.pop()
        del path[depth:]
        path.append(node)
        if node is target:
            return path
        stack.extend((child, depth + 1) for child in reversed(children(node)))
    return None


def is_bound(module: cst.Module, name: str) -> bool:
    """Does ``name`` appear as a name anywhere in the module?"""
    return any(isinstance(node, cst.Name) and node.value == name for node in walk(module))


def with_keyword(module: cst.Module, call: cst.Call, name: str, value: str) -> Change | None:
    """``call`` rewritten with ``name=value`` (replacing that keyword's value when
    written, else appended); None when ``*args``/``**kwargs`` may pass it."""
    if any(arg.star for arg in call.args):
        return None
    args = list(call.args)
    for arg in args:
        if arg.keyword is not None and arg.keyword.value == name:
            return Change.replace(arg.value, value)
    if args and not isinstance(args[-1].comma, cst.Comma):
        args[-1] = args[-1].with_changes(
            comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
    args.append(cst.Arg(cst.parse_expression(value), keyword=cst.Name(name),
                        equal=cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""),
                                              whitespace_after=cst.SimpleWhitespace(""))))
    return Change.replace(call, module.code_for_node(call.with_changes(args=args)))


def keras_package_spelling(module: cst.Module, created: cst.CSTNode | None) -> str | None:
    """How this file spells the Keras package a model comes from (``keras``,
    ``tf.keras``): from the call that created it (``tf.keras.applications.X(...)``),
    else from the file's imports of a Keras package."""
    if isinstance(created, cst.Call):
        spelled = _dotted(created.func)
        if spelled is not None:
            parts = spelled.split(".")
            for index, part in enumerate(parts[1:], start=1):
                if part in _MODEL_MODULES:
                    return ".".join(parts[:index])
            if len(parts) > 1:
                return None  # another spelling (a hub layer, a user factory): no guess
    aliases: set[str] = set()
    for statement in module.body:
        if not isinstance(statement, cst.SimpleStatementLine):
            continue
        for small in statement.body:
            aliases.update(_keras_aliases(small))
    return min(aliases) if len(aliases) == 1 else None


def _keras_aliases(statement: cst.BaseSmallStatement) -> set[str]:
    found: set[str] = set()
    if isinstance(statement, cst.Import):
        for alias in statement.names:
            name = _dotted(alias.name)
            bound = alias.asname.name if alias.asname is not None else None
            if name in _KERAS_PACKAGES and isinstance(bound, cst.Name):
                found.add(bound.value)
            elif name in ("keras", "tf_keras") and bound is None:
                found.add(name)
            elif name == "tensorflow":
                found.add(f"{bound.value}.keras" if isinstance(bound, cst.Name)
                          else "tensorflow.keras")
    elif isinstance(statement, cst.ImportFrom) and statement.module is not None and (
            not statement.relative and _dotted(statement.module) == "tensorflow"
            and not isinstance(statement.names, cst.ImportStar)):
        for alias in statement.names:
            if _dotted(alias.name) == "keras":
                target = alias.asname.name if alias.asname is not None else alias.name
                if isinstance(target, cst.Name):
                    found.add(target.value)
    return found


def _dotted(node: cst.BaseExpression) -> str | None:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        owner = _dotted(node.value)
        return f"{owner}.{node.attr.value}" if owner is not None else None
    return None


def refreeze(model: SemanticModel, found: wf.UnfrozenBnBase) -> Rewrite | None:
    """BN201/BN202: after a plain ``base.trainable = True`` (not in a loop), the loop
    re-freezing the base's BN layers; none when the code sets the flag of the base or
    its layers again later (the loop would be undone, and the fix would not hold)."""
    unfreeze = found.unfreeze
    if not isinstance(unfreeze.target, Layer) or unfreeze.context.loop_depth:
        return None
    later = False
    for event in model.events:
        if event is unfreeze:
            later = True
        elif later and event.kind == "set_trainable" and _touches_layers_of(
                event.target, found.base):
            return None
    return refreeze_bn_loop(model.module, unfreeze.node, found.base.node)


def _touches_layers_of(target: object, base: Layer) -> bool:
    if target is base:
        return True
    return isinstance(target, LayerSelection) and target.container is base


def refreeze_bn_loop(module: cst.Module, unfreeze: cst.CSTNode,
                     created: cst.CSTNode | None) -> Rewrite | None:
    """After ``X.trainable = True`` (``unfreeze``, the ``X.trainable`` target), the loop
    that sets ``trainable = False`` on each BatchNormalization layer of ``X`` (unsafe:
    it changes how the model trains)."""
    if not isinstance(unfreeze, cst.Attribute):
        return None
    statement = enclosing_statement(module, unfreeze)
    package = keras_package_spelling(module, created)
    if statement is None or package is None:
        return None
    owner = module.code_for_node(unfreeze.value)
    variable = next((name for name in ("layer", "bn_layer", "_layer")
                     if not is_bound(module, name)), None)
    if variable is None or "\n" in owner:
        return None
    indent = module.default_indent
    loop = (f"for {variable} in {owner}.layers:\n"
            f"{indent}if isinstance({variable}, {package}.layers.BatchNormalization):\n"
            f"{indent}{indent}{variable}.trainable = False")
    return Rewrite(f"Keep the BatchNormalization layers of `{owner}` frozen",
                   (Change.lines_after(statement, loop),), "unsafe")


def tensorflow_alias(module: cst.Module, spelling: str) -> str | None:
    """``tf`` when the file binds it at module level in a way that makes ``spelling``
    (``tf.get_collection(...)`` or ``tf.compat.v1....``) resolve: to
    ``tensorflow.compat.v1``, or to ``tensorflow`` (then ``tf.get_collection`` needs TF1,
    which the caller decided); None otherwise."""
    for statement in module.body:
        if not isinstance(statement, cst.SimpleStatementLine):
            continue
        for small in statement.body:
            if not isinstance(small, cst.Import):
                continue
            for alias in small.names:
                bound = alias.asname.name if alias.asname is not None else None
                if isinstance(bound, cst.Name) and bound.value == "tf" and _dotted(
                        alias.name) in ("tensorflow", "tensorflow.compat.v1"):
                    if spelling.startswith("tf.compat.v1.") and _dotted(
                            alias.name) != "tensorflow":
                        return None
                    return "tf"
    return None
