"""How training repeats: loop iterations, callback hooks, and the compile in force."""

from __future__ import annotations

import textwrap

import libcst as cst
import pytest

from bnlint.semantic.build import build_model
from bnlint.semantic.events import Event
from bnlint.semantic.model import SemanticModel
from bnlint.semantic.repetition import (
    Hook,
    Loop,
    hook_running,
    loops_repeating,
    more_than_one_epoch,
    sets_back,
)
from bnlint.semantic.values import Layer

COMPILED = """
import keras
base = keras.applications.ResNet50(include_top=False, pooling="avg")
model = keras.Sequential([base, keras.layers.Dense(10)])
model.compile(optimizer="adam", loss="mse")
"""


def model_of(code: str) -> SemanticModel:
    return build_model(cst.parse_module(COMPILED + textwrap.dedent(code)))


def changes(model: SemanticModel) -> list[Event]:
    return list(model.events_of("set_trainable"))


def loop_around(model: SemanticModel, event: Event) -> Loop:
    return next(loops_repeating(model, event))


def layer_named(model: SemanticModel, label: str) -> Layer:
    return [layer for layer in model.layers if layer.label == label][-1]


def hook_of(code: str) -> tuple[Hook, Event]:
    model = model_of(code)
    change = changes(model)[-1]
    hook = hook_running(model, change)
    assert hook is not None
    return hook, change


@pytest.mark.parametrize(("condition", "after_first"), [
    ("epoch == 5", True),
    ("epoch == 0", False),
    ("epoch >= 1", True),
    ("epoch >= 0", False),
    ("epoch > 0", True),
    ("epoch < 3", False),
    ("epoch == UNFREEZE_AT", True),
    ("step == 5", False),  # not the loop variable
    ("epoch % 2 == 1", False),  # not a shape that says which iteration
])
def test_a_guard_on_the_loop_variable_says_whether_a_step_runs_after_the_first_iteration(
        condition: str, after_first: bool) -> None:
    model = model_of(f"""
    UNFREEZE_AT = 3
    for epoch in range(10):
        if {condition}:
            base.trainable = True
        model.fit(x, y, epochs=1)
    """)
    change = changes(model)[-1]
    assert loop_around(model, change).runs_after_first_iteration(change) is after_first


def test_the_else_of_a_first_iteration_guard_runs_after_the_first_iteration() -> None:
    model = model_of("""
    for epoch in range(10):
        if epoch == 0:
            pass
        else:
            base.trainable = True
        model.fit(x, y, epochs=1)
    """)
    change = changes(model)[-1]
    assert loop_around(model, change).runs_after_first_iteration(change)


def test_a_while_loop_has_no_iteration_counter() -> None:
    model = model_of("""
    epoch = 0
    while epoch < 10:
        if epoch == 5:
            base.trainable = True
        model.fit(x, y, epochs=1)
        epoch += 1
    """)
    change = changes(model)[-1]
    assert not loop_around(model, change).runs_after_first_iteration(change)


@pytest.mark.parametrize(("condition", "before_last"), [
    ("epoch == 5", True),
    ("epoch == 9", False),  # range(10) ends at 9
    ("epoch > 8", False),
    ("epoch >= 8", True),
    ("epoch < 5", False),  # not a shape read as "some later iteration follows"
])
def test_a_guard_below_the_last_value_of_range_runs_before_the_last_iteration(
        condition: str, before_last: bool) -> None:
    model = model_of(f"""
    EPOCHS = 10
    for epoch in range(EPOCHS):
        model.fit(x, y, epochs=1)
        if {condition}:
            base.trainable = True
    """)
    change = changes(model)[-1]
    loop = loop_around(model, change)
    assert loop.last_value() == 9
    assert loop.runs_before_last_iteration(change) is before_last


def test_the_last_value_of_an_unknown_range_is_unknown() -> None:
    model = model_of("""
    for epoch in range(args.epochs):
        model.fit(x, y, epochs=1)
        if epoch == 5:
            base.trainable = True
    """)
    change = changes(model)[-1]
    loop = loop_around(model, change)
    assert loop.last_value() is None
    assert loop.runs_before_last_iteration(change)


@pytest.mark.parametrize(("body", "early"), [
    ("if epoch == 5:\n    break", True),
    ("if epoch == 5:\n    return", True),
    ("if epoch == 5:\n    raise StopIteration", True),
    ("def helper():\n    return 1", False),
    ("callback = lambda: None", False),
    ("for batch in batches:\n    break", False),  # leaves the inner loop only
    ("for batch in batches:\n    return", True),
    ("for batch in batches:\n    pass\nelse:\n    break", True),
    ("while True:\n    raise ValueError()", True),
    ("pass", False),
])
def test_a_loop_may_end_early_only_by_its_own_exits(body: str, early: bool) -> None:
    code = ("def train():\n"
            "    for epoch in range(10):\n"
            "        base.trainable = True\n"
            "        model.fit(x, y, epochs=1)\n"
            f"{textwrap.indent(body, ' ' * 8)}\n"
            "train()\n")
    model = model_of(code)
    change = changes(model)[-1]
    assert loop_around(model, change).may_end_early() is early


