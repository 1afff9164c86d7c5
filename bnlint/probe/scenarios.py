"""One scenario per rule that has one (runs in the worker, with TensorFlow): replay the
flagged sequence on the stand-in, and where cheap the corrected sequence from the same
starting point, and turn the measured state into a verdict.

A scenario returns ``Outcome``: a verdict, one sentence, and its metrics. It reads only
what is deterministic at probe scale (BN statistics, gamma, kernels, features on a fixed
batch), never accuracy."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bnlint.probe import measure as m
from bnlint.probe.lab import SEED, Lab
from bnlint.probe.scenario import Scenario

# Steps of fit() at a tiny batch size: enough for momentum 0.99 to forget the start.
STEPS_TINY = 200
# A moving-mean drift (in stored standard deviations) above this is a real update.
DRIFT = 1e-3
# The fine-tuning rate must move the base's features at least this much (relative)...
FEATURE_DAMAGE = 0.05
# ... and this many times more than a 100x lower rate does.
LR_RATIO = 5.0


@dataclass(frozen=True, slots=True)
class Outcome:
    verdict: str
    summary: str
    metrics: dict[str, float]


Scenario_ = Callable[[Lab, Scenario], Outcome]


def _seed(lab: Lab) -> None:
    lab.keras.utils.set_random_seed(SEED)


def _text(scenario: Scenario, key: str, default: str) -> str:
    value = scenario.get(key)
    return value if isinstance(value, str) else default


def _rate(scenario: Scenario, key: str, default: float) -> float:
    value = scenario.get(key)
    return float(value) if isinstance(value, (int, float)) and not isinstance(
        value, bool) else default


def _count(scenario: Scenario, key: str, default: int) -> int:
    value = scenario.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else default


# -- fine-tuning: one replay of head phase + fine-tuning phase ---------------------------------

@dataclass(frozen=True, slots=True)
class Tuned:
    """What the fine-tuning phase did to the base."""

    drift: float
    gamma: float
    kernels: float
    features: float
    moving_bn: int


def _finetune(lab: Lab, scenario: Scenario, *, container: str | None = None,
              training: str | None = None, refreeze_bn: bool = False,
              rate: float | None = None) -> Tuned:
    """Freeze the base, train a head, unfreeze, (re-freeze the BN layers), recompile at
    the fine-tuning rate and fit; measure the base over the fine-tuning phase."""
    _seed(lab)
    keras = lab.keras
    kind = _text(scenario, "input", "image")
    target = lab.task(kind, target=True)
    base = lab.base(scenario)
    model = lab.wrap(base, container or _text(scenario, "container", "sequential"),
                     training or _text(scenario, "training", "none"))
    optimizer = _text(scenario, "optimizer", "adam")
    base.trainable = False
    lab.compile(model, optimizer, _rate(scenario, "head_rate", 1e-3))
    lab.fit(model, target)
    bns = m.bn_layers(base, keras)
    before, kernels, features = m.bn_state(bns), m.kernels(base), m.features(
        base, target.probe_batch)
    base.trainable = True
    if refreeze_bn:
        for layer in bns:
            layer.trainable = False
    lab.compile(model, optimizer, rate if rate is not None else _rate(
        scenario, "finetune_rate", 1e-3))
    lab.fit(model, target, batch_size=max(1, _count(scenario, "batch_size", 32)))
    after = m.bn_state(bns)
    moving = sum(1 for old, new in zip(before.moving_mean, after.moving_mean)
                 if m.largest_change([old], [new]) > m.STILL)
    return Tuned(m.drift(before, after), m.largest_change(before.gamma, after.gamma),
                 m.relative_change(kernels, m.kernels(base)),
                 m.relative_change([features], [m.features(base, target.probe_batch)]),
                 moving)


def unfrozen_bn_in_training_mode(lab: Lab, scenario: Scenario) -> Outcome:
    """BN201: after the unfreeze, fit() runs the base's BN layers in training mode."""
    flagged = _finetune(lab, scenario)
    fixed = _finetune(lab, scenario, refreeze_bn=True)
    return _bn_outcome(flagged, fixed, "during the fine-tuning phase")


def training_false_ignored(lab: Lab, scenario: Scenario) -> Outcome:
    """BN202: a functional ``base(x, training=False)``, unfrozen and fitted."""
    flagged = _finetune(lab, scenario, container="functional", training="false")
    fixed = _finetune(lab, scenario, container="subclassed", training="false")
    return _bn_outcome(flagged, fixed, "although the base is called with training=False",
                       fixed_as="in a subclassed call()")


