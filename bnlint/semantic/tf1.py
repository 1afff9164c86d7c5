"""Is this file TensorFlow 1 code? Evidence the flavour inference does not use yet.

``resolve_flavour`` (``bnlint.semantic.flavour``) recognises TF1 only by
``import tensorflow.compat.v1`` or ``disable_v2_behavior()``. Plain TF 1.x code
(``import tensorflow as tf`` with ``tf.Session``, ``tf.placeholder``, ``tf.layers``...)
therefore defaults to Keras 3, although it cannot run under TF 2. The rules about legacy
APIs (BN301, BN302, BN304, BN305) use the queries below so that such files are judged as
TF1 code (a gap to close in ``resolve_flavour`` itself).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bnlint.semantic.model import SemanticModel
from bnlint.semantic.walk import run_visitor

if TYPE_CHECKING:
    import libcst as cst

    from bnlint.flavour import FlavourName
    from bnlint.rule import RuleContext

# Canonical names that exist only in TensorFlow 1.x (not in the TF 2 namespace).
_TF1_ONLY_EXACT = frozenset({
    "tf.Session",
    "tf.InteractiveSession",
    "tf.placeholder",
    "tf.placeholder_with_default",
    "tf.get_variable",
    "tf.variable_scope",
    "tf.global_variables_initializer",
    "tf.local_variables_initializer",
    "tf.GraphKeys",
    "tf.get_collection",
    "tf.train.Saver",
    "tf.enable_eager_execution",
    "tf.disable_v2_behavior",
})
_TF1_ONLY_PREFIXES = ("tf.contrib.", "tf.layers.")
# Graph-mode markers that TF 2 keeps under ``tf.compat.v1``.
_GRAPH_MODE_COMPAT = frozenset({
    "tf.compat.v1.Session",
    "tf.compat.v1.InteractiveSession",
    "tf.compat.v1.placeholder",
    "tf.compat.v1.placeholder_with_default",
    "tf.compat.v1.disable_eager_execution",
    "tf.compat.v1.disable_v2_behavior",
    "tf.compat.v1.train.MonitoredTrainingSession",
    "tf.compat.v1.estimator.EstimatorSpec",
})


def _names(model: SemanticModel) -> set[str]:
    """Canonical names the file calls or refers to."""
    names = {call.name for call in model.calls if call.name is not None}
    names.update(reference.name for reference in model.references)
    return names


def is_tf1_only_name(name: str) -> bool:
    """Does ``name`` (canonical) exist only in TensorFlow 1.x?"""
    if name in _TF1_ONLY_EXACT or name.startswith(_TF1_ONLY_PREFIXES):
        return True
    return name.startswith("tf.train.") and name.endswith("Optimizer")


def uses_tf1_only_api(model: SemanticModel) -> bool:
    """The file uses a symbol that TensorFlow 2 no longer has: it is TF 1.x code."""
    return any(is_tf1_only_name(name) for name in _names(model))


def uses_graph_mode(model: SemanticModel) -> bool:
    """TF 1.x code, or TF 2 code that builds a graph (sessions, placeholders,
    Estimator)."""
    names = _names(model)
    if any(name.endswith("enable_eager_execution") for name in names):
        return False
    if any(is_tf1_only_name(name) for name in names):
        return True
    return any(name in _GRAPH_MODE_COMPAT or name.startswith("tf.estimator.")
               for name in names)


def effective_flavour(ctx: RuleContext) -> FlavourName:
    """The target flavour, except that a file inferred as Keras 3 which uses TF 1-only
    symbols is judged as TF1 code (a configured target always wins)."""
    name = ctx.flavour.name
    if name == "keras3" and ctx.settings.target_keras == "auto" and uses_tf1_only_api(ctx.model):
        return "tf1"
    return name


# The value of ``tf.GraphKeys.UPDATE_OPS``.
_UPDATE_OPS_KEY = "update_ops"


def names_update_ops(module: cst.Module) -> bool:
    """Does the code itself refer to the UPDATE_OPS collection: a name or attribute
    containing ``update_ops`` (``tf.GraphKeys.UPDATE_OPS``, ``extra_update_ops``,
    ``UPDATE_OPS_COLLECTION``) or the key ``"update_ops"`` as a string? Comments,
    docstrings and messages that merely mention the words do not count."""
    finder = _UpdateOpsFinder()
    run_visitor(finder, module)
    return finder.found


class _UpdateOpsFinder:
    def __init__(self) -> None:
        self.found = False

    def visit_Name(self, node: cst.Name) -> None:
        if _UPDATE_OPS_KEY in node.value.lower():
            self.found = True

    def visit_SimpleString(self, node: cst.SimpleString) -> None:
        value = node.evaluated_value
        if isinstance(value, str) and value == _UPDATE_OPS_KEY:
            self.found = True
