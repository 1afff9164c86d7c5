"""A finding's identity that survives unrelated edits: what SARIF, GitLab Code Quality
and a baseline use to recognise the same finding in another run.

The fingerprint hashes the rule code, the file's path, a line-independent key of the code
involved (the text of the primary span's rows with surrounding whitespace removed and
inner runs of whitespace collapsed, plus the finding's message, which never names a row)
and the occurrence index of that key among the file's findings of the same rule (so two
identical lines get two fingerprints). Inserting or deleting lines elsewhere in the file
changes none of these, so the fingerprint stays.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from bnlint.finding import Finding
from bnlint.source import Source

# Bump when the recipe changes: stored fingerprints of another version never match.
FINGERPRINT_VERSION = "1"
# rows end as Python's tokenizer ends them (str.splitlines also splits on \f, \x1c...)
_ROW_END = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True, slots=True)
class FingerprintParts:
    """What a fingerprint is made of; ``digest`` hashes them."""

    code: str
    path: str
    key: str
    occurrence: int

    def digest(self) -> str:
        """32 hexadecimal digits (128 bits of SHA-256)."""
        fields = (FINGERPRINT_VERSION, self.code, self.path, self.key, str(self.occurrence))
        return hashlib.sha256("\0".join(fields).encode("utf-8", "surrogatepass")).hexdigest()[:32]


def program_rows(source: Source) -> list[str]:
    """The rows of a Source's program text (index = row - 1)."""
    return _ROW_END.split(source.text)


def code_key(rows: Sequence[str] | None, finding: Finding) -> str:
    """The line-independent key of a finding: its rows' normalised text (``rows``: the
    program's rows, None when the text is not at hand) and its message."""
    text = ""
    if rows is not None:
        first = max(finding.span.start.row, 1)
        last = max(finding.span.end.row, first)
        # a span that ends at column 1 stops before its last row's text
        if last > first and finding.span.end.column == 1:
            last -= 1
        text = "\n".join(" ".join(row.split()) for row in rows[first - 1:last])
    return f"{text}\n{finding.message}"


def fingerprint_parts(
    path: str, source: Source | None, findings: Sequence[Finding]
) -> list[FingerprintParts]:
    """The parts of each finding of one file, in the order given (which should be the
    file's report order, so that occurrence indices follow the text)."""
    shown = path.replace("\\", "/")
    seen: dict[tuple[str, str], int] = {}
    parts: list[FingerprintParts] = []
    rows = program_rows(source) if source is not None and findings else None
    for finding in findings:
        key = code_key(rows, finding)
        occurrence = seen.get((finding.code, key), 0)
        seen[(finding.code, key)] = occurrence + 1
        parts.append(FingerprintParts(finding.code, shown, key, occurrence))
    return parts


def fingerprints(path: str, source: Source | None, findings: Sequence[Finding]) -> list[str]:
    """The fingerprint of each finding of one file (see the module docstring)."""
    return [part.digest() for part in fingerprint_parts(path, source, findings)]