def _bn_outcome(flagged: Tuned, fixed: Tuned, when: str,
                fixed_as: str = "with the BN layers re-frozen") -> Outcome:
    metrics = {"moving_mean_drift": flagged.drift, "gamma_change": flagged.gamma,
               "bn_layers_updated": float(flagged.moving_bn),
               "corrected_moving_mean_drift": fixed.drift}
    if flagged.drift > DRIFT and fixed.drift <= DRIFT:
        return Outcome("confirmed", (
            f"{flagged.moving_bn} BN layers of the base updated their moving means {when} "
            f"(mean drift {flagged.drift:.3f} std, gamma moved up to {flagged.gamma:.2g}; "
            f"{fixed.drift:.3g} {fixed_as})"), metrics)
    if flagged.drift <= DRIFT:
        return Outcome("not reproduced", (
            f"the base's BN moving means did not move {when} (drift {flagged.drift:.3g} "
            "std)"), metrics)
    return Outcome("inconclusive", (
        f"the moving means moved (drift {flagged.drift:.3f} std) but also {fixed_as} "
        f"({fixed.drift:.3f})"), metrics)


def unfreeze_without_lower_lr(lab: Lab, scenario: Scenario) -> Outcome:
    """BN204: how far the unfrozen base moves at the user's rate and at a 100x lower one
    (BN layers re-frozen in both, so that only the rate differs)."""
    rate = _rate(scenario, "finetune_rate", 1e-3)
    user = _finetune(lab, scenario, container="sequential", refreeze_bn=True, rate=rate)
    lower = _finetune(lab, scenario, container="sequential", refreeze_bn=True,
                      rate=rate / 100)
    metrics = {"learning_rate": rate, "feature_change": user.features,
               "kernel_change": user.kernels, "lower_rate_feature_change": lower.features,
               "lower_rate_kernel_change": lower.kernels}
    ratio = user.features / lower.features if lower.features else float("inf")
    described = (f"at learning rate {rate:g} a few steps moved the pretrained base's "
                 f"features by {user.features:.1%} (kernels {user.kernels:.1%}); at "
                 f"{rate / 100:g} by {lower.features:.2%}")
    if user.features >= FEATURE_DAMAGE and ratio >= LR_RATIO:
        return Outcome("confirmed", described, metrics)
    return Outcome("not reproduced", described, metrics)


# -- trainable state and compile() ---------------------------------------------------------

def trainable_changed_after_compile(lab: Lab, scenario: Scenario) -> Outcome:
    """BN203: change ``trainable`` after compile (after a fit, or before the first one)
    and fit again without recompiling; compare with recompiling. Graph mode, as fit()
    runs by default."""
    change = _text(scenario, "change", "unfreeze")
    fitted = scenario.get("fit_before_change", True) is not False
    flagged, failure = _after_compile(lab, scenario, change, fitted, recompile=False)
    fixed, _ = _after_compile(lab, scenario, change, fitted, recompile=True)
    metrics = {"base_kernel_change": flagged, "recompiled_base_kernel_change": fixed}
    if failure is not None:
        return Outcome("confirmed", (
            f"fit() failed after the trainable change without a recompile: {failure}"),
            metrics)
    wanted = "train" if change == "unfreeze" else "stay unchanged"
    took = (flagged > m.STILL) == (change == "unfreeze")
    if not took and ((fixed > m.STILL) == (change == "unfreeze")):
        return Outcome("confirmed", (
            f"the change was ignored: the {_PAST[change]} base should {wanted} in the next "
            "fit() "
            f"but its kernels moved by {flagged:.3g} (relative); after a recompile "
            f"{fixed:.3g}"), metrics)
    return Outcome("not reproduced", (
        f"the change took effect without a recompile in this flavour (base kernels moved "
        f"by {flagged:.3g}; {fixed:.3g} after a recompile)"), metrics)


_PAST = {"freeze": "frozen", "unfreeze": "unfrozen"}


