"""Positions of the few nodes a report names, exactly as libcst's PositionProvider gives
them, without computing one for every node of the module.

PositionProvider generates the module's code and records a range for each node as it
goes (a ``CodeRange`` object per node, a line/column update per token), after a full
``visit`` of the tree that rebuilds every node. Here the code is generated once with a
state that remembers only where the wanted nodes start and end (as indices into the
token list), stops as soon as the last of them is closed, and turns those indices into
lines and columns afterwards, with the same rules as PositionProvider. Syntactic
positions are followed as libcst defines them: a node whose range is hoisted from a
child's (a block ends where its last statement ends) makes that child wanted too.
"""

from __future__ import annotations

import re
import sys
import threading
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext
from types import TracebackType
from typing import TYPE_CHECKING, TypeVar

from libcst._nodes.internal import CodegenState  # the base of libcst's own position states

if TYPE_CHECKING:
    import libcst as cst
    from libcst.metadata import CodeRange

_NEWLINE = re.compile(r"\r\n?|\n")  # PositionProvider's line breaks
_NOTHING: AbstractContextManager[None] = nullcontext()

_T = TypeVar("_T")


class _Finished(Exception):
    """Every wanted node has its range: the rest of the module need not be generated."""


class _Hoisted(Exception):
    """A syntactic range hoists a child's range that was not recorded (libcst generated
    that child outside the parent's span, which it does not do today)."""


class _Recorder(CodegenState):
    """A codegen state that keeps the tokens and, for the wanted nodes only, the token
    indices where each starts and ends (``ranges``)."""

    __slots__ = ("opened", "ranges", "wanted")

    def __init__(self, module: cst.Module, wanted: dict[int, cst.CSTNode]) -> None:
        super().__init__(default_indent=module.default_indent,
                         default_newline=module.default_newline)
        self.wanted = wanted
        self.opened: dict[int, list[int]] = {}
        self.ranges: dict[int, tuple[int, int]] = {}

    def before_codegen(self, node: cst.CSTNode) -> None:
        key = id(node)
        if key in self.wanted:
            self.opened.setdefault(key, []).append(len(self.tokens))

    def after_codegen(self, node: cst.CSTNode) -> None:
        key = id(node)
        if key not in self.wanted:
            return
        starts = self.opened.get(key)
        if not starts:  # wanted only since it was entered: a range it cannot have
            return
        start = starts.pop()
        if key not in self.ranges:  # a syntactic range, recorded inside, wins
            self.ranges[key] = (start, len(self.tokens))
        if len(self.ranges) == len(self.wanted):
            raise _Finished

    def pop_trailing_newline(self) -> None:
        """Keep every token: PositionProvider does not move a position back either."""

    # libcst annotates this with its own implementation's type (a generator-based context
    # manager); its callers only enter and exit it, and a plain object does that cheaper.
    def record_syntactic_position(  # type: ignore[override]
        self,
        node: cst.CSTNode,
        *,
        start_node: cst.CSTNode | None = None,
        end_node: cst.CSTNode | None = None,
    ) -> AbstractContextManager[None]:
        if id(node) not in self.wanted:
            return _NOTHING
        for hoisted in (start_node, end_node):
            if hoisted is not None:
                self.wanted.setdefault(id(hoisted), hoisted)
        return _Syntactic(self, node, start_node, end_node)


class _Syntactic:
    """The range of a wanted node without its leading and trailing whitespace, as
    ``PositionProvidingCodegenState.record_syntactic_position`` computes it."""

    __slots__ = ("end_node", "node", "start", "start_node", "state")

    def __init__(self, state: _Recorder, node: cst.CSTNode, start_node: cst.CSTNode | None,
                 end_node: cst.CSTNode | None) -> None:
        self.state, self.node = state, node
        self.start_node, self.end_node = start_node, end_node
        self.start = 0

    def __enter__(self) -> None:
        self.start = len(self.state.tokens)

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if kind is not None:
            return
        ranges = self.state.ranges
        start, end = self.start, len(self.state.tokens)
        try:
            if self.start_node is not None:
                start = ranges[id(self.start_node)][0]
            if self.end_node is not None:
                end = ranges[id(self.end_node)][1]
        except KeyError:
            raise _Hoisted from None
        ranges[id(self.node)] = (start, end)


