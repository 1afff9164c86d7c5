"""BN403 bn-in-gradient-penalty-critic."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bnlint.rule import Report, Rule, RuleContext
from bnlint.semantic.events import Event
from bnlint.semantic.model import SemanticModel
from bnlint.semantic.names import GRAPH_GRADIENTS
from bnlint.semantic.values import Layer, ListValue, Tape, Tensor
from bnlint.semantic.walk import run_visitor

from ._arguments import argument, keyword
from ._graph_critics import graph_penalties, graph_report
from ._penalty_syntax import (
    Functions,
    assigned_call,
    keyword_or_position,
    norm_taken_of,
    parameters,
)

if TYPE_CHECKING:
    import libcst as cst
else:
    from bnlint.lazy import libcst as cst


# TF1 code training a critic whose BN mode is a placeholder, fed per run.
_TF1_FEEDS = """
import tensorflow as tf
def discriminator(x, is_training, reuse=False):
    with tf.variable_scope("dis", reuse=reuse):
        net = tf.layers.batch_normalization(tf.layers.dense(x, 256), training=is_training)
        return tf.layers.dense(tf.nn.leaky_relu(net), 1)
def train(real, fake, batches):
    is_training = tf.placeholder(tf.bool)
    interp = real + 0.5 * (fake - real)
    grads = tf.gradients(discriminator(interp, is_training, reuse=True), [interp])[0]
    slopes = tf.sqrt(tf.reduce_sum(tf.square(grads), axis=[1]))
    d_loss = tf.reduce_mean((slopes - 1.0) ** 2)
    d_optim = tf.train.AdamOptimizer(1e-4).minimize(d_loss)
    sess = tf.Session()
    for batch in batches:
        sess.run([d_optim, d_loss], feed_dict={real: batch, is_training: {trains}})
    stats = sess.run(slopes, feed_dict={is_training: {samples}})
