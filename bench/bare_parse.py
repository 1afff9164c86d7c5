#!/usr/bin/env python3
"""Parse every file of a corpus with libcst and do nothing else, in one process: the
floor a cold bnlint run is compared with.

    python bench/bare_parse.py CORPUS_DIR

``.py`` files are parsed as they are. A notebook's code cells are joined into one
program, as bnlint analyses it, with the lines IPython would not hand to Python (``%``
and ``!`` commands, ``?`` help) blanked and a cell magic's whole cell left out; a program
libcst still rejects is counted, not retried. Prints the files parsed and the files
rejected. Standard library and libcst only.
"""

from __future__ import annotations

import json
import os
import sys

SKIP_DIRS = {"__pycache__", "node_modules", "venv", "site-packages"}


def notebook_program(data: bytes) -> str | None:
    """The code cells of a notebook joined, IPython-only lines blanked."""
    try:
        cells = json.loads(data).get("cells", [])
    except (ValueError, AttributeError):
        return None
    rows: list[str] = []
    for cell in cells:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        text = "".join(source) if isinstance(source, list) else str(source)
        lines = text.splitlines()
        if lines and lines[0].lstrip().startswith("%%"):
            rows.extend("" for _ in lines)
            continue
        for line in lines:
            stripped = line.strip()
            ipython = stripped.startswith(("%", "!")) or stripped.endswith("?")
            rows.append("" if ipython else line)
    return "".join(row + "\n" for row in rows)


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not os.path.isdir(argv[0]):
        sys.stderr.write("usage: bare_parse.py CORPUS_DIR\n")
        return 2
    import libcst

    parsed = rejected = 0
    for directory, subdirs, files in os.walk(argv[0]):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith(".") and d not in SKIP_DIRS)
        for name in sorted(files):
            if not name.endswith((".py", ".ipynb")):
                continue
            with open(os.path.join(directory, name), "rb") as handle:
                data = handle.read()
            try:
                if name.endswith(".py"):
                    libcst.parse_module(data)
                else:
                    text = notebook_program(data)
                    if text is None:
                        rejected += 1
                        continue
                    libcst.parse_module(text)
            except (libcst.ParserSyntaxError, RecursionError, ValueError):
                rejected += 1
                continue
            parsed += 1
    print(f"parsed {parsed} files, rejected {rejected}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
