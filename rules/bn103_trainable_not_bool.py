"""BN103 trainable-not-bool."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from bnlint.finding import Severity
from bnlint.flavour import Flavour
from bnlint.rule import Change, Example, FixExample, Report, Rewrite, Rule, RuleContext
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
# keras-team/keras#22740 (first released in 3.15.0): `Layer.__init__` raises
# `ValueError: Expected `trainable` to be a boolean` for any non-bool `trainable=`.
# The `trainable` setter still applies `bool()`, and a functional `Model(inputs,
# outputs, trainable=...)` goes through the setter.
KERAS3_CONSTRUCTOR_CHECK = (3, 15)
# What a constructor does with a non-bool `trainable=`: raise (Keras >= 3.15), store it
# as given (Keras 3 < 3.15, tf-keras, Keras 2), apply the setter (Keras 3 functional
# Model), or raise or store (Keras 3 of unknown version).
_RAISES, _STORES, _SETTER, _EITHER = "raises", "stores", "setter", "either"


class TrainableNotBool(Rule):
    """## What it does
    Flags `trainable` set to a string or `None` literal (`bn.trainable = "False"`,
    `Dense(8, trainable="False")`), and, as information, to the integers `0`/`1`.

    ## Why is this bad?
    A non-empty string is truthy, whatever it says. Assigned (`bn.trainable = "False"`),
    Keras 3 stores `bool("False")`, which is `True`; tf-keras stores the string itself,
    which is just as truthy: the layer stays trainable and a BatchNormalization layer
    keeps updating its moving statistics (fact F14, verified in both). `"True"` only
    works by accident, and `None` freezes the layer in Keras 3 but stores `None` in
    tf-keras. `0`/`1` behave like `False`/`True` when read as truth values, but tf-keras
    keeps the integer and Keras 3 on TensorFlow treats `1` differently from `True` when
    deciding whether to re-apply the flag to nested layers (F7).

    Passed to a constructor (`Dense(8, trainable="False")`), the value is stored as
    given by tf-keras and by Keras 3 before 3.15; since Keras 3.15 the constructor
    raises `ValueError: Expected `trainable` to be a boolean` (keras-team/keras#22740).
    A functional `keras.Model(inputs, outputs, trainable=...)` applies the setter
    instead. The message says what the targeted version does; with the Keras 3
    version unknown it names both outcomes. Under Keras >= 3.15 every non-bool
    constructor argument is an error.

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
    The fix replaces a string that reads as a boolean (`"False"`, `'true'`, `"0"`,
    `"no"`, `""`, ...) and the integers `0`/`1` by `False`/`True`. It is safe: it gives
    the behaviour the code states (a layer written to be frozen is frozen). `None` and
    other strings get no fix: which bool was meant is a guess.

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
        # Keras >= 3.15 raises in the constructor, for an int too
        Example(
            """
            import keras
            bn = keras.layers.BatchNormalization(trainable=0)
            """,
            target="keras3", keras_version="3.15.1",
        ),
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
    fixed = (
        FixExample("""
        from keras import layers
        bn = layers.BatchNormalization()
        bn.trainable = "False"
        """, """
        from keras import layers
        bn = layers.BatchNormalization()
        bn.trainable = False
        """),
        FixExample("""
        import tf_keras
        head = tf_keras.layers.Dense(10, trainable='true')
        for layer in head.layers:
            layer.trainable = 0
        """, """
        import tf_keras
        head = tf_keras.layers.Dense(10, trainable=True)
        for layer in head.layers:
            layer.trainable = False
        """),
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
        Example(
            """
            import keras
            bn = keras.layers.BatchNormalization(trainable=False)
            bn.trainable = flag
            """,
            target="keras3", keras_version="3.15.1",
        ),
    )

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        model = ctx.model
        imports_keras = any(name.split(".")[0] in _KERAS_ROOTS for name in model.imports)
        reported: set[int] = set()
        for report in _constructor_arguments(model, ctx.flavour):
            reported.add(id(report.node))
            yield report
        for event in model.events_of("set_trainable"):
            target = event.target
            if isinstance(target, ModuleRef) or id(event.node) in reported:
                continue  # BN102 reports `.trainable` on a module
            # an assignment, or `from_preset(..., trainable=...)`, which the setter applies
            known = isinstance(target, (Layer, LayerSelection))
            found = _judge(event.value_node, known, imports_keras)
            if found is not None:
                yield Report(event.node, found[0], severity=found[1],
                             fix=_to_bool(event.value_node))


def constructor_effect(flavour: Flavour, functional: bool, opaque: bool) -> str:
    """What a constructor of the targeted Keras does with a non-bool ``trainable=``."""
    if not flavour.is_keras3 or opaque:
        return _STORES  # tf-keras, Keras 2, TF1; TF-Hub layers are tf-keras layers
    if functional:
        return _SETTER
    if flavour.version is None:
        return _EITHER
    return _RAISES if flavour.version[:2] >= KERAS3_CONSTRUCTOR_CHECK else _STORES


def _constructor_arguments(model: SemanticModel, flavour: Flavour) -> Iterator[Report]:
    """`Dense(8, trainable="False")` and friends."""
    api = keras_api()
    for call in model.calls:
        name = call.name
        if name is None or not (api.is_layer_class(name) or name in api.bn_layers
                                or name in api.v1_bn_layers or name in api.sequential
                                or name in api.functional or name in api.opaque_layers):
            continue
        effect = constructor_effect(flavour, name in api.functional, name in api.opaque_layers)
        for arg in call.node.args:
            if arg.keyword is not None and arg.keyword.value == "trainable":
                if effect == _SETTER:
                    found = _judge_functional(arg.value)
                else:
                    found = _judge_constructor(arg.value, effect, flavour)
                if found is not None:
                    yield Report(arg, found[0], severity=found[1], fix=_to_bool(arg.value))


def _judge_functional(node: cst.BaseExpression) -> tuple[str, Severity] | None:
    """A Keras 3 functional ``Model(inputs, outputs, trainable=...)``: the setter
    applies ``bool()``, except that None is ignored."""
    if isinstance(node, cst.Name) and node.value == "None":
        return ("`trainable=None` is not a bool: a Keras 3 functional Model ignores it and "
                "stays trainable, tf-keras stores None (falsy); write `False` (or `True`)"), "error"
    return _judge(node, True, True)


def _judge_constructor(node: cst.BaseExpression, effect: str,
                       flavour: Flavour) -> tuple[str, Severity] | None:
    """The message and severity for a non-bool literal ``trainable=`` of a layer or
    Sequential constructor, or None when it is a bool or not a literal."""
    shown, word = _literal(node)
    if shown is None:
        return None
    if effect == _RAISES:
        fix = f"write `{word}`" if word else "write `False` (or `True`)"
        version = ".".join(str(part) for part in flavour.version or ())
        return (f"`trainable={shown}` is not a bool: Keras {version} raises `ValueError` "
                "(\"Expected `trainable` to be a boolean\") when the layer is constructed, as "
                f"every Keras since 3.15 does; {fix}"), "error"
    if isinstance(node, cst.SimpleString):
        if node.evaluated_value == "":
            kept = "the empty string, which freezes the layer only because it is falsy"
        elif word == "True":
            kept = ("the string, which works only by accident: every non-empty string is "
                    "truthy, `'False'` included")
        else:
            kept = ("the string, which is truthy like every non-empty string: the layer "
                    "stays trainable and nothing is frozen")
        severity: Severity = "error"
    elif word == "":
        kept = "None, which freezes the layer only because it is falsy"
        severity = "error"
    else:
        kept = "the int, not a bool"
        severity = "info"
    fix = f"write `{word}`" if word else "write `False` (or `True`)"
    if effect == _STORES:
        return f"`trainable={shown}`: the constructor stores {kept}; {fix}", severity
    return (f"`trainable={shown}` is not a bool: Keras >= 3.15 raises `ValueError` when the "
            "layer is constructed, and older versions (Keras 3 before 3.15, tf-keras) store "
            f"{kept}; {fix}"), severity


def _to_bool(node: cst.CSTNode | None) -> Rewrite | None:
    """The literal replaced by the bool it reads as; None when that is a guess."""
    if isinstance(node, cst.SimpleString):
        value = node.evaluated_value
        if not isinstance(value, str) or value.strip().lower() not in _BOOL_WORDS | {""}:
            return None
    elif not (isinstance(node, cst.Integer) and node.value in {"0", "1"}):
        return None
    _, word = _literal(node)
    return Rewrite(f"Replace `{node.value}` by `{word}`", (Change.replace(node, word),))


def _literal(node: cst.BaseExpression) -> tuple[str | None, str]:
    """The literal as written and the bool it should be (``""`` for None: either)."""
    if isinstance(node, cst.SimpleString):
        value = node.evaluated_value
        if not isinstance(value, str):
            return None, ""
        truthy = value.strip().lower() in {"true", "1", "yes", "y", "t", "on"}
        return node.value, "True" if truthy else "False"
    if isinstance(node, cst.Name) and node.value == "None":
        return "None", ""
    if isinstance(node, cst.Integer) and node.value in {"0", "1"}:
        return node.value, "False" if node.value == "0" else "True"
    return None, ""


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
