"""Behaviour of the legacy-API (BN3xx) and statistics (BN4xx) rules that their declared
examples do not pin: severities per flavour, thresholds from settings, gates."""

from __future__ import annotations

import textwrap

import pytest

from bnlint.engine import lint_source
from bnlint.finding import Finding
from bnlint.registry import rule_by_code
from bnlint.rule import Rule
from bnlint.settings import Settings, TargetKeras, Thresholds
from bnlint.source import Source


def _rule(code: str) -> type[Rule]:
    rule = rule_by_code(code)
    assert rule is not None, code
    return rule


LearningPhaseApi = _rule("BN301")
Tf1BnMissingUpdateOps = _rule("BN302")
V1BnSemantics = _rule("BN304")
RemovedInKeras3 = _rule("BN305")
BnTinyBatch = _rule("BN401")
BnMomentumPytorchStyle = _rule("BN402")
BnInGradientPenaltyCritic = _rule("BN403")


def lint(code: str, rule: type[Rule], target: TargetKeras = "auto",
         thresholds: Thresholds | None = None) -> list[Finding]:
    settings = Settings(target_keras=target, thresholds=thresholds or Thresholds())
    result = lint_source(Source("snippet.py", textwrap.dedent(code)), settings, [rule])
    assert not result.errors
    return [finding for finding in result.findings if finding.code == rule.code]


SET_LEARNING_PHASE = """
from tensorflow.keras import backend as K
K.set_learning_phase(0)
"""


@pytest.mark.parametrize(
    ("target", "severity"),
    [("keras3", "error"), ("tf-keras", "warning"), ("keras2", "info"), ("tf1", "info")],
)
def test_learning_phase_severity_follows_the_target(target: TargetKeras, severity: str) -> None:
    # Keras 2 and TF1 code is told only about the training phase set for everything
    code = SET_LEARNING_PHASE.replace("(0)", "(1)") if target in {"keras2", "tf1"} else (
        SET_LEARNING_PHASE)
    [finding] = lint(code, LearningPhaseApi, target)
    assert finding.severity == severity


def test_learning_phase_in_tf1_only_code_is_info_when_the_target_is_inferred() -> None:
    code = """
    import tensorflow as tf
    from keras import backend as K
    sess = tf.Session()
    K.set_learning_phase(1)
    """
    [finding] = lint(code, LearningPhaseApi)
    assert finding.severity == "info"
    [configured] = lint(code, LearningPhaseApi, "keras3")
    assert configured.severity == "error"


def test_learning_phase_scope_is_reported_once() -> None:
    code = """
    import tensorflow as tf
    with tf.keras.backend.learning_phase_scope(0):
        y = model.predict(x)
    """
    assert len(lint(code, LearningPhaseApi, target="keras3")) == 1


FIT_BATCH = """
import keras
model = keras.Sequential([keras.layers.Dense(8), keras.layers.BatchNormalization()])
model.compile("adam", "mse")
model.fit(x, y, batch_size={size})
"""


@pytest.mark.parametrize(("size", "severity"), [(1, "warning"), (2, "warning"), (3, "info"),
                                                (7, "info"), (8, None), (0, None)])
def test_tiny_batch_severity_by_default_thresholds(size: int, severity: str | None) -> None:
    findings = lint(FIT_BATCH.format(size=size), BnTinyBatch)
    assert [finding.severity for finding in findings] == ([severity] if severity else [])


def test_tiny_batch_thresholds_come_from_settings() -> None:
    thresholds = Thresholds(tiny_batch_warning=4, tiny_batch_info=16)
    [four] = lint(FIT_BATCH.format(size=4), BnTinyBatch, thresholds=thresholds)
    [twelve] = lint(FIT_BATCH.format(size=12), BnTinyBatch, thresholds=thresholds)
    assert (four.severity, twelve.severity) == ("warning", "info")
    assert not lint(FIT_BATCH.format(size=17), BnTinyBatch, thresholds=thresholds)


def test_tiny_batch_ignores_a_dataset_unbatched_after_batch() -> None:
    code = """
    import tensorflow as tf
    model = tf.keras.Sequential([tf.keras.layers.Dense(8), tf.keras.layers.BatchNormalization()])
    model.compile("adam", "mse")
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(1)
    ds = ds.unbatch()
    model.fit(ds)
    """
    assert not lint(code, BnTinyBatch)


def test_tiny_batch_ignores_batch_size_when_fit_gets_a_dataset() -> None:
    code = """
    import tensorflow as tf
    model = tf.keras.Sequential([tf.keras.layers.Dense(8), tf.keras.layers.BatchNormalization()])
    model.compile("adam", "mse")
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(64)
    model.fit(ds, batch_size=1)
    model.fit(datagen.flow(x, y, batch_size=32), batch_size=1)
    """
    assert not lint(code, BnTinyBatch)


def test_tiny_batch_silent_when_bn_frozen_before_fit() -> None:
    code = """
    import keras
    bn = keras.layers.BatchNormalization()
    model = keras.Sequential([keras.layers.Dense(8), bn])
    bn.trainable = False
    model.compile("adam", "mse")
    model.fit(x, y, batch_size=1)
    """
    assert not lint(code, BnTinyBatch)


