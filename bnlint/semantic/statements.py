"""Statements and paths: blocks, assignments, imports, definitions, and the control
flow (branches, loops, ``with``, ``try``) that decides which paths events lie on."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import cast

import libcst as cst

from bnlint.semantic.events import Event, PathKind
from bnlint.semantic.layer_loops import LayerLoopReplay, is_enumerate
from bnlint.semantic.model import CallSite
from bnlint.semantic.paths import ConditionSource, PathOracle, condition_key
from bnlint.semantic.replay import (
    BATCH_PARAMETER,
    DATA_SEQUENCES,
    UNROLLED_ITEMS,
    BoundMethod,
    Env,
    Exit,
    const_int,
)
from bnlint.semantic.skipped import skipped_calls
from bnlint.semantic.syntax import (
    always_exits,
    assigned_names,
    assigned_targets,
    dotted,
    ends_program,
    is_main_guard,
)
from bnlint.semantic.values import (
    UNKNOWN,
    ClassValue,
    Const,
    Dataset,
    DictValue,
    FunctionValue,
    Instance,
    Layer,
    LayerIndex,
    LayerSelection,
    ListValue,
    ModuleRef,
    Optimizer,
    ParsedArguments,
    Partial,
    PositionRange,
    Samples,
    Tape,
    Tensor,
    Value,
    Variables,
    Wiring,
    common_graph,
    flattened,
    is_constant_key,
    join_names,
    track_layers,
    written_constant,
)
from bnlint.semantic.walk import run_visitor, walk


class StatementReplay(LayerLoopReplay):
    def exec_block(self, body: Sequence[cst.BaseStatement] | Sequence[cst.BaseSmallStatement],
                   env: Env) -> None:
        saved = self.context
        try:
            for index, statement in enumerate(body):
                if type(statement) is cst.If:
                    self.block_rest = (body, index + 1)
                self.exec_statement(statement, env)
                if self.exit is not None:
                    return  # the rest of the block does not run on this path
                if self.continuation is not None:
                    # `if not args.finetune: return` decided: the rest of the block is
                    # the other arm of that `if`
                    self.context = replace(self.context,
                                           path=self.context.path + (self.continuation,))
                    self.continuation = None
        finally:
            self.context = saved

    def exec_suite(self, suite: cst.BaseSuite, env: Env) -> None:
        if type(suite) is cst.IndentedBlock or type(suite) is cst.SimpleStatementSuite:
            self.exec_block(suite.body, env)

    def exec_statement(self, node: cst.CSTNode, env: Env) -> None:
        execute = _executors(type(self)).get(type(node))
        if execute is not None:
            execute(self, node, env)

    def exec_line(self, node: cst.SimpleStatementLine, env: Env) -> None:
        self.exec_block(node.body, env)

    def exec_assign(self, node: cst.Assign, env: Env) -> None:
        value = self.eval(node.value, env)
        for target in node.targets:
            self.assign(target.target, value, node.value, env)

    def exec_ann_assign(self, node: cst.AnnAssign, env: Env) -> None:
        if node.value is not None:
            value = self.eval(node.value, env)
            self.assign(node.target, value, node.value, env)

    def exec_aug_assign(self, node: cst.AugAssign, env: Env) -> None:
        right = self.eval(node.value, env)
        if isinstance(node.target, cst.Name):
            old = self.eval(node.target, env)
            env.bind(node.target.value, self.fold_aug(old, right, node))

    def exec_expr(self, node: cst.Expr, env: Env) -> None:
        self.eval(node.value, env)
        if ends_program(node.value):
            self.exit = "raise"

    def exec_return(self, node: cst.Return, env: Env) -> None:
        env.returns.append(self.eval(node.value, env) if node.value else Const(None))
        self.exit = "return"

    def exec_break(self, node: cst.Break, env: Env) -> None:
        self.exit = "break"

    def exec_continue(self, node: cst.Continue, env: Env) -> None:
        self.exit = "continue"

    def exec_global(self, node: cst.Global, env: Env) -> None:
        env.globals_declared.update(item.name.value for item in node.names)

    def exec_raise(self, node: cst.Raise, env: Env) -> None:
        if node.exc is not None:
            self.eval(node.exc, env)
        self.exit = "raise"

    def exec_assert(self, node: cst.Assert, env: Env) -> None:
        self.eval(node.test, env)

    def exec_while(self, node: cst.While, env: Env) -> None:
        self.eval(node.test, env)
        self.exec_loop_body(node.body, env, node)
        if node.orelse is not None:
            self.exec_branch(node.orelse.body, env, ("else", node))

    def exec_function_def(self, node: cst.FunctionDef, env: Env) -> None:
        self.define_function(node, env, None)

    def exec_try(self, node: cst.Try, env: Env) -> None:
        """The body, each handler as a branch that may run, ``else``, then ``finally``
        (which runs whatever the body did)."""
        self.exec_suite(node.body, env)
        if self.exit == "raise":
            self.exit = None  # a handler may catch it
        ended = self.exit
        for handler in node.handlers:
            self.exec_branch(handler.body, env, ("except", handler))
        if node.orelse is not None and ended is None:
            self.exec_suite(node.orelse.body, env)
            ended = self.exit
        if node.finalbody is not None:
            self.exit = None
            self.exec_suite(node.finalbody.body, env)
            self.exit = self.exit or ended

    def fold_aug(self, old: Value, right: Value, node: cst.AugAssign) -> Value:
        if isinstance(old, (Const, Variables, ListValue)):
            return self.fold(old, right, node.operator)
        return UNKNOWN

    def exec_branch(self, suite: cst.BaseSuite, env: Env,
                    step: tuple[PathKind, cst.CSTNode] | None = None) -> Exit | None:
        """Run an arm that may or may not run (its state changes are joined with the
        other path's); return how it ended, if it left its block."""
        saved = self.context
        path = saved.path + (step,) if step is not None else saved.path
        self.context = replace(saved, definite=False, path=path)
        try:
            self.exec_suite(suite, env)
        finally:
            self.context = saved
        ended, self.exit = self.exit, None
        return ended

    def exec_if(self, node: cst.If, env: Env) -> None:
        latch = self.latch_test(node.test, env)
        if latch is not None:
            self.exec_latched(node, env, *latch)
            return
        split = self.position_test(node.test, env)
        if split is not None and not isinstance(node.orelse, cst.If):
            self.exec_split(node, env, *split)
            return
        test = self.eval(node.test, env)
        if is_main_guard(node.test):
            if self.foreign_path is None:  # an imported module is not `__main__`
                self.exec_suite(node.body, env)
            elif isinstance(node.orelse, cst.Else):
                self.exec_suite(node.orelse.body, env)
            return
        if isinstance(test, Const) and isinstance(test.value, (bool, int, str, type(None))) and (
                not test.assumed):
            # `if use_bn:` with a known argument: only one branch runs (not on a
            # setting such as an option's default, nor on the default of a parameter of
            # a function replayed on its own: the user or a caller may give another)
            skipped = node.orelse if test.value else node.body
            if skipped is not None and self.foreign_path is None and not _literal(node.test):
                self.model.skipped_calls.extend(skipped_calls(skipped, env))
            if test.value:
                self.exec_suite(node.body, env)
            elif isinstance(node.orelse, cst.If):
                self.exec_if(node.orelse, env)
            elif isinstance(node.orelse, cst.Else):
                self.exec_suite(node.orelse.body, env)
            return
        guard = self.isinstance_guard(node.test, env)
        if guard is None and self.oracle is not None and self.decided_before(node.test, env):
            # a condition on what this path already decided goes the same way, in a loop
            # on every iteration: `self.use_pix2pix` set from `args.use_pix2pix` in
            # `__init__`, read in the `train_step` a loop runs
            self.exec_decided(node, env, self.oracle)
            return
        if guard is None and self.once_per_path():
            if self.oracle is not None and self.relevance.matters(node):
                self.exec_decided(node, env, self.oracle)
                return
            if self.oracle is None:
                body, start = self.block_rest
                if start and body[start - 1] is node:
                    self.relevance.note_exit(node, body[start:])
        self.exec_joined(node, env, guard)

    def once_per_path(self) -> bool:
        """Does the statement being replayed run once per path? A condition inside a
        loop or a callback hook can go either way from one iteration to the next, so
        there the arms stay joined."""
        return not any(kind in {"loop", "callback"} for kind, _ in self.context.path)

    def decided_before(self, test: cst.BaseExpression, env: Env) -> bool:
        """Does ``test`` read a setting or a named unknown value (``self.flag`` holding
        ``args.flag``) whose truth this path has already decided?"""
        source = self.condition_source(test, env)
        return source is not None and self.oracle is not None and self.oracle.knows(source)

    def exec_decided(self, node: cst.If, env: Env, oracle: PathOracle) -> None:
        """One path: the oracle says which way the condition goes, and that arm runs as
        definitely as the ``if`` itself."""
        text, positive = condition_key(node.test, self.module)
        default = self.default_truth(node.test, env)
        source = self.condition_source(node.test, env) or ConditionSource(text)
        positive = positive == source.means  # `self.norm != "batch"`: its key negated
        taken = oracle.decide(source.key, node,
                              None if default is None else default == positive,
                              text, source.means, source.equals) == positive
        step: tuple[PathKind, cst.CSTNode] = ("if" if taken else "else", node)
        self.decided_steps[id(step)] = step
        saved = self.context
        self.context = replace(saved, path=saved.path + (step,))
        try:
            if taken:
                self.exec_suite(node.body, env)
            elif isinstance(node.orelse, cst.If):
                self.exec_if(node.orelse, env)
            elif isinstance(node.orelse, cst.Else):
                self.exec_suite(node.orelse.body, env)
        finally:
            self.context = saved
        skipped = node.orelse if taken else node.body
        if self.exit is None and skipped is not None and always_exits(skipped):
            self.continuation = step

    def exec_joined(self, node: cst.If, env: Env, guard: tuple[str, bool] | None) -> None:
        """Both arms, each as a branch that may not run; the names they bind are joined
        (what both agree on stays known). An arm that leaves the block (``return``,
        ``continue``, ...) does not flow into the code after the ``if``."""
        before = dict(env.names)
        if guard is not None:
            name, positive = guard
            then_exit = self.exec_guarded(node.body, env, name, positive, ("if", node))
        else:
            then_exit = self.exec_branch(node.body, env, ("if", node))
        then_names = dict(env.names)
        env.names = dict(before)
        orelse = node.orelse
        else_exit: Exit | None = None
        if isinstance(orelse, cst.If):
            saved = self.context
            self.context = replace(saved, definite=False, path=saved.path + (("else", node),))
            try:
                self.exec_if(orelse, env)
            finally:
                self.context = saved
            else_exit, self.exit = self.exit, None
        elif isinstance(orelse, cst.Else):
            if guard is not None:
                name, positive = guard
                else_exit = self.exec_guarded(orelse.body, env, name, not positive,
                                              ("else", node))
            else:
                else_exit = self.exec_branch(orelse.body, env, ("else", node))
        else_names = env.names
        if then_exit is not None and else_exit is not None:
            # neither arm reaches the code after the `if`
            self.exit = "continue" if "continue" in (then_exit, else_exit) else then_exit
            return
        if then_exit is not None:
            env.names = else_names
            if guard is not None and orelse is None:
                # `if isinstance(layer, BatchNormalization): continue`: the rest of the
                # loop body sees the other layers only
                name, positive = guard
                self.narrow(env, name, not positive)
            return
        if else_exit is not None:
            env.names = then_names
            return
        env.names = join_names(before, then_names, else_names,
                                self.same_on_every_iteration(node.test, env))

    def same_on_every_iteration(self, test: cst.BaseExpression, env: Env) -> bool:
        """Inside a loop: is some conjunct of ``test`` unknown and made of names the loop
        never rebinds (``if use_bn and i > 0:`` with ``use_bn`` unknown)? Then the arm
        runs on every iteration or on none, and what it adds to a graph may not be there."""
        loops = self.context.loops()
        if not loops:
            return False
        rebound: frozenset[str] = frozenset()
        for loop in loops:  # an outer loop's variable changes too (`if stage > 0:`)
            known = self.loop_targets.get(id(loop))
            if known is None:
                known = self.loop_targets[id(loop)] = assigned_targets(loop)
            rebound |= known
        conjuncts, pending = [], [test]
        while pending:
            part = pending.pop()
            if isinstance(part, cst.BooleanOperation) and isinstance(part.operator, cst.And):
                pending.extend((part.left, part.right))
            else:
                conjuncts.append(part)
        for conjunct in conjuncts:
            names = _read_names(conjunct)
            if not names or any(_rebound(name, rebound) for name in names):
                continue
            value = self.eval(conjunct, env)
            if not isinstance(value, Const) or value.assumed or value.setting is not None:
                return True
        return False

    def fixed_positions(self, iterable: cst.BaseExpression, env: Env) -> PositionRange | None:
        """``range(stop)`` or ``range(start, stop)`` of known integers."""
        if not (isinstance(iterable, cst.Call) and isinstance(iterable.func, cst.Name)
                and iterable.func.value == "range" and 1 <= len(iterable.args) <= 2
                and all(arg.keyword is None and not arg.star for arg in iterable.args)):
            return None
        bounds = [const_int(self.eval(arg.value, env)) for arg in iterable.args]
        if any(bound is None or bound < 0 for bound in bounds):
            return None
        start, stop = (0, *bounds) if len(bounds) == 1 else bounds
        assert start is not None and stop is not None
        return PositionRange(start, stop)

    def exec_for(self, node: cst.For, env: Env) -> None:
        iterable = self.eval(node.iter, env)
        latches: dict[str, tuple[bool, str]] = {}
        layers = self.enumerated_layers(node, env)
        if layers is not None:
            # `for i, layer in enumerate(base.layers)`: the layer as in a plain loop over
            # them, the counter an index running over the same layers
            counter, element, iterable, first = layers
            env.bind(counter.value, LayerIndex(iterable.container, element=element.value,
                                               counted_from=first) if (
                iterable.extent == "all") else UNKNOWN)
            env.bind(element.value, replace(iterable, element=True, node=element))
            latches = {name: (initial, element.value)
                       for name, initial in _latches(node.body, env).items()}
        elif isinstance(iterable, LayerSelection) and not iterable.element and isinstance(
            node.target, cst.Name
        ):
            env.bind(node.target.value, replace(iterable, element=True, node=node.target))
            latches = {name: (initial, node.target.value)
                       for name, initial in _latches(node.body, env).items()}
        elif isinstance(iterable, LayerIndex) and isinstance(node.target, cst.Name):
            env.bind(node.target.value, iterable)  # `for i in range(len(model.layers))`
        elif isinstance(node.target, cst.Name) and (
                positions := self.fixed_positions(node.iter, env)) is not None:
            env.bind(node.target.value, positions)  # `for i in range(142)`
        elif isinstance(iterable, Dataset) and (
                iterable.batch_size is not None and iterable.batch_node is not None):
            self.bind_batches(node, iterable, env)
        elif isinstance(iterable, Instance) and iterable.batch_node is not None and (
                const_int(iterable.attrs.get(BATCH_PARAMETER, UNKNOWN)) is not None):
            # `for images, targets in trainset`: a loader of the project whose items are
            # batches of its `batch_size`
            size = iterable.attrs[BATCH_PARAMETER]
            self.bind_batches(node, Dataset(const_int(size), iterable.batch_node,
                                            size_value=written_constant(size)), env)
        else:
            over_items = self.known_items(node, iterable, env)
            if over_items is not None:
                self.exec_over_items(node, *over_items, env)
                return
            self.bind_unknown(node.target, env)
        saved = self.latches
        self.latches = {**saved, **latches}
        try:
            self.exec_loop_body(node.body, env, node)
        finally:
            self.latches = saved
        if node.orelse is not None:
            self.exec_branch(node.orelse.body, env, ("else", node))

    def known_items(self, node: cst.For, iterable: Value, env: Env
                    ) -> tuple[cst.BaseExpression, ListValue] | None:
        """``for box in feature_maps`` or ``for block in self.blocks`` (also under
        ``enumerate``) over a short list of symbolic tensors or of layers (a list that
        changed: each item it holds, in the order they came), or ``for fn, name in
        [(ResNet50, "resnet"), (MobileNetV2, "mobilenet")]`` over a list display whose
        items hold models or builders: the loop target and the list it takes in turn."""
        target: cst.BaseExpression = node.target
        if is_enumerate(node.iter):
            call = cast(cst.Call, node.iter)
            if not (isinstance(target, (cst.Tuple, cst.List)) and len(target.elements) == 2
                    and call.args):
                return None
            target = target.elements[1].value
            iterable = self.eval(call.args[0].value, env)
        if not isinstance(iterable, ListValue) or not 0 < len(iterable.items) <= UNROLLED_ITEMS:
            return None
        items = iterable.items
        if iterable.maybe_items:
            return None  # (an item appended on one path only may not be there)
        if isinstance(target, cst.Name) and (
                all(isinstance(item, Tensor) and item.symbolic for item in items)
                or all(isinstance(item, Layer) for item in items)):
            return target, iterable
        if not iterable.changed and _names_only(target) and not any(
                kind == "loop" and id(loop) in self.unrolled_loops
                for kind, loop in self.context.path) and all(
                any(self.builds_models(part) for part in flattened(item)) for item in items):
            # (one such loop at a time: nested ones would multiply the replays)
            return target, iterable
        return None

    def builds_models(self, value: Value) -> bool:
        """A model, or what builds one: a class or function of the program, a Keras
        application (``ResNet50``)."""
        if isinstance(value, ModuleRef):
            return self.api.application(value.name) is not None
        return isinstance(value, (Layer, FunctionValue, ClassValue, Partial))

    def exec_over_items(self, node: cst.For, target: cst.BaseExpression, iterable: ListValue,
                        env: Env) -> None:
        """The loop body once per item, in order: each output head built in the loop
        joins the graph with the feature map it was built on; each block of a list runs
        on what the one before gave; each builder of a list builds its model."""
        if not all(isinstance(item, (Tensor, Layer)) for item in iterable.items):
            self.unrolled_loops.add(id(node))
        counter = cast(cst.Tuple, node.target).elements[0].value if is_enumerate(
            node.iter) else None
        if counter is not None and iterable.changed:
            self.bind_unknown(counter, env)
        for index, item in enumerate(iterable.items):
            if counter is not None and not iterable.changed:
                self.assign(counter, Const(index), node.iter, env)
            self.assign(target, item, node.iter, env)
            self.exec_loop_body(node.body, env, node)
            if self.exit is not None:
                return
        if node.orelse is not None:
            self.exec_branch(node.orelse.body, env, ("else", node))

    def bind_batches(self, node: cst.For, batches: Dataset, env: Env) -> None:
        """``for imgs_a, imgs_b in data_loader.load_batch(batch_size)`` or ``for x, y in
        dataset.batch(n)`` (also under ``enumerate``): each array of a batch holds
        ``size`` samples."""
        target: cst.BaseExpression = node.target
        if batches.enumerated or is_enumerate(node.iter) or _is_dataset_enumerate(node.iter):
            if not (isinstance(target, (cst.Tuple, cst.List)) and len(target.elements) == 2):
                self.bind_unknown(target, env)
                return
            self.bind_unknown(target.elements[0].value, env)
            target = target.elements[1].value
        if isinstance(target, cst.Name) and batches.item is not None and (
                batches.batch_size is not None and batches.batch_node is not None):
            # `for data in gen: images = data[0][0]`: each array of the yielded
            # structure, where it sits in it, holds `size` samples
            env.bind(target.value, _batch_of(batches.item, Samples(
                batches.batch_size, batches.batch_node, batches.size_value)))
            return
        parts = ([element.value for element in target.elements]
                 if isinstance(target, (cst.Tuple, cst.List)) else [target])
        for part in parts:
            if isinstance(part, cst.Name) and batches.batch_size is not None and (
                    batches.batch_node is not None):
                env.bind(part.value, Samples(batches.batch_size, batches.batch_node,
                                             batches.size_value))
            else:
                self.bind_unknown(part, env)

    def exec_loop_body(self, suite: cst.BaseSuite, env: Env, node: cst.CSTNode) -> None:
        self.forget_loop_constants(suite, env, node)
        saved = self.context
        self.context = replace(saved, loop_depth=saved.loop_depth + 1,
                               path=saved.path + (("loop", node),))
        try:
            self.exec_suite(suite, env)
        finally:
            self.context = saved
        if self.exit in {"break", "continue"}:
            self.exit = None

    def forget_loop_constants(self, suite: cst.BaseSuite, env: Env, node: cst.CSTNode) -> None:
        """A constant that the loop body assigns is one value before the first
        iteration and maybe another after it (``epoch += 1``): inside the loop, and
        after it, it is unknown."""
        names = self.loop_assignments.get(id(node))
        if names is None:
            names = self.loop_assignments[id(node)] = assigned_names(suite)
        for name in names:
            value = env.lookup(name)
            if isinstance(value, ListValue) and value.items and all(
                    isinstance(item, Tensor) and item.symbolic for item in value.items):
                # feature maps remade each iteration (`feats = bifpn(feats, i)`): which
                # map sits where may change, the graph behind them stays
                env.bind(name, ListValue(value.items, changed=True))
            elif isinstance(value, (Const, ListValue, DictValue)):
                env.bind(name, UNKNOWN)

    def exec_with(self, node: cst.With, env: Env) -> None:
        tapes: list[Tape] = []
        control = scopes = 0
        for item in node.items:
            value = self.eval(item.item, env)
            if isinstance(value, Tape):
                tapes.append(value)
            if isinstance(item.item, cst.Call):
                callee = self.eval(item.item.func, env)
                if isinstance(callee, ModuleRef) and callee.name.endswith("control_dependencies"):
                    control += 1
                if "arg_scope" in (dotted(item.item.func) or "") or isinstance(
                        callee, (FunctionValue, BoundMethod)):
                    scopes += 1  # `slim.arg_scope(...)`, a helper that may return one
            elif not isinstance(value, Tape):
                scopes += 1  # `with sc:` of a scope made before (`sc = slim.arg_scope(...)`)
            if item.asname is not None:
                self.assign(item.asname.name, value, item.item, env)
        saved = self.context
        if tapes:
            self.context = replace(saved, tape=tapes[-1], tapes=saved.tapes + tuple(tapes))
        self.control_dependencies += control
        self.arg_scopes += scopes
        try:
            self.exec_suite(node.body, env)
        finally:
            self.context = saved
            self.control_dependencies -= control
            self.arg_scopes -= scopes

    def define_function(self, node: cst.FunctionDef, env: Env, owner: ClassValue | None) -> None:
        prefix = f"{owner.name}." if owner else ""
        function = FunctionValue(node=node, qualname=prefix + node.name.value, owner=owner)
        if self.foreign_path is not None:  # defined in another module of the project
            function.globals, function.origin = self.globals_env, self.foreign_path
        if owner is None and env is not self.globals_env and env is not self.module_env:
            function.closure = env  # defined inside a function: a closure over its names
        params = node.params
        for param in (*params.posonly_params, *params.params, *params.kwonly_params):
            if param.default is not None:
                function.defaults[param.name.value] = self.eval(param.default, env)
        if self.foreign_path is None:  # only the file's own code is an entry point
            self.functions.append(function)
        if owner is None:
            env.bind(node.name.value, function)
        else:
            owner.methods[node.name.value] = function

    def define_class(self, node: cst.ClassDef, env: Env) -> None:
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
        bn_names = self.api.bn_layers
        derives_bn = any(isinstance(base, ModuleRef) and base.name in bn_names
                         or isinstance(base, ClassValue) and base.batch_norm is not False
                         for base in bases)
        for base in bases:
            if isinstance(base, ClassValue):
                value.methods.update(base.methods)
                value.constants.update(base.constants)
        own_call: cst.FunctionDef | None = None
        for statement in node.body.body if isinstance(node.body, cst.IndentedBlock) else ():
            constant = _class_constant(statement)
            if constant is not None:
                bound = self.eval(constant[1], env)
                if isinstance(bound, Const):
                    value.constants[constant[0]] = bound
                else:
                    value.constants.pop(constant[0], None)
            if isinstance(statement, cst.FunctionDef):
                self.define_function(statement, env, value)
                if statement.name.value == "call":
                    own_call = statement
        if derives_bn:
            value.batch_norm = True if own_call is None or _calls_super_call(own_call) else None
            base_name = _batch_norm_base(bases, bn_names)
            if base_name is not None and self.foreign_path is None:
                # `super().__init__(fused=False, momentum=0.1)` in the class's own
                # `__init__` builds the Keras layer with those arguments, as a
                # `BatchNormalization(...)` call does
                self.model.calls.extend(CallSite(call, base_name, self.context)
                                        for call in _super_constructor_calls(node))
        value.data_sequence = any(
            isinstance(base, ModuleRef) and base.name in DATA_SEQUENCES
            or isinstance(base, ClassValue) and base.data_sequence for base in bases)
        self.model.classes.append(value)
        if self.foreign_path is None:
            self.local_classes.append(value)
        env.bind(node.name.value, value)

    def bind_unknown(self, target: cst.BaseExpression, env: Env) -> None:
        if isinstance(target, cst.Name):
            env.bind(target.value, UNKNOWN)
        elif isinstance(target, (cst.Tuple, cst.List)):
            for element in target.elements:
                self.bind_unknown(element.value, env)

    def assign(self, target: cst.BaseExpression, value: Value, value_node: cst.BaseExpression,
               env: Env) -> None:
        if isinstance(target, cst.Name):
            env.bind(target.value, value)
            if isinstance(value, Layer):
                distance = (0 if self.foreign_path is None else 1,
                            len(self.context.call_sites))
                if not value.label or distance < value.label_distance:
                    # `model_body = get_model(...)`: the user's name, not the builder's
                    value.label, value.label_distance = target.value, distance
        elif isinstance(target, (cst.Tuple, cst.List)):
            items = value.items if isinstance(value, ListValue) else None
            # a list that changed (appended in a loop) has its items at unknown places:
            # each name gets what lies behind every item (`_, _, C3, C4, C5 = features`)
            shared = common_graph(items, value_node) if items is not None and cast(
                ListValue, value).changed else None
            for index, element in enumerate(target.elements):
                item = items[index] if items is not None and index < len(items) else UNKNOWN
                if items is not None and cast(ListValue, value).changed:
                    item = shared if shared is not None else UNKNOWN
                if items is None and isinstance(value, (Tensor, Samples)):
                    # `valid, label = discriminator(img)`: outputs of one call; `X, Y =
                    # next(batches)`: the arrays of one batch
                    item = value
                self.assign(element.value, item, value_node, env)
        elif isinstance(target, cst.Attribute):
            owner = self.eval(target.value, env)
            if isinstance(value, Layer) and not value.label and isinstance(owner, (Layer,
                                                                                 Instance)):
                value.label = dotted(target) or ""  # `self.bn`
            self.assign_attribute(owner, target, value, value_node)
        elif isinstance(target, cst.Subscript):
            owner = self.eval(target.value, env)
            if isinstance(owner, DictValue):
                self.assign_entry(owner, target, value, env)
            elif isinstance(owner, ListValue):
                owner.changed = True
            elif isinstance(target.value, cst.Subscript):
                # `cfg[section][key] = v` under a key bnlint cannot read: any dict
                # nested in `cfg` may change
                root: cst.BaseExpression = target.value
                while isinstance(root, cst.Subscript):
                    root = root.value
                _open_nested(self.eval(root, env))
            if isinstance(owner, ModuleRef) and owner.name == "os.environ" and len(
                    target.slice) == 1 and isinstance(target.slice[0].slice, cst.Index):
                key = self.eval(target.slice[0].slice.value, env)
                self.note_environment(value_node, [key, value])

    def assign_entry(self, owner: DictValue, target: cst.Subscript, value: Value,
                     env: Env) -> None:
        """``builders["resnet"] = build_resnet``: the entry changes; on one path only, or
        under a key that is not a constant, the dict may hold anything."""
        inner = target.slice[0].slice if len(target.slice) == 1 else None
        key = self.eval(inner.value, env) if isinstance(inner, cst.Index) else UNKNOWN
        if self.conditional() or not is_constant_key(key):
            owner.open = True
            return
        assert isinstance(key, Const)
        owner.entries[key.value] = value

    def assign_attribute(self, owner: Value, target: cst.Attribute, value: Value,
                         value_node: cst.BaseExpression) -> None:
        attr = target.attr.value
        latch = self.latches.get(value_node.value) if isinstance(value_node, cst.Name) else None
        if (attr == "trainable" and latch is not None and isinstance(owner, LayerSelection)
                and owner.element and owner.anchor == "none" and owner.extent != "one"
                and isinstance(target.value, cst.Name) and target.value.value == latch[1]):
            # `layer.trainable = set_trainable`: the flag's first value on the leading
            # layers, the other one from the layer where it flips
            initial = latch[0]
            for anchor, flag in (("head", initial), ("tail", not initial)):
                part = replace(owner, extent="slice", members=None, bounds=None,
                               anchor=anchor)  # type: ignore[arg-type]
                self.set_trainable(part, target, Const(flag), value_node)
            return
        if attr == "trainable":
            self.set_trainable(owner, target, value, value_node)
            return
        if attr in {"learning_rate", "lr"} and isinstance(owner, Optimizer):
            self.record_set_lr(owner, target, value)
            return
        if isinstance(owner, (Layer, LayerSelection, ModuleRef)):
            self.record(Event("set_attr", target, owner, self.context, attr=attr, value=value,
                              value_node=value_node))
        if isinstance(owner, (Layer, Instance)) and self.conditional(
                owner.made_under if isinstance(owner, Instance) else ()) and (
                owner.attrs.get(attr) is not value):
            # set on one path only: the attribute may hold this or what it held before
            if isinstance(owner, Layer):
                owner.will_change()
            owner.attrs[attr] = UNKNOWN
            if isinstance(owner, Layer) and isinstance(value, Layer) and value is not owner:
                if value.contains_bn() is not False:
                    owner.has_bn = None
                if value.contains_dropout() is not False:
                    owner.has_dropout = None
            return
        if isinstance(owner, Layer):
            owner.will_change()
            owner.attrs[attr] = value
            if isinstance(value, Layer) and value is not owner and not attr.startswith("__"):
                owner.children = [w for w in owner.children if w.child is not value]
                owner.children.append(Wiring(value, "attribute", "absent", target))
            elif isinstance(value, ListValue) and not attr.startswith("__"):
                track_layers(owner, value, target)  # `self.blocks = [...]`
        if isinstance(owner, ParsedArguments):
            owner.attrs[attr] = UNKNOWN if self.conditional() else value
        if isinstance(owner, DictValue) and owner.attributes:
            if self.conditional():
                owner.open = True  # `cfg.TRAIN.BATCH_SIZE = 4` on one path only
            else:
                owner.entries[attr] = value
        if isinstance(owner, ClassValue) and (attr in owner.constants or isinstance(
                value, Const)):
            # `Config.batch_size = 4`: what the class (and instances that did not set
            # it) read from now on
            owner.constants[attr] = UNKNOWN if self.conditional() else value
        if isinstance(owner, Instance):
            owner.attrs[attr] = value
            if attr == BATCH_PARAMETER and owner.owner.data_sequence and (
                    self.foreign_path is None):
                owner.batch_node = target  # `train_loader.batch_size = 4`

    def conditional(self, since: tuple[object, ...] = ()) -> bool:
        """Is the current statement inside a branch (``if``/``else``/``except``) that may
        not run? (A function replayed on its own is not a branch: its body runs when it
        is called; nor is the arm of an ``if`` this path decided.) With ``since``, the
        path an object was made under: only branches entered after it count (an object
        made in an arm exists only where that arm ran)."""
        path = self.context.path
        if since and path[:len(since)] == since:
            path = path[len(since):]
        return any(step[0] in {"if", "else", "except"} and id(step) not in self.decided_steps
                   for step in path)



def _class_constant(statement: cst.BaseStatement) -> tuple[str, cst.BaseExpression] | None:
    """``batch_size = 2`` in a class body: the name and a value made of literals only
    (evaluating it runs nothing)."""
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return None
    small = statement.body[0]
    if isinstance(small, cst.Assign) and len(small.targets) == 1:
        target, value = small.targets[0].target, small.value
    elif isinstance(small, cst.AnnAssign) and small.value is not None:
        target, value = small.target, small.value
    else:
        return None
    if not isinstance(target, cst.Name) or not _literal(value):
        return None
    return target.value, value


def _literal(node: cst.BaseExpression) -> bool:
    if isinstance(node, (cst.Integer, cst.Float, cst.SimpleString)):
        return True
    if isinstance(node, cst.Name):
        return node.value in {"True", "False", "None"}
    if isinstance(node, cst.UnaryOperation):
        return _literal(node.expression)
    if isinstance(node, cst.BinaryOperation):
        return _literal(node.left) and _literal(node.right)
    return False


def _names_only(target: cst.BaseExpression) -> bool:
    """``name`` or ``(a, b)`` / ``[a, (b, c)]`` of names: a target an item unpacks into."""
    if isinstance(target, cst.Name):
        return True
    return isinstance(target, (cst.Tuple, cst.List)) and all(
        not isinstance(element, cst.StarredElement) and _names_only(element.value)
        for element in target.elements)


def _is_dataset_enumerate(node: cst.BaseExpression) -> bool:
    """``dataset.enumerate()``: (step, element) pairs."""
    return (isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute)
            and node.func.attr.value == "enumerate")


