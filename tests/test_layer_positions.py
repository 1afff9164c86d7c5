"""Which layers `model.layers[i]` means: the positions Keras gives a functional model's
layers (its InputLayer first, then one layer per call, the layers that the functional
merge helpers make included), and an index loop over fixed positions."""

from __future__ import annotations

import pytest

from bnlint.registry import all_rules
from bnlint.testing import lint_snippet

# model.layers: [0] InputLayer, [1] Conv2D, [2] BN, [3] Conv2D, [4] Add (from
# `layers.add`), [5] BN, [6] GlobalAveragePooling2D, [7] Dense
RESIDUAL = """
import keras
from keras import layers

inputs = keras.Input((32, 32, 3))
shortcut = layers.Conv2D(8, 3, padding="same")(inputs)
x = layers.BatchNormalization()(shortcut)
x = layers.Conv2D(8, 3, padding="same")(x)
x = layers.{merge}([x, shortcut])
x = layers.BatchNormalization()(x)
x = layers.GlobalAveragePooling2D()(x)
model = keras.Model(inputs, layers.Dense(10)(x))
for i in range({frozen}):
    model.layers[i].trainable = False
model.compile(optimizer="adam", loss="mse")
model.fit(x_train, y_train, batch_size=2)
"""


def _codes(source: str) -> list[tuple[str, int]]:
    return [(f.code, f.span.start.row) for f in lint_snippet(source, all_rules())]


@pytest.mark.parametrize("merge", ["add", "concatenate", "multiply", "average"])
def test_a_merge_helper_is_a_layer_of_the_model(merge: str) -> None:
    # the first five layers end with the merge: the BN after it still trains
    assert ("BN401", 16) in _codes(RESIDUAL.format(merge=merge, frozen=5))


@pytest.mark.parametrize("merge", ["add", "concatenate"])
def test_an_index_loop_that_freezes_past_the_last_bn_leaves_none_training(merge: str) -> None:
    assert "BN401" not in [code for code, _ in _codes(RESIDUAL.format(merge=merge, frozen=6))]


def test_an_index_loop_over_the_whole_list_freezes_every_bn() -> None:
    frozen = _codes(RESIDUAL.format(merge="add", frozen=8))
    assert "BN401" not in [code for code, _ in frozen]


def test_an_index_loop_past_the_known_layers_selects_nothing_known() -> None:
    # the code counts 190 layers where 8 are known (a backbone from a library): which
    # ones the loop freezes is unknown, so no rule may take the model as all frozen
    frozen = _codes(RESIDUAL.format(merge="add", frozen=190))
    assert [code for code, _ in frozen if code in {"BN207", "BN401"}] == []
