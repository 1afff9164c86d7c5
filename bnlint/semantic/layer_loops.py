"""Loops over a model's layers: which of the layers each arm of an ``if`` in the loop
body stands for. ``isinstance(layer, BatchNormalization)`` narrows the loop variable to
the batch-norm layers (or the others); a flag that flips once (``if layer.name ==
"block5_conv1": set_trainable = True``) splits the layers into a head and a tail; and
``if i < fine_tune_at:`` on the counter of ``enumerate(base.layers)`` splits them at a
known position, as ``base.layers[:fine_tune_at]`` would."""

from __future__ import annotations

from dataclasses import replace
from typing import Literal, cast

import libcst as cst

from bnlint.semantic.events import PathKind
from bnlint.semantic.replay import PROGRESS_BARS, Env, Exit, ReplayBase, const_int
from bnlint.semantic.syntax import plain_reference
from bnlint.semantic.trainability import select_layers
from bnlint.semantic.values import (
    LayerCount,
    LayerIndex,
    LayerSelection,
    ListValue,
    ModuleRef,
    Value,
    join_names,
)

# `100 > i` is `i < 100`
_MIRRORED: dict[type[cst.BaseCompOp], cst.BaseCompOp] = {
    cst.GreaterThan: cst.LessThan(), cst.LessThan: cst.GreaterThan(),
    cst.GreaterThanEqual: cst.LessThanEqual(), cst.LessThanEqual: cst.GreaterThanEqual(),
}