def _after_compile(lab: Lab, scenario: Scenario, change: str, fitted: bool,
                   recompile: bool) -> tuple[float, str | None]:
    """How far the base's kernels moved in the fit after the change, and the error that
    fit raised, if any (keras3 in eager mode and on JAX raise on a stale optimizer)."""
    _seed(lab)
    kind = _text(scenario, "input", "image")
    target = lab.task(kind, target=True)
    base = lab.base(scenario)
    model = lab.wrap(base, _text(scenario, "container", "sequential"), "none")
    base.trainable = change == "freeze"
    optimizer = _text(scenario, "optimizer", "adam")
    rate = _rate(scenario, "finetune_rate", 1e-3)
    lab.compile(model, optimizer, rate, eager=False)
    if fitted:
        lab.fit(model, target)
    base.trainable = change == "unfreeze"
    if recompile:
        lab.compile(model, optimizer, rate, eager=False)
    kernels = m.kernels(base)
    try:
        lab.fit(model, target)
    except Exception as error:  # noqa: BLE001 - the failure is the finding's effect
        return 0.0, f"{type(error).__name__}: {str(error)[:120]}"
    return m.relative_change(kernels, m.kernels(base)), None


def container_trainable_resets_freeze(lab: Lab, scenario: Scenario) -> Outcome:
    """BN205: a loop freezes the BN layers, then ``base.trainable = ...`` on the
    container sets them again."""
    before = scenario.get("container_before")
    flagged = _reset(lab, scenario, before, loop_first=True)
    fixed = _reset(lab, scenario, before, loop_first=False)
    metrics = {"bn_trainable_after": float(flagged[0]), "moving_mean_drift": flagged[1],
               "corrected_moving_mean_drift": fixed[1]}
    if flagged[0] and flagged[1] > DRIFT and fixed[1] <= DRIFT:
        return Outcome("confirmed", (
            "the container assignment set `trainable = True` back on the BN layers the "
            f"loop had frozen; in fit() their moving means drifted {flagged[1]:.3f} std "
            f"({fixed[1]:.3g} with the container assigned first)"), metrics)
    why = (": Keras 3 on TensorFlow skips assigning the value the container already has "
           "(tf-keras and the JAX backend reset the layers)" if before is not False else "")
    return Outcome("not reproduced", (
        "the BN layers kept the loop's `trainable = False` in this flavour (moving-mean "
        f"drift {flagged[1]:.3g} std){why}"), metrics)


def _reset(lab: Lab, scenario: Scenario, before: object, loop_first: bool) -> tuple[bool, float]:
    _seed(lab)
    keras = lab.keras
    target = lab.task(_text(scenario, "input", "image"), target=True)
    base = lab.base(scenario)
    model = lab.wrap(base, "sequential")
    bns = m.bn_layers(base, keras)
    if isinstance(before, bool):
        base.trainable = before
    if not loop_first:
        base.trainable = True
    for layer in bns:
        layer.trainable = False
    if loop_first:
        base.trainable = True
    lab.compile(model, "adam", 1e-5)
    state = m.bn_state(bns)
    lab.fit(model, target)
    return any(bool(layer.trainable) for layer in bns), m.drift(state, m.bn_state(bns))


def unfreeze_child_of_frozen_container(lab: Lab, scenario: Scenario) -> Outcome:
    """BN206: ``base.trainable = False`` then the last layers re-enabled one by one."""
    flagged = _child(lab, scenario, container_first=False)
    fixed = _child(lab, scenario, container_first=True)
    kernel, drift, flag = flagged
    metrics = {"child_kernel_change": kernel, "child_bn_drift": drift,
               "container_trainable": float(flag)}
    if not flag and (kernel > m.STILL or drift > DRIFT):
        trained = "trained" if kernel > m.STILL else "not trained"
        return Outcome("confirmed", (
            f"`base.trainable` is False, yet its re-enabled children changed: kernels "
            f"{trained} ({kernel:.3g}), BN moving means drifted {drift:.3f} std; what this "
            "does differs between Keras 3 and tf-keras"), metrics)
    del fixed
    return Outcome("not reproduced", "the re-enabled children did not change", metrics)


def _child(lab: Lab, scenario: Scenario, container_first: bool) -> tuple[float, float, bool]:
    _seed(lab)
    keras = lab.keras
    target = lab.task(_text(scenario, "input", "image"), target=True)
    base = lab.base(scenario)
    model = lab.wrap(base, "sequential")
    tail = base.layers[-4:]
    if container_first:
        base.trainable = True
        for layer in base.layers[:-4]:
            layer.trainable = False
    else:
        base.trainable = False
        for layer in tail:
            layer.trainable = True
    lab.compile(model, "adam", 1e-3)
    bns = m.bn_layers(base, keras)[-1:]
    state, kernels = m.bn_state(bns), m.kernels(base)[-1:]
    lab.fit(model, target)
    return (m.relative_change(kernels, m.kernels(base)[-1:]), m.drift(state, m.bn_state(bns)),
            bool(base.trainable))


