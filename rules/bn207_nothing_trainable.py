"""BN207 nothing-trainable."""

from __future__ import annotations

from collections.abc import Iterator

from bnlint.probe.facts import model_facts
from bnlint.probe.scenario import scenario
from bnlint.rule import Report, Rule, RuleContext
from bnlint.semantic import workflow as wf
from bnlint.semantic.events import Event, call_notes
from bnlint.semantic.values import Layer

from ._recipes import EFFICIENTNET_HEAD_PHASE


class NothingTrainable(Rule):
    """## What it does
    Flags `fit()` / `train_on_batch()` on a model that has nothing trainable both when
    it was compiled and when it is fitted: the model itself is frozen
    (`model.trainable = False`), or every layer with weights inside it is frozen (e.g.
    `Sequential([frozen_base])`, or a frozen base followed only by pooling/dropout).

    ## Why is this bad?
    `trainable = False` on a container freezes everything inside it (F7). A model
    without trainable weights is still "trained": `fit()` runs every epoch, reports a
    loss, and changes nothing (Keras only logs a warning that the model does not have
    any trainable weights). Usually the head was forgotten or the freeze was applied
    to the wrong object.

    ## Example
    ```python
    base = keras.applications.ResNet50(include_top=False, pooling="avg")
    base.trainable = False
    model = keras.Sequential([base])
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y)
    ```

    ## Use instead
    ```python
    base.trainable = False
    model = keras.Sequential([base, keras.layers.Dense(10)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y)
    ```

    ## Fix safety
    No automatic fix: what should be trainable is the author's decision.

    ## References
    - keras-io guide "Transfer learning & fine-tuning", "Freezing layers: understanding
      the `trainable` attribute"
    """

    code = "BN207"
    name = "nothing-trainable"
    severity = "warning"
    reads_program = True
    summary = "fit() on a model with no trainable weights"
    needles = (b"trainable",)
    flagged = (
        """
        import keras
        base = keras.applications.ResNet50(include_top=False, pooling="avg")
        base.trainable = False
        model = keras.Sequential([base])
        model.compile(optimizer="adam", loss="mse")
        model.fit(x, y)
        """,
        """
        import keras
        from keras import layers
        inputs = keras.Input((32,))
        x = layers.Dense(64)(inputs)
        x = layers.BatchNormalization()(x)
        model = keras.Model(inputs, layers.Dense(1)(x))
        model.trainable = False
        model.compile(optimizer="adam", loss="mse")
        model.fit(x_train, y_train)
        """,
        """
        import tensorflow as tf
        base = tf.keras.applications.MobileNetV2(include_top=False)
        base.trainable = False
        model = tf.keras.Sequential([
            base,
            tf.keras.layers.GlobalAveragePooling2D(),
            tf.keras.layers.Dropout(0.2),
        ])
        model.compile(optimizer="adam", loss="mse")
        model.fit(x, y)
        """,
        """
        import keras
        base = keras.applications.ResNet50(include_top=False, pooling="avg")
        model = keras.Sequential([base, keras.layers.Dense(10)])
        model.trainable = False
        model.compile(optimizer="adam", loss="mse")
        model.train_on_batch(x, y)
        """,
        # re-enabling layers inside a frozen model leaves the model's own weights empty
        """
        import keras
        model = keras.models.load_model("base.h5")
        model.trainable = False
        for layer in model.layers[-20:]:
            layer.trainable = True
        model.compile(optimizer="sgd", loss="mse")
        model.fit(x, y)
        """,
        # the fine-tuning recipe's slice applied to the two-layer model, not to the base:
        # `model.layers[:100]` is every layer of it
        """
        import keras
        base = keras.applications.MobileNetV2(include_top=False, pooling="avg")
        model = keras.Sequential([base, keras.layers.Dense(10)])
        fine_tune_at = 100
        for layer in model.layers[:fine_tune_at]:
            layer.trainable = False
        model.compile(optimizer="adam", loss="mse")
        model.fit(x, y)
        """,
    )
    not_flagged = (
        """
        import keras
        base = keras.applications.ResNet50(include_top=False, pooling="avg")
        base.trainable = False
        model = keras.Sequential([base, keras.layers.Dense(10)])
        model.compile(optimizer="adam", loss="mse")
        model.fit(x, y)
        """,
        # keras-io transfer-learning guide recipe
        """
        import keras
        from keras import layers
        base_model = keras.applications.Xception(weights="imagenet", include_top=False)
        base_model.trainable = False
        inputs = keras.Input(shape=(150, 150, 3))
        x = base_model(inputs, training=False)
        x = layers.GlobalAveragePooling2D()(x)
        x = layers.Dropout(0.2)(x)
        model = keras.Model(inputs, layers.Dense(1)(x))
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
        model.fit(train_ds, epochs=2)
        """,
        # keras-io EfficientNet fine-tuning example
        EFFICIENTNET_HEAD_PHASE,
        """
        import keras
        base = keras.applications.ResNet50(include_top=False, pooling="avg")
        model = keras.Sequential([base, keras.layers.Dense(10)])
        model.trainable = False
        model.compile(optimizer="adam", loss="mse")
        model.trainable = True
        model.compile(optimizer="adam", loss="mse")
        model.fit(x, y)
        """,
        """
        import keras
        base = keras.applications.ResNet50(include_top=False, pooling="avg")
        base.trainable = False
        model = keras.Sequential([base])
        if extra_head:
            model.add(keras.layers.Dense(10))
        model.compile(optimizer="adam", loss="mse")
        model.fit(x, y)
        """,
        """
        import keras
        base = keras.applications.ResNet50(include_top=False, pooling="avg")
        base.trainable = False
        for layer in base.layers[-10:]:
            layer.trainable = True
        model = keras.Sequential([base])
        model.compile(optimizer="adam", loss="mse")
        model.fit(x, y)
        """,
        # the same slice on the base's own layers leaves its top trainable
        """
        import keras
        base = keras.applications.MobileNetV2(include_top=False, pooling="avg")
        model = keras.Sequential([base, keras.layers.Dense(10)])
        fine_tune_at = 100
        for layer in base.layers[:fine_tune_at]:
            layer.trainable = False
        model.compile(optimizer="adam", loss="mse")
        model.fit(x, y)
        """,
    )

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        for runs in wf.phases(ctx.model).values():
            for phase in runs:
                if phase.compile is None:
                    continue
                why = _nothing_trainable(ctx, phase.model, phase.compile, phase.fit)
                if why is None:
                    continue
                freeze, note = why
                name = wf.describe(phase.model)
                yield Report(
                    phase.fit.node,
                    f"{name} has no trainable weights ({note}), so this fit() runs "
                    "without changing anything; add a trainable head or unfreeze (part "
                    "of) the model before compiling",
                    (
                        *call_notes(phase.fit, "the fit"),
                        (freeze.node, "everything is frozen here"),
                        (phase.compile.node, "compiled with nothing trainable"),
                    ),
                    scenario=scenario(self.code, **model_facts(phase.model)),
                )


