"""Imports: library modules become names of the Keras API (``ModuleRef``); the project's
own modules (``from models import build_model``, ``from .utils import unfreeze``,
``import trainer``) are replayed once, the first time they are imported (as Python runs
them), and their names keep the values their replay left: a builder function defined
there is replayed at its call sites in the linted file exactly like one defined in it.

Steps taken inside another module are recorded in the linted file's trace with the
statement of the linted file that led there (``SemanticModel.entry_sites``), so that a
finding can be reported where the user of that file acts. A module that cannot be
found, read or parsed, or one past the per-file budget, gives unknown names.
"""

from __future__ import annotations

import libcst as cst

from bnlint.project import MAX_MODULES
from bnlint.semantic.names import canonical
from bnlint.semantic.replay import Env, ReplayBase
from bnlint.semantic.syntax import dotted
from bnlint.semantic.values import UNKNOWN, ModuleRef, ProjectModule, Value


class ImportReplay(ReplayBase):
    def exec_import(self, node: cst.Import | cst.ImportFrom, env: Env) -> None:
        if isinstance(node, cst.Import):
            for alias in node.names:
                imported = dotted(alias.name)
                if imported is not None:
                    self.import_name(imported, alias, node, env)
            return
        level = len(node.relative)
        base = dotted(node.module) if node.module is not None else None
        found = self.project_module(base or "", level, node)
        if found is None and self.import_submodules(base, level, node, env):
            return  # `from src.models import resnet_model` of a namespace package
        if found is None:
            self.import_library(base, node, env)
            return
        if isinstance(node.names, cst.ImportStar):
            for name, exported in _names(found).items():
                if not name.startswith("_"):
                    env.bind(name, exported)
            return
        for alias in node.names:
            name = alias.evaluated_name
            value: Value | None = _names(found).get(name)
            if value is None:  # `from package import module`
                value = self.project_module(f"{base}.{name}" if base else name, level, node)
            env.bind(alias.evaluated_alias or name, value if value is not None else UNKNOWN)

    def import_submodules(self, base: str | None, level: int, node: cst.ImportFrom,
                          env: Env) -> bool:
        """``from package import module`` where the package is a directory of the
        project without ``__init__.py`` (a namespace package): each name that is a
        module of it is that module. False when none is."""
        if isinstance(node.names, cst.ImportStar):
            return False
        modules = {alias.evaluated_alias or alias.evaluated_name: self.project_module(
            f"{base}.{alias.evaluated_name}" if base else alias.evaluated_name, level, node)
            for alias in node.names}
        if all(module is None for module in modules.values()):
            return False
        for name, module in modules.items():
            env.bind(name, module if module is not None else UNKNOWN)
        return True

    def import_name(self, imported: str, alias: cst.ImportAlias, node: cst.Import,
                    env: Env) -> None:
        """``import x.y [as z]``: a project module, else a library."""
        found = self.project_module(imported, 0, node)
        if found is not None:
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                env.bind(alias.asname.name.value, found)
                return
            top = imported.split(".")[0]
            package = self.project_module(top, 0, node)
            env.bind(top, package if package is not None else UNKNOWN)
            # `import pkg.models` makes `pkg.models` reachable from `pkg`
            parts = imported.split(".")
            for index in range(1, len(parts)):
                outer = self.project_module(".".join(parts[:index]), 0, node)
                inner = self.project_module(".".join(parts[:index + 1]), 0, node)
                if isinstance(outer, ProjectModule) and inner is not None:
                    _names(outer).setdefault(parts[index], inner)
            return
        self.model.imports.append(imported)
        if self.foreign_path is None:
            self.model.module_imports.add(imported)
        if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
            env.bind(alias.asname.name.value, ModuleRef(canonical(imported)))
        else:
            top = imported.split(".")[0]
            env.bind(top, ModuleRef(canonical(top)))

    def import_library(self, base: str | None, node: cst.ImportFrom, env: Env) -> None:
        """``from library import name``: names of the Keras API (relative imports that
        lead nowhere known give unknown names)."""
        if node.relative:
            if not isinstance(node.names, cst.ImportStar):
                for alias in node.names:
                    bound = alias.evaluated_alias or alias.evaluated_name
                    env.bind(bound.split(".")[0], UNKNOWN)
            return
        if base is None:
            return
        self.model.imports.append(base)
        if isinstance(node.names, cst.ImportStar):
            self.star_imports.append(base)
            return
        for alias in node.names:
            name = alias.evaluated_name
            self.model.imports.append(f"{base}.{name}")
            if self.foreign_path is None:
                self.model.from_imports.add(f"{base}.{name}")
            bound = alias.evaluated_alias or name
            env.bind(bound, ModuleRef(canonical(f"{base}.{name}")))

    def project_module(self, name: str, level: int, node: cst.CSTNode) -> ProjectModule | None:
        """The project module ``name`` names from the code being replayed, replayed the
        first time it is imported; None when it is not the project's."""
        if self.project is None:
            return None
        path = self.project.resolve(name, level, self.foreign_path)
        if path is None or path == self.project.importer:
            return None
        if path not in self.imported:
            self.imported[path] = Env()  # a cycle sees the names bound so far, as in Python
            self.run_module(path, node)
        return ProjectModule(path, self.imported[path])

    def run_module(self, path: str, node: cst.CSTNode) -> None:
        assert self.project is not None
        if len(self.imported) > MAX_MODULES:
            return
        module = self.project.module(path)
        if module is None:
            return
        self.model.project_modules[path] = module
        namespace = self.imported[path]
        saved = (self.globals_env, self.foreign_path, self.foreign_entry, self.exit,
                 self.continuation, self.block_rest, self.current_self, self.current_method,
                 self.current_params)
        self.globals_env, self.foreign_path = namespace, path
        if self.foreign_entry is None:
            self.foreign_entry = node  # the import of this file that runs the module
        try:
            self.exec_block(module.body, namespace)
        finally:
            (self.globals_env, self.foreign_path, self.foreign_entry, self.exit,
             self.continuation, self.block_rest, self.current_self, self.current_method,
             self.current_params) = saved

    def project_attribute(self, module: ProjectModule, attr: str) -> Value:
        """``models.build_model``: a name of an imported project module (or one of its
        submodules)."""
        value = _names(module).get(attr)
        if value is not None:
            return value
        if self.project is not None:
            package = self.project.resolve(attr, 1, module.path)
            if package is not None and package in self.imported:
                return ProjectModule(package, self.imported[package])
        return UNKNOWN


def _names(module: ProjectModule) -> dict[str, Value]:
    names = module.names
    return names.names if isinstance(names, Env) else {}