def nothing_trainable(lab: Lab, scenario: Scenario) -> Outcome:
    """BN207: every part frozen at compile time, then fit()."""
    flagged = _frozen_fit(lab, scenario, whole=True)
    fixed = _frozen_fit(lab, scenario, whole=False)
    metrics = {"largest_weight_change": flagged, "corrected_largest_weight_change": fixed}
    if flagged <= m.STILL < fixed:
        return Outcome("confirmed", (
            "fit() changed no weight at all (largest change "
            f"{flagged:.3g}); with the head trainable it moves by {fixed:.3g}"), metrics)
    return Outcome("not reproduced", f"weights changed by up to {flagged:.3g}", metrics)


def _frozen_fit(lab: Lab, scenario: Scenario, whole: bool) -> float:
    _seed(lab)
    target = lab.task(_text(scenario, "input", "image"), target=True)
    model, part = lab.subject(scenario)
    if whole:
        model.trainable = False
    elif part is model:  # the user's own model: everything but its last layer
        for layer in model.layers[:-1]:
            layer.trainable = False
    else:
        part.trainable = False
    lab.compile(model, "adam", 1e-3)
    weights = [m.array(w) for w in model.weights]
    lab.fit(model, target)
    return m.largest_change(weights, [m.array(w) for w in model.weights])


# -- calls and modes -------------------------------------------------------------------------

def training_attribute(lab: Lab, scenario: Scenario) -> Outcome:
    """BN101: ``x.training = False`` on the base, then fit()."""
    def run(attribute: str) -> Tuned:
        _seed(lab)
        keras = lab.keras
        target = lab.task(_text(scenario, "input", "image"), target=True)
        model, base = lab.subject(scenario)
        setattr(base, attribute, False)
        lab.compile(model, "adam", 1e-3)
        bns = m.bn_layers(base, keras)
        state = m.bn_state(bns)
        lab.fit(model, target)
        after = m.bn_state(bns)
        return Tuned(m.drift(state, after), m.largest_change(state.gamma, after.gamma),
                     0.0, 0.0, 0)

    flagged, fixed = run("training"), run("trainable")
    metrics = {"moving_mean_drift": flagged.drift, "gamma_change": flagged.gamma,
               "corrected_moving_mean_drift": fixed.drift}
    if flagged.drift > DRIFT and fixed.drift <= DRIFT:
        return Outcome("confirmed", (
            "`training = False` had no effect: in fit() the BN moving means drifted "
            f"{flagged.drift:.3f} std and gamma moved up to {flagged.gamma:.2g} "
            f"({fixed.drift:.3g} with `trainable = False`)"), metrics)
    return Outcome("not reproduced", (
        f"the BN statistics stayed put (drift {flagged.drift:.3g} std)"), metrics)


def training_ignored_on_frozen_bn(lab: Lab, scenario: Scenario) -> Outcome:
    """BN106: a frozen BN (or a frozen model with BN) called with training=True."""
    def run(frozen: bool) -> tuple[float, float]:
        _seed(lab)
        target = lab.task(_text(scenario, "input", "image"), target=True)
        _, base = lab.subject(scenario)
        base.trainable = not frozen
        bns = m.bn_layers(base, lab.keras)
        state = m.bn_state(bns)
        inference = m.array(base(target.probe_batch, training=False))
        state = m.bn_state(bns)
        training = m.array(base(target.probe_batch, training=True))
        return (m.drift(state, m.bn_state(bns)),
                m.largest_change([inference], [training]))

    (drift, difference), (fixed_drift, fixed_difference) = run(True), run(False)
    metrics = {"moving_mean_drift": drift, "output_difference_to_inference": difference,
               "trainable_moving_mean_drift": fixed_drift,
               "trainable_output_difference": fixed_difference}
    if drift <= m.STILL and difference <= 1e-5:
        return Outcome("confirmed", (
            "training=True was ignored: the frozen BN layers normalised with their moving "
            "statistics (output identical to inference) and updated nothing; a trainable "
            f"one drifts {fixed_drift:.3f} std"), metrics)
    return Outcome("not reproduced", (
        f"the frozen BN ran in training mode here (output differs by {difference:.3g}, "
        f"drift {drift:.3g})"), metrics)