def _open_nested(value: Value) -> None:
    """Every dict inside ``value`` (itself included) may now hold anything."""
    pending, seen = [value], set()
    while pending:
        item = pending.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, DictValue):
            item.open = True
            pending.extend(item.entries.values())
        elif isinstance(item, ListValue):
            pending.extend(item.items)


def _read_names(test: cst.BaseExpression) -> list[str] | None:
    """The names and attribute chains a test reads (``use_bn``, ``self.momentum``);
    None when it calls something (a call may give another answer each time)."""
    names: list[str] = []
    for node in walk(test):
        if isinstance(node, cst.Call):
            return None
    pending: list[cst.CSTNode] = [test]
    while pending:
        node = pending.pop()
        written = dotted(node) if isinstance(node, (cst.Name, cst.Attribute)) else None
        if written is not None:
            names.append(written)
            continue
        pending.extend(node.children)
    return names


def _rebound(name: str, rebound: frozenset[str]) -> bool:
    """Is ``name`` (``self.cfg.bn``) or what it is read from (``self``, ``self.cfg``)
    bound anew by the loop?"""
    parts = name.split(".")
    return any(".".join(parts[:end]) in rebound for end in range(1, len(parts) + 1))


def _latches(body: cst.BaseSuite, env: Env) -> dict[str, bool]:
    """Names bound to a bool constant before a loop that the loop body only ever sets to
    the other constant (``set_trainable = True``): once flipped, they stay flipped for
    the rest of the loop. Maps each to its value before the loop."""
    assigned: dict[str, set[object]] = {}

    class Finder(cst.CSTVisitor):
        def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
            return False

        def visit_ClassDef(self, node: cst.ClassDef) -> bool:
            return False

        def visit_Assign(self, node: cst.Assign) -> None:
            for target in node.targets:
                if isinstance(target.target, cst.Name):
                    value = node.value
                    flag = (value.value == "True" if isinstance(value, cst.Name)
                            and value.value in {"True", "False"} else None)
                    assigned.setdefault(target.target.value, set()).add(flag)
                else:
                    for name in _bound_names(target.target):
                        assigned.setdefault(name, set()).add(None)

        def visit_AugAssign(self, node: cst.AugAssign) -> None:
            for name in _bound_names(node.target):
                assigned.setdefault(name, set()).add(None)

        def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
            for name in _bound_names(node.target):
                assigned.setdefault(name, set()).add(None)

        def visit_For(self, node: cst.For) -> None:
            for name in _bound_names(node.target):
                assigned.setdefault(name, set()).add(None)

        def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
            for name in _bound_names(node.target):
                assigned.setdefault(name, set()).add(None)

        def visit_Global(self, node: cst.Global) -> None:
            for item in node.names:
                assigned.setdefault(item.name.value, set()).add(None)

        def visit_Nonlocal(self, node: cst.Nonlocal) -> None:
            for item in node.names:
                assigned.setdefault(item.name.value, set()).add(None)

    run_visitor(Finder(), body)
    found: dict[str, bool] = {}
    for name, values in assigned.items():
        before = env.lookup(name)
        if not (isinstance(before, Const) and isinstance(before.value, bool)):
            continue
        if values == {not before.value}:
            found[name] = before.value
    return found