def test_a_loop_body_holds_the_events_of_one_iteration_and_only_those() -> None:
    model = model_of("""
    base.trainable = False
    for epoch in range(10):
        if epoch == 5:
            base.trainable = True
        model.fit(x, y, epochs=1)
    model.evaluate(x, y)
    """)
    change = changes(model)[-1]
    loop = loop_around(model, change)
    kinds = [event.kind for _, event in loop.body]
    assert kinds == ["set_trainable", "fit"]
    fit = next(event for _, event in loop.body if event.kind == "fit")
    assert loop.runs_every_iteration(fit) and not loop.is_guarded(fit)
    assert loop.is_guarded(change) and not loop.runs_every_iteration(change)
    assert not loop.runs_every_iteration(next(model.events_of("evaluate")))


def test_loops_repeating_lists_the_innermost_loop_first() -> None:
    model = model_of("""
    for stage in range(2):
        for epoch in range(10):
            base.trainable = True
    """)
    change = changes(model)[-1]
    found = [loop.node for loop in loops_repeating(model, change)]
    assert [node.target.value for node in found if isinstance(node, cst.For)
            and isinstance(node.target, cst.Name)] == ["epoch", "stage"]


def test_a_loop_under_a_condition_is_not_entered_whenever_the_compile_ran() -> None:
    model = model_of("""
    if args.finetune:
        for epoch in range(10):
            base.trainable = True
            model.fit(x, y, epochs=1)
    """)
    change = changes(model)[-1]
    loop = loop_around(model, change)
    compile_event = next(model.events_of("compile"))
    assert not loop.entered_whenever(compile_event, loop.body[0][1])


def test_a_module_level_loop_is_entered_whenever_the_compile_ran() -> None:
    model = model_of("""
    for epoch in range(10):
        base.trainable = True
        model.fit(x, y, epochs=1)
    """)
    change = changes(model)[-1]
    loop = loop_around(model, change)
    compile_event = next(model.events_of("compile"))
    assert loop.entered_whenever(compile_event, loop.body[0][1])


def test_a_loop_that_sets_the_flag_back_toggles_it() -> None:
    model = model_of("""
    for step in range(100):
        base.trainable = True
        model.fit(x, y, epochs=1)
        base.trainable = False
    """)
    unfreeze = changes(model)[0]
    body = [event for _, event in loop_around(model, unfreeze).body]
    assert sets_back(unfreeze, body)
    one_way = model_of("""
    for step in range(100):
        base.trainable = True
        model.fit(x, y, epochs=1)
    """)
    change = changes(one_way)[-1]
    assert not sets_back(change, [event for _, event in loop_around(one_way, change).body])


def test_the_fits_every_iteration_runs_exclude_guarded_ones() -> None:
    model = model_of("""
    for epoch in range(10):
        base.trainable = True
        model.fit(x, y, epochs=1)
        if epoch % 5 == 0:
            model.fit(x_val, y_val, epochs=1)
    """)
    loop = loop_around(model, changes(model)[-1])
    net = layer_named(model, "model")
    assert [event for _, event in loop.fits_every_iteration(net)] == [
        next(model.events_of("fit"))]
    assert loop.fits_every_iteration(layer_named(model, "base")) == []


def test_a_loop_that_recompiles_may_recapture_the_change() -> None:
    model = model_of("""
    for epoch in range(10):
        base.trainable = True
        model.compile(optimizer="sgd", loss="mse")
        model.fit(x, y, epochs=1)
    """)
    change = changes(model)[-1]
    net, base = layer_named(model, "model"), layer_named(model, "base")
    assert loop_around(model, change).may_recapture(net, base)
    plain = model_of("""
    for epoch in range(10):
        base.trainable = True
        model.fit(x, y, epochs=1)
    """)
    change = changes(plain)[-1]
    assert not loop_around(plain, change).may_recapture(layer_named(plain, "model"),
                                                        layer_named(plain, "base"))


UNFREEZE_HOOK = """
class Unfreeze(keras.callbacks.Callback):
    def {hook}(self, {counter}, logs=None):
        {guard}base.trainable = True
model.fit(x, y, {epochs}callbacks=[Unfreeze()])
"""


def hook_code(hook: str, epochs: str = "epochs=10, ", guard: str = "",
              counter: str = "epoch") -> str:
    if guard:
        guard = f"if {guard}:\n            "
    return UNFREEZE_HOOK.format(hook=hook, epochs=epochs, guard=guard, counter=counter)


@pytest.mark.parametrize(("epochs", "later"), [
    ("epochs=1, ", False),  # the one epoch is over: only a later fit() would see it
    ("", False),  # fit() runs one epoch by default
    ("epochs=10, ", True),
    ("epochs=n, ", True),
])
def test_on_epoch_end_acts_after_a_train_step_when_another_epoch_follows(
        epochs: str, later: bool) -> None:
    hook, change = hook_of(hook_code("on_epoch_end", epochs))
    assert hook.name == "on_epoch_end"
    assert hook.acts_after_first_step(change) is later


