"""BN103's message follows what the targeted Keras does with a non-bool `trainable=`:
Keras >= 3.15 raises in the constructor, older versions store the value, the setter
applies bool(); with the Keras 3 version unknown the message names both outcomes."""

from __future__ import annotations

import pytest

from bnlint.finding import Finding
from bnlint.registry import rule_by_code
from bnlint.testing import lint_snippet

CONSTRUCTOR = """
import keras
bn = keras.layers.BatchNormalization(trainable={value})
"""
ASSIGNMENT = """
import keras
bn = keras.layers.BatchNormalization()
bn.trainable = {value}
"""


def _findings(code: str, target: str, version: str | None) -> list[Finding]:
    rule = rule_by_code("BN103")
    assert rule is not None
    return lint_snippet(code, [rule], target, version)


@pytest.mark.parametrize("value", ['"False"', '"True"', "None", "0", "1", '""'])
@pytest.mark.parametrize("version", ["3.15.0", "3.15.1", "3.16.0"])
def test_keras_3_15_and_later_report_the_constructor_error(value: str, version: str) -> None:
    [finding] = _findings(CONSTRUCTOR.format(value=value), "keras3", version)
    assert "raises `ValueError`" in finding.message
    assert "stores" not in finding.message
    assert finding.severity == "error"


def test_keras_before_3_15_says_the_constructor_stores_the_string() -> None:
    [finding] = _findings(CONSTRUCTOR.format(value='"False"'), "keras3", "3.14.0")
    assert "stores the string" in finding.message
    assert "raises" not in finding.message


def test_keras_before_3_15_keeps_an_int_as_information() -> None:
    [finding] = _findings(CONSTRUCTOR.format(value="0"), "keras3", "3.14.0")
    assert finding.severity == "info"


def test_unknown_keras_3_version_names_both_outcomes() -> None:
    [finding] = _findings(CONSTRUCTOR.format(value='"False"'), "keras3", None)
    assert "Keras >= 3.15 raises `ValueError`" in finding.message
    assert "store the string" in finding.message


def test_tf_keras_says_the_constructor_stores_the_string() -> None:
    [finding] = _findings(CONSTRUCTOR.format(value='"False"'), "tf-keras", None)
    assert "the constructor stores the string" in finding.message
    assert "raises" not in finding.message


@pytest.mark.parametrize("version", ["3.14.0", "3.15.1", None])
def test_assignment_never_raises_the_setter_applies_bool(version: str | None) -> None:
    [finding] = _findings(ASSIGNMENT.format(value='"False"'), "keras3", version)
    assert 'bool("False")' in finding.message
    assert "raises" not in finding.message


def test_functional_model_goes_through_the_setter() -> None:
    code = """
    import keras
    model = keras.Model(inputs, outputs, trainable="False")
    """
    [finding] = _findings(code, "keras3", "3.15.1")
    assert 'bool("False")' in finding.message


def test_functional_model_ignores_none() -> None:
    code = """
    import keras
    model = keras.Model(inputs, outputs, trainable=None)
    """
    [finding] = _findings(code, "keras3", "3.15.1")
    assert "ignores it and stays trainable" in finding.message
