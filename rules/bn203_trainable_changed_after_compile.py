"""BN203 trainable-changed-after-compile."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from bnlint.finding import Severity
from bnlint.probe.facts import model_facts
from bnlint.probe.scenario import Scenario, scenario
from bnlint.rule import Example, Report, Rule, RuleContext
from bnlint.semantic import workflow as wf
from bnlint.semantic.events import Event, call_notes
from bnlint.semantic.repetition import hook_running, loops_repeating, sets_back
from bnlint.semantic.values import Const, Layer, LayerSelection

from ._recipes import FROZEN_RESNET_COMPILED, after_frozen_resnet

if TYPE_CHECKING:
    import libcst as cst
else:
    from bnlint.lazy import libcst as cst

_UNFREEZE_AFTER_FIT = FROZEN_RESNET_COMPILED + """\
model.fit(x, y)
base.trainable = True
model.fit(x, y)
"""


class TrainableChangedAfterCompile(Rule):
    """## What it does
    Flags a change of `trainable` (on a model, a layer inside it, or a selection of its
    layers) made after `model.compile(...)` when the model is then trained again with
    `fit()` / `train_on_batch()` without a new `compile()`. It is an error when a `fit()`
    already ran between the compile and the change, a warning otherwise.

    Changes made while training repeats are caught too: inside a training loop
    (`for epoch in ...: if epoch == 5: base.trainable = True; model.fit(...)`) and in a
    callback hook that fit() runs (`on_epoch_begin` guarded by `epoch == N`,
    `on_epoch_end`, `on_train_batch_end`), where the train function already exists.

    The GAN recipe (compile `D`, freeze it, compile the combined model) is not reported
    here: it is correct under tf-keras and BN209 covers Keras 3. That holds too when `D`
    is set back, right after the combined model's compile, to the state its own
    compile() saw, and `D` trains on its own afterwards. Neither is a loop or a
    callback that sets the flag back before the next step of the same model (the GAN
    loop's toggle), nor a hook that rebuilds the train function
    (`make_train_function(force=True)`).

    ## Why is this bad?
    The docs of every flavour say trainability is fixed at `compile()` time and a change
    needs a recompile. What actually happens differs by flavour (F9):
    - tf-keras snapshots trainability at `compile()`: the change is silently ignored
      until the next `compile()` (frozen layers keep training, BN statistics keep moving).
    - Keras 3 reads it when the train function is first traced: before the first `fit()`
      the change takes effect; after a `fit()` it is silently ignored in TF graph mode,
      and it crashes on JAX and in eager mode (`ValueError` on the optimizer variables).
      Keras 3's own warning for this case is dead code.

    ## Example
    ```python
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y)
    base.trainable = True
    model.fit(x, y)  # still trains the frozen configuration (or crashes)
    ```

    ## Use instead
    ```python
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y)
    base.trainable = True
    model.compile(optimizer=keras.optimizers.Adam(1e-5), loss="mse")
    model.fit(x, y)
    ```

    ## Fix safety
    No automatic fix: recompiling resets the optimizer state and needs the compile
    arguments.

    ## References
    - Keras FAQ "What does `trainable` mean and how does it interact with `compile()`?"
    - keras-team/keras trainer.py `compile()` docstring ("Trainable variables are
      determined at compile() time")
    """

    code = "BN203"
    name = "trainable-changed-after-compile"
    severity = "error"
    reads_program = True
    summary = "`trainable` changed after compile() without recompiling before training"
    needles = (b"trainable",)
    flagged = (
        _UNFREEZE_AFTER_FIT,
        Example(_UNFREEZE_AFTER_FIT, target="tf-keras"),
        # a base pretrained on its own, frozen for the head, then unfrozen without a
        # recompile: not the GAN recipe, the base does not train on its own afterwards
        """
        import keras
        from keras import layers
        base = keras.Sequential([layers.Dense(8), layers.BatchNormalization(), layers.Dense(4)])
        base.compile("adam", "mse")
        base.fit(x, y)
        base.trainable = False
        model = keras.Sequential([base, layers.Dense(1)])
        model.compile("adam", "mse")
        model.fit(x, y)
        base.trainable = True
        model.fit(x, y)
        """,
        """
        import keras
        base = keras.applications.ResNet50(include_top=False, pooling="avg")
        model = keras.Sequential([base, keras.layers.Dense(10)])
        model.compile(optimizer="adam", loss="mse")
        base.trainable = False
        model.fit(x, y)
        """,
        """
        import keras
        from keras import layers
        model = keras.Sequential([layers.Dense(8), layers.BatchNormalization(), layers.Dense(1)])
        model.compile("adam", "mse")
        model.train_on_batch(x, y)
        for layer in model.layers[:2]:
            layer.trainable = False
        model.train_on_batch(x, y)
        """,
        # a callback unfreezes while fit() trains (verified: ignored in graph mode)
        after_frozen_resnet("""

        class UnfreezeAt(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                if epoch == 5:
                    self.model.layers[0].trainable = True

        model.fit(x, y, epochs=20, callbacks=[UnfreezeAt()])
        """),
        Example(
            """
            import tensorflow as tf
            base = tf.keras.applications.MobileNetV2(include_top=False, pooling="avg")
            base.trainable = False
            model = tf.keras.Sequential([base, tf.keras.layers.Dense(2)])
            model.compile(optimizer="adam", loss="mse")

            class Unfreeze(tf.keras.callbacks.Callback):
                def on_epoch_end(self, epoch, logs=None):
                    base.trainable = True

            model.fit(train_ds, epochs=10, callbacks=[Unfreeze()])
            """,
            target="tf-keras",
        ),
        # the epoch is a named constant
        after_frozen_resnet("""
        UNFREEZE_AT = 5
        class UnfreezeAt(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                if epoch == UNFREEZE_AT:
                    self.model.layers[0].trainable = True
        model.fit(x, y, epochs=20, callbacks=[UnfreezeAt()])
        """),
        # unfreezing at a given epoch of a loop of one-epoch fits
        after_frozen_resnet("""
        for epoch in range(10):
            if epoch == 5:
                base.trainable = True
            model.fit(x, y, epochs=1)
        """),
        # the unfreeze at the end of each stage only reaches the next stage's fit
        Example(
            """
            import tensorflow as tf
            base = tf.keras.applications.EfficientNetB0(include_top=False, pooling="avg")
            base.trainable = False
            model = tf.keras.Sequential([base, tf.keras.layers.Dense(3)])
            model.compile(optimizer="adam", loss="mse")
            for stage in range(2):
                model.fit(train_ds, epochs=5)
                for layer in base.layers[-20:]:
                    layer.trainable = True
            """,
            target="tf-keras",
        ),
        Example(
            """
            import tensorflow as tf
            base = tf.keras.applications.MobileNetV2(include_top=False, pooling="avg")
            base.trainable = False
            model = tf.keras.Sequential([base, tf.keras.layers.Dense(2)])
            model.compile(optimizer="adam", loss="mse")
            model.fit(x, y, epochs=5)
            for layer in base.layers[-20:]:
                layer.trainable = True
            model.fit(x, y, epochs=5)
            """,
            target="tf-keras", keras_version="2.15",
        ),
        after_frozen_resnet("""
        model.fit(x, y)
        if fine_tune:
            base.trainable = True
        model.fit(x, y)
        """),
    )
    not_flagged = (
        after_frozen_resnet("""
        model.fit(x, y)
        base.trainable = True
        model.compile(optimizer=keras.optimizers.Adam(1e-5), loss="mse")
        model.fit(x, y)
        """),
        after_frozen_resnet("""
        model.fit(x, y)
        base.trainable = True
        model.evaluate(x, y)
        """),
        # the GAN recipe: another model containing D is compiled after the freeze (BN209)
        Example(
            """
            import keras
            from keras import layers
            d = keras.Sequential([layers.Dense(8), layers.BatchNormalization(), layers.Dense(1)])
            g = keras.Sequential([layers.Dense(8), layers.Dense(4)])
            d.compile("adam", "binary_crossentropy")
            d.trainable = False
            z = keras.Input((4,))
            gan = keras.Model(z, d(g(z)))
            gan.compile("adam", "binary_crossentropy")
            d.train_on_batch(x, y)
            gan.train_on_batch(noise, y)
            """,
            target="tf-keras",
        ),
        after_frozen_resnet("""
        model.fit(x, y)
        base.trainable = False
        model.fit(x, y)
        """),
        # a training loop that recompiles right after the unfreeze
        after_frozen_resnet("""
        for epoch in range(10):
            if epoch == 5:
                base.trainable = True
                model.compile(optimizer=keras.optimizers.Adam(1e-5), loss="mse")
            model.fit(x, y, epochs=1)
        """),
        # the change happens in the first iteration only, before any fit
        """
        import keras
        base = keras.applications.ResNet50(include_top=False, pooling="avg")
        model = keras.Sequential([base, keras.layers.Dense(10)])
        model.compile(optimizer="adam", loss="mse")
        for epoch in range(10):
            if epoch == 0:
                base.trainable = False
            model.fit(x, y, epochs=1)
        """,
        # the GAN recipe with D set back right after the combined compile, by a helper of
        # the class: the combined model keeps D frozen, D trains on its own
        Example(
            """
            import numpy as np
            import keras
            from keras import layers

            class GAN:
                def __init__(self):
                    self.discriminator = keras.Sequential(
                        [layers.Dense(8), layers.BatchNormalization(), layers.Dense(1)])
                    self.generator = keras.Sequential([layers.Dense(8), layers.Dense(4)])
                    self.discriminator.compile("adam", "binary_crossentropy")
                    self.set_trainable(self.discriminator, False)
                    z = keras.Input((4,))
                    self.model = keras.Model(z, self.discriminator(self.generator(z)))
                    self.model.compile("adam", "binary_crossentropy")
                    self.set_trainable(self.discriminator, True)

                def set_trainable(self, m, val):
                    m.trainable = val
                    for layer in m.layers:
                        layer.trainable = val

                def train_discriminator(self, x, y):
                    self.discriminator.train_on_batch(x, y)

                def train_generator(self, noise, y):
                    return self.model.train_on_batch(noise, y)

                def train(self, x, y, noise, epochs):
                    for epoch in range(epochs):
                        self.train_discriminator(x, y)
                        self.train_generator(noise, y)
            """,
            target="tf-keras",
        ),
        # the GAN loop toggles D back: each model trains in the state it was compiled in
        Example(
            """
            import keras
            from keras import layers
            d = keras.Sequential([layers.Dense(8), layers.BatchNormalization(), layers.Dense(1)])
            g = keras.Sequential([layers.Dense(8), layers.Dense(4)])
            d.compile("adam", "binary_crossentropy")
            z = keras.Input((4,))
            gan = keras.Model(z, d(g(z)))
            d.trainable = False
            gan.compile("adam", "binary_crossentropy")
            for step in range(1000):
                d.trainable = True
                d.train_on_batch(x, y)
                d.trainable = False
                gan.train_on_batch(noise, y)
            """,
            target="tf-keras",
        ),
        # the callback acts before the first train step (epoch 0): it takes effect
        Example(
            """
            import keras
            base = keras.applications.ResNet50(include_top=False, pooling="avg")
            model = keras.Sequential([base, keras.layers.Dense(10)])
            model.compile(optimizer="adam", loss="mse")

            class FreezeFirst(keras.callbacks.Callback):
                def on_epoch_begin(self, epoch, logs=None):
                    if epoch == 0:
                        self.model.layers[0].trainable = False

            model.fit(x, y, epochs=20, callbacks=[FreezeFirst()])
            """,
            target="keras3",
        ),
        # the hook rebuilds the train function after the change (tf-keras)
        Example(
            """
            import tensorflow as tf
            base = tf.keras.applications.MobileNetV2(include_top=False, pooling="avg")
            base.trainable = False
            model = tf.keras.Sequential([base, tf.keras.layers.Dense(2)])
            model.compile(optimizer="adam", loss="mse")

            class Unfreeze(tf.keras.callbacks.Callback):
                def on_epoch_end(self, epoch, logs=None):
                    if epoch == 4:
                        base.trainable = True
                        self.model.make_train_function(force=True)

            model.fit(train_ds, epochs=10, callbacks=[Unfreeze()])
            """,
            target="tf-keras",
        ),
        # a one-epoch fit: the change at its end only matters to a later fit
        after_frozen_resnet("""

        class Unfreeze(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                base.trainable = True

        model.fit(x, y, callbacks=[Unfreeze()])
        """),
        # the unfreeze happens in the last iteration only; the recompile follows the loop
        after_frozen_resnet("""
        EPOCHS = 10
        for epoch in range(EPOCHS):
            model.fit(x, y, epochs=1)
            if epoch == EPOCHS - 1:
                base.trainable = True
        model.compile(optimizer=keras.optimizers.Adam(1e-5), loss="mse")
        model.fit(x, y, epochs=5)
        """),
        # a helper from another module recompiles the model after the unfreeze
        after_frozen_resnet("""
        from training_utils import recompile
        for epoch in range(10):
            if epoch == 5:
                base.trainable = True
                recompile(model, lr=1e-5)
            model.fit(x, y, epochs=1)
        """),
        # the callback's condition is epoch 0, spelled as a constant
        after_frozen_resnet("""
        FREEZE_AT = 0
        class FreezeFirst(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                if epoch == FREEZE_AT:
                    base.trainable = True
        model.fit(x, y, epochs=20, callbacks=[FreezeFirst()])
        """),
        # the callback stops this fit() where it unfreezes; the user recompiles after it
        after_frozen_resnet("""
        class UnfreezeOnPlateau(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                if logs["val_loss"] >= self.best:
                    base.trainable = True
                    self.model.stop_training = True
        model.fit(x, y, epochs=50, callbacks=[UnfreezeOnPlateau()])
        model.compile(optimizer=keras.optimizers.Adam(1e-5), loss="mse")
        model.fit(x, y, epochs=10)
        """),
        # the loop ends right after the change: no later iteration trains past it
        after_frozen_resnet("""
        for epoch in range(10):
            model.fit(x, y, epochs=1)
            if epoch == 5:
                base.trainable = True
                break
        """),
        # the loop compiles and fits a fresh model each time (k-fold)
        """
        import keras
        base = keras.applications.ResNet50(include_top=False, pooling="avg")
        for fold in range(5):
            base.trainable = False
            model = keras.Sequential([base, keras.layers.Dense(10)])
            model.compile(optimizer="adam", loss="mse")
            model.fit(x, y, epochs=1)
            base.trainable = True
        """,
    )

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        events = ctx.model.events
        reported: set[int] = set()
        for position, change in enumerate(events):
            if change.kind != "set_trainable" or not wf.trusted(change):
                continue
            if id(change.node) in reported:
                continue
            for report in self.check_change(ctx, position, change):
                reported.add(id(change.node))
                yield report
                break
        for change in events:
            if change.kind != "set_trainable" or id(change.node) in reported:
                continue
            in_callback = self.check_in_callback(ctx, change)
            if in_callback is not None:
                reported.add(id(change.node))
                yield in_callback
        for position, change in enumerate(events):
            if change.kind != "set_trainable" or id(change.node) in reported:
                continue
            if change.context.standalone or not change.context.loops():
                continue
            in_loop = self.check_in_loop(ctx, position, change)
            if in_loop is not None:
                reported.add(id(change.node))
                yield in_loop

    def check_change(self, ctx: RuleContext, position: int,
                     change: Event) -> Iterator[Report]:
        touched = change.layer
        if touched is None or change.context.callback_of() is not None:
            return  # a hook runs inside its fit(): check_in_callback's concern
        for model in ctx.model.containers_or_self(touched):
            compiled = ctx.model.compiled_before(model, position)
            if compiled is None:
                continue
            if _restores_own_compile(ctx, touched, change, position, model):
                continue  # the GAN recipe: D back as its own compile() saw it (BN209)
            next_fit = ctx.model.next_fit_without_recompile(position, model, touched)
            if next_fit is None or not _changed(change, compiled.compile, next_fit):
                continue
            value = change.value
            if isinstance(change.target, Layer) and isinstance(value, Const) and isinstance(
                    value.value, bool) and not _differs_from(change, compiled.compile,
                                                             value.value):
                continue  # it restores what compile() captured: a later change differs
            yield self.report(ctx, model, change, compiled.compile, compiled.first_fit, next_fit)
            return

    def check_in_loop(self, ctx: RuleContext, position: int, change: Event) -> Report | None:
        """A change inside a training loop (``for epoch ...: model.fit(...)``) that a
        later iteration's fit() trains past without a recompile."""
        touched = change.layer
        value = change.value
        if touched is None or not isinstance(value, Const) or not isinstance(value.value, bool):
            return None
        if change.selection is None and change.trainable_before is value.value:
            return None  # the layer's flag already holds that value: nothing changes
        for loop in loops_repeating(ctx.model, change):
            body = loop.body
            if not body or loop.may_end_early():
                continue
            for model in ctx.model.containers_or_self(touched):
                fits = loop.fits_every_iteration(model)
                if not fits:
                    continue
                if loop.may_recapture(model, touched):
                    return None  # recompiled, or handed to code we cannot follow
                compiled = ctx.model.compiled_before(model, body[0][0])
                if compiled is None or not loop.entered_whenever(compiled.compile, body[0][1]):
                    continue
                if not _differs_from(change, compiled.compile, value.value):
                    continue
                if sets_back(change, (event for _, event in body)):
                    continue
                before = [event for index, event in fits if index < position]
                after = [event for index, event in fits if index > position]
                if before and (not loop.is_guarded(change)
                               or loop.runs_before_last_iteration(change)):
                    trained, again = before[-1], fits[0][1]
                elif after and loop.runs_after_first_iteration(change):
                    trained, again = after[0], after[0]
                else:
                    continue
                return self.report_loop(ctx, model, change, compiled.compile, loop.node,
                                        trained, again)
        return None

    def check_in_callback(self, ctx: RuleContext, change: Event) -> Report | None:
        """A callback hook that changes ``trainable`` while fit() is training: the train
        function is already built, so the change is ignored in graph mode (both flavours)
        and crashes in eager mode and on JAX."""
        value = change.value
        if not isinstance(value, Const) or not isinstance(value.value, bool):
            return None
        hook = hook_running(ctx.model, change)
        if hook is None or hook.fit.layer is None or not hook.acts_after_first_step(change):
            return None
        model = hook.fit.layer
        compiled = ctx.model.compiled_before(model, wf.position(ctx.model, hook.fit))
        if compiled is None or not _differs_from(change, compiled.compile, value.value):
            return None
        if sets_back(change, hook.events()) or hook.rebuilds_train_function():
            return None
        if hook.may_end_fit_or_escape():
            return None  # the hook ends this fit(), or hands the model to unknown code
        label = wf.describe(model)
        target = change.layer
        what = wf.describe(target) if target is not None and target is not model else label
        return Report(
            change.node,
            f"`trainable` of {what} is changed by the callback hook `{hook.name}` while "
            "fit() is training: the train function was built with the old configuration, so "
            "the change is silently ignored in graph mode (Keras 3 and tf-keras) and crashes "
            "in eager mode or on JAX; end this fit() at that epoch, change `trainable`, "
            f"recompile `{_label(model)}` and call fit() again",
            (
                (compiled.compile.node, f"{label} is compiled here: trainability is captured"),
                (hook.fit.node, f"fit() runs the callback here while training {label}"),
            ),
        )

    def report_loop(self, ctx: RuleContext, model: Layer, change: Event, compile_event: Event,
                    loop: cst.CSTNode, trained: Event, again: Event) -> Report:
        name = wf.describe(model)
        target = change.layer
        what = wf.describe(target) if target is not None and target is not model else name
        if ctx.flavour.name == "keras3":
            effect = ("Keras 3 built the train function in an earlier iteration's fit(), so "
                      "the change is silently ignored in graph mode and crashes on JAX or in "
                      "eager mode")
        else:
            effect = ("compile() snapshots which weights are trainable, so the change is "
                      "ignored until the model is recompiled")
        chain: list[tuple[cst.CSTNode, str]] = [
            (compile_event.node, f"{name} is compiled here, before the loop"),
            (loop, "the loop repeats training without a recompile"),
        ]
        if again is trained:
            note = (f"{name} is trained here in each iteration: before the change, and after "
                    "it with the old configuration")
        else:
            note = f"{name} is trained here in an iteration before the change"
        chain.append((trained.node, note))
        if again is not trained and again.node is not trained.node:
            chain.append((again.node, f"{name} is trained here again in the next iteration"))
        return Report(
            change.node,
            f"`trainable` of {what} is changed inside a training loop after {name} was "
            f"compiled and trained, and later iterations train it again without `compile()`: "
            f"{effect}; call `{_label(model)}.compile(...)` right after changing `trainable`",
            (*call_notes(change, "the change"), *chain),
            scenario=_scenario(self.code, model, change, fitted=True),
        )

    def report(self, ctx: RuleContext, model: Layer, change: Event, compile_event: Event,
               earlier_fit: Event | None, next_fit: Event) -> Report:
        name = wf.describe(model)
        target = change.layer
        what = wf.describe(target) if target is not None and target is not model else name
        if ctx.flavour.name == "keras3":
            if earlier_fit is not None:
                effect = ("Keras 3 built the train function in the earlier fit(), so the "
                          "change is silently ignored in graph mode and crashes on JAX or "
                          "in eager mode")
            else:
                effect = ("Keras 3 applies it only because no fit() ran yet; tf-keras "
                          "ignores it, and any fit() before it would make Keras 3 ignore it "
                          "or crash")
        else:
            effect = ("compile() snapshots which weights are trainable, so the change is "
                      "ignored until the model is recompiled")
        severity: Severity | None = None if earlier_fit is not None else "warning"
        chain: list[tuple[cst.CSTNode, str]] = [
            (compile_event.node, f"{name} is compiled here: trainability is captured"),
        ]
        if earlier_fit is not None:
            chain.append((earlier_fit.node, f"{name} is trained here with that configuration"))
        chain.append((next_fit.node, f"{name} is trained again here without a recompile"))
        return Report(
            change.node,
            f"`trainable` of {what} is changed after {name} was compiled and before it is "
            f"trained again without `compile()`: {effect}; call `{_label(model)}.compile(...)` "
            "after changing `trainable`",
            (*call_notes(change, "the change"), *chain),
            severity=severity,
            scenario=_scenario(self.code, model, change, earlier_fit is not None),
        )


def _label(model: Layer) -> str:
    return model.label or "model"


def _changed(change: Event, compile_event: Event, fit: Event) -> bool:
    """Does the trainable state of what ``change`` touched differ between the compile
    and the fit (both known)?"""
    target = change.target
    parts: list[Layer]
    if isinstance(target, Layer):
        parts = [target, *target.descendants()]
    elif isinstance(target, LayerSelection):
        if target.members is not None:
            parts = [m for member in target.members for m in (member, *member.descendants())]
        else:
            parts = [target.container]
    else:
        return False
    for part in parts:
        for read in (wf.trainable_at, wf.bn_trainable_at):
            before, after = read(compile_event, part), read(fit, part)
            if before is not None and after is not None and before != after:
                return True
    return False


def _restores_own_compile(ctx: RuleContext, touched: Layer, change: Event,
                          position: int, trained: Layer) -> bool:
    """Does ``change`` set a model inside ``trained`` that was compiled itself (or its
    layers) back to the state its own compile() captured, before it trains itself again?
    That is the GAN recipe's unfreeze of D after the combined model was compiled with D
    frozen: the combined model is meant to keep D frozen."""
    value = change.value
    if not isinstance(value, Const) or not isinstance(value.value, bool):
        return False
    for inner in ctx.model.containers_or_self(touched):
        if inner is trained:
            continue
        own = ctx.model.compiled_before(inner, position)
        if own is not None and not _differs_from(change, own.compile, value.value) and any(
                step.kind == "fit" and step.layer is not None and step.layer.node is inner.node
                for step in ctx.model.trace.training_steps_after(position)):
            return True  # and D (made by the same statement) trains on in that state
    return False


def _differs_from(change: Event, compile_event: Event, value: bool) -> bool:
    """Does ``change`` set a state other than the one captured at ``compile_event``?"""
    target = change.target
    if isinstance(target, Layer):
        parts = [target]
    elif isinstance(target, LayerSelection):
        if target.members is not None:
            parts = list(target.members)
        elif wf.trainable_at(compile_event, target.container) is False:
            parts = [target.container]  # everything inside was frozen
        else:
            return False
    else:
        return False
    return any(wf.trainable_at(compile_event, part) is (not value) for part in parts)


def _scenario(code: str, model: Layer, change: Event, fitted: bool) -> Scenario | None:
    """A change to a literal True/False: replayed as an unfreeze or a freeze, after a
    fit() or before the first one."""
    value = change.value
    if not isinstance(value, Const) or not isinstance(value.value, bool):
        return None
    return scenario(code, change="unfreeze" if value.value else "freeze",
                    fit_before_change=fitted, **model_facts(model))