"""


@dataclass(frozen=True, slots=True)
class _Critic:
    layer: Layer
    call: cst.CSTNode


class BnInGradientPenaltyCritic(Rule):
    """## What it does
    Flags a gradient penalty (WGAN-GP style) computed through a critic that contains
    trainable BatchNormalization running in training mode: `tape.gradient(critic(x,
    training=True), x)` with respect to watched input tensors, in a function that also
    takes the norm of those gradients (`tf.norm`, `tf.sqrt(tf.reduce_sum(tf.square(g)))`,
    also with a small constant under the root, `tf.sqrt(... + 1e-12)`, and with the
    steps bound to names).

    It also knows the Keras 2 recipe: a loss `gradient_penalty_loss(y_true, y_pred,
    averaged_samples)` that takes the norm of `K.gradients(y_pred, averaged_samples)[0]`,
    bound with `partial(gradient_penalty_loss, averaged_samples=x)` (or a closure
    `gradient_penalty_loss(x)`) where the critic is called on the same `x` without
    `training=False`.

    And TF1 graph code: `tf.gradients(critic(x, ...), [x])` whose norm is taken, where
    the critic is a function (or a method of the same class) of the project that builds
    `tf.layers.batch_normalization`, `tf.contrib.layers.batch_norm` or
    `slim.batch_norm` in training mode (`training=True`, contrib's default
    `is_training=True`, or a boolean placeholder that the `feed_dict`s of the function
    calling the critic feed `True`: those of the runs that train, when they can be
    told from the ones that sample).

    ## Why is this bad?
    The penalty constrains the gradient of the critic's output *for each sample* with
    respect to *that sample's* input. In training mode BatchNormalization normalises
    every sample with the mean and variance of the whole batch, so each output depends on
    all inputs of the batch and the per-sample gradient norm is no longer the quantity
    the penalty is meant to bound. The WGAN-GP paper (Gulrajani et al. 2017, section 4)
    therefore drops batch normalisation from the critic and recommends layer
    normalisation.

    ## Example
    ```python
    critic = keras.Sequential([layers.Conv2D(64, 4, strides=2),
                               layers.BatchNormalization(), layers.LeakyReLU(),
                               layers.Flatten(), layers.Dense(1)])
    with tf.GradientTape() as tape:
        tape.watch(interpolated)
        pred = critic(interpolated, training=True)
    grads = tape.gradient(pred, interpolated)
    norm = tf.sqrt(tf.reduce_sum(tf.square(grads), axis=[1, 2, 3]))
    ```

    ## Use instead
    ```python
    critic = keras.Sequential([layers.Conv2D(64, 4, strides=2),
                               layers.LayerNormalization(), layers.LeakyReLU(),
                               layers.Flatten(), layers.Dense(1)])
    ```

    ## Fix safety
    No automatic fix: the normalisation layer changes the model.

    ## References
    - Gulrajani et al., "Improved Training of Wasserstein GANs" (2017), section 4
    - keras-io example "WGAN-GP overriding `Model.train_step`" (its critic has no BN)
    """

    code = "BN403"
    name = "bn-in-gradient-penalty-critic"
    severity = "warning"
    reads_program = True
    summary = "BatchNormalization in a critic trained with a per-sample gradient penalty"
    needles = (b"gradient",)
    flagged = (
        """
        import tensorflow as tf
        from tensorflow import keras
        from tensorflow.keras import layers
        critic = keras.Sequential([layers.Conv2D(64, 4, strides=2), layers.BatchNormalization(),
                                   layers.LeakyReLU(), layers.Flatten(), layers.Dense(1)])
        def gradient_penalty(real, fake):
            alpha = tf.random.uniform([tf.shape(real)[0], 1, 1, 1])
            interpolated = real + alpha * (fake - real)
            with tf.GradientTape() as tape:
                tape.watch(interpolated)
                pred = critic(interpolated, training=True)
            grads = tape.gradient(pred, [interpolated])[0]
            norm = tf.sqrt(tf.reduce_sum(tf.square(grads), axis=[1, 2, 3]))
            return tf.reduce_mean((norm - 1.0) ** 2)
        """,
        """
        import keras
        import tensorflow as tf
        from keras.layers import BatchNormalization as BN
        def make_critic():
            inputs = keras.Input((28, 28, 1))
            x = keras.layers.Conv2D(32, 3)(inputs)
            x = BN()(x)
            x = keras.layers.Flatten()(x)
            return keras.Model(inputs, keras.layers.Dense(1)(x))
        class WGAN(keras.Model):
            def __init__(self, discriminator, generator):
                super().__init__()
                self.discriminator = discriminator
                self.generator = generator
            def gradient_penalty(self, real, fake):
                interpolated = real + 0.5 * (fake - real)
                with tf.GradientTape() as gp_tape:
                    gp_tape.watch(interpolated)
                    pred = self.discriminator(interpolated, training=True)
                grads = gp_tape.gradient(pred, [interpolated])[0]
                norm = tf.norm(grads, axis=1)
                return tf.reduce_mean((norm - 1.0) ** 2)
        wgan = WGAN(discriminator=make_critic(), generator=None)
        """,
        """
        import tf_keras
        import tensorflow as tf
        D = tf_keras.Sequential([tf_keras.layers.Dense(128), tf_keras.layers.BatchNormalization(),
                                 tf_keras.layers.Dense(1)])
        def train_step(real, fake, eps):
            x_hat = eps * real + (1 - eps) * fake
            with tf.GradientTape() as t:
                t.watch(x_hat)
                d_hat = D(x_hat, training=True)
            g = t.gradient(d_hat, x_hat)
            slopes = tf.math.sqrt(tf.math.reduce_sum(g ** 2, axis=1))
            return tf.reduce_mean((slopes - 1.0) ** 2)
        """,
        # a small constant under the root keeps the gradient of sqrt finite
        """
        import tensorflow as tf
        from tensorflow import keras
        from tensorflow.keras import layers
        critic = keras.Sequential([layers.Dense(128), layers.BatchNormalization(),
                                   layers.Dense(1)])
        def gradient_penalty(real, fake):
            interpolated = real + 0.5 * (fake - real)
            with tf.GradientTape() as tape:
                tape.watch(interpolated)
                pred = critic(interpolated, training=True)
            grads = tape.gradient(pred, interpolated)
            norm = tf.sqrt(tf.reduce_sum(tf.square(grads), axis=[1]) + 1e-12)
            return tf.reduce_mean((norm - 1.0) ** 2)
        """,
        # the Keras 2 recipe (keras-contrib improved_wgan): K.gradients inside a loss
        """
        from functools import partial
        import numpy as np
        from keras import backend as K
        from keras.models import Model, Sequential
        from keras.layers import Input, Dense, BatchNormalization, LeakyReLU
        def gradient_penalty_loss(y_true, y_pred, averaged_samples, weight):
            gradients = K.gradients(y_pred, averaged_samples)[0]
            gradients_sqr = K.square(gradients)
            gradients_sqr_sum = K.sum(gradients_sqr, axis=np.arange(1, len(gradients_sqr.shape)))
            gradient_l2_norm = K.sqrt(gradients_sqr_sum)
            return K.mean(weight * K.square(1 - gradient_l2_norm))
        discriminator = Sequential([Dense(512, input_dim=784), BatchNormalization(),
                                    LeakyReLU(), Dense(1)])
        real_samples = Input(shape=(784,))
        averaged_samples = RandomWeightedAverage()([real_samples, fake_samples])
        averaged_samples_out = discriminator(averaged_samples)
        partial_gp_loss = partial(gradient_penalty_loss, averaged_samples=averaged_samples,
                                  weight=10)
        """,
        # the same with the penalty as a method and a closure-free partial of it
        """
        from functools import partial
        from keras import backend as K
        from keras.models import Model, Sequential
        from keras.layers import Input, Dense, BatchNormalization
        class WGANGP:
            def __init__(self):
                self.critic = Sequential([Dense(64, input_dim=8), BatchNormalization(),
                                          Dense(1)])
                real_img = Input(shape=(8,))
                interpolated_img = RandomWeightedAverage()([real_img, fake_img])
                validity_interpolated = self.critic(interpolated_img)
                self.loss = partial(self.gradient_penalty_loss,
                                    averaged_samples=interpolated_img)
            def gradient_penalty_loss(self, y_true, y_pred, averaged_samples):
                gradients = K.gradients(y_pred, averaged_samples)[0]
                norm = K.sqrt(K.sum(K.square(gradients), axis=1) + K.epsilon())
                return K.mean(K.square(1 - norm))
        gan = WGANGP()
        """,
        """
        import tensorflow as tf
        from tensorflow.keras import layers, Sequential
        disc = Sequential([layers.Dense(64), layers.BatchNormalization(), layers.Dense(1)])
        def penalty(critic, real, fake):
            mixed = 0.5 * real + 0.5 * fake
            with tf.GradientTape() as tape:
                tape.watch(mixed)
                score = critic(mixed, training=True)
            grad = tape.gradient(score, mixed)
            return tf.reduce_mean((tf.norm(grad, axis=-1) - 1.0) ** 2)
        gp = penalty(disc, real_batch, fake_batch)
        """,
        # TF1 graph code: the critic function builds tf.layers BN with a placeholder
        # that training feeds True
        """
        import tensorflow as tf
        def discriminator(images, is_train, reuse=False):
            with tf.variable_scope("dis", reuse=reuse):
                net = tf.layers.conv2d(images, 64, 4, strides=2)
                net = tf.layers.batch_normalization(net, training=is_train)
                return tf.layers.dense(tf.layers.flatten(net), 1)
        def train(real, fake):
            alpha = tf.placeholder(tf.float32, [None, 1, 1, 1])
            is_train = tf.placeholder(tf.bool, name="is_train")
            interpolates = real + alpha * (fake - real)
            gradients = tf.gradients(discriminator(interpolates, is_train, reuse=True),
                                     [interpolates])[0]
            slopes = tf.sqrt(tf.reduce_sum(tf.square(gradients), reduction_indices=[1]))
            d_loss = tf.reduce_mean((slopes - 1.0) ** 2)
            with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
                step = tf.train.AdamOptimizer(1e-4).minimize(d_loss)
            sess = tf.Session()
            sess.run(step, feed_dict={alpha: 0.5, is_train: True})
        """,
        # contrib batch_norm through a helper (is_training defaults to True, and is
        # handed True here), the output unpacked from the critic's results
        """
        import tensorflow as tf
        def bn(x, is_training, scope):
            return tf.contrib.layers.batch_norm(x, updates_collections=None,
                                                is_training=is_training, scope=scope)
        def discriminator(x, is_training=True, reuse=False):
            with tf.variable_scope("discriminator", reuse=reuse):
                net = bn(tf.layers.dense(x, 1024), is_training=is_training, scope="bn1")
                logits = tf.layers.dense(tf.nn.leaky_relu(net), 1)
                return tf.nn.sigmoid(logits), logits, net
        def build(inputs, perturbed):
            interpolates = inputs + 0.5 * (perturbed - inputs)
            _, d_inter, _ = discriminator(interpolates, is_training=True, reuse=True)
            gradients = tf.gradients(d_inter, [interpolates])[0]
            slopes = tf.sqrt(tf.reduce_sum(tf.square(gradients), reduction_indices=[1]))
            return tf.reduce_mean((slopes - 1.0) ** 2)
        """,
        # TF1: a method of the GAN class as the critic, slim's batch norm handed True
        """
        import tensorflow as tf
        slim = tf.contrib.slim
        class WGAN_GP(object):
            def critic(self, x, is_training=False, reuse=False):
                with tf.variable_scope("critic", reuse=reuse):
                    net = slim.batch_norm(slim.fully_connected(x, 64), is_training=is_training)
                    return slim.fully_connected(net, 1)
            def penalty(self, real, fake):
                interp = real + 0.5 * (fake - real)
                g = tf.gradients(self.critic(interp, is_training=True, reuse=True), [interp])[0]
                return tf.reduce_mean((tf.norm(g, axis=1) - 1.0) ** 2)
        """,
        # TF1: the placeholder is fed True where the critic trains, False for samples
        _TF1_FEEDS.replace("{trains}", "True").replace("{samples}", "False"),
    )
    not_flagged = (
        """
        import tensorflow as tf
        from tensorflow import keras
        from tensorflow.keras import layers
        critic = keras.Sequential([layers.Conv2D(64, 4, strides=2), layers.LayerNormalization(),
                                   layers.LeakyReLU(), layers.Flatten(), layers.Dense(1)])
        def gradient_penalty(real, fake):
            interpolated = real + 0.5 * (fake - real)
            with tf.GradientTape() as tape:
                tape.watch(interpolated)
                pred = critic(interpolated, training=True)
            grads = tape.gradient(pred, [interpolated])[0]
            norm = tf.sqrt(tf.reduce_sum(tf.square(grads), axis=[1, 2, 3]))
            return tf.reduce_mean((norm - 1.0) ** 2)
        """,
        """
        import tensorflow as tf
        from tensorflow import keras
        from tensorflow.keras import layers
        generator = keras.Sequential([layers.Dense(128), layers.BatchNormalization(),
                                      layers.Dense(784)])
        critic = keras.Sequential([layers.Dense(128), layers.Dense(1)])
        def gradient_penalty(real, fake):
            interpolated = real + 0.5 * (fake - real)
            with tf.GradientTape() as tape:
                tape.watch(interpolated)
                pred = critic(interpolated, training=True)
            grads = tape.gradient(pred, interpolated)
            return tf.reduce_mean((tf.norm(grads, axis=1) - 1.0) ** 2)
        """,
        """
        import tensorflow as tf
        from tensorflow import keras
        from tensorflow.keras import layers
        critic = keras.Sequential([layers.Dense(128), layers.BatchNormalization(),
                                   layers.Dense(1)])
        def train_step(x):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(critic(x, training=True))
            grads = tape.gradient(loss, critic.trainable_variables)
            norm = tf.linalg.global_norm(grads)
            return grads, norm
        """,
        """
        import tensorflow as tf
        from tensorflow import keras
        from tensorflow.keras import layers
        critic = keras.Sequential([layers.Dense(128), layers.BatchNormalization(),
                                   layers.Dense(1)])
        def saliency(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                pred = critic(x, training=False)
            grads = tape.gradient(pred, x)
            return tf.norm(grads, axis=1)
        """,
        """
        import tensorflow as tf
        from tensorflow import keras
        from tensorflow.keras import layers
        critic = keras.Sequential([layers.Dense(128), layers.BatchNormalization(),
                                   layers.Dense(1)])
        def input_gradient(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                pred = critic(x, training=True)
            return tape.gradient(pred, x)
        """,
        # the Keras 2 recipe with BN only in the generator
        """
        from functools import partial
        from keras import backend as K
        from keras.models import Sequential
        from keras.layers import Input, Dense, BatchNormalization, LeakyReLU
        def gradient_penalty_loss(y_true, y_pred, averaged_samples):
            gradients = K.gradients(y_pred, averaged_samples)[0]
            norm = K.sqrt(K.sum(K.square(gradients), axis=1))
            return K.mean(K.square(1 - norm))
        generator = Sequential([Dense(128, input_dim=100), BatchNormalization(), Dense(784)])
        discriminator = Sequential([Dense(512, input_dim=784), LeakyReLU(), Dense(1)])
        noise = Input(shape=(100,))
        fake_samples = generator(noise)
        averaged_samples = RandomWeightedAverage()([real_samples, fake_samples])
        averaged_out = discriminator(averaged_samples)
        gp_loss = partial(gradient_penalty_loss, averaged_samples=averaged_samples)
        """,
        # K.gradients with respect to the weights (gradient-norm monitoring), not inputs
        """
        from keras import backend as K
        from keras.models import Sequential
        from keras.layers import Dense, BatchNormalization
        critic = Sequential([Dense(64, input_dim=8), BatchNormalization(), Dense(1)])
        def gradient_norm(y_true, y_pred):
            grads = K.gradients(K.mean(y_pred), critic.trainable_weights)
            return K.sqrt(K.sum(K.square(grads[0])) + K.epsilon())
        """,
        # TF1: `tf.layers.batch_normalization` without `training=` runs in inference mode
        """
        import tensorflow as tf
        def discriminator(images, reuse=False):
            with tf.variable_scope("dis", reuse=reuse):
                net = tf.layers.batch_normalization(tf.layers.conv2d(images, 64, 4))
                return tf.layers.dense(tf.layers.flatten(net), 1)
        def penalty(real, fake):
            interpolates = real + 0.5 * (fake - real)
            gradients = tf.gradients(discriminator(interpolates, reuse=True), [interpolates])[0]
            slopes = tf.sqrt(tf.reduce_sum(tf.square(gradients), reduction_indices=[1]))
            return tf.reduce_mean((slopes - 1.0) ** 2)
        """,
        # TF1: the placeholder is fed False as well as True (which way the penalty's step
        # runs is not known), and the critic's call is handed `False` here
        """
        import tensorflow as tf
        def discriminator(images, is_train, reuse=False):
            with tf.variable_scope("dis", reuse=reuse):
                net = tf.layers.batch_normalization(tf.layers.conv2d(images, 64, 4),
                                                    training=is_train)
                return tf.layers.dense(tf.layers.flatten(net), 1)
        def train(real, fake):
            is_train = tf.placeholder(tf.bool)
            interpolates = real + 0.5 * (fake - real)
            gradients = tf.gradients(discriminator(interpolates, is_train, reuse=True),
                                     [interpolates])[0]
            held = tf.gradients(discriminator(interpolates, False, reuse=True), [interpolates])
            slopes = tf.sqrt(tf.reduce_sum(tf.square(gradients), reduction_indices=[1]))
            loss = tf.reduce_mean((slopes - 1.0) ** 2)
            sess = tf.Session()
            sess.run(loss, feed_dict={is_train: True})
            sess.run(loss, feed_dict={is_train: False})
        """,
        # TF1: the norm taken is a weight's, not the gradient's (a saliency map)
        """
        import tensorflow as tf
        def discriminator(x, reuse=False):
            with tf.variable_scope("dis", reuse=reuse):
                net = tf.layers.batch_normalization(tf.layers.dense(x, 1024), training=True)
                return tf.layers.dense(tf.nn.leaky_relu(net), 1)
        def saliency(images):
            grads = tf.gradients(discriminator(images), [images])[0]
            tf.summary.scalar("weight_norm", tf.norm(tf.trainable_variables()[0]))
            return tf.abs(grads)
        """,
        # TF1: the critic's placeholder is fed False (positionally); the `True` fed in
        # another function is another placeholder of the same name
        """
        import tensorflow as tf
        def discriminator(x, is_train, reuse=False):
            with tf.variable_scope("dis", reuse=reuse):
                net = tf.layers.batch_normalization(tf.layers.dense(x, 1024), training=is_train)
                return tf.layers.dense(net, 1)
        def gp_value(real, fake, sess):
            is_train = tf.placeholder(tf.bool)
            interp = real + 0.5 * (fake - real)
            gradients = tf.gradients(discriminator(interp, is_train, reuse=True), [interp])[0]
            slopes = tf.sqrt(tf.reduce_sum(tf.square(gradients), axis=[1]))
            return sess.run(tf.reduce_mean((slopes - 1.0) ** 2), {is_train: False})
        def classifier_step(x, y, sess):
            is_train = tf.placeholder(tf.bool)
            h = tf.layers.dropout(tf.layers.dense(x, 10), training=is_train)
            loss = tf.losses.softmax_cross_entropy(y, h)
            sess.run(tf.train.AdamOptimizer().minimize(loss), feed_dict={is_train: True})
        """,
        # TF1: the critic trains with the placeholder fed False (its BN in inference
        # mode); True is fed only where nothing trains
        _TF1_FEEDS.replace("{trains}", "False").replace("{samples}", "True"),
        # an input gradient for a saliency map; the norm taken is a weight's
        """
        import tensorflow as tf
        from tensorflow import keras
        critic = keras.Sequential([keras.layers.Dense(64), keras.layers.BatchNormalization(),
                                   keras.layers.Dense(1)])
        def saliency(images):
            with tf.GradientTape() as tape:
                tape.watch(images)
                score = critic(images, training=True)
            grads = tape.gradient(score, images)
            tf.summary.scalar("kernel_norm", tf.norm(critic.layers[0].kernel))
            return tf.abs(grads)
        """,
    )

    def check(self, ctx: RuleContext) -> Iterator[Report]:
        model = ctx.model
        names = {id(call.node): call.name for call in model.calls if call.name is not None}
        scopes: _Scopes | None = None
        functions = Functions(model.module)
        seen: set[int] = set()
        for event in model.events_of("gradient"):
            node = event.node
            if id(node) in seen or not isinstance(node, cst.Call):
                continue
            if event.sources_are_variables is True or not _sources_are_inputs(model, event):
                continue
            if not _computes_norm(model, event, names, functions):
                continue
            critic = _critic_from_history(model, event)
            if critic is None:
                if scopes is None:
                    scopes = _Scopes(model.module)
                critic = _critic_from_attribute(model, node, scopes)
            if critic is None:
                continue
            seen.add(id(node))
            yield _report(node, critic)
        for node, critic in _symbolic_penalties(model, names, functions):
            if id(node) not in seen:
                seen.add(id(node))
                yield _report(node, critic)
        for node, critic_call in graph_penalties(model, names, functions):
            if id(node) not in seen:
                seen.add(id(node))
                yield graph_report(node, critic_call, model.module)


def _report(node: cst.CSTNode, critic: _Critic) -> Report:
    label = f"`{critic.layer.label}`" if critic.layer.label else "the critic"
    return Report(
        node,
        f"this gradient penalty differentiates {label}, which runs BatchNormalization "
        "in training mode: BN normalises each sample with the statistics of the whole "
        "batch, so per-sample input gradients mix the batch and the penalty no longer "
        "bounds each sample's gradient; use LayerNormalization (or no normalisation) "
        "in the critic",
        related=((critic.call, "critic called in training mode here"),),
    )


def _symbolic_penalties(model: SemanticModel, names: dict[int, str],
                        functions: Functions) -> Iterator[tuple[cst.Call, _Critic]]:
    """The Keras 2 recipe: a loss ``f(y_true, y_pred, averaged_samples)`` computes
    ``K.gradients(y_pred, averaged_samples)[0]`` and its norm; ``partial(f,
    averaged_samples=x)`` (or a closure ``f(x)`` returning the loss) binds the samples,
    and the critic is called on the same ``x`` where that binding is made."""
    for call in model.calls:
        if call.name not in GRAPH_GRADIENTS:
            continue
        chain = functions.enclosing(call.node)
        samples = _gradient_sources(call.node)
        if not chain or samples is None:
            continue
        owner = next((function for function in reversed(chain)
                      if any(param.name.value == samples for param in parameters(function))),
                     None)
        if owner is None or not norm_taken_of(call.node, model, names, functions):
            continue
        for where, bound in _bindings(model, owner, samples, closure=owner is not chain[-1]):
            critic = _critic_called_on(model, bound, where)
            if critic is not None:
                yield call.node, critic
                break


def _gradient_sources(node: cst.Call) -> str | None:
    """``K.gradients(y_pred, x)`` / ``K.gradients(y_pred, [x])``: the name ``x``."""
    target = argument(node, "loss", 0) or argument(node, "ys", 0)
    sources = argument(node, "variables", 1) or argument(node, "xs", 1)
    if target is None or sources is None or not isinstance(target.value, cst.Name):
        return None
    value = sources.value
    if isinstance(value, (cst.List, cst.Tuple)) and len(value.elements) == 1:
        value = value.elements[0].value
    return value.value if isinstance(value, cst.Name) else None


def _bindings(model: SemanticModel, owner: cst.FunctionDef, parameter: str,
              closure: bool) -> Iterator[tuple[str | None, str]]:
    """Where ``owner``'s ``parameter`` is bound to a name: ``partial(owner,
    parameter=x)``, or (for a closure) ``owner(x)`` / ``owner(parameter=x)``; yields the
    function the binding is made in and ``x``."""
    for call in model.calls:
        node = call.node
        if closure:
            if not _refers_to(node.func, owner):
                continue
            found = keyword_or_position(node, owner, parameter)
        else:
            if call.name != "functools.partial" or not node.args or node.args[0].keyword:
                continue
            if not _refers_to(node.args[0].value, owner):
                continue
            found = keyword(node, parameter)
        if found is not None and isinstance(found.value, cst.Name):
            yield call.context.function, found.value.value


def _refers_to(node: cst.BaseExpression, function: cst.FunctionDef) -> bool:
    """``f`` or ``self.f`` for the function ``f``."""
    name = function.name.value
    if isinstance(node, cst.Name):
        return node.value == name
    return (isinstance(node, cst.Attribute) and node.attr.value == name
            and isinstance(node.value, cst.Name) and node.value.value == "self")


def _critic_called_on(model: SemanticModel, name: str, where: str | None) -> _Critic | None:
    """A call ``critic(name)`` in function ``where`` of a model with trainable BN that runs
    in training mode during fit (no ``training=`` or ``training=True``)."""
    for event in model.events_of("call"):
        node = event.node
        layer = event.layer
        if event.context.function != where or layer is None or not isinstance(node, cst.Call):
            continue
        first = argument(node, "inputs", 0)
        if first is None or not (isinstance(first.value, cst.Name) and first.value.value == name):
            continue
        if (event.training in {"absent", "true"} and layer.contains_bn() is True
                and event.bn_trainable_before is True):
            return _Critic(layer, node)
    return None


def _sources_are_inputs(model: SemanticModel, event: Event) -> bool:
    """The sources are tensors: the model says so, or each is a name the tape watches."""
    if event.sources_are_variables is False:
        return True
    node = event.node
    assert isinstance(node, cst.Call)
    sources = argument(node, "sources", 1)
    if sources is None:
        return False
    value = sources.value
    items = [element.value for element in value.elements] if isinstance(
        value, (cst.List, cst.Tuple)) else [value]
    if not items or not all(isinstance(item, cst.Name) for item in items):
        return False
    watched = _watched_names(model, event)
    return all(isinstance(item, cst.Name) and item.value in watched for item in items)


def _watched_names(model: SemanticModel, event: Event) -> set[str]:
    found: set[str] = set()
    for call in model.method_calls("watch"):
        if not isinstance(call.receiver, Tape) or call.context.function != event.context.function:
            continue
        arg = argument(call.node, "tensor", 0)
        if arg is not None and isinstance(arg.value, cst.Name):
            found.add(arg.value.value)
    return found


def _computes_norm(model: SemanticModel, event: Event, names: dict[int, str],
                   functions: Functions) -> bool:
    """The function of the gradient also takes its norm: ``tf.norm(g)`` or
    ``tf.sqrt(tf.reduce_sum(tf.square(g)))`` (or ``g ** 2``, ``... + eps``) of what the
    gradient returned (a weight's norm beside a saliency map is no penalty)."""
    return isinstance(event.node, cst.Call) and norm_taken_of(event.node, model, names,
                                                              functions)


def _critic_from_history(model: SemanticModel, event: Event) -> _Critic | None:
    """The target tensor came from calling a BN model in training mode."""
    target = event.inputs[0] if event.inputs else None
    if isinstance(target, ListValue) and len(target.items) == 1:
        target = target.items[0]
    if not isinstance(target, Tensor):
        return None
    calls = {id(e.node): e for e in model.events_of("call")}
    for wiring in reversed(target.history):
        if wiring.training != "true" or wiring.child.contains_bn() is not True:
            continue
        call = calls.get(id(wiring.node))
        if call is not None and call.bn_trainable_before is True:
            return _Critic(wiring.child, wiring.node)
    return None


def _critic_from_attribute(model: SemanticModel, gradient: cst.Call,
                           scopes: _Scopes) -> _Critic | None:
    """In a method of a user model: ``pred = self.critic(x, training=True)`` followed by
    ``tape.gradient(pred, x)``, where some instance built in this file stores a BN model
    with trainable BN as ``critic``."""
    target = argument(gradient, "target", 0)
    scope = scopes.of(gradient)
    if target is None or not isinstance(target.value, cst.Name) or scope is None:
        return None
    owner, function = scope
    call = assigned_call(function, target.value.value)
    if call is None or not isinstance(call.func, cst.Attribute):
        return None
    receiver = call.func.value
    if not (isinstance(receiver, cst.Name) and receiver.value == "self"):
        return None
    training = keyword(call, "training")
    if training is None or not (isinstance(training.value, cst.Name)
                                and training.value.value == "True"):
        return None
    attribute = call.func.attr.value
    for layer in model.layers:
        if layer.user_class != owner:
            continue
        stored = layer.attrs.get(attribute)
        if (isinstance(stored, Layer) and stored.contains_bn() is True
                and stored.bn_trainable() is True):
            return _Critic(stored, call)
    return None


class _Scopes:
    """Maps the calls of a module to the method and class that enclose them."""

    def __init__(self, module: cst.Module) -> None:
        finder = _ScopeFinder()
        run_visitor(finder, module)
        self._scopes = finder.scopes

    def of(self, node: cst.Call) -> tuple[str, cst.FunctionDef] | None:
        return self._scopes.get(id(node))


class _ScopeFinder:
    def __init__(self) -> None:
        self.classes: list[str] = []
        self.functions: list[cst.FunctionDef] = []
        self.depth: list[int] = []  # number of functions open when each class opened
        self.scopes: dict[int, tuple[str, cst.FunctionDef]] = {}

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.classes.append(node.name.value)
        self.depth.append(len(self.functions))

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self.classes.pop()
        self.depth.pop()

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.functions.append(node)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.functions.pop()

    def visit_Call(self, node: cst.Call) -> None:
        # a method: the innermost function opened directly inside the innermost class
        if self.classes and len(self.functions) == self.depth[-1] + 1:
            self.scopes[id(node)] = (self.classes[-1], self.functions[-1])
