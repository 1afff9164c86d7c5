"""BN201 unfrozen-bn-in-training-mode."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from bnlint.probe.facts import fine_tuning_facts
from bnlint.probe.scenario import scenario
from bnlint.rule import FixExample, Report, Rule, RuleContext
from bnlint.semantic import workflow as wf
from bnlint.semantic.events import call_notes
from bnlint.semantic.values import Layer, Wiring

from ._chains import unfrozen_base_steps
from ._fixes import refreeze
from ._recipes import flag_loop_recipe

if TYPE_CHECKING:
    import libcst as cst
else:
    from bnlint.lazy import libcst as cst


# A subclassed model with its own train_step; `{training}` is how train_step calls it.
_TRAIN_STEP_MODEL = """
import keras
import tensorflow as tf
class Classifier(keras.Model):
    def __init__(self):
        super().__init__()
        self.base = keras.applications.ResNet50(include_top=False, pooling="avg")
        self.head = keras.layers.Dense(10)
    def call(self, x, training=None):
        return self.head(self.base(x))
    def train_step(self, data):
        x, y = data
        with tf.GradientTape() as tape:
            loss = self.compute_loss(y=y, y_pred=self(x{training}))
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        return {"loss": loss}
model = Classifier()
model.base.trainable = False
model.compile("adam", "mse")
model.fit(x, y)
model.base.trainable = True
model.compile(keras.optimizers.Adam(1e-5), "mse")
model.fit(x, y)
"""

# MobileNetV2 flattened into a model built on its output, trained with the base frozen,
# then the whole model unfrozen and its first {refreeze} layers frozen again.
_HEAD_ON_MOBILENET = """
        import keras
        base = keras.applications.MobileNetV2(include_top=False,
                                              input_tensor=keras.Input((224, 224, 3)))
        x = keras.layers.GlobalAveragePooling2D()(base.output)
        model = keras.Model(base.input, keras.layers.Dense(20)(x))
        for layer in base.layers:
            layer.trainable = False
        model.compile(optimizer=keras.optimizers.SGD(1e-2), loss="mse")
        model.fit(x_train, y_train)
        model.trainable = True
        for layer in model.layers[:{refreeze}]:
            layer.trainable = False
        model.compile(optimizer=keras.optimizers.SGD(1e-4), loss="mse")
        model.fit(x_train, y_train)
        """

# A model built from layers (BatchNormalization among them) in the user's code, then
# given pretrained weights with load_weights.
_BUILT_AND_LOADED = """
        import keras

        def build(classes):
            inputs = keras.Input((224, 224, 3))
            x = keras.layers.Conv2D(32, 3)(inputs)
            x = keras.layers.BatchNormalization()(x)
            x = keras.layers.GlobalAveragePooling2D()(x)
            return keras.Model(inputs, keras.layers.Dense(classes)(x))

        model = build(10)
        model.load_weights("pretrained.weights.h5")"""


# A head trained on a frozen pretrained base by a custom loop, then the base unfrozen;
# `{refreeze}` is what runs between the unfreeze and the second loop.
_CUSTOM_LOOP = """
        import tensorflow as tf
        base = tf.keras.applications.MobileNetV2(include_top=False, pooling="avg")
        base.trainable = False
        model = tf.keras.Sequential([base, tf.keras.layers.Dense(2)])
        optimizer = tf.keras.optimizers.Adam(1e-3)

        def train_step(images, labels):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(model(images, training=True) - labels))
            gradients = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(gradients, model.trainable_variables))

        for images, labels in dataset:
            train_step(images, labels)
        base.trainable = True{refreeze}
        for images, labels in dataset:
            train_step(images, labels)
        """


# A builder that freezes the base for the first phase and leaves it trainable for the
# second; the second phase's model is a new one.
_REBUILT_PER_PHASE = """
import tensorflow as tf

def build(fine_tune=False):
    base = tf.keras.applications.EfficientNetB0(include_top=False, pooling="avg")
    base.trainable = fine_tune
    inputs = tf.keras.Input((224, 224, 3))
    outputs = tf.keras.layers.Dense(7)(base(inputs))
    return tf.keras.Model(inputs, outputs)

