"""bnlint as a flake8 plugin: ``flake8 --select BN`` reports bnlint's findings.

flake8 hands the plugin the file it checks (its name and the lines it read, from disk or
stdin); the plugin runs bnlint's engine on those lines with the bnlint configuration
found above the file (rule selection, target Keras, thresholds), as ``bnlint FILE``
would, and yields one flake8 error per finding. flake8 then applies its own
``--select``, ``--extend-ignore`` and ``# noqa``. Related locations are not shown
(flake8 reports one line per error); ``bnlint FILE`` shows them.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator, Sequence

from bnlint import __version__

Error = tuple[int, int, str, type[object]]


class LintError(Exception):
    """bnlint could not check the file (flake8 reports the plugin's failure)."""


class Plugin:
    """The flake8 ``BN`` checker: bnlint's findings for one file."""

    name = "bnlint"
    version = __version__

    def __init__(self, tree: ast.AST, filename: str, lines: Sequence[str]) -> None:
        # flake8 chooses a plugin's kind by its parameters: asking for `tree` makes this
        # a file-level checker. bnlint parses the lines itself (with libcst).
        del tree
        self.filename = filename
        self.lines = lines

    def run(self) -> Iterator[Error]:
        """Yield (row, column from 0, "CODE message", checker) for each finding."""
        for finding in lint_lines(self.filename, "".join(self.lines)):
            row, column, code, message = finding
            yield row, column, f"{code} {message}", type(self)


def lint_lines(filename: str, text: str) -> list[tuple[int, int, str, str]]:
    """bnlint's findings for ``text`` named ``filename``: (row, 0-based column, code,
    message), in report order. A configuration error or a file bnlint cannot check is
    raised (flake8 reports it)."""
    from bnlint.config import find_config, load_settings
    from bnlint.registry import all_rules
    from bnlint.runner import lint_text
    from bnlint.selection import resolve_selection

    path = filename if filename not in ("-", "stdin") else "stdin.py"
    settings = load_settings(find_config(path))
    rules = all_rules()
    selected = resolve_selection(settings, rules)
    pinned = None
    if settings.target_keras == "auto":
        from bnlint.pins import PinIndex

        pinned = PinIndex(settings.root).flavour_for(os.path.abspath(path))
    result = lint_text(path, text, settings, rules, selected, project_flavour=pinned)
    if result.errors:
        raise LintError("; ".join(result.errors))
    return [
        (finding.span.start.row, finding.span.start.column - 1, finding.code, finding.message)
        for finding in result.findings
    ]
