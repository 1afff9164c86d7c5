"""Functional graphs built the way detection and segmentation code builds them: feature
maps collected in lists, heads built in loops over them, outputs nested in tuples,
helpers that return different structures on different paths. Each test pins whether the
BatchNormalization layers of the graph are found, through the rule that needs them."""

from __future__ import annotations

from bnlint.registry import all_rules
from bnlint.testing import lint_snippet

BLOCK = """
import tensorflow as tf

def conv_bn(x, filters):
    x = tf.keras.layers.Conv2D(filters, 3)(x)
    return tf.keras.layers.BatchNormalization()(x)
"""

VALIDATION = """
@tf.function
def test_step(images, net):
    return net(images, training=True)

for images in val_batches:
    test_step(images, model)
"""


def codes(code: str) -> list[tuple[str, int]]:
    return [(f.code, f.span.start.row) for f in lint_snippet(code, all_rules(), "auto")]


def validated(graph: str) -> list[tuple[str, int]]:
    """Findings on a model built by ``graph`` (which binds ``out`` from ``inputs``) and
    run in training mode by a validation step."""
    program = (BLOCK + "\ninputs = tf.keras.Input((32, 32, 3))\n" + graph.strip("\n")
               + "\nmodel = tf.keras.Model(inputs=inputs, outputs=out)\n" + VALIDATION)
    return [(code, row) for code, row in codes(program) if code == "BN108"]


APPENDED_IN_A_LOOP = """
feats = []
x = inputs
for stage in range(3):
    x = conv_bn(x, 8)
    feats.append(x)
"""


def test_feature_maps_appended_in_a_loop_and_indexed_keep_their_layers() -> None:
    found = validated(APPENDED_IN_A_LOOP + "out = tf.keras.layers.Conv2D(4, 1)(feats[2])\n")
    assert len(found) == 1


def test_feature_maps_appended_in_a_loop_and_unpacked_keep_their_layers() -> None:
    # `_, c4, c5 = feats`: which map is where is unknown, what lies behind all is kept
    found = validated(APPENDED_IN_A_LOOP
                      + "_, c4, c5 = feats\nout = tf.keras.layers.Conv2D(4, 1)(c5)\n")
    assert len(found) == 1


def test_feature_maps_remade_in_a_loop_keep_their_layers() -> None:
    # `maps = fpn(maps)` three times over: each pass reads the list the last one made,
    # and every map lies on the backbone's trunk
    found = validated("""
def fpn(maps, i):
    return [tf.keras.layers.Conv2D(8, 1)(m) for m in maps]

c3 = conv_bn(inputs, 8)
c4 = tf.keras.layers.Conv2D(8, 3)(c3)
maps = [c3, c4]
for i in range(3):
    maps = fpn(maps, i)
out = tf.keras.layers.Conv2D(4, 1)(maps[-1])
""")
    assert len(found) == 1


def test_heads_built_in_a_loop_over_feature_maps_join_the_graph() -> None:
    found = validated("""
maps = [conv_bn(inputs, 8), conv_bn(inputs, 16)]
out = []
for i, fmap in enumerate(maps):
    out.append(tf.sigmoid(tf.keras.layers.Conv2D(4, 1)(fmap)))
""")
    assert len(found) == 1


def test_outputs_nested_in_a_tuple_of_lists_are_read() -> None:
    found = validated("""
maps = [conv_bn(inputs, 8), conv_bn(inputs, 16)]
out = (maps, [tf.concat(maps, -1)])
""")
    assert len(found) == 1


def test_a_helper_returning_different_structures_per_path_keeps_the_shared_graph() -> None:
    found = validated("""
def decode(maps, training_outputs):
    boxes = [tf.sigmoid(fmap) for fmap in maps]
    raw = [tf.identity(maps[0]), tf.identity(maps[1])]
    if training_outputs:
        return maps, raw
    return maps

out = decode([conv_bn(inputs, 8), conv_bn(inputs, 16)], flag)
""")
    assert len(found) == 1


