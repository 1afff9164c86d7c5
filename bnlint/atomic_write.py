"""Replacing a file bnlint edits (``--add-noqa``, ``--fix``): atomically, mode kept, and
only when it still holds what bnlint read."""

from __future__ import annotations

import os
import tempfile

from bnlint.sources import SourceError, read_file_bytes


class WriteError(Exception):
    """A file that was not replaced; the message is one line, starting with its path."""


def replace_if_unchanged(path: str, old: bytes, new: bytes) -> None:
    """Write ``new`` over ``path`` (through a temporary file in its directory, renamed
    over it, with its mode), if it still holds ``old``; raise WriteError otherwise."""
    target = os.path.realpath(path)
    try:
        if read_file_bytes(target) != old:
            raise WriteError(f"{path}: changed on disk while bnlint ran; not edited")
    except SourceError as problem:
        raise WriteError(str(problem)) from None
    directory = os.path.dirname(target)
    try:
        mode = os.stat(target).st_mode & 0o7777
        handle, temporary = tempfile.mkstemp(prefix=".bnlint-", dir=directory)
        try:
            with os.fdopen(handle, "wb") as stream:
                stream.write(new)
            os.chmod(temporary, mode)
            os.replace(temporary, target)
        except BaseException:
            os.unlink(temporary)
            raise
    except OSError as problem:
        raise WriteError(f"{path}: cannot write: {problem.strerror or problem}") from None
