"""BN203 trainable-changed-after-compile."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import TYPE_CHECKING

from bnlint.finding import Severity
from bnlint.rule import Example, Report, Rule, RuleContext
from bnlint.semantic import workflow as wf
from bnlint.semantic.constants import ModuleConstants
from bnlint.semantic.events import Event, call_notes
from bnlint.semantic.values import Const, Layer, LayerSelection
from bnlint.semantic.walk import run_visitor

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
    here: it is correct under tf-keras and BN209 covers Keras 3. Neither is a loop or a
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

    _index: tuple[object, dict[int, _Trainings]] | None = None

    code = "BN203"
    name = "trainable-changed-after-compile"
    severity = "error"
    summary = "`trainable` changed after compile() without recompiling before training"
    needles = (b"trainable",)
    flagged = (
        _UNFREEZE_AFTER_FIT,
        Example(_UNFREEZE_AFTER_FIT, target="tf-keras"),
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

    def trainings(self, ctx: RuleContext, model: Layer, end: int) -> Iterator[Event]:
        """What ``_last_compile`` needs of ``model``'s events before position ``end``: its
        last compile and the fits after it up to the first trusted one. Indexed once per
        file (scanning the whole trace for each change was quadratic)."""
        index = self._index
        if index is None or index[0] is not ctx.model:
            by_layer: dict[int, _Trainings] = {}
            for position, event in enumerate(ctx.model.events):
                if event.kind in {"compile", "fit"} and event.layer is not None:
                    entry = by_layer.setdefault(id(event.layer), _Trainings([], [], []))
                    if event.kind == "compile":
                        entry.compiles.append(len(entry.events))
                    entry.positions.append(position)
                    entry.events.append(event)
            index = self._index = (ctx.model, by_layer)
        found = index[1].get(id(model))
        if found is None:
            return
        before = bisect_left(found.positions, end)
        last = bisect_left(found.compiles, before) - 1
        if last < 0:
            return
        for event in found.events[found.compiles[last]:before]:
            yield event
            if event.kind == "fit" and wf.trusted(event):
                return

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
        events = ctx.model.events
        touched = change.layer
        if touched is None or change.context.callback_of() is not None:
            return  # a hook runs inside its fit(): check_in_callback's concern
        for model in ctx.model.containers_or_self(touched):
            compile_event, earlier_fit = _last_compile(self.trainings(ctx, model, position),
                                                       model)
            if compile_event is None:
                continue
            next_fit = _next_fit(islice(events, position + 1, None), model, touched)
            if next_fit is None:
                continue
            if not _changed(change, compile_event, next_fit):
                continue
            yield self.report(ctx, model, change, compile_event, earlier_fit, next_fit)
            return

    def check_in_loop(self, ctx: RuleContext, position: int, change: Event) -> Report | None:
        """A change inside a training loop (``for epoch ...: model.fit(...)``) that a
        later iteration's fit() trains past without a recompile. The loop body is
        replayed once, so the order across iterations is read from the loop itself."""
        events = ctx.model.events
        touched = change.layer
        value = change.value
        if touched is None or not isinstance(value, Const) or not isinstance(value.value, bool):
            return None
        for loop in reversed(change.context.loops()):
            inner = change.context.within(loop) or ()
            if any(kind != "loop" and node is loop for kind, node in inner):
                continue
            body = [(index, event) for index, event in enumerate(events)
                    if event.context.within(loop) is not None]
            if not body or _may_leave(loop):
                continue
            for model in ctx.model.containers_or_self(touched):
                fits = [(index, event) for index, event in body
                        if event.kind == "fit" and event.layer is model
                        and not event.context.standalone and not event.context.within(loop)]
                if not fits:
                    continue
                if any(event.kind in {"compile", "escape"} and event.layer is not None and (
                        event.layer is model or event.layer is touched
                        or touched in event.layer.descendants()) for _, event in body):
                    return None  # recompiled, or handed to code we cannot follow
                start = body[0][0]
                compile_event, _ = _last_compile(self.trainings(ctx, model, start), model)
                if compile_event is None or not _loop_entry_trusted(compile_event, loop, body):
                    continue
                if not _differs_from(change, compile_event, value.value):
                    continue
                if _toggled_back(change, body, value.value):
                    continue
                before = [event for index, event in fits if index < position]
                after = [event for index, event in fits if index > position]
                guarded = any(kind != "loop" for kind, _ in inner)
                constants = ModuleConstants(ctx.model.module)
                if before and (not guarded or _runs_before_last_iteration(loop, inner,
                                                                          constants)):
                    trained, again = before[-1], fits[0][1]
                elif after and _runs_after_first_iteration(loop, inner, constants):
                    trained, again = after[0], after[0]
                else:
                    continue
                return self.report_loop(ctx, model, change, compile_event, loop, trained, again)
        return None

    def check_in_callback(self, ctx: RuleContext, change: Event) -> Report | None:
        """A callback hook that changes ``trainable`` while fit() is training: the train
        function is already built, so the change is ignored in graph mode (both flavours)
        and crashes in eager mode and on JAX."""
        fit_node = change.context.callback_of()
        value = change.value
        if fit_node is None or not isinstance(value, Const) or not isinstance(value.value, bool):
            return None
        events = ctx.model.events
        fit = next((event for event in events if event.kind == "fit" and event.node is fit_node
                    and wf.trusted(event)), None)
        hook = _hook_of(ctx, change)
        if fit is None or fit.layer is None or hook is None:
            return None
        name, function = hook
        if not _after_first_step(name, function, change, fit_node,
                                 ModuleConstants(ctx.model.module)):
            return None
        model = fit.layer
        compile_event, _ = _last_compile(
            self.trainings(ctx, model, wf.position(ctx.model, fit)), model)
        if compile_event is None or not _differs_from(change, compile_event, value.value):
            return None
        during = [(index, event) for index, event in enumerate(events)
                  if event.context.callback_of() is fit_node]
        if _toggled_back(change, during, value.value) or _rebuilds_train_function(function):
            return None
        if any(event.kind == "escape" or event.kind == "set_attr"
               and event.attr == "stop_training" for _, event in during):
            return None  # the hook ends this fit(), or hands the model to unknown code
        label = wf.describe(model)
        target = change.layer
        what = wf.describe(target) if target is not None and target is not model else label
        return Report(
            change.node,
            f"`trainable` of {what} is changed by the callback hook `{name}` while fit() "
            "is training: the train function was built with the old configuration, so the "
            "change is silently ignored in graph mode (Keras 3 and tf-keras) and crashes in "
            "eager mode or on JAX; end this fit() at that epoch, change `trainable`, "
            f"recompile `{_label(model)}` and call fit() again",
            (
                (compile_event.node, f"{label} is compiled here: trainability is captured"),
                (fit_node, f"fit() runs the callback here while training {label}"),
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
        )


def _label(model: Layer) -> str:
    return model.label or "model"


def _touches(event: Event, model: Layer) -> bool:
    layer = event.layer
    return layer is not None and (layer is model or model in layer.descendants()
                                  or layer in model.descendants())


@dataclass(slots=True)
class _Trainings:
    """One model's compile and fit events in trace order, with their trace positions
    and which of them are compiles (indices into ``events``)."""

    positions: list[int]
    events: list[Event]
    compiles: list[int]


def _last_compile(before: Iterable[Event], model: Layer) -> tuple[Event | None, Event | None]:
    """The last compile of ``model`` and the first fit of it after that compile. No
    compile when the last one may not run, or when a fit after it may or may not run
    (whether a fit ran decides the Keras 3 outcome)."""
    compile_event: Event | None = None
    fit: Event | None = None
    maybe_fit = False
    for event in before:
        if event.layer is not model:
            continue
        if event.kind == "compile":
            compile_event = event if wf.trusted(event) else None
            fit, maybe_fit = None, False
        elif event.kind == "fit" and fit is None and compile_event is not None:
            if wf.trusted(event):
                fit = event
            else:
                maybe_fit = True
    if maybe_fit and fit is None:
        return None, None
    return compile_event, fit


def _next_fit(after: Iterable[Event], model: Layer, touched: Layer) -> Event | None:
    """The next training of ``model`` when no compile (of it, or of another model holding
    the changed layer: the GAN recipe) comes first."""
    for event in after:
        layer = event.layer
        if event.kind == "compile" and layer is not None and (
            layer is model or layer is touched or touched in layer.descendants()
            or layer.has_bn is None and layer.model_kind == "functional"
        ):
            # also a model whose graph is partly unknown: it may hold the changed layer
            # (the GAN recipe with a generator from another module)
            return None
        if event.kind == "set_trainable" and not wf.trusted(event) and layer is not None and (
            _touches(event, model)
        ):
            return None
        if event.kind == "fit" and layer is model:
            return event if wf.trusted(event) else None
    return None


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


def _loop_entry_trusted(compile_event: Event, loop: cst.CSTNode,
                        body: list[tuple[int, Event]]) -> bool:
    """The compile runs for sure, and the loop is reached whenever it ran: the part of
    the path outside the loop is no more conditional than the compile's."""
    _, first = body[0]
    if not wf.trusted(compile_event):
        return False
    outside: list[tuple[str, cst.CSTNode]] = []
    for step in first.context.path:
        if step[1] is loop:
            break
        outside.append(step)
    return all(kind == "loop" or any(node is other for _, other in compile_event.context.path)
               for kind, node in outside)


