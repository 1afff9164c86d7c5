"""GAN code written as the DCGAN ports of PyTorch write it: networks that are `tf.Module`s
or subclasses chaining `super().__init__` to a parent of the project, a generator step
that also takes a gradient norm on the generator's images, one network module stepped
from two training steps. Each test pins what BN107 reports."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bnlint.registry import all_rules
from bnlint.testing import lint_snippet

NETWORKS = """
import tensorflow as tf
from tensorflow.keras import layers


class Generator({base}):
    def __init__(self, z_dim, size=4):
        super().__init__()
        self.size = size
        self.linear = layers.Dense(size * size * 64)
        self.main = tf.keras.Sequential([
            layers.BatchNormalization(),
            layers.ReLU(),
            layers.Conv2DTranspose(3, 3, padding="same", activation="tanh"),
        ])

    def {method}(self, z, *args, **kwargs):
        x = self.linear(z)
        x = tf.reshape(x, [-1, self.size, self.size, 64])
        return self.main(x)


class Generator64(Generator):
    def __init__(self, z_dim, *args):
        super().__init__(z_dim, size=8)


class Critic(tf.keras.Model):
    def __init__(self):
        super().__init__()
        self.main = tf.keras.Sequential([layers.Flatten(), layers.Dense(1)])

    def call(self, x):
        return self.main(x)
"""
STEP = """

net_G = Generator64(128)
net_D = Critic()
optim_G = tf.keras.optimizers.Adam(2e-4)


@tf.function
def train_G_step():
    z = tf.random.normal((64, 128))
    with tf.GradientTape() as gen_tape, tf.GradientTape() as gn_tape:
        fake = net_G(z)
        gn_tape.watch({watched})
        y = net_D(fake)
        grad = gn_tape.gradient(y, {watched})
        loss = tf.reduce_mean(y / (tf.norm(grad) + tf.abs(y)))
    grads = gen_tape.gradient(loss, net_G.trainable_variables)
    optim_G.apply_gradients(zip(grads, net_G.trainable_variables))


for step in range(1000):
    train_G_step()
