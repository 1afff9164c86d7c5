"""A file's program text, ready to parse, and the map back to the user's coordinates."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True)
class CellLocation:
    """Where a program row comes from in a notebook: 1-based cell index (counting every
    cell, markdown included) and the 1-based row inside that cell."""

    cell: int
    row: int


@dataclass(frozen=True, slots=True)
class Source:
    """Decoded program text of one file.

    ``path`` is the path to display (as the user named it, or relative to the working
    directory). For ``.py`` files ``text`` is the file's text. For notebooks it is the
    code cells joined in order with magics and shell escapes masked, and ``cells`` maps
    each program row (index = row - 1) to its cell and row.
    """

    path: str
    text: str
    kind: Literal["python", "notebook"] = "python"
    cells: tuple[CellLocation, ...] = ()

    def locate(self, row: int) -> tuple[int | None, int]:
        """Map a 1-based program row to ``(cell, row)``; ``cell`` is None for .py files."""
        if self.kind != "notebook" or not self.cells:
            return None, row
        index = min(max(row, 1), len(self.cells)) - 1
        where = self.cells[index]
        return where.cell, where.row
