"""``libcst`` loaded on first use.

Rule modules name libcst classes only inside their checks, but the CLI imports every
rule to resolve the selection; a run answered entirely from the cache never parses, so
it should not pay libcst's import (about half of its start-up). Modules use::

    if TYPE_CHECKING:
        import libcst as cst
    else:
        from bnlint.lazy import libcst as cst
"""

from __future__ import annotations

import importlib
from types import ModuleType


class _Lazy:
    """Stands for a module; the first attribute read imports it."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attribute: str) -> object:
        module = self._module
        if module is None:
            module = self._module = importlib.import_module(self._name)
        value = getattr(module, attribute)
        setattr(self, attribute, value)  # later reads are plain attribute reads
        return value


libcst = _Lazy("libcst")
