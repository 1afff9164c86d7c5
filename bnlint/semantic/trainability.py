"""What `trainable = value` does to layers: recursive on containers (F7), narrowed
by `model.layers[...]` selections and their BatchNormalization guards, and joined
conservatively where it may not run."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

import libcst as cst

from bnlint.semantic.syntax import literal_int
from bnlint.semantic.values import (
    UNKNOWN,
    Const,
    Layer,
    LayerSelection,
    Tri,
    Value,
)

if TYPE_CHECKING:
    from bnlint.semantic.events import Event


def state_snapshot(layer: Layer) -> dict[str, object]:
    """``trainable`` and ``bn_trainable()`` of ``layer`` and every tracked layer inside
    it, keyed by ``id(layer)``, as they are when a compile/fit/evaluate happens."""
    parts = [layer, *layer.descendants()]
    return {
        "trainable": {id(part): part.trainable for part in parts},
        "bn_trainable": {id(part): part.bn_trainable() for part in parts},
    }


def select_layers(selection: LayerSelection, index: cst.BaseSlice, node: cst.Subscript,
                  position: int | None = None,
                  bounds: tuple[int | None, int | None] | None = None) -> Value:
    """``container.layers[...]``: an element or a slice of the container's layers, at
    the ``position`` or within the ``bounds`` the subscript evaluates to (literals when
    not given). A functional model's list starts with its InputLayers (weightless, never
    tracked)."""
    members = selection.members
    offset = input_layers(selection.container)
    if offset is None:
        members = None
    if isinstance(index, cst.Index):
        position = position if position is not None else literal_int(index.value)
        member: tuple[Layer, ...] | None = None
        if members is not None and offset is not None and position is not None:
            listed: list[Layer | None] = [None] * offset + list(members)
            if -len(listed) <= position < len(listed):
                found = listed[position]
                member = (found,) if found is not None else ()  # () = an InputLayer
        return replace(selection, node=node, extent="one", element=True, members=member)
    if isinstance(index, cst.Slice):
        if index.lower is None and index.upper is None and index.step is None:
            return replace(selection, node=node)
        subset: tuple[Layer, ...] | None = None
        lower, upper = bounds if bounds is not None else (
            literal_int(index.lower), literal_int(index.upper))
        tail = head_tail(selection.container, lower) if (
            index.upper is None and index.step is None) else None
        if tail is not None:
            return replace(selection, node=node, extent="slice", members=tail)
        if members is not None and offset is not None and (
            index.lower is None or lower is not None
        ) and (index.upper is None or upper is not None) and index.step is None:
            listed = [None] * offset + list(members)
            subset = tuple(m for m in listed[lower:upper] if m is not None)
        return replace(selection, node=node, extent="slice", members=subset)
    return UNKNOWN


def select_positions(selection: LayerSelection, node: cst.Subscript, start: int,
                     stop: int) -> LayerSelection:
    """``container.layers[i]`` for ``i`` in ``range(start, stop)``: each layer at those
    positions in turn (the InputLayers that open a functional model's list excluded).
    Which layers, only when the list known holds every position the loop reaches."""
    offset = input_layers(selection.container)
    subset: tuple[Layer, ...] | None = None
    if selection.members is not None and offset is not None:
        listed: list[Layer | None] = [None] * offset + list(selection.members)
        if stop <= len(listed):  # the code counts more layers than are known: unknown
            subset = tuple(member for member in listed[start:stop] if member is not None)
    return replace(selection, node=node, extent="slice", element=True, members=subset,
                   bounds=(start, stop))


def head_tail(container: Layer, lower: int | None) -> tuple[Layer, ...] | None:
    """``model.layers[-2:]`` of a model built on ``base.output``: the last layers, when
    they are all the new head's (none of the base's); None otherwise."""
    head = head_after(container) if flattened_bases(container) else None
    if head is None or lower is None or not -len(head) <= lower < 0:
        return None
    return tuple(head[lower:])


def flattened_bases(container: Layer) -> list[Layer]:
    """Models whose layers became ``container``'s own (built on ``base.output``)."""
    return [wiring.child for wiring in container.children if wiring.mode == "flattened"]


def leading_base(container: Layer) -> Layer | None:
    """The model whose layers open ``container.layers``: a base flattened into it before
    any other layer (``Model(base.input, head(base.output))``)."""
    first = container.children[0] if container.children else None
    return first.child if first is not None and first.mode == "flattened" else None


def head_after(container: Layer) -> tuple[Layer, ...] | None:
    """The layers ``container`` tracks after its last flattened base: the new head
    (None when a layer of unknown kind follows)."""
    head: list[Layer] = []
    for wiring in container.children:
        if wiring.mode == "flattened":
            head = []
        elif wiring.child not in head:
            head.append(wiring.child)
    if container.has_bn is None and not container.children:
        return None
    return tuple(head)


def head_size(container: Layer) -> int | None:
    """How many layers follow the last flattened base in ``container.layers`` (None
    when part of its graph is unknown)."""
    if container.has_bn is None:
        return None
    head = head_after(container)
    return len(head) if head is not None else None


