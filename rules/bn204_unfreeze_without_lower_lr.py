"""BN204 unfreeze-without-lower-lr."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from bnlint.probe.facts import model_facts, phase_facts
from bnlint.probe.scenario import scenario
from bnlint.rule import Report, Rule, RuleContext
from bnlint.semantic import workflow as wf
from bnlint.semantic.events import Event, call_notes
from bnlint.semantic.values import Layer

from ._recipes import TWO_PHASE_SEQUENTIAL, flag_loop_recipe

if TYPE_CHECKING:
    import libcst as cst
else:
    from bnlint.lazy import libcst as cst


def _rate(value: float) -> str:
    return f"{value:g}"


class UnfreezeWithoutLowerLr(Rule):
    """## What it does
    Flags a training phase that starts after (part of) a pretrained base was unfrozen
    and whose effective learning rate is not lower than that of the phase before it on
    the same model. With no earlier phase known, it flags a rate at or above
    `unfreeze-lr-threshold` (default 1e-3, the default of Adam and RMSprop).

    An unfreeze is an assignment `trainable = True` to the base or to a selection of its
    layers that undoes a freeze (`base.layers[150:]` set trainable after only
    `base.layers[:150]` were frozen undoes none: those layers train from the start). A base created trainable and trained from its first
    phase on is not unfrozen: `trainable = True` on an application nothing froze, or
    `hub.KerasLayer(handle, trainable=True)` (that is BN211's case), is not reported.

    The effective rate is resolved from string optimizers and their defaults (`"adam"`
    is 1e-3, `"sgd"` 1e-2), constructor arguments, names bound to constants, simple
    arithmetic (`base_lr / 10`), `optimizer.learning_rate.assign(x)` and
    `K.set_value(model.optimizer.lr, x)`. Schedules, values read from configs and the
    defaults of command-line options are unknown (a run may give another rate): the
    rule stays silent.

    ## Why is this bad?
    Fine-tuning adapts pretrained features with small steps. Recompiling with the same
    (or a default) learning rate applies the large steps that suited the new head to
    every unfrozen pretrained weight, and wrecks the features within a few steps
    (F19, F20: Adam at 1e-2 lost 7 accuracy points in one step on a toy; every official
    guide lowers the rate 10-1000x: keras-io 1e-2 -> 1e-5, TF tutorial 1e-4 -> 1e-5).

    ## Example
    ```python
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    model.fit(x, y)
    base.trainable = True
    model.compile(optimizer="adam", loss="mse")  # Adam's default: 1e-3 again
    model.fit(x, y)
    ```

    ## Use instead
    ```python
    base.trainable = True
    model.compile(optimizer=keras.optimizers.Adam(1e-5), loss="mse")
    ```

    ## Fix safety
    No automatic fix: the learning rate is a judgement. Use one 10-100x lower than the
    head's.

    ## References
    - keras-io guide "Transfer learning & fine-tuning", "Fine-tuning"
    - TensorFlow tutorial "Transfer learning and fine-tuning"
    """

    code = "BN204"
    name = "unfreeze-without-lower-lr"
    severity = "warning"
    reads_program = True
    summary = "unfreezing a pretrained base without lowering the learning rate"
    needles = (b"trainable",)
    flagged = (
        # layers reused from a trained model (Hands-On ML's transfer-learning example)
        """
        from tensorflow import keras
        model_A = keras.models.load_model("my_model_A.h5")
        model_B_on_A = keras.models.Sequential(model_A.layers[:-1])
        model_B_on_A.add(keras.layers.Dense(1, activation="sigmoid"))
        for layer in model_B_on_A.layers[:-1]:
            layer.trainable = False
        model_B_on_A.compile(loss="binary_crossentropy",
                             optimizer=keras.optimizers.SGD(learning_rate=1e-3))
        model_B_on_A.fit(X_train_B, y_train_B, epochs=4)
        for layer in model_B_on_A.layers[:-1]:
            layer.trainable = True
        model_B_on_A.compile(loss="binary_crossentropy",
                             optimizer=keras.optimizers.SGD(learning_rate=1e-3))
        model_B_on_A.fit(X_train_B, y_train_B, epochs=16)
        """,
        """
        import keras
        base = keras.applications.ResNet50(include_top=False, pooling="avg")
        base.trainable = False
        model = keras.Sequential([base, keras.layers.Dense(10)])
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
        model.fit(x, y)
        base.trainable = True
        model.compile(optimizer="adam", loss="mse")
        model.fit(x, y)
        """,
        """
        from tensorflow import keras
        base = keras.applications.VGG16(include_top=False, pooling="avg")
        base.trainable = False
        model = keras.Sequential([base, keras.layers.Dense(10)])
        model.compile(keras.optimizers.RMSprop(learning_rate=2e-5), "mse")
        model.fit(x, y)
        base.trainable = True
        model.compile(keras.optimizers.RMSprop(learning_rate=2e-5), "mse")
        model.fit(x, y)
        """,
        """
        import tensorflow as tf
        lr = 1e-4
        base = tf.keras.applications.MobileNetV2(include_top=False, pooling="avg")
        base.trainable = False
        model = tf.keras.Sequential([base, tf.keras.layers.Dense(2)])
        model.compile(optimizer=tf.keras.optimizers.Adam(lr), loss="mse")
        model.fit(x, y)
        base.trainable = True
        model.compile(optimizer=tf.keras.optimizers.Adam(lr * 10), loss="mse")
        model.fit(x, y)
        """,
        """
        import keras
        base = keras.models.load_model("pretrained.keras")
        base.trainable = False
        model = keras.Sequential([base, keras.layers.Dense(1)])
        base.trainable = True
        model.compile(optimizer="sgd", loss="mse")
        model.fit(x, y)
        """,
        # a TF-Hub layer trained frozen first, then unfrozen at the same rate
        """
        import tensorflow as tf
        import tensorflow_hub as hub
        url = "https://tfhub.dev/google/imagenet/resnet_v2_50/feature_vector/5"
        encoder = hub.KerasLayer(url, trainable=False)
        model = tf.keras.Sequential([encoder, tf.keras.layers.Dense(5)])
        model.compile(optimizer=tf.keras.optimizers.Adam(1e-3), loss="mse")
        model.fit(x, y)
        encoder.trainable = True
        model.compile(optimizer=tf.keras.optimizers.Adam(1e-3), loss="mse")
        model.fit(x, y)
        """,
        # the "set_trainable flag" recipe: the layers from `conv5_block1_1_conv` to the
        # end are unfrozen, at the head's rate
        flag_loop_recipe(freeze_one_by_one=True, unfreeze_base_first=False,
                         optimizer='"adam"'),
        # the same recipe written as one assignment
        """
        from tensorflow import keras
        conv_base = keras.applications.VGG16(include_top=False, pooling="avg")
        for layer in conv_base.layers:
            layer.trainable = False
        model = keras.Sequential([conv_base, keras.layers.Dense(1)])
        model.compile(optimizer=keras.optimizers.RMSprop(1e-4), loss="mse")
        model.fit(x, y, epochs=5)
        set_trainable = False
        for layer in conv_base.layers:
            if layer.name == "block5_conv1":
                set_trainable = True
            layer.trainable = set_trainable
        model.compile(optimizer=keras.optimizers.RMSprop(1e-4), loss="mse")
        model.fit(x, y, epochs=5)
        """,
    )
    not_flagged = (
        # the "set_trainable flag" recipe with a lower rate for the fine-tuning phase
        flag_loop_recipe(freeze_one_by_one=True, unfreeze_base_first=False,
                         optimizer='keras.optimizers.Adam(1e-5)'),
        # a TF-Hub text encoder created trainable and trained from the first phase: no
        # frozen phase before and no unfreeze (BN211 covers trainable TF-Hub layers)
        """
        import tensorflow as tf
        import tensorflow_hub as hub
        encoder = hub.KerasLayer("https://tfhub.dev/google/nnlm-en-dim50/2", input_shape=[],
                                 dtype=tf.string, trainable=True)
        model = tf.keras.Sequential([encoder, tf.keras.layers.Dense(16, activation="relu"),
                                     tf.keras.layers.Dense(1)])
        model.compile(optimizer="adam", loss="binary_crossentropy")
        model.fit(train_data, epochs=10)
        """,
        # `trainable = True` on a base nothing froze changes nothing: no fine-tuning phase
        """
        import keras
        vgg19 = keras.applications.VGG19(include_top=False, weights="imagenet",
                                         input_shape=(150, 150, 3))
        vgg19.trainable = True
        model = keras.Sequential([vgg19, keras.layers.Flatten(), keras.layers.Dense(3)])
        model.compile(optimizer="adam", loss="mse")
        model.fit(x, y)
        """,
        TWO_PHASE_SEQUENTIAL,
        """
        import keras
        lr = 1e-3
        base = keras.applications.ResNet50(include_top=False, pooling="avg")
        base.trainable = False
        model = keras.Sequential([base, keras.layers.Dense(10)])
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=lr), loss="mse")
        model.fit(x, y)
        base.trainable = True
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=lr / 10), loss="mse")
        model.fit(x, y)
        """,
        """
        import keras
        base = keras.applications.ResNet50(include_top=False, pooling="avg")
        base.trainable = False
        model = keras.Sequential([base, keras.layers.Dense(10)])
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
        model.fit(x, y)
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
        model.fit(x, y)
        """,
        """
        import keras
        schedule = keras.optimizers.schedules.ExponentialDecay(1e-3, 1000, 0.9)
        base = keras.applications.ResNet50(include_top=False, pooling="avg")
        base.trainable = False
        model = keras.Sequential([base, keras.layers.Dense(10)])
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
        model.fit(x, y)
        base.trainable = True
        model.compile(optimizer=keras.optimizers.Adam(schedule), loss="mse")
        model.fit(x, y)
        """,
        """
        import keras
        base = keras.applications.ResNet50(include_top=False, pooling="avg")
        base.trainable = False
        model = keras.Sequential([base, keras.layers.Dense(10)])
        model.compile(optimizer="adam", loss="mse")
        model.fit(x, y)
        base.trainable = True
        model.compile(optimizer="adam", loss="mse")
        model.optimizer.learning_rate.assign(1e-5)
        model.fit(x, y)
        """,
    )

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        thresholds = ctx.settings.thresholds
        for runs in wf.phases(ctx.model).values():
            for phase in runs:
                previous = runs[phase.index - 1] if phase.index > 0 else None
                found = _unfreeze_before(ctx, phase, previous)
                if found is None or phase.compile is None:
                    continue
                unfreeze, base = found
                rate = phase.learning_rate
                if rate is None:
                    continue
                chain: list[tuple[cst.CSTNode, str]] = [
                    (unfreeze.node, f"{wf.describe(base)} (pretrained) is unfrozen here"),
                ]
                if previous is not None and previous.learning_rate is not None:
                    before = previous.learning_rate
                    if rate * thresholds.unfreeze_lr_min_ratio < before:
                        continue
                    where = previous.compile.node if previous.compile else previous.fit.node
                    chain.insert(0, (where, f"the previous phase trains at {_rate(before)}"))
                    why = f"not lower than the {_rate(before)} of the phase before"
                elif previous is None:
                    if rate < thresholds.unfreeze_lr_threshold:
                        continue
                    why = f"at or above {_rate(thresholds.unfreeze_lr_threshold)}"
                else:
                    continue
                chain.append((phase.fit.node, "the fine-tuning phase runs here"))
                where = wf.compile_site(ctx.model, phase.compile)
                steps = call_notes(phase.compile, "the compile") if where is phase.compile.node \
                    else ((phase.compile.node, "the helper compiles the model with it here"),)
                yield Report(
                    where,
                    f"this phase fine-tunes the unfrozen pretrained {wf.describe(base)} at "
                    f"learning rate {_rate(rate)}, {why}: large steps wreck pretrained "
                    "features; use a rate 10-100x lower (e.g. Adam(1e-5))",
                    (*steps, *chain),
                    scenario=scenario(self.code, **model_facts(base),
                                      **phase_facts(phase, previous)),
                )


def _unfreeze_before(ctx: RuleContext, phase: wf.Phase,
                     previous: wf.Phase | None) -> tuple[Event, Layer] | None:
    """The unfreeze of a pretrained base inside the phase's model that happens after the
    previous phase's fit and before this phase's compile."""
    if phase.compile is None:
        return None
    start = previous.fit if previous is not None else None
    found: tuple[Event, Layer] | None = None
    for base in wf.parts(phase.model):
        if not wf.is_pretrained_base(base) or wf.trainable_at(phase.fit, base) is False:
            continue
        unfreeze = wf.last_unfreeze(ctx.model, base, phase.compile, after=start)
        if unfreeze is not None and wf.is_noop_unfreeze(ctx.model, base, unfreeze):
            continue
        # the latest unfreeze wins; on the same event, the last base in model order
        if unfreeze is not None and (found is None or wf.position(ctx.model, unfreeze)
                                     >= wf.position(ctx.model, found[0])):
            found = (unfreeze, base)
    return found
