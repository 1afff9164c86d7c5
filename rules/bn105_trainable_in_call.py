"""BN105 trainable-in-call."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from bnlint.probe.scenario import scenario
from bnlint.rule import Report, Rule, RuleContext
from bnlint.semantic.values import Layer

if TYPE_CHECKING:
    import libcst as cst
else:
    from bnlint.lazy import libcst as cst

# Callables bound from these are not Keras layers (their __call__ signature is the
# saved function's).
_NOT_KERAS_CALLABLES = frozenset({"tf.saved_model.load"})


class TrainableInCall(Rule):
    """## What it does
    Flags `trainable=` passed when *calling* a Keras layer or model:
    `bn(x, trainable=False)`, `base(inputs, trainable=False)`.

    ## Why is this bad?
    `trainable` is an attribute (or a constructor argument), not an argument of the
    call: the call raises `TypeError: ... got an unexpected keyword argument
    'trainable'` in Keras 3 and tf-keras (fact F15). The argument of the call that
    controls BatchNormalization is `training=` (the mode), and freezing is
    `layer.trainable = False`.

    ## Example
    ```python
    x = base_model(inputs, trainable=False)
    ```

    ## Use instead
    ```python
    base_model.trainable = False
    x = base_model(inputs, training=False)
    ```

    ## Fix safety
    No automatic fix: the intent may be either freezing (`.trainable = False`) or the
    inference mode (`training=False`).

    ## References
    - Keras FAQ, "What's the difference between the `training` argument in `call()` and
      the `trainable` attribute?"
    - https://stackoverflow.com/questions/65920684
    """

    code = "BN105"
    name = "trainable-in-call"
    severity = "error"
    summary = "`trainable=` passed when calling a layer (it is an attribute)"
    needles = (b"trainable",)
    flagged = (
        """
        from keras import layers
        bn = layers.BatchNormalization()
        y = bn(x, trainable=False)
        """,
        """
        import tensorflow as tf
        base = tf.keras.applications.ResNet50(include_top=False)
        inputs = tf.keras.Input((224, 224, 3))
        x = base(inputs, trainable=False)
        """,
        """
        from tensorflow.keras import layers as L
        inputs = L.Input((32,))
        x = L.BatchNormalization()(inputs, trainable=False)
        """,
        """
        import tf_keras
        from keras.layers import BatchNormalization as BN
        class Net(tf_keras.Model):
            def __init__(self):
                super().__init__()
                self.bn = BN()
            def call(self, x, training=None):
                return self.bn(x, trainable=False)
        """,
        """
        import keras
        model = keras.Sequential([keras.layers.Dense(4), keras.layers.BatchNormalization()])
        out = model(x, trainable=True)
        """,
    )
    not_flagged = (
        """
        from keras import layers
        bn = layers.BatchNormalization()
        y = bn(x, training=False)
        """,
        """
        from keras import layers
        bn = layers.BatchNormalization(trainable=False)
        """,
        """
        import keras
        class Block(keras.layers.Layer):
            def call(self, x, trainable=True):
                return x if trainable else -x
        block = Block()
        y = block(x, trainable=False)
        """,
        """
        import tensorflow as tf
        loaded = tf.saved_model.load(path)
        y = loaded(x, trainable=False)
        """,
        """
        y = some_function(x, trainable=False)
        """,
    )

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        for event in ctx.model.events_of("call"):
            target = event.target
            if not isinstance(target, Layer) or target.user_class is not None:
                continue
            if target.qualname in _NOT_KERAS_CALLABLES or not isinstance(event.node, cst.Call):
                continue
            for arg in event.node.args:
                if arg.keyword is not None and arg.keyword.value == "trainable":
                    yield Report(
                        arg,
                        "calling a Keras layer with `trainable=` raises TypeError: "
                        "`trainable` is an attribute; freeze with `layer.trainable = False` "
                        "and pass the mode as `training=False`",
                        scenario=scenario(self.code) if target.contains_bn() else None,
                    )
