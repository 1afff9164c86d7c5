"""BN208 fine-tune-phase-unfreezes-nothing."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import pairwise

from bnlint.rule import Report, Rule, RuleContext
from bnlint.semantic import workflow as wf
from bnlint.semantic.events import Event, call_notes
from bnlint.semantic.values import Layer

from ._recipes import EFFICIENTNET_FINE_TUNE, KERAS_IO_TRANSFER_LEARNING


def _rate(value: float) -> str:
    return f"{value:g}"


class FineTunePhaseUnfreezesNothing(Rule):
    """## What it does
    Flags a second training phase (a new `compile()` followed by `fit()`) on a model
    whose pretrained base was frozen for the first phase and is still frozen: nothing
    sets it (or part of it) back to `trainable = True` in between. The rule fires only
    when the second phase uses a known learning rate lower than the first, the usual
    sign of a fine-tuning phase.

    ## Why is this bad?
    The classic transfer-learning recipe trains a new head on a frozen base, then
    unfreezes the base and recompiles at a low learning rate to fine-tune it (F4). If
    the unfreeze is missing (or misspelt, e.g. `base.trainabe = True`, which Python
    accepts silently), the "fine-tuning" phase only keeps training the head, at a tiny
    rate: the base weights never change and the expected accuracy gain never comes.

    ## Example
    ```python
    base.trainable = False
    model = keras.Sequential([base, layers.Dense(10)])
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    model.fit(x, y)
    model.compile(optimizer=keras.optimizers.Adam(1e-5), loss="mse")  # base still frozen
    model.fit(x, y)
    ```

    ## Use instead
    ```python
    base.trainable = True
    for layer in base.layers:
        if isinstance(layer, layers.BatchNormalization):
            layer.trainable = False
    model.compile(optimizer=keras.optimizers.Adam(1e-5), loss="mse")
    model.fit(x, y)
    ```

    ## Fix safety
    No automatic fix: which part of the base to unfreeze is a judgement, and a
    deliberate two-stage learning-rate schedule for the head alone is legitimate.

    ## References
    - keras-io guide "Transfer learning & fine-tuning", "Fine-tuning"
    - keras-io example "Image classification via fine-tuning with EfficientNet"
    """

    code = "BN208"
    name = "fine-tune-phase-unfreezes-nothing"
    severity = "info"
    reads_program = True
    summary = "a second (fine-tuning) training phase while the pretrained base is still frozen"
    needles = (b"trainab",)
    flagged = (
        """
        import keras
        base = keras.applications.ResNet50(include_top=False, pooling="avg")
        base.trainable = False
        model = keras.Sequential([base, keras.layers.Dense(10)])
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
        model.fit(x, y)
        model.compile(optimizer=keras.optimizers.Adam(1e-5), loss="mse")
        model.fit(x, y)
        """,
        """
        import keras
        from keras import layers
        base_model = keras.applications.EfficientNetB0(include_top=False, weights="imagenet")
        base_model.trainable = False
        inputs = keras.Input(shape=(224, 224, 3))
        x = base_model(inputs, training=False)
        x = layers.GlobalAveragePooling2D()(x)
        model = keras.Model(inputs, layers.Dense(120, activation="softmax")(x))
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-2), loss="mse")
        model.fit(ds_train, epochs=20)
        base_model.trainabe = True
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-5), loss="mse")
        model.fit(ds_train, epochs=4)
        """,
        """
        import tensorflow as tf
        base = tf.keras.applications.MobileNetV2(include_top=False, pooling="avg")
        base.trainable = False
        model = tf.keras.Sequential([base, tf.keras.layers.Dense(2)])
        model.compile(optimizer="adam", loss="mse")
        model.fit(x, y)
        model.compile(optimizer=tf.keras.optimizers.Adam(1e-5), loss="mse")
        model.fit(x, y)
        """,
        """
        import keras
        base = keras.models.load_model("backbone.keras")
        base.trainable = False
        model = keras.Sequential([base, keras.layers.Dense(1)])
        model.compile(keras.optimizers.RMSprop(1e-3), "mse")
        model.fit(x, y)
        base.trainable = False
        model.compile(keras.optimizers.RMSprop(1e-5), "mse")
        model.fit(x, y)
        """,
    )
    not_flagged = (
        # the "set_trainable flag" recipe unfreezes the layers from `block5_conv1` on
        """
        from tensorflow import keras
        conv_base = keras.applications.VGG16(include_top=False, pooling="avg")
        conv_base.trainable = False
        model = keras.Sequential([conv_base, keras.layers.Dense(1)])
        model.compile(optimizer=keras.optimizers.RMSprop(1e-3), loss="mse")
        model.fit(x, y, epochs=5)
        conv_base.trainable = True
        set_trainable = False
        for layer in conv_base.layers:
            if layer.name == "block5_conv1":
                set_trainable = True
            if set_trainable:
                layer.trainable = True
            else:
                layer.trainable = False
        model.compile(optimizer=keras.optimizers.RMSprop(1e-5), loss="mse")
        model.fit(x, y, epochs=5)
        """,
        """
        import keras
        base = keras.applications.ResNet50(include_top=False, pooling="avg")
        base.trainable = False
        model = keras.Sequential([base, keras.layers.Dense(10)])
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
        model.fit(x, y)
        base.trainable = True
        model.compile(optimizer=keras.optimizers.Adam(1e-5), loss="mse")
        model.fit(x, y)
        """,
        # keras-io transfer-learning guide recipe
        KERAS_IO_TRANSFER_LEARNING,
        # keras-io EfficientNet fine-tuning example (layers flattened into the model)
        EFFICIENTNET_FINE_TUNE,
        """
        import keras
        base = keras.applications.ResNet50(include_top=False, pooling="avg")
        base.trainable = False
        model = keras.Sequential([base, keras.layers.Dense(10)])
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
        model.fit(x, y)
        if fine_tune:
            base.trainable = True
        model.compile(optimizer=keras.optimizers.Adam(1e-5), loss="mse")
        model.fit(x, y)
        """,
        """
        import keras
        base = keras.applications.ResNet50(include_top=False, pooling="avg")
        base.trainable = False
        model = keras.Sequential([base, keras.layers.Dense(10)])
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
        model.fit(x, y)
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse", metrics=["acc"])
        model.fit(x, y)
        """,
        """
        import keras
        base = keras.applications.ResNet50(include_top=False, pooling="avg")
        base.trainable = False
        model = keras.Sequential([base, keras.layers.Dense(10)])
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
        model.fit(x, y)
        for layer in base.layers[-30:]:
            layer.trainable = True
        model.compile(optimizer=keras.optimizers.Adam(1e-5), loss="mse")
        model.fit(x, y)
        """,
    )

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        for runs in wf.phases(ctx.model).values():
            for previous, phase in pairwise(runs):
                report = self.check_phase(ctx, previous, phase)
                if report is not None:
                    yield report

    def check_phase(self, ctx: RuleContext, previous: wf.Phase,
                    phase: wf.Phase) -> Report | None:
        model = ctx.model
        compile_ = phase.compile
        if compile_ is None or wf.position(model, compile_) < wf.position(model, previous.fit):
            return None  # not a new phase: no recompile after the previous fit
        before, after = previous.learning_rate, phase.learning_rate
        if before is None or after is None or not after < before:
            return None
        if wf.trainable_at(phase.fit, phase.model) is not True:
            return None  # the whole model is frozen: BN207's finding
        for base in phase.model.descendants():
            if not wf.is_pretrained_base(base):
                continue
            if (wf.trainable_at(previous.fit, base) is not False
                    or wf.trainable_at(phase.fit, base) is not False
                    or wf.bn_trainable_at(phase.fit, base) is True):
                continue
            freeze = wf.last_freeze(model, base, previous.fit)
            if freeze is None:
                continue
            if any(wf.trainable_changes_between(model, base, freeze, phase.fit, to=True)):
                continue  # something may unfreeze (part of) it
            name = wf.describe(base)
            related: list[tuple[object, str]] = [
                (freeze.node, f"{name} (pretrained) is frozen here for the first phase"),
                (previous.fit.node, f"the first phase trains at learning rate {_rate(before)}"),
            ]
            related.extend(_typos(ctx, base, previous.fit, compile_))
            related.append((phase.fit.node, f"{name} is still frozen when this phase runs"))
            return Report(
                compile_.node,
                f"this second phase (learning rate {_rate(after)}) looks like fine-tuning, "
                f"but {name} is still frozen since the first phase, so it only keeps "
                f"training the head; set `{base.label or 'base'}.trainable = True` (keeping "
                "its BatchNormalization layers frozen) before this compile",
                (*call_notes(compile_, "the compile"), *related),  # type: ignore[arg-type]
            )
        return None


def _typos(ctx: RuleContext, base: Layer, start: Event,
           end: Event) -> Iterator[tuple[object, str]]:
    """Attribute assignments on the base between the phases that look like a misspelt
    ``trainable`` (the usual reason the unfreeze is missing)."""
    for event in wf.events_between(ctx.model, start, end):
        if (event.kind == "set_attr" and event.layer is base and event.attr != "trainable"
                and event.attr.lower().startswith("train")):
            yield event.node, f"`.{event.attr}` is not `.trainable`: this unfreezes nothing"