def test_a_graph_without_batchnorm_stays_clean_through_the_same_shapes() -> None:
    program = """
import tensorflow as tf
inputs = tf.keras.Input((32, 32, 3))
maps = [tf.keras.layers.Conv2D(8, 3)(inputs), tf.keras.layers.Conv2D(16, 3)(inputs)]
out = []
for fmap in maps:
    out.append(tf.keras.layers.Conv2D(4, 1)(fmap))
model = tf.keras.Model(inputs=inputs, outputs=(out, maps))
""" + VALIDATION
    assert codes(program) == []


def test_an_index_picks_only_the_layers_every_item_shares() -> None:
    # which map `maps[k]` is is unknown: BN only in the second branch is not claimed
    program = """
import tensorflow as tf
inputs = tf.keras.Input((32, 32, 3))
plain = tf.keras.layers.Conv2D(8, 3)(inputs)
normed = tf.keras.layers.BatchNormalization()(tf.keras.layers.Conv2D(8, 3)(inputs))
maps = [plain, normed]
out = tf.keras.layers.Dense(1)(maps[k])
model = tf.keras.Model(inputs, out)
model.compile(optimizer="adam", loss="mse")
model.fit(x, y, batch_size=1)
"""
    assert [code for code, _ in codes(program) if code == "BN401"] == []



def test_a_slice_of_a_list_of_outputs_keeps_the_sliced_heads() -> None:
    # `Model(img_input, rpn[:2])`: the first two heads of a helper's list are outputs
    program = """
import tensorflow as tf
inputs = tf.keras.Input((32, 32, 3))
plain = tf.keras.layers.Conv2D(8, 3)(inputs)
normed = tf.keras.layers.BatchNormalization()(tf.keras.layers.Conv2D(8, 3)(inputs))
heads = [{first}, plain, inputs]
model = tf.keras.Model(inputs, heads[:2])
model.compile(optimizer="adam", loss="mse")
model.fit(x, y, batch_size=1)
"""
    assert [row for code, row in codes(program.format(first="normed"))
            if code == "BN401"] == [9]
    assert [code for code, _ in codes(program.format(first="plain"))
            if code == "BN401"] == []


WRAPPED_CRITIC = """
import tensorflow as tf
import tensorflow_addons as tfa
from tensorflow.keras import layers


def conv(*args, **kwargs):
    return tfa.layers.SpectralNormalization(layers.Conv2D(*args, **kwargs))


def critic():
    inputs = tf.keras.Input((64, 64, 3))
    x = conv(32, 4, 2)(inputs)
    x = layers.{norm}()(x)
    pooled = tfa.layers.AdaptiveAveragePooling2D(4)(x)
    x = layers.Flatten()(x * tf.sigmoid(pooled))
    return tf.keras.Model(inputs, layers.Dense(1)(x))


model_d = critic()


@tf.function
def train_d(real, fake):
    alpha = tf.random.uniform((8, 1, 1, 1))
    interpolates = alpha * real + (1 - alpha) * fake
    with tf.GradientTape() as d_tape:
        with tf.GradientTape() as gp_tape:
            gp_tape.watch(interpolates)
            pred = model_d(interpolates, training=True)
            pred = tf.reduce_mean(pred)
        grads = gp_tape.gradient(pred, interpolates)
        norm = tf.sqrt(tf.reduce_sum(grads ** 2, axis=[1, 2, 3]))
        loss = tf.reduce_mean((norm - 1.0) ** 2)
    return loss
"""


def test_a_critic_of_wrapped_and_third_party_layers_keeps_its_batchnorm() -> None:
    # SpectralNormalization wraps the convolution, an Addons pooling layer lies between
    # BN and the output, and the penalty's target is the mean of the critic's output
    assert [row for code, row in codes(WRAPPED_CRITIC.format(norm="BatchNormalization"))
            if code == "BN403"] == [32]


def test_the_same_critic_with_layer_normalization_is_clean() -> None:
    assert [code for code, _ in codes(WRAPPED_CRITIC.format(norm="LayerNormalization"))
            if code == "BN403"] == []


