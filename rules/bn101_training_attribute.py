"""BN101 training-attribute."""

from __future__ import annotations

from collections.abc import Iterator

from bnlint.probe.facts import model_facts
from bnlint.probe.scenario import Scenario, scenario
from bnlint.rule import Report, Rule, RuleContext
from bnlint.semantic.values import Layer, LayerSelection

_MODE_ATTRIBUTES = frozenset({"training", "is_training", "train"})


class TrainingAttribute(Rule):
    """## What it does
    Flags an assignment to `.training` (or `.is_training`, `.train`) on a Keras layer or
    model, including the loop variable of `for layer in model.layers`.

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
        for event in ctx.model.events_of("set_attr"):
            if event.attr not in _MODE_ATTRIBUTES:
                continue
            target = event.target
            if isinstance(target, LayerSelection):
                what = f"layers of `{target.container.label or 'the model'}`"
            elif isinstance(target, Layer) and target.user_class is None:
                what = f"`{target.label}`" if target.label else "this Keras object"
            else:
                continue
            yield Report(
                event.node,
                f"assigning `.{event.attr}` on {what} has no effect: Keras layers have no "
                "such attribute; use `.trainable = False` to freeze (BatchNormalization then "
                "also runs in inference mode) or call the layer with `training=False`",
                scenario=_scenario(self.code, target),
            )


def _scenario(code: str, target: object) -> Scenario | None:
    """Replayed on a model with BN only: without BN the attribute is still useless, but
    there is nothing the probe could measure."""
    layer = target.container if isinstance(target, LayerSelection) else target
    if not isinstance(layer, Layer) or layer.contains_bn() is not True:
        return None
    return scenario(code, **model_facts(layer))
