"""A model reloaded from the program's own checkpoint (`load_model(path)` of the path its
`ModelCheckpoint` or `save` wrote) is the model that was trained there: unfreezing it is
an unfreeze of the BatchNormalization layers that were frozen when it was written."""

from __future__ import annotations

import pytest

from bnlint.registry import all_rules
from bnlint.testing import lint_snippet

TWO_PHASES = """
from keras.applications.xception import Xception
from keras.callbacks import ModelCheckpoint
from keras.layers import Dense
from keras.models import Model, load_model
from keras.optimizers import SGD, Adam

def train(data):
    filepath = "checkpoint/best.hdf5"
    base = Xception(include_top=False, pooling="max")
    model = Model(base.layers[0].input, Dense(128)(base.layers[-1].output))
    for layer in model.layers[{frozen}]:
        layer.trainable = False
    model.compile(optimizer=Adam(1e-3), loss="categorical_crossentropy")
    model.fit(data, epochs=5, callbacks=[ModelCheckpoint(filepath=filepath{weights})])
    model = load_model({loaded})
    for layer in model.layers:
        layer.trainable = True
    model.compile(optimizer=SGD(1e-4, momentum=0.9), loss="categorical_crossentropy")
    model.fit(data, epochs=30)

train(dataset)
"""


def unfreezes(frozen: str, loaded: str = "filepath",
              weights: str = "") -> list[tuple[int, list[str]]]:
    code = TWO_PHASES.format(frozen=frozen, loaded=loaded, weights=weights)
    return [(f.span.start.row, [note.message for note in f.related])
            for f in lint_snippet(code, all_rules(), "keras2") if f.code == "BN201"]


@pytest.mark.parametrize("frozen", [":-1", ":"])
def test_unfreezing_the_reloaded_checkpoint_of_a_frozen_base_is_reported(frozen: str) -> None:
    found = unfreezes(frozen)
    assert [row for row, _ in found] == [18]
    assert any("loaded here from the checkpoint of `model`" in note for note in found[0][1])


def test_a_slice_that_leaves_the_bases_last_layers_trainable_says_nothing_of_them() -> None:
    # `layers[:-40]` leaves the last BatchNormalization layers of the base trainable in
    # the first phase: what the checkpoint holds is not a frozen base
    assert unfreezes(":-40") == []


def test_a_model_loaded_from_elsewhere_is_not_known_to_have_frozen_layers() -> None:
    assert unfreezes(":-1", loaded='"pretrained/other.hdf5"') == []


def test_a_checkpoint_of_weights_alone_is_not_the_model_load_model_reads() -> None:
    # `save_weights_only=True` writes weights that `load_model` cannot read back as a model
    assert unfreezes(":-1", weights=", save_weights_only=True") == []
    assert [row for row, _ in unfreezes(":-1", weights=", save_weights_only=False")] == [18]


SEQUENTIAL_PHASES = """
from tensorflow import keras
base = keras.applications.ResNet50(include_top=False, weights="imagenet", pooling="avg")
{before}
model = keras.Sequential([base, keras.layers.Dense(5, activation="softmax")])
model.compile("adam", "categorical_crossentropy")
model.fit(train_ds, epochs=5, callbacks=[keras.callbacks.ModelCheckpoint("best.h5")])
{after}
model = keras.models.load_model("best.h5")
for layer in model.layers{unfrozen}:
    layer.trainable = True
model.compile(keras.optimizers.SGD(1e-4, momentum=0.9), "categorical_crossentropy")
model.fit(train_ds, epochs=5)
"""


def reloaded(before: str = "base.trainable = False", after: str = "",
             unfrozen: str = "") -> list[int]:
    code = SEQUENTIAL_PHASES.format(before=before, after=after, unfrozen=unfrozen)
    return [f.span.start.row for f in lint_snippet(code, all_rules(), "auto")
            if f.code == "BN201"]


def test_the_whole_reload_unfrozen_is_reported() -> None:
    assert reloaded() == [11]


@pytest.mark.parametrize("unfrozen", ["[-1:]", "[-2:]", "[1:]"])
def test_a_slice_of_the_reload_need_not_reach_its_batch_norm(unfrozen: str) -> None:
    # the reload's layer list is not known: `[-1:]` may be the head alone
    assert reloaded(unfrozen=unfrozen) == []


def test_a_base_frozen_only_after_the_checkpoint_was_written_is_not_in_it() -> None:
    # the checkpoint was written while the base trained: its BN layers are trainable
    # in the reload, and setting them trainable changes nothing
    assert reloaded(before="", after="base.trainable = False") == []
