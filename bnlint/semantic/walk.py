"""A fast pre-order walk over a libcst tree.

``CSTNode.visit`` rebuilds every node it passes (it is made for transformers), which made
a read-only pass cost more than the parse. This walk only reads the child fields, and
skips the whitespace, comma and parenthesis nodes no analysis looks at.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from functools import cache
from typing import TYPE_CHECKING

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


@cache
def _child_fields(kind: type[cst.CSTNode]) -> tuple[str, ...]:
    return tuple(
        item.name for item in dataclasses.fields(kind)
        if not item.name.startswith("whitespace") and item.name not in _FORMATTING
    )


def children(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """The child nodes of ``node`` that carry code, in field order (source order for
    nearly every node; a function's decorators come after its body)."""
    node_type = cst.CSTNode
    for name in _child_fields(type(node)):
        value = getattr(node, name)
        if isinstance(value, node_type):
            yield value
        elif isinstance(value, (tuple, list)):
            for item in value:
                if isinstance(item, node_type):
                    yield item


def walk(node: cst.CSTNode,
         prune: Callable[[cst.CSTNode], bool] | None = None) -> Iterator[cst.CSTNode]:
    """``node`` and every node below it, parents before children, in field order.
    Below a node for which ``prune`` is true nothing is visited (the node itself is)."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        if prune is not None and prune(current):
            continue
        stack.extend(reversed(tuple(children(current))))


def run_visitor(visitor: object, root: cst.CSTNode) -> None:
    """Drive a ``CSTVisitor``-style object (``visit_<Node>`` returning False skips the
    children; ``leave_<Node>`` after them) with this walk instead of ``root.visit``."""
    stack: list[tuple[cst.CSTNode, bool]] = [(root, False)]
    while stack:
        node, leaving = stack.pop()
        name = type(node).__name__
        if leaving:
            leave = getattr(visitor, "leave_" + name, None)
            if leave is not None:
                leave(node)
            continue
        visit = getattr(visitor, "visit_" + name, None)
        descend = visit(node) if visit is not None else None
        stack.append((node, True))
        if descend is not False:
            stack.extend((child, False) for child in reversed(tuple(children(node))))
