"""Train a small CNN on CIFAR-10 with a hand-written training loop.

The loop uses tf.GradientTape so the learning-rate schedule and the logging can be
controlled step by step; at the end the model is scored on the test split, with
test-time augmentation.
"""

import time

import numpy as np
import tensorflow as tf
from tensorflow import keras
from tensorflow.keras import layers

EPOCHS = 15
BATCH_SIZE = 128
NUM_CLASSES = 10

(x_train, y_train), (x_test, y_test) = keras.datasets.cifar10.load_data()
x_train = x_train.astype("float32") / 255.0
x_test = x_test.astype("float32") / 255.0
y_train = y_train.reshape(-1)
y_test = y_test.reshape(-1)

x_val, y_val = x_train[-5000:], y_train[-5000:]
x_train, y_train = x_train[:-5000], y_train[:-5000]

train_ds = (
    tf.data.Dataset.from_tensor_slices((x_train, y_train))
    .shuffle(10_000)
    .batch(BATCH_SIZE)
    .prefetch(tf.data.AUTOTUNE)
)
val_ds = tf.data.Dataset.from_tensor_slices((x_val, y_val)).batch(512)


def conv_block(filters):
    return [
        layers.Conv2D(filters, 3, padding="same", use_bias=False),
        layers.BatchNormalization(),
        layers.ReLU(),
        layers.Conv2D(filters, 3, padding="same", use_bias=False),
        layers.BatchNormalization(),
        layers.ReLU(),
        layers.MaxPooling2D(),
    ]


model = keras.Sequential(
    [
        keras.Input(shape=(32, 32, 3)),
        layers.RandomFlip("horizontal"),
        layers.RandomTranslation(0.1, 0.1),
        *conv_block(32),
        *conv_block(64),
        *conv_block(128),
        layers.GlobalAveragePooling2D(),
        layers.Dropout(0.3),
        layers.Dense(NUM_CLASSES),
    ]
)

steps_per_epoch = len(x_train) // BATCH_SIZE
schedule = keras.optimizers.schedules.CosineDecay(1e-3, decay_steps=EPOCHS * steps_per_epoch)
optimizer = keras.optimizers.Adam(learning_rate=schedule)
loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
train_acc = keras.metrics.SparseCategoricalAccuracy()
val_acc = keras.metrics.SparseCategoricalAccuracy()


@tf.function
def train_step(x_batch, y_batch):
    with tf.GradientTape() as tape:
        logits = model(x_batch)
        loss = loss_fn(y_batch, logits)
    grads = tape.gradient(loss, model.trainable_weights)
    optimizer.apply_gradients(zip(grads, model.trainable_weights))
    train_acc.update_state(y_batch, logits)
    return loss


@tf.function
def test_step(x_batch, y_batch):
    logits = model(x_batch, training=False)
    val_acc.update_state(y_batch, logits)


for epoch in range(EPOCHS):
    start = time.time()
    for layer in model.layers:
        layer.training = True
    for step, (x_batch, y_batch) in enumerate(train_ds):
        loss = train_step(x_batch, y_batch)
        if step % 100 == 0:
            print(f"epoch {epoch} step {step}: loss {float(loss):.4f}")

    for layer in model.layers:
        layer.training = False
    for x_batch, y_batch in val_ds:
        test_step(x_batch, y_batch)

    print(
        f"epoch {epoch}: train acc {float(train_acc.result()):.4f}, "
        f"val acc {float(val_acc.result()):.4f}, {time.time() - start:.1f}s"
    )
    train_acc.reset_state()
    val_acc.reset_state()

# Test-time augmentation: average the plain prediction with an augmented pass
# (the RandomFlip / RandomTranslation layers only act in training mode).
plain = tf.nn.softmax(model(x_test, training=False))
preds = model(x_test, training=True)
probs = (plain + tf.nn.softmax(preds)) / 2
test_accuracy = np.mean(np.argmax(probs, axis=-1) == y_test)
print(f"test accuracy with TTA: {test_accuracy:.4f}")

model.save("cifar10_cnn.keras")
