"""JUnit XML, for CI systems that show test reports: one ``testsuite`` for the run, one
``testcase`` per linted file (a clean file passes), one ``failure`` per finding (its
``type`` is the rule code, its text the location and the related locations), and an
``error`` for a file bnlint could not check."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bnlint.formats.common import Entry, entries
from bnlint.probe.result import probe_text

if TYPE_CHECKING:
    from bnlint.engine import FileResult

# characters XML 1.0 cannot carry, even escaped
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _clean(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def render_junit(results: Sequence[FileResult]) -> str:
    """The JUnit report as an XML document with a trailing newline."""
    by_file: dict[int, list[Entry]] = {}
    for entry in entries(results):
        by_file.setdefault(id(entry.result), []).append(entry)
    ordered = sorted(results, key=lambda result: result.path)
    failing = sum(1 for result in ordered if result.findings)
    broken = sum(1 for result in ordered if result.errors)
    suite = ET.Element("testsuite", {
        "name": "bnlint", "tests": str(len(ordered)), "failures": str(failing),
        "errors": str(broken), "skipped": "0",
    })
    for result in ordered:
        case = ET.SubElement(suite, "testcase",
                             {"classname": "bnlint", "name": _clean(result.path)})
        for entry in by_file.get(id(result), ()):
            finding = entry.finding
            failure = ET.SubElement(case, "failure", {
                "type": finding.code,
                "message": _clean(f"{finding.code} {finding.message}"),
            })
            failure.text = _clean("".join(
                [f"{entry.place.text()}: {finding.code} [{finding.severity}] {finding.message}\n",
                 *(f"    note: {note.place.text()}: {note.message}\n" for note in entry.notes),
                 *(f"    probe: {probe_text(result)}\n" for result in finding.probe)]
            ))
        for message in result.errors:
            ET.SubElement(case, "error", {"message": _clean(message)}).text = _clean(message)
    suites = ET.Element("testsuites", {
        "name": "bnlint", "tests": suite.get("tests", "0"), "failures": str(failing),
        "errors": str(broken),
    })
    suites.append(suite)
    ET.indent(suites)
    body = ET.tostring(suites, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"
