"""BN210 pretrained-base-not-frozen."""

from __future__ import annotations

from collections.abc import Iterator

from bnlint.rule import Report, Rule, RuleContext
from bnlint.semantic import workflow as wf
from bnlint.semantic.events import call_notes
from bnlint.semantic.values import Layer

from ._recipes import (
    EFFICIENTNET_HEAD_PHASE,
    KERAS_IO_TRANSFER_LEARNING_ONE_LINE_HEAD,
    TWO_PHASE_SEQUENTIAL,
)


class PretrainedBaseNotFrozen(Rule):
    """## What it does
    Flags the first training phase of a model that combines a pretrained base
    containing BatchNormalization (`weights="imagenet"`, the keras.applications
    default, or `from_preset`) with a freshly initialised head, when nothing freezes
    the base before that first `fit()`.

    ## Why is this bad?
    "If you mix randomly-initialized trainable layers with trainable layers that hold
    pre-trained features, the randomly-initialized layers will cause very large
    gradient updates during training, which will destroy your pre-trained features"
    (keras-io transfer-learning guide). The base's BatchNormalization layers also run
    in training mode and replace the pretrained moving statistics with those of your
    batches (F4), usually at the optimizer's default learning rate.

    ## Example
    ```python
    base = keras.applications.ResNet50(include_top=False, pooling="avg")
    model = keras.Sequential([base, keras.layers.Dense(10)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y)
    ```

    ## Use instead
    Train the head on a frozen base first, then unfreeze at a low learning rate:
    ```python
    base.trainable = False
    model = keras.Sequential([base, keras.layers.Dense(10)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y)
    ```

    ## Fix safety
    No automatic fix: full fine-tuning from the start is a legitimate choice for large
    target datasets, which is why the rule is opt-in.

    ## References
    - keras-io guide "Transfer learning & fine-tuning", "The typical transfer-learning
      workflow"
    - TensorFlow tutorial "Transfer learning and fine-tuning"
    """

    code = "BN210"
    name = "pretrained-base-not-frozen"
    severity = "info"
    reads_program = True
    summary = "a pretrained base trained together with a new head without being frozen first"
    default_enabled = False
    needles = (b"weights", b"applications", b"from_preset", b"load_model")
    flagged = (
        """
        import keras
        base = keras.applications.ResNet50(include_top=False, pooling="avg")
        model = keras.Sequential([base, keras.layers.Dense(10)])
        model.compile(optimizer="adam", loss="mse")
        model.fit(x, y)
        """,
        """
        import keras
        from keras import layers
        base = keras.applications.EfficientNetB0(include_top=False, weights="imagenet")
        inputs = keras.Input((224, 224, 3))
        x = layers.GlobalAveragePooling2D()(base(inputs))
        model = keras.Model(inputs, layers.Dense(5)(x))
        model.compile(keras.optimizers.Adam(1e-3), "mse")
        model.fit(ds)
        """,
        """
        import keras
        from keras import layers
        inputs = layers.Input(shape=(224, 224, 3))
        base = keras.applications.EfficientNetB0(include_top=False, input_tensor=inputs)
        x = layers.GlobalAveragePooling2D()(base.output)
        model = keras.Model(inputs, layers.Dense(120, activation="softmax")(x))
        model.compile(optimizer="adam", loss="categorical_crossentropy")
        model.fit(ds_train, epochs=40)
        """,
        """
        import tensorflow as tf
        base = tf.keras.applications.MobileNetV2(include_top=False, pooling="avg")
        model = tf.keras.Sequential([base, tf.keras.layers.Dropout(0.2), tf.keras.layers.Dense(2)])
        model.compile(optimizer=tf.keras.optimizers.SGD(0.01), loss="mse")
        model.fit(x, y)
        """,
    )
    not_flagged = (
        TWO_PHASE_SEQUENTIAL,
        # keras-io transfer-learning guide recipe
        KERAS_IO_TRANSFER_LEARNING_ONE_LINE_HEAD,
        # keras-io EfficientNet fine-tuning example
        EFFICIENTNET_HEAD_PHASE,
        """
        import keras
        base = keras.applications.ResNet50(include_top=False, pooling="avg", weights=None)
        model = keras.Sequential([base, keras.layers.Dense(10)])
        model.compile(optimizer="adam", loss="mse")
        model.fit(x, y)
        """,
        """
        import keras
        base = keras.applications.VGG16(include_top=False, pooling="avg")
        model = keras.Sequential([base, keras.layers.Dense(10)])
        model.compile(optimizer="adam", loss="mse")
        model.fit(x, y)
        """,
        """
        import keras
        base = keras.applications.ResNet50(include_top=False, pooling="avg")
        model = keras.Sequential([base, keras.layers.Dense(10)])
        if freeze:
            base.trainable = False
        model.compile(optimizer="adam", loss="mse")
        model.fit(x, y)
        """,
        """
        import keras
        base = keras.applications.ResNet50(include_top=False, pooling="avg")
        model = keras.Sequential([base, keras.layers.Dense(10)])
        model.load_weights("checkpoint.weights.h5")
        model.compile(optimizer="adam", loss="mse")
        model.fit(x, y)
        """,
    )

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        if ctx.model.may_overwrite_weights:
            return  # the head may not be fresh
        for runs in wf.phases(ctx.model).values():
            if not runs or runs[0].compile is None:
                continue
            phase = runs[0]
            for base in _bases(phase.model):
                if wf.trainable_at(phase.fit, base) is not True or (
                    wf.bn_trainable_at(phase.fit, base) is not True
                ):
                    continue
                if any(wf.trainable_changes_between(ctx.model, base, None, phase.fit,
                                                    to=False)):
                    continue  # some freeze (maybe partial or conditional) happens
                head = _fresh_head(phase.model, base)
                if head is None:
                    continue
                name = wf.describe(base)
                assert phase.compile is not None
                yield Report(
                    phase.compile.node,
                    f"{name} (pretrained, with BatchNormalization) is trained from the first "
                    "phase together with a freshly initialised head: the head's large "
                    "early gradients and the BN layers in training mode damage the "
                    f"pretrained features; set `{base.label or 'base'}.trainable = False`, "
                    "train the head, then unfreeze at a low learning rate",
                    (
                        *call_notes(phase.compile, "the compile"),
                        (base.node, f"{name} is created here with pretrained weights"),
                        (head.node, "a freshly initialised layer trained with it"),
                        (phase.fit.node, "the first training run"),
                    ),
                )


def _bases(model: Layer) -> list[Layer]:
    found = [layer for layer in model.descendants() if wf.is_bn_base(layer)]
    found.extend(layer for layer in wf.flattened_into(model)
                 if wf.is_bn_base(layer) and layer not in found)
    return found


def _fresh_head(model: Layer, base: Layer) -> Layer | None:
    """A layer with weights, built here without pretrained weights, outside ``base``."""
    inner = set(map(id, base.descendants()))
    for layer in model.descendants():
        if layer is base or id(layer) in inner or layer.pretrained or layer.opaque:
            continue
        if layer.is_model or layer.children or wf.is_weightless(layer) or layer.is_bn:
            continue
        if layer.qualname.startswith(("keras.", "tensorflow.", "tf_keras.")) and (
            layer.user_class is None
        ):
            return layer
    return None
