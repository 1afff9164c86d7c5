"""DCGAN on MNIST, trained with train_on_batch.

The generator/discriminator pair is wired the way the Keras FAQ describes: the
discriminator is compiled on its own, then frozen inside the combined model that
trains the generator.
"""

import numpy as np
import tensorflow as tf
from tensorflow import keras
from tensorflow.keras.layers import BatchNormalization as BN
from tensorflow.keras.layers import (
    Conv2D,
    Conv2DTranspose,
    Dense,
    Dropout,
    Flatten,
    LeakyReLU,
    Reshape,
)

LATENT_DIM = 100
BATCH_SIZE = 64
STEPS = 10_000

(x_train, _), _ = keras.datasets.mnist.load_data()
x_train = (x_train.astype("float32") - 127.5) / 127.5
x_train = x_train[..., np.newaxis]


def build_generator():
    return keras.Sequential(
        [
            keras.Input(shape=(LATENT_DIM,)),
            Dense(7 * 7 * 128, use_bias=False),
            BN(momentum=0.8),
            LeakyReLU(0.2),
            Reshape((7, 7, 128)),
            Conv2DTranspose(128, 4, strides=2, padding="same", use_bias=False),
            BN(momentum=0.8),
            LeakyReLU(0.2),
            Conv2DTranspose(64, 4, strides=2, padding="same", use_bias=False),
            BN(momentum=0.8),
            LeakyReLU(0.2),
            Conv2D(1, 7, padding="same", activation="tanh"),
        ],
        name="generator",
    )


def build_discriminator():
    return keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            Conv2D(64, 3, strides=2, padding="same"),
            LeakyReLU(0.2),
            Conv2D(128, 3, strides=2, padding="same"),
            BN(momentum=0.8),
            LeakyReLU(0.2),
            Dropout(0.25),
            Flatten(),
            Dense(1, activation="sigmoid"),
        ],
        name="discriminator",
    )


generator = build_generator()
discriminator = build_discriminator()
discriminator.compile(
    optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
    loss="binary_crossentropy",
    metrics=["accuracy"],
)

# The combined model only updates the generator.
discriminator.trainable = False
gan_input = keras.Input(shape=(LATENT_DIM,))
gan_output = discriminator(generator(gan_input))
gan = keras.Model(gan_input, gan_output, name="gan")
gan.compile(optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5), loss="binary_crossentropy")

rng = np.random.default_rng(42)
real_targets = np.full((BATCH_SIZE, 1), 0.9, dtype="float32")
fake_targets = np.zeros((BATCH_SIZE, 1), dtype="float32")

for step in range(STEPS):
    idx = rng.integers(0, len(x_train), BATCH_SIZE)
    real_images = x_train[idx]
    noise = rng.normal(size=(BATCH_SIZE, LATENT_DIM)).astype("float32")
    fake_images = generator.predict(noise, verbose=0)

    d_loss_real, _ = discriminator.train_on_batch(real_images, real_targets)
    d_loss_fake, _ = discriminator.train_on_batch(fake_images, fake_targets)

    noise = rng.normal(size=(BATCH_SIZE, LATENT_DIM)).astype("float32")
    g_loss = gan.train_on_batch(noise, np.ones((BATCH_SIZE, 1), dtype="float32"))

    if step % 500 == 0:
        d_loss = 0.5 * (d_loss_real + d_loss_fake)
        print(f"step {step}: d_loss {d_loss:.4f}  g_loss {float(g_loss):.4f}")
        generator.save(f"checkpoints/generator_{step:05d}.keras")

samples = generator.predict(tf.random.normal((16, LATENT_DIM)), verbose=0)
np.save("samples.npy", samples)
