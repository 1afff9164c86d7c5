"""A fast pre-order walk over a libcst tree.

``CSTNode.visit`` rebuilds every node it passes (it is made for transformers), which made
a read-only pass cost more than the parse; so does ``CSTNode.children``. This walk only
reads the child fields, and skips the whitespace, comma and parenthesis nodes no analysis
looks at. It tells nodes from other values by their exact type: ``isinstance`` against
libcst's classes goes through ``ABCMeta.__instancecheck__`` (every libcst node class is an
ABC), which costs a Python call for each value that is not of the class itself.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable, Iterator
from functools import cache
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    import libcst as cst
else:
    from bnlint.lazy import libcst as cst

# Fields that only hold formatting: whitespace, parentheses, separators, operators.
_FORMATTING = frozenset({
    "lpar", "rpar", "lbracket", "rbracket", "lbrace", "rbrace", "comma", "semicolon",
    "colon", "equal", "star", "dot", "leading_lines", "lines_after_decorators", "footer",
    "header", "newline", "indent", "asynchronous", "default_indent", "default_newline",
    "operator",
})


def _carries_code(name: str) -> bool:
    return not name.startswith("whitespace") and name not in _FORMATTING


@cache
def _child_fields(kind: type[cst.CSTNode]) -> tuple[str, ...]:
    return tuple(item.name for item in dataclasses.fields(kind)
                 if _carries_code(item.name) and not _never_a_node(item.type))


def _never_a_node(annotation: object) -> bool:
    """Whether a field annotated so holds no node whatever its value (a name's ``value``
    is a ``str``): the walk need not look at it."""
    if annotation in (str, int, float, bool, type(None)):
        return True
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return True
    if origin is typing.Union:
        return all(_never_a_node(arg) for arg in typing.get_args(annotation))
    return False


class _Fields(dict[type, tuple[str, ...]]):
    def __missing__(self, kind: type[cst.CSTNode]) -> tuple[str, ...]:
        self[kind] = fields = _child_fields(kind)
        return fields


_FIELDS = _Fields()


class Subclasses(dict[type, bool]):
    """``kinds[type(value)]`` is ``isinstance(value, <the libcst classes named>)``, with
    ``issubclass`` asked once per type."""

    def __init__(self, *names: str) -> None:
        super().__init__()
        self.names = names

    def __missing__(self, kind: type) -> bool:
        bases = tuple(getattr(cst, name) for name in self.names)
        self[kind] = verdict = issubclass(kind, bases)
        return verdict


_IS_NODE = Subclasses("CSTNode")


def children(node: cst.CSTNode) -> list[cst.CSTNode]:
    """The child nodes of ``node`` that carry code, in field order (source order for
    nearly every node; a function's decorators come after its body)."""
    is_node = _IS_NODE
    found: list[cst.CSTNode] = []
    for name in _FIELDS[type(node)]:
        value = getattr(node, name)
        kind = type(value)
        if kind is tuple or kind is list:
            found.extend([item for item in value if is_node[type(item)]])
        elif is_node[kind]:
            found.append(value)
    return found


def lexical_children(node: cst.CSTNode) -> list[cst.CSTNode]:
    """The nodes of ``node.children`` that carry code, in the same (source) order,
    without rebuilding ``node`` as ``CSTNode.children`` does."""
    is_node = _IS_NODE
    found: list[cst.CSTNode] = []
    for name in _lexical_fields(node):
        value = getattr(node, name)
        kind = type(value)
        if kind is tuple or kind is list:
            found.extend(item for item in value if is_node[type(item)])
        elif is_node[kind]:
            found.append(value)
    return found


# per node class: its code-carrying fields in libcst's visiting order, and the fields that
# order does not have yet
_LEXICAL_FIELDS: dict[type, tuple[tuple[str, ...], tuple[str, ...]]] = {}


def _lexical_fields(node: cst.CSTNode) -> tuple[str, ...]:
    """The code-carrying fields of ``node``'s class in the order libcst visits them,
    which is the order of ``children``: learnt by letting libcst visit a node of each
    class once. libcst skips a few fields when they are empty (an f-string replacement
    field's format spec): a node with such a field filled teaches its place."""
    kind = type(node)
    known = _LEXICAL_FIELDS.get(kind)
    if known is None or any(_holds_nodes(getattr(node, name)) for name in known[1]):
        order = _FieldOrder()
        # libcst calls only the four methods a _FieldOrder has
        node._visit_and_replace_children(cast("cst.CSTVisitor", order))
        fields = tuple(name for name in dict.fromkeys(order.names) if _carries_code(name))
        absent = tuple(name for name in _child_fields(kind) if name not in fields)
        known = _LEXICAL_FIELDS[kind] = (fields, absent)
    return known[0]


def _holds_nodes(value: object) -> bool:
    kind = type(value)
    if kind is tuple or kind is list:
        return any(_IS_NODE[type(item)] for item in value)  # type: ignore[attr-defined]
    return _IS_NODE[kind]


class _FieldOrder:
    """A visitor that notes the fields libcst visits, without descending."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        return False

    def on_leave(self, original_node: cst.CSTNode,
                 updated_node: cst.CSTNode | None = None) -> cst.CSTNode:
        return original_node

    def on_visit_attribute(self, node: cst.CSTNode, attribute: str) -> None:
        self.names.append(attribute)

    def on_leave_attribute(self, original_node: cst.CSTNode, attribute: str) -> None:
        pass


def walk(node: cst.CSTNode,
         prune: Callable[[cst.CSTNode], bool] | None = None) -> Iterator[cst.CSTNode]:
    """``node`` and every node below it, parents before children, in field order.
    Below a node for which ``prune`` is true nothing is visited (the node itself is)."""
    stack = [node]
    pop, push, fields_of, is_node = stack.pop, stack.extend, _FIELDS, _IS_NODE
    while stack:
        current = pop()
        yield current
        fields = fields_of[type(current)]
        if not fields or prune is not None and prune(current):
            continue
        found: list[cst.CSTNode] = []
        for name in fields:
            value = getattr(current, name)
            kind = type(value)
            if kind is tuple or kind is list:
                found.extend([item for item in value if is_node[type(item)]])
            elif is_node[kind]:
                found.append(value)
        if found:
            found.reverse()
            push(found)


def run_visitor(visitor: object, root: cst.CSTNode) -> None:
    """Drive a ``CSTVisitor``-style object (``visit_<Node>`` returning False skips the
    children; ``leave_<Node>`` after them) with this walk instead of ``root.visit``."""
    methods: dict[type, tuple[Callable[[cst.CSTNode], object] | None,
                              Callable[[cst.CSTNode], object] | None]] = {}
    stack: list[tuple[cst.CSTNode, bool]] = [(root, False)]
    while stack:
        node, leaving = stack.pop()
        kind = type(node)
        pair = methods.get(kind)
        if pair is None:
            pair = methods[kind] = (getattr(visitor, "visit_" + kind.__name__, None),
                                    getattr(visitor, "leave_" + kind.__name__, None))
        visit, leave = pair
        if leaving:
            if leave is not None:
                leave(node)
            continue
        descend = visit(node) if visit is not None else None
        stack.append((node, True))
        if descend is not False:
            stack.extend((child, False) for child in reversed(children(node)))
