"""Editor documents are linted as the command line lints the file: the same findings,
the same cache (read for any text, written only for the text saved on disk), and the
noqa edit offered for a finding's line passes --add-noqa's checks."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

import bnlint.runner
from bnlint.add_noqa import noqa_line
from bnlint.cache import content_hash
from bnlint.documents import DocumentLinter
from bnlint.finding import Finding, Position, Span
from bnlint.sources import source_from_text

SCRIPT = """\
import tensorflow as tf

base = tf.keras.applications.ResNet50(include_top=False, weights="imagenet", pooling="avg")
base.trainable = False
model = tf.keras.Sequential([base, tf.keras.layers.Dense(10)])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
model.fit(train_ds, epochs=5)
base.trainable = True
model.compile(optimizer=tf.keras.optimizers.Adam(1e-5), loss="mse")
model.fit(train_ds, epochs=5)
"""


@pytest.fixture
def script(tmp_path: Path) -> Path:
    (tmp_path / ".git").mkdir()
    (tmp_path / "pyproject.toml").write_text(
        '[tool.bnlint]\nselect = ["BN201"]\ntarget-keras = "tf-keras"\n', encoding="utf-8")
    path = tmp_path / "train.py"
    path.write_text(SCRIPT, encoding="utf-8")
    return path


def cached_hashes(cache_dir: Path) -> dict[str, str]:
    hashes: dict[str, str] = {}
    for file in cache_dir.rglob("*.json"):
        for key, entry in json.loads(file.read_text(encoding="utf-8"))["entries"].items():
            hashes[key] = entry["hash"]
    return hashes


def test_a_document_has_the_findings_of_its_file(script: Path) -> None:
    result = DocumentLinter().lint(str(script), SCRIPT)
    assert result is not None
    assert [(f.code, f.span.start.row) for f in result.findings] == [("BN201", 8)]


def test_the_cache_keeps_the_saved_text_never_an_unsaved_one(
        script: Path, _private_cache_dir: Path) -> None:
    linter = DocumentLinter()
    linter.lint(str(script), SCRIPT)
    saved = content_hash(script.read_bytes())
    assert cached_hashes(_private_cache_dir) == {str(script): saved}
    unsaved = SCRIPT.replace("base.trainable = True", "pass")
    result = linter.lint(str(script), unsaved)
    assert result is not None and result.findings == ()
    assert cached_hashes(_private_cache_dir) == {str(script): saved}


def test_a_text_the_cache_knows_is_not_analysed_again(
        script: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    linter = DocumentLinter()
    first = linter.lint(str(script), SCRIPT)

    def analysis(*args: object) -> None:
        raise AssertionError("analysed again")

    monkeypatch.setattr(bnlint.runner, "_guarded_lint", analysis)
    again = linter.lint(str(script), SCRIPT)
    assert first is not None and again is not None
    assert again.findings == first.findings
    with pytest.raises(AssertionError, match="analysed again"):
        linter.lint(str(script), SCRIPT + "\n# edited\n")


def finding_at(row: int, code: str = "BN201") -> Finding:
    return Finding(code, "name", "warning", "message", Span(Position(row, 1), Position(row, 2)))


@pytest.mark.parametrize(("line", "expected"), [
    ("base.trainable = True", "base.trainable = True  # noqa: BN201"),
    ("base.trainable = True  # noqa: E501", "base.trainable = True  # noqa: E501, BN201"),
    ("base.trainable = True  # why", "base.trainable = True  # why  # noqa: BN201"),
])
def test_noqa_line_adds_the_code_to_the_lines_comment(line: str, expected: str) -> None:
    source = source_from_text("train.py", f"x = 1\n{line}\n")
    assert noqa_line(source, 2, [finding_at(2)]) == expected


def test_noqa_line_declines_what_add_noqa_would_not_write() -> None:
    text = textwrap.dedent("""\
        base.trainable = True  # noqa: BN201
        doc = '''starts here
        ends here'''
        x = 1 + \\
            2
        """)
    source = source_from_text("train.py", text)
    assert noqa_line(source, 1, [finding_at(1)]) is None  # listed already
    assert noqa_line(source, 2, [finding_at(2)]) is None  # ends inside a string
    assert noqa_line(source, 4, [finding_at(4)]) is None  # continues on the next line
    assert noqa_line(source, 1, [finding_at(1, "BN000")]) is None  # a syntax error
    notebook = source_from_text("a.ipynb", json.dumps({"cells": [], "metadata": {}}))
    assert noqa_line(notebook, 1, [finding_at(1)]) is None
