"""Transfer learning from an ImageNet Xception to cats vs. dogs.

Follows the keras.io transfer-learning guide: the base runs in inference mode inside
a functional model, a new head is trained on the frozen base, then the base is
unfrozen with its BatchNormalization layers kept frozen and the whole model is
trained at a low learning rate.
"""

import keras
import tensorflow as tf
import tensorflow_datasets as tfds
from keras import layers

IMG_SIZE = 150
BATCH_SIZE = 64

train_ds, validation_ds, test_ds = tfds.load(
    "cats_vs_dogs",
    split=["train[:40%]", "train[40%:50%]", "train[50%:60%]"],
    as_supervised=True,
)

resize = layers.Resizing(IMG_SIZE, IMG_SIZE)
train_ds = train_ds.map(lambda x, y: (resize(x), y))
validation_ds = validation_ds.map(lambda x, y: (resize(x), y))
test_ds = test_ds.map(lambda x, y: (resize(x), y))

train_ds = train_ds.batch(BATCH_SIZE).prefetch(tf.data.AUTOTUNE).cache()
validation_ds = validation_ds.batch(BATCH_SIZE).prefetch(tf.data.AUTOTUNE).cache()
test_ds = test_ds.batch(BATCH_SIZE).prefetch(tf.data.AUTOTUNE).cache()

augmentation = keras.Sequential(
    [layers.RandomFlip("horizontal"), layers.RandomRotation(0.1)],
    name="augmentation",
)

base_model = keras.applications.Xception(
    weights="imagenet",
    input_shape=(IMG_SIZE, IMG_SIZE, 3),
    include_top=False,
)
base_model.trainable = False

inputs = keras.Input(shape=(IMG_SIZE, IMG_SIZE, 3))
x = augmentation(inputs)
# Xception expects inputs in [-1, 1].
x = layers.Rescaling(scale=1 / 127.5, offset=-1)(x)
x = base_model(x, training=False)
x = layers.GlobalAveragePooling2D()(x)
x = layers.Dropout(0.2)(x)
outputs = layers.Dense(1)(x)
model = keras.Model(inputs, outputs)
model.summary(show_trainable=True)

model.compile(
    optimizer=keras.optimizers.Adam(1e-3),
    loss=keras.losses.BinaryCrossentropy(from_logits=True),
    metrics=[keras.metrics.BinaryAccuracy()],
)
model.fit(train_ds, epochs=2, validation_data=validation_ds)

# Fine-tuning: unfreeze the base but keep every BatchNormalization layer on its
# ImageNet statistics.
base_model.trainable = True
for layer in base_model.layers:
    if isinstance(layer, layers.BatchNormalization):
        layer.trainable = False
model.summary(show_trainable=True)

model.compile(
    optimizer=keras.optimizers.Adam(1e-5),
    loss=keras.losses.BinaryCrossentropy(from_logits=True),
    metrics=[keras.metrics.BinaryAccuracy()],
)
model.fit(train_ds, epochs=1, validation_data=validation_ds)

loss, accuracy = model.evaluate(test_ds)
print(f"test loss {loss:.4f}  test accuracy {accuracy:.4f}")
