"""The runtime probe: real TensorFlow on CPU, a small stand-in model, the flagged
sequence replayed. Each scenario must confirm on a rule's own flagged example and not
confirm on the corrected code; the CLI must carry the verdicts into every output."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bnlint.probe.result import ProbeResult, probe_text
from bnlint.probe.scenario import Scenario, scenario
from bnlint.probe.session import Pool
from bnlint.registry import all_rules
from bnlint.testing import lint_example

ROOT = Path(__file__).resolve().parent.parent
SARIF_SCHEMA = Path("/work/shared/schemas/sarif-schema-2.1.0.json")
PROBED = ("BN101", "BN104", "BN105", "BN106", "BN107", "BN108", "BN109", "BN201", "BN202", "BN203",
          "BN204", "BN205", "BN206", "BN207", "BN209", "BN212", "BN301", "BN305", "BN401", "BN402")
RULES = {rule.code: rule for rule in all_rules()}


# Facts a rule's flagged example must have to be the one probed here: at probe scale a
# few plain-SGD steps at 1e-3 barely move the base (not reproduced; see bench/probe.py).
WANTED = {"BN204": ("optimizer", "adam")}


# F7: Keras 3 on TensorFlow skips `base.trainable = True` when it is True already, as
# in BN205's examples; tf-keras (and JAX) reset the BN layers.
FLAVOUR = {"BN205": "tf-keras"}


def flagged_scenario(code: str) -> Scenario:
    """The scenario of the first of the rule's flagged examples that declares one."""
    rule = RULES[code]
    key, value = WANTED.get(code, ("", None))
    for example in rule.examples(flagged=True):
        for finding in lint_example(rule, example):
            if finding.scenario is not None and finding.scenario.get(key) == value:
                return finding.scenario
    raise AssertionError(f"no flagged example of {code} carries a probe scenario")


# -- without TensorFlow ----------------------------------------------------------------------

@pytest.mark.parametrize("code", PROBED)
def test_each_probed_rule_gives_its_flagged_examples_a_scenario(code: str) -> None:
    found = flagged_scenario(code)
    assert found.rule == code


def test_scenarios_round_trip_through_json() -> None:
    original = scenario("BN204", finetune_rate=1e-3, container="sequential", head_rate=None)
    assert Scenario.from_json(json.loads(json.dumps(original.to_json()))) == original
    assert original.get("head_rate") is None  # unknown facts are left out


def test_a_malformed_worker_answer_is_an_error_verdict() -> None:
    assert ProbeResult.from_json({"verdict": "great"}).verdict == "error"
    result = ProbeResult.from_json({"verdict": "confirmed", "summary": "x",
                                    "metrics": {"drift": 0.5, "bad": "no"}})
    assert result.metrics == (("drift", 0.5),)


