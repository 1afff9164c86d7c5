"""Adopting bnlint on code with findings: --write-baseline, --baseline and --add-noqa."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from bnlint.add_noqa import with_noqa
from bnlint.cli import main

MOMENTUM = "bn = layers.BatchNormalization(momentum=0.1)\n"
HEADER = "from tensorflow.keras import layers\n"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["--no-cache", "--output-format", "concise", *args])
    out, err = capsys.readouterr()
    return code, out, err


def reported(out: str) -> list[str]:
    """``path:row`` of each finding of a concise report."""
    return [":".join(line.split(":")[:2]) for line in out.splitlines()
            if ": BN" in line and not line.startswith(" ")]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.py").write_text(HEADER + MOMENTUM)
    (tmp_path / "b.py").write_text(HEADER + "x = 1\n" + MOMENTUM)
    return tmp_path


# --- baseline ----------------------------------------------------------------------------


def test_baseline_hides_old_findings_and_shows_a_new_one(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--write-baseline", "baseline.json", ".")
    assert (code, out) == (0, "")
    assert err.strip() == "Wrote 2 findings to baseline.json"
    document = json.loads((project / "baseline.json").read_text())
    assert document["schema_version"] == 1 and document["bnlint_version"]
    entry = document["findings"][0]
    assert set(entry) == {"fingerprint", "code", "path", "content_hash", "key", "occurrence"}
    assert entry["code"] == "BN402" and entry["path"] == "a.py"

    assert run(capsys, "--baseline", "baseline.json", ".")[0] == 0
    with (project / "a.py").open("a") as handle:
        handle.write("again = layers.BatchNormalization(momentum=0.2)\n")
    code, out, _ = run(capsys, "--baseline", "baseline.json", ".")
    assert code == 1
    assert reported(out) == ["a.py:3"]


def test_baseline_survives_a_line_shift(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "--write-baseline", "baseline.json", ".")
    (project / "a.py").write_text("import os\nimport sys\n\n" + HEADER + MOMENTUM)
    assert run(capsys, "--baseline", "baseline.json", ".")[:2] == (0, "All checks passed!\n")


def test_baseline_survives_a_rename(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "--write-baseline", "baseline.json", ".")
    (project / "src").mkdir()
    (project / "a.py").rename(project / "src" / "renamed.py")
    assert run(capsys, "--baseline", "baseline.json", ".")[0] == 0


def test_a_copy_of_a_file_still_reports_its_findings(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "--write-baseline", "baseline.json", ".")
    (project / "copy.py").write_text((project / "a.py").read_text())
    code, out, _ = run(capsys, "--baseline", "baseline.json", ".")
    assert code == 1 and reported(out) == ["copy.py:2"]


def test_baseline_counts_occurrences(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "a.py").write_text(HEADER + MOMENTUM + MOMENTUM)
    run(capsys, "--write-baseline", "baseline.json", ".")
    (project / "a.py").write_text(HEADER + MOMENTUM + "\n" + MOMENTUM + MOMENTUM)
    code, out, _ = run(capsys, "--baseline", "baseline.json", ".")
    assert code == 1 and len(reported(out)) == 1


@pytest.mark.parametrize("content", [
    None, "{", "[]", '{"schema_version": 1, "fingerprint_version": "1", "findings": [3]}',
    '{"schema_version": 99, "findings": []}',
])
def test_a_missing_or_corrupt_baseline_is_an_error(
        project: Path, capsys: pytest.CaptureFixture[str], content: str | None) -> None:
    if content is not None:
        (project / "baseline.json").write_text(content)
    code, out, err = run(capsys, "--baseline", "baseline.json", ".")
    assert (code, out) == (2, "")
    assert err.startswith("bnlint: error: baseline.json: ") and err.count("\n") == 1


def test_an_unwritable_baseline_is_an_error(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "dir.json").mkdir()
    code, _, err = run(capsys, "--write-baseline", "dir.json", ".")
    assert code == 2 and "cannot write the baseline" in err


# --- add-noqa ----------------------------------------------------------------------------


def test_add_noqa_silences_every_finding_and_is_idempotent(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    os.chmod(project / "a.py", 0o640)
    code, out, err = run(capsys, "--add-noqa", ".")
    assert (code, out, err) == (0, "", "Added 2 noqa directives\n")
    assert (project / "a.py").read_text() == HEADER + MOMENTUM[:-1] + "  # noqa: BN402\n"
    assert stat.S_IMODE(os.stat(project / "a.py").st_mode) == 0o640
    assert run(capsys, "--add-noqa", ".")[2] == "Added 0 noqa directives\n"
    assert (project / "a.py").read_text() == HEADER + MOMENTUM[:-1] + "  # noqa: BN402\n"
    assert run(capsys, ".")[:2] == (0, "All checks passed!\n")


def test_add_noqa_keeps_crlf_bom_and_a_missing_final_newline(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = b"\xef\xbb\xbf" + (HEADER + MOMENTUM + MOMENTUM).replace("\n", "\r\n").encode()
    (project / "a.py").write_bytes(data[:-2])
    run(capsys, "--add-noqa", "a.py")
    line = b"bn = layers.BatchNormalization(momentum=0.1)  # noqa: BN402"
    assert (project / "a.py").read_bytes() == (
        b"\xef\xbb\xbf" + HEADER.encode()[:-1] + b"\r\n" + line + b"\r\n" + line)


def test_add_noqa_keeps_a_declared_encoding(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = "# -*- coding: latin-1 -*-\n# caf\xe9\n" + HEADER + MOMENTUM
    (project / "a.py").write_bytes(text.encode("latin-1"))
    run(capsys, "--add-noqa", "a.py")
    assert (project / "a.py").read_bytes() == (
        text.replace(MOMENTUM, MOMENTUM[:-1] + "  # noqa: BN402\n").encode("latin-1"))


def test_add_noqa_merges_into_an_existing_noqa_comment(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "a.py").write_text(
        HEADER + "bn = layers.BatchNormalization(momentum=0.1)  # noqa: E501 - long\n")
    run(capsys, "--add-noqa", "a.py")
    assert (project / "a.py").read_text() == (
        HEADER + "bn = layers.BatchNormalization(momentum=0.1)  # noqa: E501, BN402 - long\n")
    assert run(capsys, "a.py")[0] == 0


def test_add_noqa_appends_after_another_comment(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "a.py").write_text(
        HEADER + "bn = layers.BatchNormalization(momentum=0.1)  # ported from torch\n")
    run(capsys, "--add-noqa", "a.py")
    assert (project / "a.py").read_text() == HEADER + (
        "bn = layers.BatchNormalization(momentum=0.1)  # ported from torch  # noqa: BN402\n")
    assert run(capsys, "a.py")[0] == 0


@pytest.mark.parametrize(("line", "comment", "codes", "expected"), [
    ("x = 1", None, ["BN101"], "x = 1  # noqa: BN101"),
    ("x = 1   ", None, ["BN101", "BN101"], "x = 1  # noqa: BN101   "),
    ("x = 1  # noqa: BN101", 7, ["BN101"], "x = 1  # noqa: BN101"),
    ("x = 1  # NOQA:BN101,BN2", 7, ["BN101", "BN402"], "x = 1  # NOQA:BN101,BN2, BN402"),
    ("x = 1  # noqa:", 7, ["BN101"], "x = 1  # noqa: BN101"),
])
def test_with_noqa(line: str, comment: int | None, codes: list[str], expected: str) -> None:
    assert with_noqa(line, comment, codes)[0] == expected


def test_add_noqa_leaves_a_line_that_ends_inside_a_string(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = HEADER + 'bn = layers.BatchNormalization(momentum=0.1, name="""a\nb""")\n' + MOMENTUM
    (project / "a.py").write_text(text)
    code, _, err = run(capsys, "--add-noqa", "a.py")
    assert code == 0
    assert "a.py:2:32: the line of this BN402 finding ends inside a string" in err
    assert err.endswith("Added 1 noqa directive\n")
    assert (project / "a.py").read_text() == text.replace(
        MOMENTUM, MOMENTUM[:-1] + "  # noqa: BN402\n")
    assert reported(run(capsys, "a.py")[1]) == ["a.py:2"]


NOTEBOOK = {
    "cells": [
        {"cell_type": "markdown", "id": "m1", "metadata": {}, "source": ["# Títle"]},
        {"cell_type": "code", "execution_count": 1, "id": "c1", "metadata": {"tags": ["x"]},
         "outputs": [{"name": "stdout", "output_type": "stream", "text": ["ok\n"]}],
         "source": [HEADER, "x = 1  # noqa: E501\n", MOMENTUM, "y = 2"]},
        {"cell_type": "code", "execution_count": 2, "id": "c2", "metadata": {},
         "outputs": [], "source": "%matplotlib inline\n" + MOMENTUM + MOMENTUM},
    ],
    "metadata": {"language_info": {"name": "python"}, "kernelspec": {"name": "python3"}},
    "nbformat": 4, "nbformat_minor": 5,
}


@pytest.mark.parametrize("style", ["jupyter", "compact"])
def test_add_noqa_edits_only_the_notebooks_source_lines(
        project: Path, capsys: pytest.CaptureFixture[str], style: str) -> None:
    (project / "a.py").unlink()
    if style == "jupyter":
        text = json.dumps(NOTEBOOK, indent=1, ensure_ascii=False) + "\n"
    else:  # not Jupyter's layout: still only the edited strings change
        text = json.dumps(NOTEBOOK, separators=(",", ":"))
    (project / "nb.ipynb").write_text(text, encoding="utf-8")
    code, _, err = run(capsys, "--add-noqa", "nb.ipynb")
    assert (code, err) == (0, "Added 3 noqa directives\n")
    new = (project / "nb.ipynb").read_text(encoding="utf-8")
    expected = json.loads(text)
    expected["cells"][1]["source"][2] = MOMENTUM[:-1] + "  # noqa: BN402\n"
    edited = MOMENTUM[:-1] + "  # noqa: BN402\n"
    expected["cells"][2]["source"] = "%matplotlib inline\n" + edited + edited
    assert json.loads(new) == expected
    ensure_ascii = style != "jupyter"
    for old, replacement in ((NOTEBOOK["cells"][1]["source"][2],  # type: ignore[index]
                              expected["cells"][1]["source"][2]),
                             (NOTEBOOK["cells"][2]["source"], expected["cells"][2]["source"])):
        text = text.replace(json.dumps(old, ensure_ascii=ensure_ascii),
                            json.dumps(replacement, ensure_ascii=ensure_ascii), 1)
    assert new == text  # everything else byte for byte
    assert run(capsys, "nb.ipynb")[0] == 0
    assert run(capsys, "--add-noqa", "nb.ipynb")[2] == "Added 0 noqa directives\n"
    assert (project / "nb.ipynb").read_text(encoding="utf-8") == new


def test_add_noqa_cannot_read_stdin(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--add-noqa", "-"]) == 2
    assert "--add-noqa edits files" in capsys.readouterr().err


@pytest.mark.parametrize("other", [["--add-noqa"], ["--baseline", "old.json"]])
def test_write_baseline_records_everything(
        capsys: pytest.CaptureFixture[str], other: list[str]) -> None:
    assert main(["--write-baseline", "new.json", *other, "."]) == 2
    assert "--write-baseline records every finding" in capsys.readouterr().err


def test_add_noqa_with_a_baseline_silences_only_new_findings(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "--write-baseline", "baseline.json", ".")
    (project / "b.py").write_text(HEADER + "x = 1\n" + MOMENTUM + "new" + MOMENTUM)
    assert run(capsys, "--add-noqa", "--baseline", "baseline.json", ".")[2] == (
        "Added 1 noqa directive\n")
    assert "noqa" not in (project / "a.py").read_text()
    assert (project / "b.py").read_text() == (
        HEADER + "x = 1\n" + MOMENTUM + "new" + MOMENTUM[:-1] + "  # noqa: BN402\n")


def test_add_noqa_in_cells_with_magics_beside_a_cell_that_does_not_compile(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "a.py").unlink()
    (project / "b.py").unlink()
    cells = [["def f(:\n"],
             [HEADER, "%time " + MOMENTUM, "if True:\n", "    c = 1  # hi\n",
              "    " + MOMENTUM[:-1] + "  # hi\n", "!ls\n"],
             ["  " + MOMENTUM[:-1] + "\r\n", "  e = 1\r\n"]]
    document = {"cells": [{"cell_type": "code", "execution_count": None, "metadata": {},
                           "outputs": [], "source": source} for source in cells],
                "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (project / "nb.ipynb").write_text(json.dumps(document, indent=1))
    code, _, err = run(capsys, "--add-noqa", "nb.ipynb")
    assert code == 0
    assert err == ("bnlint: warning: nb.ipynb:cell 1:1:7: BN000 (a syntax error) cannot be "
                   "silenced; no noqa added\nAdded 3 noqa directives\n")
    sources = [cell["source"] for cell in json.loads((project / "nb.ipynb").read_text())["cells"]]
    assert sources[1][1] == "%time " + MOMENTUM[:-1] + "  # noqa: BN402\n"
    assert sources[1][4] == "    " + MOMENTUM[:-1] + "  # hi  # noqa: BN402\n"
    assert sources[2][0] == "  " + MOMENTUM[:-1] + "  # noqa: BN402\r\n"
    assert reported(run(capsys, "nb.ipynb")[1]) == ["nb.ipynb:cell 1"]


def test_a_file_changed_on_disk_is_not_overwritten(tmp_path: Path) -> None:
    from bnlint import add_noqa

    target = tmp_path / "a.py"
    target.write_text("x = 2\n")
    with pytest.raises(add_noqa._FileProblem, match="changed on disk"):
        add_noqa._replace(str(target), b"x = 1\n", b"x = 1  # noqa: BN101\n")
    assert target.read_text() == "x = 2\n"
    assert [path.name for path in tmp_path.iterdir()] == ["a.py"]