"""
KERAS_MODEL = {"base": "tf.keras.Model", "method": "call"}
TF_MODULE = {"base": "tf.Module", "method": "__call__"}


def rows(code: str) -> list[int]:
    found = lint_snippet(textwrap.dedent(code), list(all_rules()))
    return [f.span.start.row for f in found if f.code == "BN107"]


def generator_step_rows(networks: dict[str, str], watched: str = "fake") -> list[int]:
    code = NETWORKS.format(**networks) + STEP.format(watched=watched)
    return rows(code)


@pytest.mark.parametrize("networks", [KERAS_MODEL, TF_MODULE], ids=["keras-model", "tf-module"])
def test_a_subclass_builds_through_its_parents_constructor(networks: dict[str, str]) -> None:
    # `Generator64.__init__` runs `Generator.__init__` (`super().__init__(z_dim, size=8)`):
    # the generator holds the BatchNormalization, and the step runs it in inference mode
    # (reported at the model's call; a `tf.Module` is no model, so at its layers' call)
    code = textwrap.dedent(NETWORKS.format(**networks) + STEP.format(watched="fake"))
    called = "        fake = net_G(z)" if networks is KERAS_MODEL else "        return self.main(x)"
    assert generator_step_rows(networks) == [code.splitlines().index(called) + 1]


def test_a_gradient_norm_on_the_generators_images_does_not_hide_its_step() -> None:
    # the gradient with respect to `fake` is taken after the generator ran: a tape on its
    # outputs says nothing of its mode. A tape on the critic's input still does
    # (gradient penalties call the critic on interpolated images on purpose)
    assert generator_step_rows(KERAS_MODEL, watched="fake")
    assert generator_step_rows(KERAS_MODEL, watched="z") == []


def test_a_tf_module_collects_the_variables_of_the_layers_it_holds() -> None:
    code = NETWORKS.format(**TF_MODULE) + STEP.format(watched="fake")
    assert generator_step_rows(TF_MODULE)
    # gradients with respect to something else (the critic's variables) train no
    # generator
    other = code.replace("gen_tape.gradient(loss, net_G.trainable_variables)",
                         "gen_tape.gradient(loss, net_D.trainable_variables)")
    assert rows(other) == []


def two_step_project(tmp_path: Path, generator_call: str = "net_G(z)") -> list[dict]:
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    (root / "models").mkdir()
    (root / "models" / "dcgan.py").write_text(textwrap.dedent(NETWORKS.format(**TF_MODULE)))
    (root / "train.py").write_text(textwrap.dedent("""\
        import tensorflow as tf
        from models import dcgan

        net_G = dcgan.Generator64(128)
        net_D = dcgan.Critic()
        optim_D = tf.keras.optimizers.Adam(2e-4)
        optim_G = tf.keras.optimizers.Adam(2e-4)


        @tf.function
        def train_D_step(real):
            z = tf.random.normal((64, 128))
            with tf.GradientTape() as tape:
                fake = tf.stop_gradient(net_G(z))
                loss = tf.reduce_mean(net_D(fake)) - tf.reduce_mean(net_D(real))
            grads = tape.gradient(loss, net_D.trainable_variables)
            optim_D.apply_gradients(zip(grads, net_D.trainable_variables))


        @tf.function
        def train_G_step():
            z = tf.random.normal((64, 128))
            with tf.GradientTape() as tape:
                loss = -tf.reduce_mean(net_D({generator_call}))
            grads = tape.gradient(loss, net_G.trainable_variables)
            optim_G.apply_gradients(zip(grads, net_G.trainable_variables))


        for real in dataset:
            train_D_step(real)
            train_G_step()
        """).replace("{generator_call}", generator_call))
    done = subprocess.run(
        [sys.executable, "-m", "bnlint", "--no-cache", "--format", "json", "--select",
         "BN107", "train.py"], cwd=root, capture_output=True, text=True, timeout=120,
        check=False)
    assert done.returncode == 1, done.stderr
    return list(json.loads(done.stdout))


def test_a_step_in_another_module_is_reported_at_the_call_that_trains(tmp_path: Path) -> None:
    # one network module, stepped by the discriminator step (no gradient of the
    # generator) and then by the generator step: the finding is at the generator step's
    # call
    (finding,) = two_step_project(tmp_path)
    assert finding["filename"] == "train.py"
    assert finding["location"] == {"row": 24, "column": 38}
    assert finding["message"].startswith("`self.main` is called with no `training=`")
    assert {note["filename"] for note in finding["related"]} == {"train.py", "models/dcgan.py"}


FROZEN_THROUGH_PARENT = """
import tensorflow as tf
from tensorflow.keras import layers


