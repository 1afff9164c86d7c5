"""BN203 trainable-changed-after-compile."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from bnlint.finding import Severity
from bnlint.rule import Example, Report, Rule, RuleContext
from bnlint.semantic import workflow as wf
from bnlint.semantic.events import Event
from bnlint.semantic.values import Layer, LayerSelection

_UNFREEZE_AFTER_FIT = """
import keras
base = keras.applications.ResNet50(include_top=False, pooling="avg")
base.trainable = False
model = keras.Sequential([base, keras.layers.Dense(10)])
model.compile(optimizer="adam", loss="mse")
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

    The GAN recipe (compile `D`, freeze it, compile the combined model) is not reported
    here: it is correct under tf-keras and BN209 covers Keras 3.

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
    )
    not_flagged = (
        """
        import keras
        base = keras.applications.ResNet50(include_top=False, pooling="avg")
        base.trainable = False
        model = keras.Sequential([base, keras.layers.Dense(10)])
        model.compile(optimizer="adam", loss="mse")
        model.fit(x, y)
        base.trainable = True
        model.compile(optimizer=keras.optimizers.Adam(1e-5), loss="mse")
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
        model.evaluate(x, y)
        """,
        """
        import keras
        base = keras.applications.ResNet50(include_top=False, pooling="avg")
        base.trainable = False
        model = keras.Sequential([base, keras.layers.Dense(10)])
        model.compile(optimizer="adam", loss="mse")
        model.fit(x, y)
        if fine_tune:
            base.trainable = True
        model.fit(x, y)
        """,
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
        """
        import keras
        base = keras.applications.ResNet50(include_top=False, pooling="avg")
        base.trainable = False
        model = keras.Sequential([base, keras.layers.Dense(10)])
        model.compile(optimizer="adam", loss="mse")
        model.fit(x, y)
        base.trainable = False
        model.fit(x, y)
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

    def check_change(self, ctx: RuleContext, position: int,
                     change: Event) -> Iterator[Report]:
        events = ctx.model.events
        touched = change.layer
        if touched is None:
            return
        for model in ctx.model.containers_or_self(touched):
            compile_event, earlier_fit = _last_compile(events[:position], model)
            if compile_event is None:
                continue
            next_fit = _next_fit(events[position + 1:], model, touched)
            if next_fit is None:
                continue
            if not _changed(change, compile_event, next_fit):
                continue
            yield self.report(ctx, model, change, compile_event, earlier_fit, next_fit)
            return

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
            tuple(chain),
            severity=severity,
        )


def _label(model: Layer) -> str:
    return model.label or "model"


def _touches(event: Event, model: Layer) -> bool:
    layer = event.layer
    return layer is not None and (layer is model or model in layer.descendants()
                                  or layer in model.descendants())


def _last_compile(before: list[Event], model: Layer) -> tuple[Event | None, Event | None]:
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


def _next_fit(after: list[Event], model: Layer, touched: Layer) -> Event | None:
    """The next training of ``model`` when no compile (of it, or of another model holding
    the changed layer: the GAN recipe) comes first."""
    for event in after:
        layer = event.layer
        if event.kind == "compile" and layer is not None and (
            layer is model or layer is touched or touched in layer.descendants()
        ):
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
