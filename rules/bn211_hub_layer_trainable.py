"""BN211 hub-layer-trainable."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from bnlint.rule import Report, Rule, RuleContext
from bnlint.semantic import workflow as wf
from bnlint.semantic.values import Layer

if TYPE_CHECKING:
    import libcst as cst
else:
    from bnlint.lazy import libcst as cst

HUB_LAYER = "tensorflow_hub.KerasLayer"


def _rate(value: float) -> str:
    return f"{value:g}"


def _trainable_true(node: cst.CSTNode) -> cst.Arg | None:
    """The literal ``trainable=True`` argument of a ``hub.KerasLayer(...)`` call."""
    if not isinstance(node, cst.Call):
        return None
    for arg in node.args:
        if (arg.keyword is not None and arg.keyword.value == "trainable"
                and isinstance(arg.value, cst.Name) and arg.value.value == "True"):
            return arg
    return None


class HubLayerTrainable(Rule):
    """## What it does
    Flags `hub.KerasLayer(handle, trainable=True)` when the model that contains it is
    compiled and fitted at a known learning rate at or above `unfreeze-lr-threshold`
    (default 1e-3, Adam's and RMSprop's default).

    ## Why is this bad?
    A trainable `hub.KerasLayer` passes `training=True` into the wrapped SavedModel
    during `fit()` (F22), so any BatchNormalization layer inside runs in training mode
    and replaces the pretrained moving statistics with those of your batches (F4);
    together with a large learning rate the pretrained features are damaged within a
    few steps (F19, F20). Image handles usually contain BN; the handle's contents are
    unknown to the linter, hence the rule is opt-in.

    ## Example
    ```python
    feature_extractor = hub.KerasLayer(handle, trainable=True)
    model = keras.Sequential([feature_extractor, keras.layers.Dense(5)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y)
    ```

    ## Use instead
    Train the head on a frozen hub layer first, then fine-tune at a low rate:
    ```python
    feature_extractor = hub.KerasLayer(handle, trainable=False)
    model = keras.Sequential([feature_extractor, keras.layers.Dense(5)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y)
    ```

    ## Fix safety
    No automatic fix: fine-tuning a hub model is legitimate at a low learning rate.

    ## References
    - tensorflow/hub `keras_layer.py`, `KerasLayer` docstring (training argument)
    - TensorFlow tutorial "Transfer learning with TensorFlow Hub"
    """

    code = "BN211"
    name = "hub-layer-trainable"
    severity = "info"
    reads_program = True
    summary = "a trainable TF-Hub layer fine-tuned at a large learning rate"
    default_enabled = False
    needles = (b"KerasLayer",)
    flagged = (
        """
        import tensorflow as tf
        import tensorflow_hub as hub
        layer = hub.KerasLayer("https://tfhub.dev/google/imagenet/resnet_v2_50/feature_vector/5", trainable=True)
        model = tf.keras.Sequential([layer, tf.keras.layers.Dense(5)])
        model.compile(optimizer="adam", loss="mse")
        model.fit(x, y)
        """,
        """
        import tensorflow as tf
        import tensorflow_hub as hub
        model = tf.keras.Sequential([
            hub.KerasLayer(handle, trainable=True),
            tf.keras.layers.Dense(10),
        ])
        model.compile(optimizer=tf.keras.optimizers.SGD(0.01), loss="mse")
        model.fit(x, y)
        """,
        """
        import tensorflow as tf
        from tensorflow_hub import KerasLayer
        inputs = tf.keras.Input((224, 224, 3))
        x = KerasLayer(handle, trainable=True)(inputs)
        model = tf.keras.Model(inputs, tf.keras.layers.Dense(3)(x))
        model.compile(tf.keras.optimizers.Adam(1e-3), "mse")
        model.fit(ds)
        """,
        """
        import tensorflow as tf
        import tensorflow_hub as hub
        model = tf.keras.Sequential([hub.KerasLayer(handle, trainable=True), tf.keras.layers.Dense(1)])
        model.compile(optimizer="rmsprop", loss="mse")
        model.fit(x, y)
        """,
    )
    not_flagged = (
        """
        import tensorflow as tf
        import tensorflow_hub as hub
        model = tf.keras.Sequential([hub.KerasLayer(handle, trainable=False), tf.keras.layers.Dense(5)])
        model.compile(optimizer="adam", loss="mse")
        model.fit(x, y)
        """,
        """
        import tensorflow as tf
        import tensorflow_hub as hub
        model = tf.keras.Sequential([hub.KerasLayer(handle), tf.keras.layers.Dense(5)])
        model.compile(optimizer="adam", loss="mse")
        model.fit(x, y)
        """,
        """
        import tensorflow as tf
        import tensorflow_hub as hub
        model = tf.keras.Sequential([hub.KerasLayer(handle, trainable=True), tf.keras.layers.Dense(5)])
        model.compile(optimizer=tf.keras.optimizers.Adam(1e-5), loss="mse")
        model.fit(x, y)
        """,
        """
        import tensorflow as tf
        import tensorflow_hub as hub
        model = tf.keras.Sequential([hub.KerasLayer(handle, trainable=True), tf.keras.layers.Dense(5)])
        model.compile(optimizer=tf.keras.optimizers.Adam(schedule), loss="mse")
        model.fit(x, y)
        """,
    )

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        threshold = ctx.settings.thresholds.unfreeze_lr_threshold
        hubs = [layer for layer in ctx.model.layers
                if layer.qualname == HUB_LAYER and _trainable_true(layer.node) is not None]
        for hub in hubs:
            phase = _fast_phase(ctx, hub, threshold)
            if phase is None or phase.compile is None or phase.learning_rate is None:
                continue
            arg = _trainable_true(hub.node)
            assert arg is not None
            rate = phase.learning_rate
            yield Report(
                arg,
                f"this trainable TF-Hub layer receives training=True during fit(), so any "
                f"BatchNormalization inside it updates its pretrained statistics, and it is "
                f"trained at learning rate {_rate(rate)}; train the head with "
                "`trainable=False` first, then fine-tune at a rate 10-100x lower",
                (
                    (phase.compile.node, f"compiled at learning rate {_rate(rate)} here"),
                    (phase.fit.node, "trained here"),
                ),
            )


def _fast_phase(ctx: RuleContext, hub: Layer, threshold: float) -> wf.Phase | None:
    for runs in wf.phases(ctx.model).values():
        for phase in runs:
            if hub is not phase.model and hub not in phase.model.descendants():
                continue
            if wf.trainable_at(phase.fit, hub) is not True or phase.compile is None:
                continue
            if phase.learning_rate is not None and phase.learning_rate >= threshold:
                return phase
    return None