LOOP_ARM = """
from keras.layers import Input, Conv2D, BatchNormalization, Flatten, Dense
from keras.models import Model


def critic(use_bn, n):
    inp = Input((32, 32, 3))
    x = inp
    for i in range(n):
        x = Conv2D(8, 3)(x)
        if {test}:
            x = BatchNormalization()(x)
    return Model(inp, Dense(1)(Flatten()(x)))


model = critic({flag}, 3)
model.compile("adam", "mse")
model.fit(x_train, y_train, batch_size=2)
"""


def test_batchnorm_on_an_arm_the_loop_takes_every_time_or_never_is_not_claimed() -> None:
    # `use_bn` is unknown and the same on every iteration: BN may not be there at all
    assert [code for code, _ in codes(LOOP_ARM.format(test="use_bn and i > 0", flag="flag"))
            if code == "BN401"] == []


def test_batchnorm_on_an_arm_some_iteration_takes_is_in_the_graph() -> None:
    for test, flag in (("i > 0", "flag"), ("use_bn and i > 0", "True"), ("use_bn", "True")):
        assert [row for code, row in codes(LOOP_ARM.format(test=test, flag=flag))
                if code == "BN401"] == [18], (test, flag)


def test_a_layer_of_an_unknown_library_keeps_the_graph_before_it() -> None:
    program = """
import tensorflow as tf
from attention_layers import ChannelAttention

inputs = tf.keras.Input((32, 32, 3))
x = tf.keras.layers.{norm}()(tf.keras.layers.Conv2D(8, 3)(inputs))
x = ChannelAttention(8)(x)
model = tf.keras.Model(inputs, tf.keras.layers.Dense(1)(tf.keras.layers.Flatten()(x)))
model.compile(optimizer="adam", loss="mse")
model.fit(x_train, y_train, batch_size=2)
"""
    assert [row for code, row in codes(program.format(norm="BatchNormalization"))
            if code == "BN401"] == [10]
    assert [code for code, _ in codes(program.format(norm="LayerNormalization"))
            if code == "BN401"] == []


def test_a_condition_on_an_outer_loop_or_on_a_list_the_loop_changes_varies() -> None:
    outer = LOOP_ARM.replace("    for i in range(n):\n", "    for i in range(n):\n"
                             "      for j in range(2):\n").replace(
        "        x = Conv2D(8, 3)(x)\n        if {test}:\n            x = BatchNormalization()(x)",
        "          x = Conv2D(8, 3)(x)\n          if {test}:\n"
        "              x = BatchNormalization()(x)")
    assert [code for code, _ in codes(outer.format(test="i > 0", flag="flag"))
            if code == "BN401"] == ["BN401"]
    changed = LOOP_ARM.replace("    x = inp\n", "    x = inp\n    done = []\n").replace(
        "            x = BatchNormalization()(x)",
        "            x = BatchNormalization()(x)\n        done.append(i)")
    assert [code for code, _ in codes(changed.format(test="not done", flag="flag"))
            if code == "BN401"] == ["BN401"]


def test_a_method_called_in_the_loop_does_not_make_its_object_vary() -> None:
    # the critic's BN hangs on `self.bn_momentum`; `self.activation()` changes nothing
    program = """
from keras.layers import Input, Conv2D, BatchNormalization, LeakyReLU, Flatten, Dense
from keras.models import Model


class Critic:
    def __init__(self, bn_momentum):
        self.bn_momentum = bn_momentum

    def activation(self):
        return LeakyReLU(0.2)

    def build(self):
        inp = Input((32, 32, 3))
        x = inp
        for i in range(3):
            x = Conv2D(8, 3)(x)
            if self.bn_momentum and i > 0:
                x = BatchNormalization(momentum=self.bn_momentum)(x)
            x = self.activation()(x)
        return Model(inp, Dense(1)(Flatten()(x)))


model = Critic({momentum}).build()
model.compile("adam", "mse")
model.fit(x_train, y_train, batch_size=2)
"""
    assert [code for code, _ in codes(program.format(momentum="momentum"))
            if code == "BN401"] == []
    assert [code for code, _ in codes(program.format(momentum="0.9"))
            if code == "BN401"] == ["BN401"]
