"""BN206 unfreeze-child-of-frozen-container."""

from __future__ import annotations

from collections.abc import Iterator

from bnlint.probe.facts import model_facts
from bnlint.probe.scenario import scenario
from bnlint.rule import Report, Rule, RuleContext
from bnlint.semantic import workflow as wf
from bnlint.semantic.events import Event, call_notes
from bnlint.semantic.model import SemanticModel
from bnlint.semantic.values import Layer

from ._recipes import (
    EFFICIENTNET_FINE_TUNE,
    KERAS_IO_TRANSFER_LEARNING_ONE_LINE_HEAD,
    flag_loop_recipe,
)


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
    reads_program = True
    summary = "re-enabling layers inside a frozen model (trains in Keras 3, not in tf-keras)"
    needles = (b"trainable",)
    flagged = (
        # the "set_trainable flag" recipe without `conv_base.trainable = True` first
        flag_loop_recipe(freeze_one_by_one=False, unfreeze_base_first=False,
                         optimizer='keras.optimizers.Adam(1e-5)'),
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
        # the GAN script re-enables D's layers, then D itself, before compiling anything
        """
        import keras
        from keras import layers
        d = keras.Sequential([layers.Dense(8), layers.BatchNormalization(), layers.Dense(1)])
        g = keras.Sequential([layers.Dense(8), layers.Dense(4)])
        for layer in d.layers:
            layer.trainable = False
        d.trainable = False
        z = keras.Input((4,))
        gan = keras.Model(z, d(g(z)))
        gan.compile("adam", "binary_crossentropy")
        for layer in d.layers:
            layer.trainable = True
        d.trainable = True
        d.compile("adam", "binary_crossentropy")
        d.train_on_batch(x, y)
        """,
        # the model is built on the base's tensors: the re-enabled layers are its own
        """
        import tensorflow as tf
        base_model = tf.keras.applications.ResNet50(weights="imagenet", include_top=False)
        base_model.trainable = False
        x = tf.keras.layers.GlobalAveragePooling2D()(base_model.output)
        outputs = tf.keras.layers.Dense(10)(x)
        model = tf.keras.Model(inputs=base_model.input, outputs=outputs)
        for layer in base_model.layers[-20:]:
            layer.trainable = True
        model.compile(optimizer=tf.keras.optimizers.Adam(1e-5), loss="mse")
        model.fit(x_train, y_train)
        """,
        """
        import keras
        base = keras.applications.ResNet50(include_top=False, pooling="avg")
        base.trainable = True
        for layer in base.layers[:-20]:
            layer.trainable = False
        """,
        # keras-io EfficientNet fine-tuning example
        EFFICIENTNET_FINE_TUNE,
        # keras-io transfer-learning guide recipe
        KERAS_IO_TRANSFER_LEARNING_ONE_LINE_HEAD,
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
            if (selection is None or not wf.trusted(event) or not wf.assigns(event, True)
                    or selection.members is not None and not selection.members):
                continue
            container = selection.container
            if _only_flattened(model.layers, container):
                continue  # its layers are another model's own: no frozen container gates
            freeze = wf.freeze_in_force(model, container, event)
            if freeze is None:
                continue
            frozen = freeze.target
            assert isinstance(frozen, Layer)
            if _unfrozen_before_training(model, event, frozen):
                continue  # the frozen container never reaches a compile or a fit
            name, child = wf.describe(container), "layer" if selection.extent == "one" else "layers"
            yield Report(
                event.node,
                f"re-enabling {child} inside {name} while {wf.describe(frozen)} is frozen "
                "behaves differently per flavour: Keras 3 trains them when a trainable "
                "outer model is fitted, tf-keras never does but still runs re-enabled "
                "BatchNormalization layers in training mode; set "
                f"`{container.label or 'base'}.trainable = True` and freeze the layers to "
                "keep with `trainable = False` instead",
                (*call_notes(event, "the change"),
                 (freeze.node, f"{wf.describe(frozen)} is frozen here")),
                scenario=scenario(self.code, **model_facts(frozen)),
            )



def _unfrozen_before_training(model: SemanticModel, change: Event, frozen: Layer) -> bool:
    """Is ``frozen`` itself set trainable again, for sure, before the next compile or
    fit after ``change`` (the GAN script that re-enables D's layers, then D)?"""
    for event in wf.events_between(model, change, None):
        if event.kind in {"compile", "fit"}:
            return False
        if (event.kind == "set_trainable" and event.layer is frozen and wf.trusted(event)
                and wf.assigns(event, True)):
            return True
    return False


def _only_flattened(layers: list[Layer], container: Layer) -> bool:
    """Is ``container`` used only as the tensors another model is built on
    (``Model(base.input, head(base.output))``), never as a layer inside a model?"""
    wirings = [wiring for layer in layers for wiring in layer.children
               if wiring.child is container]
    return bool(wirings) and all(wiring.mode == "flattened" for wiring in wirings)
