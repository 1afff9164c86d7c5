"""Evidence-chain steps that several BN2xx rules report alike."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from bnlint.semantic import workflow as wf

if TYPE_CHECKING:
    import libcst as cst

    from bnlint.semantic.model import SemanticModel


def unfrozen_base_steps(model: SemanticModel,
                        found: wf.UnfrozenBnBase) -> Iterator[tuple[cst.CSTNode, str]]:
    """The steps every "unfrozen BN base trains in training mode" finding shows: where
    the base is created, any partial re-freeze that leaves its last BN layers trainable,
    the recompile, and the fit. (The engine orders related locations by position.)"""
    name = wf.describe(found.base)
    loaded = found.base.pretrained_node
    source = found.base.restored_from
    if source is not None:
        yield (found.base.node,
               (f"{name} is loaded here from the checkpoint of {wf.describe(source)}, "
                "written while its BatchNormalization layers were frozen"))
    elif loaded is None or loaded is found.base.node:
        yield (found.base.node,
               f"{name} is created here with pretrained weights and BatchNormalization layers")
    else:
        yield found.base.node, f"{name} is created here with BatchNormalization layers"
        yield loaded, "pretrained weights are loaded into it here"
    for refreeze in wf.partial_refreezes(model, found.base, found.unfreeze, found.phase.fit):
        yield refreeze.node, ("only the first layers are frozen again here: the "
                              "BatchNormalization layers near the end stay trainable")
    if found.phase.compile is not None:
        yield found.phase.compile.node, "recompiled here: the unfreeze takes effect"
    if found.phase.fit.kind == "fit":
        yield found.phase.fit.node, "fit() calls the model with training=True here"
    else:
        yield found.phase.fit.node, "the training step calls the model with training=True here"