def _toggled_back(change: Event, body: list[tuple[int, Event]], value: bool) -> bool:
    """Does the loop also set the same target back (the GAN loop's `D.trainable = True`
    ... `D.trainable = False` around each model's own step)? Then every fit may see the
    configuration it was compiled with."""
    target = change.layer
    for _, event in body:
        if event is change or event.kind != "set_trainable" or event.layer is None:
            continue
        other = event.value
        if isinstance(other, Const) and other.value is value:
            continue
        if event.layer is target or target in event.layer.descendants() or (
                target is not None and event.layer in target.descendants()):
            return True
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


def _runs_after_first_iteration(loop: cst.CSTNode, inner: tuple[tuple[str, cst.CSTNode], ...],
                                constants: ModuleConstants) -> bool:
    """Does a change guarded by ``inner`` (its path inside ``loop``) run in some iteration
    after the first? Only the shapes that say so for sure: ``if epoch == N`` / ``>=`` /
    ``>`` with N a known number, not 0 (and their ``else`` for ``== 0`` / ``<`` / ``<=``),
    on the loop variable of ``for epoch in range(...)``."""
    if not isinstance(loop, cst.For) or not isinstance(loop.target, cst.Name):
        return False
    return _after_first(loop.target.value, inner, constants)


def _runs_before_last_iteration(loop: cst.CSTNode, inner: tuple[tuple[str, cst.CSTNode], ...],
                                constants: ModuleConstants) -> bool:
    """Does a guarded change after the loop's fit() run in an iteration that another
    one follows? ``if epoch == N`` / ``>= N`` / ``> N`` on the loop variable, with N a
    known number below the last value of ``range(...)`` (when that is known)."""
    if not isinstance(loop, cst.For) or not isinstance(loop.target, cst.Name):
        return False
    guard = _guard(loop.target.value, inner, constants)
    if guard is None or guard[0] != "if":
        return False
    _, operator, number = guard
    if not isinstance(operator, (cst.Equal, cst.GreaterThan, cst.GreaterThanEqual)):
        return False
    last = _last_value(loop, constants)
    return last is None or number < last - (1 if isinstance(operator, cst.GreaterThan) else 0)


