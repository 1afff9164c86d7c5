"""BN106 training-ignored-on-frozen-bn."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from bnlint.flavour import Flavour
from bnlint.probe.facts import model_facts
from bnlint.probe.scenario import scenario
from bnlint.rule import Example, Report, Rule, RuleContext
from bnlint.semantic.events import Event
from bnlint.semantic.values import Layer

if TYPE_CHECKING:
    import libcst as cst
else:
    from bnlint.lazy import libcst as cst


class TrainingIgnoredOnFrozenBn(Rule):
    """## What it does
    Flags a call with a literal `training=True` on a BatchNormalization layer, or on a
    model containing BN, that is definitely frozen (`trainable = False`) at that point
    and stays frozen.

    ## Why is this bad?
    Since TensorFlow 2.0 and in Keras 3, a BN layer uses batch statistics and updates its
    moving mean/variance only when `training` is true **and** the layer is trainable
    (fact F1). On a frozen BN, `training=True` is silently ignored: it normalises with the
    moving statistics and updates nothing (F2) — the confusion behind the question "what
    is the difference between `trainable` and `training`?". Under TF1, standalone Keras
    2 and the V1 class `tf.compat.v1.keras.layers.BatchNormalization` in tf-keras, the
    same code normalises with the *batch* statistics but never updates the moving ones,
    so the layer behaves differently in training and at inference (F3).

    A model whose BN layers alone were frozen (by a loop over `model.layers`) and that
    is called with `training=True` for its Dropout layers is the recommended fine-tuning
    pattern and is not reported.

    ## Example
    ```python
    bn = keras.layers.BatchNormalization()
    bn.trainable = False
    y = bn(x, training=True)  # still inference mode
    ```

    ## Use instead
    Decide which one you want: batch statistics and updates need a trainable layer,
    ```python
    bn.trainable = True
    y = bn(x, training=True)
    ```
    and a frozen layer is best called without `training=True` (or with `training=False`),
    so the code says what happens.

    ## Fix safety
    No automatic fix: either change alters what the code means.

    ## References
    - Keras FAQ, "What's the difference between the `training` argument in `call()` and
      the `trainable` attribute?"
    - `BatchNormalization` API docs, "About setting `layer.trainable = False` on a
      `BatchNormalization` layer"
    - https://stackoverflow.com/questions/65920684
    """

    code = "BN106"
    name = "training-ignored-on-frozen-bn"
    severity = "warning"
    summary = "`training=True` on a frozen BatchNormalization has no effect (TF2/Keras 3)"
    needles = (b"training=True", b"training = True", b"training=1", b", True)")
    flagged = (
        """
        from keras import layers
        bn = layers.BatchNormalization()
        bn.trainable = False
        y = bn(x, training=True)
        """,
        """
        import tensorflow as tf
        base = tf.keras.applications.ResNet50(include_top=False)
        base.trainable = False
        inputs = tf.keras.Input((224, 224, 3))
        x = base(inputs, training=True)
        outputs = tf.keras.layers.Dense(10)(x)
        model = tf.keras.Model(inputs, outputs)
        """,
        """
        from tensorflow.keras import layers as L
        import tensorflow as tf
        class Net(tf.keras.Model):
            def __init__(self):
                super().__init__()
                self.bn = L.BatchNormalization(trainable=False)
                self.head = L.Dense(1)
            def call(self, x, training=None):
                return self.head(self.bn(x, training=True))
        net = Net()
        """,
        """
        from keras.layers import BatchNormalization as BN
        import keras
        model = keras.Sequential([keras.layers.Dense(8), BN()])
        model.trainable = False
        features = model(x, training=True)
        """,
        Example(
            """
            import tensorflow as tf
            bn = tf.compat.v1.keras.layers.BatchNormalization(trainable=False)
            y = bn(x, training=True)
            """,
            target="tf-keras",
        ),
        Example(
            """
            import tf_keras
            base = tf_keras.applications.MobileNetV2(include_top=False)
            base.trainable = False
            with tf.GradientTape() as tape:
                features = base(images, training=True)
            """,
            target="tf-keras",
        ),
    )
    not_flagged = (
        """
        from keras import layers
        bn = layers.BatchNormalization()
        y = bn(x, training=True)
        """,
        """
        import keras
        from keras import layers
        model = keras.Sequential([layers.Dense(8), layers.BatchNormalization(),
                                  layers.Dropout(0.3)])
        for layer in model.layers:
            if isinstance(layer, layers.BatchNormalization):
                layer.trainable = False
        with tf.GradientTape() as tape:
            pred = model(x, training=True)
        """,
        """
        import tensorflow as tf
        base = tf.keras.applications.ResNet50(include_top=False)
        base.trainable = False
        inputs = tf.keras.Input((224, 224, 3))
        x = base(inputs, training=True)
        model = tf.keras.Model(inputs, tf.keras.layers.Dense(10)(x))
        base.trainable = True
        model.compile("adam", "mse")
        """,
        """
        from keras import layers
        bn = layers.BatchNormalization()
        if freeze:
            bn.trainable = False
        y = bn(x, training=True)
        """,
        """
        from keras import layers
        bn = layers.BatchNormalization(trainable=False)
        y = bn(x, training=False)
        """,
        """
        import keras
        class Net(keras.Model):
            def __init__(self):
                super().__init__()
                self.bn = keras.layers.BatchNormalization(trainable=False)
            def call(self, x, training=None):
                return self.bn(x, training=True)
        """,
    )

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        for event in ctx.model.events_of("call"):
            layer = event.target
            if not isinstance(layer, Layer) or not _is_frozen_bn_call(event, layer):
                continue
            node = event.node
            callee = (ctx.model.module.code_for_node(node.func) if isinstance(node, cst.Call)
                      else layer.label)
            yield Report(node, _message(layer, callee, ctx.flavour),
                         scenario=scenario(self.code, **model_facts(layer)))


def _is_frozen_bn_call(event: Event, layer: Layer) -> bool:
    """A definite `training=True` call on a BN (or BN-containing) layer that is itself
    frozen at the call and is never unfrozen afterwards (a functional graph or a
    subclassed `call()` runs again at every fit)."""
    context = event.context
    if event.training != "true" or not context.definite or context.standalone:
        return False
    if layer.contains_bn() is not True or event.trainable_before is not False:
        return False
    return event.bn_trainable_before is False and layer.bn_trainable() is False


def _message(layer: Layer, callee: str, flavour: Flavour) -> str:
    what = f"`{callee}`" if callee else "this layer"
    if layer.is_bn:
        subject, v1_verbs = "a frozen BatchNormalization layer", ("normalises", "updates its")
    else:
        subject, v1_verbs = ("the BatchNormalization layers of a frozen model",
                             ("normalise", "update their"))
    if _v1_semantics(layer, flavour):
        return (
            f"{what} is frozen (`trainable = False`); with {_v1_label(flavour)}, "
            f"{subject} called with `training=True` {v1_verbs[0]} with the batch statistics "
            f"but never {v1_verbs[1]} moving mean/variance, so training and inference "
            "differ; make it trainable, or call it with `training=False`"
        )
    if layer.is_bn:
        return (
            f"`training=True` is ignored: {what} is frozen (`trainable = False`), and since "
            "TF 2.0 a frozen BatchNormalization layer always runs in inference mode (moving "
            "statistics, no updates); set `trainable = True` if you want batch statistics, "
            "otherwise drop `training=True`"
        )
    return (
        f"the BatchNormalization layers of {what} ignore `training=True`: {what} is frozen "
        "(`trainable = False`), and since TF 2.0 frozen BN layers always run in inference "
        "mode (moving statistics, no updates); make them trainable if you want batch "
        "statistics, otherwise `training=True` only affects layers such as Dropout"
    )


def _v1_semantics(layer: Layer, flavour: Flavour) -> bool:
    if flavour.name in {"tf1", "keras2"}:
        return True
    if flavour.name != "tf-keras":
        return False  # Keras 3: even the compat.v1 class has V2 semantics (F3)
    return layer.bn_v1 or any(inner.bn_v1 for inner in layer.descendants())


def _v1_label(flavour: Flavour) -> str:
    if flavour.name == "tf-keras":
        return "the V1 class `tf.compat.v1.keras.layers.BatchNormalization`"
    return flavour.describe()
