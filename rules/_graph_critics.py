"""TF1 graph code's gradient penalties (for BN403): ``tf.gradients(critic(x, ...),
[x])`` whose norm is taken, where ``critic`` is a function or method of the project that
builds a TF1 batch normalization in training mode."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from bnlint.rule import Report
from bnlint.semantic.model import CallSite, SemanticModel
from bnlint.semantic.names import GRAPH_GRADIENTS, keras_api
from bnlint.semantic.values import Const, Opaque
from bnlint.semantic.walk import walk

from ._arguments import argument, keyword
from ._penalty_syntax import (
    Functions,
    bound_once,
    keyword_or_position,
    norm_taken_of,
)

if TYPE_CHECKING:
    import libcst as cst
else:
    from bnlint.lazy import libcst as cst


def graph_report(node: cst.CSTNode, critic: cst.Call, module: cst.Module) -> Report:
    label = f"`{module.code_for_node(critic.func)}`"
    return Report(
        node,
        f"this gradient penalty differentiates {label}, whose graph runs batch "
        "normalization in training mode: BN normalises each sample with the statistics of "
        "the whole batch, so per-sample input gradients mix the batch and the penalty no "
        "longer bounds each sample's gradient; use layer normalization (or no "
        "normalisation) in the critic",
        related=((critic, "critic called in training mode here"),),
    )


def graph_penalties(model: SemanticModel, names: dict[int, str],
                    functions: Functions) -> Iterator[tuple[cst.Call, cst.Call]]:
    """TF1 graph code: ``tf.gradients(critic(x, ...), [x])`` (the critic's output may be
    bound to a name first, ``_, d_inter, _ = critic(x, True, reuse=True)``) whose norm is
    taken, where the call of ``critic`` (a function of the project) builds a TF1 batch
    normalization (``tf.layers.batch_normalization``, ``slim.batch_norm``) in training
    mode."""
    api = keras_api()
    normalizations = [call for call in model.calls if call.name in api.tf1_bn_functions]
    if not normalizations:
        return
    called: set[str] | None = None
    for call in model.calls:
        if call.name not in GRAPH_GRADIENTS or not call.context.definite:
            continue  # (a penalty in an arm that may not run is found on its own path)
        if not call.context.call_sites and call.context.entry is not None:
            # a function the file calls is judged by its callers' replays, not replayed
            # on its own as if every run called it
            called = _called_names(model.module) if called is None else called
            if call.context.entry.rpartition(".")[2] in called:
                continue
        target = argument(call.node, "ys", 0)
        sources = argument(call.node, "xs", 1)
        if target is None or sources is None:
            continue
        source = sources.value
        if isinstance(source, (cst.List, cst.Tuple)) and len(source.elements) == 1:
            source = source.elements[0].value
        critic = _producing_call(target.value, functions.innermost(call.node), model.module)
        first = argument(critic, "x", 0) if critic is not None else None
        if critic is None or first is None or not isinstance(source, cst.Name) or not (
                isinstance(first.value, cst.Name) and first.value.value == source.value):
            continue
        if not norm_taken_of(call.node, model, names, functions):
            continue
        if any(any(site is critic for site in bn.context.call_sites)
               and _graph_training(bn, critic, model, functions) for bn in normalizations):
            yield call.node, critic


def _called_names(module: cst.Module) -> set[str]:
    """The names the module calls (``f(...)``, ``self.f(...)``, ``obj.f(...)``)."""
    return {found.func.value if isinstance(found.func, cst.Name) else found.func.attr.value
            for found in walk(module) if isinstance(found, cst.Call)
            and isinstance(found.func, (cst.Name, cst.Attribute))}


def _producing_call(node: cst.BaseExpression, scope: cst.FunctionDef | None,
                    module: cst.Module) -> cst.Call | None:
    """The call of a project function whose result ``node`` is: the call itself, or a
    name bound once in ``scope`` to it (also unpacked: ``_, logits, _ = critic(x)``)."""
    if isinstance(node, cst.Subscript):
        node = node.value  # `critic(x)[0]`
    if isinstance(node, cst.Name):
        bound = bound_once(node.value, scope, module)
        node = bound if bound is not None else node
    if not isinstance(node, cst.Call):
        return None
    func = node.func  # `critic(...)`, or a method of the same object: `self.critic(...)`
    method = isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and (
        func.value.value == "self")
    return node if isinstance(func, cst.Name) or method else None


# TF1 batch normalizations whose mode argument defaults to training (`is_training=True`)
_TRAINING_BY_DEFAULT = frozenset({"tf.contrib.layers.batch_norm", "tf.contrib.slim.batch_norm",
                                  "tf.contrib.slim.layers.batch_norm"})


_PLACEHOLDERS = frozenset({"tf.placeholder", "tf.compat.v1.placeholder"})


def _graph_training(bn: CallSite, critic: cst.Call, model: SemanticModel,
                    functions: Functions) -> bool:
    """Does the TF1 batch normalization ``bn``, built by the call ``critic``, run in
    training mode? Its ``training=`` is True as replayed, or not given where it defaults
    to True (outside an ``arg_scope``, which may set it), or a boolean placeholder that
    the critic's call is handed directly and that every ``feed_dict`` of the module
    feeds ``True``."""
    value = bn.training
    if value is None:
        return bn.name in _TRAINING_BY_DEFAULT and not bn.in_arg_scope
    if isinstance(value, Const):
        return value.value is True and not value.assumed
    if not isinstance(value, Opaque) or bn.context.call_sites[-1:] != (critic,):
        return False
    handed = _argument_for(critic, value.name, functions, model.module)
    return handed is not None and _fed_true(handed, critic, model, functions)


def _argument_for(call: cst.Call, parameter: str, functions: Functions,
                  module: cst.Module) -> str | None:
    """The name handed to ``parameter`` of the module function ``call`` calls."""
    found = keyword(call, parameter)
    if found is None:
        definition = next((node for node in module.body if isinstance(node, cst.FunctionDef)
                           and isinstance(call.func, cst.Name)
                           and node.name.value == call.func.value), None)
        if definition is None:
            return None
        found = keyword_or_position(call, definition, parameter)
    return found.value.value if found is not None and isinstance(found.value, cst.Name) else None


def _fed_true(name: str, critic: cst.Call, model: SemanticModel, functions: Functions) -> bool:
    """``name`` is bound once, where the critic is called, to a boolean placeholder, and
    the ``feed_dict``s of that function (``sess.run(op, {name: True})`` too) feed it
    ``True``: those of the runs that train (their fetches hold a ``minimize`` or
    ``apply_gradients`` op bound in the function; sampling with ``False`` runs no
    penalty), else all of them. A feed the function builds elsewhere leaves it
    unknown."""
    scope = functions.innermost(critic)
    bound = bound_once(name, scope, model.module)
    names = {id(call.node): call.name for call in model.calls}
    if not isinstance(bound, cst.Call) or names.get(id(bound)) not in _PLACEHOLDERS:
        return False
    fed: list[tuple[bool, cst.BaseExpression]] = []
    for call in model.calls:
        if call.method != "run" or functions.innermost(call.node) is not scope:
            continue
        feed = argument(call.node, "feed_dict", 1)
        if feed is None:
            continue
        value = feed.value
        if isinstance(value, cst.Name):
            value = bound_once(value.value, scope, model.module) or value
        if not isinstance(value, cst.Dict):
            return False  # (a feed built elsewhere may feed anything)
        fetches = argument(call.node, "fetches", 0)
        trains = fetches is not None and _fetches_train_op(fetches.value, scope, model.module)
        fed.extend((trains, element.value) for element in value.elements
                   if isinstance(element, cst.DictElement)
                   and isinstance(element.key, cst.Name) and element.key.value == name)
    if any(trains for trains, _ in fed):
        fed = [(trains, value) for trains, value in fed if trains]
    return bool(fed) and all(isinstance(value, cst.Name) and value.value == "True"
                             for _, value in fed)


_TRAIN_OPS = frozenset({"minimize", "apply_gradients"})


def _fetches_train_op(fetches: cst.BaseExpression, scope: cst.FunctionDef | None,
                      module: cst.Module) -> bool:
    """Do the fetches of a ``sess.run`` hold a train op: a name bound once in ``scope``
    to ``optimizer.minimize(...)`` / ``apply_gradients(...)``?"""
    for found in walk(fetches):
        if isinstance(found, cst.Name):
            bound = bound_once(found.value, scope, module)
            if isinstance(bound, cst.Call) and isinstance(bound.func, cst.Attribute) and (
                    bound.func.attr.value in _TRAIN_OPS):
                return True
    return False
