"""Which library APIs a module names, read from its syntax alone (without replaying it):
enough to tell the Keras generation a module that imports the linted file was written
for (`tf.keras.ops.mean(...)` is Keras 3, `model.fit_generator(...)` Keras 2).

Names are resolved through the module's own imports only (``import tensorflow as tf``
makes ``tf.keras.ops.mean`` ``keras.ops.mean``); a name bound any other way is not
followed, so what this reports is what the text plainly says."""

from __future__ import annotations

from dataclasses import dataclass, field

import libcst as cst

from bnlint.semantic.names import canonical
from bnlint.semantic.syntax import dotted
from bnlint.semantic.walk import walk


@dataclass(slots=True)
class CodeUse:
    """The library modules a module imports (as written: ``tensorflow.keras.layers``),
    the canonical names of the library symbols it calls or refers to, and the names of
    the methods it calls (``fit_generator``)."""

    imports: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    methods: set[str] = field(default_factory=set)


def code_use(module: cst.Module) -> CodeUse:
    """What ``module`` names of the libraries it imports (relative imports are the
    project's own and are left out)."""
    found = CodeUse()
    bound: dict[str, str] = {}  # a name the imports bind -> the library path it names
    attributes: list[cst.Attribute] = []
    for node in walk(module):
        if isinstance(node, cst.Import):
            for alias in node.names:
                imported = dotted(alias.name)
                if imported is None:
                    continue
                found.imports.append(imported)
                if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                    bound[alias.asname.name.value] = imported
                else:
                    top = imported.split(".")[0]
                    bound[top] = top
        elif isinstance(node, cst.ImportFrom):
            base = dotted(node.module) if node.module is not None else None
            if node.relative or base is None:
                continue
            found.imports.append(base)
            if isinstance(node.names, cst.ImportStar):
                continue
            for alias in node.names:
                path = f"{base}.{alias.evaluated_name}"
                found.imports.append(path)
                bound[alias.evaluated_alias or alias.evaluated_name] = path
        elif isinstance(node, cst.Attribute):
            attributes.append(node)
        elif isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
            found.methods.add(node.func.attr.value)
    inner = {id(node.value) for node in attributes}
    for node in attributes:
        if id(node) in inner:
            continue  # part of a longer chain, which is read whole
        written = dotted(node)
        if written is None:
            continue
        head, _, rest = written.partition(".")
        if head in bound:
            found.names.append(canonical(f"{bound[head]}.{rest}"))
    return found
