"""BN206 unfreeze-child-of-frozen-container."""

from __future__ import annotations

from collections.abc import Iterator

from bnlint.rule import Report, Rule, RuleContext
from bnlint.semantic import workflow as wf
from bnlint.semantic.events import Event
from bnlint.semantic.values import Layer

from . import _phases as ph


class UnfreezeChildOfFrozenContainer(Rule):
    """## What it does
    Flags `layer.trainable = True` on layers selected from a model that is frozen
    (`base.trainable = False`, then `for layer in base.layers[-20:]:
    layer.trainable = True`, or `base.get_layer(...)`) when the model itself is not set
    back to `trainable = True` in between.

    It does not flag a model built on `base.output` (or with `input_tensor=`): there
    the base's layers are the new model's own layers, and the new model is trainable.

    ## Why is this bad?
    What this trains depends on the Keras flavour (F8). In Keras 3 only the top-level
    model's flag gates, so the re-enabled layers are trained although
    `base.trainable_weights` is empty. In tf-keras a non-trainable container hides the
    weights of all its layers, so nothing is trained, yet a re-enabled
    BatchNormalization layer still runs in training mode and overwrites its moving
    statistics: the worst of both. The intent is ambiguous and not portable.

    ## Example
    ```python
    base.trainable = False
    for layer in base.layers[-20:]:
        layer.trainable = True
    ```

    ## Use instead
    Unfreeze the container, then freeze what should stay frozen:
    ```python
    base.trainable = True
    for layer in base.layers[:-20]:
        layer.trainable = False
    ```

    ## Fix safety
    No automatic fix yet: the rewrite is safe when the selection is a contiguous tail
    of the layers, but which BN layers to keep frozen is the author's choice.

    ## References
    - keras-io guide "Transfer learning & fine-tuning", "Recursive setting of the
      `trainable` attribute"
    - keras-io example "Image classification via fine-tuning with EfficientNet"
    """

    code = "BN206"
    name = "unfreeze-child-of-frozen-container"
    severity = "warning"
    summary = "re-enabling layers inside a frozen model (trains in Keras 3, not in tf-keras)"
    needles = (b"trainable",)
    flagged = (
        """
        import keras
        base = keras.applications.ResNet50(include_top=False, pooling="avg")
        base.trainable = False
        for layer in base.layers[-20:]:
            layer.trainable = True
        """,
        """
        import keras
        base = keras.applications.ResNet50(include_top=False, pooling="avg")
        base.trainable = False
        model = keras.Sequential([base, keras.layers.Dense(10)])
        model.compile(optimizer="adam", loss="mse")
        model.fit(x, y)
        base.get_layer("conv5_block3_out").trainable = True
        model.compile(optimizer=keras.optimizers.Adam(1e-5), loss="mse")
        model.fit(x, y)
        """,
        """
        import tensorflow as tf
        base = tf.keras.applications.MobileNetV2(include_top=False)
        base.trainable = False
        for layer in base.layers[100:]:
            if not isinstance(layer, tf.keras.layers.BatchNormalization):
                layer.trainable = True
        """,
        """
        import keras
        base = keras.applications.ResNet50(include_top=False, pooling="avg")
        model = keras.Sequential([base, keras.layers.Dense(10)])
        model.trainable = False
        for layer in base.layers[-10:]:
            layer.trainable = True
        """,
    )
    not_flagged = (
        """
        import keras
        base = keras.applications.ResNet50(include_top=False, pooling="avg")
        base.trainable = True
        for layer in base.layers[:-20]:
            layer.trainable = False
        """,
        # keras-io EfficientNet fine-tuning example
        """
        import keras
        from keras import layers
        from keras.applications import EfficientNetB0
        inputs = layers.Input(shape=(224, 224, 3))
        model = EfficientNetB0(include_top=False, input_tensor=inputs, weights="imagenet")
        model.trainable = False
        x = layers.GlobalAveragePooling2D(name="avg_pool")(model.output)
        x = layers.BatchNormalization()(x)
        outputs = layers.Dense(120, activation="softmax", name="pred")(x)
        model = keras.Model(inputs, outputs, name="EfficientNet")
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-2), loss="mse")
        model.fit(ds_train, epochs=25)
        for layer in model.layers[-20:]:
            if not isinstance(layer, layers.BatchNormalization):
                layer.trainable = True
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-5), loss="mse")
        model.fit(ds_train, epochs=4)
        """,
        # keras-io transfer-learning guide recipe
        """
        import keras
        from keras import layers
        base_model = keras.applications.Xception(weights="imagenet", include_top=False)
        base_model.trainable = False
        inputs = keras.Input(shape=(150, 150, 3))
        x = base_model(inputs, training=False)
        model = keras.Model(inputs, layers.Dense(1)(layers.GlobalAveragePooling2D()(x)))
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
        model.fit(train_ds, epochs=2)
        base_model.trainable = True
        for layer in base_model.layers:
            if isinstance(layer, layers.BatchNormalization):
                layer.trainable = False
        model.compile(optimizer=keras.optimizers.Adam(1e-5), loss="mse")
        model.fit(train_ds, epochs=1)
        """,
        """
        import keras
        base = keras.applications.ResNet50(include_top=False, pooling="avg")
        base.trainable = False
        base.trainable = True
        for layer in base.layers[-20:]:
            layer.trainable = True
        """,
        """
        import keras
        base = keras.applications.ResNet50(include_top=False, pooling="avg")
        base.trainable = False
        if fine_tune:
            base.trainable = True
        for layer in base.layers[-20:]:
            layer.trainable = True
        """,
        """
        import keras
        base = keras.applications.ResNet50(include_top=False, pooling="avg")
        base.trainable = False
        inputs = keras.Input((224, 224, 3))
        x = keras.layers.GlobalAveragePooling2D()(base(inputs, training=False))
        model = keras.Model(inputs, keras.layers.Dense(2)(x))
        for layer in model.layers[-2:]:
            layer.trainable = True
        """,
    )

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        model = ctx.model
        for event in model.events_of("set_trainable"):
            selection = event.selection
            if (selection is None or not wf.trusted(event) or not ph.is_const(event, True)
                    or selection.members is not None and not selection.members):
                continue
            container = selection.container
            freeze = _frozen_container(ctx, container, event)
            if freeze is None:
                continue
            frozen = freeze.target
            assert isinstance(frozen, Layer)
            name, child = wf.describe(container), "layer" if selection.extent == "one" else "layers"
            yield Report(
                event.node,
                f"re-enabling {child} inside {name} while {wf.describe(frozen)} is frozen "
                "behaves differently per flavour: Keras 3 trains them when a trainable "
                "outer model is fitted, tf-keras never does but still runs re-enabled "
                "BatchNormalization layers in training mode; set "
                f"`{container.label or 'base'}.trainable = True` and freeze the layers to "
                "keep with `trainable = False` instead",
                ((freeze.node, f"{wf.describe(frozen)} is frozen here"),),
            )


def _frozen_container(ctx: RuleContext, container: Layer, event: Event) -> Event | None:
    """The trusted ``trainable = False`` on ``container`` or one of its containers that
    is still in force at ``event``: nothing set it (or a container of it) to anything
    else since."""
    freeze: Event | None = None
    for other in ph.between(ctx.model, None, event):
        if other.kind != "set_trainable" or not isinstance(other.target, Layer):
            continue
        target = other.target
        if target is not container and container not in target.descendants():
            continue
        if wf.trusted(other) and ph.is_const(other, False):
            freeze = other
        elif not ph.is_const(other, False):
            freeze = None  # unfrozen (or maybe unfrozen) since
    return freeze