def custom_loop_without_training(lab: Lab, scenario: Scenario) -> Outcome:
    """BN107: a GradientTape step calling ``model(x)`` without training=True."""
    flagged = _tape_loop(lab, scenario, None)
    fixed = _tape_loop(lab, scenario, True)
    metrics = {"moving_mean_drift": flagged, "corrected_moving_mean_drift": fixed}
    if flagged <= m.STILL and fixed > DRIFT:
        return Outcome("confirmed", (
            "after the custom training steps the BN moving means had not moved at all "
            f"(inference mode); with training=True they drift {fixed:.3f} std"), metrics)
    return Outcome("not reproduced", f"the moving means moved ({flagged:.3g} std)", metrics)


def _tape_loop(lab: Lab, scenario: Scenario, training: bool | None) -> float:
    import tensorflow as tf

    _seed(lab)
    keras = lab.keras
    target = lab.task(_text(scenario, "input", "image"), target=True)
    model, _ = lab.subject(scenario)
    optimizer = keras.optimizers.Adam(learning_rate=1e-3)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    bns = m.bn_layers(model, keras)
    state = m.bn_state(bns)
    for step in range(4):
        x = target.x[step * 32:(step + 1) * 32]
        y = target.y[step * 32:(step + 1) * 32]
        with tf.GradientTape() as tape:
            value = loss(y, model(x) if training is None else model(x, training=training))
        grads = tape.gradient(value, model.trainable_weights)
        optimizer.apply_gradients(zip(grads, model.trainable_weights))
    return m.drift(state, m.bn_state(bns))


def training_true_at_inference(lab: Lab, scenario: Scenario) -> Outcome:
    """BN108: ``model(x, training=True)`` at inference (form ``call``), or a functional
    graph built with ``base(x, training=True)`` and then predict() (form ``graph``)."""
    form = _text(scenario, "form", "call")

    def run(flagged: bool) -> tuple[float, float]:
        _seed(lab)
        target = lab.task(_text(scenario, "input", "image"), target=True)
        base = lab.base(scenario)
        bns = m.bn_layers(base, lab.keras)
        one = target.probe_batch[:1]
        if form == "graph":
            model = lab.wrap(base, "functional", "true" if flagged else "none")
            state = m.bn_state(bns)
            alone = m.array(model.predict(one, verbose=0))
            batched = m.array(model.predict(target.probe_batch, verbose=0))[:1]
        else:
            model, part = lab.subject(scenario)
            bns = m.bn_layers(part, lab.keras)
            state = m.bn_state(bns)
            alone = m.array(model(one, training=flagged or None))
            batched = m.array(model(target.probe_batch, training=flagged or None))[:1]
        return m.drift(state, m.bn_state(bns)), m.largest_change([alone], [batched])

    (drift, depends), (fixed_drift, fixed_depends) = run(True), run(False)
    metrics = {"moving_mean_drift": drift, "batch_dependence": depends,
               "corrected_moving_mean_drift": fixed_drift,
               "corrected_batch_dependence": fixed_depends}
    if (drift > DRIFT or depends > 1e-4) and fixed_drift <= m.STILL:
        return Outcome("confirmed", (
            f"inference in training mode moved the BN moving means by {drift:.3f} std and "
            f"made a sample's output depend on its batch (difference {depends:.3g}); "
            "without training=True neither happens"), metrics)
    return Outcome("not reproduced", (
        "inference ran in inference mode in this flavour (moving-mean drift "
        f"{drift:.3g}, batch dependence {depends:.3g})"), metrics)


