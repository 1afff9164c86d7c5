"""BN101 training-attribute."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from bnlint.probe.facts import model_facts
from bnlint.probe.scenario import Scenario, scenario
from bnlint.rule import Report, Rule, RuleContext
from bnlint.semantic.events import Event
from bnlint.semantic.model import SemanticModel
from bnlint.semantic.values import ClassValue, Layer, LayerSelection, ModuleRef
from bnlint.semantic.walk import walk

if TYPE_CHECKING:
    import libcst as cst
else:
    from bnlint.lazy import libcst as cst

_MODE_ATTRIBUTES = frozenset({"training", "is_training", "train"})


class TrainingAttribute(Rule):
    """## What it does
    Flags an assignment to `.training` (or `.is_training`, `.train`) on a Keras layer or
    model, including the loop variable of `for layer in model.layers`, and
    `self.training = ...` in the user's own Layer/Model subclass when no code of the
    class (or of its own base classes) or of its module ever reads the attribute (a
    `call()` that notes the mode it was called in, `self.training = training`, is not
    reported).

    ## Why is this bad?
    Keras layers have no `training` attribute: the mode is a *call argument*
    (`layer(x, training=False)`), and freezing is the `trainable` attribute. Python
    accepts the assignment and nothing changes: in `fit()` a BatchNormalization layer
    still normalises with batch statistics, updates its moving mean/variance, and its
    gamma/beta keep training (fact F14, verified in Keras 3 and tf-keras).

    ## Example
    ```python
    bn = keras.layers.BatchNormalization()
    bn.training = False
    ```

    ## Use instead
    Freeze the layer, which in TF2 and Keras 3 also puts BatchNormalization in
    inference mode:
    ```python
    bn.trainable = False
    ```
    or pass the mode when calling it: `y = bn(x, training=False)`.

    ## Fix safety
    No automatic fix: the intent may be either of the two replacements.

    ## References
    - Keras FAQ, "What's the difference between the `training` argument in `call()` and
      the `trainable` attribute?"
    - https://stackoverflow.com/questions/65920684
    """

    code = "BN101"
    name = "training-attribute"
    severity = "error"
    summary = "`.training = ...` on a Keras layer or model does nothing"
    needles = (b".training", b".is_training", b".train ", b".train=")
    flagged = (
        """
        from keras import layers
        bn = layers.BatchNormalization()
        bn.training = False
        """,
        """
        import tensorflow as tf
        model = tf.keras.applications.ResNet50(include_top=False)
        for layer in model.layers:
            layer.training = False
        """,
        """
        from tensorflow.keras import layers as L
        from tensorflow.keras.models import Sequential
        model = Sequential([L.Dense(4), L.BatchNormalization()])
        model.is_training = False
        """,
        """
        import tf_keras
        base = tf_keras.applications.MobileNetV2(include_top=False)
        base.layers[-1].training = False
        """,
        # a helper handed a model it freezes "by mode"
        """
        import tensorflow as tf
        def disable_bn(model, names):
            for layer in model.layers:
                if layer.name in names:
                    layer.training = False
        """,
        # a subclass that sets the attribute and never reads it
        """
        import tensorflow as tf
        class Net(tf.keras.Model):
            def __init__(self):
                super().__init__()
                self.training = False
                self.bn = tf.keras.layers.BatchNormalization()
            def call(self, x):
                return self.bn(x)
        net = Net()
        """,
    )
    not_flagged = (
        """
        import keras
        class Block(keras.layers.Layer):
            def __init__(self, training=False):
                super().__init__()
                self.training = training
            def call(self, x):
                return x if self.training else -x
        """,
        """
        from keras import layers
        bn = layers.BatchNormalization()
        bn.trainable = False
        """,
        # a layer that notes the mode it was called in
        """
        import keras
        class Recorder(keras.layers.Layer):
            def call(self, x, training=None):
                self.training = training
                return x
        """,
        # PyTorch modules do have `.training`
        """
        import torch
        import tensorflow as tf
        def set_mode(model, flag):
            for layer in model.layers:
                layer.training = flag
        """,
        """
        import argparse
        args = argparse.Namespace()
        args.training = False
        """,
        """
        from keras.layers import BatchNormalization as BN
        bn = BN()
        y = bn(x, training=False)
        """,
    )

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        reported: set[int] = set()
        for report in self.known_targets(ctx):
            reported.add(id(report.node))
            yield report
        for loop, node in _helper_loops(ctx.model):
            if id(node) not in reported:
                yield Report(
                    node,
                    f"assigning `.{node.attr.value}` on the layers of `{loop}` has no effect: "
                    "Keras layers have no such attribute; use `.trainable = False` to "
                    "freeze (BatchNormalization then also runs in inference mode) or call "
                    "the layer with `training=False`",
                )

    def known_targets(self, ctx: RuleContext) -> Iterator[Report]:
        for event in ctx.model.events_of("set_attr"):
            if event.attr not in _MODE_ATTRIBUTES:
                continue
            target = event.target
            if isinstance(target, LayerSelection):
                what = f"layers of `{target.container.label or 'the model'}`"
            elif isinstance(target, Layer) and (target.user_class is None or (
                    not _records_mode(event) and event.attr not in ctx.model.attribute_reads
                    and _never_read(ctx.model.classes, target.user_class, event.attr))):
                what = f"`{target.label}`" if target.label else (
                    f"this `{target.user_class}`" if target.user_class else "this Keras object")
            else:
                continue
            yield Report(
                event.node,
                f"assigning `.{event.attr}` on {what} has no effect: Keras layers have no "
                "such attribute; use `.trainable = False` to freeze (BatchNormalization then "
                "also runs in inference mode) or call the layer with `training=False`",
                scenario=_scenario(self.code, target),
            )


def _helper_loops(model: SemanticModel) -> Iterator[tuple[str, cst.Attribute]]:
    """``for layer in model.layers: layer.training = ...`` where ``model`` is not known
    (a helper's parameter), in a module that uses Keras and not PyTorch (whose modules
    do have ``.training``) and that never reads the attribute: (the container's text,
    the assigned attribute)."""
    from bnlint.semantic.syntax import dotted  # imports libcst: a model is built

    tops = {name.split(".")[0] for name in model.imports}
    if not tops & {"keras", "tensorflow", "tf_keras"} or "torch" in tops:
        return
    for loop in walk(model.module):
        if not isinstance(loop, cst.For) or not isinstance(loop.target, cst.Name):
            continue
        source = loop.iter.value if isinstance(loop.iter, cst.Subscript) else loop.iter
        if not (isinstance(source, cst.Attribute) and source.attr.value == "layers"):
            continue
        container = dotted(source.value)
        for child in walk(loop.body):
            if isinstance(child, cst.AssignTarget) and isinstance(child.target, cst.Attribute):
                attribute = child.target
                if (isinstance(attribute.value, cst.Name)
                        and attribute.value.value == loop.target.value
                        and attribute.attr.value in _MODE_ATTRIBUTES
                        and attribute.attr.value not in model.attribute_reads
                        and container is not None):
                    yield container, attribute


def _records_mode(event: Event) -> bool:
    """``self.training = training`` in ``call()``: the layer notes the mode it was called
    in (for a test or a later method to read), it does not try to set it."""
    function = event.context.function or ""
    value = event.value_node
    return function.rsplit(".", 1)[-1] == "call" or (
        isinstance(value, cst.Name) and value.value == "training")


def _never_read(classes: list[ClassValue], name: str | None, attr: str | None) -> bool:
    """Does no code of the user's Keras class ``name`` (nor of its own base classes) read
    ``self.<attr>``? Then the attribute it sets is dead: Keras itself never reads it."""
    found = [value for value in classes if value.name == name]
    if not found or attr is None:
        return False
    seen: set[int] = set()
    while found:
        value = found.pop()
        if id(value) in seen:
            continue
        seen.add(id(value))
        if value.keras_base is None or _reads_attribute(value.node, attr):
            return False
        for base in value.bases:
            if isinstance(base, ClassValue):
                found.append(base)
            elif not isinstance(base, ModuleRef):
                return False  # a base class bnlint does not know may read it
    return True


def _reads_attribute(node: cst.ClassDef, attr: str) -> bool:
    """``self.<attr>`` read anywhere in the class (not only assigned), or looked up by
    ``getattr``/``hasattr``/``vars``."""
    assigned: set[int] = set()
    for child in walk(node):
        if isinstance(child, (cst.AssignTarget, cst.AnnAssign)):
            assigned.add(id(child.target))
    for child in walk(node):
        if isinstance(child, cst.Attribute) and child.attr.value == attr and (
                id(child) not in assigned):
            return True
        if isinstance(child, cst.Call) and isinstance(child.func, cst.Name) and (
                child.func.value in {"getattr", "hasattr", "vars", "setattr"}):
            return True
    return False


def _scenario(code: str, target: object) -> Scenario | None:
    """Replayed on a model with BN only: without BN the attribute is still useless, but
    there is nothing the probe could measure."""
    layer = target.container if isinstance(target, LayerSelection) else target
    if not isinstance(layer, Layer) or layer.contains_bn() is not True:
        return None
    return scenario(code, **model_facts(layer))
