"""bnlint: a static linter for Keras BatchNormalization and fine-tuning mistakes.

Importing this package is cheap: it imports neither libcst nor TensorFlow.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
