"""Renderers: ruff-style text and the documented JSON schema."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from bnlint.engine import FileResult
from bnlint.finding import Edit, Finding, Fix, Position, Related, Severity, Span
from bnlint.flavour import Flavour
from bnlint.report import render_json, render_statistics, render_text, summary_line
from bnlint.source import CellLocation, Source

DOCS = Path(__file__).resolve().parent.parent / "docs" / "json-schema.md"


def span(row: int, column: int, end_row: int | None = None, end_column: int = 99) -> Span:
    return Span(Position(row, column), Position(end_row or row, end_column))


def finding(
    code: str = "BN101", row: int = 1, column: int = 1, severity: Severity = "warning",
    related: tuple[Related, ...] = (), message: str = "the message",
) -> Finding:
    return Finding(code, f"rule-{code.lower()}", severity, message, span(row, column),
                   related)


def py_result(path: str, *findings: Finding) -> FileResult:
    return FileResult(path, Source(path, "x\n" * 50), tuple(findings))


def notebook_result(path: str, *findings: Finding) -> FileResult:
    # Program rows 1-2 come from cell 2, rows 3-5 from cell 4 (cells 1 and 3 are prose).
    cells = (CellLocation(2, 1), CellLocation(2, 2), CellLocation(4, 1), CellLocation(4, 2),
             CellLocation(4, 3))
    return FileResult(path, Source(path, "x\n" * 5, "notebook", cells), tuple(findings))


def test_text_is_path_row_column_code_message() -> None:
    text = render_text([py_result("train.py", finding("BN201", 12, 5, message="recompile"))])
    assert text.splitlines()[0] == "train.py:12:5: BN201 recompile"


def test_text_lists_related_locations_as_indented_notes() -> None:
    related = (Related("frozen here", span(3, 1)), Related("compiled here", span(7, 9)))
    text = render_text([py_result("t.py", finding(row=10, related=related))])
    assert text.splitlines()[:3] == [
        "t.py:10:1: BN101 the message",
        "    note: t.py:3:1: frozen here",
        "    note: t.py:7:9: compiled here",
    ]


def test_text_maps_notebook_rows_to_cell_and_row() -> None:
    related = (Related("base created", span(1, 1)),)
    text = render_text([notebook_result("nb.ipynb", finding(row=4, column=3, related=related))])
    assert text.splitlines()[:2] == [
        "nb.ipynb:cell 4:2:3: BN101 the message",
        "    note: nb.ipynb:cell 2:1:1: base created",
    ]


def test_findings_are_sorted_by_file_then_position_then_code() -> None:
    results = [
        py_result("b.py", finding("BN101", 1, 1)),
        py_result("a.py", finding("BN201", 5, 1), finding("BN102", 5, 1), finding("BN101", 2, 8),
                  finding("BN101", 2, 3)),
    ]
    lines = render_text(results, summary=False).splitlines()
    assert lines == [
        "a.py:2:3: BN101 the message",
        "a.py:2:8: BN101 the message",
        "a.py:5:1: BN102 the message",
        "a.py:5:1: BN201 the message",
        "b.py:1:1: BN101 the message",
    ]


def test_summary_counts_findings_by_severity() -> None:
    results = [py_result("a.py", finding("BN101", 1, severity="warning"),
                         finding("BN102", 2, severity="warning"),
                         finding("BN201", 3, severity="error"))]
    assert render_text(results).splitlines()[-1] == "Found 3 findings (1 error, 2 warnings)."
    assert summary_line([finding(severity="info")]) == "Found 1 finding (1 info)."


def test_clean_run_prints_only_all_checks_passed() -> None:
    assert render_text([py_result("a.py"), py_result("b.py")]) == "All checks passed!\n"


def test_errors_prevent_all_checks_passed() -> None:
    failed = FileResult("bad.py", None, errors=("bad.py: cannot decode",))
    assert render_text([failed]) == "Found 0 findings; bnlint reported 1 error on stderr.\n"
    assert render_text([], other_errors=2) == (
        "Found 0 findings; bnlint reported 2 errors on stderr.\n")


def test_statistics_count_findings_per_rule_most_frequent_first() -> None:
    results = [py_result("a.py", finding("BN101", 1), finding("BN201", 2), finding("BN201", 3))]
    assert render_statistics(results) == "2\tBN201\trule-bn201\n1\tBN101\trule-bn101\n"


def test_json_has_exactly_the_documented_keys_in_order() -> None:
    related = (Related("frozen here", span(2, 5)),)
    data = json.loads(render_json([py_result("t.py", finding(row=9, column=4,
                                                              related=related))]))
    assert data == [{
        "code": "BN101",
        "name": "rule-bn101",
        "severity": "warning",
        "message": "the message",
        "filename": "t.py",
        "cell": None,
        "location": {"row": 9, "column": 4},
        "end_location": {"row": 9, "column": 99},
        "related": [{"message": "frozen here", "filename": "t.py", "cell": None,
                     "location": {"row": 2, "column": 5}}],
        "fix": None,
        "probe": None,
        "keras": None,
    }]
    assert list(data[0]) == ["code", "name", "severity", "message", "filename", "cell",
                             "location", "end_location", "related", "fix", "probe", "keras"]


@pytest.mark.parametrize(("flavour", "expected"), [
    (Flavour("tf-keras", (2, 15, 0), "tensorflow==2.15.0 in requirements.txt"),
     {"flavour": "tf-keras", "version": "2.15.0",
      "decided_by": "tensorflow==2.15.0 in requirements.txt"}),
    (Flavour("keras3", None, "assumed (nothing says which Keras)", assumed=True),
     {"flavour": "unknown", "version": None,
      "decided_by": "assumed (nothing says which Keras)"}),
])
def test_json_says_which_keras_the_file_was_judged_for(
        flavour: Flavour, expected: dict[str, object]) -> None:
    result = dataclasses.replace(py_result("t.py", finding()), flavour=flavour)
    assert json.loads(render_json([result]))[0]["keras"] == expected


def test_json_notebook_locations_are_cell_relative() -> None:
    multi_row = Finding("BN101", "n", "error", "m", span(3, 2, end_row=5, end_column=7),
                        (Related("r", span(2, 1)),))
    data = json.loads(render_json([notebook_result("nb.ipynb", multi_row)]))
    assert data[0]["cell"] == 4
    assert data[0]["location"] == {"row": 1, "column": 2}
    assert data[0]["end_location"] == {"row": 3, "column": 7}
    assert data[0]["related"][0]["cell"] == 2
    assert data[0]["related"][0]["location"] == {"row": 2, "column": 1}


def test_json_of_a_clean_run_is_an_empty_array() -> None:
    assert json.loads(render_json([py_result("a.py")])) == []


def test_json_schema_doc_names_every_key() -> None:
    doc = DOCS.read_text(encoding="utf-8")
    for key in ["code", "name", "severity", "message", "filename", "cell", "location",
                "end_location", "related", "fix", "probe", "keras", "row", "column",
                "applicability", "edits", "content"]:
        assert f"`{key}`" in doc


def test_json_fix_edits_are_located_as_findings_are_in_notebooks() -> None:
    fix = Fix("Replace", "safe", (Edit(span(3, 2, end_row=3, end_column=5), "X"),))
    located = Finding("BN101", "n", "error", "m", span(3, 2), fix=fix)
    [item] = json.loads(render_json([notebook_result("nb.ipynb", located)]))
    assert item["fix"] == {"applicability": "safe", "message": "Replace", "edits": [
        {"content": "X", "cell": 4, "location": {"row": 1, "column": 2},
         "end_location": {"row": 1, "column": 5}}]}
