"""Paths through branches: a finding holds on one consistent path and names its condition."""

from __future__ import annotations

import textwrap

import libcst as cst
import pytest

from bnlint.finding import Finding
from bnlint.registry import all_rules
from bnlint.semantic.build import build_models
from bnlint.semantic.paths import MAX_PATHS, PathOracle, explore
from bnlint.testing import lint_snippet

PRETRAINED = """
import argparse
import keras
args = argparse.ArgumentParser().parse_args()
base = keras.applications.ResNet50(include_top=False, pooling="avg")
base.trainable = False
model = keras.Sequential([base, keras.layers.Dense(10)])
model.compile(optimizer="adam", loss="mse")
model.fit(x, y)
"""


def findings(code: str, select: str | None = None) -> list[Finding]:
    found = lint_snippet(textwrap.dedent(code), list(all_rules()))
    return [f for f in found if select is None or f.code == select]


def notes(finding: Finding) -> list[str]:
    return [related.message for related in finding.related]


def test_step_under_an_unknown_condition_is_reported_with_its_condition() -> None:
    code = PRETRAINED + """
if args.finetune:
    base.trainable = True
    model.compile(optimizer=keras.optimizers.Adam(1e-5), loss="mse")
    model.fit(x, y)
"""
    (finding,) = findings(code, "BN201")
    assert finding.span.start.row == 12
    assert "when `args.finetune` is true" in notes(finding)


def test_the_same_condition_is_answered_the_same_way_on_one_path() -> None:
    # unfreeze and recompile sit under two `if`s with one condition: no path has the
    # unfreeze without the recompile, so there is no BN203
    code = PRETRAINED + """
if args.finetune:
    base.trainable = True
print("phase 2")
if args.finetune:
    model.compile(optimizer=keras.optimizers.Adam(1e-5), loss="mse")
model.fit(x, y)
"""
    assert findings(code, "BN203") == []
    assert findings(code, "BN201")  # while the unfreeze itself is still read


def test_negated_condition_is_the_same_condition() -> None:
    code = PRETRAINED + """
if args.finetune:
    base.trainable = True
if not args.finetune:
    pass
else:
    model.compile(optimizer=keras.optimizers.Adam(1e-5), loss="mse")
model.fit(x, y)
"""
    assert findings(code, "BN203") == []


def test_arms_of_one_if_elif_chain_are_never_combined() -> None:
    code = """
import keras
base = keras.applications.ResNet50(include_top=False, pooling="avg")
model = keras.Sequential([base, keras.layers.Dense(10)])
if mode == "frozen":
    base.trainable = False
elif mode == "finetune":
    base.trainable = True
model.compile(optimizer=keras.optimizers.Adam(1e-5), loss="mse")
model.fit(x, y)
"""
    # only a path that froze and then unfroze could make this an unfreeze
    assert findings(code, "BN201") == []
    for model in build_models(cst.parse_module(textwrap.dedent(code)))[1:]:
        flags = [e.value.value for e in model.events if e.kind == "set_trainable"]
        assert len(flags) <= 1


def test_early_return_puts_the_rest_of_the_function_on_the_other_arm() -> None:
    code = PRETRAINED + """
def finetune(args):
    if not args.finetune:
        return
    base.trainable = True
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y)

finetune(args)
"""
    (finding,) = findings(code, "BN204")
    assert "when `args.finetune` is true" in notes(finding)


def test_continue_after_a_bn_check_narrows_the_rest_of_the_loop() -> None:
    code = PRETRAINED + """
base.trainable = True
for layer in base.layers:
    if isinstance(layer, keras.layers.BatchNormalization):
        continue
    layer.trainable = True
for layer in base.layers:
    if isinstance(layer, keras.layers.BatchNormalization):
        layer.trainable = False
model.compile(optimizer=keras.optimizers.Adam(1e-5), loss="mse")
model.fit(x, y)
"""
    assert findings(code, "BN201") == []