def test_without_tensorflow_probe_exits_2_naming_the_install(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from bnlint.cli import main
    from bnlint.probe import session

    monkeypatch.setattr(session, "find_spec", lambda name: None)
    status = main(["--probe", str(ROOT / "examples" / "train_custom_loop.py")])
    err = capsys.readouterr().err
    assert status == 2
    assert "pip install 'bnlint[probe]'" in err
    assert "Traceback" not in err


def test_unknown_probe_flavour_is_a_usage_error() -> None:
    done = subprocess.run([sys.executable, "-m", "bnlint", "--probe-flavours", "jax", "x.py"],
                          check=False, capture_output=True, text=True)
    assert done.returncode == 2
    assert "unknown flavour jax" in done.stderr


# -- with TensorFlow -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pool() -> Iterator[Pool]:
    workers = Pool(timeout=300)
    yield workers
    workers.close()


# For each rule: the corrected code's own arm of the scenario (same start, the fix
# applied) must show no effect: (metric, largest value that means "no effect").
CORRECTED = {
    "BN101": ("corrected_moving_mean_drift", 0.0),
    "BN106": ("trainable_moving_mean_drift", None),
    "BN107": ("corrected_moving_mean_drift", None),
    "BN108": ("corrected_moving_mean_drift", 0.0),
    "BN109": ("trainable_moving_mean_drift", None),
    "BN201": ("corrected_moving_mean_drift", 0.0),
    "BN202": ("corrected_moving_mean_drift", 0.0),
    "BN203": ("recompiled_base_kernel_change", None),
    "BN204": ("lower_rate_feature_change", 0.05),
    "BN205": ("corrected_moving_mean_drift", 0.0),
    "BN207": ("corrected_largest_weight_change", None),
    "BN209": ("corrected_discriminator_kernel_change", None),
    "BN402": ("corrected_moving_mean_after_one_step", 5.0),
}


@pytest.mark.probe
@pytest.mark.parametrize("code", PROBED)
def test_probe_confirms_the_rules_flagged_example(pool: Pool, code: str) -> None:
    result = pool.run(FLAVOUR.get(code, "keras3"), flagged_scenario(code))
    if code == "BN401":  # its flagged examples train convolutions: see the next test
        assert result.verdict in {"confirmed", "not reproduced"}, result.summary
        return
    assert result.verdict == "confirmed", result.summary
    assert result.versions and result.flavour == FLAVOUR.get(code, "keras3")
    metrics = dict(result.metrics)
    if code in CORRECTED:
        name, limit = CORRECTED[code]
        if limit is None:  # the corrected code shows the effect the flagged one lacks
            assert metrics[name] > 1e-4, metrics
        else:
            assert metrics[name] <= limit, metrics


@pytest.mark.probe
@pytest.mark.parametrize(("flagged", "corrected"), [
    (scenario("BN204", finetune_rate=1e-3, head_rate=1e-3),
     scenario("BN204", finetune_rate=1e-5, head_rate=1e-3)),
    (scenario("BN401", batch_size=1, input="vector"),
     scenario("BN401", batch_size=32, input="vector")),
    (scenario("BN203", change="unfreeze", fit_before_change=True),
     scenario("BN203", change="unfreeze", fit_before_change=False)),
])
def test_probe_does_not_confirm_the_corrected_code(pool: Pool, flagged: Scenario,
                                                    corrected: Scenario) -> None:
    assert pool.run("keras3", flagged).verdict == "confirmed"
    assert pool.run("keras3", corrected).verdict == "not reproduced"


@pytest.mark.probe
def test_flavours_differ_where_the_catalogue_says(pool: Pool) -> None:
    """F5: Keras 3.0-3.15 overrides a functional training=False, tf-keras honours it."""
    functional = flagged_scenario("BN202")
    assert pool.run("keras3", functional).verdict == "confirmed"
    tf_keras = pool.run("tf-keras", functional)
    assert tf_keras.verdict == "not reproduced", tf_keras.summary
    assert tf_keras.flavour == "tf-keras"


@pytest.mark.probe
def test_container_reset_depends_on_whether_the_value_changes(pool: Pool) -> None:
    """F7 on Keras 3 + TensorFlow: only a real False -> True transition recurses."""
    unchanged = pool.run("keras3", scenario("BN205", container_before=True))
    assert unchanged.verdict == "not reproduced"
    assert "skips assigning" in unchanged.summary
    assert pool.run("keras3", scenario("BN205", container_before=False)).verdict == "confirmed"


@pytest.mark.probe
def test_a_scenario_past_its_time_limit_is_an_error_and_the_run_goes_on() -> None:
    pool = Pool(timeout=0.05)
    try:
        slow = pool.run("keras3", scenario("BN204"))
        assert slow.verdict == "error" and "stopped after" in slow.summary
        pool.timeout = 300
        assert pool.run("keras3", scenario("BN207")).verdict == "confirmed"
    finally:
        pool.close()


@pytest.mark.probe
def test_a_worker_that_dies_is_an_error_and_the_next_scenario_gets_a_new_one() -> None:
    pool = Pool(timeout=300)
    try:
        assert pool.run("keras3", scenario("BN402", bn_momentum=0.1)).verdict == "confirmed"
        worker = pool._workers["keras3"]
        assert not isinstance(worker, str)
        # the worker dies while it runs a scenario (as on a segfault or the OOM killer)
        import threading

        threading.Timer(1.0, worker.process.kill).start()
        died = pool.run("keras3", scenario("BN204", finetune_rate=0.01))
        assert died.verdict == "error" and "crashed" in died.summary, died.summary
        assert pool.run("keras3", scenario("BN402", bn_momentum=0.3)).verdict == "confirmed"
    finally:
        pool.close()


def test_a_rule_without_scenario_says_so() -> None:
    from bnlint.probe.result import no_probe

    assert probe_text(no_probe("BN212")) == "no probe for this rule"


@pytest.mark.probe
def test_cli_probe_reports_verdicts_in_text_and_json(tmp_path: Path) -> None:
    example = ROOT / "examples" / "train_custom_loop.py"
    done = subprocess.run(
        [sys.executable, "-m", "bnlint", "--probe", "--output-format", "json", str(example)],
        check=False, capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 1, done.stderr
    findings = json.loads(done.stdout)
    probed = {item["code"]: item["probe"] for item in findings}
    assert probed["BN107"][0]["verdict"] == "confirmed"
    assert probed["BN107"][0]["flavour"] == "keras3"
    assert probed["BN107"][0]["metrics"]["corrected_moving_mean_drift"] > 0
    assert "Probe: " in done.stderr and "confirmed" in done.stderr
    text = subprocess.run(
        [sys.executable, "-m", "bnlint", "--probe", "--output-format", "concise",
         str(example)], check=False, capture_output=True, text=True, cwd=ROOT)
    assert "    probe: confirmed (keras3): after the custom training steps" in text.stdout


@pytest.mark.probe
def test_readme_probe_example_is_what_the_cli_prints() -> None:
    """The README's `--probe` console block: each `probe:` line's verdict and sentence
    up to its first number, and the summary's counts."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("$ bnlint --probe --output-format concise ", 1)[1].split("```", 1)[0]
    command, *shown = block.splitlines()
    done = subprocess.run([sys.executable, "-m", "bnlint", "--probe", "--output-format",
                           "concise", command.strip()], check=False, capture_output=True,
                          text=True, cwd=ROOT)
    printed = [line for line in done.stdout.splitlines() if line.startswith("    probe:")]
    expected = [line for line in shown if line.startswith("    probe:")]
    assert len(printed) == len(expected) >= 2

    def stem(line: str) -> tuple[str, str]:
        head, sentence = line.split("): ", 1)
        words = sentence.split()
        return head, " ".join(words[:next(i for i, w in enumerate(words)
                                          if any(ch.isdigit() for ch in w))])

    assert [stem(line) for line in printed] == [stem(line) for line in expected]
    summary = next(line for line in shown if line.startswith("Probe: "))
    assert done.stderr.strip().splitlines()[-1].split(" in ")[0] == summary.split(" in ")[0]


def test_every_output_format_carries_the_verdict(tmp_path: Path) -> None:
    """Without TensorFlow: a finding with a verdict attached, rendered in each format."""
    from dataclasses import replace

    from bnlint.formats.full import render_full
    from bnlint.formats.github import render_github
    from bnlint.formats.gitlab import render_gitlab
    from bnlint.formats.junit import render_junit
    from bnlint.formats.sarif import render_sarif
    from bnlint.report import render_json, render_text
    from bnlint.runner import lint_text
    from bnlint.settings import Settings

    code = (ROOT / "examples" / "train_custom_loop.py").read_text(encoding="utf-8")
    selected = frozenset(rule.code for rule in all_rules())
    result = lint_text("train.py", code, Settings(), all_rules(), selected)
    verdict = ProbeResult("confirmed", "the moving means did not move", "keras3",
                          (("keras", "3.15.1"),), (("moving_mean_drift", 0.0),), 1.5)
    probed = replace(result, findings=tuple(replace(finding, probe=(verdict,))
                                            for finding in result.findings))
    line = "probe: confirmed (keras3): the moving means did not move"
    for render in (render_text, render_full, render_github, render_junit):
        assert line in render([probed]), render
    assert line in json.loads(render_gitlab([probed]))[0]["description"]
    first = json.loads(render_json([probed]))[0]["probe"][0]
    assert first == {"verdict": "confirmed", "summary": "the moving means did not move",
                     "flavour": "keras3", "versions": {"keras": "3.15.1"},
                     "metrics": {"moving_mean_drift": 0.0}, "seconds": 1.5}
    sarif = json.loads(render_sarif([probed], []))
    assert sarif["runs"][0]["results"][0]["properties"]["probe"][0]["verdict"] == "confirmed"
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.validators.validator_for(schema)(schema).validate(sarif)
