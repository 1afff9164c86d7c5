"""What the probe reads off a model (in the worker): BatchNormalization state and how far
it moved, how far weights and features moved. All state that is deterministic at probe
scale; accuracy is not read (it is noise at this size)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Below this, a change is rounding, not a training step.
STILL = 1e-6


@dataclass(frozen=True, slots=True)
class BnState:
    """Moving statistics and gamma/beta of each BN layer, by layer, as numpy arrays."""

    moving_mean: list[Any]
    moving_variance: list[Any]
    gamma: list[Any]
    epsilon: list[float]


def bn_layers(model: Any, keras: Any) -> list[Any]:
    """The BatchNormalization layers inside ``model``, nested models included."""
    found: list[Any] = []
    for layer in getattr(model, "layers", ()):
        if isinstance(layer, keras.layers.BatchNormalization):
            found.append(layer)
        elif hasattr(layer, "layers"):
            found.extend(bn_layers(layer, keras))
    if isinstance(model, keras.layers.BatchNormalization):
        found.append(model)
    return found


def bn_state(layers: list[Any]) -> BnState:
    return BnState(
        [array(layer.moving_mean) for layer in layers],
        [array(layer.moving_variance) for layer in layers],
        [array(layer.gamma) for layer in layers if layer.gamma is not None],
        [float(layer.epsilon) for layer in layers],
    )


def drift(before: BnState, after: BnState) -> float:
    """How far the moving means moved, in units of the standard deviation they stored
    before, averaged over channels and layers (0 when nothing moved)."""
    import numpy as np

    if not before.moving_mean:
        return 0.0
    shifts = [
        float(np.mean(np.abs(new - old) / np.sqrt(variance + epsilon)))
        for old, new, variance, epsilon in zip(before.moving_mean, after.moving_mean,
                                               before.moving_variance, before.epsilon)
    ]
    return sum(shifts) / len(shifts)


def largest_change(before: list[Any], after: list[Any]) -> float:
    """The largest absolute change of any element of any array."""
    import numpy as np

    return max((float(np.max(np.abs(new - old))) for old, new in zip(before, after)
                if getattr(old, "size", 0)), default=0.0)


def relative_change(before: list[Any], after: list[Any]) -> float:
    """||after - before|| / ||before|| over all arrays together."""
    import numpy as np

    moved = sum(float(np.sum((new - old) ** 2)) for old, new in zip(before, after))
    size = sum(float(np.sum(old ** 2)) for old in before)
    return (moved / size) ** 0.5 if size else 0.0


def kernels(model: Any) -> list[Any]:
    """The kernels of the layers of ``model`` that have one (nested models included)."""
    found: list[Any] = []
    for layer in getattr(model, "layers", ()):
        if hasattr(layer, "layers"):
            found.extend(kernels(layer))
        elif getattr(layer, "kernel", None) is not None:
            found.append(array(layer.kernel))
    return found


def features(base: Any, batch: Any) -> Any:
    """The base's output on a fixed batch, in inference mode."""
    return array(base(batch, training=False))


def array(value: Any) -> Any:
    """A copy of a variable or tensor as a numpy array."""
    import numpy as np

    return np.array(value.numpy() if hasattr(value, "numpy") else value, copy=True)