def _bound_names(target: cst.CSTNode) -> list[str]:
    if isinstance(target, cst.Name):
        return [target.value]
    if isinstance(target, (cst.Tuple, cst.List)):
        return [name for element in target.elements for name in _bound_names(element.value)]
    if isinstance(target, cst.StarredElement):
        return _bound_names(target.value)
    return []


# The method that replays each kind of statement; other kinds (`pass`, `del`, `match`...)
# do nothing. Looked up by the node's exact type (none of these classes has subclasses):
# a dict lookup costs far less than isinstance against libcst's ABCs.
_EXECUTORS = {
    "SimpleStatementLine": "exec_line", "Import": "exec_import", "ImportFrom": "exec_import",
    "Assign": "exec_assign", "AnnAssign": "exec_ann_assign", "AugAssign": "exec_aug_assign",
    "Expr": "exec_expr", "Return": "exec_return", "Break": "exec_break",
    "Continue": "exec_continue", "Global": "exec_global", "Raise": "exec_raise",
    "Assert": "exec_assert", "If": "exec_if", "For": "exec_for", "While": "exec_while",
    "With": "exec_with", "Try": "exec_try", "FunctionDef": "exec_function_def",
    "ClassDef": "define_class",
}
_TABLES: dict[type, dict[type, Callable[..., None]]] = {}