class Backbone(tf.keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.conv = layers.Conv2D(16, 3)
        self.bn = layers.BatchNormalization()

    def call(self, x, training=None):
        return self.bn(self.conv(x), training=training)


class FrozenBackbone(Backbone):
    def __init__(self, **kwargs):
        super().__init__({flag}**kwargs)


backbone = FrozenBackbone()
opt = tf.keras.optimizers.Adam()
with tf.GradientTape() as tape:
    loss = tf.reduce_mean(backbone(x))
grads = tape.gradient(loss, backbone.trainable_variables)
opt.apply_gradients(zip(grads, backbone.trainable_variables))
"""


def test_a_flag_handed_to_the_parents_constructor_builds_the_model_with_it() -> None:
    # the parent hands `trainable=False` on to Keras: a frozen backbone runs its BN in
    # inference mode and has no trainable weights, so the plain call is right
    assert rows(FROZEN_THROUGH_PARENT.format(flag="trainable=False, ")) == []
    assert rows(FROZEN_THROUGH_PARENT.format(flag=""))


def test_a_tf_module_that_lists_its_own_variables_is_taken_at_its_word() -> None:
    code = NETWORKS.format(**TF_MODULE).replace(
        "    def __call__(self, z, *args, **kwargs):",
        "    @property\n    def trainable_variables(self):\n"
        "        return self.linear.trainable_variables\n\n"
        "    def __call__(self, z, *args, **kwargs):") + STEP.format(watched="fake")
    # only the Dense layer's variables are trained: the BN Sequential is not
    assert rows(code) == []


NESTED_MODULES = """
import tensorflow as tf
from tensorflow.keras import layers


class Block(tf.Module):
    def __init__(self):
        super().__init__()
        self.main = tf.keras.Sequential([layers.BatchNormalization(), layers.ReLU()])

    def __call__(self, x):
        return self.main(x)


class Generator(tf.Module):
    def __init__(self):
        super().__init__()
        self.linear = layers.Dense(64)
        self.{held}

    def __call__(self, z):
        return self.{call}(self.linear(z))


net_G = Generator()
optim_G = tf.keras.optimizers.Adam(2e-4)
with tf.GradientTape() as tape:
    loss = tf.reduce_mean(net_G(z))
grads = tape.gradient(loss, net_G.trainable_variables)
optim_G.apply_gradients(zip(grads, net_G.trainable_variables))
"""


@pytest.mark.parametrize(("held", "call"), [
    ("block = Block()", "block"),
    ('parts = {"norm": tf.keras.Sequential([layers.BatchNormalization()])}',
     'parts["norm"]'),
], ids=["nested-module", "dict"])
def test_a_tf_module_collects_nested_modules_and_dicts(held: str, call: str) -> None:
    # `tf.Module` walks its attributes, lists, dicts and the modules it holds
    assert rows(NESTED_MODULES.format(held=held, call=call))


def test_a_training_flag_the_called_code_drops_is_named(tmp_path: Path) -> None:
    # `net_G(z, training=True)`, but `Generator.__call__(self, z, *args, **kwargs)` never
    # hands it to `self.main`: the message says so instead of asking for `training=True`
    (finding,) = two_step_project(tmp_path, "net_G(z, training=True)")
    assert finding["location"]["row"] == 24
    assert "(the `training=` given to `net_G(...)` does not reach it)" in finding["message"]
    assert "pass `training` on to it" in finding["message"]


CUSTOM_COMPILE = """
import tensorflow as tf
from tensorflow import keras


class GAN(keras.Model):
    def __init__(self, discriminator, generator, latent_dim, *args, **kwargs):
        super(GAN, self).__init__(*args, **kwargs)
        self.discriminator = discriminator
        self.generator = generator
        self.latent_dim = latent_dim

    def {compile}(self, d_optimizer, g_optimizer, loss_fn, *args, **kwargs):
        super(GAN, self).compile(*args, **kwargs)
        self.g_optimizer = g_optimizer
        self.loss_fn = loss_fn

    def train_step(self, real_images):
        z = tf.random.normal(shape=(tf.shape(real_images)[0], self.latent_dim))
        with tf.GradientTape() as tape:
            predictions = self.discriminator(self.generator(z))
            g_loss = self.loss_fn(tf.zeros_like(predictions), predictions)
        grads = tape.gradient(g_loss, self.generator.trainable_weights)
        self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights))
        return {{"g_loss": g_loss}}


generator = keras.Sequential([keras.layers.Dense(16), keras.layers.BatchNormalization(),
                              keras.layers.Dense(28)])
discriminator = keras.Sequential([keras.layers.Dense(16), keras.layers.Dense(1)])
gan = GAN(discriminator=discriminator, generator=generator, latent_dim=128)
gan.{compile}(d_optimizer=keras.optimizers.Adam(1e-4), g_optimizer=keras.optimizers.Adam(1e-4),
              loss_fn=keras.losses.BinaryCrossentropy(from_logits=True))
gan.fit(dataset, epochs=200)
"""


@pytest.mark.parametrize("name", ["compile", "compileM"])
def test_a_compile_method_of_another_name_compiles_through_super(name: str) -> None:
    # `compileM` ends in `super().compile(...)`: Keras compiles the GAN, whose fit runs
    # the step, and the generator's call in it is a training step
    assert rows(CUSTOM_COMPILE.format(compile=name)) == [21]
