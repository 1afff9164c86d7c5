"""bnlint's rules: one module per rule (installed as ``bnlint.rules``)."""
