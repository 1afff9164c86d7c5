"""Inline suppressions: `# noqa`, `# bnlint: ignore[...]`, `# bnlint: file-ignore[...]`."""

from __future__ import annotations

import pytest

from bnlint.suppress import parse_suppressions

CODE = "BN101"
NAME = "training-attribute"


def suppressed(text: str, row: int = 1, code: str = CODE, name: str = NAME) -> bool:
    return parse_suppressions(text).is_suppressed(code, name, row)


@pytest.mark.parametrize(
    "comment",
    [
        "# noqa: BN101",
        "# noqa:BN101",
        "# NOQA: BN101",
        "# noqa: E501, BN101",
        "# noqa: E501 BN101",
        "# noqa: BN1",
        "# noqa: BN10",
        "# noqa: BN101 -- the base is never unfrozen",
        "# type: ignore  # noqa: BN101",
    ],
)
def test_noqa_with_our_code_or_prefix_suppresses(comment: str) -> None:
    assert suppressed(f"base.trainable = False  {comment}\n")


def test_blanket_noqa_suppresses_everything_on_its_line() -> None:
    assert suppressed("base.trainable = False  # noqa\n")
    assert suppressed("base.trainable = False  # noqa\n", code="BN402", name="other")


@pytest.mark.parametrize("comment", ["# noqa: E501", "# noqa: E501, F401", "# noqa:"])
def test_noqa_with_only_other_tools_codes_does_not_suppress(comment: str) -> None:
    assert not suppressed(f"base.trainable = False  {comment}\n")


def test_noqa_for_another_bn_code_does_not_suppress() -> None:
    assert not suppressed("x = 1  # noqa: BN2, BN102\n")


def test_noqa_list_stops_at_the_first_word_that_is_not_a_code() -> None:
    assert not suppressed("x = 1  # noqa: E501 see BN101\n")


def test_noqa_only_applies_to_its_own_row() -> None:
    text = "x = 1  # noqa: BN101\ny = 2\n"
    assert suppressed(text, row=1)
    assert not suppressed(text, row=2)


@pytest.mark.parametrize(
    "comment",
    [
        "# bnlint: ignore[BN101]",
        "# bnlint: ignore[training-attribute]",
        "# bnlint: ignore[BN2, training-attribute]",
        "# bnlint: ignore[BN1]",
        "# bnlint: ignore[BN]",
        "#bnlint:ignore[bn101]",
        "# bnlint: ignore",
    ],
)
def test_bnlint_ignore_accepts_codes_prefixes_and_names(comment: str) -> None:
    assert suppressed(f"x = 1  {comment}\n")


@pytest.mark.parametrize(
    "comment",
    ["# bnlint: ignore[BN2]", "# bnlint: ignore[other-rule]", "# bnlint: ignore[E501]",
     "# bnlint: ignore[]"],
)
def test_bnlint_ignore_of_other_rules_does_not_suppress(comment: str) -> None:
    assert not suppressed(f"x = 1  {comment}\n")


def test_file_ignore_on_its_own_line_applies_to_every_row() -> None:
    text = "import keras\n\n# bnlint: file-ignore[BN1]\nx = 1\ny = 2\n"
    assert suppressed(text, row=1)
    assert suppressed(text, row=5)
    assert not suppressed(text, row=5, code="BN201", name="other")


def test_file_ignore_trailing_code_is_not_file_wide() -> None:
    text = "x = 1  # bnlint: file-ignore[BN101]\ny = 2\n"
    assert not suppressed(text, row=2)


@pytest.mark.parametrize("comment", ["# bnlint: noqa: BN101", "# bnlint: noqa",
                                     "# bnlint: file-ignore"])
def test_ruff_style_file_level_noqa_and_blanket_file_ignore(comment: str) -> None:
    assert suppressed(f"{comment}\nx = 1\n", row=2)


def test_hash_inside_a_string_is_not_a_comment() -> None:
    assert not suppressed('x = "# noqa: BN101"\n')
    assert not suppressed('x = """\n# bnlint: file-ignore[BN1]\n"""\ny = 1\n', row=4)


def test_comment_after_a_string_with_a_hash_is_found() -> None:
    assert suppressed('x = "#"  # noqa: BN101\n')


def test_untokenizable_text_falls_back_to_a_line_scan() -> None:
    text = "x = (1,\n# bnlint: file-ignore[BN101]\ny = 2  # noqa: BN101\n"  # unclosed (
    assert suppressed(text, row=3)
    assert suppressed(text, row=1)


def test_suppression_is_matched_on_the_finding_start_row_only() -> None:
    text = "model.compile(\n    optimizer='adam',\n)  # noqa: BN101\n"
    assert not suppressed(text, row=1)
    assert suppressed(text, row=3)


def test_text_without_directives_has_no_suppressions() -> None:
    suppressions = parse_suppressions("x = 1  # a comment\n")
    assert not suppressions.by_row and not suppressions.file_wide
