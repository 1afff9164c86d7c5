"""Calls in the arms of ``if`` statements that the replay decided against.

``if use_bn:`` on a known value runs one arm (see ``StatementReplay.exec_if``): the
other is code the program as written does not run, but a caller or a setting that gives
another value does (`if self.m == 2: ... else: BatchNormalization(momentum=bn_mom)`).
Rules that judge how a single call is written (a PyTorch-style momentum) read those
calls too: the callee is resolved from the names bound where the ``if`` stood."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bnlint.semantic.events import Context
from bnlint.semantic.model import CallSite
from bnlint.semantic.names import canonical
from bnlint.semantic.syntax import dotted
from bnlint.semantic.values import ModuleRef
from bnlint.semantic.walk import walk

if TYPE_CHECKING:
    import libcst as cst

    from bnlint.semantic.replay import Env
else:
    from bnlint.lazy import libcst as cst

# Where an arm's code runs: on no path the replay took.
_SKIPPED = Context(definite=False)


def skipped_calls(arm: cst.CSTNode, env: Env) -> list[CallSite]:
    """The calls in ``arm`` whose callee is an imported symbol (``layers.BatchNormalization``
    with ``layers`` bound to ``keras.layers`` in ``env``), with their canonical names."""
    found: list[CallSite] = []
    for node in walk(arm):
        if not isinstance(node, cst.Call):
            continue
        written = dotted(node.func)
        if written is None:
            continue
        head, _, rest = written.partition(".")
        bound = env.lookup(head)
        if isinstance(bound, ModuleRef):
            name = canonical(f"{bound.name}.{rest}" if rest else bound.name)
            found.append(CallSite(node, name, _SKIPPED))
    return found