model = build()
model.compile(optimizer="adam", loss="categorical_crossentropy")
model.fit(train_ds, epochs=5)
fine = build(fine_tune=True)
{copy}
fine.compile(optimizer=tf.keras.optimizers.Adam(1e-5), loss="categorical_crossentropy")
fine.fit(train_ds, epochs=5)
"""


class UnfrozenBnInTrainingMode(Rule):
    """## What it does
    Flags unfreezing a pretrained base that contains BatchNormalization when the base
    then runs in *training mode* during `fit()`: it sits inside `Sequential([...])`, is
    called in a functional graph without `training=False`, is wired in through
    `base.output` / `input_tensor=`, or is called from a subclassed `call()` (or a helper
    method it runs) that forwards `training` — and no loop sets the BN layers back to
    `trainable = False` before the fit.

    Re-freezing only the first layers (`for layer in base.layers[:100]`, or
    `base.layers[:-20]`) leaves the BN layers near the end of a `keras.applications`
    model trainable: bnlint knows the layer lists of those models and names the
    re-freeze in the finding. A model with its own `train_step` is flagged only when
    that step calls the model with `training=True`. A custom training loop counts as
    `fit()`: a step that calls the model with `training=True` on a `GradientTape` whose
    gradients are applied trains it, and needs no compile for the unfreeze to count.
    A model rebuilt for the fine-tuning phase with its base trainable
    (`build_model(fine_tune=True)`) and given the weights of the first phase's model,
    trained with that base frozen (`fine.set_weights(model.get_weights())`), is an
    unfreeze too, and so is setting trainable the layers of a model reloaded from the
    program's own checkpoint (`load_model(path)` of the path its `ModelCheckpoint` or
    `save` wrote) of the one model it trained, with its base frozen, before the load.

    ## Why is this bad?
    A BN layer uses and updates batch statistics only when it is trainable *and* called
    in training mode (F1). `fit()` calls the model with `training=True`, and nothing in
    `Sequential` or in a call without `training=False` stops that from reaching the base
    (F6). So after `base.trainable = True` every BN layer of the base replaces the
    moving mean/variance the pretrained weights were calibrated with by the statistics
    of your (small, differently distributed) batches, and its gamma/beta start moving:
    "the updates applied to the non-trainable weights will suddenly destroy what the
    model has learned" (keras-io transfer-learning guide, F4). All flavours.

    The functional `base(x, training=False)` case under Keras 3.0-3.15 is BN202.

    ## Example
    ```python
    base = keras.applications.ResNet50(include_top=False, pooling="avg")
    base.trainable = False
    model = keras.Sequential([base, layers.Dense(10)])
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    model.fit(x, y)
    base.trainable = True
    model.compile(optimizer=keras.optimizers.Adam(1e-5), loss="mse")
    model.fit(x, y)
    ```

    ## Use instead
    Keep the BN layers frozen (and so in inference mode) after unfreezing:
    ```python
    base.trainable = True
    for layer in base.layers:
        if isinstance(layer, layers.BatchNormalization):
            layer.trainable = False
    model.compile(optimizer=keras.optimizers.Adam(1e-5), loss="mse")
    ```

    ## Fix safety
    The fix inserts, after the unfreeze, the loop that sets `trainable = False` on each
    BatchNormalization layer of the base (spelt with the Keras the base comes from). It
    is unsafe: it changes training behaviour. It is what you almost always want, but
    adapting BN statistics to a large new domain is a legitimate choice. Offered only
    for an unfreeze written `base.trainable = True` on its own line (not in a loop),
    when the file shows which Keras the base comes from.

    ## References
    - keras-io guide "Transfer learning & fine-tuning", section "Important notes about
      BatchNormalization layer"
    - keras-io example "Image classification via fine-tuning with EfficientNet", "Tips
      for fine-tuning EfficientNet"
    """

    code = "BN201"
    name = "unfrozen-bn-in-training-mode"
    severity = "warning"
    reads_program = True
    summary = "an unfrozen pretrained base runs its BatchNormalization in training mode"
    needles = (b"trainable",)
    flagged = (
        # a custom train_step that calls the model with training=True
        _TRAIN_STEP_MODEL.replace("{training}", ", training=True"),
        # a custom training loop: no compile is needed for the unfreeze to take effect,
        # and the step's training=True runs the unfrozen BN layers in training mode
        _CUSTOM_LOOP.replace("{refreeze}", ""),
        # a subclassed model reaches the base through a helper method of call()
        """
        import keras
        class Classifier(keras.Model):
            def __init__(self):
                super().__init__()
                self.base = keras.applications.ResNet50(include_top=False, pooling="avg")
                self.head = keras.layers.Dense(10)
            def features(self, x):
                return self.base(x)
            def call(self, x, training=None):
                return self.head(self.features(x))
        model = Classifier()
        model.base.trainable = False
        model.compile("adam", "mse")
        model.fit(x, y)
        model.base.trainable = True
        model.compile(keras.optimizers.Adam(1e-5), "mse")
        model.fit(x, y)
        """,
        # re-freezing the head of the base leaves its last BN layers trainable
        """
        import tensorflow as tf
        base = tf.keras.applications.MobileNetV2(include_top=False, pooling="avg")
        base.trainable = False
        model = tf.keras.Sequential([base, tf.keras.layers.Dense(2)])
        model.compile(optimizer="adam", loss="mse")
        model.fit(train_ds, epochs=5)
        base.trainable = True
        for layer in base.layers[:-20]:
            layer.trainable = False
        model.compile(optimizer=tf.keras.optimizers.Adam(1e-5), loss="mse")
        model.fit(train_ds, epochs=5)
        """,
        # the unfreeze happens in a helper function
        """
        import keras

        def unfreeze(model):
            model.trainable = True

        base = keras.applications.ResNet50(include_top=False, pooling="avg")
        base.trainable = False
        model = keras.Sequential([base, keras.layers.Dense(10)])
        model.compile(optimizer="adam", loss="mse")
        model.fit(x, y)
        unfreeze(base)
        model.compile(optimizer=keras.optimizers.Adam(1e-5), loss="mse")
        model.fit(x, y)
        """,
        """
        import keras
        from keras import layers
        base = keras.applications.ResNet50(include_top=False, pooling="avg")
        base.trainable = False
        model = keras.Sequential([base, layers.Dense(10)])
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
        model.fit(x, y)
        base.trainable = True
        model.compile(optimizer=keras.optimizers.Adam(1e-5), loss="mse")
        model.fit(x, y)
        """,
        """
        from tensorflow import keras
        base = keras.applications.EfficientNetB0(include_top=False, weights="imagenet")
        base.trainable = False
        inputs = keras.Input((224, 224, 3))
        x = base(inputs)
        x = keras.layers.GlobalAveragePooling2D()(x)
        model = keras.Model(inputs, keras.layers.Dense(5)(x))
        model.compile("adam", "mse")
        model.fit(ds)
        base.trainable = True
        model.compile(keras.optimizers.Adam(1e-5), "mse")
        model.fit(ds)
        """,
        """
        import tensorflow as tf
        base = tf.keras.applications.MobileNetV2(include_top=False)
        base.trainable = False
        out = tf.keras.layers.Dense(3)(tf.keras.layers.GlobalAveragePooling2D()(base.output))
        model = tf.keras.Model(base.input, out)
        model.compile(optimizer="adam", loss="mse")
        model.fit(x, y)
        for layer in model.layers[-30:]:
            layer.trainable = True
        model.compile(optimizer=tf.keras.optimizers.Adam(1e-5), loss="mse")
        model.fit(x, y)
        """,
        """
        import keras
        def build():
            base = keras.applications.DenseNet121(include_top=False, pooling="avg")
            base.trainable = False
            return base, keras.Sequential([base, keras.layers.Dense(2)])
        base, model = build()
        model.compile("adam", "mse")
        model.fit(x, y)
        base.trainable = True
        model.compile(keras.optimizers.Adam(1e-5), "mse")
        model.fit(x, y)
        """,
        """
        import keras
        class Classifier(keras.Model):
            def __init__(self):
                super().__init__()
                self.base = keras.applications.ResNet50(include_top=False, pooling="avg")
                self.base.trainable = False
                self.head = keras.layers.Dense(10)
            def call(self, x, training=None):
                return self.head(self.base(x, training=training))
        model = Classifier()
        model.base.trainable = True
        model.compile(keras.optimizers.Adam(1e-5), "mse")
        model.fit(x, y)
        """,
        """
        import keras
        base = keras.applications.ResNet50(include_top=False, pooling="avg")
        base.trainable = False
        model = keras.Sequential([base, keras.layers.Dense(10)])
        if fine_tune:
            base.trainable = True
        model.compile(keras.optimizers.Adam(1e-5), "mse")
        model.fit(x, y)
        """,
        # `trainable = "False"` is truthy: the BN layers stay trainable (BN103 reports
        # the string)
        """
        import tensorflow as tf
        base = tf.keras.applications.ResNet50(include_top=False, pooling="avg")
        base.trainable = False
        model = tf.keras.Sequential([base, tf.keras.layers.Dense(10)])
        model.compile(optimizer=tf.keras.optimizers.Adam(1e-3), loss="mse")
        model.fit(x, y)
        base.trainable = True
        for l in base.layers:
            if isinstance(l, tf.keras.layers.BatchNormalization):
                l.trainable = "False"
        model.compile(optimizer=tf.keras.optimizers.Adam(1e-5), loss="mse")
        model.fit(x, y)
        """,
        # the model rebuilt for the fine-tuning phase with its base unfrozen, given the
        # weights of the first phase's model (trained with the base frozen)
        _REBUILT_PER_PHASE.replace("{copy}", "fine.set_weights(model.get_weights())"),
        # the first phase's checkpoint, reloaded for the second phase and unfrozen whole
        """
        from keras.applications.xception import Xception
        from keras.callbacks import ModelCheckpoint
        from keras.layers import Dense
        from keras.models import Model, load_model
        from keras.optimizers import SGD, Adam
        filepath = "checkpoint/best.hdf5"
        base = Xception(include_top=False, pooling="max")
        model = Model(base.input, Dense(128)(base.output))
        for layer in model.layers[:-1]:
            layer.trainable = False
        model.compile(optimizer=Adam(1e-3), loss="categorical_crossentropy")
        model.fit(x, y, epochs=5, callbacks=[ModelCheckpoint(filepath, save_best_only=True)])
        model = load_model(filepath)
        for layer in model.layers:
            layer.trainable = True
        model.compile(optimizer=SGD(1e-4, momentum=0.9), loss="categorical_crossentropy")
        model.fit(x, y, epochs=30)
        """,
    )
    fixed = (
        FixExample("""
        import keras
        from keras import layers
        base = keras.applications.ResNet50(include_top=False, pooling="avg")
        base.trainable = False
        model = keras.Sequential([base, layers.Dense(10)])
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
        model.fit(x, y)
        base.trainable = True  # fine-tune
        model.compile(optimizer=keras.optimizers.Adam(1e-5), loss="mse")
        model.fit(x, y)
        """, """
        import keras
        from keras import layers
        base = keras.applications.ResNet50(include_top=False, pooling="avg")
        base.trainable = False
        model = keras.Sequential([base, layers.Dense(10)])
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
        model.fit(x, y)
        base.trainable = True  # fine-tune
        for layer in base.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.trainable = False
        model.compile(optimizer=keras.optimizers.Adam(1e-5), loss="mse")
        model.fit(x, y)
        """),
        FixExample("""
        import keras

        def unfreeze(model):
            model.trainable = True

        base = keras.applications.ResNet50(include_top=False, pooling="avg")
        base.trainable = False
        model = keras.Sequential([base, keras.layers.Dense(10)])
        model.compile(optimizer="adam", loss="mse")
        model.fit(x, y)
        unfreeze(base)
        model.compile(optimizer=keras.optimizers.Adam(1e-5), loss="mse")
        model.fit(x, y)
        """, """
        import keras

        def unfreeze(model):
            model.trainable = True
            for layer in model.layers:
                if isinstance(layer, keras.layers.BatchNormalization):
                    layer.trainable = False

        base = keras.applications.ResNet50(include_top=False, pooling="avg")
        base.trainable = False
        model = keras.Sequential([base, keras.layers.Dense(10)])
        model.compile(optimizer="adam", loss="mse")
        model.fit(x, y)
        unfreeze(base)
        model.compile(optimizer=keras.optimizers.Adam(1e-5), loss="mse")
        model.fit(x, y)
        """,
        # a model built on the base's output, unfrozen whole, its first 50 layers (the
        # base's first 50) frozen again: the base's later BN layers train
        _HEAD_ON_MOBILENET.replace("{refreeze}", "50"),
        # a model built from layers, given pretrained weights, its first layers frozen,
        # then every layer unfrozen one by one (the YOLO/classification-repo recipe)
        _BUILT_AND_LOADED + """
        for i in range(3):
            model.layers[i].trainable = False
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
        model.fit(x, y)
        for i in range(len(model.layers)):
            model.layers[i].trainable = True
        model.compile(optimizer=keras.optimizers.Adam(1e-4), loss="mse")
        model.fit(x, y)
        """),
    )
    not_flagged = (
        # ... rebuilt, but not given the first phase's weights: the new base is trained
        # whole from ImageNet's weights (BN210's concern), nothing is unfrozen
        _REBUILT_PER_PHASE.replace("{copy}", "pass"),
        # ... given the weights of a first model that never trained
        _REBUILT_PER_PHASE.replace("model.fit(train_ds, epochs=5)\nfine", "fine").replace(
            "{copy}", "fine.set_weights(model.get_weights())"),
        # ... and with the BN layers of the base frozen again before the copy (weights
        # are copied, flags are not)
        _REBUILT_PER_PHASE.replace("{copy}", """for layer in fine.get_layer("efficientnetb0").layers:
    if isinstance(layer, tf.keras.layers.BatchNormalization):
        layer.trainable = False