def _last_value(loop: cst.For, constants: ModuleConstants) -> float | None:
    """The last value of ``for i in range(n)`` / ``range(a, n)``, when n is known."""
    call = loop.iter
    if not (isinstance(call, cst.Call) and isinstance(call.func, cst.Name)
            and call.func.value == "range" and 1 <= len(call.args) <= 2):
        return None
    stop = constants.number(call.args[-1].value)
    return stop - 1 if stop is not None else None


def _guard(counter: str, inner: tuple[tuple[str, cst.CSTNode], ...],
           constants: ModuleConstants) -> tuple[str, cst.BaseCompOp, float] | None:
    """The one ``if`` around a change when it compares ``counter`` with a known number:
    (branch taken, operator, number)."""
    if len(inner) != 1 or inner[0][0] not in {"if", "else"}:
        return None
    kind, node = inner[0]
    if not isinstance(node, cst.If):
        return None
    test = node.test
    if not isinstance(test, cst.Comparison) or len(test.comparisons) != 1:
        return None
    left, comparison = test.left, test.comparisons[0]
    if not isinstance(left, cst.Name) or left.value != counter:
        return None
    number = constants.number(comparison.comparator)
    if number is None or number < 0:
        return None
    return kind, comparison.operator, number


def _after_first(counter: str, inner: tuple[tuple[str, cst.CSTNode], ...],
                 constants: ModuleConstants) -> bool:
    """Is the change under one ``if`` on ``counter`` (a loop variable, the ``epoch``
    parameter of a callback hook) that is false for its first value (0)?"""
    guard = _guard(counter, inner, constants)
    if guard is None:
        return False
    kind, operator, number = guard
    if kind == "if":
        if isinstance(operator, cst.Equal):
            return number != 0
        return isinstance(operator, cst.GreaterThan) or (
            isinstance(operator, cst.GreaterThanEqual) and number >= 1)
    if isinstance(operator, cst.Equal):
        return number == 0
    return isinstance(operator, cst.LessThanEqual) or (
        isinstance(operator, cst.LessThan) and number >= 1)


