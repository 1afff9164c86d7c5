"""BN104 training-in-constructor."""

from __future__ import annotations

from collections.abc import Iterator

from bnlint.probe.scenario import scenario
from bnlint.rule import Report, Rule, RuleContext
from bnlint.semantic.names import keras_api


class TrainingInConstructor(Rule):
    """## What it does
    Flags `training=` passed to the constructor of a Keras layer
    (`BatchNormalization(training=False)`, `Dropout(0.5, training=True)`), including
    inside `model.add(...)` and `Sequential([...])`.

    ## Why is this bad?
    `training` is an argument of the *call* (`bn(x, training=False)`), not of the
    constructor. Keras 3 raises `ValueError: Unrecognized keyword arguments passed to
    BatchNormalization: {'training': False}` and tf-keras raises `TypeError: Keyword
    argument not understood: training` (fact F15). To freeze a layer for good, the
    constructor argument is `trainable=False`, which in TF2 and Keras 3 also keeps a
    BatchNormalization layer in inference mode.

    ## Example
    ```python
    model.add(layers.BatchNormalization(training=False))
    ```

    ## Use instead
    ```python
    model.add(layers.BatchNormalization(trainable=False))  # frozen, inference mode
    ```
    or pass the mode where the layer is called: `y = bn(x, training=False)`.

    ## Fix safety
    No automatic fix: the argument may have meant `trainable=False` or a mode at the
    call site, which `Sequential` does not have.

    ## References
    - Keras FAQ, "What's the difference between the `training` argument in `call()` and
      the `trainable` attribute?"
    - https://stackoverflow.com/questions/65920684
    """

    code = "BN104"
    name = "training-in-constructor"
    severity = "error"
    summary = "`training=` passed to a layer constructor (it is a call argument)"
    needles = (b"training",)
    flagged = (
        """
        from keras import layers
        bn = layers.BatchNormalization(training=False)
        """,
        """
        from tensorflow.keras import layers as L
        from tensorflow.keras.models import Sequential
        model = Sequential()
        model.add(L.Dense(32))
        model.add(L.Dropout(0.5, training=True))
        """,
        """
        from keras.layers import BatchNormalization as BN
        import keras
        model = keras.Sequential([keras.layers.Conv2D(8, 3), BN(momentum=0.9, training=True)])
        """,
        """
        import tensorflow as tf
        def block(x, is_training):
            x = tf.keras.layers.Conv2D(16, 3)(x)
            return tf.keras.layers.BatchNormalization(training=is_training)(x)
        """,
        """
        import tf_keras
        norm = tf_keras.layers.BatchNormalization(axis=-1, training=False)
        """,
    )
    not_flagged = (
        """
        from keras import layers
        bn = layers.BatchNormalization(trainable=False)
        """,
        """
        from keras import layers
        bn = layers.BatchNormalization()
        y = bn(x, training=False)
        """,
        """
        import tensorflow as tf
        y = tf.compat.v1.layers.batch_normalization(x, training=is_training)
        """,
        """
        import keras
        class Block(keras.layers.Layer):
            def __init__(self, training=False):
                super().__init__()
                self.mode = training
        block = Block(training=True)
        """,
        """
        from mylib import layers
        bn = layers.BatchNormalization(training=False)
        """,
    )

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        api = keras_api()
        for call in ctx.model.calls:
            name = call.name
            if name is None or not (api.is_layer_class(name) or name in api.bn_layers
                                    or name in api.v1_bn_layers):
                continue
            for arg in call.node.args:
                if arg.keyword is not None and arg.keyword.value == "training":
                    short = name.rsplit(".", 1)[-1]
                    yield Report(
                        arg,
                        f"`{short}(training=...)` raises at construction: `training` is an "
                        "argument of the call (`layer(x, training=False)`); to freeze the "
                        "layer use `trainable=False`",
                        scenario=scenario(self.code, layer=short),
                    )