fine.set_weights(model.get_weights())"""),
        # ... or after it
        _REBUILT_PER_PHASE.replace("{copy}", """fine.set_weights(model.get_weights())
for layer in fine.get_layer("efficientnetb0").layers:
    if isinstance(layer, tf.keras.layers.BatchNormalization):
        layer.trainable = False"""),
        # the same custom loop with the BN layers frozen again after the unfreeze
        _CUSTOM_LOOP.replace("{refreeze}", """
        for layer in base.layers:
            if isinstance(layer, tf.keras.layers.BatchNormalization):
                layer.trainable = False"""),
        # ... or training the whole pretrained base from the first step: nothing is
        # unfrozen (BN210's concern)
        _CUSTOM_LOOP.replace("\n        base.trainable = False", "").replace("{refreeze}", ""),
        # ... and with every layer of the base frozen again
        _HEAD_ON_MOBILENET.replace("{refreeze}", "200"),
        # the same model trained whole from the start: setting the flags it already
        # has unfreezes nothing (training a loaded model whole is BN210's concern)
        _BUILT_AND_LOADED + """
        for i in range(len(model.layers)):
            model.layers[i].trainable = True
        model.compile(optimizer=keras.optimizers.Adam(1e-4), loss="mse")
        model.fit(x, y)
        """,
        # ... or with only the layers before its BatchNormalization frozen at first:
        # the BN layer trained in both phases, so the unfreeze changes nothing for it
        _BUILT_AND_LOADED + """
        model.layers[1].trainable = False
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
        model.fit(x, y)
        for i in range(len(model.layers)):
            model.layers[i].trainable = True
        model.compile(optimizer=keras.optimizers.Adam(1e-4), loss="mse")
        model.fit(x, y)
        """,
        # a checkpoint loaded into the whole model, then the base inside it unfrozen:
        # the base is called with training=False (under tf-keras, inference mode), and
        # the outer model's own layers hold no BatchNormalization
        """
        import tensorflow as tf
        base = tf.keras.applications.EfficientNetV2B0(include_top=False)
        base.trainable = False
        inputs = tf.keras.Input((224, 224, 3))
        x = base(inputs, training=False)
        x = tf.keras.layers.GlobalAveragePooling2D()(x)
        model = tf.keras.Model(inputs, tf.keras.layers.Dense(10)(x))
        model.compile(optimizer="adam", loss="mse")
        model.fit(x_train, y_train)
        model.load_weights("checkpoint.weights.h5")
        inner = model.layers[1]
        inner.trainable = True
        for layer in inner.layers[:-10]:
            layer.trainable = False
        model.compile(optimizer=tf.keras.optimizers.Adam(1e-4), loss="mse")
        model.fit(x_train, y_train)
        """,
        # ... and unfrozen with its BatchNormalization layers left frozen
        _BUILT_AND_LOADED + """
        for layer in model.layers[:3]:
            layer.trainable = False
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
        model.fit(x, y)
        for layer in model.layers:
            if not isinstance(layer, keras.layers.BatchNormalization):
                layer.trainable = True
        model.compile(optimizer=keras.optimizers.Adam(1e-4), loss="mse")
        model.fit(x, y)
        """,
        # the "set_trainable flag" recipe: the layers from the named one on are
        # unfrozen, the others frozen; which BN layers train is not known here
        flag_loop_recipe(freeze_one_by_one=False, unfreeze_base_first=True,
                         optimizer='keras.optimizers.Adam(1e-5)'),
        # a custom train_step that calls the model without training=: inference mode
        # (BN107's concern), so unfreezing does not move the BN statistics
        _TRAIN_STEP_MODEL.replace("{training}", ""),
        # how much of the base stays trainable is not known: stay silent
        """
        import tensorflow as tf
        base = tf.keras.applications.MobileNetV2(include_top=False, pooling="avg")
        base.trainable = False
        model = tf.keras.Sequential([base, tf.keras.layers.Dense(2)])
        model.compile(optimizer="adam", loss="mse")
        model.fit(train_ds, epochs=5)
        base.trainable = True
        for layer in base.layers[:fine_tune_at]:
            layer.trainable = False
        model.compile(optimizer=tf.keras.optimizers.Adam(1e-5), loss="mse")
        model.fit(train_ds, epochs=5)
        """,
        """
        import keras
        from keras import layers
        base = keras.applications.ResNet50(include_top=False, pooling="avg")
        base.trainable = False
        model = keras.Sequential([base, layers.Dense(10)])
        model.compile(optimizer="adam", loss="mse")
        model.fit(x, y)
        base.trainable = True
        for layer in base.layers:
            if isinstance(layer, layers.BatchNormalization):
                layer.trainable = False
        model.compile(optimizer=keras.optimizers.Adam(1e-5), loss="mse")
        model.fit(x, y)
        """,
        """
        import keras
        base = keras.applications.VGG16(include_top=False, pooling="avg")
        base.trainable = False
        model = keras.Sequential([base, keras.layers.Dense(10)])
        model.compile("adam", "mse")
        model.fit(x, y)
        base.trainable = True
        model.compile(keras.optimizers.Adam(1e-5), "mse")
        model.fit(x, y)
        """,
        """
        import keras
        base = keras.applications.ResNet50(include_top=False, pooling="avg")
        base.trainable = False
        model = keras.Sequential([base, keras.layers.Dense(10)])
        model.compile("adam", "mse")
        model.fit(x, y)
        """,
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
        """
        import keras
        class Classifier(keras.Model):
            def __init__(self):
                super().__init__()
                self.base = keras.applications.ResNet50(include_top=False, pooling="avg")
                self.head = keras.layers.Dense(10)
            def features(self, x):
                return self.base(x, training=False)
            def call(self, x, training=None):
                return self.head(self.features(x))
        model = Classifier()
        model.base.trainable = True
        model.compile(keras.optimizers.Adam(1e-5), "mse")
        model.fit(x, y)
        """,
    )

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        for found in wf.unfrozen_bn_bases(ctx.model, ctx.flavour):
            if found.mode != "training":
                continue  # honoured or overridden training=False: BN202 or nothing
            during = "fit()" if found.phase.fit.kind == "fit" else "its training steps"
            yield Report(
                found.unfreeze.node,
                f"unfreezing {wf.describe(found.base)} puts its BatchNormalization layers in "
                f"training mode during {during}: they will overwrite the pretrained moving "
                "mean/variance with your batches' statistics; after unfreezing, set "
                "`trainable = False` on each BatchNormalization layer of the base",
                (*call_notes(found.unfreeze, "the unfreeze"),
                 *_chain(ctx, found)),
                scenario=scenario(self.code, **fine_tuning_facts(
                    wf.runs_of(ctx.model, found.phase), found.phase, found.base, found.decisive)),
                fix=refreeze(ctx.model, found),
            )


def _chain(ctx: RuleContext, found: wf.UnfrozenBnBase) -> Iterator[tuple[cst.CSTNode, str]]:
    yield from unfrozen_base_steps(ctx.model, found)
    base, name = found.base, wf.describe(found.base)
    freeze = wf.first_freeze(ctx.model, base, found.unfreeze)
    if freeze is not None:
        yield freeze.node, f"{name} is frozen here (its BN layers in inference mode)"
    copied = wf.frozen_weights_copied(ctx.model, base, found.unfreeze)
    if freeze is None and copied is not None:
        yield copied.node, ("the weights a model trained with this base frozen are copied "
                            "in here: the unfreeze reaches them")
    if found.decisive is not None:
        yield found.decisive.node, _wiring_note(name, found.decisive, found.phase.model)


def _wiring_note(name: str, wiring: Wiring, model: Layer) -> str:
    target = wf.describe(model)
    if wiring.mode == "sequential":
        return f"{name} is a layer of Sequential {target}: no way to pass training=False"
    if wiring.mode == "flattened":
        return f"{target} is built on {name}'s tensors: its BN layers are {target}'s own"
    return f"{name} is called here without training=False"
