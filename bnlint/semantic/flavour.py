"""Decides which Keras flavour a file targets (``target-keras = "auto"``)."""

from __future__ import annotations

from bnlint.flavour import Flavour
from bnlint.semantic.model import SemanticModel
from bnlint.settings import Settings

_TF1_CALLS = (
    "tf.compat.v1.disable_v2_behavior",
    "tf.compat.v1.disable_eager_execution",
    "tf.disable_v2_behavior",
)


def resolve_flavour(
    model: SemanticModel, settings: Settings, project: Flavour | None
) -> Flavour:
    """Configuration wins; then what the file itself says about the installed Keras
    (imports of ``tf_keras``, ``TF_USE_LEGACY_KERAS``); then the project's pins; then
    TF1 graph-mode idioms; then Keras 3."""
    if settings.target_keras != "auto":
        return Flavour(settings.target_keras, settings.keras_version, "configured target-keras")
    version = settings.keras_version
    if any(name == "tf_keras" or name.startswith("tf_keras.") for name in model.imports):
        return Flavour("tf-keras", version, "the file imports tf_keras")
    if model.legacy_keras_env:
        return Flavour("tf-keras", version, "the file sets TF_USE_LEGACY_KERAS=1")
    if project is not None:
        # A pin says which Keras is installed; graph-mode idioms do not change that.
        if version is not None and project.version is None:
            return Flavour(project.name, version, project.reason)
        return project
    if _tf1_graph_mode(model):
        return Flavour("tf1", version, "the file uses TF1 graph mode (tf.compat.v1)")
    return Flavour("keras3", version, "default (Keras 3)")


def _tf1_graph_mode(model: SemanticModel) -> bool:
    if any(call.name in _TF1_CALLS for call in model.calls):
        return True
    # ``import tensorflow.compat.v1 as tf`` is the TF1 idiom for graph-mode code.
    return "tensorflow.compat.v1" in model.imports or any(
        name.startswith("tensorflow.contrib") for name in model.imports
    )
