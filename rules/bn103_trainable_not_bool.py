"""BN103 trainable-not-bool."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from bnlint.finding import Severity
from bnlint.rule import Report, Rule, RuleContext
from bnlint.semantic.model import SemanticModel
from bnlint.semantic.names import keras_api
from bnlint.semantic.values import Layer, LayerSelection, ModuleRef

if TYPE_CHECKING:
    import libcst as cst
else:
    from bnlint.lazy import libcst as cst

# Strings that read like a boolean: assigned to `.trainable` of anything, they are a bug.
_BOOL_WORDS = frozenset({"true", "false", "0", "1", "yes", "no", "y", "n", "t", "f",
                         "on", "off"})
_KERAS_ROOTS = ("keras", "tensorflow", "tf_keras")


class TrainableNotBool(Rule):
    """## What it does
    Flags `trainable` set to a string or `None` literal (`bn.trainable = "False"`,
    `Dense(8, trainable="False")`), and, as information, to the integers `0`/`1`.

    ## Why is this bad?
    A non-empty string is truthy, whatever it says. Keras 3 stores `bool("False")`,
    which is `True`; tf-keras stores the string itself, which is just as truthy: the
    layer stays trainable and a BatchNormalization layer keeps updating its moving
    statistics (fact F14, verified in both). `"True"` only works by accident, and
    `None` freezes the layer in Keras 3 but stores `None` in tf-keras. `0`/`1` behave
    like `False`/`True` when read as truth values, but tf-keras keeps the integer and
    Keras 3 on TensorFlow treats `1` differently from `True` when deciding whether to
    re-apply the flag to nested layers (F7).

    ## Example
    ```python
    bn = keras.layers.BatchNormalization()
    bn.trainable = "False"
    ```

    ## Use instead
    ```python
    bn.trainable = False
    ```

    ## Fix safety
    No automatic fix yet. Replacing `"False"` by `False` and `"True"` by `True` is safe:
    it gives the behaviour the code states. `0`/`1` -> `False`/`True` is safe too.

    ## References
    - https://stackoverflow.com/questions/65920684
    - Keras API, `Layer.trainable`
    """

    code = "BN103"
    name = "trainable-not-bool"
    severity = "error"
    summary = "`trainable` set to a string or None (any non-empty string is truthy)"
    needles = (b"trainable",)
    flagged = (
        """
        from keras import layers
        bn = layers.BatchNormalization()
        bn.trainable = "False"
        """,
        """
        import tensorflow as tf
        base = tf.keras.applications.ResNet50(include_top=False)
        for layer in base.layers:
            layer.trainable = 'false'
        """,
        """
        from tensorflow.keras import layers as L
        model = build_model()
        model.trainable = "False"
        """,
        """
        import tf_keras
        head = tf_keras.layers.Dense(10, trainable="True")
        """,
        """
        from keras.layers import BatchNormalization as BN
        bn = BN()
        bn.trainable = None
        """,
        """
        import keras
        model = keras.Sequential([keras.layers.Dense(4), keras.layers.BatchNormalization()])
        model.trainable = 0
        """,
    )
    not_flagged = (
        """
        from keras import layers
        bn = layers.BatchNormalization()
        bn.trainable = False
        """,
        """
        from keras import layers
        bn = layers.BatchNormalization()
        bn.trainable = flag
        """,
        """
        import keras
        config = load_config()
        config.trainable = "all"
        """,
        """
        import keras
        model = build_model()
        model.trainable = 0
        """,
        """
        import argparse
        args = argparse.Namespace()
        args.trainable = "False"
        """,
        """
        from keras import layers
        bn = layers.BatchNormalization(trainable=False)
        """,
    )

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        model = ctx.model
        imports_keras = any(name.split(".")[0] in _KERAS_ROOTS for name in model.imports)
        for event in model.events_of("set_trainable"):
            target = event.target
            if isinstance(target, ModuleRef):
                continue  # BN102 reports `.trainable` on a module
            known = isinstance(target, (Layer, LayerSelection))
            found = _judge(event.value_node, known, imports_keras)
            if found is not None:
                yield Report(event.node, found[0], severity=found[1])
        yield from _constructor_arguments(model, imports_keras)


def _constructor_arguments(model: SemanticModel, imports_keras: bool) -> Iterator[Report]:
    """`Dense(8, trainable="False")` and friends."""
    api = keras_api()
    for call in model.calls:
        name = call.name
        if name is None or not (api.is_layer_class(name) or name in api.bn_layers
                                or name in api.v1_bn_layers or name in api.sequential
                                or name in api.functional or name in api.opaque_layers):
            continue
        for arg in call.node.args:
            if arg.keyword is not None and arg.keyword.value == "trainable":
                found = _judge(arg.value, True, imports_keras)
                if found is not None:
                    yield Report(arg, found[0], severity=found[1])


def _judge(node: cst.CSTNode | None, known: bool,
           imports_keras: bool) -> tuple[str, Severity] | None:
    """The message and severity for a `trainable` value, or None when it is fine or
    not a literal we are sure about."""
    if isinstance(node, cst.SimpleString):
        value = node.evaluated_value
        if not isinstance(value, str):
            return None
        if not known and not (imports_keras and value.strip().lower() in _BOOL_WORDS):
            return None
        return _string_message(value, node.value), "error"
    if isinstance(node, cst.Name) and node.value == "None" and known:
        return ("`trainable = None` is not a bool: Keras 3 turns it into False, tf-keras "
                "stores None; write `False` (or `True`) explicitly"), "error"
    if isinstance(node, cst.Integer) and known and node.value in {"0", "1"}:
        word = "False" if node.value == "0" else "True"
        return (f"`trainable = {node.value}` is an int, not a bool: tf-keras stores the int "
                f"as is, and Keras 3 can treat it differently from `{word}` when setting "
                f"nested layers; write `{word}`"), "info"
    return None


def _string_message(value: str, shown: str) -> str:
    if value == "":
        return (f"`trainable = {shown}` freezes only because the empty string is falsy; "
                "write `False`")
    if value.strip().lower() in {"true", "1", "yes", "y", "t", "on"}:
        return (f"`trainable = {shown}` works only by accident: every non-empty string is "
                "truthy, `'False'` included; write `True`")
    return (f"`trainable = {shown}` leaves the layer trainable: a non-empty string is "
            f"truthy (Keras 3 stores `bool({shown})`, i.e. True; tf-keras stores the "
            "string), so nothing is frozen; write `False`")
