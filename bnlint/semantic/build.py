"""Builds the semantic model by replaying a module's statements in order.

One recursive pass over the libcst tree: imports feed an alias table (no libcst
metadata providers), assignments bind abstract values to names, and every Keras-relevant
step is appended to the event trace. Module scope runs top to bottom; user functions are
replayed at their call sites with their arguments bound (so their effects on arguments
and module objects land in the caller's trace); functions never called are replayed once
on their own with unknown arguments. Branches join conservatively: a state that differs
between paths becomes unknown.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import libcst as cst

from bnlint.semantic.events import Context, Event, PathKind
from bnlint.semantic.model import CallSite, Reference, SemanticModel
from bnlint.semantic.names import KerasApi, canonical, keras_api
from bnlint.semantic.scan import scan_module
from bnlint.semantic.values import (
    UNKNOWN,
    ClassValue,
    Const,
    Dataset,
    FunctionValue,
    Instance,
    Layer,
    LayerSelection,
    ListValue,
    ModuleRef,
    Optimizer,
    OptimizerAttr,
    Schedule,
    Tape,
    Tensor,
    TrainingArg,
    Tri,
    Value,
    Variables,
    Wiring,
    merge_tensors,
)

MAX_INLINE_DEPTH = 4
FIT_METHODS = frozenset({"fit", "fit_generator", "train_on_batch"})
EVAL_METHODS = frozenset({"evaluate", "predict", "predict_on_batch", "test_on_batch",
                          "evaluate_generator", "predict_generator"})
# Functions (not layers) that may be applied to tensors of a functional graph.
_GRAPH_OP_PREFIXES = ("keras.layers.", "keras.ops.", "keras.backend.", "keras.activations.",
                      "tf.")
# Callback hooks in the order fit() runs them.
CALLBACK_HOOKS = ("on_train_begin", "on_epoch_begin", "on_train_batch_begin", "on_batch_begin",
                  "on_train_batch_end", "on_batch_end", "on_epoch_end", "on_train_end")
# Names that mean these modules even where the file does not import them.
_CONVENTIONAL_MODULES = {"tf": "tensorflow", "keras": "keras"}
_HUB_PREPROCESSING = ("Converter", "Preprocessor", "Tokenizer", "Packer")
# Callees that receive a model without changing its trainable state.
_HARMLESS_PREFIXES = ("keras.", "tf.", "np.", "numpy.", "matplotlib.", "plt.", "os.", "sys.",
                      "logging.", "json.", "pickle.", "wandb.", "mlflow.", "tqdm.")
_BUILTINS_NO_EFFECT = frozenset({"print", "len", "isinstance", "type", "repr", "str", "id",
                                 "hasattr", "getattr", "vars", "dir", "list", "tuple",
                                 "enumerate", "zip", "range", "sorted", "any", "all", "sum",
                                 "min", "max", "abs", "round", "int", "float", "bool"})


def build_model(module: cst.Module) -> SemanticModel:
    """Replay ``module`` and return its semantic model."""
    builder = _Builder(module)
    builder.run()
    facts = scan_module(module)
    builder.model.attribute_reads = facts.attribute_reads
    builder.model.discarded_calls = facts.discarded_calls
    builder.model.weight_sources = facts.weight_sources
    return builder.model


@dataclass(eq=False)
class _Env:
    """Names bound in one scope; reads fall back to the module scope."""

    names: dict[str, Value] = field(default_factory=dict)
    parent: _Env | None = None
    globals_declared: set[str] = field(default_factory=set)
    returns: list[Value] = field(default_factory=list)

    def lookup(self, name: str) -> Value | None:
        if name in self.names:
            return self.names[name]
        if self.parent is not None:
            return self.parent.lookup(name)
        return None

    def bind(self, name: str, value: Value) -> None:
        if name in self.globals_declared and self.parent is not None:
            self.parent.bind(name, value)
        else:
            self.names[name] = value


def _const_number(value: Value) -> float | None:
    if isinstance(value, Const) and isinstance(value.value, (int, float)) and not isinstance(
        value.value, bool
    ):
        return float(value.value)
    return None


def _is_input_layer(layer: Layer) -> bool:
    return layer.qualname.rsplit(".", 1)[-1] == "InputLayer"


def _const_int(value: Value) -> int | None:
    """An integer constant (folded arithmetic may give an integral float)."""
    number = value.value if isinstance(value, Const) else None
    if isinstance(number, bool) or not isinstance(number, (int, float)):
        return None
    if isinstance(number, float) and not number.is_integer():
        return None
    return int(number)


def _literal_int(node: cst.BaseExpression | None) -> int | None:
    if isinstance(node, cst.Integer):
        return int(node.evaluated_value)
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
        inner = _literal_int(node.expression)
        return -inner if inner is not None else None
    return None


def _training_arg(node: cst.Arg | None) -> TrainingArg:
    if node is None:
        return "absent"
    value = node.value
    if isinstance(value, cst.Name):
        if value.value == "True":
            return "true"
        if value.value == "False":
            return "false"
        if value.value == "None":
            return "none"
    if isinstance(value, cst.Integer):
        return "true" if value.evaluated_value else "false"
    return "dynamic"


def _keyword(call: cst.Call, name: str) -> cst.Arg | None:
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == name:
            return arg
    return None


class _Builder:
    def __init__(self, module: cst.Module) -> None:
        self.module = module
        self.model = SemanticModel(module=module)
        self.api: KerasApi = keras_api()
        self.context = Context()
        self.module_env = _Env()
        self.star_imports: list[str] = []
        self.functions: list[FunctionValue] = []
        self.ran: set[int] = set()
        self.active: list[int] = []
        self.control_dependencies = 0
        self.current_self: Layer | None = None
        self.current_method: str | None = None
        self.current_params: frozenset[str] = frozenset()
        self.prototypes: dict[int, Instance] = {}

    # ----------------------------------------------------------------- driver
    def run(self) -> None:
        self.exec_block(self.module.body, self.module_env)
        self.replay_unreached()

    def replay_unreached(self) -> None:
        """Functions nobody called are replayed once with unknown arguments, so that
        local rules still see their bodies."""
        index = 0
        while index < len(self.functions):
            function = self.functions[index]
            index += 1
            if id(function.node) in self.ran:
                continue
            owner = function.owner
            receiver: Value | None = None
            saved = self.context
            self.context = replace(saved, standalone=True)
            try:
                if owner is not None and owner.keras_base is not None:
                    receiver = self.prototype(owner)
                elif owner is not None:
                    receiver = self.plain_prototype(owner)
                self.call_function(function, [], {}, receiver, standalone=True)
            finally:
                self.context = saved

    def plain_prototype(self, owner: ClassValue) -> Instance:
        """One instance per plain class for replaying its unreached methods, built by its
        ``__init__`` with unknown arguments (once)."""
        found = self.prototypes.get(id(owner))
        if found is None:
            found = self.prototypes[id(owner)] = Instance(owner, owner.node)
            init = owner.methods.get("__init__")
            if init is not None and id(init.node) not in self.active:
                self.call_function(init, [], {}, found, standalone=True)
        return found

    def prototype(self, owner: ClassValue) -> Layer:
        """An instance of a user Keras class built with unknown arguments."""
        layer = self.new_user_instance(owner, owner.node)
        init = owner.methods.get("__init__")
        if init is not None and id(init.node) not in self.active:
            self.call_function(init, [], {}, layer, standalone=True)
        return layer

    # ------------------------------------------------------------- statements
    def exec_block(self, body: Sequence[cst.BaseStatement] | Sequence[cst.BaseSmallStatement],
                   env: _Env) -> None:
        for statement in body:
            self.exec_statement(statement, env)

    def exec_suite(self, suite: cst.BaseSuite, env: _Env) -> None:
        if isinstance(suite, (cst.IndentedBlock, cst.SimpleStatementSuite)):
            self.exec_block(suite.body, env)

    def exec_statement(self, node: cst.CSTNode, env: _Env) -> None:
        if isinstance(node, cst.SimpleStatementLine):
            self.exec_block(node.body, env)
        elif isinstance(node, (cst.Import, cst.ImportFrom)):
            self.exec_import(node, env)
        elif isinstance(node, cst.Assign):
            value = self.eval(node.value, env)
            for target in node.targets:
                self.assign(target.target, value, node.value, env)
        elif isinstance(node, cst.AnnAssign):
            if node.value is not None:
                value = self.eval(node.value, env)
                self.assign(node.target, value, node.value, env)
        elif isinstance(node, cst.AugAssign):
            right = self.eval(node.value, env)
            if isinstance(node.target, cst.Name):
                old = self.eval(node.target, env)
                env.bind(node.target.value, self.fold_aug(old, right, node))
        elif isinstance(node, cst.Expr):
            self.eval(node.value, env)
        elif isinstance(node, cst.Return):
            env.returns.append(self.eval(node.value, env) if node.value else Const(None))
        elif isinstance(node, cst.Global):
            env.globals_declared.update(item.name.value for item in node.names)
        elif isinstance(node, cst.Raise):
            if node.exc is not None:
                self.eval(node.exc, env)
        elif isinstance(node, cst.Assert):
            self.eval(node.test, env)
        elif isinstance(node, cst.If):
            self.exec_if(node, env)
        elif isinstance(node, cst.For):
            self.exec_for(node, env)
        elif isinstance(node, cst.While):
            self.eval(node.test, env)
            self.exec_loop_body(node.body, env, node)
            if node.orelse is not None:
                self.exec_branch(node.orelse.body, env, ("else", node))
        elif isinstance(node, cst.With):
            self.exec_with(node, env)
        elif isinstance(node, cst.Try):
            self.exec_suite(node.body, env)
            for handler in node.handlers:
                self.exec_branch(handler.body, env, ("except", handler))
            if node.orelse is not None:
                self.exec_suite(node.orelse.body, env)
            if node.finalbody is not None:
                self.exec_suite(node.finalbody.body, env)
        elif isinstance(node, cst.FunctionDef):
            self.define_function(node, env, None)
        elif isinstance(node, cst.ClassDef):
            self.define_class(node, env)

    def fold_aug(self, old: Value, right: Value, node: cst.AugAssign) -> Value:
        if isinstance(old, (Const, Variables, ListValue)):
            return self.fold(old, right, node.operator)
        return UNKNOWN

    def exec_import(self, node: cst.Import | cst.ImportFrom, env: _Env) -> None:
        if isinstance(node, cst.Import):
            for alias in node.names:
                dotted = _dotted(alias.name)
                if dotted is None:
                    continue
                self.model.imports.append(dotted)
                if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                    env.bind(alias.asname.name.value, ModuleRef(canonical(dotted)))
                else:
                    top = dotted.split(".")[0]
                    env.bind(top, ModuleRef(canonical(top)))
            return
        if node.relative:
            if not isinstance(node.names, cst.ImportStar):
                for alias in node.names:
                    bound = alias.evaluated_alias or alias.evaluated_name
                    env.bind(bound.split(".")[0], UNKNOWN)
            return
        base = _dotted(node.module) if node.module is not None else None
        if base is None:
            return
        self.model.imports.append(base)
        if isinstance(node.names, cst.ImportStar):
            self.star_imports.append(base)
            return
        for alias in node.names:
            name = alias.evaluated_name
            self.model.imports.append(f"{base}.{name}")
            bound = alias.evaluated_alias or name
            env.bind(bound, ModuleRef(canonical(f"{base}.{name}")))

    def exec_branch(self, suite: cst.BaseSuite, env: _Env,
                    step: tuple[PathKind, cst.CSTNode] | None = None) -> None:
        saved = self.context
        path = saved.path + (step,) if step is not None else saved.path
        self.context = replace(saved, definite=False, path=path)
        try:
            self.exec_suite(suite, env)
        finally:
            self.context = saved

    def exec_if(self, node: cst.If, env: _Env) -> None:
        test = self.eval(node.test, env)
        if _is_main_guard(node.test):
            self.exec_suite(node.body, env)
            return
        if isinstance(test, Const) and isinstance(test.value, (bool, int, str, type(None))):
            # `if use_bn:` with a known argument: only one branch runs
            if test.value:
                self.exec_suite(node.body, env)
            elif isinstance(node.orelse, cst.If):
                self.exec_if(node.orelse, env)
            elif isinstance(node.orelse, cst.Else):
                self.exec_suite(node.orelse.body, env)
            return
        guard = self.isinstance_guard(node.test, env)
        before = dict(env.names)
        if guard is not None:
            name, positive = guard
            self.exec_guarded(node.body, env, name, positive, ("if", node))
        else:
            self.exec_branch(node.body, env, ("if", node))
        then_names = dict(env.names)
        env.names = dict(before)
        orelse = node.orelse
        if isinstance(orelse, cst.If):
            saved = self.context
            self.context = replace(saved, definite=False, path=saved.path + (("else", node),))
            try:
                self.exec_if(orelse, env)
            finally:
                self.context = saved
        elif isinstance(orelse, cst.Else):
            if guard is not None:
                name, positive = guard
                self.exec_guarded(orelse.body, env, name, not positive, ("else", node))
            else:
                self.exec_branch(orelse.body, env, ("else", node))
        else_names = env.names
        joined: dict[str, Value] = {}
        for key in set(then_names) | set(else_names):
            first, second = then_names.get(key), else_names.get(key)
            if first is not None and first is second:
                joined[key] = first
            elif isinstance(first, Tensor) and isinstance(second, Tensor) and (
                first.symbolic and second.symbolic
            ):
                # either path built part of the same functional graph
                joined[key] = merge_tensors([first, second], first.inputs_node) or UNKNOWN
            elif first is None and second is not None and key not in before or second is None and first is not None and key not in before:
                joined[key] = UNKNOWN
            else:
                joined[key] = UNKNOWN
        env.names = joined

    def exec_guarded(self, suite: cst.BaseSuite, env: _Env, name: str, bn: bool,
                     step: tuple[PathKind, cst.CSTNode]) -> None:
        """Run a branch where an isinstance/name check narrows a layer loop variable.
        The narrowing is a selection of layers, so the branch counts as definite."""
        selection = env.lookup(name)
        if not isinstance(selection, LayerSelection):
            self.exec_branch(suite, env, step)
            return
        guard: Literal["bn", "not_bn"] = "bn" if bn else "not_bn"
        if selection.guard != "none" and selection.guard != guard:
            return  # contradictory narrowing: the branch selects nothing
        env.bind(name, replace(selection, guard=guard))
        saved = self.context
        self.context = replace(saved, path=saved.path + (step,))
        try:
            self.exec_suite(suite, env)
        finally:
            self.context = saved
            env.bind(name, selection)

    def isinstance_guard(self, test: cst.BaseExpression, env: _Env) -> tuple[str, bool] | None:
        """``isinstance(x, BatchNormalization)`` / ``not ...`` / ``'bn' in x.name``:
        (loop variable, True for BN)."""
        positive = True
        while isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
            positive = not positive
            test = test.expression
        if isinstance(test, cst.Call) and isinstance(test.func, cst.Name):
            if test.func.value == "isinstance" and len(test.args) == 2:
                subject = test.args[0].value
                if not isinstance(subject, cst.Name):
                    return None
                classes = self.eval(test.args[1].value, env)
                items = classes.items if isinstance(classes, ListValue) else (classes,)
                names = [item.name for item in items if isinstance(item, ModuleRef)]
                if len(names) != len(items):
                    return None
                bn_names = self.api.bn_layers | self.api.v1_bn_layers
                if all(item in bn_names for item in names):
                    return subject.value, positive
            return None
        if isinstance(test, cst.Comparison) and len(test.comparisons) == 1:
            target = test.comparisons[0]
            operator = target.operator
            if isinstance(target.comparator, cst.Attribute) and isinstance(
                test.left, cst.SimpleString
            ):
                attribute = target.comparator
                text = str(test.left.evaluated_value).lower()
                if (attribute.attr.value == "name" and isinstance(attribute.value, cst.Name)
                        and text in {"bn", "batch_norm", "batchnorm", "batch_normalization"}):
                    if isinstance(operator, cst.In):
                        return attribute.value.value, positive
                    if isinstance(operator, cst.NotIn):
                        return attribute.value.value, not positive
        return None

    def exec_for(self, node: cst.For, env: _Env) -> None:
        iterable = self.eval(node.iter, env)
        if isinstance(iterable, LayerSelection) and not iterable.element and isinstance(
            node.target, cst.Name
        ):
            env.bind(node.target.value, replace(iterable, element=True, node=node.target))
        else:
            self.bind_unknown(node.target, env)
        self.exec_loop_body(node.body, env, node)
        if node.orelse is not None:
            self.exec_branch(node.orelse.body, env, ("else", node))

    def exec_loop_body(self, suite: cst.BaseSuite, env: _Env, node: cst.CSTNode) -> None:
        saved = self.context
        self.context = replace(saved, loop_depth=saved.loop_depth + 1,
                               path=saved.path + (("loop", node),))
        try:
            self.exec_suite(suite, env)
        finally:
            self.context = saved

    def exec_with(self, node: cst.With, env: _Env) -> None:
        tapes: list[Tape] = []
        control = 0
        for item in node.items:
            value = self.eval(item.item, env)
            if isinstance(value, Tape):
                tapes.append(value)
            if isinstance(item.item, cst.Call):
                callee = self.eval(item.item.func, env)
                if isinstance(callee, ModuleRef) and callee.name.endswith("control_dependencies"):
                    control += 1
            if item.asname is not None:
                self.assign(item.asname.name, value, item.item, env)
        saved = self.context
        if tapes:
            self.context = replace(saved, tape=tapes[-1], tapes=saved.tapes + tuple(tapes))
        self.control_dependencies += control
        try:
            self.exec_suite(node.body, env)
        finally:
            self.context = saved
            self.control_dependencies -= control

    def define_function(self, node: cst.FunctionDef, env: _Env, owner: ClassValue | None) -> None:
        prefix = f"{owner.name}." if owner else ""
        function = FunctionValue(node=node, qualname=prefix + node.name.value, owner=owner)
        params = node.params
        for param in (*params.posonly_params, *params.params, *params.kwonly_params):
            if param.default is not None:
                function.defaults[param.name.value] = self.eval(param.default, env)
        self.functions.append(function)
        if owner is None:
            env.bind(node.name.value, function)
        else:
            owner.methods[node.name.value] = function

    def define_class(self, node: cst.ClassDef, env: _Env) -> None:
        bases = tuple(self.eval(arg.value, env) for arg in node.bases if arg.keyword is None)
        keras_base: str | None = None
        for base in bases:
            if isinstance(base, ModuleRef):
                if base.name in self.api.model_bases:
                    keras_base = "model"
                elif base.name in self.api.layer_bases or self.api.is_layer_class(base.name):
                    keras_base = keras_base or "layer"
            elif isinstance(base, ClassValue) and base.keras_base is not None:
                keras_base = base.keras_base
        value = ClassValue(node=node, name=node.name.value,
                           keras_base=keras_base, bases=bases)  # type: ignore[arg-type]
        for base in bases:
            if isinstance(base, ClassValue):
                value.methods.update(base.methods)
        for statement in node.body.body if isinstance(node.body, cst.IndentedBlock) else ():
            if isinstance(statement, cst.FunctionDef):
                self.define_function(statement, env, value)
        self.model.classes.append(value)
        env.bind(node.name.value, value)

    # -------------------------------------------------------------- bindings
    def bind_unknown(self, target: cst.BaseExpression, env: _Env) -> None:
        if isinstance(target, cst.Name):
            env.bind(target.value, UNKNOWN)
        elif isinstance(target, (cst.Tuple, cst.List)):
            for element in target.elements:
                self.bind_unknown(element.value, env)

    def assign(self, target: cst.BaseExpression, value: Value, value_node: cst.BaseExpression,
               env: _Env) -> None:
        if isinstance(target, cst.Name):
            env.bind(target.value, value)
            if isinstance(value, Layer) and not value.label:
                value.label = target.value
        elif isinstance(target, (cst.Tuple, cst.List)):
            items = value.items if isinstance(value, ListValue) else None
            for index, element in enumerate(target.elements):
                item = items[index] if items is not None and index < len(items) else UNKNOWN
                if items is None and isinstance(value, Tensor):
                    item = value  # `valid, label = discriminator(img)`: outputs of one call
                self.assign(element.value, item, value_node, env)
        elif isinstance(target, cst.Attribute):
            owner = self.eval(target.value, env)
            if isinstance(value, Layer) and not value.label and isinstance(owner, (Layer,
                                                                                 Instance)):
                value.label = _dotted(target) or ""  # `self.bn`
            self.assign_attribute(owner, target, value, value_node)
        elif isinstance(target, cst.Subscript):
            self.eval(target.value, env)

    def assign_attribute(self, owner: Value, target: cst.Attribute, value: Value,
                         value_node: cst.BaseExpression) -> None:
        attr = target.attr.value
        if attr == "trainable":
            self.set_trainable(owner, target, value, value_node)
            return
        if attr in {"learning_rate", "lr"} and isinstance(owner, Optimizer):
            self.record_set_lr(owner, target, value)
            return
        if isinstance(owner, (Layer, LayerSelection, ModuleRef)):
            self.record(Event("set_attr", target, owner, self.context, attr=attr, value=value,
                              value_node=value_node))
        if isinstance(owner, (Layer, Instance)) and self.conditional() and (
                owner.attrs.get(attr) is not value):
            # set on one path only: the attribute may hold this or what it held before
            owner.attrs[attr] = UNKNOWN
            if isinstance(owner, Layer) and isinstance(value, Layer) and value is not owner:
                if value.contains_bn() is not False:
                    owner.has_bn = None
                if value.contains_dropout() is not False:
                    owner.has_dropout = None
            return
        if isinstance(owner, Layer):
            owner.attrs[attr] = value
            if isinstance(value, Layer) and value is not owner and not attr.startswith("__"):
                owner.children = [w for w in owner.children if w.child is not value]
                owner.children.append(Wiring(value, "attribute", "absent", target))
        if isinstance(owner, Instance):
            owner.attrs[attr] = value

    def unseen_model(self, target: cst.BaseExpression, env: _Env) -> Value:
        """``x.compile(...)`` on a value of unknown origin (built in another module, or
        elided in a snippet): ``x`` is a Keras model whose content is unknown. It is bound
        so that later steps on ``x`` (freezing it, calling it, training it) refer to it."""
        if not isinstance(target, cst.Name) and not (
                isinstance(target, cst.Attribute) and isinstance(target.value, cst.Name)):
            return UNKNOWN
        model = self.new_layer("<model>", target, is_model=True, model_kind="loaded",
                               has_bn=None, has_dropout=None, opaque=True)
        model.label = _dotted(target) or ""
        if isinstance(target, cst.Name):
            env.bind(target.value, model)
        else:
            owner = self.eval(target.value, env)
            if not isinstance(owner, (Layer, Instance)):
                return UNKNOWN
            owner.attrs[target.attr.value] = model
        return model

    def conditional(self) -> bool:
        """Is the current statement inside a branch (``if``/``else``/``except``) that may
        not run? (A function replayed on its own is not a branch: its body runs when it
        is called.)"""
        return any(kind in {"if", "else", "except"} for kind, _ in self.context.path)

    def set_trainable(self, owner: Value, target: cst.Attribute, value: Value,
                      value_node: cst.BaseExpression) -> None:
        flag: Tri = None
        if isinstance(value, Const) and isinstance(value.value, bool):
            flag = value.value
        layer = owner if isinstance(owner, Layer) else None
        selection = owner if isinstance(owner, LayerSelection) else None
        before = layer.trainable if layer else (selection.container.trainable if selection else None)
        bn_before = layer.bn_trainable() if layer else (
            selection.container.bn_trainable() if selection else None)
        self.record(Event("set_trainable", target, owner, self.context, attr="trainable",
                          value=value, value_node=value_node, selection=selection,
                          trainable_before=before, bn_trainable_before=bn_before))
        definite = self.context.definite
        if layer is not None:
            _apply_to_layer(layer, flag, definite)
        elif selection is not None:
            _apply_to_selection(selection, flag, definite)

    def record(self, event: Event) -> None:
        self.model.events.append(event)

    def record_set_lr(self, optimizer: Optimizer | None, node: cst.CSTNode, value: Value) -> None:
        rate = _const_number(value)
        self.record(Event("set_lr", node, optimizer, self.context, optimizer=optimizer,
                          learning_rate=rate, value=value))
        if optimizer is not None and self.context.definite:
            optimizer.learning_rate = rate
            optimizer.default_rate = False
            optimizer.schedule = isinstance(value, Schedule)

    # ------------------------------------------------------------ expressions
    def eval(self, node: cst.BaseExpression | None, env: _Env) -> Value:
        if node is None:
            return UNKNOWN
        if isinstance(node, cst.Name):
            return self.eval_name(node, env)
        if isinstance(node, (cst.Integer, cst.Float)):
            try:
                return Const(node.evaluated_value, node)
            except (ValueError, SyntaxError):  # beyond the digit limit: Python rejects it too
                return UNKNOWN
        if isinstance(node, cst.SimpleString):
            try:
                return Const(node.evaluated_value, node)
            except (ValueError, SyntaxError, UnicodeError):  # pragma: no cover - malformed
                return UNKNOWN
        if isinstance(node, cst.ConcatenatedString):
            return Const("", node)
        if isinstance(node, cst.UnaryOperation):
            inner = self.eval(node.expression, env)
            number = _const_number(inner)
            if number is not None and isinstance(node.operator, cst.Minus):
                value = inner.value if isinstance(inner, Const) else None
                return Const(-value if isinstance(value, int) else -number, node)
            return UNKNOWN
        if isinstance(node, cst.BinaryOperation):
            left, right = self.eval(node.left, env), self.eval(node.right, env)
            tensor = merge_tensors([left, right], node)
            if tensor is not None:  # `x + shortcut` in a functional graph
                return tensor
            return self.fold(left, right, node.operator)
        if isinstance(node, cst.Attribute):
            return self.eval_attribute(node, env)
        if isinstance(node, cst.Subscript):
            return self.eval_subscript(node, env)
        if isinstance(node, cst.Call):
            return self.eval_call(node, env)
        if isinstance(node, (cst.List, cst.Tuple)):
            return self.eval_list(node, env)
        if isinstance(node, (cst.ListComp, cst.GeneratorExp, cst.SetComp, cst.DictComp)):
            return self.eval_comprehension(node, env)
        if isinstance(node, cst.NamedExpr):
            value = self.eval(node.value, env)
            self.assign(node.target, value, node.value, env)
            return value
        if isinstance(node, cst.Lambda):
            return UNKNOWN
        for child in node.children:
            if isinstance(child, cst.BaseExpression):
                self.eval(child, env)
            else:
                for grandchild in _expressions_in(child):
                    self.eval(grandchild, env)
        return UNKNOWN

    def eval_list(self, node: cst.List | cst.Tuple, env: _Env) -> ListValue:
        """A list/tuple display; ``*items`` of a known list are spliced in."""
        items: list[Value] = []
        nodes: list[cst.CSTNode] = []
        for element in node.elements:
            value = self.eval(element.value, env)
            if isinstance(element, cst.StarredElement) and isinstance(value, ListValue):
                items.extend(value.items)
                nodes.extend([element] * len(value.items))
            else:
                items.append(value)
                nodes.append(element.value)
        return ListValue(tuple(items), tuple(nodes))

    def eval_name(self, node: cst.Name, env: _Env) -> Value:
        name = node.value
        if name in {"True", "False", "None"}:
            return Const({"True": True, "False": False, "None": None}[name], node)
        value = env.lookup(name)
        if value is not None:
            return value
        # the last star import that certainly has the name wins; the loose "any
        # capitalised name under keras.layers" guess comes last (`Model` is not a layer)
        keras_only = all(star.split(".")[0] in {"keras", "tensorflow", "tf_keras", "tf"}
                         for star in self.star_imports)
        for strict in (True, False) if keras_only else (True,):
            for star in reversed(self.star_imports):
                candidate = canonical(f"{star}.{name}")
                if self.known_symbol(candidate, strict):
                    return ModuleRef(candidate)
        if name in _CONVENTIONAL_MODULES:
            # a fragment that uses `tf.` / `keras.` without importing them (the import
            # lives in another file or was cut from a snippet)
            return ModuleRef(canonical(_CONVENTIONAL_MODULES[name]))
        return UNKNOWN

    def known_symbol(self, name: str, strict: bool = False) -> bool:
        api = self.api
        application = api.application(name)
        return (name in api.bn_layers or name in api.v1_bn_layers or name in api.sequential
                or name in api.functional or name in api.inputs
                or not strict and api.is_layer_class(name)
                or application is not None and (not strict or application != "unknown")
                or name.startswith("keras.optimizers."))

    def fold(self, left: Value, right: Value,
             operator: cst.BaseBinaryOp | cst.BaseAugOp) -> Value:
        if isinstance(operator, (cst.Add, cst.AddAssign)):
            variables = _variables_list(left), _variables_list(right)
            if variables[0] is not None and variables[1] is not None:
                # `g.trainable_variables + d.trainable_variables`
                return ListValue(variables[0] + variables[1])
        a, b = _const_number(left), _const_number(right)
        if a is None or b is None:
            return UNKNOWN
        try:
            if isinstance(operator, (cst.Add, cst.AddAssign)):
                return Const(a + b)
            if isinstance(operator, (cst.Subtract, cst.SubtractAssign)):
                return Const(a - b)
            if isinstance(operator, (cst.Multiply, cst.MultiplyAssign)):
                return Const(a * b)
            if isinstance(operator, (cst.Divide, cst.DivideAssign)):
                return Const(a / b)
            if isinstance(operator, (cst.Power, cst.PowerAssign)):
                return Const(a**b)
            if isinstance(operator, (cst.FloorDivide, cst.FloorDivideAssign)):
                return Const(a // b)
        except (ArithmeticError, ValueError):
            return UNKNOWN
        return UNKNOWN

    def eval_attribute(self, node: cst.Attribute, env: _Env) -> Value:
        owner = self.eval(node.value, env)
        attr = node.attr.value
        if isinstance(owner, ModuleRef):
            name = canonical(f"{owner.name}.{attr}")
            self.model.references.append(Reference(name, node))
            return ModuleRef(name)
        if isinstance(owner, Layer):
            return self.layer_attribute(owner, attr, node)
        if isinstance(owner, LayerSelection) and owner.element:
            if owner.members is not None and len(owner.members) == 1 and owner.guard == "none":
                # `model.layers[2].layers`: the one selected layer is known
                return self.layer_attribute(owner.members[0], attr, node)
            if attr in {"trainable_weights", "trainable_variables", "weights", "variables"}:
                return Variables(None)
            return UNKNOWN
        if isinstance(owner, Optimizer) and attr in {"learning_rate", "lr"}:
            return OptimizerAttr(owner, attr)
        if isinstance(owner, OptimizerAttr):
            return UNKNOWN
        if isinstance(owner, ClassValue):
            method = owner.methods.get(attr)
            return method if method is not None else UNKNOWN
        if isinstance(owner, Instance):
            if attr in owner.attrs:
                return owner.attrs[attr]
            method = owner.owner.methods.get(attr)
            return _BoundMethod(method, owner) if method is not None else UNKNOWN
        return UNKNOWN

    def layer_attribute(self, layer: Layer, attr: str, node: cst.Attribute) -> Value:
        if attr == "layers":
            return LayerSelection(container=layer, node=node, extent="all",
                                  members=self.tracked_members(layer))
        if attr in {"output", "outputs", "input", "inputs"}:
            stored = layer.attrs.get(f"__{attr}__")
            if stored is not None:
                return stored
            return Tensor(True, (Wiring(layer, "flattened", "absent", node),), node)
        if attr in {"trainable_weights", "trainable_variables", "weights", "variables"}:
            return Variables(layer)
        if attr == "optimizer":
            optimizer = layer.attrs.get("optimizer")
            return optimizer if optimizer is not None else UNKNOWN
        if attr in layer.attrs:
            return layer.attrs[attr]
        if layer.user_class is not None:
            owner = self.model.class_named(layer.user_class)
            if owner is not None and attr in owner.methods:
                return _BoundMethod(owner.methods[attr], layer)
        return UNKNOWN

    def tracked_members(self, layer: Layer) -> tuple[Layer, ...] | None:
        if layer.opaque or layer.has_bn is None and not layer.children:
            return None
        if any(wiring.mode == "flattened" for wiring in layer.children):
            return None
        members: list[Layer] = []
        for wiring in layer.children:
            if wiring.child not in members:
                members.append(wiring.child)
        return tuple(members)

    def eval_subscript(self, node: cst.Subscript, env: _Env) -> Value:
        owner = self.eval(node.value, env)
        bounds: tuple[int | None, int | None] | None = None
        for element in node.slice:
            inner = element.slice
            if isinstance(inner, cst.Index):
                self.eval(inner.value, env)
            elif isinstance(inner, cst.Slice):
                lower = _const_int(self.eval(inner.lower, env)) if inner.lower else None
                upper = _const_int(self.eval(inner.upper, env)) if inner.upper else None
                if inner.step is None and (lower is not None or inner.lower is None) and (
                        upper is not None or inner.upper is None):
                    bounds = (lower, upper)
        if isinstance(owner, LayerSelection) and not owner.element and len(node.slice) == 1:
            selected = _select(owner, node.slice[0].slice, node)
            if isinstance(selected, LayerSelection) and selected.extent == "slice":
                return replace(selected, bounds=bounds)
            return selected
        if isinstance(owner, Tensor) and owner.symbolic:
            return replace(owner, inputs_node=node)  # `x[:, 0]` stays in the graph
        if isinstance(owner, ListValue) and len(node.slice) == 1:
            inner = node.slice[0].slice
            if isinstance(inner, cst.Index):
                index = _literal_int(inner.value)
                if index is not None and -len(owner.items) <= index < len(owner.items):
                    return owner.items[index]
        return UNKNOWN

    def eval_comprehension(self, node: cst.BaseExpression, env: _Env) -> Value:
        scope = _Env(parent=env)
        clause: cst.CompFor | None = getattr(node, "for_in", None)
        depth = 0
        while clause is not None:
            iterable = self.eval(clause.iter, scope)
            if isinstance(iterable, LayerSelection) and isinstance(clause.target, cst.Name):
                scope.bind(clause.target.value, replace(iterable, element=True))
            else:
                self.bind_unknown(clause.target, scope)
            for condition in clause.ifs:
                self.eval(condition.test, scope)
            clause = clause.inner_for_in
            depth += 1
        saved = self.context
        self.context = replace(saved, loop_depth=saved.loop_depth + depth)
        try:
            if isinstance(node, cst.DictComp):
                self.eval(node.key, scope)
                self.eval(node.value, scope)
            else:
                self.eval(getattr(node, "elt", None), scope)
        finally:
            self.context = saved
        return UNKNOWN

    # ------------------------------------------------------------------ calls
    def eval_call(self, node: cst.Call, env: _Env) -> Value:
        receiver: Value | None = None
        method: str | None = None
        if isinstance(node.func, cst.Attribute):
            receiver = self.eval(node.func.value, env)
            method = node.func.attr.value
            if receiver is UNKNOWN and method == "compile":
                receiver = self.unseen_model(node.func.value, env)
            if isinstance(receiver, ModuleRef):
                callee: Value = ModuleRef(canonical(f"{receiver.name}.{method}"))
                receiver, method = None, None
            else:
                callee = UNKNOWN
        else:
            callee = self.eval(node.func, env)
        args = [self.eval(arg.value, env) for arg in node.args if arg.keyword is None]
        kwargs = {arg.keyword.value: self.eval(arg.value, env)
                  for arg in node.args if arg.keyword is not None}
        name = callee.name if isinstance(callee, ModuleRef) else None
        self.model.calls.append(CallSite(node, name, self.context, method, receiver,
                                         self.control_dependencies > 0))
        if receiver is not None and method is not None:
            return self.call_method(receiver, method, node, args, kwargs)
        if isinstance(callee, ModuleRef):
            return self.call_symbol(callee.name, node, args, kwargs)
        if isinstance(callee, Layer):
            return self.call_layer(callee, node, args)
        if isinstance(callee, FunctionValue):
            return self.call_function(callee, args, kwargs, None, site=node)
        if isinstance(callee, _BoundMethod):
            return self.call_function(callee.function, args, kwargs, callee.receiver,
                                      site=node)
        if isinstance(callee, ClassValue):
            return self.instantiate(callee, node, args, kwargs)
        if isinstance(node.func, cst.Name) and node.func.value in _BUILTINS_NO_EFFECT:
            return UNKNOWN
        self.havoc(args, kwargs, node)
        return UNKNOWN

    def havoc(self, args: list[Value], kwargs: dict[str, Value],
              node: cst.CSTNode | None = None) -> None:
        """An unknown callee received these values: their trainable state is unknown
        (an ``escape`` event records it, so that rules can tell)."""
        for value in [*args, *kwargs.values()]:
            if isinstance(value, Layer):
                _apply_to_layer(value, None, definite=False, forget=True)
                if node is not None:
                    self.record(Event("escape", node, value, self.context))

    def call_symbol(self, name: str, node: cst.Call, args: list[Value],
                    kwargs: dict[str, Value]) -> Value:
        api = self.api
        if name in api.bn_layers or name in api.v1_bn_layers:
            return self.create_layer(name, node, kwargs, is_bn=True,
                                     bn_v1=name in api.v1_bn_layers)
        if name in api.dropout_layers:
            return self.create_layer(name, node, kwargs, is_dropout=True)
        if name in api.inputs:
            return Tensor(True, (), node)
        if name in api.sequential:
            return self.create_sequential(name, node, args, kwargs)
        if name in api.functional:
            return self.create_functional(name, node, args, kwargs)
        if name in api.loaders:
            return self.create_loaded(name, node)
        if name in api.clone:
            return self.create_clone(name, node, args)
        application = api.application(name)
        if application is not None:
            return self.create_application(name, node, kwargs, application)
        hub = self.hub_backbone(name, args, kwargs)
        if hub is not None:
            return self.create_backbone(name, node, hub, kwargs)
        if name in api.opaque_layers:
            return self.create_hub_layer(name, node, kwargs)
        if name.startswith(api.schedules_prefix):
            return Schedule(node)
        if name.startswith("keras.optimizers.") or _is_tf1_optimizer(name):
            return self.create_optimizer(name, node, args, kwargs)
        if name in api.gradient_tape:
            return Tape(node)
        if name in api.set_value and args:
            if isinstance(args[0], OptimizerAttr):
                self.record_set_lr(args[0].optimizer, node,
                                   args[1] if len(args) > 1 else kwargs.get("value", UNKNOWN))
            return UNKNOWN
        if name.startswith("tf.data."):
            return Dataset(None)
        if api.is_layer_class(name):
            return self.create_layer(name, node, kwargs, children=args)
        if name.startswith(("keras_hub.layers.", "keras_hub.models.")) and name.removesuffix(
                ".from_preset").endswith(_HUB_PREPROCESSING):
            # ImageConverter, ...Preprocessor, ...Tokenizer: preprocessing, no BN
            return self.create_layer(name, node, kwargs)
        if name.startswith("os.environ") or name == "os.putenv":
            self.note_environment(node, args)
            return UNKNOWN
        if name.startswith(_GRAPH_OP_PREFIXES) or (
                name.startswith("keras.applications.") and name.endswith(".preprocess_input")):
            # `layers.concatenate([a, b])`, `tf.nn.relu(x)`, `keras.ops.add(x, y)` on
            # symbolic tensors: no BN layer, the graph goes on
            operands = [item for value in [*args, *kwargs.values()]
                        for item in (value.items if isinstance(value, ListValue) else (value,))]
            tensor = merge_tensors(operands, node)
            if tensor is not None:
                return tensor
        if not name.startswith(_HARMLESS_PREFIXES):
            self.havoc(args, kwargs, node)
        return UNKNOWN

    def note_environment(self, node: cst.Call, args: list[Value]) -> None:
        if (len(args) > 1 and isinstance(args[0], Const)
                and args[0].value == "TF_USE_LEGACY_KERAS" and isinstance(args[1], Const)
                and str(args[1].value) in {"1", "True", "true"}):
            self.model.legacy_keras_env = True

    def hub_backbone(self, name: str, args: list[Value], kwargs: dict[str, Value]) -> str | None:
        """'with_bn' / 'without_bn' / 'unknown' for a keras_hub / keras_cv model factory."""
        base = name.removesuffix(".from_preset")
        if base in self.api.hub_with_bn:
            return "with_bn"
        if base in self.api.hub_without_bn:
            return "without_bn"
        if base in self.api.hub_generic and name.endswith(".from_preset"):
            preset = args[0] if args else kwargs.get("preset")
            text = preset.value if isinstance(preset, Const) else None
            if isinstance(text, str):
                text = text.lower()
                if text.startswith(self.api.presets_with_bn):
                    return "with_bn"
                if text.startswith(self.api.presets_without_bn):
                    return "without_bn"
            return "unknown"
        return None

    # ------------------------------------------------------ object creation
    def new_layer(self, name: str, node: cst.CSTNode, **fields: object) -> Layer:
        layer = Layer(qualname=name, node=node, **fields)  # type: ignore[arg-type]
        self.model.layers.append(layer)
        self.record(Event("create", node, layer, self.context))
        return layer

    def create_layer(self, name: str, node: cst.Call, kwargs: dict[str, Value], *,
                     is_bn: bool = False, bn_v1: bool = False, is_dropout: bool = False,
                     children: list[Value] | None = None) -> Layer:
        layer = self.new_layer(name, node, is_bn=is_bn, bn_v1=bn_v1, is_dropout=is_dropout)
        for child in children or ():
            if isinstance(child, Layer):
                layer.children.append(Wiring(child, "call", "absent", node))
        trainable = kwargs.get("trainable")
        if isinstance(trainable, Const) and isinstance(trainable.value, bool):
            _apply_to_layer(layer, trainable.value, definite=True)
        elif trainable is not None:
            _apply_to_layer(layer, None, definite=True)
        return layer

    def create_sequential(self, name: str, node: cst.Call, args: list[Value],
                          kwargs: dict[str, Value]) -> Layer:
        model = self.new_layer(name, node, is_model=True, model_kind="sequential")
        items = args[0] if args else kwargs.get("layers")
        if isinstance(items, ListValue):
            elements = items.nodes or tuple(_list_elements(node))
            for index, item in enumerate(items.items):
                where = elements[index] if index < len(elements) else node
                if isinstance(item, Layer) and _is_input_layer(item):
                    continue  # not one of `model.layers` of a Sequential
                if isinstance(item, Layer):
                    model.children.append(Wiring(item, "sequential", "absent", where))
                elif isinstance(item, Tensor) and item.symbolic and not item.history:
                    continue  # `keras.Input(shape=...)` as the first item
                else:
                    model.has_bn = None
                    model.has_dropout = None
        elif isinstance(items, LayerSelection) and not items.element:
            # `Sequential(other.layers[:-1])`: reuses another model's layers, and with
            # them its weights (pretrained when that model's are)
            source = items.container
            model.opaque = True
            model.has_bn = source.contains_bn() if source.contains_bn() is False else None
            model.has_dropout = None
            if source.pretrained:
                model.pretrained = True
                model.pretrained_node = node
        elif items is not None:
            model.has_bn = None
            model.has_dropout = None
        return model

    def create_functional(self, name: str, node: cst.Call, args: list[Value],
                          kwargs: dict[str, Value]) -> Value:
        # `output=`: the Keras 1 / early Keras 2 spelling, still in the wild
        outputs = args[1] if len(args) > 1 else kwargs.get("outputs", kwargs.get("output"))
        if outputs is None:
            return UNKNOWN
        model = self.new_layer(name, node, is_model=True, model_kind="functional")
        inputs = args[0] if args else kwargs.get("inputs", kwargs.get("input"))
        sources = inputs.items if isinstance(inputs, ListValue) else (inputs,)
        if all(isinstance(item, Tensor) and item.symbolic and not item.history
               for item in sources):
            # one InputLayer per `keras.Input` (Input tensors built from another model's
            # `.input` are not counted: unknown)
            model.attrs["__input_count__"] = Const(len(sources))
        tensors = outputs.items if isinstance(outputs, ListValue) else (outputs,)
        merged = merge_tensors(tensors)
        # Layers called on inputs of unknown origin still belong to the model whose
        # outputs they produce (`Model(z, d(g(z)))` with `g` from another module).
        partial = [wiring for tensor in tensors if isinstance(tensor, Tensor)
                   and not tensor.symbolic for wiring in tensor.history]
        if merged is None or not merged.complete or partial:
            # part of the graph is unknown: what we see is inside, there may be more
            model.has_bn = None
            model.has_dropout = None
        history = [*(merged.history if merged is not None else ()), *partial]
        if history:
            for wiring in history:
                if not any(w.child is wiring.child and w.node is wiring.node
                           for w in model.children):
                    model.children.append(wiring)
        return model

    def create_application(self, name: str, node: cst.Call, kwargs: dict[str, Value],
                           contents: str) -> Layer:
        weights = kwargs.get("weights")
        if weights is None:
            pretrained: bool = True  # keras.applications default: weights="imagenet"
        else:
            pretrained = not (isinstance(weights, Const) and weights.value is None)
        has_bn: Tri = {"with_bn": True, "without_bn": False}.get(contents)
        model = self.new_layer(name, node, is_model=True, model_kind="application",
                               has_bn=has_bn, has_dropout=None, opaque=True,
                               pretrained=pretrained)
        model.layer_shape = self.api.app_layers.get(name.rsplit(".", 1)[-1])
        if pretrained:
            model.pretrained_node = node
            self.model.pretrained_signals.append(node)
        input_tensor = kwargs.get("input_tensor")
        if isinstance(input_tensor, Tensor) and input_tensor.symbolic:
            flattened = Wiring(model, "flattened", "absent", node)
            model.attrs["__output__"] = Tensor(True, input_tensor.history + (flattened,), node)
        return model

    def create_backbone(self, name: str, node: cst.Call, contents: str,
                        kwargs: dict[str, Value]) -> Layer:
        pretrained = name.endswith(".from_preset")
        has_bn: Tri = {"with_bn": True, "without_bn": False}.get(contents)
        model = self.new_layer(name, node, is_model=True, model_kind="application",
                               has_bn=has_bn, has_dropout=None, opaque=True,
                               pretrained=pretrained)
        if pretrained:
            model.pretrained_node = node
            self.model.pretrained_signals.append(node)
        argument = _keyword(node, "trainable")
        if argument is not None:
            # `from_preset(..., trainable=False)` freezes like `model.trainable = False`
            value = kwargs.get("trainable", UNKNOWN)
            flag = value.value if isinstance(value, Const) else None
            self.record(Event("set_trainable", argument, model, self.context,
                              attr="trainable", value=value, value_node=argument.value,
                              trainable_before=True, bn_trainable_before=model.bn_trainable()))
            _apply_to_layer(model, flag if isinstance(flag, bool) else None,
                            self.context.definite)
        return model

    def create_hub_layer(self, name: str, node: cst.Call, kwargs: dict[str, Value]) -> Layer:
        layer = self.new_layer(name, node, is_model=True, model_kind="application", has_bn=None,
                               has_dropout=None, opaque=True, pretrained=True,
                               pretrained_node=node)
        self.model.pretrained_signals.append(node)
        trainable = kwargs.get("trainable")
        flag = trainable.value if isinstance(trainable, Const) else (None if trainable else False)
        argument = _keyword(node, "trainable")
        if argument is not None:
            # `hub.KerasLayer(url, trainable=...)` sets the flag like an assignment
            self.record(Event("set_trainable", argument, layer, self.context, attr="trainable",
                              value=trainable, value_node=argument.value,
                              trainable_before=False, bn_trainable_before=None))
        _apply_to_layer(layer, flag if isinstance(flag, bool) else None, definite=True)
        return layer

    def create_loaded(self, name: str, node: cst.Call) -> Layer:
        self.model.pretrained_signals.append(node)
        return self.new_layer(name, node, is_model=True, model_kind="loaded", has_bn=None,
                              has_dropout=None, opaque=True, pretrained=True,
                              pretrained_node=node)

    def create_clone(self, name: str, node: cst.Call, args: list[Value]) -> Layer:
        source = args[0] if args else None
        has_bn = source.contains_bn() if isinstance(source, Layer) else None
        return self.new_layer(name, node, is_model=True, model_kind="loaded", has_bn=has_bn,
                              has_dropout=None, opaque=True)

    def create_optimizer(self, name: str, node: cst.Call, args: list[Value],
                         kwargs: dict[str, Value]) -> Optimizer:
        rate_value = kwargs.get("learning_rate", args[0] if args else None)
        lr_arg = _keyword(node, "lr")
        if rate_value is None and lr_arg is not None:
            rate_value = kwargs.get("lr")
        default = self.api.optimizer_defaults.get(name)
        optimizer = Optimizer(name, node, None, lr_kwarg_node=lr_arg)
        if rate_value is None:
            optimizer.learning_rate = default
            optimizer.default_rate = default is not None
        elif isinstance(rate_value, Schedule):
            optimizer.schedule = True
        else:
            optimizer.learning_rate = _const_number(rate_value)
        self.record(Event("create", node, optimizer, self.context, optimizer=optimizer,
                          learning_rate=optimizer.learning_rate))
        return optimizer

    def optimizer_from_string(self, text: str, node: cst.CSTNode) -> Optimizer | None:
        name = self.api.optimizer_strings.get(text.lower())
        if name is None:
            return None
        rate = self.api.optimizer_defaults.get(name)
        return Optimizer(name, node, rate, default_rate=True, from_string=True)

    def new_user_instance(self, owner: ClassValue, node: cst.CSTNode) -> Layer:
        call = owner.methods.get("call")
        default: TrainingArg = _training_default(call.node) if call is not None else "none"
        return self.new_layer(f"<{owner.name}>", node, is_model=owner.keras_base == "model",
                              model_kind="subclassed", has_bn=False, has_dropout=False,
                              user_class=owner.name, call_training_default=default)

    def instantiate(self, owner: ClassValue, node: cst.Call, args: list[Value],
                    kwargs: dict[str, Value]) -> Value:
        if owner.keras_base is None:
            plain = Instance(owner, node)
            init = owner.methods.get("__init__")
            if init is not None:
                self.call_function(init, args, kwargs, plain, site=node)
            return plain
        instance = self.new_user_instance(owner, node)
        init = owner.methods.get("__init__")
        if init is not None:
            self.call_function(init, args, kwargs, instance)
        call = owner.methods.get("call")
        if call is not None:
            self.call_function(call, [Tensor(False)], {}, instance)
        if any(base for base in owner.bases if isinstance(base, ModuleRef)
               and base.name not in self.api.model_bases and base.name not in self.api.layer_bases):
            instance.has_bn = None  # subclass of a concrete Keras layer/model
        return instance

    # ---------------------------------------------------------- model calls
    def call_layer(self, layer: Layer, node: cst.Call, args: list[Value]) -> Value:
        argument = _keyword(node, "training") or self.positional_training(layer, node)
        training = _training_arg(argument)
        if argument is None and any(arg.star for arg in node.args):
            training = "dynamic"  # `model(x, **kwargs)` / `model(*args)` may pass it
        forwards = (argument is not None and isinstance(argument.value, cst.Name)
                    and argument.value.value in self.current_params)
        self.record(Event("call", node, layer, self.context, training=training,
                          inputs=tuple(args), trainable_before=layer.trainable,
                          bn_trainable_before=layer.bn_trainable(),
                          forwards_training=forwards))
        self.note_subclass_wiring(layer, training, forwards, node)
        wiring = Wiring(layer, "call", training, node, forwards_training=forwards)
        first = args[0] if args else None
        inputs = first.items if isinstance(first, ListValue) else (first,) if first else ()
        merged = merge_tensors(inputs, node, (wiring,))
        if merged is not None:
            return merged
        return Tensor(False, (wiring,), node)

    def positional_training(self, layer: Layer, node: cst.Call) -> cst.Arg | None:
        """``layer(x, True)``: Keras layers take ``training`` as the second positional
        argument of ``call``; a user class, wherever its ``call`` puts it."""
        positional = [arg for arg in node.args if arg.keyword is None and not arg.star]
        index = 1
        if layer.user_class is not None:
            owner = self.model.class_named(layer.user_class)
            method = owner.methods.get("call") if owner is not None else None
            if method is None:
                return None
            params = method.node.params
            names = [p.name.value for p in (*params.posonly_params, *params.params)][1:]
            if "training" not in names:
                return None
            index = names.index("training")
        return positional[index] if index < len(positional) else None

    def note_subclass_wiring(self, layer: Layer, training: TrainingArg, forwards: bool,
                             node: cst.Call) -> None:
        """Inside a user model's ``call``: record how an attribute child is called."""
        owner = self.current_self
        if owner is None or self.current_method != "call":
            return
        for wiring in owner.children:
            if wiring.child is layer and wiring.mode == "attribute":
                wiring.training = training
                wiring.forwards_training = forwards
                wiring.called = True
                wiring.node = node  # the call decides how it runs

    def call_method(self, receiver: Value, method: str, node: cst.Call, args: list[Value],
                    kwargs: dict[str, Value]) -> Value:
        if isinstance(receiver, Layer):
            return self.call_model_method(receiver, method, node, args, kwargs)
        if isinstance(receiver, _BoundMethod):
            return UNKNOWN
        if isinstance(receiver, Instance):
            held = receiver.attrs.get(method)
            if isinstance(held, Layer):
                return self.call_layer(held, node, args)  # `self.generator(z)`
            if isinstance(held, (FunctionValue, _BoundMethod)):
                function = held.function if isinstance(held, _BoundMethod) else held
                bound = held.receiver if isinstance(held, _BoundMethod) else None
                return self.call_function(function, args, kwargs, bound, site=node)
            own = receiver.owner.methods.get(method)
            if own is not None and held is None:
                return self.call_function(own, args, kwargs, receiver, site=node)
            self.havoc(args, kwargs, node)
            return UNKNOWN
        if isinstance(receiver, OptimizerAttr) and method == "assign":
            self.record_set_lr(receiver.optimizer, node, args[0] if args else UNKNOWN)
            return UNKNOWN
        if isinstance(receiver, Tape) and method == "gradient":
            return self.record_gradient(receiver, node, args, kwargs)
        if isinstance(receiver, Tape) and method == "watch":
            receiver.watched.extend(_source_texts(self.module, node.args[0].value)
                                    if node.args else ())
            return UNKNOWN
        if isinstance(receiver, Dataset):
            if method == "batch":
                size = _const_number(args[0] if args else kwargs.get("batch_size", UNKNOWN))
                return Dataset(int(size) if size is not None else None, node)
            return receiver
        if isinstance(receiver, ModuleRef):
            return self.call_symbol(canonical(f"{receiver.name}.{method}"), node, args, kwargs)
        if isinstance(receiver, ClassValue) and method in receiver.methods:
            return self.call_function(receiver.methods[method], args, kwargs, None,
                                      site=node)
        if method in {"batch"} and isinstance(receiver, Value):
            size = _const_number(args[0] if args else kwargs.get("batch_size", UNKNOWN))
            if size is not None and isinstance(receiver, Dataset):
                return Dataset(int(size), node)
        if method not in {"append", "extend", "update", "format", "join", "split", "items",
                          "keys", "values", "get", "numpy", "shape", "reshape", "astype"}:
            self.havoc(args, kwargs, node)
        return UNKNOWN

    def call_model_method(self, layer: Layer, method: str, node: cst.Call, args: list[Value],
                          kwargs: dict[str, Value]) -> Value:
        if method == "compile":
            return self.compile_model(layer, node, args, kwargs)
        if method in FIT_METHODS:
            self.fit_model(layer, method, node, args, kwargs)
            return UNKNOWN
        if method in EVAL_METHODS:
            self.record(Event("evaluate", node, layer, self.context, method=method,
                              trainable_before=layer.trainable,
                              bn_trainable_before=layer.bn_trainable(),
                              extra=_state_snapshot(layer)))
            return Tensor(False)
        if method == "add" and args and isinstance(args[0], Layer) and _is_input_layer(args[0]):
            return UNKNOWN
        if method == "add" and args and isinstance(args[0], Layer):
            where = node.args[0].value if node.args else node
            layer.children.append(Wiring(args[0], "sequential", "absent", where))
            return UNKNOWN
        if method == "add":
            layer.has_bn = None
            layer.has_dropout = None
            return UNKNOWN
        if method == "get_layer":
            return LayerSelection(container=layer, node=node, extent="one", element=True)
        if method == "get_weights":
            return Variables(layer)  # copied by `other.set_weights(layer.get_weights())`
        copied = method == "set_weights" and bool(args) and isinstance(args[0], Variables) and (
            args[0].layer is not None and args[0].layer.pretrained)
        if method == "load_weights" or copied:
            layer.pretrained = True
            layer.pretrained_node = node
            self.model.pretrained_signals.append(node)
            self.record(Event("load_weights", node, layer, self.context))
            return UNKNOWN
        if method in {"__call__", "call"}:
            return self.call_layer(layer, node, args)
        if layer.user_class is not None:
            owner = self.model.class_named(layer.user_class)
            if owner is not None and method in owner.methods:
                return self.call_function(owner.methods[method], args, kwargs, layer,
                                          site=node)
        child = layer.attrs.get(method)
        if isinstance(child, Layer):
            # `self.bn(x)`: a layer held in an attribute, called
            return self.call_layer(child, node, args)
        if isinstance(child, (FunctionValue, _BoundMethod)):
            function = child.function if isinstance(child, _BoundMethod) else child
            bound = child.receiver if isinstance(child, _BoundMethod) else None
            return self.call_function(function, args, kwargs, bound, site=node)
        return UNKNOWN

    def compile_model(self, layer: Layer, node: cst.Call, args: list[Value],
                      kwargs: dict[str, Value]) -> Value:
        value = kwargs.get("optimizer", args[0] if args else None)
        optimizer: Optimizer | None = None
        if isinstance(value, Optimizer):
            optimizer = value
        elif isinstance(value, Const) and isinstance(value.value, str):
            where = _keyword(node, "optimizer")
            target = where.value if where is not None else (node.args[0].value if node.args
                                                            else node)
            optimizer = self.optimizer_from_string(value.value, target)
        layer.attrs["optimizer"] = optimizer if optimizer is not None else UNKNOWN
        self.record(Event("compile", node, layer, self.context, optimizer=optimizer,
                          learning_rate=optimizer.learning_rate if optimizer else None,
                          trainable_before=layer.trainable,
                          bn_trainable_before=layer.bn_trainable(),
                          extra=_state_snapshot(layer)))
        return UNKNOWN

    def fit_model(self, layer: Layer, method: str, node: cst.Call, args: list[Value],
                  kwargs: dict[str, Value]) -> None:
        batch_size: int | None = None
        batch_node: cst.CSTNode | None = None
        size_arg = _keyword(node, "batch_size")
        if size_arg is not None:
            number = _const_number(kwargs.get("batch_size", UNKNOWN))
            if number is not None:
                batch_size, batch_node = int(number), size_arg
        data = args[0] if args else kwargs.get("x")
        if batch_size is None and isinstance(data, Dataset) and data.batch_size is not None:
            batch_size, batch_node = data.batch_size, data.batch_node
        self.record(Event("fit", node, layer, self.context, method=method,
                          batch_size=batch_size, batch_node=batch_node,
                          optimizer=_optimizer_of(layer),
                          learning_rate=_rate_of(layer),
                          trainable_before=layer.trainable,
                          bn_trainable_before=layer.bn_trainable(),
                          extra=_state_snapshot(layer)))
        callbacks = kwargs.get("callbacks")
        if method in {"fit", "fit_generator"} and callbacks is not None:
            items = callbacks.items if isinstance(callbacks, ListValue) else (callbacks,)
            for item in items:
                if isinstance(item, Instance):
                    self.run_callback(item, layer, node)

    def run_callback(self, callback: Instance, layer: Layer, fit: cst.Call) -> None:
        """Replay the hooks of a user callback passed to ``fit()``, with ``self.model``
        bound to the fitted model (Keras calls ``set_model``), as steps of that fit."""
        callback.attrs["model"] = layer
        saved = self.context
        self.context = replace(saved, path=saved.path + (("callback", fit),))
        try:
            for hook in CALLBACK_HOOKS:
                function = callback.owner.methods.get(hook)
                if function is not None:
                    self.call_function(function, [], {}, callback)
        finally:
            self.context = saved

    def record_gradient(self, tape: Tape, node: cst.Call, args: list[Value],
                        kwargs: dict[str, Value]) -> Value:
        target = args[0] if args else kwargs.get("target", UNKNOWN)
        sources = args[1] if len(args) > 1 else kwargs.get("sources", UNKNOWN)
        items = sources.items if isinstance(sources, ListValue) else (sources,)
        where = _keyword(node, "sources")
        source_node = where.value if where is not None else (
            node.args[1].value if len(node.args) > 1 else None)
        watched = source_node is not None and any(
            text in tape.watched for text in _source_texts(self.module, source_node))
        if all(isinstance(item, Variables) for item in items):
            variables: Tri = True
        elif watched or all(isinstance(item, Tensor) for item in items):
            variables = False  # gradients with respect to inputs
        else:
            variables = None
        self.record(Event("gradient", node, tape, self.context, inputs=(target, *items),
                          sources_are_variables=variables))
        return UNKNOWN

    # -------------------------------------------------------------- functions
    def call_function(self, function: FunctionValue, args: list[Value],
                      kwargs: dict[str, Value], receiver: Value | None,
                      standalone: bool = False, site: cst.Call | None = None) -> Value:
        key = id(function.node)
        if key in self.active or len(self.active) >= MAX_INLINE_DEPTH:
            self.havoc(args, kwargs, site)
            return UNKNOWN
        self.ran.add(key)
        env = _Env(parent=self.module_env)
        self.bind_parameters(function, env, args, kwargs, receiver, standalone)
        saved = (self.context, self.current_self, self.current_method, self.current_params)
        self.current_params = _parameter_names(function.node)
        # The tape stays: operations of a function called inside `with tape:` are
        # recorded on it.
        self.context = replace(self.context, function=function.qualname,
                               method_of=function.owner.name if function.owner else None,
                               loop_depth=0,
                               call_sites=self.context.call_sites + ((site,) if site else ()))
        if isinstance(receiver, Layer):
            # a helper method that `call()` runs on the same model is part of `call()`
            in_call = self.current_self is receiver and self.current_method == "call"
            self.current_self = receiver
            self.current_method = "call" if in_call else function.node.name.value
        self.active.append(key)
        try:
            self.exec_suite(function.node.body, env)
        finally:
            self.active.pop()
            self.context, self.current_self, self.current_method, self.current_params = saved
        for statement in _nested_functions(function.node):
            if id(statement) not in {id(f.node) for f in self.functions}:
                self.define_function(statement, env, None)
        distinct = {id(value): value for value in env.returns}
        if len(distinct) == 1:
            return next(iter(distinct.values()))
        return UNKNOWN

    def bind_parameters(self, function: FunctionValue, env: _Env, args: list[Value],
                        kwargs: dict[str, Value], receiver: Value | None,
                        standalone: bool) -> None:
        node = function.node
        params = node.params
        positional = [*params.posonly_params, *params.params]
        values = list(args)
        if receiver is not None and positional:
            env.bind(positional[0].name.value, receiver)
            positional = positional[1:]
        for index, param in enumerate(positional):
            name = param.name.value
            if index < len(values):
                env.bind(name, values[index])
            elif name in kwargs:
                env.bind(name, kwargs[name])
            elif param.default is not None and not standalone:
                env.bind(name, function.defaults.get(name, UNKNOWN))
            else:
                env.bind(name, self.parameter_guess(name, node))
        for param in params.kwonly_params:
            name = param.name.value
            if name in kwargs:
                env.bind(name, kwargs[name])
            elif param.default is not None and not standalone:
                env.bind(name, function.defaults.get(name, UNKNOWN))
            else:
                env.bind(name, UNKNOWN)
        if isinstance(params.star_arg, cst.Param):
            env.bind(params.star_arg.name.value, UNKNOWN)
        if params.star_kwarg is not None:
            env.bind(params.star_kwarg.name.value, UNKNOWN)

    def parameter_guess(self, name: str, node: cst.FunctionDef) -> Value:
        """In a Keras model's ``call(self, inputs, training=None)``, the inputs are
        tensors; everything else is unknown."""
        if node.name.value in {"call", "train_step", "test_step"} and name in {
            "inputs", "x", "data", "input", "images"
        }:
            return Tensor(False)
        return UNKNOWN