# a base chosen by name, frozen, trained, unfrozen and trained again
CHOSEN_BASE = """
import keras
if args.arch == "resnet":
    base = keras.applications.ResNet50(include_top=False, pooling="avg")
else:
    base = keras.applications.{other}(include_top=False, pooling="avg")
base.trainable = False
model = keras.Sequential([base, keras.layers.Dense(10)])
model.compile(optimizer="adam", loss="mse")
model.fit(x, y)
base.trainable = True
model.compile(optimizer=keras.optimizers.Adam(1e-5), loss="mse")
model.fit(x, y)
"""


def test_what_both_arms_agree_on_holds_without_a_condition() -> None:
    (finding,) = findings(CHOSEN_BASE.format(other="EfficientNetB0"), "BN201")
    assert not any(note.startswith("when ") for note in notes(finding))


def test_a_known_constant_still_decides_the_branch() -> None:
    code = PRETRAINED + """
FINETUNE = False
if FINETUNE:
    base.trainable = True
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y)
"""
    assert findings(code) == []
    assert len(build_models(cst.parse_module(textwrap.dedent(code)))) == 1


def test_a_guard_that_is_skipped_does_not_make_a_finding() -> None:
    # on the path where `freeze` is false the base is simply not frozen: that is the
    # user's choice, not a forgotten freeze
    code = """
import keras
base = keras.applications.ResNet50(include_top=False, pooling="avg")
model = keras.Sequential([base, keras.layers.Dense(10)])
if freeze:
    base.trainable = False
model.compile(optimizer="adam", loss="mse")
model.fit(x, y)
"""
    found = lint_snippet(textwrap.dedent(code), [r for r in all_rules() if r.code == "BN210"])
    assert found == []


def test_conditions_inside_loops_stay_joined() -> None:
    code = PRETRAINED + """
for epoch in range(10):
    if epoch == 5:
        base.trainable = True
    model.fit(x, y)
"""
    assert len(build_models(cst.parse_module(textwrap.dedent(code)))) == 1


def test_conditions_that_do_not_touch_keras_are_not_paths() -> None:
    code = PRETRAINED + """
if args.verbose:
    print("training")
"""
    assert len(build_models(cst.parse_module(textwrap.dedent(code)))) == 1


def test_explore_enumerates_each_consistent_path_once() -> None:
    def replay(oracle: PathOracle) -> tuple[bool, ...]:
        first = oracle.decide("a", cst.If(test=cst.Name("a"), body=cst.IndentedBlock([])))
        if first:  # "b" is asked only where "a" is true
            return (first, oracle.decide("b", cst.If(test=cst.Name("b"),
                                                     body=cst.IndentedBlock([]))))
        return (first,)

    paths = explore(replay)
    assert paths is not None
    assert sorted(path.result for path in paths) == [(False,), (True, False), (True, True)]


def test_beyond_the_cap_the_first_paths_stand() -> None:
    conditions = "".join(f"if flag{i}:\n    base.trainable = {i % 2 == 0}\n"
                         for i in range(MAX_PATHS.bit_length() + 1))
    code = PRETRAINED + conditions + "model.fit(x, y)\n"
    joined, *paths = build_models(cst.parse_module(textwrap.dedent(code)))
    assert not joined.decisions
    assert len(paths) == MAX_PATHS
    # each one a consistent path: every condition answered once, no two paths alike
    answers = [tuple((d.key, d.value) for d in path.decisions) for path in paths]
    assert all(len({key for key, _ in answer}) == len(answer) for answer in answers)
    assert len(set(answers)) == MAX_PATHS


def test_a_condition_no_replayed_path_flipped_does_not_gate_a_finding() -> None:
    # more undecided conditions than paths replayed: the last ones keep one answer on
    # every replayed path that reports the unfreeze, which does not make it depend on
    # them (no replayed path tried their other answer); VGG16 has no BN, so the finding
    # holds when `args.arch == "resnet"` only
    noise = "".join(f"if option{i}:\n    model.compile(optimizer='adam', loss='mse')\n"
                    for i in range(MAX_PATHS.bit_length() + 1))
    (finding,) = findings(CHOSEN_BASE.format(other="VGG16") + noise, "BN201")
    assert "when `args.arch == \"resnet\"` is true" in notes(finding)