def _executors(replay: type) -> dict[type, Callable[..., None]]:
    """Node type to the replaying method of the ``replay`` class."""
    table = _TABLES.get(replay)
    if table is None:
        table = _TABLES[replay] = {
            getattr(cst, kind): getattr(replay, method) for kind, method in _EXECUTORS.items()}
    return table


def _batch_norm_base(bases: tuple[Value, ...], bn_names: frozenset[str]) -> str | None:
    """The Keras batch-norm class a class derives from, through the project's own
    subclasses of it."""
    for base in bases:
        if isinstance(base, ModuleRef) and base.name in bn_names:
            return base.name
        if isinstance(base, ClassValue):
            found = _batch_norm_base(base.bases, bn_names)
            if found is not None:
                return found
    return None


def _super_constructor_calls(node: cst.ClassDef) -> list[cst.Call]:
    """The ``super().__init__(...)`` (or ``super(Cls, self).__init__(...)``) calls of
    the class's own ``__init__``."""
    found: list[cst.Call] = []
    for statement in node.body.body if isinstance(node.body, cst.IndentedBlock) else ():
        if not (isinstance(statement, cst.FunctionDef) and statement.name.value == "__init__"):
            continue
        for inner in walk(statement):
            if (isinstance(inner, cst.Call) and isinstance(inner.func, cst.Attribute)
                    and inner.func.attr.value == "__init__"
                    and isinstance(inner.func.value, cst.Call)
                    and isinstance(inner.func.value.func, cst.Name)
                    and inner.func.value.func.value == "super"):
                found.append(inner)
    return found


def _calls_super_call(function: cst.FunctionDef) -> bool:
    """Does ``function`` run ``super().call(...)`` (the parent class's computation)?"""
    for node in walk(function):
        if (isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute)
                and node.func.attr.value == "call" and isinstance(node.func.value, cst.Call)
                and isinstance(node.func.value.func, cst.Name)
                and node.func.value.func.value == "super"):
            return True
    return False


def _batch_of(item: ListValue, samples: Samples) -> ListValue:
    """A batch shaped like the generator's ``item``: every non-list entry is an array of
    ``samples``."""
    return ListValue(tuple(_batch_of(entry, samples) if isinstance(entry, ListValue)
                           else samples for entry in item.items))