@dataclass(eq=False, slots=True)
class _BoundMethod(Value):
    function: FunctionValue
    receiver: Layer | Instance


# ------------------------------------------------------------------ helpers
def _dotted(node: cst.BaseExpression | None) -> str | None:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr.value}" if base else None
    return None


def _is_main_guard(test: cst.BaseExpression) -> bool:
    if (isinstance(test, cst.Comparison) and isinstance(test.left, cst.Name)
            and test.left.value == "__name__" and len(test.comparisons) == 1):
        comparator = test.comparisons[0].comparator
        return isinstance(comparator, cst.SimpleString) and "__main__" in comparator.value
    return False


def _expressions_in(node: cst.CSTNode) -> Iterator[cst.BaseExpression]:
    """Expressions nested directly inside a non-expression node (args, elements...)."""
    for child in node.children:
        if isinstance(child, cst.BaseExpression):
            yield child
        elif not isinstance(child, (cst.BaseSuite, cst.BaseStatement)):
            yield from _expressions_in(child)


def _training_default(node: cst.FunctionDef) -> TrainingArg:
    """The default of a ``call`` method's ``training`` parameter, as written; "absent"
    when there is no such parameter, "none" when it has no default."""
    params = node.params
    for param in (*params.posonly_params, *params.params, *params.kwonly_params):
        if param.name.value == "training":
            if param.default is None:
                return "none"
            return _training_arg(cst.Arg(value=param.default))
    return "absent"