def _nothing_trainable(ctx: RuleContext, model: Layer, compile_: Event,
                       fit: Event) -> tuple[Event, str] | None:
    """(the freeze responsible, a short explanation) when nothing in ``model`` is
    trainable at ``compile_`` and at ``fit``."""
    events = ctx.model
    if any(wf.trainable_at(e, model) is not False for e in (compile_, fit)):
        if model.model_kind not in {"sequential", "functional"} or model.opaque:
            return None
        if model.has_bn is None or model.has_dropout is None:
            return None  # part of the model is unknown
        for part in model.descendants():
            if wf.is_weightless(part):
                continue
            for event in (compile_, fit):
                if wf.trainable_at(event, part) is not False:
                    return None
                if part.opaque and wf.bn_trainable_at(event, part) is not False:
                    return None
        # selections can unfreeze the untracked layers of a frozen base without
        # changing its own flag: any of them before the fit -> unknown (one that only
        # freezes makes nothing trainable)
        if any(e.selection is not None and not wf.assigns(e, False)
               for e in wf.trainable_changes_between(events, model, None, fit)):
            return None
        note = "every layer with weights inside it is frozen"
    else:
        note = "it is frozen itself"
    freeze: Event | None = None
    for part in wf.parts(model):
        found = wf.last_freeze(events, part, compile_)
        if found is not None and (freeze is None or
                                  wf.position(events, found) > wf.position(events, freeze)):
            freeze = found
    if freeze is None:
        return None
    # a frozen model's own weights list is empty whatever its layers' flags say (F7):
    # then only a change to the model's own flag counts
    itself = note == "it is frozen itself"
    if any(not itself or change.selection is None
           for change in wf.trainable_changes_between(events, model, freeze, fit, to=True)):
        return None
    return freeze, note
