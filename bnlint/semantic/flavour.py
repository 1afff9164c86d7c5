"""Decides which Keras flavour a file targets (``target-keras = "auto"``)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bnlint.flavour import Flavour
from bnlint.semantic.model import SemanticModel
from bnlint.settings import Settings

if TYPE_CHECKING:
    from bnlint.project import Project

TF_KERAS_PACKAGE = (2, 15)
# Modules of Keras 2 (standalone or tf.keras) that Keras 3 removed.
_KERAS2_MODULES = (
    "keras.engine", "keras.layers.merge", "keras.layers.advanced_activations",
    "keras.layers.core", "keras.layers.convolutional", "keras.layers.normalization",
    "keras.layers.pooling", "keras.layers.recurrent", "keras.utils.np_utils",
    "keras.utils.vis_utils", "keras.utils.generic_utils", "keras.wrappers",
    "keras.backend.tensorflow_backend", "keras.legacy",
)
# Modules that only standalone Keras 2 (not the `keras` package behind tf.keras) had.
_STANDALONE_KERAS_MODULES = ("keras.backend.tensorflow_backend",)
# Model methods that Keras 3 removed.
_KERAS2_METHODS = frozenset({"fit_generator", "predict_generator", "evaluate_generator"})
# Functions of Keras 2's backend that Keras 3 removed (TF1 sessions).
_KERAS2_FUNCTIONS = ("keras.backend.get_session", "keras.backend.set_session")
# TensorFlow's own copy of Keras 2, importable until TensorFlow 2.15.
_TF_BUNDLED_KERAS = "tensorflow.python.keras"
# Modules only Keras 3 (or libraries built on it) has.
_KERAS3_MODULES = ("keras_hub", "keras.ops", "keras.config", "keras.random", "keras.tree")
# What only TensorFlow 2 has: TF 1.15 kept summary writers in `tf.contrib.summary` and
# `tf.compat.v2.summary`, and listed devices under `tf.config.experimental` (the
# stable `tf.config.list_physical_devices` came with TF 2.1).
_TF2_ONLY = frozenset({"tf.summary.create_file_writer", "tf.config.list_physical_devices"})
# What TensorFlow 2 removed from its top level (kept in `tf.compat.v1`).
_TF1_ONLY = frozenset({"tf.placeholder", "tf.Session", "tf.InteractiveSession",
                       "tf.get_collection", "tf.global_variables_initializer",
                       "tf.variable_scope", "tf.get_variable", "tf.train.AdamOptimizer"})
_COMPAT_V1 = "tensorflow.compat.v1"
ASSUMED = "assumed (nothing says which Keras)"
# What TF 2 programs take from `tensorflow.compat.v1` to set up the GPU session.
_SESSION_SETTINGS = frozenset({"ConfigProto", "InteractiveSession", "GPUOptions", "logging"})
_TF1_CALLS = (
    "tf.compat.v1.disable_v2_behavior",
    "tf.compat.v1.disable_eager_execution",
    "tf.disable_v2_behavior",
)


def resolve_flavour(
    model: SemanticModel, settings: Settings, project: Flavour | None,
    legacy_keras_env: bool = False, python2: bool = False,
) -> Flavour:
    """Configuration wins; then what the file itself says about the installed Keras
    (Python 2 code, read as its port when ``python2``, ran on Keras 2 only; imports of
    ``tf_keras`` or ``tensorflow.python.keras``, ``TF_USE_LEGACY_KERAS``,
    also set by a notebook's ``%env`` when ``legacy_keras_env``); then the project's
    pins (a TensorFlow 1 pin is stale beside code calling what only TensorFlow 2 has);
    then TF1 graph-mode idioms; then APIs that exist in only one generation of
    Keras, in the file or in the project's modules that import it; else the flavour is
    unknown: Keras 3, marked as assumed, so that rules whose
    verdict depends on the flavour say nothing."""
    if settings.target_keras != "auto":
        return Flavour(settings.target_keras, settings.keras_version, "configured target-keras")
    version = settings.keras_version
    if python2:  # Keras 3 and TensorFlow after 2.1 need Python 3
        standalone = not _tf_keras_only(model)
        return Flavour("keras2" if standalone else "tf-keras", version,
                       "the file is Python 2 code, which only Keras 2 ran on")
    # the tf_keras package exists from TensorFlow 2.15 on
    if any(name == "tf_keras" or name.startswith("tf_keras.") for name in model.imports):
        return Flavour("tf-keras", version or TF_KERAS_PACKAGE, "the file imports tf_keras")
    if model.legacy_keras_env or legacy_keras_env:
        return Flavour("tf-keras", version or TF_KERAS_PACKAGE,
                       "the file sets TF_USE_LEGACY_KERAS=1")
    if any(name == _TF_BUNDLED_KERAS or name.startswith(_TF_BUNDLED_KERAS + ".")
           for name in model.imports):
        return Flavour("tf-keras", version, f"the file imports `{_TF_BUNDLED_KERAS}`, "
                       "TensorFlow's bundled Keras 2")
    if project is not None and project.name == "keras2" and _tf_keras_only(model):
        # a standalone Keras pin says nothing about `tf.keras`, which TensorFlow bundles
        project = project.bundled or Flavour(
            "tf-keras", None, f"{project.reason} is standalone Keras; the file uses only "
            "tf.keras")
    stale = _tf2_api(model) if project is not None and project.name == "tf1" else None
    if project is not None and stale is None:
        # A pin says which Keras is installed; graph-mode idioms do not change that.
        if version is not None and project.version is None:
            return Flavour(project.name, version, project.reason)
        return project
    # (a TensorFlow 1 pin beside code that calls what only TensorFlow 2 has is stale:
    # the code ran elsewhere, and says itself what it can)
    if _tf1_graph_mode(model):
        return Flavour("tf1", version, "the file uses TF1 graph mode (tf.compat.v1)")
    old, new = _keras2_signal(model), _keras3_signal(model)
    if new is not None and old is None:
        return Flavour("keras3", version, f"the file uses `{new}`, which only Keras 3 has")
    if old is not None and new is None:
        # the TensorFlow backend module only standalone Keras (<= 2.3) had says so even
        # beside `import tensorflow` (its TF1 backend); `keras.utils.np_utils` and the
        # like were also in the `keras` package of Keras 2.6-2.12 that tf.keras used
        standalone = old.startswith(_STANDALONE_KERAS_MODULES) or not any(
            name.split(".")[0] == "tensorflow" for name in model.imports)
        return Flavour("keras2" if standalone else "tf-keras", version,
                       f"the file uses `{old}`, which Keras 3 removed")
    imported_by = importers_flavour(model, version)
    if imported_by is not None:
        return imported_by
    if stale is not None and project is not None:
        return Flavour("keras3", version, f"{project.reason} is stale: the code uses "
                       f"`{stale}`, which only TensorFlow 2 has, and nothing else says which "
                       "Keras", assumed=True)
    return Flavour("keras3", version, ASSUMED, assumed=True)


def _tf_keras_only(model: SemanticModel) -> bool:
    """The file reaches Keras only through TensorFlow (``tf.keras``), never as ``keras``."""
    tops = {name.split(".")[0] for name in model.imports}
    return "tensorflow" in tops and "keras" not in tops


def _keras2_signal(model: SemanticModel) -> str | None:
    """An API of Keras 2 that Keras 3 no longer has, used by the file."""
    return _keras2_api(model.imports, [call.method for call in model.calls if call.method],
                       [call.name for call in model.calls if call.name is not None])


def _keras2_api(imports: Iterable[str], methods: Iterable[str],
                names: Iterable[str]) -> str | None:
    """The first of ``imports`` (module paths as written), ``methods`` (names of the
    methods called) and ``names`` (canonical library names used) that Keras 3 removed."""
    for name in imports:
        module = name.removeprefix("tensorflow.")  # imports are written out in full
        if module.startswith(_KERAS2_MODULES):
            return name
    for method in methods:
        if method in _KERAS2_METHODS:
            return f".{method}()"
    for name in names:
        if name.endswith(_KERAS2_FUNCTIONS):
            return name
    return None


def _keras3_signal(model: SemanticModel) -> str | None:
    """An API that exists only in Keras 3, used by the file."""
    return _keras3_api(model.imports, [
        *(call.name for call in model.calls if call.name is not None),
        *(reference.name for reference in model.references)])


def _keras3_api(imports: Iterable[str], names: Iterable[str]) -> str | None:
    """The first of ``imports`` and ``names`` (canonical) that only Keras 3 has."""
    for name in [*imports, *names]:
        if name.startswith(_KERAS3_MODULES):
            return name
    return None


def importers_flavour(model: SemanticModel, version: tuple[int, ...] | None) -> Flavour | None:
    """The Keras the project's modules that import the file (in any of its directories)
    were written for: they run its code in their own process, so on their Keras
    (`ref_coco.py` uses `tf.keras.ops` and imports `utils.py`, so `utils.py` runs on
    Keras 3). When they disagree, an unknown flavour that names them; None when none
    says, or one is out of reach (a notebook, a module too large to read, a project too
    large to index) and may say otherwise."""
    found = _importers(model)
    if found is None or model.project is None:
        return None
    verdicts: list[Flavour] = []
    for path, use in found:
        if use is None:
            return None
        shown = os.path.relpath(path, model.project.top)
        old, new = use.keras2, use.keras3
        if use.tf_keras:
            verdicts.append(Flavour("tf-keras", version or TF_KERAS_PACKAGE,
                                    f"`{shown}` imports it and imports tf_keras"))
        elif new is not None and old is None:
            verdicts.append(Flavour("keras3", version, f"`{shown}` imports it and uses "
                                    f"`{new}`, which only Keras 3 has"))
        elif old is not None and new is None:
            standalone = (old.startswith(_STANDALONE_KERAS_MODULES)
                          or not use.tensorflow) and not _tf_keras_only(model)
            verdicts.append(Flavour("keras2" if standalone else "tf-keras", version,
                                    f"`{shown}` imports it and uses `{old}`, which Keras 3 "
                                    "removed"))
        elif old is not None and new is not None:
            return Flavour("keras3", version, f"`{shown}` imports it and uses both `{old}` "
                           f"(Keras 2) and `{new}` (Keras 3)", assumed=True)
    if not verdicts:
        return None
    if len({verdict.name for verdict in verdicts}) == 1:
        return verdicts[0]
    return Flavour("keras3", version, "the modules importing it disagree: " + "; ".join(
        verdict.reason for verdict in verdicts), assumed=True)


def _tf2_api(model: SemanticModel) -> str | None:
    """A TensorFlow API that TensorFlow 1 did not have, used by the program (the file
    and the modules it imports) or by a project module that imports the file, where
    neither uses one TensorFlow 2 removed from its top level (`tf.placeholder`): code
    that calls both was written to run on either."""
    names = [*(call.name for call in model.calls if call.name is not None),
             *(reference.name for reference in model.references)]
    if any(name in _TF1_ONLY for name in names):
        return None
    found = next((name for name in names if name in _TF2_ONLY), None)
    if found is not None:
        return found
    for _, use in _importers(model, notebooks=True) or ():
        if use is not None and use.tf2_only is not None and not use.tf1_only:
            return use.tf2_only
    return None


def _importers(model: SemanticModel, notebooks: bool = False
               ) -> list[tuple[str, _ImporterUse | None]] | None:
    """The project modules importing the file, each with what it uses (None: it cannot
    be read); None when they cannot all be known (a project too large to index, or,
    unless ``notebooks``, a notebook among them). The set of importers, and each one
    read, become the file's cache dependencies."""
    if model.project is None:
        return None
    from bnlint.project_imports import importers_key, importers_of

    found = importers_of(model.project)
    key = importers_key(model.project)
    if model.project.whole and key not in model.importers_read:
        model.importers_read.append(key)  # a new importer re-lints the file
    if found is None or found.notebook and not notebooks:
        return None
    uses: list[tuple[str, _ImporterUse | None]] = []
    for path in found.modules:
        use = _importer_use(model.project, path)
        if use is not None and path not in model.importers_read:
            model.importers_read.append(path)
        uses.append((path, use))
    return uses


@dataclass(frozen=True, slots=True)
class _ImporterUse:
    """What an importing module's code says of the Keras and TensorFlow it runs on."""

    keras2: str | None  # an API Keras 3 removed
    keras3: str | None  # an API only Keras 3 has
    tf_keras: bool  # imports tf_keras
    tensorflow: bool  # imports TensorFlow
    tf2_only: str | None  # calls what only TensorFlow 2 has
    tf1_only: bool  # calls what TensorFlow 2 removed


# (module, its stamp) -> what it uses (None: it cannot be read), once per process
_IMPORTER_USES: dict[tuple[str, tuple[int, int]], _ImporterUse | None] = {}


def _importer_use(project: Project, path: str) -> _ImporterUse | None:
    """What the project module at ``path`` uses, read from its syntax once per version
    of it (a module imported by many is not parsed again for each)."""
    from bnlint.project import file_stamp

    key = (path, file_stamp(path))
    if key in _IMPORTER_USES:
        return _IMPORTER_USES[key]
    tree = project.module(path)
    found: _ImporterUse | None = None
    if tree is not None:
        from bnlint.semantic.code_use import code_use

        use = code_use(tree)
        found = _ImporterUse(
            keras2=_keras2_api(use.imports, use.methods, use.names),
            keras3=_keras3_api(use.imports, use.names),
            tf_keras=any(name == "tf_keras" or name.startswith("tf_keras.")
                         for name in use.imports),
            tensorflow=any(name.split(".")[0] == "tensorflow" for name in use.imports),
            tf2_only=next((name for name in use.names if name in _TF2_ONLY), None),
            tf1_only=any(name in _TF1_ONLY for name in use.names))
    _IMPORTER_USES[key] = found
    return found


def _tf1_graph_mode(model: SemanticModel) -> bool:
    if any(call.name in _TF1_CALLS for call in model.calls):
        return True
    # tf.keras's backend had sessions only in TensorFlow 1
    if any(call.name is not None and call.name.endswith(_KERAS2_FUNCTIONS)
           for call in model.calls) and any(
            name.split(".")[0] == "tensorflow" for name in model.imports):
        return True
    # ``import tensorflow.compat.v1 as tf`` is the TF1 idiom for graph-mode code.
    return uses_compat_v1(model) or any(
        name.startswith("tensorflow.contrib") for name in model.imports
    )


def uses_compat_v1(model: SemanticModel) -> bool:
    """The file itself imports ``tensorflow.compat.v1 [as tf]``, or names from it other
    than the session settings a TF 2 program configures its GPU with (``from
    tensorflow.compat.v1 import ConfigProto, InteractiveSession``, then
    ``config.gpu_options.allow_growth = True``): those run eager code as well. A project
    module it imports may be TF1 code (a copied `autoaugment.py`) that the program runs
    eagerly."""
    if _COMPAT_V1 in model.module_imports or _COMPAT_V1 in model.from_imports:
        return True  # (`from tensorflow.compat import v1 as tf` too)
    prefix = _COMPAT_V1 + "."
    return any(name.startswith(prefix) and name[len(prefix):] not in _SESSION_SETTINGS
               for name in model.from_imports)