def _source_texts(module: cst.Module, node: cst.BaseExpression) -> list[str]:
    """The expressions of ``x`` or ``[x, y]`` as written (to match `tape.watch`)."""
    if isinstance(node, (cst.List, cst.Tuple)):
        return [module.code_for_node(element.value) for element in node.elements]
    return [module.code_for_node(node)]


def _parameter_names(node: cst.FunctionDef) -> frozenset[str]:
    params = node.params
    names = [param.name.value for param in
             (*params.posonly_params, *params.params, *params.kwonly_params)]
    return frozenset(names)


def _list_elements(node: cst.Call) -> list[cst.BaseExpression]:
    value: cst.BaseExpression | None = None
    if node.args and node.args[0].keyword is None:
        value = node.args[0].value
    else:
        layers = _keyword(node, "layers")
        value = layers.value if layers is not None else None
    if isinstance(value, (cst.List, cst.Tuple)):
        return [element.value for element in value.elements]
    return []


def _nested_functions(node: cst.FunctionDef) -> list[cst.FunctionDef]:
    body = node.body.body if isinstance(node.body, cst.IndentedBlock) else ()
    return [statement for statement in body if isinstance(statement, cst.FunctionDef)]


def _variables_list(value: Value) -> tuple[Value, ...] | None:
    """``model.trainable_variables`` (or a list of them) as a tuple, else None."""
    if isinstance(value, Variables):
        return (value,)
    if isinstance(value, ListValue) and value.items and all(
        isinstance(item, Variables) for item in value.items
    ):
        return value.items
    return None


