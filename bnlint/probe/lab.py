"""The probe's laboratory (runs in the worker process, with TensorFlow): synthetic
source and target tasks, a small stand-in for a pretrained base (a few Conv-BN or
Dense-BN blocks with the user's BN settings) calibrated on the source task, and the
containers the user's code wires it into.

Imported only by the probe worker: this module imports nothing heavy itself, it is
handed the Keras module of the flavour under test."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bnlint.probe.scenario import Scenario

CLASSES = 10
SAMPLES = 256
IMAGE = (16, 16, 3)
VECTOR = (32,)
SEED = 0

Weights = list[Any]


@dataclass(frozen=True, slots=True)
class Task:
    """Inputs and labels of one synthetic task, and a fixed batch to read features on."""

    x: Any
    y: Any
    probe_batch: Any


@dataclass(slots=True)
class Lab:
    """One flavour's Keras, the tasks, and the calibrated base weights (cached per
    input kind and BN settings: calibrating costs more than a scenario)."""

    keras: Any
    np: Any
    run_eagerly: bool = True
    _calibrated: dict[tuple[str, float, float], Weights] = field(default_factory=dict)


    # -- data -----------------------------------------------------------------------
    def task(self, kind: str, target: bool) -> Task:
        """The source task (templates plus noise) or the shifted target task (the same
        templates, permuted labels, inputs scaled and offset), for ``kind`` inputs."""
        np = self.np
        shape = IMAGE if kind == "image" else VECTOR
        rng = np.random.RandomState(SEED)
        templates = rng.normal(0.0, 1.0, (CLASSES, *shape)).astype("float32")
        if kind == "image":  # smooth templates: neighbouring pixels alike
            templates = (templates + np.roll(templates, 1, 1) + np.roll(templates, 1, 2)) / 3
        rng = np.random.RandomState(SEED + (1 if target else 2))
        labels = rng.randint(0, CLASSES, SAMPLES)
        x = templates[labels] + rng.normal(0.0, 0.5, (SAMPLES, *shape)).astype("float32")
        if target:
            x = 1.5 * x + 0.5
            labels = (labels * 3 + 1) % CLASSES
        return Task(x.astype("float32"), labels.astype("int32"), x[:32].astype("float32"))

    # -- the stand-in base --------------------------------------------------------------
    def base(self, scenario: Scenario, name: str = "base") -> Any:
        """A fresh stand-in base whose weights and moving statistics were calibrated on
        the source task (the same weights every time for the same settings)."""
        kind = _kind(scenario)
        momentum = _number(scenario.get("bn_momentum"), 0.99)
        epsilon = _number(scenario.get("bn_epsilon"), 1e-3)
        key = (kind, momentum, epsilon)
        if key not in self._calibrated:
            self._calibrated[key] = self._calibrate(kind, momentum, epsilon)
        model = self.build_base(kind, momentum, epsilon, name)
        model.set_weights(self._calibrated[key])
        return model

    def build_base(self, kind: str, momentum: float, epsilon: float, name: str,
                   bn_trainable: bool = True) -> Any:
        """Uninitialised stand-in: three Conv-BN-ReLU blocks (images) or two Dense-BN-ReLU
        blocks (vectors), as a functional model like the applications are."""
        layers = self.keras.layers
        inputs = self.keras.Input(IMAGE if kind == "image" else VECTOR)
        x = inputs
        blocks = (8, 16, 16) if kind == "image" else (32, 32)
        for index, width in enumerate(blocks):
            if kind == "image":
                x = layers.Conv2D(width, 3, padding="same", use_bias=False)(x)
            else:
                x = layers.Dense(width, use_bias=False)(x)
            x = layers.BatchNormalization(momentum=momentum, epsilon=epsilon,
                                          trainable=bn_trainable)(x)
            x = layers.ReLU()(x)
            if kind == "image" and index < len(blocks) - 1:
                x = layers.MaxPooling2D()(x)
        if kind == "image":
            x = layers.GlobalAveragePooling2D()(x)
        return self.keras.Model(inputs, x, name=name)

    def _calibrate(self, kind: str, momentum: float, epsilon: float) -> Weights:
        keras = self.keras
        keras.utils.set_random_seed(SEED)
        base = self.build_base(kind, momentum, epsilon, "calibration")
        self._train(keras.Sequential([base, keras.layers.Dense(CLASSES)]),
                    self.task(kind, target=False))
        return list(base.get_weights())

    # -- a model built in the user's code ----------------------------------------------------
    def subject(self, scenario: Scenario) -> tuple[Any, Any]:
        """(the model trained, the part whose BN layers are measured): the user's own
        model rebuilt from its layer plan and calibrated, else the stand-in base in a
        Sequential with a head."""
        plan = scenario.get("layers")
        if isinstance(plan, str) and plan:
            model = self.plan_model(scenario, plan)
            return model, model
        base = self.base(scenario)
        return self.wrap(base, "sequential"), base

    def plan_model(self, scenario: Scenario, plan: str, calibrated: bool = True,
                   bn_trainable: bool = True) -> Any:
        """The model of ``plan`` (layer kinds in order), small widths; calibrated on the
        source task unless ``calibrated`` is False (a model trained from scratch)."""
        kind = _kind(scenario)
        momentum = _number(scenario.get("bn_momentum"), 0.99)
        epsilon = _number(scenario.get("bn_epsilon"), 1e-3)
        model = self._build_plan(plan.split(","), kind, momentum, epsilon, bn_trainable)
        if calibrated:
            key = (f"plan:{plan}:{kind}", momentum, epsilon)
            if key not in self._calibrated:
                self.keras.utils.set_random_seed(SEED)
                fresh = self._build_plan(plan.split(","), kind, momentum, epsilon, True)
                self._train(fresh, self.task(kind, target=False))
                self._calibrated[key] = list(fresh.get_weights())
            model.set_weights(self._calibrated[key])
        return model

    def _build_plan(self, tokens: list[str], kind: str, momentum: float, epsilon: float,
                    bn_trainable: bool) -> Any:
        layers = self.keras.layers
        size = IMAGE[0] if kind == "image" else 0
        built: list[Any] = [self.keras.Input(IMAGE if kind == "image" else VECTOR)]
        flat = kind != "image"
        last_dense = max((i for i, token in enumerate(tokens) if token == "dense"), default=-1)
        for index, token in enumerate(tokens):
            if token == "conv" and not flat:
                built.append(layers.Conv2D(8, 3, padding="same"))
            elif token == "bn":
                built.append(layers.BatchNormalization(momentum=momentum, epsilon=epsilon,
                                                       trainable=bn_trainable))
            elif token == "relu":
                built.append(layers.ReLU())
            elif token == "pool" and not flat and size >= 4:
                built.append(layers.MaxPooling2D())
                size //= 2
            elif token in ("gap", "flatten") and not flat:
                built.append(layers.GlobalAveragePooling2D() if token == "gap"
                             else layers.Flatten())
                flat = True
            elif token == "dropout":
                built.append(layers.Dropout(0.3))
            elif token == "dense" and index != last_dense:
                if not flat:
                    built.append(layers.Flatten())
                    flat = True
                built.append(layers.Dense(16))
        if not flat:
            built.append(layers.GlobalAveragePooling2D())
        built.append(self.head())
        return self.keras.Sequential(built)

    def _train(self, model: Any, task: Task) -> None:
        keras = self.keras
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-2),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        model.fit(task.x, task.y, batch_size=32, epochs=2, verbose=0, shuffle=False)

    # -- containers ---------------------------------------------------------------------
    def head(self) -> Any:
        return self.keras.layers.Dense(CLASSES, name="head")

    def wrap(self, base: Any, container: str, training: str = "none") -> Any:
        """``base`` with a new head, wired as the user's code wires it: ``sequential``,
        ``functional`` (``base(x, training=...)``), ``flattened`` (the head built on
        ``base.output``) or ``subclassed`` (``call()`` passing ``training``: ``none``
        omits it, ``forward`` passes the call's own, ``false``/``true`` a literal)."""
        keras = self.keras
        if container == "sequential":
            return keras.Sequential([base, self.head()])
        if container == "flattened":
            return keras.Model(base.input, self.head()(base.output))
        if container == "subclassed":
            return _subclassed(keras, base, self.head(), training)
        inputs = keras.Input(base.input.shape[1:])
        features = base(inputs) if training == "none" else base(
            inputs, training={"false": False, "true": True}.get(training, None))
        return keras.Model(inputs, self.head()(features))

    def compile(self, model: Any, optimizer: str, learning_rate: float,
                eager: bool | None = None) -> None:
        """Compile with the user's optimizer kind and rate (Adam when unknown)."""
        keras = self.keras
        model.compile(optimizer=self.optimizer_class(optimizer)(learning_rate=learning_rate),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      run_eagerly=self.run_eagerly if eager is None else eager)

    def optimizer_class(self, kind: str) -> Any:
        """The flavour's optimizer class of that kind (``adam``, ``sgd``...; Adam when
        unknown)."""
        kinds = {"sgd": "SGD", "rmsprop": "RMSprop", "adamw": "AdamW", "adam": "Adam",
                 "adagrad": "Adagrad", "nadam": "Nadam"}
        return getattr(self.keras.optimizers, kinds.get(kind.lower(), "Adam"))

    def fit(self, model: Any, task: Task, batch_size: int = 32, steps: int = 4) -> None:
        """A few steps of fit() on ``task``: enough to move BN statistics and weights,
        cheap at probe scale."""
        count = batch_size * steps
        repeats = -(-count // len(task.x))  # more steps than the task has batches: cycle
        x = self.np.concatenate([task.x] * repeats)[:count]
        y = self.np.concatenate([task.y] * repeats)[:count]
        model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0, shuffle=False)


def _subclassed(keras: Any, base: Any, head: Any, training: str) -> Any:
    class Classifier(keras.Model):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.base = base
            self.head = head

        def call(self, x: Any, training: Any = None) -> Any:
            if mode == "forward":
                return self.head(self.base(x, training=training))
            if mode in ("false", "true"):
                return self.head(self.base(x, training=mode == "true"))
            return self.head(self.base(x))

    mode = training
    model = Classifier()
    model(_zeros(base))  # build the weights once
    return model


def _zeros(base: Any) -> Any:
    import numpy

    return numpy.zeros((1, *base.input.shape[1:]), "float32")


def _kind(scenario: Scenario) -> str:
    return "vector" if scenario.get("input") == "vector" else "image"


def _number(value: object, default: float) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(
        value, bool) else default
