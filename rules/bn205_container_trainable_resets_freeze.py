"""BN205 container-trainable-resets-freeze."""

from __future__ import annotations

from collections.abc import Iterator

from bnlint.probe.facts import model_facts
from bnlint.probe.scenario import scenario
from bnlint.rule import Report, Rule, RuleContext
from bnlint.semantic import workflow as wf
from bnlint.semantic.events import Event, call_notes
from bnlint.semantic.values import Layer

from ._recipes import EFFICIENTNET_FINE_TUNE, KERAS_IO_TRANSFER_LEARNING


class ContainerTrainableResetsFreeze(Rule):
    """## What it does
    Flags `X.trainable = True` on a model (or a container of it) *after* a loop froze
    its BatchNormalization layers one by one
    (`for l in X.layers: if isinstance(l, BatchNormalization): l.trainable = False`),
    when no such loop runs again before the next `fit()` (or at all).

    ## Why is this bad?
    Setting `trainable` on a container sets it on every layer inside it, recursively
    (F7). The container assignment therefore silently overwrites the per-layer freeze:
    the BatchNormalization layers become trainable again, run in training mode during
    `fit()` and replace the pretrained moving statistics (F4). Keras 3 with the
    TensorFlow backend skips the recursion when the flag already has the assigned
    value, JAX and tf-keras never do: never rely on it.

    ## Example
    ```python
    for layer in base.layers:
        if isinstance(layer, layers.BatchNormalization):
            layer.trainable = False
    base.trainable = True  # re-enables the BN layers
    model.compile(optimizer=keras.optimizers.Adam(1e-5), loss="mse")
    model.fit(x, y)
    ```

    ## Use instead
    Set the container flag first, then freeze the BN layers:
    ```python
    base.trainable = True
    for layer in base.layers:
        if isinstance(layer, layers.BatchNormalization):
            layer.trainable = False
    ```

    ## Fix safety
    No automatic fix yet: moving the container assignment before the loop is safe only
    when nothing in between reads `trainable`.

    ## References
    - keras-io guide "Transfer learning & fine-tuning", "Recursive setting of the
      `trainable` attribute"
    """

    code = "BN205"
    name = "container-trainable-resets-freeze"
    severity = "warning"
    reads_program = True
    summary = "a container `trainable = True` re-enables BatchNormalization layers frozen one by one"
    needles = (b"trainable",)
    flagged = (
        """
        import keras
        from keras import layers
        base = keras.applications.ResNet50(include_top=False, pooling="avg")
        for layer in base.layers:
            if isinstance(layer, layers.BatchNormalization):
                layer.trainable = False
        base.trainable = True
        model = keras.Sequential([base, layers.Dense(10)])
        model.compile(optimizer=keras.optimizers.Adam(1e-5), loss="mse")
        model.fit(x, y)
        """,
        """
        import keras
        from keras import layers
        base = keras.applications.ResNet50(include_top=False, pooling="avg")
        base.trainable = False
        model = keras.Sequential([base, layers.Dense(10)])
        model.compile(optimizer="adam", loss="mse")
        model.fit(x, y)
        for layer in base.layers:
            if isinstance(layer, layers.BatchNormalization):
                layer.trainable = False
        model.trainable = True
        model.compile(optimizer=keras.optimizers.Adam(1e-5), loss="mse")
        model.fit(x, y)
        """,
        """
        import tensorflow as tf
        base = tf.keras.applications.MobileNetV2(include_top=False, pooling="avg")
        base.trainable = False
        for layer in base.layers:
            if isinstance(layer, tf.keras.layers.BatchNormalization):
                layer.trainable = False
        base.trainable = True
        """,
        """
        import keras
        from keras import layers
        inputs = keras.Input((224, 224, 3))
        base = keras.applications.EfficientNetB0(include_top=False, input_tensor=inputs)
        x = layers.GlobalAveragePooling2D()(base.output)
        model = keras.Model(inputs, layers.Dense(3)(x))
        for layer in model.layers:
            if isinstance(layer, layers.BatchNormalization):
                layer.trainable = False
        base.trainable = True
        model.compile(optimizer=keras.optimizers.Adam(1e-5), loss="mse")
        model.fit(x_train, y_train)
        """,
        """
        import keras
        from keras import layers
        base = keras.applications.ResNet50(include_top=False, pooling="avg")
        for layer in base.layers:
            if isinstance(layer, layers.BatchNormalization):
                layer.trainable = False
        if unfreeze:
            base.trainable = True
        model = keras.Sequential([base, layers.Dense(10)])
        model.compile(optimizer=keras.optimizers.Adam(1e-5), loss="mse")
        model.fit(x, y)
        """,
    )
    not_flagged = (
        # keras-io transfer-learning guide recipe
        KERAS_IO_TRANSFER_LEARNING,
        # keras-io EfficientNet fine-tuning example
        EFFICIENTNET_FINE_TUNE,
        """
        import keras
        from keras import layers
        base = keras.applications.ResNet50(include_top=False, pooling="avg")
        for layer in base.layers:
            if isinstance(layer, layers.BatchNormalization):
                layer.trainable = False
        base.trainable = True
        for layer in base.layers:
            if isinstance(layer, layers.BatchNormalization):
                layer.trainable = False
        model = keras.Sequential([base, layers.Dense(10)])
        model.compile(optimizer=keras.optimizers.Adam(1e-5), loss="mse")
        model.fit(x, y)
        """,
        """
        import keras
        from keras import layers
        base = keras.applications.ResNet50(include_top=False, pooling="avg")
        other = keras.applications.ResNet50(include_top=False, pooling="avg")
        for layer in base.layers:
            if isinstance(layer, layers.BatchNormalization):
                layer.trainable = False
        other.trainable = True
        """,
    )

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        model = ctx.model
        seen: set[int] = set()
        for loop in model.events_of("set_trainable"):
            selection = loop.selection
            if (selection is None or selection.guard != "bn" or not wf.trusted(loop)
                    or not wf.assigns(loop, False)):
                continue
            container = selection.container
            for reset in wf.trainable_changes_between(model, container, loop, None, to=True):
                target = reset.target
                if not isinstance(target, Layer) or not (
                    wf.trusted(reset) and wf.assigns(reset, True)
                ):
                    continue
                if not wf.inside(container, target) and (
                    target not in wf.flattened_into(container)
                ):
                    continue  # a layer inside: not the whole container
                if id(reset.node) in seen or _refrozen(ctx, reset, target):
                    continue
                seen.add(id(reset.node))
                yield _report(ctx, loop, reset, target)