def _is_tf1_optimizer(name: str) -> bool:
    return name.startswith(("tf.compat.v1.train.", "tf.train.")) and name.endswith("Optimizer")


def _state_snapshot(layer: Layer) -> dict[str, object]:
    """``trainable`` and ``bn_trainable()`` of ``layer`` and every tracked layer inside
    it, keyed by ``id(layer)``, as they are when a compile/fit/evaluate happens."""
    parts = [layer, *layer.descendants()]
    return {
        "trainable": {id(part): part.trainable for part in parts},
        "bn_trainable": {id(part): part.bn_trainable() for part in parts},
    }


def _optimizer_of(layer: Layer) -> Optimizer | None:
    value = layer.attrs.get("optimizer")
    return value if isinstance(value, Optimizer) else None


def _rate_of(layer: Layer) -> float | None:
    optimizer = _optimizer_of(layer)
    return optimizer.learning_rate if optimizer is not None else None


def _select(selection: LayerSelection, index: cst.BaseSlice, node: cst.Subscript) -> Value:
    """``container.layers[...]``: an element or a slice of the container's layers. A
    functional model's list starts with its InputLayers (weightless, never tracked)."""
    members = selection.members
    offset = _input_layers(selection.container)
    if offset is None:
        members = None
    if isinstance(index, cst.Index):
        position = _literal_int(index.value)
        member: tuple[Layer, ...] | None = None
        if members is not None and offset is not None and position is not None:
            listed: list[Layer | None] = [None] * offset + list(members)
            if -len(listed) <= position < len(listed):
                found = listed[position]
                member = (found,) if found is not None else ()  # () = an InputLayer
        return replace(selection, node=node, extent="one", element=True, members=member)
    if isinstance(index, cst.Slice):
        if index.lower is None and index.upper is None and index.step is None:
            return replace(selection, node=node)
        subset: tuple[Layer, ...] | None = None
        lower, upper = _literal_int(index.lower), _literal_int(index.upper)
        if members is not None and offset is not None and (
            index.lower is None or lower is not None
        ) and (index.upper is None or upper is not None) and index.step is None:
            listed = [None] * offset + list(members)
            subset = tuple(m for m in listed[lower:upper] if m is not None)
        return replace(selection, node=node, extent="slice", members=subset)
    return UNKNOWN