def bn_frozen_from_scratch(lab: Lab, scenario: Scenario) -> Outcome:
    """BN109: a model trained from scratch with ``BatchNormalization(trainable=False)``."""
    def run(frozen: bool) -> tuple[float, float]:
        _seed(lab)
        keras = lab.keras
        kind = _text(scenario, "input", "image")
        target = lab.task(kind, target=True)
        plan = scenario.get("layers")
        if isinstance(plan, str) and plan:
            model = base = lab.plan_model(scenario, plan, calibrated=False,
                                          bn_trainable=not frozen)
        else:
            base = lab.build_base(kind, _rate(scenario, "bn_momentum", 0.99),
                                  _rate(scenario, "bn_epsilon", 1e-3), "scratch",
                                  bn_trainable=not frozen)
            model = lab.wrap(base, "sequential")
        lab.compile(model, "adam", 1e-3)
        bns = m.bn_layers(base, keras)
        state = m.bn_state(bns)
        lab.fit(model, target, steps=8)
        after = m.bn_state(bns)
        return m.drift(state, after), m.largest_change(state.gamma, after.gamma)

    (drift, gamma), (fixed_drift, fixed_gamma) = run(True), run(False)
    metrics = {"moving_mean_drift": drift, "gamma_change": gamma,
               "trainable_moving_mean_drift": fixed_drift, "trainable_gamma_change": fixed_gamma}
    if drift <= m.STILL and gamma <= m.STILL and fixed_drift > DRIFT:
        return Outcome("confirmed", (
            "after training, the frozen BN layers still hold mean 0, variance 1, gamma 1: "
            "they only divide by sqrt(1 + epsilon) and normalise nothing; trainable ones "
            f"drift {fixed_drift:.3f}"), metrics)
    return Outcome("not reproduced", f"the BN layers moved (drift {drift:.3g})", metrics)


def bn_tiny_batch(lab: Lab, scenario: Scenario) -> Outcome:
    """BN401: fit() at the user's tiny batch size versus 32, from the same start."""
    batch = max(1, _count(scenario, "batch_size", 1))

    def run(size: int) -> float:
        _seed(lab)
        keras = lab.keras
        target = lab.task(_text(scenario, "input", "image"), target=True)
        model, base = lab.subject(scenario)
        lab.compile(model, "adam", 1e-3, eager=False)
        bns = m.bn_layers(base, keras)
        state = m.bn_state(bns)
        lab.fit(model, target, batch_size=size, steps=STEPS_TINY)
        after = m.bn_state(bns)
        import numpy as np

        ratios = [float(np.mean(new / old)) for old, new in
                  zip(state.moving_variance, after.moving_variance)]
        return sum(ratios) / len(ratios)

    tiny, normal = run(batch), run(32)
    metrics = {"batch_size": float(batch), "moving_variance_ratio": tiny,
               "batch32_moving_variance_ratio": normal}
    if tiny < 0.8 * normal:
        return Outcome("confirmed", (
            f"at batch size {batch} the moving variances shrank to {tiny:.2f} of their "
            f"value in {STEPS_TINY} steps (to {normal:.2f} at batch size 32): inference "
            "will divide by too small a variance"), metrics)
    return Outcome("not reproduced", (
        f"the moving variances at batch size {batch} stayed close to those at 32 "
        f"({tiny:.2f} vs {normal:.2f}): the BN layers average over more than the batch "
        "here (e.g. over image positions)"), metrics)


def lr_kwarg_ignored(lab: Lab, scenario: Scenario) -> Outcome:
    """BN212: an optimizer built with the removed ``lr=`` keyword."""
    kind = _text(scenario, "optimizer", "adam")
    rate = _rate(scenario, "rate", 1e-5)
    factory = lab.optimizer_class(kind)
    intended = float(m.array(factory(learning_rate=rate).learning_rate))
    try:
        built = factory(lr=rate)
    except Exception as error:  # noqa: BLE001 - Keras 3 rejects the keyword
        return Outcome("confirmed", (
            f"`{factory.__name__}(lr={rate:g})` raises {type(error).__name__}: "
            f"{str(error)[:100]}"), {"learning_rate_intended": intended})
    got = float(m.array(built.learning_rate))
    metrics = {"learning_rate": got, "learning_rate_intended": intended}
    if abs(got - intended) > 1e-3 * intended:
        return Outcome("confirmed", (
            f"`{factory.__name__}(lr={rate:g})` trains at learning rate {got:g}, not "
            f"{intended:g}: the keyword was dropped"), metrics)
    return Outcome("not reproduced", (
        f"`{factory.__name__}(lr={rate:g})` trains at {got:g}, as intended, in this "
        "flavour"), metrics)


