"""Module-wide syntactic facts the replay does not see: every line of the file counts,
including code the replay never evaluates (class bodies, lambdas, dead functions).

- which attribute names are ever *read* (to tell a typo from a user's own attribute);
- which calls are expression statements whose result is thrown away;
- which calls may bring weights trained elsewhere into the program (checkpoint restores,
  ``set_weights``, ``weights=`` arguments, user helpers named ``load_pretrained``...).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import libcst as cst

from bnlint.semantic.syntax import parameter_names
from bnlint.semantic.walk import walk

# Substrings of a callee's dotted name (lower case) that signal loading weights.
_WEIGHT_CALLEE_WORDS = (
    "load_weights", "set_weights", "restore", "checkpoint", "ckpt", "pretrain",
    "load_model", "from_preset", "saved_model", "load_state_dict", "get_file",
    "weights_from", "load_variables", "init_from", "hub.load", "kerasLayer".lower(),
    "torch.load", "h5py", "saver",
)
# ...or a verb and a noun of these (`load_darknet_weights`, `copy_params`).
_LOAD_VERBS = ("load", "restore", "read", "convert", "copy", "transfer", "port", "assign")
_WEIGHT_NOUNS = ("weight", "param", "variable", "state_dict", "darknet", "caffe", "ckpt")
# Callees whose name matches a word above but that only *save* weights.
_SAVE_ONLY = ("modelcheckpoint", "save_weights", "checkpointmanager.save", ".save")
# Context managers of test frameworks whose body is expected to raise.
_EXPECTS_RAISE = frozenset({"raises", "assertRaises", "assertRaisesRegex",
                            "assertRaisesRegexp", "assertRaisesOpError"})
# Keyword arguments that carry pretrained weights unless they are None/False.
_WEIGHT_KEYWORDS = frozenset({
    "weights", "pretrained", "pretrained_weights", "weights_path", "weight_path",
    "checkpoint", "checkpoint_path", "init_checkpoint", "ckpt", "ckpt_path",
})


@dataclass(slots=True)
class ScanResult:
    """What :func:`scan_module` found."""

    attribute_reads: set[str] = field(default_factory=set)
    discarded_calls: set[int] = field(default_factory=set)
    weight_sources: list[cst.CSTNode] = field(default_factory=list)
    # bodies of `with self.assertRaises(...)` / `with pytest.raises(...)`: code a test
    # runs to see it fail
    raising_blocks: list[cst.BaseSuite] = field(default_factory=list)


def scan_module(module: cst.Module) -> ScanResult:
    """One traversal of ``module`` collecting the facts above."""
    scanner = _Scanner()
    handlers = {
        cst.AnnAssign: scanner.visit_AnnAssign, cst.For: scanner.visit_For,
        cst.Del: scanner.visit_Del, cst.Attribute: scanner.visit_Attribute,
        cst.SimpleString: scanner.visit_SimpleString, cst.Assign: scanner.visit_Assign,
        cst.Expr: scanner.visit_Expr, cst.Call: scanner.visit_Call,
        cst.With: scanner.visit_With,
    }
    for node in walk(module):
        handler = handlers.get(type(node))
        if handler is not None:
            handler(node)  # type: ignore[operator]
    return scanner.result


class _Scanner:
    """The handlers run on each node, parents before children (so a store target is
    marked before the Attribute node below it is seen)."""

    def __init__(self) -> None:
        self.result = ScanResult()
        self.stores: set[int] = set()

    def visit_With(self, node: cst.With) -> None:
        for item in node.items:
            call = item.item
            if isinstance(call, cst.Call) and _dotted(call.func).rsplit(".", 1)[-1] in (
                    _EXPECTS_RAISE):
                self.result.raising_blocks.append(node.body)
                return

    # stores: attribute targets of assignments are not reads
    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._mark_store(node.target)

    def visit_For(self, node: cst.For) -> None:
        self._mark_store(node.target)

    def visit_Del(self, node: cst.Del) -> None:
        self._mark_store(node.target)

    def _mark_store(self, target: cst.BaseExpression) -> None:
        if isinstance(target, cst.Attribute):
            self.stores.add(id(target))
        elif isinstance(target, (cst.Tuple, cst.List)):
            for element in target.elements:
                self._mark_store(element.value)
        elif isinstance(target, cst.StarredElement):
            self._mark_store(target.value)

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if id(node) not in self.stores:
            self.result.attribute_reads.add(node.attr.value)

    def visit_SimpleString(self, node: cst.SimpleString) -> None:
        # getattr(layer, "name") / hasattr(...) read attributes by name
        name = _plain_name(node.value)
        if name is not None:
            if name:
                self.result.attribute_reads.add(name)
            return
        try:
            value = node.evaluated_value
        except Exception:  # noqa: BLE001 - a malformed literal is simply not a name
            return
        if isinstance(value, str) and value.isidentifier():
            self.result.attribute_reads.add(value)

    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            self._mark_store(target.target)
        if (len(node.targets) == 1 and isinstance(node.targets[0].target, cst.Name)
                and node.targets[0].target.value == "_" and isinstance(node.value, cst.Call)):
            self.result.discarded_calls.add(id(node.value))  # `_ = f(x)`

    def visit_Expr(self, node: cst.Expr) -> None:
        if isinstance(node.value, cst.Call):
            self.result.discarded_calls.add(id(node.value))
        elif isinstance(node.value, cst.Await) and isinstance(node.value.expression, cst.Call):
            self.result.discarded_calls.add(id(node.value.expression))

    def visit_Call(self, node: cst.Call) -> None:
        if _loads_weights(node):
            self.result.weight_sources.append(node)


def _containing(words: tuple[str, ...]) -> Callable[[str], re.Match[str] | None]:
    """A test for a string containing any of ``words``, in one regex search."""
    return re.compile("|".join(re.escape(word) for word in words)).search


_SAVES = _containing(_SAVE_ONLY)
_WEIGHT_CALLEE = _containing(_WEIGHT_CALLEE_WORDS)
_LOAD_VERB = _containing(_LOAD_VERBS)
_WEIGHT_NOUN = _containing(_WEIGHT_NOUNS)


def _loads_weights(node: cst.Call) -> bool:
    callee = _dotted(node.func).lower()
    if callee and not _SAVES(callee) and (
        _WEIGHT_CALLEE(callee) or (_LOAD_VERB(callee) and _WEIGHT_NOUN(callee))
    ):
        return True
    for arg in node.args:
        if arg.keyword is None or arg.keyword.value not in _WEIGHT_KEYWORDS:
            continue
        value = arg.value
        if isinstance(value, cst.Name) and value.value in {"None", "False"}:
            continue
        return True
    return False


_STRING = re.compile(r"([rRuUbB]*)('{3}|\"{3}|'|\")(.*)\2", re.DOTALL)


def _plain_name(literal: str) -> str | None:
    """What a string literal says without evaluating it: the identifier it spells, ""
    when it is no identifier (or bytes), None when only evaluating can tell (escapes)."""
    match = _STRING.fullmatch(literal)
    if match is None:
        return None
    prefix, _, inner = match.groups()
    prefix = prefix.lower()
    if prefix in ("b", "br", "rb"):
        return ""
    if prefix not in ("", "r", "u") or "\\" in inner and prefix != "r":
        return None
    return inner if inner.isidentifier() else ""


def _dotted(node: cst.BaseExpression) -> str:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return f"{_dotted(node.value)}.{node.attr.value}"
    if isinstance(node, cst.Call):
        return _dotted(node.func) + "()"
    if isinstance(node, cst.Subscript):
        return _dotted(node.value) + "[]"
    return ""


# Calls that write a model's weights to the path they are given first (or as `filepath=`).
_WRITERS = ("save_weights", "save", "ModelCheckpoint", "save_model")
_RECEIVERS = frozenset({"self", "cls"})
# Calls that read what a writer wrote: weights into a model, or a whole model back.
_READERS = ("load_weights", "load_model")


@dataclass(slots=True)
class _Scope:
    """A function's body (or the module's own statements): its parameters (the
    receiver aside) and how often it binds each name."""

    params: frozenset[str]
    bindings: dict[str, int] = field(default_factory=dict)


def own_checkpoint_loads(module: cst.Module) -> frozenset[int]:
    """The ``load_weights`` and ``load_model`` calls (by id) that read a path ``module``
    writes weights to
    as well (``save_weights``, ``save``, ``ModelCheckpoint``, ``save_model``): the
    program's own checkpoint, resumed or reloaded, not weights trained elsewhere. The
    path must be written alike at both calls and mean the same there: a parameter of
    either function (`def load(model, path)` beside `def export(model, path)`) or a
    name bound twice in a scope (`path = "pretrained.h5"`, later `path = "out.h5"`)
    may hold two paths."""
    top = _Scope(frozenset())
    # (the path, the names it reads, its scope, and whether a whole model is written)
    writes: list[tuple[str, frozenset[str], _Scope, bool]] = []
    loads: list[tuple[cst.Call, str, frozenset[str], _Scope, bool]] = []
    pending: list[tuple[cst.CSTNode, _Scope]] = [(module, top)]
    while pending:
        root, scope = pending.pop()
        body = root.body if isinstance(root, cst.FunctionDef) else root
        for node in walk(body, prune=lambda node: isinstance(node, cst.FunctionDef)):
            if isinstance(node, cst.FunctionDef) and node is not root:
                stars = {star.name.value for star in (node.params.star_arg,
                                                      node.params.star_kwarg)
                         if isinstance(star, cst.Param)}
                names = (parameter_names(node) | stars) - _RECEIVERS
                pending.append((node, _Scope(names)))
            elif isinstance(node, (cst.AssignTarget, cst.AnnAssign, cst.AugAssign,
                                   cst.For, cst.CompFor)):
                # (a loop binds its names to one value per iteration)
                times = 2 if isinstance(node, (cst.For, cst.CompFor)) else 1
                for bound in _bound_names(node.target):
                    scope.bindings[bound] = scope.bindings.get(bound, 0) + times
            elif isinstance(node, cst.Call):
                callee = _dotted(node.func).rsplit(".", 1)[-1]
                if callee in _WRITERS or callee in _READERS:
                    path = _path_argument(node, 1 if callee == "save_model" else 0)
                    if path is not None:
                        entry = (module.code_for_node(path), _free_names(path))
                        if callee in _READERS:
                            loads.append((node, *entry, scope, callee == "load_model"))
                        else:
                            writes.append((*entry, scope, _writes_model(callee, node)))
    # (`load_model` reads back only what a whole model was written as)
    return frozenset(id(node) for node, text, names, scope, model in loads if any(
        text == written and _same_meaning(names, scope, there, top)
        and (whole or not model) for written, _, there, whole in writes))


def _writes_model(callee: str, node: cst.Call) -> bool:
    """Does this writer save a whole model (``save``, ``save_model``, a
    ``ModelCheckpoint`` without ``save_weights_only=True``), not weights alone?"""
    if callee == "save_weights":
        return False
    if callee == "ModelCheckpoint":
        return not any(arg.keyword is not None and arg.keyword.value == "save_weights_only"
                       and not (isinstance(arg.value, cst.Name) and arg.value.value == "False")
                       for arg in node.args)
    return True


def _path_argument(node: cst.Call, position: int) -> cst.BaseExpression | None:
    """The path a weights call reads or writes: its ``filepath=``, else its argument
    at ``position``."""
    for arg in node.args:
        if arg.keyword is not None and arg.keyword.value == "filepath":
            return arg.value
    positional = [arg for arg in node.args if arg.keyword is None and not arg.star]
    return positional[position].value if len(positional) > position else None


def _bound_names(target: cst.BaseExpression) -> list[str]:
    """The names an assignment or loop target binds (`a`, `a, (b, c)`)."""
    if isinstance(target, cst.Name):
        return [target.value]
    if isinstance(target, (cst.Tuple, cst.List)):
        return [name for element in target.elements for name in _bound_names(element.value)]
    return []


def _free_names(node: cst.BaseExpression) -> frozenset[str]:
    """The names an expression reads (not the attributes it takes of them)."""
    attributes = {id(found.attr) for found in walk(node) if isinstance(found, cst.Attribute)}
    return frozenset(found.value for found in walk(node)
                     if isinstance(found, cst.Name) and id(found) not in attributes)


def _same_meaning(names: frozenset[str], here: _Scope, there: _Scope, top: _Scope) -> bool:
    """Do ``names`` mean the same at a load in ``here`` and a write in ``there``?"""
    return not names & (here.params | there.params) and all(
        scope.bindings.get(name, 0) <= 1 for name in names for scope in (here, there, top))
