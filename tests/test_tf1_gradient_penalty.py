"""BN403 on TF1 graph code whose critic is a function of the project, built across
modules that reach each other through star imports (`from model import *`, which in
turn does `from utils import *`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bnlint.registry import all_rules
from bnlint.testing import lint_snippet

UTILS = """\
import tensorflow as tf

def bn(x, is_training, scope):
    return tf.contrib.layers.batch_norm(x, decay=0.9, updates_collections=None,
                                        is_training=is_training, scope=scope)

def linear(x, units, scope):
    return tf.layers.dense(x, units, name=scope)
"""

MODEL = """\
from utils import *

def discriminator(x, is_training=True, reuse=False):
    with tf.variable_scope("discriminator", reuse=reuse):
        net = tf.nn.leaky_relu({normalised})
        logits = linear(net, 1, scope="out")
        return tf.nn.sigmoid(logits), logits, net
"""

TRAIN = """\
from model import *

def train(inputs, perturbed):
    _, real_logits, _ = discriminator(inputs, is_training=True)
    interpolates = inputs + 0.5 * (perturbed - inputs)
    _, d_inter, _ = discriminator(interpolates, is_training=True, reuse=True)
    gradients = tf.gradients(d_inter, [interpolates])[0]
    slopes = tf.sqrt(tf.reduce_sum(tf.square(gradients), reduction_indices=[1]))
    loss = tf.reduce_mean(real_logits) + 10 * tf.reduce_mean((slopes - 1.0) ** 2)
    return tf.train.AdamOptimizer(1e-4).minimize(loss)
"""


def penalties(tmp_path: Path, normalised: str) -> list[dict[str, object]]:
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    (root / "utils.py").write_text(UTILS)
    (root / "model.py").write_text(MODEL.format(normalised=normalised))
    (root / "train.py").write_text(TRAIN)
    done = subprocess.run(
        [sys.executable, "-m", "bnlint", "--no-cache", "--format", "json", "--select",
         "BN403", "train.py"], cwd=root, capture_output=True, text=True, timeout=120,
        check=False)
    assert done.returncode in {0, 1}, done.stderr
    return list(json.loads(done.stdout))


def test_a_critic_built_in_other_modules_is_followed_to_its_batch_norm(tmp_path: Path) -> None:
    found = penalties(tmp_path, 'bn(linear(x, 1024, scope="fc"), is_training, scope="bn1")')
    assert [(item["filename"], item["location"]["row"]) for item in found] == [("train.py", 7)]
    assert "`discriminator`" in str(found[0]["message"])


def test_the_same_critic_without_batch_norm_is_not_reported(tmp_path: Path) -> None:
    assert penalties(tmp_path, 'linear(x, 1024, scope="fc")') == []


def test_a_critic_handed_inference_mode_is_not_reported(tmp_path: Path) -> None:
    assert penalties(tmp_path, 'bn(linear(x, 1024, scope="fc"), False, scope="bn1")') == []


GAN_CLASS = """
import tensorflow as tf

class GAN:
    def __init__(self, args):
        self.gan_type = args.gan_type

    def discriminator(self, x, is_training=True, reuse=False):
        with tf.variable_scope("discriminator", reuse=reuse):
            net = tf.layers.batch_normalization(tf.layers.dense(x, 256), training=is_training)
            return tf.layers.dense(tf.nn.leaky_relu(net), 1)

    def gradient_penalty(self, real, fake):
        interpolated = real + 0.5 * (fake - real)
        grad = tf.gradients(self.discriminator(interpolated, reuse=True), interpolated)[0]
        return tf.reduce_mean(tf.square(tf.norm(grad, axis=1) - 1.0))

    def build_model(self, real, fake):
        d_loss = tf.reduce_mean(self.discriminator(fake)) - tf.reduce_mean(
            self.discriminator(real, reuse=True))
{penalty}
        return tf.train.AdamOptimizer(1e-4).minimize(d_loss)
"""


def test_a_penalty_method_the_class_calls_is_judged_where_it_is_called() -> None:
    always = GAN_CLASS.format(
        penalty="        d_loss += 10 * self.gradient_penalty(real, fake)")
    found = [f for f in lint_snippet(always, all_rules(), "auto") if f.code == "BN403"]
    assert [f.span.start.row for f in found] == [15]
    # called only for `--gan_type wgan-gp`: the method is not replayed on its own as if
    # every run called it; the finding holds on that path, and says so
    sometimes = GAN_CLASS.format(
        penalty="        if self.gan_type == 'wgan-gp':\n"
                "            d_loss += 10 * self.gradient_penalty(real, fake)")
    found = [f for f in lint_snippet(sometimes, all_rules(), "auto") if f.code == "BN403"]
    assert [f.span.start.row for f in found] == [15]
    assert [note.message for note in found[0].related][-1] == (
        "when `self.gan_type == 'wgan-gp'` is true")


def test_a_graph_built_under_the_default_run_mode_is_read_on_that_path() -> None:
    # `train()` runs when `--mode train`, the default: its penalty is a finding there
    code = GAN_CLASS.format(penalty="        d_loss += 10 * self.gradient_penalty(real, fake)")
    script = code + """

def train(args):
    gan = GAN(args)
    return gan.build_model(tf.placeholder(tf.float32, [64, 8]),
                           tf.placeholder(tf.float32, [64, 8]))

if __name__ == "__main__":
    import argparse
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", default="{mode}")
    args = parser.parse_args()
    if args.mode == "train":
        train(args)
"""
    rows = [f.span.start.row for f in lint_snippet(script.replace("{mode}", "train"),
                                                    all_rules(), "auto") if f.code == "BN403"]
    assert rows == [15]
