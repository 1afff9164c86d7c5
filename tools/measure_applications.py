"""Measure the layer lists of keras.applications models (weights=None: no download).

Writes the `[applications.layers]` table of bnlint/data/keras_api.toml: per factory,
the fewest layers any variant has (include_top True/False, pooling None/"avg") and the
largest distance from the end of the layer list to its last BatchNormalization layer.
With those two numbers a slice such as `base.layers[:100]` or `base.layers[:-20]` can be
said to leave some BN layer out of a re-freeze. Run it in an environment with
TensorFlow; bnlint itself never imports TensorFlow.

    python tools/measure_applications.py > /tmp/keras3.toml
    BNLINT_MEASURE=tf_keras python tools/measure_applications.py > /tmp/tf_keras.toml

The table in keras_api.toml takes, per factory, the smaller count and the larger
distance of the two runs (Keras 3 and tf-keras).
"""

from __future__ import annotations

import importlib
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

keras = importlib.import_module(os.environ.get("BNLINT_MEASURE", "keras"))

NAMES = sys.argv[1:] or [
    "DenseNet121", "DenseNet169", "DenseNet201", "ResNet50", "ResNet101", "ResNet152",
    "ResNet50V2", "ResNet101V2", "ResNet152V2", "Xception", "InceptionV3",
    "InceptionResNetV2", "MobileNet", "MobileNetV2", "MobileNetV3Small", "MobileNetV3Large",
    "NASNetMobile", "EfficientNetB0", "EfficientNetB1", "EfficientNetB2", "EfficientNetB3",
    "EfficientNetB4", "EfficientNetB5", "EfficientNetB6", "EfficientNetB7",
    "EfficientNetV2B0", "EfficientNetV2B1", "EfficientNetV2B2", "EfficientNetV2B3",
    "EfficientNetV2S", "EfficientNetV2M", "EfficientNetV2L",
]


def shape_of(name: str) -> tuple[int, int]:
    """(fewest layers, largest distance of the last BN layer from the end)."""
    factory = getattr(keras.applications, name)
    counts, tails = [], []
    for include_top in (False, True):
        for pooling in ((None, "avg") if not include_top else (None,)):
            kwargs = {"weights": None, "include_top": include_top}
            if pooling:
                kwargs["pooling"] = pooling
            if name.startswith("NASNet"):
                kwargs["input_shape"] = (224, 224, 3)
            model = factory(**kwargs)
            kinds = [isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers]
            last = max(i for i, bn in enumerate(kinds) if bn)
            counts.append(len(kinds))
            tails.append(len(kinds) - last)
            keras.backend.clear_session()
    return min(counts), max(tails)


print(f"# measured with {keras.__name__} {keras.__version__} by tools/measure_applications.py")
for name in NAMES:
    count, tail = shape_of(name)
    print(f"{name} = {{ min_layers = {count}, last_bn_from_end = {tail} }}")
