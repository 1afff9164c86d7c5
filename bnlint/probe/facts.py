"""The facts of the user's code a probe scenario needs, read from the semantic model
(no TensorFlow here): how a base is wired into its model, its BN settings, the
optimizer and learning rates of the training phases, the kind of input."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bnlint.probe.scenario import Fact

if TYPE_CHECKING:
    from bnlint.semantic.events import Event
    from bnlint.semantic.values import Layer, Wiring
    from bnlint.semantic.workflow import Phase

# keras.applications families whose BN layers differ from Keras' defaults (F21):
# (name prefix, momentum, epsilon), the first matching prefix wins.
APPLICATION_BN: tuple[tuple[str, float, float], ...] = (
    ("MobileNetV2", 0.999, 1e-3),
    ("MobileNetV3", 0.999, 1e-3),
    ("NASNet", 0.9997, 1e-3),
    ("EfficientNetV2", 0.9, 1e-3),
    ("ResNet", 0.99, 1.001e-5),
    ("DenseNet", 0.99, 1.001e-5),
)

OPTIMIZERS = frozenset({"adam", "adamw", "sgd", "rmsprop", "adagrad", "nadam"})


def model_facts(layer: Layer) -> dict[str, Fact]:
    """BN settings of a known application, and whether the model reads images
    (convolutions; applications always do) or vectors (Dense layers only)."""
    facts: dict[str, Fact] = {}
    name = layer.qualname.rsplit(".", 1)[-1]
    if layer.model_kind == "application":
        facts["input"] = "image"
        for prefix, momentum, epsilon in APPLICATION_BN:
            if name.startswith(prefix):
                facts["bn_momentum"], facts["bn_epsilon"] = momentum, epsilon
                break
        facts["application"] = name
        return facts
    kinds = {inner.qualname.rsplit(".", 1)[-1] for inner in (layer, *layer.descendants())}
    if any("Conv" in kind for kind in kinds):
        facts["input"] = "image"
    elif "Dense" in kinds:
        facts["input"] = "vector"
    facts["layers"] = layer_plan(layer)
    return facts


# Keras layer classes by the part they play in a stand-in (see probe/lab.py).
_PLAN_TOKENS: tuple[tuple[str, str], ...] = (
    ("BatchNormalization", "bn"), ("GlobalAveragePooling", "gap"), ("GlobalMaxPooling", "gap"),
    ("Pooling", "pool"), ("Conv", "conv"), ("Dense", "dense"), ("Flatten", "flatten"),
    ("Dropout", "dropout"), ("ReLU", "relu"), ("Activation", "relu"),
)
PLAN_MAX = 24
# A stand-in keeps the first few layers with weights (and what lies between them): a
# deeper one costs seconds per scenario and measures the same BN behaviour.
PLAN_WEIGHTED = 4


def layer_plan(model: Layer) -> str | None:
    """The layers of a model built in the user's code, in order, as the stand-in's plan
    (``conv,bn,relu,pool,...,dense``): BN exactly where the code has it. None for a
    model whose layers are not all known, or that holds a pretrained base (the base's
    own stand-in is used then), or that has no BN."""
    if model.model_kind not in ("sequential", "functional") or model.opaque:
        return None
    tokens: list[str] = []
    for wiring in model.children:
        child = wiring.child
        if child.is_model or child.opaque:
            return None
        name = child.qualname.rsplit(".", 1)[-1]
        token = next((token for key, token in _PLAN_TOKENS if key in name), None)
        if token is not None:
            tokens.append(token)
    if "bn" not in tokens or len(tokens) > PLAN_MAX:
        return None
    return ",".join(_shortened(tokens))


def _shortened(tokens: list[str]) -> list[str]:
    """The plan up to its PLAN_WEIGHTED-th conv/dense layer and what follows it before
    the next one, then its pooling and last Dense (the head)."""
    kept: list[str] = []
    weighted = 0
    for index, token in enumerate(tokens):
        if token in ("conv", "dense"):
            weighted += 1
            if weighted > PLAN_WEIGHTED:
                tail = [t for t in tokens[index:] if t in ("gap", "flatten")][:1]
                return kept + tail + (["dense"] if tokens[-1] == "dense" else [])
        kept.append(token)
    return kept


def wiring_facts(wiring: Wiring | None, container: Layer | None = None) -> dict[str, Fact]:
    """How the base sits in its model: ``container`` (sequential, functional, flattened,
    subclassed) and the ``training`` it is called with there."""
    if wiring is None:
        return {}
    if wiring.mode in ("sequential", "flattened"):
        return {"container": wiring.mode}
    subclassed = wiring.mode == "attribute" or (
        container is not None and container.model_kind == "subclassed")
    training = "forward" if wiring.forwards_training else {
        "true": "true", "false": "false"}.get(wiring.training, "none")
    return {"container": "subclassed" if subclassed else "functional", "training": training}


def optimizer_facts(event: Event | None) -> dict[str, Fact]:
    """The optimizer kind of a compile (Adam when not known)."""
    optimizer = event.optimizer if event is not None else None
    if optimizer is None:
        return {}
    kind = optimizer.qualname.rsplit(".", 1)[-1].lower()
    return {"optimizer": kind} if kind in OPTIMIZERS else {}


def phase_facts(phase: Phase, previous: Phase | None = None) -> dict[str, Fact]:
    """The fine-tuning phase's optimizer and rate, and the rate of the phase before."""
    facts = optimizer_facts(phase.compile)
    facts["finetune_rate"] = phase.learning_rate
    facts["batch_size"] = phase.fit.batch_size
    if previous is not None:
        facts["head_rate"] = previous.learning_rate
    return facts


def fine_tuning_facts(phases: dict[int, list[Phase]], phase: Phase, base: Layer,
                      wiring: Wiring | None) -> dict[str, Fact]:
    """Everything a fine-tuning replay needs about ``base`` trained in ``phase``."""
    runs = phases.get(id(phase.model), [])
    previous = runs[phase.index - 1] if 0 < phase.index <= len(runs) else None
    return {**model_facts(base), **wiring_facts(wiring, phase.model),
            **phase_facts(phase, previous)}