def bn_momentum_pytorch_style(lab: Lab, scenario: Scenario) -> Outcome:
    """BN402: one training step of a BN layer with the user's momentum, on a batch whose
    mean is 10, from a moving mean of 0; and with ``1 - momentum``."""
    momentum = _rate(scenario, "bn_momentum", 0.1)

    def run(value: float) -> float:
        _seed(lab)
        layer = lab.keras.layers.BatchNormalization(momentum=value)
        batch = lab.np.random.RandomState(SEED).normal(10.0, 1.0, (32, 8)).astype("float32")
        layer(batch, training=True)
        return float(lab.np.mean(m.array(layer.moving_mean)))

    flagged, fixed = run(momentum), run(1 - momentum)
    metrics = {"momentum": momentum, "moving_mean_after_one_step": flagged,
               "corrected_moving_mean_after_one_step": fixed}
    if flagged > 5.0 and fixed < flagged / 2:
        return Outcome("confirmed", (
            f"one step on a batch with mean 10 moved the moving mean from 0 to {flagged:.2f} "
            f"with momentum={momentum:g} (it follows the last batch); to {fixed:.2f} with "
            f"momentum={1 - momentum:g}"), metrics)
    return Outcome("not reproduced", (
        f"the moving mean moved to {flagged:.2f} only (momentum={momentum:g})"), metrics)


def gan_freeze_between_compiles(lab: Lab, scenario: Scenario) -> Outcome:
    """BN209: the Keras FAQ recipe: D compiled, frozen, the GAN compiled, then D trained
    on its own; against D set trainable and recompiled first."""
    def run(recompiled: bool) -> tuple[float, float]:
        _seed(lab)
        keras, np = lab.keras, lab.np
        layers = keras.layers
        loss = keras.losses.BinaryCrossentropy(from_logits=True)
        discriminator = keras.Sequential([keras.Input((16,)), layers.Dense(16),
                                          layers.BatchNormalization(), layers.ReLU(),
                                          layers.Dense(1)])
        discriminator.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3), loss=loss)
        discriminator.trainable = False
        generator = keras.Sequential([keras.Input((4,)), layers.Dense(16)])
        gan = keras.Sequential([generator, discriminator])
        gan.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3), loss=loss)
        if recompiled:
            discriminator.trainable = True
            discriminator.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3),
                                  loss=loss)
        rng = np.random.RandomState(SEED)
        x = rng.normal(0.0, 1.0, (32, 16)).astype("float32")
        y = (rng.uniform(size=(32, 1)) > 0.5).astype("float32")
        bns = m.bn_layers(discriminator, keras)
        kernels, state = m.kernels(discriminator), m.bn_state(bns)
        for _ in range(3):
            discriminator.train_on_batch(x, y)
        return (m.relative_change(kernels, m.kernels(discriminator)),
                m.drift(state, m.bn_state(bns)))

    (kernel, drift), (fixed_kernel, _) = run(False), run(True)
    metrics = {"discriminator_kernel_change": kernel, "discriminator_bn_drift": drift,
               "corrected_discriminator_kernel_change": fixed_kernel}
    if kernel <= m.STILL and fixed_kernel > m.STILL:
        return Outcome("confirmed", (
            "train_on_batch() left the discriminator unchanged (kernels moved "
            f"{kernel:.3g}, BN drift {drift:.3g}): it is still frozen; set trainable and "
            f"recompile and it trains ({fixed_kernel:.3g})"), metrics)
    return Outcome("not reproduced", (
        f"the discriminator trained (kernels moved {kernel:.3g}): this flavour kept "
        "the trainability of its own compile()"), metrics)


# -- API misuse that raises (F15) ------------------------------------------------------------

# Required arguments of the layer classes a constructor check builds.
_REQUIRED: dict[str, tuple[object, ...]] = {"Dropout": (0.5,), "Dense": (1,), "Conv2D": (1, 1),
                                            "Conv1D": (1, 1), "SpatialDropout2D": (0.5,)}


def _raises(action: Callable[[], object], word: str) -> str | None:
    """The error ``action`` raises when its message names ``word``, else None."""
    try:
        action()
    except Exception as error:  # noqa: BLE001 - the error is what is measured
        text = f"{type(error).__name__}: {str(error)[:120]}"
        return text if word in str(error) else None
    return None


def training_in_constructor(lab: Lab, scenario: Scenario) -> Outcome:
    """BN104: ``Layer(training=...)``."""
    name = _text(scenario, "layer", "BatchNormalization")
    factory = getattr(lab.keras.layers, name, lab.keras.layers.BatchNormalization)
    args = _REQUIRED.get(name, ())
    error = _raises(lambda: factory(*args, training=False), "training")
    if error is not None:
        return Outcome("confirmed", f"`{name}(training=False)` raises {error}", {})
    return Outcome("not reproduced", f"`{name}(training=False)` was accepted", {})