def node_ranges(module: cst.Module, nodes: Iterable[cst.CSTNode]) -> dict[int, CodeRange]:
    """The PositionProvider range of each of ``nodes`` (nodes of ``module``), keyed by
    ``id(node)``. A node that is not in the module has no entry."""
    targets = {id(node): node for node in nodes}
    if not targets:
        return {}
    return with_stack_room(module, lambda: _ranges(module, targets))


def _ranges(module: cst.Module, targets: dict[int, cst.CSTNode]) -> dict[int, CodeRange]:
    state = _Recorder(module, dict(targets))
    try:
        module._codegen(state)
    except _Finished:
        pass
    except _Hoisted:  # pragma: no cover - libcst hoists only from children it generates
        return _provider_ranges(module, targets)
    ranges = state.ranges
    return _to_lines(state.tokens, {key: ranges[key] for key in targets if key in ranges})


def _provider_ranges(module: cst.Module,
                     targets: dict[int, cst.CSTNode]) -> dict[int, CodeRange]:  # pragma: no cover
    from libcst.metadata import MetadataWrapper, PositionProvider

    every = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    return {key: every[node] for key, node in targets.items() if node in every}


def _to_lines(tokens: list[str], ranges: dict[int, tuple[int, int]]) -> dict[int, CodeRange]:
    """Token indices to lines and columns: what PositionProvider's state would hold after
    adding that many tokens, one by one."""
    from libcst.metadata import CodePosition, CodeRange

    at: dict[int, CodePosition] = {}
    line, column, done = 1, 0, 0
    for mark in sorted({index for pair in ranges.values() for index in pair}):
        chunk = "".join(tokens[done:mark])
        if "\r" in chunk:
            # a "\r" token followed by a "\n" token is two line breaks, one by one
            for token in tokens[done:mark]:
                segments = _NEWLINE.split(token)
                if len(segments) == 1:
                    column += len(token)
                else:
                    line += len(segments) - 1
                    column = len(segments[-1])
        else:
            breaks = chunk.count("\n")
            if breaks:
                line += breaks
                column = len(chunk) - chunk.rfind("\n") - 1
            else:
                column += len(chunk)
        done = mark
        at[mark] = CodePosition(line, column)
    return {key: CodeRange(at[start], at[end]) for key, (start, end) in ranges.items()}


# libcst walks (and generates code for) a tree recursively, about three frames per tree
# level: a flat `a + a + ... + a` of 330 terms is already deeper than Python's default
# limit allows.
_FRAMES_PER_LEVEL = 4
_STACK_PER_LEVEL = 16 * 1024  # bytes of C stack, generously (generators re-enter C)
_DEEPEST = 20_000  # tree levels; CPython itself gives up on far shallower expressions


def with_stack_room(module: cst.Module, compute: Callable[[], _T]) -> _T:
    """``compute()``, a recursive pass over ``module``. A tree too deep for the current
    recursion limit is passed over again in a thread with room for its depth, so that a
    long expression costs time, not a crash."""
    try:
        return compute()
    except RecursionError:
        depth = tree_depth(module)
        if depth > _DEEPEST:
            raise
    outcome: list[_T | BaseException] = []

    def run() -> None:
        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(limit + _FRAMES_PER_LEVEL * depth)
        try:
            outcome.append(compute())
        except BaseException as error:  # noqa: BLE001 - handed to the caller below
            outcome.append(error)
        finally:
            sys.setrecursionlimit(limit)

    stack_size = threading.stack_size(_STACK_PER_LEVEL * depth + 8 * 1024 * 1024)
    try:
        worker = threading.Thread(target=run, name="bnlint-positions")
        worker.start()
        worker.join()
    finally:
        threading.stack_size(stack_size)
    result = outcome[0]
    if isinstance(result, BaseException):
        raise result
    return result


def tree_depth(module: cst.CSTNode) -> int:
    """The number of levels of the tree, counted without recursion."""
    deepest = 0
    stack: list[tuple[cst.CSTNode, int]] = [(module, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in node.children)
    return deepest
