"""A file's program text, ready to parse, and the map back to the user's coordinates."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True)
class CellLocation:
    """Where a program row comes from in a notebook: 1-based cell index (counting every
    cell, markdown included) and the 1-based row inside that cell. ``shift`` is the
    number of columns IPython's input transformations removed before the row's text (a
    cell's common indentation, the ``%time `` of a timed statement): a program column
    plus ``shift`` is the column in the cell."""

    cell: int
    row: int
    shift: int = 0


@dataclass(frozen=True, slots=True)
class Source:
    """Decoded program text of one file.

    ``path`` is the path to display (as the user named it, or relative to the working
    directory). For ``.py`` files ``text`` is the file's text. For notebooks it is the
    code cells joined in order, each as IPython transforms it (``bnlint.ipython``), and
    ``cells`` maps each program row (index = row - 1) to its cell and row; ``python2``
    says the notebook's kernel is Python 2; ``legacy_keras_env`` that a cell sets
    ``TF_USE_LEGACY_KERAS`` with the ``%env`` magic.
    """

    path: str
    text: str
    kind: Literal["python", "notebook"] = "python"
    cells: tuple[CellLocation, ...] = ()
    python2: bool = False
    # a notebook's `%env TF_USE_LEGACY_KERAS=1` (IPython runs it; the program sees `pass`)
    legacy_keras_env: bool = False

    def locate(self, row: int) -> tuple[int | None, int]:
        """Map a 1-based program row to ``(cell, row)``; ``cell`` is None for .py files."""
        where = self._where(row)
        if where is None:
            return None, row
        return where.cell, where.row

    def position(self, row: int, column: int) -> tuple[int | None, int, int]:
        """Map a 1-based program row and column to ``(cell, row, column)`` in the user's
        text; ``cell`` is None for .py files."""
        where = self._where(row)
        if where is None:
            return None, row, column
        return where.cell, where.row, column + where.shift

    def cell_rows(self) -> list[tuple[int, int]]:
        """Each code cell's program rows as a 0-based ``(start, stop)`` index range."""
        ranges: list[tuple[int, int]] = []
        for index, where in enumerate(self.cells):
            if ranges and self.cells[ranges[-1][0]].cell == where.cell:
                ranges[-1] = (ranges[-1][0], index + 1)
            else:
                ranges.append((index, index + 1))
        return ranges

    def _where(self, row: int) -> CellLocation | None:
        if self.kind != "notebook" or not self.cells:
            return None
        return self.cells[min(max(row, 1), len(self.cells)) - 1]