def trainable_in_call(lab: Lab, scenario: Scenario) -> Outcome:
    """BN105: ``layer(x, trainable=False)``."""
    layer = lab.keras.layers.BatchNormalization()
    batch = lab.task("vector", target=True).probe_batch
    layer(batch)
    error = _raises(lambda: layer(batch, trainable=False), "trainable")
    if error is not None:
        return Outcome("confirmed", f"calling the layer with `trainable=False` raises {error}",
                       {})
    return Outcome("not reproduced", "the call with `trainable=False` was accepted", {})


def learning_phase_api(lab: Lab, scenario: Scenario) -> Outcome:
    """BN301: the global learning phase. Keras 3 removed it; where it exists, fit() passes
    ``training`` itself, so phase 0 does not keep BN in inference mode."""
    function = _text(scenario, "function", "set_learning_phase")
    backend = lab.keras.backend
    if not hasattr(backend, function):
        return Outcome("confirmed", (
            f"`keras.backend.{function}` does not exist in this flavour (AttributeError)"), {})
    scope = getattr(backend, "learning_phase_scope", None)
    if scope is None:
        return Outcome("inconclusive", "no learning_phase_scope to set the phase with", {})
    _seed(lab)
    target = lab.task(_text(scenario, "input", "image"), target=True)
    model, base = lab.subject(scenario)
    lab.compile(model, "adam", 1e-3)
    bns = m.bn_layers(base, lab.keras)
    state = m.bn_state(bns)
    with scope(0):
        lab.fit(model, target)
    drift = m.drift(state, m.bn_state(bns))
    metrics = {"moving_mean_drift": drift}
    if drift > DRIFT:
        return Outcome("confirmed", (
            "with the learning phase set to 0 (inference), fit() still ran BN in training "
            f"mode: the moving means drifted {drift:.3f} std"), metrics)
    return Outcome("not reproduced", "learning phase 0 kept BN in inference mode", metrics)


def removed_in_keras3(lab: Lab, scenario: Scenario) -> Outcome:
    """BN305: an argument or symbol Keras 3 removed."""
    feature = _text(scenario, "feature", "fused")
    keras = lab.keras
    values: dict[str, object] = {"fused": True, "virtual_batch_size": 8, "adjustment": None}
    if feature in values:
        error = _raises(lambda: keras.layers.BatchNormalization(**{feature: values[feature]}),
                        feature)
        what = f"`BatchNormalization({feature}=...)`"
    elif feature == "SyncBatchNormalization":
        layers = keras.layers
        found = getattr(layers, feature, None) or getattr(
            getattr(layers, "experimental", None), feature, None)
        error = None if found is not None else "AttributeError: no such layer"
        what = f"`{feature}`"
    else:
        import tensorflow as tf

        batch = lab.task("vector", target=True).probe_batch
        error = _raises(lambda: tf.compat.v1.layers.batch_normalization(batch), "Keras 3")
        what = "`tf.compat.v1.layers.batch_normalization`"
    if error is not None:
        return Outcome("confirmed", f"{what} fails: {error}", {})
    return Outcome("not reproduced", f"{what} works in this flavour", {})


SCENARIOS: dict[str, Scenario_] = {
    "BN101": training_attribute,
    "BN104": training_in_constructor,
    "BN105": trainable_in_call,
    "BN106": training_ignored_on_frozen_bn,
    "BN107": custom_loop_without_training,
    "BN108": training_true_at_inference,
    "BN109": bn_frozen_from_scratch,
    "BN201": unfrozen_bn_in_training_mode,
    "BN202": training_false_ignored,
    "BN203": trainable_changed_after_compile,
    "BN204": unfreeze_without_lower_lr,
    "BN205": container_trainable_resets_freeze,
    "BN206": unfreeze_child_of_frozen_container,
    "BN207": nothing_trainable,
    "BN209": gan_freeze_between_compiles,
    "BN212": lr_kwarg_ignored,
    "BN301": learning_phase_api,
    "BN305": removed_in_keras3,
    "BN401": bn_tiny_batch,
    "BN402": bn_momentum_pytorch_style,
}
