"""The report formats beyond the plain ones in ``bnlint.report``: one module per format.

Every renderer takes the run's results and returns the whole report as text; findings
appear in report order (filename, row, column, code) whatever order files were linted in.
"""
