"""Fine-tuning recipes that several rules use as examples.

Each constant is one program, written once and shared by the ``flagged``/``not_flagged``
examples of the rules that must (not) flag it. They are correct recipes unless the name
says otherwise; a rule's own variations stay in its module.
"""

from __future__ import annotations

import textwrap

# A frozen ResNet50 under a Dense head in a Sequential model, compiled at Adam's default
# rate: the first phase of the guide's recipe, before any fit.
FROZEN_RESNET_COMPILED = """
import keras
base = keras.applications.ResNet50(include_top=False, pooling="avg")
base.trainable = False
model = keras.Sequential([base, keras.layers.Dense(10)])
model.compile(optimizer="adam", loss="mse")
"""



def after_frozen_resnet(rest: str) -> str:
    """``FROZEN_RESNET_COMPILED`` followed by ``rest`` (an indented example body)."""
    return FROZEN_RESNET_COMPILED + textwrap.dedent(rest).removeprefix("\n")


# The two-phase recipe on a Sequential model: train the head on a frozen ResNet50 at
# Adam's default rate, then unfreeze the base and recompile at 1e-5 (keras.io guide
# "Transfer learning & fine-tuning", in its shortest form).
TWO_PHASE_SEQUENTIAL = FROZEN_RESNET_COMPILED + """\
model.fit(x, y)
base.trainable = True
model.compile(optimizer=keras.optimizers.Adam(1e-5), loss="mse")
model.fit(x, y)
"""

# keras.io guide "Transfer learning & fine-tuning" (Xception base called with
# training=False in a functional model), in two parts: the frozen base wired in ...
_KERAS_IO_FROZEN_BASE = """
import keras
from keras import layers
base_model = keras.applications.Xception(weights="imagenet", include_top=False)
base_model.trainable = False
inputs = keras.Input(shape=(150, 150, 3))
x = base_model(inputs, training=False)
"""
# ... and, after the head, both training phases: the base is unfrozen with its
# BatchNormalization layers kept frozen, then recompiled at a low learning rate.
_KERAS_IO_PHASES = """\
model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
model.fit(train_ds, epochs=2)
base_model.trainable = True
for layer in base_model.layers:
    if isinstance(layer, layers.BatchNormalization):
        layer.trainable = False
model.compile(optimizer=keras.optimizers.Adam(1e-5), loss="mse")
model.fit(train_ds, epochs=1)
"""

# The keras.io guide's recipe with the head built in two statements.
KERAS_IO_TRANSFER_LEARNING = _KERAS_IO_FROZEN_BASE + """\
x = layers.GlobalAveragePooling2D()(x)
model = keras.Model(inputs, layers.Dense(1)(x))
""" + _KERAS_IO_PHASES

# The same recipe with the head built in one statement.
KERAS_IO_TRANSFER_LEARNING_ONE_LINE_HEAD = _KERAS_IO_FROZEN_BASE + """\
model = keras.Model(inputs, layers.Dense(1)(layers.GlobalAveragePooling2D()(x)))
""" + _KERAS_IO_PHASES

# keras.io example "Image classification via fine-tuning with EfficientNet": the base
# is flattened into the model (input_tensor=, head on model.output), frozen, and the
# head trained at 1e-2 ...
EFFICIENTNET_HEAD_PHASE = """
import keras
from keras import layers
from keras.applications import EfficientNetB0
inputs = layers.Input(shape=(224, 224, 3))
model = EfficientNetB0(include_top=False, input_tensor=inputs, weights="imagenet")
model.trainable = False
x = layers.GlobalAveragePooling2D(name="avg_pool")(model.output)
x = layers.BatchNormalization()(x)
outputs = layers.Dense(120, activation="softmax", name="pred")(x)
model = keras.Model(inputs, outputs, name="EfficientNet")
model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-2), loss="mse")
model.fit(ds_train, epochs=25)
"""

# ... then its top 20 layers are unfrozen, BatchNormalization excepted, and fine-tuned
# at 1e-5.
EFFICIENTNET_FINE_TUNE = EFFICIENTNET_HEAD_PHASE + """\
for layer in model.layers[-20:]:
    if not isinstance(layer, layers.BatchNormalization):
        layer.trainable = True
model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-5), loss="mse")
model.fit(ds_train, epochs=4)
"""


def flag_loop_recipe(*, freeze_one_by_one: bool, unfreeze_base_first: bool,
                     optimizer: str) -> str:
    """The "set_trainable flag" recipe of the Keras 2 book on a ResNet50 head phase: the
    layers of `conv_base` from the named one on are unfrozen, those before it frozen,
    then a fine-tuning phase compiled with ``optimizer``."""
    freeze = ("for layer in conv_base.layers:\n    layer.trainable = False\n"
              if freeze_one_by_one else "conv_base.trainable = False\n")
    return (
        "\nfrom tensorflow import keras\n"
        'conv_base = keras.applications.ResNet50(include_top=False, pooling="avg")\n'
        + freeze
        + "model = keras.Sequential([conv_base, keras.layers.Dense(1)])\n"
        'model.compile(optimizer="adam", loss="binary_crossentropy")\n'
        "model.fit(x, y, epochs=5)\n"
        + ("conv_base.trainable = True\n" if unfreeze_base_first else "")
        + "set_trainable = False\n"
        "for layer in conv_base.layers:\n"
        '    if layer.name == "conv5_block1_1_conv":\n'
        "        set_trainable = True\n"
        "    if set_trainable:\n"
        "        layer.trainable = True\n"
        "    else:\n"
        "        layer.trainable = False\n"
        f'model.compile(optimizer={optimizer}, loss="binary_crossentropy")\n'
        "model.fit(x, y, epochs=5)\n"
    )
