"""Expressions and values: names through imports and star imports, attributes of
layers and instances, subscripts of ``model.layers``, constants folded."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TypeVar, cast

import libcst as cst

from bnlint.semantic.lookups import namespace_call
from bnlint.semantic.model import Reference
from bnlint.semantic.names import canonical
from bnlint.semantic.paths import ConditionSource
from bnlint.semantic.replay import (
    CONVENTIONAL_MODULES,
    DATA_SEQUENCES,
    UNROLLED_ITEMS,
    BoundMethod,
    Env,
    ReplayBase,
    const_int,
    const_number,
    variables_list,
)
from bnlint.semantic.settings_sources import is_flag_values
from bnlint.semantic.syntax import IS_EXPRESSION, expressions_in, plain_reference
from bnlint.semantic.trainability import (
    flattened_bases,
    head_after,
    head_tail,
    leading_base,
    select_layers,
    select_positions,
)
from bnlint.semantic.values import (
    READING_DICT_METHODS,
    REPLICAS,
    UNKNOWN,
    ClassValue,
    Const,
    DictValue,
    FunctionValue,
    Instance,
    Layer,
    LayerCount,
    LayerIndex,
    LayerSelection,
    ListValue,
    ModuleRef,
    Opaque,
    Optimizer,
    OptimizerAttr,
    ParsedArguments,
    PositionRange,
    ProjectModule,
    Samples,
    Tensor,
    Unknown,
    Value,
    Variables,
    Wiring,
    common_graph,
    is_constant_key,
    merge_tensors,
)
from bnlint.semantic.walk import lexical_children


class ExpressionEvaluation(ReplayBase):
    def eval(self, node: cst.BaseExpression | None, env: Env) -> Value:
        if node is None:
            return UNKNOWN
        evaluate = _evaluators(type(self)).get(type(node))
        if evaluate is not None:
            return evaluate(self, node, env)
        for child in lexical_children(node):
            if IS_EXPRESSION[type(child)]:
                self.eval(cast(cst.BaseExpression, child), env)
            else:
                for grandchild in expressions_in(child):
                    self.eval(grandchild, env)
        return UNKNOWN

    def eval_number(self, node: cst.Integer | cst.Float, env: Env) -> Value:
        try:
            return Const(node.evaluated_value, node)
        except (ValueError, SyntaxError):  # beyond the digit limit: Python rejects it too
            return UNKNOWN

    def eval_string(self, node: cst.SimpleString, env: Env) -> Value:
        try:
            return Const(node.evaluated_value, node)
        except (ValueError, SyntaxError, UnicodeError):  # pragma: no cover - malformed
            return UNKNOWN

    def eval_concatenated(self, node: cst.ConcatenatedString, env: Env) -> Value:
        text = node.evaluated_value  # None when a part is an f-string
        return Const(text, node) if isinstance(text, str) else UNKNOWN

    def eval_unary(self, node: cst.UnaryOperation, env: Env) -> Value:
        inner = self.eval(node.expression, env)
        if isinstance(node.operator, cst.Not):
            return Const(not cast(Const, inner).value, node) if is_constant_key(inner) else UNKNOWN
        number = const_number(inner)
        if number is not None and isinstance(node.operator, cst.Minus):
            value = inner.value if isinstance(inner, Const) else None
            return Const(-value if isinstance(value, int) else -number, node)
        return UNKNOWN

    def eval_comparison(self, node: cst.Comparison, env: Env) -> Value:
        """``backbone == "resnet50"``, ``ngpus > 1``, ``name in ("a", "b")`` between
        constants: a constant, so that an ``if`` on it runs one arm only."""
        left = self.eval(node.left, env)
        result: Value = Const(True, node)
        for target in node.comparisons:
            right = self.eval(target.comparator, env)
            outcome = compare(left, target.operator, right)
            if outcome is None:
                result = UNKNOWN
            elif not outcome and isinstance(result, Const):
                result = Const(False, node)
            left = right
        return result

    def condition_source(self, test: cst.BaseExpression, env: Env) -> ConditionSource | None:
        """What an ``if`` test reads, named by where it comes from: a setting
        (``args.finetune``, or ``self.finetune`` holding that option, or
        ``cfg["train"]["finetune"]``), or an unknown value by the name it was first read
        from (``self.use_pix2pix`` holding a parameter's ``args.use_pix2pix``), with
        whether the test (its leading ``not``s aside) means it (True) or its negation:
        ``self.norm != 'batch'`` is the negation of ``"batch" == args.norm``. None for any
        other test."""
        while isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
            test = test.expression
        if isinstance(test, cst.Comparison) and len(test.comparisons) == 1:
            # `self.norm == "batch"` holding `args.norm`: what both sides read
            comparison = test.comparisons[0]
            sides = [self.operand_source(test.left, env),
                     self.operand_source(comparison.comparator, env)]
            if None in sides or all(side.startswith("=") for side in sides if side):
                return None  # (nothing read: constants only)
            operator, means = _COMPARED.get(type(comparison.operator), (None, True))
            if operator is None:
                return None
            left, right = (str(side).removeprefix("=") for side in sides)
            if operator in {"==", "is"} and str(sides[0]).startswith("="):
                left, right = right, left  # `"batch" == self.norm`
            compared = test.left if str(sides[1]).startswith("=") else comparison.comparator
            if operator in {"==", "is"} and right in {"True", "False"} and _holds_bool(
                    self.eval(compared, env)):
                # `args.finetune == True` of a flag that holds a bool (`store_true`, a
                # bool default) asks what `if args.finetune:` asks (not so for `1 is
                # True`, or the string an option without a type holds)
                return ConditionSource(left, means == (right == "True"))
            # (strings only: `1 == True == 1.0`, but no two different strings are equal)
            constant = operator == "==" and right[:1] in {"'", '"'} and any(
                str(side).startswith("=") for side in sides)
            return ConditionSource(f"{left} {operator} {right}", means,
                                   (left, right) if constant else None)
        source = self.operand_source(test, env)
        return None if source is None or source.startswith("=") else ConditionSource(source)

    def operand_source(self, node: cst.BaseExpression, env: Env) -> str | None:
        """What an operand of a condition reads, named by where it comes from (see
        ``condition_source``); a literal as ``=`` and its text; None for anything else."""
        if isinstance(node, (cst.SimpleString, cst.Integer, cst.Float)):
            try:  # `"batch"` and `'batch'` alike
                return "=" + repr(node.evaluated_value)
            except (ValueError, SyntaxError, UnicodeError):  # pragma: no cover - malformed
                return None
        if isinstance(node, cst.Name) and node.value in {"True", "False", "None"}:
            return "=" + node.value
        if not plain_reference(node):
            return None  # (read again only when reading changes nothing)
        value = self.eval(node, env)
        if isinstance(value, Const) and value.derived:
            return None  # (`run_name` holding `args.stage + "_resnet50"`: not the option)
        if isinstance(value, Const) and value.setting is not None:
            return f"{value.setting} {value.entry or ''}".rstrip()
        if isinstance(value, Const) and value.assumed and value.node is not None:
            # a parameter's default (`def __init__(self, use_bn=True)`), however stored
            return f"the default written at {id(value.node)}"
        if isinstance(value, Opaque) and (value.key != value.name
                                          or not value.name.isidentifier()):
            # a parameter, or read through an attribute or an entry (`args.flag`,
            # `args["flag"]`); a bare local name may be rebound to anything between reads
            return value.key
        return None

    def default_truth(self, test: cst.BaseExpression, env: Env) -> bool | None:
        """The truth of an ``if`` test with the shipped settings: ``args.data == "nyu"``
        or ``if cfg.finetune:`` on an option's default (or an entry of the settings file
        the program loads) and constants. None for any other test, and for one that
        reads no setting (a parameter's default is not what a run uses)."""
        if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
            inner = self.default_truth(test.expression, env)
            return None if inner is None else not inner
        if isinstance(test, (cst.Name, cst.Attribute)):
            value = self.eval(test, env)
            if isinstance(value, Const) and value.setting is not None and isinstance(
                    value.value, (bool, int, str, type(None))):
                return bool(value.value)
            return None
        if not (isinstance(test, cst.Comparison) and len(test.comparisons) == 1) or not all(
                isinstance(operand, (cst.Name, cst.Attribute, cst.SimpleString, cst.Integer))
                for operand in (test.left, test.comparisons[0].comparator)):
            return None
        operands = [self.eval(test.left, env), self.eval(test.comparisons[0].comparator, env)]
        if not any(isinstance(operand, Const) and operand.setting is not None
                   for operand in operands) or not all(
                isinstance(operand, Const) and (operand.setting is not None or not operand.assumed)
                for operand in operands):
            return None
        shipped = [replace(cast(Const, operand), assumed=False, setting=None)
                   for operand in operands]
        return compare(shipped[0], test.comparisons[0].operator, shipped[1])

    def eval_boolean(self, node: cst.BooleanOperation, env: Env) -> Value:
        """``a and b`` / ``a or b``: Python's value when the operands deciding it are
        constants; the right operand runs only when the left one does not decide."""
        first, chain = _left_chain(node, cst.BooleanOperation)
        value = self.eval(first, env)
        for operation in chain:
            decides = isinstance(operation.operator, cst.And) != bool(
                getattr(value, "value", True))
            if is_constant_key(value) and decides:
                continue  # `False and x`, `True or x`: x does not run
            right = self.eval(operation.right, env)
            value = right if is_constant_key(value) else UNKNOWN
        return value

    def eval_conditional(self, node: cst.IfExp, env: Env) -> Value:
        """``a if test else b``: the arm a known test picks (not an assumed one: a
        default or a setting may be given otherwise); else what both arms agree on, a
        constant they share."""
        test = self.eval(node.test, env)
        if is_constant_key(test) and isinstance(test, Const) and test.setting is None:
            return self.eval(node.body if test.value else node.orelse, env)
        body, orelse = self.eval(node.body, env), self.eval(node.orelse, env)
        if body is orelse:
            return body
        if (isinstance(body, Const) and isinstance(orelse, Const) and body.value == orelse.value
                and type(body.value) is type(orelse.value)):
            return replace(body, assumed=body.assumed or orelse.assumed)
        return UNKNOWN

    def eval_yield(self, node: cst.Yield, env: Env) -> Value:
        """``yield x_batch, y_batch``: what the generator gives (``yield from`` gives
        what another iterable does: unknown); the value sent back is unknown."""
        if isinstance(node.value, cst.From):
            self.eval(node.value.item, env)
            env.yields.append(UNKNOWN)
        else:
            env.yields.append(self.eval(node.value, env) if node.value is not None else UNKNOWN)
        return UNKNOWN

    def eval_named(self, node: cst.NamedExpr, env: Env) -> Value:
        value = self.eval(node.value, env)
        self.assign(node.target, value, node.value, env)
        return value

    def eval_lambda(self, node: cst.Lambda, env: Env) -> Value:
        """A lambda is a function over the scope it is written in (``compose``'s
        ``lambda f, g: lambda *a, **kw: g(f(*a, **kw))`` chains layers)."""
        function = FunctionValue(node=node, qualname="<lambda>")
        if self.foreign_path is not None:
            function.globals, function.origin = self.globals_env, self.foreign_path
        if env is not self.globals_env and env is not self.module_env:
            function.closure = env
        for param in (*node.params.posonly_params, *node.params.params,
                      *node.params.kwonly_params):
            if param.default is not None:
                function.defaults[param.name.value] = self.eval(param.default, env)
        return function

    def eval_operations(self, node: cst.BinaryOperation, env: Env) -> Value:
        """``a + b + ... + z`` left to right."""
        first, chain = _left_chain(node, cst.BinaryOperation)
        left = self.eval(first, env)
        for operation in chain:
            right = self.eval(operation.right, env)
            tensor = merge_tensors([left, right], operation)
            # `x + shortcut` in a functional graph
            left = tensor if tensor is not None else self.fold(left, right, operation.operator)
        return left

    def eval_list(self, node: cst.List | cst.Tuple, env: Env) -> ListValue:
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

    def eval_dict(self, node: cst.Dict, env: Env) -> DictValue:
        """A dict display; keys that are not constants (or ``**spread``) leave it open."""
        found = DictValue({}, node)
        for element in node.elements:
            if isinstance(element, cst.DictElement):
                key = self.eval(element.key, env)
                value = self.eval(element.value, env)
                if is_constant_key(key):
                    assert isinstance(key, Const)
                    found.entries[key.value] = value
                    if isinstance(element.value, cst.Integer):
                        self.model.literal_entries[id(element.value)] = element
                    continue
            else:
                self.eval(element.value, env)
            found.open = True
        return found

    def eval_name(self, node: cst.Name, env: Env) -> Value:
        return self.name_value(node.value, node, env)

    def name_value(self, name: str, node: cst.CSTNode, env: Env) -> Value:
        """The name ``name`` as the scope ``env`` sees it, written at ``node``."""
        if name in {"True", "False", "None"}:
            return Const({"True": True, "False": False, "None": None}[name], node)
        value = env.lookup(name)
        if value is UNKNOWN:
            return Opaque(name)
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
        if name in CONVENTIONAL_MODULES:
            # a fragment that uses `tf.` / `keras.` without importing them (the import
            # lives in another file or was cut from a snippet)
            return ModuleRef(canonical(CONVENTIONAL_MODULES[name]))
        return UNKNOWN

    def known_symbol(self, name: str, strict: bool = False) -> bool:
        api = self.api
        application = api.application(name)
        return (name in api.bn_layers or name in api.v1_bn_layers or name in api.dropout_layers
                or name in api.sequential
                or name in api.functional or name in api.inputs
                or not strict and api.is_layer_class(name)
                or application is not None and (not strict or application != "unknown")
                or self.known_optimizer(name) or name in DATA_SEQUENCES)

    def known_optimizer(self, name: str) -> bool:
        """An optimizer class (or Keras 2's lowercase alias of one, `adam`) or a
        schedule: what a star import of `keras.optimizers` brings in, and nothing else
        (`Input` after `from keras.optimizers import *` is not an optimizer)."""
        if name.startswith(self.api.schedules_prefix):
            return True
        prefix, _, last = name.rpartition(".")
        if not prefix.startswith("keras.optimizers"):
            return False
        known = {optimizer.rsplit(".", 1)[-1] for optimizer in self.api.optimizer_defaults}
        return last in known or last.lower() in {item.lower() for item in known} or (
            last.endswith("Optimizer"))

    def fold(self, left: Value, right: Value,
             operator: cst.BaseBinaryOp | cst.BaseAugOp) -> Value:
        if isinstance(left, Samples) and const_number(right) is not None or (
                isinstance(right, Samples) and const_number(left) is not None):
            # `x / 255.0`: element-wise with a number, the batch stays
            return left if isinstance(left, Samples) else right
        if isinstance(operator, (cst.Multiply, cst.MultiplyAssign)) and (
                left is REPLICAS or right is REPLICAS) and (
                const_int(right if left is REPLICAS else left) is not None):
            # `BATCH_PER_REPLICA * strategy.num_replicas_in_sync`: a global batch whose
            # share each replica normalises is that number (kept where it is written)
            return right if left is REPLICAS else left
        if isinstance(left, LayerCount) and isinstance(operator, cst.Subtract):
            fewer = const_int(right)  # `total - n`: the index of the n-th layer from the end
            return replace(left, offset=left.offset - fewer) if fewer is not None and (
                fewer >= 0) else UNKNOWN
        if isinstance(operator, (cst.Add, cst.AddAssign)):
            variables = variables_list(left), variables_list(right)
            if variables[0] is not None and variables[1] is not None:
                # `g.trainable_variables + d.trainable_variables`
                return ListValue(variables[0] + variables[1])
        if isinstance(operator, (cst.Add, cst.AddAssign)) and isinstance(left, Const) and (
                isinstance(right, Const)) and isinstance(left.value, str) and isinstance(
                right.value, str):
            # `"keras.applications." + name`: a module or builder named by a known string
            return Const(left.value + right.value, assumed=left.assumed or right.assumed,
                         setting=left.setting or right.setting,
                         derived=bool(left.setting or right.setting))
        a, b = const_number(left), const_number(right)
        if a is None or b is None:
            return UNKNOWN
        try:
            if isinstance(operator, (cst.Add, cst.AddAssign)):
                number = a + b
            elif isinstance(operator, (cst.Subtract, cst.SubtractAssign)):
                number = a - b
            elif isinstance(operator, (cst.Multiply, cst.MultiplyAssign)):
                number = a * b
            elif isinstance(operator, (cst.Divide, cst.DivideAssign)):
                number = a / b
            elif isinstance(operator, (cst.Power, cst.PowerAssign)):
                number = a**b
            elif isinstance(operator, (cst.FloorDivide, cst.FloorDivideAssign)):
                number = a // b
            else:
                return UNKNOWN
        except (ArithmeticError, ValueError):
            return UNKNOWN
        # a number worked out from an assumed one (a default, a setting) is assumed too
        operands = (cast(Const, left), cast(Const, right))
        setting = next((operand.setting for operand in operands
                        if operand.setting is not None), None)
        return Const(number, assumed=any(operand.assumed for operand in operands),
                     setting=setting, derived=setting is not None)

    def eval_attribute(self, node: cst.Attribute, env: Env) -> Value:
        return self.attribute_of(self.eval(node.value, env), node.attr.value, node)

    def attribute_of(self, owner: Value, attr: str, node: cst.CSTNode) -> Value:
        """``owner.attr`` written at ``node`` (``getattr(owner, "attr")`` as well)."""
        if attr == "num_replicas_in_sync" and isinstance(owner, Unknown):
            return REPLICAS  # of a `tf.distribute` strategy
        if isinstance(owner, ModuleRef):
            if is_flag_values(owner.name):
                return self.flag_defaults.get(attr, UNKNOWN)  # `FLAGS.batch_size`
            name = canonical(f"{owner.name}.{attr}")
            self.model.references.append(Reference(name, node))
            return ModuleRef(name)
        if isinstance(owner, ParsedArguments):
            return owner.attrs.get(attr, UNKNOWN)  # `args.batch_size`
        if isinstance(owner, Layer):
            return self.layer_attribute(owner, attr, node)
        if isinstance(owner, LayerSelection) and owner.element:
            if attr in {"output", "outputs"} and owner.extent == "one" and (
                    owner.guard == "none"):
                # `base.get_layer("conv4_block6_out").output`, `base.layers[-2].output`:
                # a model built on it holds the base's layers up to that one
                return Tensor(True, (Wiring(owner.container, "flattened", "absent", node),),
                              node)
            if owner.members is not None and len(owner.members) == 1 and owner.guard == "none":
                # `model.layers[2].layers`: the one selected layer is known
                return self.layer_attribute(owner.members[0], attr, node)
            if attr in _VARIABLE_LISTS:
                return Variables(None)
            return UNKNOWN
        if isinstance(owner, Optimizer) and attr in {"learning_rate", "lr"}:
            return OptimizerAttr(owner, attr)
        if isinstance(owner, DictValue):
            if owner.attributes and attr in owner.entries:
                entry = owner.lookup(Const(attr))  # `cfg.TRAIN` of an EasyDict
                return entry if entry is not None else UNKNOWN
            if attr not in READING_DICT_METHODS:
                owner.open = True  # a method taken off the dict may change its entries
            return UNKNOWN
        if isinstance(owner, OptimizerAttr):
            return UNKNOWN
        if isinstance(owner, ClassValue):
            method = owner.methods.get(attr)
            return method if method is not None else owner.constants.get(attr, UNKNOWN)
        if isinstance(owner, ProjectModule):
            return self.project_attribute(owner, attr)
        if isinstance(owner, Instance):
            if attr in owner.attrs:
                return owner.attrs[attr]
            if attr in _VARIABLE_LISTS and _is_tf_module(owner.owner) and (
                    attr not in owner.owner.methods):
                # a `tf.Module` collects the variables of the layers it holds
                return ListValue(tuple(Variables(layer) for layer in _held_layers(owner)))
            method = owner.owner.methods.get(attr)
            return BoundMethod(method, owner) if method is not None else (
                owner.owner.constants.get(attr, UNKNOWN))
        if isinstance(owner, Opaque):
            return Opaque(f"{owner.name}.{attr}", f"{owner.key}.{attr}")  # `args.use_pix2pix`
        return UNKNOWN

    def layer_attribute(self, layer: Layer, attr: str, node: cst.CSTNode) -> Value:
        if attr == "layers":
            return LayerSelection(container=layer, node=node, extent="all",
                                  members=self.tracked_members(layer))
        if attr in {"output", "outputs", "input", "inputs"}:
            stored = layer.attrs.get(f"__{attr}__")
            if stored is not None:
                return stored
            return Tensor(True, (Wiring(layer, "flattened", "absent", node),), node)
        if attr in _VARIABLE_LISTS:
            return Variables(layer)
        if attr == "optimizer":
            optimizer = layer.attrs.get("optimizer")
            return optimizer if optimizer is not None else UNKNOWN
        if attr in layer.attrs:
            return layer.attrs[attr]
        if layer.user_class is not None:
            owner = self.model.class_named(layer.user_class)
            if owner is not None and attr in owner.methods:
                return BoundMethod(owner.methods[attr], layer)
            if owner is not None:
                return owner.constants.get(attr, UNKNOWN)
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

    def eval_subscript(self, node: cst.Subscript, env: Env) -> Value:
        scope = namespace_call(node.value, env)
        if scope is not None and len(node.slice) == 1 and isinstance(
                node.slice[0].slice, cst.Index):
            # `globals()[model_name](...)`: the builder named by a known string
            return self.scope_entry(scope, self.eval(node.slice[0].slice.value, env), node, env)
        owner = self.eval(node.value, env)
        bounds: tuple[int | None, int | None] | None = None
        index_value: Value = UNKNOWN
        for element in node.slice:
            inner = element.slice
            if isinstance(inner, cst.Index):
                index_value = self.eval(inner.value, env)
            elif isinstance(inner, cst.Slice):
                lower = const_int(self.eval(inner.lower, env)) if inner.lower else None
                upper = const_int(self.eval(inner.upper, env)) if inner.upper else None
                if inner.step is None and (lower is not None or inner.lower is None) and (
                        upper is not None or inner.upper is None):
                    bounds = (lower, upper)
        if isinstance(owner, LayerSelection) and not owner.element and len(node.slice) == 1:
            by_value = self.select_by_value(owner, node, env)
            if by_value is not None:
                return by_value
            # `model.layers[:fine_tune_at]` with `fine_tune_at = 100`: bounds by value
            selected = select_layers(owner, node.slice[0].slice, node,
                                     const_int(index_value), bounds)
            if isinstance(selected, LayerSelection) and selected.extent == "slice":
                return replace(selected, bounds=bounds)
            return selected
        if isinstance(owner, DictValue) and len(node.slice) == 1:
            entry = owner.lookup(index_value)  # `builders[backbone]`, a known key
            return entry if entry is not None else UNKNOWN
        if isinstance(owner, Tensor) and owner.symbolic:
            return replace(owner, inputs_node=node)  # `x[:, 0]` stays in the graph
        if isinstance(owner, ListValue) and len(node.slice) == 1 and isinstance(
                node.slice[0].slice, cst.Index) and (item := owner.one_item()) is not None and (
                const_int(index_value) is None
                or not (isinstance(item, Layer) and item.is_model)):
            # `self.bns[i][level]`: one of the BN layers made alike, whichever it is (a
            # known index of models made alike names one model, which the stand-in for
            # all of them is not: `teacher = models[0]`)
            return item
        if isinstance(owner, ListValue) and len(node.slice) == 1 and not owner.changed:
            inner = node.slice[0].slice
            if isinstance(inner, cst.Slice) and bounds is not None:
                return ListValue(owner.items[bounds[0]:bounds[1]])  # `rpn[:2]`
            if isinstance(inner, cst.Index):
                index = const_int(index_value)  # `(185, len(body.layers) - 3)[level - 1]`
                if index is not None and -len(owner.items) <= index < len(owner.items):
                    return owner.items[index]
            common = common_graph(owner.items, node)
            if common is not None:
                return common
        elif isinstance(owner, ListValue) and len(node.slice) == 1 and isinstance(
                node.slice[0].slice, cst.Index):
            common = common_graph(owner.items, node)
            if common is not None:
                return common  # `feats[2]` of feature maps appended in a loop
        if not isinstance(owner, (ListValue, LayerSelection, Layer, Const)) and (
                self.one_sample(node, env)):
            return Samples(1, node)
        if not isinstance(owner, (ListValue, LayerSelection, Layer, Const, Tensor)) and (
                len(node.slice) == 1):
            rows = self.sliced_rows(node.slice[0].slice, env)
            if rows is not None:
                return rows
        if isinstance(owner, Opaque) and len(node.slice) == 1 and isinstance(
                index_value, Const) and isinstance(index_value.value, (str, int)) and (
                not index_value.assumed):
            read = f"[{index_value.value!r}]"
            return Opaque(owner.name + read, owner.key + read)  # `args["use_bn"]`
        return UNKNOWN

    def sliced_rows(self, index: cst.BaseSlice, env: Env) -> Samples | None:
        """``x[i:i + n]`` or ``x[i * n:(i + 1) * n]`` with ``n`` a known number: a batch
        of ``n`` rows, sized where ``n`` is set (``train(batch_size=2)``)."""
        if not isinstance(index, cst.Slice) or index.step is not None or not isinstance(
                index.upper, cst.BinaryOperation) or index.lower is None:
            return None
        lower, upper = index.lower, index.upper
        size: cst.BaseExpression | None = None
        if isinstance(upper.operator, cst.Add) and upper.left.deep_equals(lower):
            size = upper.right  # `x[i:i + n]`
        elif isinstance(upper.operator, cst.Multiply) and isinstance(
                lower, cst.BinaryOperation) and isinstance(lower.operator, cst.Multiply):
            step = upper.left  # (libcst keeps `(i + 1)`'s parentheses on the node)
            if (isinstance(step, cst.BinaryOperation) and isinstance(step.operator, cst.Add)
                    and isinstance(step.right, cst.Integer) and step.right.value == "1"
                    and step.left.deep_equals(lower.left)
                    and upper.right.deep_equals(lower.right)):
                size = upper.right  # `x[i * n:(i + 1) * n]`
        if size is None or isinstance(size, cst.Integer) and size.value == "1":
            return None
        return self.counted_samples(size, env)

    def one_sample(self, node: cst.Subscript, env: Env) -> bool:
        """``x[None]``, ``x[np.newaxis, ...]`` (a new first axis of size 1) or
        ``x[i:i + 1]`` (one row): a batch of exactly one."""
        first = node.slice[0].slice
        if isinstance(first, cst.Index):
            value = first.value
            if isinstance(value, cst.Name) and value.value == "None":
                return True
            reference = self.eval(value, env) if isinstance(value, cst.Attribute) else None
            return isinstance(reference, ModuleRef) and reference.name in {
                "numpy.newaxis", "tf.newaxis"}
        if isinstance(first, cst.Slice) and len(node.slice) == 1 and first.step is None and (
                first.lower is not None and isinstance(first.upper, cst.BinaryOperation)):
            upper = first.upper
            return (isinstance(upper.operator, cst.Add) and isinstance(upper.right, cst.Integer)
                    and upper.right.evaluated_value == 1
                    and upper.left.deep_equals(first.lower))
        return False

    def select_by_value(self, owner: LayerSelection, node: cst.Subscript,
                        env: Env) -> LayerSelection | None:
        """``model.layers[i]`` with ``i`` an index loop over the same layers (every layer,
        or those from ``start``), and ``model.layers[len(base.layers):]`` on a model built
        on ``base.output`` (the layers after the base: the new head only)."""
        inner = node.slice[0].slice
        container = owner.container
        if isinstance(inner, cst.Index):
            index = self.eval(inner.value, env)
            if isinstance(index, LayerIndex) and index.container is container:
                if index.start in (None, 0):
                    return replace(owner, node=node, element=True)
                tail = head_tail(container, index.start)
                if tail is not None:  # `range(total - 1, total)` over the new head only
                    return replace(owner, node=node, element=True, extent="slice",
                                   members=tail, bounds=(index.start, None))
                return replace(owner, node=node, element=True, extent="slice",
                               members=None, bounds=(index.start, None))
            if isinstance(index, PositionRange):  # `for i in range(142): model.layers[i]`
                return select_positions(owner, node, index.start, index.stop)
            if isinstance(index, LayerIndex) and index.start in (None, 0) and (
                    leading_base(container) is index.container):
                # `for i in range(len(base.layers)): model.layers[i]` on a model built on
                # `base.input`/`base.output`: its list opens with the base's layers
                return LayerSelection(index.container, node, element=True)
            return None
        if isinstance(inner, cst.Slice) and inner.upper is None and inner.step is None and (
                inner.lower is not None):
            lower = self.eval(inner.lower, env)
            if isinstance(lower, LayerCount) and lower.offset == 0 and (
                    lower.container in flattened_bases(container)):
                return replace(owner, node=node, extent="slice", members=head_after(container),
                               bounds=None)
        return None

    def eval_comprehension(self, node: cst.BaseExpression, env: Env) -> Value:
        unrolled = self.unrolled_comprehension(node, env)
        if unrolled is not None:
            return unrolled
        scope = Env(parent=env)
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
        made_before = len(self.model.layers)
        try:
            if isinstance(node, cst.DictComp):
                self.eval(node.key, scope)
                self.eval(node.value, scope)
                return UNKNOWN
            element = self.eval(getattr(node, "elt", None), scope)
        finally:
            self.context = saved
        if isinstance(node, cst.ListComp) and (
                (isinstance(element, Layer) and any(
                    made is element for made in self.model.layers[made_before:]))
                or (isinstance(element, ListValue) and element.uniform)):
            # `[BatchNormalization() for _ in range(depth)]`: layers made alike
            return ListValue((element,), changed=True, uniform=True)
        return UNKNOWN

    def unrolled_comprehension(self, node: cst.BaseExpression, env: Env) -> ListValue | None:
        """``[submodel(f) for f in features]`` or ``[build(n, m) for n, m in models]``
        over a short list whose items are known: the element once per item, in order,
        as Python runs it, giving the list of results. None for any other comprehension
        (filtered, nested, over something else)."""
        if not isinstance(node, cst.ListComp) or node.for_in.inner_for_in is not None or (
                node.for_in.ifs or node.for_in.asynchronous is not None):
            return None
        target: cst.BaseExpression = node.for_in.target
        source = node.for_in.iter
        counter: cst.BaseExpression | None = None
        if isinstance(source, cst.Call) and isinstance(source.func, cst.Name) and (
                source.func.value == "enumerate" and len(source.args) == 1
                and source.args[0].keyword is None and not source.args[0].star
                and isinstance(target, (cst.Tuple, cst.List)) and len(target.elements) == 2
                and not any(isinstance(e, cst.StarredElement) for e in target.elements)):
            # `[head(f, i) for i, f in enumerate(features)]`: the position and the item
            counter, target = target.elements[0].value, target.elements[1].value
            source = source.args[0].value
        iterable = self.eval(source, env)
        if not isinstance(iterable, ListValue) or not (
                0 < len(iterable.items) <= UNROLLED_ITEMS):
            return None
        if iterable.changed and not all(isinstance(item, Tensor) and item.symbolic
                                        for item in iterable.items):
            return None  # (feature maps remade in a loop: each known map, places unknown)
        results: list[Value] = []
        saved = self.context
        self.context = replace(saved, loop_depth=saved.loop_depth + 1)
        try:
            for index, item in enumerate(iterable.items):
                scope = Env(parent=env)
                if counter is not None:  # (places unknown in a list that changed)
                    self.assign(counter, UNKNOWN if iterable.changed else Const(index),
                                source, scope)
                self.assign(target, item, source, scope)
                results.append(self.eval(node.elt, scope))
        finally:
            self.context = saved
        return ListValue(tuple(results), changed=iterable.changed)


# The method that evaluates each kind of expression; any other kind has its children
# evaluated and is unknown. Looked up by the node's exact type: none of these classes has
# subclasses, and a dict lookup costs far less than isinstance against libcst's ABCs.
_EVALUATORS = {
    "Name": "eval_name", "Integer": "eval_number", "Float": "eval_number",
    "SimpleString": "eval_string", "ConcatenatedString": "eval_concatenated",
    "UnaryOperation": "eval_unary", "BinaryOperation": "eval_operations",
    "Attribute": "eval_attribute", "Subscript": "eval_subscript", "Call": "eval_call",
    "List": "eval_list", "Tuple": "eval_list", "ListComp": "eval_comprehension",
    "GeneratorExp": "eval_comprehension", "SetComp": "eval_comprehension",
    "DictComp": "eval_comprehension", "NamedExpr": "eval_named", "Lambda": "eval_lambda",
    "Dict": "eval_dict", "Comparison": "eval_comparison", "BooleanOperation": "eval_boolean",
    "Yield": "eval_yield", "IfExp": "eval_conditional",
}


_TABLES: dict[type, dict[type, Callable[..., Value]]] = {}


def _evaluators(replay: type) -> dict[type, Callable[..., Value]]:
    """Node type to the evaluating method of the ``replay`` class."""
    table = _TABLES.get(replay)
    if table is None:
        table = _TABLES[replay] = {
            getattr(cst, kind): getattr(replay, method) for kind, method in _EVALUATORS.items()}
    return table


Operation = TypeVar("Operation", cst.BinaryOperation, cst.BooleanOperation)


def _left_chain(node: Operation, kind: type[Operation]) -> tuple[cst.BaseExpression,
                                                                 list[Operation]]:
    """``a + b + c`` as its first operand and the operations in the order they run,
    without one frame per term: a long flat chain is a deep tree."""
    chain: list[Operation] = []
    current: cst.BaseExpression = node
    while isinstance(current, kind):
        chain.append(current)
        current = current.left
    chain.reverse()
    return current, chain


def compare(left: Value, operator: cst.BaseCompOp, right: Value) -> bool | None:
    """``left <operator> right`` when both are constants (``in``: a tuple/list of
    constants or a string), else None."""
    if isinstance(operator, (cst.In, cst.NotIn)):
        if not is_constant_key(left):
            return None
        assert isinstance(left, Const)
        if isinstance(right, ListValue) and all(is_constant_key(item) for item in right.items):
            found = any(left.value == cast(Const, item).value for item in right.items)
        elif isinstance(right, Const) and isinstance(right.value, str) and isinstance(
                left.value, str):
            found = left.value in right.value
        else:
            return None
        return found if isinstance(operator, cst.In) else not found
    if not (is_constant_key(left) and is_constant_key(right)):
        return None
    a, b = cast(Const, left).value, cast(Const, right).value
    try:
        if isinstance(operator, cst.Equal):
            return bool(a == b)
        if isinstance(operator, cst.NotEqual):
            return bool(a != b)
        if isinstance(operator, (cst.Is, cst.IsNot)):
            if a is not None and b is not None:
                return None  # identity of other constants is not the program's to rely on
            same = a is b
            return same if isinstance(operator, cst.Is) else not same
        if isinstance(operator, cst.LessThan):
            return bool(a < b)  # type: ignore[operator]
        if isinstance(operator, cst.LessThanEqual):
            return bool(a <= b)  # type: ignore[operator]
        if isinstance(operator, cst.GreaterThan):
            return bool(a > b)  # type: ignore[operator]
        if isinstance(operator, cst.GreaterThanEqual):
            return bool(a >= b)  # type: ignore[operator]
    except TypeError:
        return None
    return None


# What a model's (or a `tf.Module`'s) variables are read as.
_VARIABLE_LISTS = frozenset({"trainable_variables", "trainable_weights", "variables",
                             "weights"})


def _is_tf_module(owner: ClassValue) -> bool:
    """A subclass (through the project's own classes) of ``tf.Module``."""
    return any(isinstance(base, ModuleRef) and base.name in {"tf.Module", "tensorflow.Module"}
               or isinstance(base, ClassValue) and _is_tf_module(base) for base in owner.bases)


def _held_layers(instance: Instance, seen: frozenset[int] = frozenset()) -> list[Layer]:
    """The Keras layers and models an instance holds in its attributes, in lists and
    dicts of them, and in the `tf.Module`s it holds (as `tf.Module` walks them)."""
    held: list[Layer] = []
    for value in instance.attrs.values():
        if isinstance(value, ListValue):
            items: tuple[Value, ...] = value.items
        elif isinstance(value, DictValue):
            items = tuple(value.entries.values())
        else:
            items = (value,)
        for item in items:
            if isinstance(item, Layer):
                held.append(item)
            elif isinstance(item, Instance) and _is_tf_module(item.owner) and (
                    id(item) not in seen):
                held.extend(_held_layers(item, seen | {id(instance)}))
    return held


def _holds_bool(value: Value) -> bool:
    """A bool on every run: not an option a run may give as a string."""
    return isinstance(value, Const) and isinstance(value.value, bool) and not value.other_types


# The comparisons a condition's key names, as (operator, does the test mean it).
_COMPARED: dict[type, tuple[str, bool]] = {
    cst.Equal: ("==", True), cst.NotEqual: ("==", False),
    cst.Is: ("is", True), cst.IsNot: ("is", False),
    cst.In: ("in", True), cst.NotIn: ("in", False),
    cst.LessThan: ("<", True), cst.GreaterThanEqual: ("<", False),
    cst.GreaterThan: (">", True), cst.LessThanEqual: (">", False),
}
