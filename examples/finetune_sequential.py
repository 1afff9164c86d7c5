"""Fine-tune an ImageNet ResNet50 on the tf_flowers dataset.

Stage 1 trains a new softmax head on top of the frozen convolutional base; stage 2
unfreezes the base and trains the whole network for a few more epochs.
"""

import keras
import tensorflow as tf
import tensorflow_datasets as tfds
from keras import layers

IMG_SIZE = 224
BATCH_SIZE = 32
NUM_CLASSES = 5


def prepare(ds, shuffle=False):
    ds = ds.map(
        lambda image, label: (tf.image.resize(image, (IMG_SIZE, IMG_SIZE)), label),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    ds = ds.map(
        lambda image, label: (keras.applications.resnet50.preprocess_input(image), label),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    if shuffle:
        ds = ds.shuffle(1000)
    return ds.batch(BATCH_SIZE).prefetch(tf.data.AUTOTUNE)


(train_raw, val_raw), info = tfds.load(
    "tf_flowers",
    split=["train[:80%]", "train[80%:]"],
    as_supervised=True,
    with_info=True,
)
train_ds = prepare(train_raw, shuffle=True)
val_ds = prepare(val_raw)

base = keras.applications.ResNet50(weights="imagenet", include_top=False, pooling="avg")
base.trainable = False

model = keras.Sequential(
    [
        keras.Input(shape=(IMG_SIZE, IMG_SIZE, 3)),
        base,
        layers.Dropout(0.2),
        layers.Dense(NUM_CLASSES, activation="softmax"),
    ]
)
model.summary()

model.compile(
    optimizer=keras.optimizers.Adam(1e-3),
    loss="sparse_categorical_crossentropy",
    metrics=["accuracy"],
)
model.fit(train_ds, validation_data=val_ds, epochs=10)

# Stage 2: train the whole network.
base.trainable = True
model.compile(
    optimizer="adam",
    loss="sparse_categorical_crossentropy",
    metrics=["accuracy"],
)
model.fit(train_ds, validation_data=val_ds, epochs=5)

model.save("resnet50_flowers.keras")