def test_text_output_names_the_condition(tmp_path: object) -> None:
    import subprocess
    import sys
    from pathlib import Path

    path = Path(str(tmp_path)) / "train.py"
    path.write_text(PRETRAINED + """
if args.finetune:
    base.trainable = True
    model.compile(optimizer=keras.optimizers.Adam(1e-5), loss="mse")
    model.fit(x, y)
""")
    result = subprocess.run([sys.executable, "-m", "bnlint", "--isolated", "--no-cache",
                             str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert f"note: {path}:11:4: when `args.finetune` is true" in result.stdout



# Two networks a program chooses between.
BUILDERS = """
import tensorflow as tf


def plain():
    return tf.keras.Sequential([tf.keras.layers.Dense(4)])


def with_bn():
    return tf.keras.Sequential([tf.keras.layers.Dense(4), tf.keras.layers.BatchNormalization()])
"""
STORED_FLAG = BUILDERS + """

class Trainer:
    def __init__(self, args):
        self.use_bn = args.use_bn
        if args.use_bn:
            self.net = with_bn()
        else:
            self.net = plain()
        self.opt = tf.keras.optimizers.Adam()

    def train_step(self, x):
        with tf.GradientTape() as tape:
            if {test}:
                y = self.net(x, training=True)
            else:
                y = self.net(x)
            loss = tf.reduce_mean(y)
        grads = tape.gradient(loss, self.net.trainable_variables)
        self.opt.apply_gradients(zip(grads, self.net.trainable_variables))
{driver}"""
LOOP_DRIVER = """
    def train(self, data):
        for epoch in range(10):
            for x in data:
                self.train_step(x)
"""


def test_a_flag_stored_on_the_instance_is_the_condition_it_was_read_from() -> None:
    # `self.use_bn` holds `args.use_bn`: the step's plain call runs only with the plain
    # network, on every path, whether the step is read on its own or from a loop
    for driver in ("", LOOP_DRIVER):
        assert findings(STORED_FLAG.format(test="self.use_bn", driver=driver), "BN107") == []
        alias = STORED_FLAG.replace("self.use_bn = args.use_bn", "use_bn = args.use_bn\n"
                                    "        self.options = args")
        assert findings(alias.format(test="self.options.use_bn", driver=driver),
                        "BN107") == []


def test_the_opposite_test_of_a_stored_flag_is_still_flagged() -> None:
    for driver in ("", LOOP_DRIVER):
        (finding,) = findings(STORED_FLAG.format(test="not self.use_bn", driver=driver),
                              "BN107")
        assert finding.span.start.row == 27
        # named as the first `if` on that path wrote it
        assert "when `args.use_bn` is true" in notes(finding)


def test_two_entries_of_one_settings_file_are_two_conditions(tmp_path: object) -> None:
    from pathlib import Path

    from bnlint.cli import main

    root = Path(str(tmp_path))
    (root / ".git").mkdir()
    (root / "config.json").write_text('{"use_bn": true, "eager": false}')
    (root / "train.py").write_text(textwrap.dedent("""
        import json
        import tensorflow as tf

        with open("config.json") as handle:
            cfg = json.load(handle)
        layers = [tf.keras.layers.Dense(4)]
        if cfg["use_bn"]:
            layers.append(tf.keras.layers.BatchNormalization())
        net = tf.keras.Sequential(layers)
        opt = tf.keras.optimizers.Adam()
        with tf.GradientTape() as tape:
            if not cfg["eager"]:
                y = net(x)
            else:
                y = net(x, training=True)
            loss = tf.reduce_mean(y)
        opt.apply_gradients(zip(tape.gradient(loss, net.trainable_variables),
                                net.trainable_variables))
        """))
    import contextlib
    import io
    import os

    out = io.StringIO()
    cwd = os.getcwd()
    os.chdir(root)
    try:
        with contextlib.redirect_stdout(out):
            code = main(["--no-cache", "--select", "BN107", "--format", "json", "train.py"])
    finally:
        os.chdir(cwd)
    import json

    found = json.loads(out.getvalue())
    # BatchNormalization is added when `use_bn`, and the plain call runs when `eager` is
    # false: two settings, so one path has both
    assert code == 1 and [item["location"]["row"] for item in found] == [14]


def test_a_note_names_the_value_a_parameter_condition_reads() -> None:
    # the generator's step calls it plainly when the discriminator has no BN: on the path
    # where the generator has BN and the discriminator not, one `if use_bn:` was asked
    # for two values, and each note says which
    code = BUILDERS + """

class Branch:
    def __init__(self, use_bn):
        self.use_bn = use_bn
        if use_bn:
            self.net = with_bn()
        else:
            self.net = plain()


def train(gen_cfg, disc_cfg, data):
    g = Branch(gen_cfg.use_bn)
    d = Branch(disc_cfg.use_bn)
    opt = tf.keras.optimizers.Adam()
    for x in data:
        with tf.GradientTape() as tape:
            if d.use_bn:
                y = g.net(x, training=True)
            else:
                y = g.net(x)
            loss = tf.reduce_mean(y)
        grads = tape.gradient(loss, g.net.trainable_variables)
        opt.apply_gradients(zip(grads, g.net.trainable_variables))
"""
    (finding,) = findings(code, "BN107")
    assert finding.span.start.row == 31
    said = [note for note in notes(finding) if note.startswith("when `use_bn`")]
    assert sorted(said) == ["when `use_bn` (`disc_cfg.use_bn`) is false",
                            "when `use_bn` (`gen_cfg.use_bn`) is true"]


@pytest.mark.parametrize(("stored", "built", "test"), [
    ('self.use_bn = args["use_bn"]', 'args["use_bn"]', "self.use_bn"),
    ("self.norm = args.norm", 'args.norm == "batch"', 'self.norm == "batch"'),
], ids=["subscript", "comparison"])
def test_other_spellings_of_a_stored_flag_are_one_condition(stored: str, built: str,
                                                             test: str) -> None:
    code = STORED_FLAG.replace("self.use_bn = args.use_bn", stored).replace(
        "        if args.use_bn:", f"        if {built}:")
    for driver in ("", LOOP_DRIVER):
        assert findings(code.format(test=test, driver=driver), "BN107") == []
        # the opposite test still pairs the plain call with the BN network
        assert findings(code.format(test=f"not {test}" if "==" not in test else
                                    test.replace("==", "!="), driver=driver), "BN107")


def test_a_parameter_default_stored_on_the_instance_is_one_condition() -> None:
    # `def __init__(self, use_bn=True)`: `if use_bn:` there and `if self.use_bn:` in the
    # step read the same value
    code = STORED_FLAG.replace("def __init__(self, args):", "def __init__(self, use_bn=True):")
    code = code.replace("self.use_bn = args.use_bn", "self.use_bn = use_bn").replace(
        "        if args.use_bn:", "        if use_bn:")
    for driver in ("", LOOP_DRIVER):
        assert findings(code.format(test="self.use_bn", driver=driver), "BN107") == []


def test_parameters_of_two_functions_are_two_values() -> None:
    # `flag` of `build` and `flag` of `fit` are fed different settings: a path builds the
    # BN network and steps it plainly
    code = """
import tensorflow as tf


def build(flag):
    if flag:
        return tf.keras.Sequential([tf.keras.layers.Dense(4), tf.keras.layers.BatchNormalization()])
    return tf.keras.Sequential([tf.keras.layers.Dense(4)])


def fit(net, data, flag):
    opt = tf.keras.optimizers.Adam()
    for x in data:
        with tf.GradientTape() as tape:
            if flag:
                y = net(x, training=True)
            else:
                y = net(x)
            loss = tf.reduce_mean(y)
        grads = tape.gradient(loss, net.trainable_variables)
        opt.apply_gradients(zip(grads, net.trainable_variables))


def main(data, cfg):
    net = build(cfg.get("use_bn", True))
    fit(net, data, cfg.get("log_activations", False))
"""
    assert [f.span.start.row for f in findings(code, "BN107")] == [18]


@pytest.mark.parametrize("test", [
    "self.norm == 'batch'", '"batch" == self.norm', 'not self.norm != "batch"',
], ids=["quotes", "reversed", "not-equal"])
def test_a_comparison_is_one_condition_however_it_is_spelt(test: str) -> None:
    code = STORED_FLAG.replace("self.use_bn = args.use_bn", "self.norm = args.norm").replace(
        "        if args.use_bn:", '        if args.norm == "batch":')
    for driver in ("", LOOP_DRIVER):
        assert findings(code.format(test=test, driver=driver), "BN107") == []


def test_a_note_on_a_negated_comparison_says_when_its_own_text_holds() -> None:
    # the step's `if self.norm != "batch":` runs the plain call where the norm is batch:
    # flagged on the path where `args.norm == "batch"` is true, whose first `if` is the
    # step's own, so the note reads as that `if` is written
    code = STORED_FLAG.replace("self.use_bn = args.use_bn", "self.norm = args.norm").replace(
        "        if args.use_bn:", '        if self.norm != "batch":').replace(
        "            self.net = with_bn()\n        else:\n            self.net = plain()",
        "            self.net = plain()\n        else:\n            self.net = with_bn()")
    (finding,) = findings(code.format(test='self.norm != "batch"', driver=""), "BN107")
    assert 'when `self.norm != "batch"` is false' in notes(finding)


STAGE_OPTION = """
import argparse
from tensorflow import keras
parser = argparse.ArgumentParser()
parser.add_argument("--stage", default="{default}")
args = parser.parse_args()
base = keras.applications.ResNet50(include_top=False, weights="imagenet", pooling="avg")
inputs = keras.Input((224, 224, 3))
model = keras.Model(inputs, keras.layers.Dense(5)(base(inputs, training=False)))
base.trainable = False
"""
STAGES = STAGE_OPTION + """{name} = {value}
if args.stage == "probe":
    model.compile(keras.optimizers.Adam(1e-3), "mse")
if {tested} == "{finetune}":
    base.trainable = True
    model.compile(keras.optimizers.Adam(1e-3), "mse")
model.fit(train_ds, epochs=5)
"""


@pytest.mark.parametrize("default", ["probe", "finetune"])
def test_a_finding_in_the_second_of_two_exclusive_arms_names_only_its_own(default: str) -> None:
    # `--stage finetune` skips the probe arm because one value equals one string: the
    # probe arm being false is implied, neither a condition nor a guard
    code = STAGES.format(default=default, name="run", value="1", tested="args.stage",
                         finetune="finetune")
    found = findings(code, "BN204")
    assert [f.span.start.row for f in found] == [16]
    assert not [note for note in notes(found[0]) if "probe" in note]
    assert any("finetune" in note for note in notes(found[0]))


def test_a_string_worked_out_from_an_option_is_not_the_option() -> None:
    # `run_name` holds `args.stage + "_resnet50"`: comparing it with a string says
    # nothing about which string `args.stage` equals, so neither arm excludes the other
    code = STAGES.format(default="probe", name="run_name", value='args.stage + "_resnet50"',
                         tested="run_name", finetune="finetune_resnet50")
    assert [f.span.start.row for f in findings(code, "BN204")] == [16]


def test_a_rate_chosen_by_a_string_worked_out_from_the_option_follows_it() -> None:
    # with `--stage finetune`, `run_name` is "finetune_resnet50" and the rate 1e-5
    code = STAGE_OPTION.format(default="finetune") + """lr = 1e-3
run_name = args.stage + "_resnet50"
if args.stage == "finetune":
    base.trainable = True
if run_name == "finetune_resnet50":
    lr = 1e-5
model.compile(keras.optimizers.Adam(lr), "sparse_categorical_crossentropy")
model.fit(train_ds, epochs=5)
"""
    assert findings(code, "BN204") == []


FLAG_OPTION = """
import argparse
parser = argparse.ArgumentParser()
parser.add_argument("--use_bn", {option})
trainer = Trainer(parser.parse_args())
for x in data:
    trainer.train_step(x)
"""


@pytest.mark.parametrize("test", ["self.use_bn == True", "self.use_bn is True",
                                  "not self.use_bn == False", "True == self.use_bn"])
def test_a_bool_flag_compared_with_true_is_the_flag(test: str) -> None:
    # `== True` of a `store_true` option asks what `if args.use_bn:` asked: the plain
    # call runs with the plain network
    driver = FLAG_OPTION.format(option='action="store_true"')
    assert findings(STORED_FLAG.format(test=test, driver="") + driver, "BN107") == []
    # and `== False` is its negation: the plain call runs with the BN network
    negated = STORED_FLAG.format(test="self.use_bn == False", driver="") + driver
    assert [f.code for f in findings(negated, "BN107")] == ["BN107"]


@pytest.mark.parametrize("option", ['type=int, default=1', 'default="True"', "default=True"])
def test_a_flag_that_holds_no_bool_is_not_its_comparison_with_true(option: str) -> None:
    # `1 is True` and `"True" == True` are false: the BN network is built and the step
    # takes the plain call (with the shipped default, or with `--use_bn` given a string)
    code = STORED_FLAG.format(test="self.use_bn is True", driver="") + FLAG_OPTION.format(
        option=option)
    assert [f.code for f in findings(code, "BN107")] == ["BN107"]


def test_a_layer_one_arm_adds_to_the_graph_is_the_finding_s_condition() -> None:
    # the joined replay puts both arms' layers in one graph; the finding holds only
    # when the BatchNormalization is built, and says so
    code = """
import argparse
from tensorflow import keras
parser = argparse.ArgumentParser()
parser.add_argument("--use-bn", action="store_true")
args = parser.parse_args()

def make_model(use_bn):
    inputs = keras.Input((10,))
    h = keras.layers.Dense(64)(inputs)
    if use_bn:
        h = keras.layers.BatchNormalization()(h)
    return keras.Model(inputs, keras.layers.Dense(1)(h))

model = make_model(args.use_bn)
model.compile("adam", "mse")
model.fit(x, y, batch_size=2)
model.save("m.keras")
"""
    found = findings(code, "BN401")
    assert [f.span.start.row for f in found] == [17]
    assert notes(found[0])[-1] == "when `use_bn` is true"


GRAPH_CHOICE = """
import argparse
import tensorflow as tf

def celeba_net(x):
    h = tf.contrib.layers.batch_norm(tf.layers.conv2d(x, 64, 4), is_training=True)
    return tf.layers.dense(tf.layers.flatten(h), 1)

def mnist_net(x):
    return tf.layers.dense(tf.layers.flatten(x), 1)

parser = argparse.ArgumentParser()
parser.add_argument("--dataset", default="mnist")
args = parser.parse_args()
x = tf.placeholder(tf.float32, [None, 64, 64, 3])
if args.dataset == "celeba":
    logits = celeba_net(x)
else:
    logits = mnist_net(x)
train_op = tf.train.AdamOptimizer(1e-3).minimize(tf.reduce_mean(logits))
"""


def test_a_tf1_batch_norm_only_one_arm_builds_is_the_finding_s_condition() -> None:
    # on the mnist path nothing runs `celeba_net`: it is not replayed there as if some
    # other file called it
    found = findings(GRAPH_CHOICE, "BN302")
    assert [f.span.start.row for f in found] == [20]
    assert notes(found[0]) == ["batch normalization built in training mode here",
                               'when `args.dataset == "celeba"` is true']
