"""GitHub Actions workflow commands: one ``::error``/``::warning``/``::notice`` line per
finding, which GitHub shows as an annotation on the file and line.

``::warning file=PATH,line=L,col=C,endLine=L,endColumn=C2,title=BN201 (name)::MESSAGE``

(a span over several lines gives ``line`` and ``endLine`` only: GitHub does not take
columns then).

GitHub shows one annotation per command, so the related locations are folded into the
message, one ``note:`` line each. Values are escaped as the runner expects: in the
message ``%``, CR and LF; in properties also ``:`` and ``,``.

A notebook is stored as JSON, and GitHub annotates that text: ``line`` is the line of
the ``.ipynb`` file that holds the finding's row (Jupyter writes one source line per
file line), without columns, and the message starts with ``cell N, row R:``. When that
line cannot be found the annotation names only the file.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from bnlint.formats.common import Entry, Place, entries, posix_path
from bnlint.formats.notebook_lines import notebook_line
from bnlint.probe.result import probe_text

if TYPE_CHECKING:
    from bnlint.engine import FileResult

COMMANDS = {"error": "error", "warning": "warning", "info": "notice"}


def escape_data(text: str) -> str:
    """Escape a command's message."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a command property's value."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(results: Sequence[FileResult]) -> str:
    """The report as workflow commands, one line per finding."""
    return "".join(_command(entry) + "\n" for entry in entries(results))


def _command(entry: Entry) -> str:
    finding, place = entry.finding, entry.place
    properties = [("file", posix_path(place.path))]
    prefix = ""
    if place.cell is None:
        properties.append(("line", str(place.row)))
        if place.end_row > place.row:  # GitHub takes columns only within one line
            # a span that ends at the start of a row ends on the row before
            last = place.end_row - 1 if place.end_column == 1 else place.end_row
            properties.append(("endLine", str(last)))
        else:
            properties += [("col", str(place.column)), ("endLine", str(place.row)),
                           ("endColumn", str(max(place.end_column, place.column)))]
    else:
        prefix = f"cell {place.cell}, row {place.row}: "
        line = notebook_line(place.path, place.cell, place.row, place.code)
        if line is not None:
            properties.append(("line", str(line)))
    properties.append(("title", f"{finding.code} ({finding.name})"))
    message = prefix + finding.message + "".join(
        f"\nnote: {_where(note.place)}: {note.message}" for note in entry.notes
    ) + "".join(
        f"\nprobe: {probe_text(result)}" for result in finding.probe
    )
    rendered = ",".join(f"{key}={escape_property(value)}" for key, value in properties)
    return f"::{COMMANDS[finding.severity]} {rendered}::{escape_data(message)}"


def _where(place: Place) -> str:
    return Place(posix_path(place.path), place.cell, place.row, place.column,
                 place.end_row, place.end_column).text()
