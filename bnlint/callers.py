"""What the programs importing a module do with its code: a trainer function handed a
model by a script (`train(model=get_model())` in `run.py`, the `fit` in `train.py`) is
judged only with the model it is given. The linted module alone sees a parameter; the
script that imports and calls it sees the whole program.

For a module that defines functions or classes, the project's modules importing it
that name one of them are replayed (branches joined, at most ``MAX_CALLERS``), with
the import of the linted file reading the very tree being linted. A report of a rule
that reads the program (``Rule.reads_program``) whose evidence lies in this module and
the modules it imports belongs to this module: the caller's own report leaves it here
(see ``engine._to_findings``), so each finding is shown once, where its steps are.
Evidence in the caller, or in a module only the caller imports (the model it hands
over was built there), is the caller's to report, at its call."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bnlint.conditions import PathReport
from bnlint.flavour import Flavour
from bnlint.rule import Rule, RuleContext
from bnlint.settings import Settings

if TYPE_CHECKING:
    import libcst as cst

    from bnlint.project import Project
    from bnlint.semantic.model import SemanticModel

# At most this many importing modules are replayed for one linted file.
MAX_CALLERS = 3
# Steps that train a model: a trainer's code holds one of them.
_TRAINING_STEPS = frozenset({"compile", "fit", "gradient"})
_MAIN_GUARD = re.compile(r"^if\s+__name__\s*==", re.MULTILINE)


@dataclass(slots=True)
class CallerReports:
    """Reports found by replaying the modules that import the linted file, and the
    trees and files those replays read (for locating notes, and for the cache)."""

    home: str = ""  # the linted file (absolute)
    reports: list[PathReport] = field(default_factory=list)
    modules: dict[str, cst.Module] = field(default_factory=dict)
    callers: list[str] = field(default_factory=list)
    read: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def caller_reports(module: cst.Module, path: str, own: SemanticModel,
                   project: Project | None, rules: Sequence[type[Rule]], settings: Settings,
                   flavour: Flavour) -> CallerReports:
    """The reports of ``rules`` that read the program, on the programs of the modules
    that import the file at ``path`` and call what it defines; only for a file whose
    own replay (``own``) trains something in code it never calls itself (a trainer
    function, a trainer class's methods): what it trains is its callers' to say."""
    found = CallerReports(home=path)
    chosen = [rule for rule in rules if rule.reads_program]
    if project is None or not chosen or not path.endswith(".py"):
        return found
    if not any(event.context.standalone and event.kind in _TRAINING_STEPS
               for event in own.events):
        return found
    if project.api_package() is not None:
        return found  # a library's own sources: its importers are its tests
    names = _defined_names(module)
    if not names:
        return found
    from bnlint.project import module_text
    from bnlint.semantic.build import build_joined

    alternatives = "|".join(re.escape(name) for name in names)
    pattern = re.compile(rf"\b(?:{alternatives})\b")
    callers = []
    for caller in project.importers():
        text = module_text(caller)
        if pattern.search(text):
            callers.append((_MAIN_GUARD.search(text) is None, caller))
    for _, caller in sorted(callers)[:MAX_CALLERS]:
        tree = project.module(caller)
        if tree is None:
            continue
        try:
            model = build_joined(tree, project.seen_from(caller, module))
        except MemoryError:
            raise
        except Exception as error:  # noqa: BLE001 - the file's own findings must stand
            found.errors.append(f"{path}: internal error replaying the program of {caller}: "
                                f"{type(error).__name__}: {error}")
            continue
        found.callers.append(caller)
        found.modules[caller] = tree
        found.modules.update(model.project_modules)
        found.read.extend([caller, *model.project_modules, *model.settings_read])
        context = RuleContext(model=model, settings=settings, flavour=flavour)
        for rule in chosen:
            try:
                found.reports.extend(PathReport(rule, report, model, True)
                                     for report in rule().check(context))
            except MemoryError:
                raise  # the file's memory budget, reported by its worker
            except Exception as error:  # noqa: BLE001 - a bug in one rule must not stop the others
                found.errors.append(
                    f"{path}: internal error in {rule.code} ({rule.name}) on the program of "
                    f"{caller}: {type(error).__name__}: {error}")
    return found


def _defined_names(module: cst.Module) -> list[str]:
    """The functions and classes the module defines at its top level."""
    import libcst as cst

    return [statement.name.value for statement in module.body
            if isinstance(statement, (cst.FunctionDef, cst.ClassDef))]
