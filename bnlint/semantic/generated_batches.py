"""What a call of the project's own data code gives: a generator function's batches
(of the ``batch_size`` it was called with, or its instance's), where the code sets
that size (the argument of the outermost call that passes it), and the batches a
function returns when it hands a generator on."""

from __future__ import annotations

from dataclasses import replace
from typing import cast

import libcst as cst

from bnlint.semantic.replay import (
    BATCH_PARAMETER,
    BATCH_PARAMETERS,
    Env,
    const_int,
)
from bnlint.semantic.syntax import parameter_names
from bnlint.semantic.values import (
    UNKNOWN,
    Const,
    Dataset,
    FunctionValue,
    Instance,
    ListValue,
    Samples,
    Value,
    written_constant,
)


def batches_set_at(value: Value, function: FunctionValue, site: cst.Call | None,
                   env: Env) -> Value:
    """The batches a function returns (the project's generator, ``data_generator(lines,
    batch_size=2)``, or a ``tf.data`` pipeline, ``tf_dataset(x, y, batch=2)``, or a
    wrapper of either) are set by the argument of the outermost call that passes the
    size on: that is where the user acts. The parameter is the one that holds the
    very number the batches were made of, else one named like a batch size. A tuple of
    them (``return train_gen, val_gen``) is read item by item."""
    if isinstance(value, ListValue) and any(isinstance(item, (Dataset, Instance))
                                            for item in value.items):
        return replace(value, items=tuple(batches_set_at(item, function, site, env)
                                          for item in value.items))
    if isinstance(value, Instance) and value.batch_node is not None and site is not None and (
            isinstance(function.node, cst.FunctionDef)):
        # `flow_from_directory(..., batch_size=bs)` returning the project's iterator
        # built with that `bs`: the size is set by the argument this call passes
        name = _parameter_holding(function, env, value.attrs.get(BATCH_PARAMETER))
        argument = argument_for(site, function, name, method=function.owner is not None) if (
            name is not None) else None
        if argument is not None:
            value.batch_node = argument
        return value
    if not (isinstance(value, Dataset) and site is not None and value.batch_size is not None
            and isinstance(function.node, cst.FunctionDef)):
        return value
    held = value.size_value
    name = _parameter_holding(function, env, held)
    if name is None and value.from_generator:
        name = _batch_parameter(function)
    if name is None:
        argument = _spread_argument(site, function, env, held)
        return replace(value, batch_node=argument) if argument is not None else value
    argument = argument_for(site, function, name, method=function.owner is not None)
    return replace(value, batch_node=argument) if argument is not None else value


def _parameter_holding(function: FunctionValue, env: Env, held: Value | None) -> str | None:
    """The parameter of ``function`` (replayed in ``env``) bound to the very value
    ``held``: the one a caller's argument passed the batch size through."""
    if held is None:
        return None
    return next((name for name in sorted(parameter_names(cast(cst.FunctionDef, function.node)))
                 if env.names.get(name) is held), None)


def _spread_argument(site: cst.Call, function: FunctionValue, env: Env,
                     held: Const | None) -> cst.Arg | None:
    """The argument of ``site`` that ``function`` gathered into its ``*args`` and that
    holds ``held`` (``get_dataset(path, option, *args)`` handing its ``batch_size`` on
    by position)."""
    params = cast(cst.FunctionDef, function.node).params
    star = params.star_arg
    gathered = env.names.get(star.name.value) if isinstance(star, cst.Param) else None
    if held is None or not isinstance(gathered, ListValue):
        return None
    index = next((i for i, item in enumerate(gathered.items) if item is held), None)
    named = len(params.posonly_params) + len(params.params) - (
        1 if function.owner is not None else 0)
    positional = [arg for arg in site.args if arg.keyword is None]
    if index is None or any(arg.star for arg in positional[:named + index + 1]):
        return None
    return positional[named + index] if named + index < len(positional) else None


def _batch_parameter(function: FunctionValue) -> str | None:
    """The parameter of ``function`` that sets its batch size, by name."""
    if not isinstance(function.node, cst.FunctionDef):
        return None
    found = sorted(parameter_names(function.node) & BATCH_PARAMETERS)
    return found[0] if found else None


def argument_for(call: cst.Call, function: FunctionValue | None,
                 name: str, method: bool = True) -> cst.Arg | None:
    """The argument of ``call`` that fills ``function``'s parameter ``name`` (a method:
    ``self`` is not passed)."""
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == name:
            return arg
    if function is None or not isinstance(function.node, cst.FunctionDef):
        return None
    params = function.node.params
    names = [param.name.value for param in (*params.posonly_params, *params.params)]
    names = names[1:] if method else names
    positional = [arg for arg in call.args if arg.keyword is None]
    if any(arg.star for arg in positional) or name not in names:
        return None
    index = names.index(name)
    return positional[index] if index < len(positional) else None


def generated_batches(env: Env, site: cst.Call | None, function: FunctionValue) -> Value:
    """A call of a generator function (``def data_generator(lines, batch_size): ...
    yield``) gives its batches: of the ``batch_size`` it was called with, when known;
    a generator method without such a parameter, of its instance's ``batch_size``."""
    name = _batch_parameter(function)
    owner = env.names.get("self")
    if name is not None:
        given = env.names.get(name, UNKNOWN)
    elif isinstance(owner, Instance):
        given = owner.attrs.get(BATCH_PARAMETER, UNKNOWN)
    else:
        given = UNKNOWN
    size = const_int(given)
    if size is None or size < 1:
        return _yielded_samples(env.yields, site)
    where: cst.CSTNode | None = site
    if name is None and isinstance(owner, Instance) and isinstance(owner.node, cst.Call):
        # `DataGenerator(lines, batch_size=2).data_generate()`: the constructor's
        # argument sets the size
        where = owner.batch_node or argument_for(
            owner.node, owner.owner.methods.get("__init__"), BATCH_PARAMETER) or site
    return Dataset(size, where, from_generator=True, size_value=written_constant(given),
                   item=_yielded_item(env.yields))


def _yielded_item(yields: list[Value]) -> ListValue | None:
    """The nesting of lists and tuples that every ``yield`` of a generator gives, when
    they agree (None otherwise, or when it yields something else)."""
    def nesting(value: Value) -> object:
        if isinstance(value, ListValue) and not value.changed:
            return tuple(nesting(item) for item in value.items)
        return None

    shapes = {repr(nesting(value)) for value in yields}
    first = yields[0] if yields else None
    if len(shapes) != 1 or not isinstance(first, ListValue) or first.changed:
        return None
    return first


def _yielded_samples(yields: list[Value], site: cst.Call | None) -> Value:
    """A generator whose every ``yield`` gives inputs of one known number of samples
    (``yield data[np.newaxis, ...], label``): batches of that many."""
    counts: set[int] = set()
    first: Samples | None = None
    for value in yields:
        inputs = value.items[0] if isinstance(value, ListValue) and value.items else value
        if not isinstance(inputs, Samples):
            return UNKNOWN
        counts.add(inputs.count)
        first = first or inputs
    if first is None or len(counts) != 1:
        return UNKNOWN
    written = first.size_value or Const(first.count, first.node)  # `[np.newaxis]` sets it
    return Dataset(first.count, first.node, from_generator=True, size_value=written)
