"""BN202 keras3-training-false-ignored."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from bnlint.finding import Severity
from bnlint.probe.facts import fine_tuning_facts
from bnlint.probe.scenario import scenario
from bnlint.rule import Example, FixExample, Report, Rule, RuleContext
from bnlint.semantic import workflow as wf
from bnlint.semantic.events import call_notes
from bnlint.semantic.values import Wiring

from ._chains import unfrozen_base_steps
from ._fixes import refreeze

if TYPE_CHECKING:
    import libcst as cst
else:
    from bnlint.lazy import libcst as cst

_FUNCTIONAL = """
import keras
base = keras.applications.ResNet50(include_top=False, pooling="avg")
base.trainable = False
inputs = keras.Input((224, 224, 3))
x = base(inputs, training=False)
model = keras.Model(inputs, keras.layers.Dense(10)(x))
model.compile(optimizer="adam", loss="mse")
model.fit(x_train, y_train)
base.trainable = True
model.compile(optimizer=keras.optimizers.Adam(1e-5), loss="mse")
model.fit(x_train, y_train)
"""

_FUNCTIONAL_TF = """
from tensorflow import keras
base = keras.applications.EfficientNetB0(include_top=False, weights="imagenet")
base.trainable = False
inputs = keras.Input((224, 224, 3))
x = base(inputs, training=False)
x = keras.layers.GlobalAveragePooling2D()(x)
model = keras.Model(inputs, keras.layers.Dense(5)(x))
model.compile("adam", "mse")
model.fit(ds)
base.trainable = True
model.compile(keras.optimizers.Adam(1e-5), "mse")
model.fit(ds)
"""


class Keras3TrainingFalseIgnored(Rule):
    """## What it does
    Flags unfreezing a pretrained base that contains BatchNormalization when the base
    is called in a functional graph as `base(x, training=False)` and the code targets
    Keras 3.0-3.15: there `fit()` overrides the recorded `training=False`, so the BN
    layers of the unfrozen base run in training mode. When the Keras 3 minor version is
    unknown the finding is reported as info. Silent for tf-keras and Keras >= 3.16, and
    when a loop sets the BN layers back to `trainable = False` before the fit.

    Silent (and so is BN201) when nothing says which Keras the code targets: under
    tf-keras the functional `training=False` is honoured.

    ## Why is this bad?
    The keras-io transfer-learning guide, the TensorFlow tutorial and the EfficientNet
    example all pass `training=False` to the base so that its BN layers keep running in
    inference mode after `base.trainable = True`. In a Keras 3.0-3.15 functional model
    the outer call's `training` value is injected into every inner call and overwrites
    the recorded `training=False` (F5: keras/src/models/functional.py, keras-team/keras
    #20285; fixed by #23364 after 3.15.1). `fit()` calls the model with `training=True`,
    so the BN layers replace the pretrained moving mean/variance with your batches'
    statistics (measured: moving_mean changes on every backend; tf-keras keeps it).

    ## Example
    ```python
    x = base(inputs, training=False)
    model = keras.Model(inputs, head(x))
    base.trainable = True
    model.compile(optimizer=keras.optimizers.Adam(1e-5), loss="mse")
    model.fit(ds)
    ```

    ## Use instead
    Freeze the BN layers themselves after unfreezing (portable across all flavours):
    ```python
    base.trainable = True
    for layer in base.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False
    model.compile(optimizer=keras.optimizers.Adam(1e-5), loss="mse")
    ```
    or call the base from a subclassed model's `call()` with `training=False`.

    ## Fix safety
    The fix inserts, after the unfreeze, the loop that sets `trainable = False` on each
    BatchNormalization layer of the base (as BN201's fix does). It is unsafe: it
    changes training behaviour, although it restores what the code states it wants
    (the base's BN in inference mode). Offered only for an unfreeze written
    `base.trainable = True` on its own line (not in a loop).

    ## References
    - keras-team/keras#20285 and #23364
    - keras-io guide "Transfer learning & fine-tuning", "Important notes about
      BatchNormalization layer"
    """

    code = "BN202"
    name = "keras3-training-false-ignored"
    severity = "warning"
    reads_program = True
    summary = "Keras 3.0-3.15 ignores a functional `base(x, training=False)` during fit()"
    # an unfreeze is always written (here or in a module it imports): the base's
    # `training=` may be a constant (`training=TRAIN_BN` with `TRAIN_BN = False`)
    needles = (b"trainable",)
    flagged = (
        # the TensorFlow transfer-learning tutorial: unfreeze all, re-freeze the first 100
        Example(
            """
            import tensorflow as tf
            preprocess_input = tf.keras.applications.mobilenet_v2.preprocess_input
            base_model = tf.keras.applications.MobileNetV2(input_shape=(160, 160, 3),
                                                           include_top=False, weights="imagenet")
            base_model.trainable = False
            inputs = tf.keras.Input(shape=(160, 160, 3))
            x = preprocess_input(inputs)
            x = base_model(x, training=False)
            x = tf.keras.layers.GlobalAveragePooling2D()(x)
            outputs = tf.keras.layers.Dense(1)(x)
            model = tf.keras.Model(inputs, outputs)
            model.compile(optimizer=tf.keras.optimizers.Adam(learning_rate=0.0001), loss="mse")
            model.fit(train_dataset, epochs=10)
            base_model.trainable = True
            fine_tune_at = 100
            for layer in base_model.layers[:fine_tune_at]:
                layer.trainable = False
            model.compile(optimizer=tf.keras.optimizers.RMSprop(learning_rate=0.0001 / 10),
                          loss="mse")
            model.fit(train_dataset, epochs=20)
            """,
            target="keras3", keras_version="3.10",
        ),
        Example(_FUNCTIONAL, target="keras3", keras_version="3.8"),
        # `training=` given by a module constant
        Example(_FUNCTIONAL.replace("import keras\n", "import keras\nBN_TRAINING = False\n")
                .replace("training=False", "training=BN_TRAINING"),
                target="keras3", keras_version="3.8"),
        Example(_FUNCTIONAL_TF, target="keras3", keras_version="3.15"),
        # Keras 3 of unknown version: reported as info
        Example(_FUNCTIONAL, target="keras3"),
        Example(
            """
            import keras
            base = keras.applications.MobileNetV2(include_top=False, pooling="avg")
            base.trainable = False
            inputs = keras.Input((160, 160, 3))
            features = base(inputs, training=False)
            outputs = keras.layers.Dense(2)(keras.layers.Dropout(0.2)(features))
            model = keras.Model(inputs, outputs)
            model.compile(keras.optimizers.Adam(1e-3), "mse")
            model.fit(ds)
            for layer in base.layers[100:]:
                layer.trainable = True
            model.compile(keras.optimizers.Adam(1e-5), "mse")
            model.fit(ds)
            """,
            target="keras3", keras_version="3.8",
        ),
        Example(
            """
            import keras
            def build():
                base = keras.applications.DenseNet121(include_top=False, pooling="avg")
                base.trainable = False
                inputs = keras.Input((224, 224, 3))
                model = keras.Model(inputs, keras.layers.Dense(3)(base(inputs, training=False)))
                return base, model
            base, model = build()
            base.trainable = True
            model.compile(keras.optimizers.Adam(1e-5), "mse")
            model.fit(ds)
            """,
            target="keras3", keras_version="3.10",
        ),
        Example(
            """
            import keras
            base = keras.applications.ResNet50(include_top=False, pooling="avg")
            base.trainable = False
            inputs = keras.Input((224, 224, 3))
            model = keras.Model(inputs, keras.layers.Dense(10)(base(inputs, training=False)))
            model.compile("adam", "mse")
            model.fit(x, y)
            if fine_tune:
                base.trainable = True
            model.compile(keras.optimizers.Adam(1e-5), "mse")
            model.fit(x, y)
            """,
            target="keras3", keras_version="3.8",
        ),
    )
    fixed = (
        FixExample(_FUNCTIONAL, _FUNCTIONAL.replace(
            "base.trainable = True\n",
            "base.trainable = True\n"
            "for layer in base.layers:\n"
            "    if isinstance(layer, keras.layers.BatchNormalization):\n"
            "        layer.trainable = False\n"), target="keras3", keras_version="3.8"),
    )
    not_flagged = (
        Example(_FUNCTIONAL, target="tf-keras"),
        Example(_FUNCTIONAL, target="keras3", keras_version="3.16"),
        Example(_FUNCTIONAL_TF, target="tf-keras", keras_version="2.15"),
        Example(
            """
            import keras
            base = keras.applications.ResNet50(include_top=False, pooling="avg")
            base.trainable = False
            inputs = keras.Input((224, 224, 3))
            x = base(inputs, training=False)
            model = keras.Model(inputs, keras.layers.Dense(10)(x))
            model.compile(optimizer="adam", loss="mse")
            model.fit(x_train, y_train)
            base.trainable = True
            for layer in base.layers:
                if isinstance(layer, keras.layers.BatchNormalization):
                    layer.trainable = False
            model.compile(optimizer=keras.optimizers.Adam(1e-5), loss="mse")
            model.fit(x_train, y_train)
            """,
            target="keras3", keras_version="3.8",
        ),
        Example(
            """
            import keras
            class Classifier(keras.Model):
                def __init__(self):
                    super().__init__()
                    self.base = keras.applications.ResNet50(include_top=False, pooling="avg")
                    self.head = keras.layers.Dense(10)
                def call(self, x, training=None):
                    return self.head(self.base(x, training=False))
            model = Classifier()
            model.base.trainable = True
            model.compile(keras.optimizers.Adam(1e-5), "mse")
            model.fit(x, y)
            """,
            target="keras3", keras_version="3.8",
        ),
        Example(
            """
            import keras
            base = keras.applications.VGG16(include_top=False, pooling="avg")
            base.trainable = False
            inputs = keras.Input((224, 224, 3))
            model = keras.Model(inputs, keras.layers.Dense(10)(base(inputs, training=False)))
            base.trainable = True
            model.compile(keras.optimizers.Adam(1e-5), "mse")
            model.fit(x, y)
            """,
            target="keras3", keras_version="3.8",
        ),
    )

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        for found in wf.unfrozen_bn_bases(ctx.model, ctx.flavour):
            if found.mode not in {"overridden", "maybe-overridden"} or found.decisive is None:
                continue
            known = ctx.flavour.version
            version = "Keras " + ".".join(str(part) for part in known) if known else "Keras 3"
            severity: Severity | None = None
            if found.mode == "overridden":
                lead = f"{version} overrides"
            else:
                lead = "Keras 3.0-3.15 (this Keras 3 version is unknown) overrides"
                severity = "info"
            fit = found.phase.fit.kind == "fit"
            during = "fit()" if fit else "its training steps"
            outer = "fit()'s training=True" if fit else "the training step's training=True"
            yield Report(
                found.unfreeze.node,
                f"unfreezing {wf.describe(found.base)} lets its BatchNormalization layers run "
                f"in training mode during {during}: {lead} the functional `training=False` "
                f"with {outer}, so they overwrite the pretrained moving mean/variance; "
                "after unfreezing, set `trainable = False` on each BatchNormalization "
                "layer of the base",
                (*call_notes(found.unfreeze, "the unfreeze"),
                 *_chain(ctx, found, found.decisive)),
                severity=severity,
                scenario=scenario(self.code, **fine_tuning_facts(
                    wf.runs_of(ctx.model, found.phase), found.phase, found.base, found.decisive)),
                fix=refreeze(ctx.model, found),
            )


def _chain(ctx: RuleContext, found: wf.UnfrozenBnBase,
           decisive: Wiring) -> Iterator[tuple[cst.CSTNode, str]]:
    yield from unfrozen_base_steps(ctx.model, found)
    yield decisive.node, (f"{wf.describe(found.base)} is called with training=False in the "
                          f"functional graph of {wf.describe(found.phase.model)}: recorded, "
                          "then overridden by fit()")