class LayerLoopReplay(ReplayBase):
    def exec_joined(self, node: cst.If, env: Env, guard: tuple[str, bool] | None) -> None:
        raise NotImplementedError

    def exec_branch(self, suite: cst.BaseSuite, env: Env,
                    step: tuple[PathKind, cst.CSTNode] | None = None) -> Exit | None:
        raise NotImplementedError

    def position_test(self, test: cst.BaseExpression, env: Env
                      ) -> tuple[str, LayerSelection, bool, int] | None:
        """``if i < fine_tune_at:`` in ``for i, layer in enumerate(base.layers)``, with a
        known bound: (loop variable, its selection, True when the body runs on the
        layers from the bound on, the bound as a slice index: ``fine_tune_at``, or
        ``-n`` for ``len(base.layers) - n``)."""
        negated = False
        while isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
            negated, test = not negated, test.expression
        if not (isinstance(test, cst.Comparison) and len(test.comparisons) == 1):
            return None
        operator = test.comparisons[0].operator
        counter, written = test.left, test.comparisons[0].comparator
        if not isinstance(counter, cst.Name) and isinstance(written, cst.Name):
            # `100 > i` is `i < 100`
            counter, written = written, counter
            operator = _MIRRORED.get(type(operator), operator)
        if not isinstance(counter, cst.Name):
            return None
        index = env.lookup(counter.value)
        if not isinstance(index, LayerIndex) or index.element is None:
            return None
        selection = env.lookup(index.element)
        if not (isinstance(selection, LayerSelection) and selection.element
                and selection.container is index.container and selection.extent == "all"
                and selection.guard == "none" and selection.anchor == "none"):
            return None
        bound = self.eval(written, env)
        known = const_int(bound)
        # the counter of `enumerate(layers, 1)` is one more than the layer's position
        if isinstance(bound, LayerCount) and bound.container is index.container and (
                bound.offset - index.counted_from < 0):
            stop = bound.offset - index.counted_from
        elif known is not None and known >= 0:
            stop = max(known - index.counted_from, 0)  # (a counter past the bound: none)
        else:
            return None
        if isinstance(operator, (cst.LessThan, cst.GreaterThanEqual)):
            tail = isinstance(operator, cst.GreaterThanEqual)
        elif isinstance(operator, (cst.LessThanEqual, cst.GreaterThan)) and stop != -1:
            tail, stop = isinstance(operator, cst.GreaterThan), stop + 1
        else:
            return None
        return index.element, selection, tail != negated, stop

    def exec_split(self, node: cst.If, env: Env, variable: str, selection: LayerSelection,
                   body_on_tail: bool, stop: int) -> None:
        """The two arms of ``if i < fine_tune_at:``: one runs on the layers before the
        bound, the other on the rest, each as ``layers[:bound]`` / ``layers[bound:]``
        would select them, so each is definite."""
        def part(tail: bool) -> LayerSelection:
            bounds = (stop, None) if tail else (None, stop)
            written = cst.Name("bound")  # (its value is in `bounds`)
            selected = select_layers(selection, cst.Slice(
                lower=written if tail else None, upper=None if tail else written),
                cast(cst.Subscript, selection.node), None, bounds)
            assert isinstance(selected, LayerSelection)
            return replace(selected, element=True, bounds=bounds)

        self.exec_parts(node, env, variable, selection, part(body_on_tail),
                        part(not body_on_tail))

    def latch_test(self, test: cst.BaseExpression,
                   env: Env) -> tuple[str, LayerSelection, bool] | None:
        """``if set_trainable:`` on a flag of the enclosing layer loop that flips once:
        (loop variable, its selection, True when the body runs on the trailing part)."""
        positive = True
        while isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
            positive = not positive
            test = test.expression
        if not isinstance(test, cst.Name) or test.value not in self.latches:
            return None
        initial, variable = self.latches[test.value]
        selection = env.lookup(variable)
        if not isinstance(selection, LayerSelection) or not selection.element:
            return None
        if selection.anchor != "none" or selection.extent == "one":
            return None
        # the flag holds its first value on the leading layers, the other on the rest
        return variable, selection, positive != initial

    def exec_latched(self, node: cst.If, env: Env, variable: str, selection: LayerSelection,
                     body_on_tail: bool) -> None:
        """The two arms of ``if set_trainable:`` inside ``for layer in base.layers``: one
        runs on the layers before the one where the flag flips, the other on the rest.
        Each is a selection of layers (their boundary unknown), so each is definite."""
        if isinstance(node.orelse, cst.If):
            self.exec_joined(node, env, None)
            return
        head = replace(selection, extent="slice", members=None, bounds=None, anchor="head")
        tail = replace(head, anchor="tail")
        self.exec_parts(node, env, variable, selection, *(
            (tail, head) if body_on_tail else (head, tail)))

    def exec_parts(self, node: cst.If, env: Env, variable: str, selection: LayerSelection,
                   body_part: LayerSelection, else_part: LayerSelection) -> None:
        """Each arm of ``node`` (no ``elif``) with the loop variable standing for its
        part of the layers; the names the arms bind are joined. An arm that leaves the
        loop body (``continue``, ``break``, ``return``) leaves the rest of the body to the
        other part: after ``if i < n: continue``, the loop variable is ``layers[n:]``."""
        arms: list[tuple[cst.BaseSuite | None, LayerSelection, PathKind]] = [
            (node.body, body_part, "if"),
            (node.orelse.body if isinstance(node.orelse, cst.Else) else None, else_part,
             "else"),
        ]
        before = dict(env.names)
        results: list[dict[str, Value]] = []
        exits: list[Exit | None] = []
        for suite, part, kind in arms:
            env.names = dict(before)
            if suite is not None:
                env.bind(variable, part)
                saved = self.context
                self.context = replace(saved, path=saved.path + ((kind, node),))
                try:
                    self.exec_suite(suite, env)
                finally:
                    self.context = saved
                    env.bind(variable, selection)
            exits.append(self.exit)
            self.exit = None
            results.append(dict(env.names))
        if exits[0] is not None and exits[1] is not None:
            # neither arm reaches the rest of the body
            self.exit = "continue" if "continue" in exits else exits[0]
            env.names = join_names(before, results[0], results[1])
        elif exits[0] is not None or exits[1] is not None:
            staying = 1 if exits[0] is not None else 0
            env.names = results[staying]
            env.bind(variable, (body_part, else_part)[staying])
        else:
            env.names = join_names(before, results[0], results[1])

    def exec_guarded(self, suite: cst.BaseSuite, env: Env, name: str, bn: bool,
                     step: tuple[PathKind, cst.CSTNode]) -> Exit | None:
        """Run a branch where an isinstance/name check narrows a layer loop variable.
        The narrowing is a selection of layers, so the branch counts as definite."""
        selection = env.lookup(name)
        if not isinstance(selection, LayerSelection):
            return self.exec_branch(suite, env, step)
        guard: Literal["bn", "not_bn"] = "bn" if bn else "not_bn"
        if selection.guard != "none" and selection.guard != guard:
            return None  # contradictory narrowing: the branch selects nothing
        env.bind(name, replace(selection, guard=guard))
        saved = self.context
        self.context = replace(saved, path=saved.path + (step,))
        try:
            self.exec_suite(suite, env)
        finally:
            self.context = saved
            env.bind(name, selection)
        ended, self.exit = self.exit, None
        return ended

    def narrow(self, env: Env, name: str, bn: bool) -> None:
        """From here on, the loop variable ``name`` stands for the BN layers of its
        selection only (or only the others)."""
        selection = env.lookup(name)
        if isinstance(selection, LayerSelection) and selection.guard == "none":
            env.bind(name, replace(selection, guard="bn" if bn else "not_bn"))

    def isinstance_guard(self, test: cst.BaseExpression, env: Env) -> tuple[str, bool] | None:
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

    def enumerated_layers(self, node: cst.For, env: Env
                          ) -> tuple[cst.Name, cst.Name, LayerSelection, int] | None:
        """``for i, layer in enumerate(model.layers)`` (``enumerate(model.layers, 1)``,
        inside a progress bar too): the counter, the loop variable, the layers it runs
        over and the counter's first value."""
        target = node.target
        call = _without_progress_bar(node.iter)
        if not (is_enumerate(call) and isinstance(target, (cst.Tuple, cst.List))
                and len(target.elements) == 2):
            return None
        assert isinstance(call, cst.Call)
        counter, element = (item.value for item in target.elements)
        if not (isinstance(counter, cst.Name) and isinstance(element, cst.Name)
                and call.args and call.args[0].keyword is None and not any(
                    arg.star for arg in call.args)):
            return None
        first = 0
        if len(call.args) == 2 and (call.args[1].keyword is None
                                    or call.args[1].keyword.value == "start"):
            start = const_int(self.eval(call.args[1].value, env))
            if start is None:
                return None
            first = start
        elif len(call.args) != 1:
            return None
        if not plain_reference(call.args[0].value):
            return None  # (evaluated once already, as the loop's iterable: not again)
        layers = self.eval(call.args[0].value, env)
        if isinstance(layers, LayerSelection) and not layers.element:
            return counter, element, layers, first
        return None


def is_enumerate(node: cst.BaseExpression) -> bool:
    """``enumerate(...)``, also inside a progress bar."""
    node = _without_progress_bar(node)
    return (isinstance(node, cst.Call) and isinstance(node.func, cst.Name)
            and node.func.value == "enumerate")


def _without_progress_bar(node: cst.BaseExpression) -> cst.BaseExpression:
    """``tqdm(enumerate(loader))`` yields what it wraps: ``enumerate(loader)``."""
    if isinstance(node, cst.Call) and node.args and node.args[0].keyword is None and (
            isinstance(node.func, cst.Name) and node.func.value in PROGRESS_BARS
            or isinstance(node.func, cst.Attribute) and node.func.attr.value in PROGRESS_BARS):
        return node.args[0].value
    return node