def _input_layers(container: Layer) -> int | None:
    """How many InputLayers open ``container.layers`` (None when not known)."""
    if container.model_kind != "functional":
        return 0
    count = container.attrs.get("__input_count__")
    return count.value if isinstance(count, Const) and isinstance(count.value, int) else None


def _merge(current: Tri, value: Tri, definite: bool) -> Tri:
    if definite:
        return value
    return current if current == value else None


def _apply_to_layer(layer: Layer, value: Tri, definite: bool, forget: bool = False) -> None:
    """``layer.trainable = value`` (recursive, F7); under a branch, states that would
    change become unknown."""
    if forget:
        value, definite = None, True
        if layer.trainable is None and layer.inner_bn_trainable is None:
            return
    targets = [layer, *layer.descendants()]
    for target in targets:
        target.trainable = _merge(target.trainable, value, definite)
        target.inner_bn_trainable = _merge(target.inner_bn_trainable, value, definite)
        target.inner_other_trainable = _merge(target.inner_other_trainable, value, definite)


def _apply_to_selection(selection: LayerSelection, value: Tri, definite: bool) -> None:
    """``for layer in container.layers[...]: layer.trainable = value`` (with guards).
    The container's own flag does not change: only the selected layers'."""
    container = selection.container
    guard, extent = selection.guard, selection.extent
    if selection.members is not None:
        for member in selection.members:
            if guard == "bn" and not member.is_bn:
                continue
            if guard == "not_bn" and member.is_bn:
                continue
            _apply_to_layer(member, value, definite)
        return
    if extent == "one" or value is None:
        # which layer is unknown: anything that might change becomes unknown
        value_for_all: Tri = None
        for target in _opaque_parts(container):
            if guard != "not_bn" and target.inner_bn_trainable != value:
                target.inner_bn_trainable = None
            if guard != "bn" and target.inner_other_trainable != value:
                target.inner_other_trainable = None
        for wiring in container.children:
            if wiring.mode != "flattened" and value_for_all is None and wiring.child.trainable != value:
                _apply_to_layer(wiring.child, None, definite=False, forget=True)
        return
    for target in _opaque_parts(container):
        if target is container and value is False and selection.keeps_bn_tail():
            continue  # the re-frozen head leaves the BN layers at the end as they were
        if guard != "not_bn":
            target.inner_bn_trainable = _slice_merge(target.inner_bn_trainable, value, extent,
                                                     definite)
        if guard != "bn":
            target.inner_other_trainable = _slice_merge(target.inner_other_trainable, value,
                                                        extent, definite)
    for wiring in container.children:
        if wiring.mode == "flattened":
            continue
        child = wiring.child
        if guard == "bn" and not child.is_bn:
            continue
        if guard == "not_bn" and child.is_bn:
            continue
        if extent == "all":
            _apply_to_layer(child, value, definite)
        else:
            _apply_to_layer(child, None, definite=False, forget=True)


def _opaque_parts(container: Layer) -> list[Layer]:
    """The container itself (its untracked inner layers) and bases flattened into it."""
    parts = [container]
    for wiring in container.children:
        if wiring.mode == "flattened" and wiring.child not in parts:
            parts.append(wiring.child)
            parts.extend(w.child for w in wiring.child.children if w.mode == "flattened")
    return parts


def _slice_merge(current: Tri, value: bool, extent: str, definite: bool) -> Tri:
    """A contiguous slice of an application's layers includes BN and non-BN layers, but
    not all of them: setting True makes "some trainable" true; setting False leaves the
    rest as they were (unknown unless they were already False)."""
    if extent == "all":
        return _merge(current, value, definite)
    if value is True:
        return _merge(current, True, definite)
    return current if current is False else None
