"""Networks built by recursion and by static methods: a decoder whose `g(i)` and `h(i)`
call each other down to `if i == 1:` is followed level by level when the numbers are
known, `self.up(x)` of a `@staticmethod` gets `x` (not `self`), and a Sequence that
slices its batches by the `batch_size` of the settings object it keeps has that size."""

from __future__ import annotations

from bnlint.registry import all_rules
from bnlint.testing import lint_snippet

DECODER = """
from keras import Model
from keras.layers import Input, Conv2D, UpSampling2D, BatchNormalization


class Net():
    def __init__(self):
        self.inp = Input(shape=(None, None, 3))

    def h(self, i):
        if i == 1:
            return self.inp
        return BatchNormalization()(Conv2D(8, 1)(self.g(i - 1)))

    def g(self, i):
        if i == {top}:
            return Conv2D(32, 3)(self.h(i))
        return UpSampling2D()(self.h(i))

    def net(self):
        return Model(self.inp, Conv2D(1, 1)(self.g({start})))


model = Net().net()
model.compile("adam", "mse")
model.fit(x, y, batch_size=2)
"""


def tiny_batches(code: str) -> list[int]:
    return [f.span.start.row for f in lint_snippet(code, all_rules(), "auto")
            if f.code == "BN401"]


def test_a_mutual_recursion_on_known_numbers_is_followed_to_its_base_case() -> None:
    # g(4) -> h(4) -> g(3) -> ... -> h(1): eight levels, BN on each h level
    assert tiny_batches(DECODER.format(top=4, start=4)) == [26]
    assert tiny_batches(DECODER.format(top=6, start=6)) == [26]


def test_a_recursion_on_unknown_numbers_stays_unknown() -> None:
    # `g(depth)` with a depth nobody knows: the levels cannot be told apart
    assert tiny_batches(DECODER.format(top=4, start="depth")) == []


def test_a_recursion_without_a_base_case_ends() -> None:
    code = """
from keras import Model
from keras.layers import Input, Conv2D, BatchNormalization

inputs = Input((32, 32, 3))

def block(x, i):
    return block(BatchNormalization()(Conv2D(8, 3)(x)), i + 1)

model = Model(inputs, block(inputs, 0))
model.compile("adam", "mse")
model.fit(x, y, batch_size=2)
"""
    # never returns: the model's graph stays unknown, and the replay ends
    assert tiny_batches(code) == []


STATIC = """
from keras import Model
from keras.layers import Input, Conv2D, UpSampling2D, BatchNormalization


class Net():
    def __init__(self):
        self.inp = Input(shape=(64, 64, 3))

    {decorator}
    def up({first}x, factor=2):
        return UpSampling2D(size=(factor, factor))(x)

    def net(self):
        x = self.up(BatchNormalization()(Conv2D(8, 3)(self.inp)))
        return Model(self.inp, Conv2D(1, 1)(x))


model = Net().net()
model.compile("adam", "mse")
model.fit(x, y, batch_size=2)
"""


def test_a_static_method_called_on_self_gets_its_arguments() -> None:
    assert tiny_batches(STATIC.format(decorator="@staticmethod", first="")) == [21]
    assert tiny_batches(STATIC.format(decorator="@classmethod", first="cls, ")) == [21]
    assert tiny_batches(STATIC.format(decorator="", first="self, ")) == [21]


SEQUENCE = """
from keras.utils import Sequence
from keras.models import Sequential
from keras.layers import Dense, BatchNormalization


class Config:
    batch_size = 16


class Loader(Sequence):
    def __init__(self, cfg, names):
        self.cfg = cfg
        self.names = names

    def __len__(self):
        return len(self.names) // self.cfg.batch_size

    def __getitem__(self, idx):
        return load(self.names[idx * self.cfg.batch_size:(idx + 1) * self.cfg.batch_size])


cfg = Config()
{setting}
model = Sequential([Dense(8), BatchNormalization(), Dense(1)])
model.compile("adam", "mse")
model.fit(Loader(cfg, names), epochs=3)
"""


def test_a_sequence_takes_the_batch_size_of_the_settings_it_keeps() -> None:
    # reported where the settings object's size is set
    assert tiny_batches(SEQUENCE.format(setting="cfg.batch_size = 2")) == [24]
    # the class's own value is 16: no finding
    assert tiny_batches(SEQUENCE.format(setting="")) == []


def test_a_classmethod_called_on_its_class_gets_the_class_first() -> None:
    code = """
from keras.models import Sequential
from keras.layers import Dense, BatchNormalization


class Trainer:
    @classmethod
    def run(cls, batch_size=2):
        model = Sequential([Dense(8), BatchNormalization(), Dense(1)])
        model.compile("adam", "mse")
        model.fit(x, y, batch_size=batch_size)


Trainer.run({size})
"""
    assert tiny_batches(code.format(size=64)) == []
    assert tiny_batches(code.format(size=2)) == [14]
