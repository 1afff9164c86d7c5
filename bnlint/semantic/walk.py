"""A fast pre-order walk over a libcst tree.

``CSTNode.visit`` rebuilds every node it passes (it is made for transformers), which made
a read-only pass cost more than the parse. This walk only reads the child fields, and
skips the whitespace, comma and parenthesis nodes no analysis looks at.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from functools import cache

import libcst as cst

# Fields that only hold formatting: whitespace, parentheses, separators.
_FORMATTING = ("whitespace", "lpar", "rpar", "lbracket", "rbracket", "lbrace", "rbrace",
               "comma", "semicolon", "colon", "equal", "star", "dot", "leading_lines",
               "lines_after_decorators", "footer", "header", "newline", "indent",
               "lines_after", "asynchronous", "default_indent", "default_newline")


@cache
def _child_fields(kind: type[cst.CSTNode]) -> tuple[str, ...]:
    return tuple(
        item.name for item in dataclasses.fields(kind)
        if not item.name.startswith(_FORMATTING) and item.name != "operator"
    )


def children(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """The child nodes of ``node`` that carry code, in source order."""
    for name in _child_fields(type(node)):
        value = getattr(node, name)
        if isinstance(value, cst.CSTNode):
            yield value
        elif isinstance(value, (tuple, list)):
            for item in value:
                if isinstance(item, cst.CSTNode):
                    yield item


def walk(node: cst.CSTNode,
         prune: Callable[[cst.CSTNode], bool] | None = None) -> Iterator[cst.CSTNode]:
    """``node`` and every node below it, parents before children, in source order.
    Below a node for which ``prune`` is true nothing is visited (the node itself is)."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        if prune is not None and prune(current):
            continue
        stack.extend(reversed(tuple(children(current))))
