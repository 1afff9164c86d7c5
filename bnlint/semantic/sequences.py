"""The batch size of a project's `keras.utils.Sequence` / `PyDataset`: its own
``batch_size`` attribute, or the ``batch_size`` of the settings object it keeps
(``self.cfg = cfg`` in ``__init__``, ``self.cfg.batch_size`` in ``__getitem__``)."""

from __future__ import annotations

import libcst as cst

from bnlint.semantic.replay import BATCH_PARAMETER
from bnlint.semantic.values import (
    UNKNOWN,
    ClassValue,
    Const,
    DictValue,
    Instance,
    ParsedArguments,
    Value,
)

# The methods of a Sequence that slice its batches.
_BATCH_METHODS = ("__getitem__", "__len__")


def sequence_batch_size(sequence: Instance) -> Value:
    """What ``sequence`` takes per batch: its ``batch_size`` attribute, else that of
    the one object it keeps whose ``batch_size`` its ``__getitem__``/``__len__`` read;
    UNKNOWN when neither is known."""
    held = sequence.attrs.get(BATCH_PARAMETER)
    if held is not None:
        return held
    holders = _batch_holders(sequence.owner)
    if len(holders) != 1:
        return UNKNOWN
    holder = sequence.attrs.get(holders[0])
    if isinstance(holder, Instance):
        found = holder.attrs.get(BATCH_PARAMETER, holder.owner.constants.get(BATCH_PARAMETER))
        return found if found is not None else UNKNOWN
    if isinstance(holder, ParsedArguments):
        return holder.attrs.get(BATCH_PARAMETER, UNKNOWN)
    if isinstance(holder, DictValue):
        found = holder.lookup(Const(BATCH_PARAMETER))
        return found if found is not None else UNKNOWN
    return UNKNOWN


def _batch_holders(owner: ClassValue) -> list[str]:
    """The names X of ``self.X.batch_size`` read by the class's batch methods."""
    names: list[str] = []

    class Reads(cst.CSTVisitor):
        def visit_Attribute(self, node: cst.Attribute) -> None:
            inner = node.value
            if node.attr.value == BATCH_PARAMETER and isinstance(inner, cst.Attribute) and (
                    isinstance(inner.value, cst.Name) and inner.value.value == "self"
                    and inner.attr.value not in names):
                names.append(inner.attr.value)

    for method in _BATCH_METHODS:
        function = owner.methods.get(method)
        if function is not None:
            function.node.visit(Reads())
    return names
