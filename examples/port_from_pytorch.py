"""A ResNet-18-style classifier ported from a PyTorch code base.

Layer for layer the same network as the original torchvision-style model
(conv -> BN -> ReLU blocks, a frozen-BN stem, identity shortcuts), trained from scratch
on high-resolution crops, which is why the batch is so small.
"""

import keras
import numpy as np
from keras import layers

from utils.data import holdout_split, load_npz, standardize

NUM_CLASSES = 12
INPUT_SHAPE = (512, 512, 3)


def conv_bn(x, filters, kernel_size, strides=1, name=None):
    x = layers.Conv2D(
        filters, kernel_size, strides=strides, padding="same", use_bias=False,
        name=None if name is None else name + "_conv",
    )(x)
    x = layers.BatchNormalization(
        momentum=0.1, epsilon=1e-5, name=None if name is None else name + "_bn"
    )(x)
    return x


def basic_block(x, filters, strides=1, name="block"):
    shortcut = x
    y = conv_bn(x, filters, 3, strides=strides, name=name + "_1")
    y = layers.ReLU()(y)
    y = conv_bn(y, filters, 3, name=name + "_2")
    if strides != 1 or x.shape[-1] != filters:
        shortcut = conv_bn(x, filters, 1, strides=strides, name=name + "_down")
    y = layers.Add()([y, shortcut])
    return layers.ReLU()(y)


def build_resnet18(input_shape, num_classes):
    inputs = keras.Input(shape=input_shape)
    # The original stem used FrozenBatchNorm2d.
    x = layers.Conv2D(64, 7, strides=2, padding="same", use_bias=False, name="stem_conv")(inputs)
    x = layers.BatchNormalization(trainable=False, epsilon=1e-5, name="stem_bn")(x)
    x = layers.ReLU()(x)
    x = layers.MaxPooling2D(3, strides=2, padding="same")(x)

    for stage, filters in enumerate((64, 128, 256, 512)):
        strides = 1 if stage == 0 else 2
        x = basic_block(x, filters, strides=strides, name=f"stage{stage}_a")
        x = basic_block(x, filters, name=f"stage{stage}_b")

    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="resnet18")


images, labels = load_npz("data/crops_512.npz")
(x_train, y_train), (x_val, y_val) = holdout_split(images, labels, holdout=0.15)
x_train, mean, std = standardize(x_train)
x_val, _, _ = standardize(x_val, mean, std)

model = build_resnet18(INPUT_SHAPE, NUM_CLASSES)
model.compile(
    optimizer=keras.optimizers.SGD(learning_rate=0.01, momentum=0.9, nesterov=True),
    loss="sparse_categorical_crossentropy",
    metrics=["accuracy"],
)
model.fit(
    x_train,
    y_train,
    batch_size=2,
    epochs=30,
    validation_data=(x_val, y_val),
    callbacks=[keras.callbacks.ReduceLROnPlateau(patience=3)],
)

model.save("resnet18_crops.keras")
np.savez("data/crops_512_stats.npz", mean=mean, std=std)