def _refrozen(ctx: RuleContext, reset: Event, target: Layer) -> bool:
    """Does a BN freeze loop over (part of) ``target`` run again after ``reset`` and
    before the next fit? Any loop (even under a branch) counts: uncertain -> silent."""
    fit = _next_fit(ctx, reset)
    return any(
        event.selection is not None and event.selection.guard == "bn"
        for event in wf.trainable_changes_between(ctx.model, target, reset, fit, to=False)
    )


def _next_fit(ctx: RuleContext, after: Event) -> Event | None:
    """The first trusted fit (of any model) after ``after``."""
    return next((event for event in wf.events_between(ctx.model, after, None)
                 if event.kind == "fit" and wf.trusted(event)), None)


def _report(ctx: RuleContext, loop: Event, reset: Event, target: Layer) -> Report:
    name = wf.describe(target)
    related: list[tuple[object, str]] = [
        (loop.node, "the BatchNormalization layers are frozen one by one here"),
    ]
    for event in wf.events_between(ctx.model, reset, None):
        if event.kind == "fit" and wf.trusted(event) and event.layer is not None and (
            wf.inside(target, event.layer) or wf.inside(event.layer, target)
        ):
            related.append((event.node, "fit() trains them (in training mode) here"))
            break
    return Report(
        reset.node,
        f"`trainable = True` on {name} is applied recursively to every layer inside it, "
        "undoing the BatchNormalization freeze above, so their moving statistics will "
        "be overwritten during fit(); set the container flag first, then run the BN "
        "freeze loop",
        (*call_notes(reset, "the change"), *related),  # type: ignore[arg-type]
        scenario=scenario("BN205", container_before=loop.trainable_before
                          if isinstance(loop.trainable_before, bool) else None,
                          **model_facts(target)),
    )