class _ExitFinder:
    """Finds ``break`` / ``return`` / ``raise`` that leave a loop (not those of nested
    loops or functions)."""

    def __init__(self) -> None:
        self.found = False

    def visit_Break(self, node: cst.Break) -> bool:
        self.found = True
        return False

    def visit_Return(self, node: cst.Return) -> bool:
        self.found = True
        return False

    def visit_Raise(self, node: cst.Raise) -> bool:
        self.found = True
        return False

    def visit_For(self, node: cst.For) -> bool:
        self.nested(node)
        return False

    def visit_While(self, node: cst.While) -> bool:
        self.nested(node)
        return False

    def nested(self, node: cst.For | cst.While) -> None:
        """In a nested loop only ``return`` / ``raise`` leave the outer one, except in
        its ``else:``, which runs in the outer loop's body."""
        run_visitor(_ReturnFinder(self), node.body)
        if node.orelse is not None:
            run_visitor(self, node.orelse)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False


class _ReturnFinder:
    """Inside a nested loop only ``return`` / ``raise`` leave the outer loop."""

    def __init__(self, outer: _ExitFinder) -> None:
        self.outer = outer

    def visit_Return(self, node: cst.Return) -> bool:
        self.outer.found = True
        return False

    def visit_Raise(self, node: cst.Raise) -> bool:
        self.outer.found = True
        return False

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False


def _may_leave(loop: cst.CSTNode) -> bool:
    """Can the loop end early (``break``, ``return``, ``raise``)? Then the iteration
    after a change may never come."""
    if not isinstance(loop, (cst.For, cst.While)):
        return True
    finder = _ExitFinder()
    run_visitor(finder, loop.body)
    return finder.found


def _hook_of(ctx: RuleContext, change: Event) -> tuple[str, cst.FunctionDef] | None:
    """The callback hook (name, definition) whose body made ``change``."""
    owner, function = change.context.method_of, change.context.function
    if owner is None or function is None:
        return None
    name = function.rsplit(".", 1)[-1]
    value = ctx.model.class_named(owner)
    if value is None or name not in value.methods:
        return None
    return name, value.methods[name].node


def _after_first_step(hook: str, function: cst.FunctionDef, change: Event,
                      fit_node: cst.CSTNode, constants: ModuleConstants) -> bool:
    """Does the hook make the change after fit() ran a train step, with more training
    of this fit() to come?"""
    if hook in {"on_train_batch_end", "on_batch_end"}:
        return True
    if hook == "on_epoch_end":
        return _more_than_one_epoch(fit_node)
    if hook not in {"on_epoch_begin", "on_train_batch_begin", "on_batch_begin"}:
        return False
    params = function.params.params
    if len(params) < 2:
        return False
    inner = change.context.path
    for index, (kind, node) in enumerate(inner):
        if kind == "callback" and node is fit_node:
            inner = inner[index + 1:]
    return _after_first(params[1].name.value, inner, constants)


def _more_than_one_epoch(fit_node: cst.CSTNode) -> bool:
    """``epochs=`` is given and is not the literal 1 (fit()'s default is one epoch)."""
    if not isinstance(fit_node, cst.Call):
        return False
    for index, arg in enumerate(fit_node.args):
        keyword = arg.keyword.value if arg.keyword is not None else None
        if keyword == "epochs" or keyword is None and index == 3:
            return not (isinstance(arg.value, cst.Integer) and arg.value.evaluated_value <= 1)
    return False


def _rebuilds_train_function(function: cst.FunctionDef) -> bool:
    """A hook that calls ``make_train_function(force=True)`` (tf-keras) after the change
    rebuilds the train function with the new configuration."""
    return "make_train_function" in cst.Module([]).code_for_node(function)
