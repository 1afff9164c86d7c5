"""Small fine-tuning facts the BN205-BN211 rules share on top of
``bnlint.semantic.workflow`` (candidates to move there)."""

from __future__ import annotations

from collections.abc import Iterator

from bnlint.semantic import workflow as wf
from bnlint.semantic.events import Event
from bnlint.semantic.model import SemanticModel
from bnlint.semantic.values import Const, Layer

# Keras layers without weights: their `trainable` flag trains nothing.
WEIGHTLESS = frozenset({
    "Activation", "Add", "AlphaDropout", "Average", "AveragePooling1D", "AveragePooling2D",
    "AveragePooling3D", "CenterCrop", "Concatenate", "Cropping1D", "Cropping2D",
    "Cropping3D", "Dropout", "ELU", "Flatten", "GaussianDropout", "GaussianNoise",
    "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D",
    "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D", "InputLayer",
    "LeakyReLU", "Maximum", "MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "Minimum",
    "Multiply", "Permute", "RandomBrightness", "RandomContrast", "RandomCrop", "RandomFlip",
    "RandomHeight", "RandomRotation", "RandomTranslation", "RandomWidth", "RandomZoom",
    "ReLU", "RepeatVector", "Rescaling", "Reshape", "Resizing", "Softmax",
    "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "Subtract",
    "UpSampling1D", "UpSampling2D", "UpSampling3D", "ZeroPadding1D", "ZeroPadding2D",
    "ZeroPadding3D",
})


def is_weightless(layer: Layer) -> bool:
    """A built-in Keras layer that certainly has no weights (pooling, dropout, ...)."""
    if layer.is_model or layer.children or layer.opaque or layer.user_class is not None:
        return False
    return layer.qualname.rsplit(".", 1)[-1] in WEIGHTLESS and layer.qualname.startswith(
        ("keras.", "tensorflow.", "tf_keras.", "tf.")
    )


def flattened_into(container: Layer) -> list[Layer]:
    """Bases whose layers became ``container``'s own (built on ``base.output`` or via
    ``input_tensor=``)."""
    return [w.child for w in container.children if w.mode == "flattened"]


def inside(layer: Layer, container: Layer) -> bool:
    """Is ``layer`` the container itself, tracked inside it, or flattened into it?"""
    return layer is container or layer in container.descendants() or layer in flattened_into(
        container
    )


def touches(event: Event, layer: Layer) -> bool:
    """Could this ``set_trainable`` event change (part of) ``layer``'s trainability? True
    for the layer itself, a container of it, a layer inside it, or a selection of any of
    those; also for a target the model does not know (conservative)."""
    if event.kind != "set_trainable":
        return False
    target = event.layer
    if target is None:
        return True
    return inside(target, layer) or inside(layer, target)


def is_const(event: Event, value: bool) -> bool:
    return isinstance(event.value, Const) and event.value.value is value


def between(model: SemanticModel, start: Event | None, end: Event | None) -> Iterator[Event]:
    """Events strictly after ``start`` (from the beginning when None) and strictly
    before ``end`` (to the end when None)."""
    started = start is None
    for event in model.events:
        if event is end:
            return
        if started:
            yield event
        elif event is start:
            started = True


def position(model: SemanticModel, event: Event) -> int:
    for index, other in enumerate(model.events):
        if other is event:
            return index
    return -1


def last_freeze(model: SemanticModel, base: Layer, before: Event) -> Event | None:
    """The last trusted ``trainable = False`` on ``base`` or a container of it before
    ``before``."""
    found: Event | None = None
    for event in between(model, None, before):
        if wf.trusted(event) and wf.freezes(event, base):
            found = event
    return found


def parts(model: Layer) -> list[Layer]:
    """The model and every tracked layer inside it."""
    return [model, *model.descendants()]
