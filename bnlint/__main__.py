"""``python -m bnlint``: the same as the ``bnlint`` command."""

from bnlint.cli import main

raise SystemExit(main())