def test_momentum_threshold_comes_from_settings() -> None:
    code = """
    from keras import layers
    bn = layers.BatchNormalization(momentum=0.7)
    """
    assert not lint(code, BnMomentumPytorchStyle)
    [finding] = lint(code, BnMomentumPytorchStyle,
                     thresholds=Thresholds(pytorch_momentum_max=0.8))
    assert "momentum=0.3" in finding.message


def test_momentum_keras1_positional_order_is_not_read_as_momentum() -> None:
    code = """
    from keras.layers import BatchNormalization
    bn = BatchNormalization(1e-3, 0)
    """
    assert not lint(code, BnMomentumPytorchStyle)


def test_momentum_constant_rebound_in_a_function_is_not_trusted() -> None:
    code = """
    from keras.layers import BatchNormalization
    MOMENTUM = 0.1
    def configure():
        global MOMENTUM
        MOMENTUM = 0.9
    bn = BatchNormalization(momentum=MOMENTUM)
    """
    assert not lint(code, BnMomentumPytorchStyle)


def test_update_ops_silent_without_graph_mode_evidence() -> None:
    code = """
    import tensorflow as tf
    h = tf.compat.v1.layers.batch_normalization(x, training=True)
    train_op = optimizer.minimize(loss)
    """
    assert not lint(code, Tf1BnMissingUpdateOps)
    assert lint(code, Tf1BnMissingUpdateOps, "tf1")


def test_v1_semantics_applies_to_standalone_keras2_target() -> None:
    code = """
    import tensorflow as tf
    bn = tf.compat.v1.keras.layers.BatchNormalization(trainable=False)
    """
    assert lint(code, V1BnSemantics, "keras2")
    assert not lint(code, V1BnSemantics, "keras3")


def test_removed_in_keras3_silent_for_tf1_code_unless_keras3_is_configured() -> None:
    code = """
    import tensorflow as tf
    x = tf.placeholder(tf.float32, [None, 4])
    h = tf.keras.layers.BatchNormalization(fused=True)(x)
    """
    assert not lint(code, RemovedInKeras3)
    assert lint(code, RemovedInKeras3, "keras3")


def test_removed_in_keras3_reports_each_removed_argument() -> None:
    code = """
    from keras import layers
    bn = layers.BatchNormalization(fused=True, virtual_batch_size=4, adjustment=None)
    """
    assert len(lint(code, RemovedInKeras3, target="keras3")) == 3


def test_gradient_penalty_silent_when_critic_bn_is_frozen() -> None:
    code = """
    import tensorflow as tf
    from tensorflow import keras
    bn = keras.layers.BatchNormalization()
    critic = keras.Sequential([keras.layers.Dense(64), bn, keras.layers.Dense(1)])
    bn.trainable = False
    def gradient_penalty(real, fake):
        interpolated = 0.5 * real + 0.5 * fake
        with tf.GradientTape() as tape:
            tape.watch(interpolated)
            pred = critic(interpolated, training=True)
        grads = tape.gradient(pred, interpolated)
        return tf.reduce_mean((tf.norm(grads, axis=1) - 1.0) ** 2)
    """
    assert not lint(code, BnInGradientPenaltyCritic)


def test_gradient_penalty_silent_when_sources_are_not_watched() -> None:
    code = """
    import tensorflow as tf
    from tensorflow import keras
    critic = keras.Sequential([keras.layers.Dense(64), keras.layers.BatchNormalization(),
                               keras.layers.Dense(1)])
    def step(x, weights):
        with tf.GradientTape() as tape:
            pred = critic(x, training=True)
        grads = tape.gradient(pred, weights)
        return tf.norm(grads)
    """
    assert not lint(code, BnInGradientPenaltyCritic)


LOADER_MODEL = """
import tensorflow as tf
from tensorflow.keras.preprocessing.image import ImageDataGenerator
model = tf.keras.Sequential([tf.keras.layers.Conv2D(8, 3), tf.keras.layers.BatchNormalization(),
                             tf.keras.layers.Flatten(), tf.keras.layers.Dense(2)])
model.compile("adam", "categorical_crossentropy")
"""


# Keras loaders carry the literal `batch_size=` of their call to the fit() that trains on
# them, and the finding points at that argument.
@pytest.mark.parametrize("loader", [
    'train = ImageDataGenerator(rescale=1 / 255).flow_from_directory("d", batch_size=1)',
    "train = ImageDataGenerator().flow(x, y, batch_size=1)",
    'train = tf.keras.utils.image_dataset_from_directory("d", batch_size=1)',
])
def test_tiny_batch_from_a_keras_loader(loader: str) -> None:
    [finding] = lint(LOADER_MODEL + loader + "\nmodel.fit(train, epochs=5)\n", BnTinyBatch)
    assert "batches of 1" in finding.message


def test_tiny_batch_of_a_prefetched_dataset() -> None:
    code = LOADER_MODEL + (
        "train = tf.data.Dataset.from_tensor_slices((x, y)).batch(1).prefetch(2)\n"
        "model.fit(train, epochs=5)\n"
    )
    [finding] = lint(code, BnTinyBatch)
    assert "batches of 1" in finding.message