def bn_frozen_by_slice(container: Layer, changes: Iterable[Event]) -> bool:
    """Did the last change of flags across ``container``'s layers (a single layer's
    aside) freeze every BatchNormalization layer of the bases flattened into it? ``for
    layer in model.layers[:-1]: layer.trainable = False`` leaves out only the head the
    program added on top of them."""
    last = None
    for event in changes:
        selection = event.selection
        if event.context.definite and (
                event.target is container and selection is None
                or selection is not None and selection.container is container
                and selection.extent != "one"):
            last = event
    if last is None or not (isinstance(last.value, Const) and last.value.value is False):
        return False
    selection = last.selection
    if selection is None or selection.guard == "bn":
        return True
    if selection.guard != "none":
        return False
    if selection.extent == "all":
        return True
    head = head_size(container)
    if selection.bounds is None or head is None:
        return False
    lower, upper = selection.bounds
    return lower in (None, 0) and upper is not None and -head <= upper < 0 and all(
        wiring.mode == "flattened" for wiring in container.children
        if wiring.child.contains_bn() is not False)


def input_layers(container: Layer) -> int | None:
    """How many InputLayers open ``container.layers`` (None when not known)."""
    if container.model_kind != "functional":
        return 0
    count = container.attrs.get("__input_count__")
    return count.value if isinstance(count, Const) and isinstance(count.value, int) else None


def join_flag(current: Tri, value: Tri, definite: bool) -> Tri:
    """A flag set to ``value``: definitely, or on one path only (it may keep ``current``)."""
    if definite:
        return value
    return current if current == value else None


def apply_to_layer(layer: Layer, value: Tri, definite: bool, forget: bool = False) -> None:
    """``layer.trainable = value`` (recursive, F7); under a branch, states that would
    change become unknown."""
    if forget:
        value, definite = None, True
        if layer.trainable is None and layer.inner_bn_trainable is None:
            return
    targets = [layer, *layer.descendants()]
    for target in targets:
        target.will_change()
        target.trainable = join_flag(target.trainable, value, definite)
        target.inner_bn_trainable = join_flag(target.inner_bn_trainable, value, definite)
        target.inner_other_trainable = join_flag(target.inner_other_trainable, value, definite)


def apply_to_selection(selection: LayerSelection, value: Tri, definite: bool) -> None:
    """``for layer in container.layers[...]: layer.trainable = value`` (with guards).
    The container's own flag does not change: only the selected layers'."""
    container = selection.container
    guard, extent = selection.guard, selection.extent
    if selection.members is not None:
        for member in selection.members:
            if guard == "bn" and not member.is_bn:
                continue
            if guard == "not_bn" and member.is_bn:
                continue
            apply_to_layer(member, value, definite)
        return
    if extent == "one" or value is None or selection.anchor != "none":
        # which layers are unknown: anything that might change becomes unknown
        value_for_all: Tri = None
        for target in opaque_parts(container):
            target.will_change()
            if guard != "not_bn" and target.inner_bn_trainable != value:
                target.inner_bn_trainable = None
            if guard != "bn" and target.inner_other_trainable != value:
                target.inner_other_trainable = None
        for child in tracked_members(container):
            if value_for_all is None and child.trainable != value:
                apply_to_layer(child, None, definite=False, forget=True)
        return
    leading = flattened_bases(container)
    for target in opaque_parts(container):
        if value is False and (target is container and selection.keeps_bn_tail() or (
                leading == [target] and selection.keeps_bn_tail(target, head_size(container)))):
            continue  # the re-frozen head leaves the BN layers at the end as they were
        target.will_change()
        if guard != "not_bn":
            target.inner_bn_trainable = slice_merge(target.inner_bn_trainable, value, extent,
                                                     definite)
        if guard != "bn":
            target.inner_other_trainable = slice_merge(target.inner_other_trainable, value,
                                                        extent, definite)
    for child in tracked_members(container):
        if guard == "bn" and not child.is_bn:
            continue
        if guard == "not_bn" and child.is_bn:
            continue
        if extent == "all":
            apply_to_layer(child, value, definite)
        else:
            apply_to_layer(child, None, definite=False, forget=True)


def tracked_members(container: Layer) -> list[Layer]:
    """The layers of ``container.layers`` that are tracked one by one: its own children
    and those of the bases flattened into it (``Model(base.input, head(base.output))``
    lists the base's layers as its own)."""
    members: list[Layer] = []
    for part in opaque_parts(container):
        for wiring in part.children:
            if wiring.mode != "flattened" and wiring.child not in members:
                members.append(wiring.child)
    return members


def opaque_parts(container: Layer) -> list[Layer]:
    """The container itself (its untracked inner layers) and bases flattened into it."""
    parts = [container]
    for wiring in container.children:
        if wiring.mode == "flattened" and wiring.child not in parts:
            parts.append(wiring.child)
            parts.extend(w.child for w in wiring.child.children if w.mode == "flattened")
    return parts


def slice_merge(current: Tri, value: bool, extent: str, definite: bool) -> Tri:
    """A contiguous slice of an application's layers includes BN and non-BN layers, but
    not all of them: setting True makes "some trainable" true; setting False leaves the
    rest as they were (unknown unless they were already False)."""
    if extent == "all":
        return join_flag(current, value, definite)
    if value is True:
        return join_flag(current, True, definite)
    return current if current is False else None

