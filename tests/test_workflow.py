"""Fine-tuning workflow queries: freezes, unfreezes and what lies between them."""

from __future__ import annotations

import textwrap

import libcst as cst
import pytest

from bnlint.semantic import workflow as wf
from bnlint.semantic.build import build_model
from bnlint.semantic.events import Event
from bnlint.semantic.model import SemanticModel
from bnlint.semantic.tf1 import uses_graph_mode, uses_tf1_only_api
from bnlint.semantic.values import Layer


def model_of(code: str) -> SemanticModel:
    return build_model(cst.parse_module(textwrap.dedent(code)))


def layer_named(model: SemanticModel, label: str) -> Layer:
    return [layer for layer in model.layers if layer.label == label][-1]


def fits(model: SemanticModel) -> list[Event]:
    return list(model.events_of("fit"))


def lines(model: SemanticModel, events: list[Event] | Event | None) -> list[str]:
    module = cst.parse_module("")
    found = events if isinstance(events, list) else [] if events is None else [events]
    return [module.code_for_node(event.node) for event in found]


TWO_PHASES = """
import keras
base = keras.applications.ResNet50(include_top=False, pooling="avg")
base.trainable = False
model = keras.Sequential([base, keras.layers.Dense(10)])
model.compile(optimizer="adam", loss="mse")
model.fit(x, y)
{between}
model.compile(optimizer=keras.optimizers.Adam(1e-5), loss="mse")
model.fit(x, y)
"""


def two_phases(between: str) -> tuple[SemanticModel, Layer, Event, Event]:
    model = model_of(TWO_PHASES.format(between=textwrap.dedent(between)))
    first, second = fits(model)
    return model, layer_named(model, "base"), first, second


@pytest.mark.parametrize(
    ("between", "to", "expected"),
    [
        ("base.trainable = True", True, ["base.trainable"]),
        ("base.trainable = True", False, []),
        ("base.trainable = flag", True, ["base.trainable"]),  # unknown value counts
        ("base.trainable = flag", False, ["base.trainable"]),
        ("model.trainable = True", True, ["model.trainable"]),  # a container of it
        ("for layer in base.layers[-10:]:\n    layer.trainable = True", True,
         ["layer.trainable"]),
        ("for layer in base.layers:\n    layer.trainable = False", True, []),
        ("base.trainabe = True", True, []),  # not a set_trainable event
    ],
)
def test_trainable_changes_between_keeps_what_may_set_the_asked_value(
    between: str, to: bool, expected: list[str]
) -> None:
    model, base, first, second = two_phases(between)
    changes = list(wf.trainable_changes_between(model, base, first, second, to=to))
    assert lines(model, changes) == expected


def test_trainable_changes_between_without_value_keeps_every_change() -> None:
    model, base, first, second = two_phases(
        "base.trainable = True\nfor layer in base.layers:\n    layer.trainable = False"
    )
    changes = wf.trainable_changes_between(model, base, first, second)
    assert lines(model, list(changes)) == ["base.trainable", "layer.trainable"]


def test_trainable_changes_between_none_bounds_mean_the_whole_trace() -> None:
    model, base, _, _ = two_phases("base.trainable = True")
    changes = wf.trainable_changes_between(model, base, None, None)
    assert lines(model, list(changes)) == ["base.trainable", "base.trainable"]


def test_last_unfreeze_after_ignores_unfreezes_before_it() -> None:
    model = model_of("""
        import keras
        base = keras.applications.ResNet50(include_top=False, pooling="avg")
        base.trainable = True
        model = keras.Sequential([base, keras.layers.Dense(10)])
        model.compile(optimizer="adam", loss="mse")
        model.fit(x, y)
        model.compile(optimizer="adam", loss="mse")
        model.fit(x, y)
    """)
    base = layer_named(model, "base")
    first, second = fits(model)
    assert lines(model, wf.last_unfreeze(model, base, second)) == ["base.trainable"]
    assert wf.last_unfreeze(model, base, second, after=first) is None


@pytest.mark.parametrize(
    ("between", "in_force"),
    [
        ("", True),
        ("for layer in base.layers[-10:]:\n    layer.trainable = True", True),
        ("base.trainable = True", False),
        ("base.trainable = flag", False),
        ("model.trainable = True", False),
        ("if fine_tune:\n    base.trainable = True", False),
    ],
)
def test_freeze_in_force_until_the_flag_itself_may_change(between: str,
                                                          in_force: bool) -> None:
    model, base, _, second = two_phases(between)
    freeze = wf.freeze_in_force(model, base, second)
    assert lines(model, freeze) == (["base.trainable"] if in_force else [])


def test_freezes_and_unfreezes_reach_the_base_through_its_containers() -> None:
    model, base, _, _ = two_phases("model.trainable = True")
    freeze, unfreeze = (e for e in model.events_of("set_trainable"))
    assert wf.freezes(freeze, base) and not wf.unfreezes(freeze, base)
    assert wf.unfreezes(unfreeze, base) and not wf.freezes(unfreeze, base)


def test_flattened_base_is_inside_the_model_built_on_its_output() -> None:
    model = model_of("""
        import keras
        from keras import layers
        inputs = layers.Input(shape=(224, 224, 3))
        base = keras.applications.EfficientNetB0(include_top=False, input_tensor=inputs)
        x = layers.GlobalAveragePooling2D()(base.output)
        model = keras.Model(inputs, layers.Dense(2)(x))
    """)
    base, outer = layer_named(model, "base"), layer_named(model, "model")
    assert wf.flattened_into(outer) == [base]
    assert wf.inside(base, outer) and not wf.inside(outer, base)


def test_weightless_layers_are_builtin_layers_without_weights() -> None:
    model = model_of("""
        import keras
        pool = keras.layers.GlobalAveragePooling2D()
        dense = keras.layers.Dense(2)
    """)
    assert wf.is_weightless(layer_named(model, "pool"))
    assert not wf.is_weightless(layer_named(model, "dense"))


@pytest.mark.parametrize(
    ("code", "tf1_only", "graph_mode"),
    [
        ("import tensorflow as tf\nx = tf.placeholder(tf.float32)", True, True),
        ("import tensorflow as tf\ns = tf.compat.v1.Session()", False, True),
        ("import tensorflow as tf\ny = tf.keras.layers.Dense(2)", False, False),
    ],
)
def test_tf1_evidence(code: str, tf1_only: bool, graph_mode: bool) -> None:
    model = model_of(code)
    assert uses_tf1_only_api(model) is tf1_only
    assert uses_graph_mode(model) is graph_mode
