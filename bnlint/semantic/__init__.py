"""The semantic model of a Keras program."""