@pytest.mark.parametrize(("hook_name", "guard", "later"), [
    ("on_epoch_begin", "epoch == 5", True),
    ("on_epoch_begin", "epoch == 0", False),  # before the first train step: it applies
    ("on_epoch_begin", "", False),
    ("on_train_batch_begin", "epoch >= 1", True),
    ("on_train_batch_end", "", True),
    ("on_batch_end", "", True),
    ("on_train_begin", "", False),
    ("on_train_end", "", False),
])
def test_which_hook_calls_come_after_a_train_step(hook_name: str, guard: str,
                                                  later: bool) -> None:
    hook, change = hook_of(hook_code(hook_name, guard=guard))
    assert hook.acts_after_first_step(change) is later


def test_a_hook_is_run_by_the_fit_that_names_its_callback() -> None:
    hook, change = hook_of(hook_code("on_epoch_end"))
    assert hook.fit.kind == "fit" and hook.fit.layer is not None
    assert change in hook.events()
    assert not hook.rebuilds_train_function()


def test_a_hook_that_stops_training_may_end_its_fit() -> None:
    hook, _ = hook_of("""
    class Unfreeze(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            base.trainable = True
            self.model.stop_training = True
    model.fit(x, y, epochs=10, callbacks=[Unfreeze()])
    """)
    assert hook.may_end_fit_or_escape()
    plain, _ = hook_of(hook_code("on_epoch_end"))
    assert not plain.may_end_fit_or_escape()


def test_a_hook_that_rebuilds_the_train_function() -> None:
    hook, _ = hook_of("""
    class Unfreeze(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            base.trainable = True
            self.model.make_train_function(force=True)
    model.fit(x, y, epochs=10, callbacks=[Unfreeze()])
    """)
    assert hook.rebuilds_train_function()


def test_a_step_outside_any_hook_has_none() -> None:
    model = model_of("base.trainable = True\nmodel.fit(x, y)\n")
    assert hook_running(model, changes(model)[-1]) is None


@pytest.mark.parametrize(("call", "more"), [
    ("model.fit(x, y)", False),
    ("model.fit(x, y, epochs=1)", False),
    ("model.fit(x, y, 32, 1)", False),
    ("model.fit(x, y, 32, 5)", True),
    ("model.fit(x, y, epochs=EPOCHS)", True),
])
def test_more_than_one_epoch(call: str, more: bool) -> None:
    node = cst.parse_expression(call)
    assert more_than_one_epoch(node) is more


def test_the_compile_in_force_and_the_first_fit_under_it() -> None:
    model = model_of("""
    model.fit(x, y)
    base.trainable = True
    model.fit(x, y)
    """)
    change = changes(model)[-1]
    position = model.events.index(change)
    net = layer_named(model, "model")
    compiled = model.compiled_before(net, position)
    assert compiled is not None
    fits = list(model.events_of("fit"))
    assert compiled.compile is next(model.events_of("compile"))
    assert compiled.first_fit is fits[0]
    assert model.next_fit_without_recompile(position, net, change.layer or net) is fits[1]


def test_no_fit_yet_under_the_compile_in_force() -> None:
    model = model_of("""
    base.trainable = False
    model.fit(x, y)
    """)
    change = changes(model)[-1]
    compiled = model.compiled_before(layer_named(model, "model"), model.events.index(change))
    assert compiled is not None and compiled.first_fit is None


def test_a_compile_that_may_not_run_is_not_in_force() -> None:
    model = model_of("""
    if args.recompile:
        model.compile(optimizer="sgd", loss="mse")
    base.trainable = True
    model.fit(x, y)
    """)
    change = changes(model)[-1]
    assert model.compiled_before(layer_named(model, "model"),
                                 model.events.index(change)) is None


def test_a_fit_that_may_or_may_not_run_leaves_the_outcome_open() -> None:
    model = model_of("""
    if args.warmup:
        model.fit(x, y)
    base.trainable = True
    model.fit(x, y)
    """)
    change = changes(model)[-1]
    assert model.compiled_before(layer_named(model, "model"),
                                 model.events.index(change)) is None


def test_a_recompile_before_the_next_fit_captures_the_change() -> None:
    model = model_of("""
    model.fit(x, y)
    base.trainable = True
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, y)
    """)
    change = changes(model)[-1]
    net = layer_named(model, "model")
    assert model.next_fit_without_recompile(model.events.index(change), net,
                                            change.layer or net) is None


def test_a_model_with_a_compile_before_nothing_is_compiled_before_it() -> None:
    model = model_of("")
    compile_event = next(model.events_of("compile"))
    net = layer_named(model, "model")
    assert model.compiled_before(net, model.events.index(compile_event)) is None
