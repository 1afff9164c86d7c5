"""Calls and summaries: which callee a call reaches, user functions replayed at their
call sites with their arguments bound, classes instantiated, unknown callees havocked."""

from __future__ import annotations

import os
from dataclasses import replace
from typing import cast

import libcst as cst

from bnlint.semantic.events import Event
from bnlint.semantic.generated_batches import argument_for, batches_set_at, generated_batches
from bnlint.semantic.keras_effects import sized_data
from bnlint.semantic.lookups import IMPORTERS
from bnlint.semantic.model import CallSite
from bnlint.semantic.names import canonical
from bnlint.semantic.replay import (
    BATCH_PARAMETER,
    BUILTINS_NO_EFFECT,
    GENERATOR_FLOWS,
    KERAS_ITERATOR,
    MAX_FOLDED,
    MAX_INLINE_DEPTH,
    MAX_RECURSION_DEPTH,
    MAX_RECURSIONS,
    REBATCHING_DATASET_METHODS,
    RESTRUCTURING_DATASET_METHODS,
    SPREAD,
    BoundMethod,
    Env,
    ReplayBase,
    const_int,
    const_number,
)
from bnlint.semantic.settings_sources import (
    JSON_LOADERS,
    PARSER_CLASSES,
    YAML_LOADERS,
    flag_definition,
    load_settings,
    parser_method,
    settings_file,
)
from bnlint.semantic.syntax import (
    dotted,
    is_generator,
    keyword,
    nested_functions,
    parameter_names,
    source_texts,
)
from bnlint.semantic.trainability import apply_to_layer
from bnlint.semantic.values import (
    ATTRIBUTE_DICTS,
    READING_DICT_METHODS,
    READING_LIST_METHODS,
    UNKNOWN,
    ArgumentParser,
    ClassValue,
    Const,
    DataGenerator,
    Dataset,
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
    OpenedFile,
    OptimizerAttr,
    Partial,
    ProjectModule,
    Samples,
    Tape,
    Tensor,
    Unknown,
    Value,
    Variables,
    common_graph,
    flattened,
    is_constant_key,
    merge_tensors,
    track_layers,
    written_constant,
)
from bnlint.semantic.walk import run_visitor

# Arrays made from a shape: the keyword naming it (None: the dimensions are the
# arguments themselves) and its position.
FILLED_ARRAYS: dict[str, tuple[str | None, int]] = {
    "numpy.zeros": ("shape", 0), "numpy.ones": ("shape", 0), "numpy.empty": ("shape", 0),
    "numpy.full": ("shape", 0), "numpy.random.normal": ("size", 2),
    "numpy.random.uniform": ("size", 2), "numpy.random.randn": (None, 0),
    "numpy.random.rand": (None, 0), "numpy.random.random": ("size", 0),
    "numpy.random.random_sample": ("size", 0), "numpy.random.randint": ("size", 2),
}


class CallReplay(ReplayBase):
    def looping(self) -> bool:
        """Is the replay inside a loop, here or in a caller?"""
        return any(kind == "loop" for kind, _ in self.context.path)

    def eval_call(self, node: cst.Call, env: Env) -> Value:
        if isinstance(node.func, cst.Name) and node.func.value in _BUILTINS and (
                env.lookup(node.func.value) is None):
            args, kwargs = self.eval_arguments(node, env)
            return _builtin(node.func.value, args, kwargs, self.looping())
        if _is_super(node.func) and env.lookup("super") is None:
            # `super()` / `super(Cls, self)`: the instance's own parent class, not a
            # callee that may change `self`
            return UNKNOWN
        inherited = self.inherited_method(node, env) if isinstance(
            self.current_self, Layer) else None
        if inherited is not None:
            # `super().__init__(z_dim, M=8)` of a model subclass whose parent class of
            # the project builds the layers: that method runs on the same model
            args, kwargs = self.eval_arguments(node, env, hands_on=True)
            result = self.call_function(inherited[0], args, kwargs, inherited[1], site=node)
            trainable = kwargs.get("trainable")
            if (isinstance(inherited[1], Layer)
                    and inherited[0].qualname.rsplit(".", 1)[-1] == "__init__"
                    and isinstance(trainable, Const) and isinstance(trainable.value, bool)):
                # `super().__init__(trainable=False, **kwargs)`: the parent hands the
                # flag on to Keras (`super().__init__(**kwargs)`), which builds the
                # layer with it
                apply_to_layer(inherited[1], trainable.value, definite=True)
            return result
        if (isinstance(node.func, cst.Attribute) and node.func.attr.value == "__init__"
                and _is_super(node.func.value) and self.current_method == "__init__"
                and isinstance(self.current_self, Layer) and self.current_self.is_model):
            # a subclass of Model that builds a functional graph in its `__init__`
            args, kwargs = self.eval_arguments(node, env)
            self.wire_graph(self.current_self, args, kwargs)
            return UNKNOWN
        if (isinstance(node.func, cst.Attribute) and node.func.attr.value == "__init__"
                and _is_super(node.func.value) and self.current_method == "__init__"
                and isinstance(self.current_self, Layer) and keyword(node, "trainable")):
            # `super().__init__(trainable=False, **kwargs)` of a layer subclass builds
            # the layer with that flag, as `BatchNormalization(trainable=False)` does
            args, kwargs = self.eval_arguments(node, env)
            trainable = kwargs.get("trainable")
            flag = trainable.value if isinstance(trainable, Const) else None
            apply_to_layer(self.current_self, flag if isinstance(flag, bool) else None,
                           definite=True)
            return UNKNOWN
        instance = env.lookup("self") if (
            isinstance(node.func, cst.Attribute) and node.func.attr.value == "__init__"
            and _is_super(node.func.value)) else None
        if (isinstance(instance, Instance) and (self.context.function or "").endswith("__init__")
                and _iterates_batches(instance.owner)):
            # `super().__init__(n, batch_size, shuffle, seed)` of Keras's image Iterator
            args, kwargs = self.eval_arguments(node, env)
            size = kwargs.get(BATCH_PARAMETER, args[1] if len(args) > 1 else None)
            if size is not None and BATCH_PARAMETER not in instance.attrs:
                instance.attrs[BATCH_PARAMETER] = size
            return UNKNOWN
        looked_up = self.looked_up(node, env)
        if looked_up is not None:
            return looked_up  # `getattr(models, "resnet50")`, `eval(model_name)`
        inherited = self.inherited_method(node, env)
        if inherited is not None:
            # `super(VocGenerator, self).__init__(**kwargs)`: the parent class's method
            # of the project runs on the same instance
            args, kwargs = self.eval_arguments(node, env, hands_on=True)
            return self.call_function(inherited[0], args, kwargs, inherited[1], site=node)
        if (isinstance(node.func, cst.Attribute) and node.func.attr.value == "compile"
                and _is_super(node.func.value) and isinstance(self.current_self, Layer)
                and self.current_self.is_model):
            # `super().compile(...)` in a model subclass's own method (`compileM(self,
            # d_optimizer, g_optimizer, loss_fn)`): Keras compiles this model
            args, kwargs = self.eval_arguments(node, env)
            return self.call_model_method(self.current_self, "compile", node, args, kwargs)
        receiver: Value | None = None
        method: str | None = None
        if isinstance(node.func, cst.Attribute):
            receiver = self.eval(node.func.value, env)
            method = node.func.attr.value
            if isinstance(receiver, Unknown) and method == "compile":
                receiver = self.unseen_model(node.func.value, env)
            if isinstance(receiver, ModuleRef):
                callee: Value = ModuleRef(canonical(f"{receiver.name}.{method}"))
                receiver, method = None, None
            elif isinstance(receiver, ProjectModule):
                callee = self.project_attribute(receiver, method)
                receiver, method = None, None
            else:
                callee = UNKNOWN
        else:
            callee = self.eval(node.func, env)
        # the project's own code: a constant handed to it by name is set at this call
        hands_on = isinstance(callee, (FunctionValue, BoundMethod, ClassValue)) or isinstance(
            receiver, (Instance, ClassValue))
        args, kwargs = self.eval_arguments(node, env, hands_on=hands_on)
        name = callee.name if isinstance(callee, ModuleRef) else None
        training = kwargs.get("training", kwargs.get("is_training")) if (
            name in self.api.tf1_bn_functions) else None
        self.model.calls.append(CallSite(node, name, self.context, method, receiver,
                                         self.control_dependencies > 0, self.arg_scopes > 0,
                                         self.foreign_path, training))
        self.mark_entry(node)  # (a rule may report a call itself: `opt.minimize(loss)`)
        if name == "functools.partial" and args:
            # the layers it binds may be changed whenever it is called, by whatever
            # code it reaches: as before, they are handed to code not followed
            self.havoc(args[1:], kwargs, node)
            return Partial(args[0], tuple(args[1:]), kwargs)
        while isinstance(callee, Partial):  # `Conv(8, 3)` with `Conv = partial(Conv2D, ...)`
            args, kwargs = [*callee.args, *args], {**callee.kwargs, **kwargs}
            callee = callee.callee
        if receiver is not None and method is not None:
            return self.call_method(receiver, method, node, args, kwargs)
        if isinstance(callee, ModuleRef) and callee.name == "functools.reduce" and not kwargs:
            return self.fold_calls(args[0] if args else UNKNOWN, args)
        if isinstance(callee, ModuleRef) and callee.name in IMPORTERS and len(args) == 1 and (
                not kwargs):
            return self.imported_module(args[0], node)
        if isinstance(callee, ModuleRef) and callee.name in FILLED_ARRAYS:
            return self.filled_array(callee.name, node, env)
        if isinstance(callee, ModuleRef) and callee.name in ATTRIBUTE_DICTS:
            return _attribute_dict(args, kwargs, node)
        if isinstance(callee, ModuleRef):
            setting = self.call_settings_source(callee.name, node, args, kwargs)
            if setting is not None:
                return setting
            return self.call_symbol(callee.name, node, args, kwargs)
        if isinstance(callee, Layer):
            return self.call_layer(callee, node, args, kwargs)
        if isinstance(callee, FunctionValue):
            return self.call_function(callee, args, kwargs, None, site=node)
        if isinstance(callee, BoundMethod):
            return self.call_function(callee.function, args, kwargs, callee.receiver,
                                      site=node)
        if isinstance(callee, ClassValue):
            return self.instantiate(callee, node, args, kwargs)
        if isinstance(callee, Instance) and "__call__" in callee.owner.methods:
            # `loss_fn(real, fake)` of a callable object of the project (a loss helper
            # that runs the critic it holds): its `__call__` on the instance
            return self.call_function(callee.owner.methods["__call__"], args, kwargs, callee,
                                      site=node)
        if isinstance(node.func, cst.Name) and node.func.value in BUILTINS_NO_EFFECT:
            if node.func.value == "enumerate" and len(args) == 1 and isinstance(
                    args[0], Dataset):
                return replace(args[0], enumerated=True)  # `for i, batch in enumerate(gen)`
            return _layer_count(node.func.value, args)
        if isinstance(node.func, cst.Name) and node.func.value == "open" and args:
            opened = self.open_settings(args[0])
            if opened is not None:
                return opened
        self.havoc(args, kwargs, node)
        if isinstance(callee, Unknown):
            # `third_party_block(...)(x)` on a symbolic tensor: the graph goes on through
            # layers nobody knows (what lies before stays in the model, which may hold
            # more)
            tensor = merge_tensors([*args, *kwargs.values()], node)
            if tensor is not None:
                return replace(tensor, complete=False)
        return UNKNOWN

    def call_settings_source(self, name: str, node: cst.Call, args: list[Value],
                             kwargs: dict[str, Value]) -> Value | None:
        """An argparse parser, an absl flag definition or the load of a settings
        file (see settings_sources.py); None for any other symbol."""
        if name in PARSER_CLASSES:
            return ArgumentParser()
        if name in JSON_LOADERS or name in YAML_LOADERS:
            opened = args[0] if args else kwargs.get("stream", kwargs.get("fp", UNKNOWN))
            if not isinstance(opened, OpenedFile):
                return None
            if opened.path is not None and self.project is not None and (
                    opened.path not in self.model.settings_read):
                self.model.settings_read.append(opened.path)
            return load_settings(opened, name, node)
        flag = flag_definition(name, node, args, kwargs)
        if flag is not None:
            self.flag_defaults[flag[0]] = flag[1]
            return UNKNOWN
        return None

    def open_settings(self, written: Value) -> OpenedFile | None:
        """``open("config.json")`` of a file of the project, looked up from the linted
        file's directory, the project's top and the directory of the module opening it
        (wherever the user may start the run)."""
        if self.project is None:
            return None
        directories = [os.path.dirname(self.project.importer), self.project.top]
        if self.foreign_path is not None:
            directories.append(os.path.dirname(self.foreign_path))
        return settings_file(directories, self.project.top, written)

    def inherited_method(self, node: cst.Call, env: Env
                         ) -> tuple[FunctionValue, Instance | Layer] | None:
        """``super().method(...)`` in a method of a class of the project (a plain
        class, or a Keras layer or model subclass): the method the next class of the
        project in the instance's method resolution order defines, and the instance it
        runs on. The class whose method is running is the one that defines it (a child
        and its parent may share a name)."""
        if not (isinstance(node.func, cst.Attribute) and _is_super(node.func.value)):
            return None
        instance = env.lookup("self")
        if isinstance(instance, Instance):
            owner: ClassValue | None = instance.owner
        elif isinstance(instance, Layer):
            owner = instance.user_owner
        else:
            return None
        if owner is None or not self.active:
            return None
        order = method_order(owner)
        running = self.active[-1]
        defining = next((index for index, cls in enumerate(order)
                         if any(id(function.node) == running and function.owner is cls
                                for function in cls.methods.values())), None)
        if defining is None:
            return None
        wanted = node.func.attr.value
        for cls in order[defining + 1:]:
            function = cls.methods.get(wanted)
            if function is not None and function.owner is cls:
                return function, instance
        return None
        for base in owner.bases:
            if isinstance(base, ClassValue) and node.func.attr.value in base.methods:
                return base.methods[node.func.attr.value], instance
        return None

    def eval_arguments(self, node: cst.Call, env: Env, hands_on: bool = False
                       ) -> tuple[list[Value], dict[str, Value]]:
        """The call's positional and keyword values. ``*args`` / ``**kwargs`` fill
        parameters nobody can name: positionals from the first ``*`` on are not placed,
        and ``SPREAD`` among the keywords says that parameters not given explicitly may
        still be given (so they do not take their defaults). When the call ``hands_on``
        its arguments to the project's own code, a constant given by name remembers the
        argument (the outermost such call)."""
        args: list[Value] = []
        kwargs: dict[str, Value] = {}
        spread = False
        for arg in node.args:
            value = self.eval(arg.value, env)
            if isinstance(arg.value, cst.Integer) and not arg.star:
                self.model.literal_arguments[id(arg.value)] = arg
            elif hands_on and isinstance(value, Const) and value.node is not None and (
                    value.passed_at is None and not arg.star and isinstance(
                        arg.value, (cst.Name, cst.Attribute, cst.Subscript))):
                value = replace(value, passed_at=arg)  # handed on by name
            if arg.star == "*" and not spread and isinstance(value, ListValue) and (
                    not value.changed):
                args.extend(value.items)  # `f(*a)` of a list whose items are known
            elif arg.star == "**" and isinstance(value, DictValue) and not value.open and all(
                    isinstance(key, str) for key in value.entries):
                kwargs.update(value.entries)  # type: ignore[arg-type]
            elif arg.star:
                spread = True
            elif arg.keyword is not None:
                kwargs[arg.keyword.value] = value
            elif not spread:
                args.append(value)
        if spread:
            kwargs[SPREAD] = UNKNOWN
        return args, kwargs

    def havoc(self, args: list[Value], kwargs: dict[str, Value],
              node: cst.CSTNode | None = None) -> None:
        """An unknown callee received these values: their trainable state is unknown
        (an ``escape`` event records it, so that rules can tell)."""
        reports = isinstance(node, cst.Call) and _reports_on(node)
        for value in [*args, *kwargs.values()]:
            if isinstance(value, DictValue):
                value.open = True  # the callee may change its entries
            if isinstance(value, ListValue):
                value.changed = True
            if isinstance(value, Layer):
                if not reports:
                    apply_to_layer(value, None, definite=False, forget=True)
                if node is not None:
                    self.record(Event("escape", node, value, self.context))

    def call_method(self, receiver: Value, method: str, node: cst.Call, args: list[Value],
                    kwargs: dict[str, Value]) -> Value:
        tape = self.context.tape
        if (method == "backward" and tape is not None and tape.autograd
                and isinstance(self.current_self, Layer)):
            # `loss.backward()`: gradients of every weight the loss depends on, the
            # model's own trainable weights included
            self.record(Event("gradient", node, tape, self.context,
                              inputs=(receiver, Variables(self.current_self)),
                              sources_are_variables=True))
            return UNKNOWN
        if isinstance(receiver, Layer):
            return self.call_model_method(receiver, method, node, args, kwargs)
        if isinstance(receiver, DictValue):
            return _dict_method(receiver, method, args)
        if isinstance(receiver, Const) and isinstance(receiver.value, str) and (
                method in _STRING_NORMALISERS and not args and not kwargs):
            # `model_name = model_name.lower()`: the same name, for the `if` that picks
            # the builder by it
            return replace(receiver, value=getattr(receiver.value, method)())
        if isinstance(receiver, ArgumentParser):
            return parser_method(receiver, method, node, args, kwargs)
        if isinstance(receiver, OpenedFile) and method == "read":
            return receiver  # its text, for `json.loads(handle.read())`
        if isinstance(receiver, ListValue):
            _change_list(receiver, method, args, node, self.conditional())
        if isinstance(receiver, BoundMethod):
            return UNKNOWN
        if isinstance(receiver, Instance):
            held = receiver.attrs.get(method)
            if isinstance(held, Layer):
                return self.call_layer(held, node, args, kwargs)  # `self.generator(z)`
            if isinstance(held, (FunctionValue, BoundMethod)):
                function = held.function if isinstance(held, BoundMethod) else held
                bound = held.receiver if isinstance(held, BoundMethod) else None
                return self.call_function(function, args, kwargs, bound, site=node)
            if isinstance(held, Instance) and "__call__" in held.owner.methods:
                # `self.block(x)`: a callable object it holds (a `tf.Module` block)
                return self.call_function(held.owner.methods["__call__"], args, kwargs, held,
                                          site=node)
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
            receiver.watched.extend(source_texts(self.module, node.args[0].value)
                                    if node.args else ())
            return UNKNOWN
        if isinstance(receiver, DataGenerator):
            return sized_data(node, kwargs) if method in GENERATOR_FLOWS else UNKNOWN
        if isinstance(receiver, Dataset):
            if method in {"batch", "padded_batch", "ragged_batch"}:
                given = args[0] if args else kwargs.get("batch_size", UNKNOWN)
                size = const_number(given)
                self.mark_entry(node)
                return Dataset(int(size) if size is not None else None, node,
                               size_value=written_constant(given), item=receiver.item)
            if method in REBATCHING_DATASET_METHODS:
                return Dataset(None)  # `unbatch()`, `rebatch(n)`: batches made anew
            if method in RESTRUCTURING_DATASET_METHODS:
                return replace(receiver, item=None)  # `map(parse)`: elements reshaped
            if method == "enumerate":
                return replace(receiver, enumerated=True)
            if method in {"next", "__next__"} and not args:
                # a Keras iterator's own `train_gen.next()`: as `next(train_gen)`
                return _builtin("next", [receiver], {}, self.looping())
            return receiver
        if method in _DISTRIBUTING and args and isinstance(args[0], Dataset):
            # `strategy.experimental_distribute_dataset(trainset)`: the replicas share
            # each batch, so none of them normalises more samples than it holds
            return args[0]
        if method in _REPLICA_RUNS and "args" in kwargs and args and isinstance(
                args[0], (FunctionValue, BoundMethod)):
            # `strategy.run(train_step, args=(batch,))`: the step, on each replica
            given, step = kwargs["args"], args[0]
            return self.call_function(
                step.function if isinstance(step, BoundMethod) else step,
                list(given.items) if isinstance(given, ListValue) else [],
                {}, step.receiver if isinstance(step, BoundMethod) else None, site=node)
        if isinstance(receiver, Unknown) and method == "map" and "num_parallel_calls" in kwargs:
            # `files.map(load, num_parallel_calls=AUTOTUNE)`: only a tf.data dataset's
            # `map` takes that argument, whatever made `files`
            return Dataset(None, node)
        if isinstance(receiver, ModuleRef):
            return self.call_symbol(canonical(f"{receiver.name}.{method}"), node, args, kwargs)
        if isinstance(receiver, ClassValue) and method in receiver.methods:
            return self.call_function(receiver.methods[method], args, kwargs, None,
                                      site=node)
        if method in {"batch"} and isinstance(receiver, Value):
            size = const_number(args[0] if args else kwargs.get("batch_size", UNKNOWN))
            if size is not None and isinstance(receiver, Dataset):
                return Dataset(int(size), node)
        if method not in {"append", "extend", "update", "format", "join", "split", "items",
                          "keys", "values", "get", "numpy", "shape", "reshape", "astype"}:
            self.havoc(args, kwargs, node)
        return UNKNOWN

    def filled_array(self, name: str, node: cst.Call, env: Env) -> Value:
        """``np.ones((batch_size, 1))``, ``np.random.normal(0, 1, (n, 100))``: an array
        of as many samples as its shape's first dimension says."""
        where = FILLED_ARRAYS[name]
        given = keyword(node, where[0]) if where[0] else None
        if given is None:
            positional = [arg for arg in node.args if arg.keyword is None and not arg.star]
            given = positional[where[1]] if len(positional) > where[1] else None
        shape = given.value if given is not None else None
        if isinstance(shape, cst.BinaryOperation) and isinstance(shape.operator, cst.Add):
            shape = shape.left  # `(batch_size,) + self.disc_patch`
        first = shape.elements[0].value if isinstance(shape, (cst.Tuple, cst.List)) and (
            shape.elements) and not isinstance(shape.elements[0], cst.StarredElement) else (
            shape if where[0] is None else None)  # `np.random.randn(n, 100)`
        if not isinstance(first, (cst.Name, cst.Attribute, cst.Integer)):
            return UNKNOWN
        return self.counted_samples(first, env) or UNKNOWN

    def call_function(self, function: FunctionValue, args: list[Value],
                      kwargs: dict[str, Value], receiver: Value | None,
                      standalone: bool = False, site: cst.Call | None = None) -> Value:
        if isinstance(function.node, cst.Lambda):
            return self.call_lambda(function, function.node, args, kwargs, site)
        key = id(function.node)
        recursive = key in self.active
        counter = _counter(args, kwargs) if recursive else None
        nested = self.recursion_depth
        if recursive and (counter is None
                          or any(active == key and _counter(*given) == counter
                                 for active, given in self.active_arguments)
                          or self.recursions >= MAX_RECURSIONS
                          or nested >= MAX_RECURSION_DEPTH) or (
                len(self.active) - self.active_lambdas - nested >= MAX_INLINE_DEPTH):
            # (a recursion on known numbers, `self.g(i - 1)` down to `if i == 1:`, runs
            # until its base case, its levels not counted in the depth of helpers)
            self.havoc(args, kwargs, site)
            return UNKNOWN
        self.recursions += recursive
        self.ran.add(key)
        scope = function.globals if isinstance(function.globals, Env) else self.module_env
        env = Env(parent=function.closure if isinstance(function.closure, Env) else scope)
        self.bind_parameters(function, env, args, kwargs, receiver, standalone)
        saved = (self.context, self.current_self, self.current_method, self.current_params)
        around = (self.globals_env, self.foreign_path, self.foreign_entry)
        if function.origin is not None and self.foreign_entry is None:
            self.foreign_entry = site  # the call of this file that enters another module
        self.globals_env, self.foreign_path = scope, function.origin
        self.current_params = parameter_names(function.node)
        # The tape stays: operations of a function called inside `with tape:` are
        # recorded on it.
        self.context = replace(self.context, function=function.qualname,
                               method_of=function.owner.name if function.owner else None,
                               loop_depth=0,
                               call_sites=self.context.call_sites + ((site,) if site else ()))
        if (isinstance(receiver, Layer) and function.owner is not None
                and function.owner.keras_base is not None and _calls_backward(function.node)):
            # a Keras 3 torch-backend `train_step`: autograd records the whole method
            tape = Tape(function.node, autograd=True)
            self.context = replace(self.context, tape=tape, tapes=self.context.tapes + (tape,))
        if isinstance(receiver, Layer):
            # a helper method that `call()` runs on the same model is part of `call()`
            in_call = self.current_self is receiver and self.current_method == "call"
            self.current_self = receiver
            self.current_method = "call" if in_call else function.node.name.value
        self.active.append(key)
        self.active_arguments.append((key, (args, kwargs)))
        self.recursion_depth += recursive
        latches, self.latches = self.latches, {}  # the caller's loop flags are not ours
        try:
            self.exec_suite(function.node.body, env)
        finally:
            self.active.pop()
            self.active_arguments.pop()
            self.recursion_depth -= recursive
            self.exit = None  # a return (or raise) ends the call, not the caller
            self.context, self.current_self, self.current_method, self.current_params = saved
            self.globals_env, self.foreign_path, self.foreign_entry = around
            self.latches = latches
        for statement in nested_functions(function.node):
            if id(statement) not in {id(f.node) for f in self.functions}:
                self.define_function(statement, env, None)
        if isinstance(function.node, cst.FunctionDef) and is_generator(function.node):
            generated = generated_batches(env, site, function)
            if isinstance(generated, Dataset):
                self.model.batch_paths.append(self.context.path)
            return batches_set_at(generated, function, site, env)
        distinct = {id(value): value for value in env.returns}
        if len(distinct) == 1:
            return batches_set_at(next(iter(distinct.values())), function, site, env)
        batches = [value for value in distinct.values() if not _is_none(value)]
        if len(batches) == 1 and isinstance(batches[0], Dataset):
            # `if n == 0: return None` before `return data_generator(...)`: the data
            # the caller trains on is the generator (with None there is nothing to fit)
            return batches_set_at(batches[0], function, site, env)
        graphs = [merge_tensors(flattened(value)) for value in distinct.values()]
        if site is not None and all(graph is not None for graph in graphs):
            # `return pred, raw` on one path, `return pred` on another: the layers behind
            # both are in the graph whichever runs
            return common_graph(cast(list[Value], graphs), site) or UNKNOWN
        return UNKNOWN

    def call_lambda(self, function: FunctionValue, node: cst.Lambda, args: list[Value],
                    kwargs: dict[str, Value], site: cst.Call | None) -> Value:
        """A lambda's body is one expression, evaluated in the caller's context (where
        the lambda runs: inside ``call()``, on a tape) over the scope it closes over.
        Each evaluation of a lambda expression is its own function, so a chain of the
        same lambda (``compose``) is not mistaken for recursion."""
        key = id(function)
        if key in self.active or self.active_lambdas >= MAX_FOLDED:
            self.havoc(args, kwargs, site)
            return UNKNOWN
        scope = function.globals if isinstance(function.globals, Env) else self.module_env
        env = Env(parent=function.closure if isinstance(function.closure, Env) else scope)
        self.bind_parameters(function, env, args, kwargs, None, standalone=False)
        around = (self.globals_env, self.foreign_path, self.foreign_entry)
        if function.origin is not None and self.foreign_entry is None:
            self.foreign_entry = site
        self.globals_env, self.foreign_path = scope, function.origin
        self.active.append(key)
        self.active_lambdas += 1
        try:
            return self.eval(node.body, env)
        finally:
            self.active.pop()
            self.active_lambdas -= 1
            self.globals_env, self.foreign_path, self.foreign_entry = around

    def fold_calls(self, function: Value, args: list[Value]) -> Value:
        """``functools.reduce(function, items[, initial])`` over a list whose items are
        known: ``function`` applied left to right, as Python does."""
        items = args[1] if len(args) > 1 else None
        if not isinstance(function, FunctionValue) or not isinstance(items, ListValue) or (
                items.changed or not 0 < len(items.items) + len(args) - 2 <= MAX_FOLDED):
            self.havoc(args, {})
            return UNKNOWN
        values = [*args[2:3], *items.items]
        result = values[0]
        for item in values[1:]:
            result = self.call_function(function, [result, item], {}, None)
        return result

    def bind_parameters(self, function: FunctionValue, env: Env, args: list[Value],
                        kwargs: dict[str, Value], receiver: Value | None,
                        standalone: bool) -> None:
        node = function.node
        params = node.params
        positional = [*params.posonly_params, *params.params]
        values = list(args)
        kind = _method_kind(node)
        if kind == "classmethod" and function.owner is not None and positional:
            # `Trainer.run(64)` or `trainer.run(64)`: `cls` is the class either way
            env.bind(positional[0].name.value, function.owner)
            positional = positional[1:]
        elif receiver is not None and positional and kind != "staticmethod":
            env.bind(positional[0].name.value, receiver)
            positional = positional[1:]
        spread = SPREAD in kwargs
        for index, param in enumerate(positional):
            name = param.name.value
            if index < len(values):
                env.bind(name, values[index])
            elif name in kwargs:
                env.bind(name, kwargs[name])
            elif spread:
                env.bind(name, UNKNOWN)  # perhaps given by the caller's *args/**kwargs
            elif param.default is not None:
                env.bind(name, _default(function, name, standalone))
            else:
                env.bind(name, self.parameter_guess(name, node))
        for param in params.kwonly_params:
            name = param.name.value
            if name in kwargs:
                env.bind(name, kwargs[name])
            elif param.default is not None and not spread:
                env.bind(name, _default(function, name, standalone))
            else:
                env.bind(name, UNKNOWN)
        for param in (*positional, *params.kwonly_params):
            name = param.name.value
            if env.names.get(name) is UNKNOWN:
                # an unknown argument is still one value throughout the call
                env.bind(name, Opaque(name, f"{name}#{id(param)}"))
        # `*args` / `**kwargs` hold what the call gave beyond the named parameters, when
        # the call itself spread nothing
        if isinstance(params.star_arg, cst.Param):
            extra = values[len(positional):]
            env.bind(params.star_arg.name.value,
                     UNKNOWN if spread else ListValue(tuple(extra)))
        if params.star_kwarg is not None:
            named = {param.name.value for param in (*positional, *params.kwonly_params)}
            env.bind(params.star_kwarg.name.value, UNKNOWN if spread else DictValue(
                {key: value for key, value in kwargs.items() if key not in named}))

    def parameter_guess(self, name: str, node: cst.FunctionDef | cst.Lambda) -> Value:
        """In a Keras model's ``call(self, inputs, training=None)``, the inputs are
        tensors; everything else is unknown."""
        if isinstance(node, cst.FunctionDef) and node.name.value in {"call", "train_step", "test_step"} and name in {
            "inputs", "x", "data", "input", "images"
        }:
            return Tensor(False)
        return UNKNOWN

    def instantiate(self, owner: ClassValue, node: cst.Call, args: list[Value],
                    kwargs: dict[str, Value]) -> Value:
        if owner.arguments is None:
            owner.arguments = (args, kwargs)
        if owner.keras_base is None:
            plain = Instance(owner, node, made_under=self.context.path)
            init = owner.methods.get("__init__")
            if init is not None:
                self.call_function(init, args, kwargs, plain, site=node)
            if owner.data_sequence or yields_batches(owner):
                # the batch size this call gives (its argument, else the call itself)
                plain.batch_node = argument_for(node, init, BATCH_PARAMETER) or node
                self.mark_entry(plain.batch_node)
                if const_int(plain.attrs.get(BATCH_PARAMETER, UNKNOWN)) is not None:
                    self.model.batch_paths.append(self.context.path)
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

    def unseen_model(self, target: cst.BaseExpression, env: Env) -> Value:
        """``x.compile(...)`` on a value of unknown origin (built in another module, or
        elided in a snippet): ``x`` is a Keras model whose content is unknown. It is bound
        so that later steps on ``x`` (freezing it, calling it, training it) refer to it."""
        if not isinstance(target, cst.Name) and not (
                isinstance(target, cst.Attribute) and isinstance(target.value, cst.Name)):
            return UNKNOWN
        model = self.new_layer("<model>", target, is_model=True, model_kind="loaded",
                               has_bn=None, has_dropout=None, opaque=True)
        model.label = dotted(target) or ""
        if isinstance(target, cst.Name):
            env.bind(target.value, model)
        else:
            owner = self.eval(target.value, env)
            if not isinstance(owner, (Layer, Instance)):
                return UNKNOWN
            if isinstance(owner, Layer):
                owner.will_change()
            owner.attrs[target.attr.value] = model
        return model



_BACKWARD: dict[int, tuple[cst.FunctionDef, bool]] = {}


def _iterates_batches(owner: ClassValue) -> bool:
    """A subclass of Keras's image ``Iterator``, whose constructor takes the batch size."""
    return any(isinstance(base, ModuleRef) and base.name == KERAS_ITERATOR
               for base in owner.bases)


def _is_super(node: cst.BaseExpression) -> bool:
    """``super()`` or ``super(Cls, self)``."""
    return (isinstance(node, cst.Call) and isinstance(node.func, cst.Name)
            and node.func.value == "super")


def _calls_backward(node: cst.FunctionDef) -> bool:
    """Does the function's own body call ``<tensor>.backward()`` (PyTorch autograd)?
    Asked at every call of a Keras class's method: answered once per definition."""
    known = _BACKWARD.get(id(node))
    if known is not None and known[0] is node:
        return known[1]
    if len(_BACKWARD) > 4096:
        _BACKWARD.clear()
    found = False

    class Finder(cst.CSTVisitor):
        def visit_FunctionDef(self, inner: cst.FunctionDef) -> bool:
            return inner is node

        def visit_Call(self, call: cst.Call) -> None:
            nonlocal found
            if isinstance(call.func, cst.Attribute) and call.func.attr.value == "backward":
                found = True

    run_visitor(Finder(), node)
    _BACKWARD[id(node)] = (node, found)
    return found


# Functions named like these describe a model (print its summary, plot it): they read
# it and do not change which of its layers are trainable.
_REPORTING_PREFIXES = ("print", "plot", "show", "display", "visualize", "visualise")


def _method_kind(node: cst.FunctionDef | cst.Lambda) -> str | None:
    """``staticmethod`` / ``classmethod`` when the function is decorated so."""
    if not isinstance(node, cst.FunctionDef):
        return None
    for decorator in node.decorators:
        name = decorator.decorator
        if isinstance(name, cst.Name) and name.value in {"staticmethod", "classmethod"}:
            return name.value
    return None


def _counter(args: list[Value], kwargs: dict[str, Value]) -> tuple[object, ...] | None:
    """The whole numbers a call is given (``g(i - 1)`` with ``i`` known): what tells one
    level of a recursion from the next. None when there are none."""
    numbers: list[tuple[str | None, object]] = [
        (None, value.value) for value in args if isinstance(value, Const) and _whole(value)]
    numbers += [(name, value.value) for name, value in sorted(kwargs.items())
                if isinstance(value, Const) and _whole(value)]
    return tuple(numbers) if numbers else None


def _whole(value: Const) -> bool:
    """A whole number (folded arithmetic gives ``3.0`` for ``4 - 1``)."""
    return isinstance(value.value, (int, float)) and not isinstance(value.value, bool) and (
        float(value.value).is_integer())


def _reports_on(node: cst.Call) -> bool:
    """Is the callee a function named like one that only describes the model
    (``summary(model)``, ``print_layers(model)``, ``plot_history(model)``)?"""
    func = node.func
    name = func.value if isinstance(func, cst.Name) else (
        func.attr.value if isinstance(func, cst.Attribute) else "")
    name = name.lower()
    return "summary" in name or name.startswith(_REPORTING_PREFIXES)


def _layer_count(builtin: str, args: list[Value]) -> Value:
    """``len(model.layers)`` and ``range(len(model.layers))`` (from an optional start):
    what an index loop over a model's layers runs over."""
    if builtin == "len" and len(args) == 1:
        selection = args[0]
        if isinstance(selection, LayerSelection) and not selection.element and (
                selection.extent == "all"):
            return LayerCount(selection.container)
    if builtin == "len" and len(args) == 1 and isinstance(args[0], ListValue) and (
            not args[0].changed):
        return Const(len(args[0].items))  # `len(train_gpu)` of a list display
    if builtin == "max" and len(args) == 2 and const_int(args[0]) == 0 and isinstance(
            args[1], LayerCount) and args[1].offset < 0:
        # `max(0, total - n)`: the first of the last n layers (all of them when fewer)
        return args[1]
    if builtin == "range" and args and isinstance(args[-1], LayerCount) and len(args) <= 2 and (
            args[-1].offset == 0):
        first = args[0] if len(args) == 2 else None
        if isinstance(first, LayerCount) and first.container is args[-1].container and (
                first.offset < 0):
            # `range(total - n, total)`: the last n layers
            return LayerIndex(first.container, first.offset)
        start = const_int(first) if first is not None else None
        if first is not None and start is None:
            return UNKNOWN
        return LayerIndex(args[-1].container, start)
    return UNKNOWN


def _is_none(value: Value) -> bool:
    return isinstance(value, Const) and value.value is None


def _change_list(items: ListValue, method: str, args: list[Value], node: cst.Call,
                 conditional: bool) -> None:
    """``outputs.append(tensor)``: what the list holds (not where, nor how many times:
    the list has changed) reaches a Model(inputs, outputs); any other method but a
    reading one may change it too."""
    if method in READING_LIST_METHODS:
        return
    items.changed, items.uniform = True, False
    added: tuple[Value, ...] = ()
    if method == "append" and len(args) == 1:
        added = (args[0],)
    elif method == "extend" and len(args) == 1 and isinstance(args[0], ListValue):
        added = args[0].items
    if added:
        items.items, items.nodes = (*items.items, *added), None
        if conditional:  # `if use_bn: stack.append(BatchNormalization())`
            items.maybe_items.update(id(item) for item in added)
    for holder in items.holders:  # `self.blocks.append(Conv2D(...))`: tracked too
        track_layers(holder, items, node)


def _dict_method(entries: DictValue, method: str, args: list[Value]) -> Value:
    """``builders.get("resnet50")`` reads an entry; ``update``, ``pop``, ``setdefault``
    and the like may change any entry."""
    if method == "get" and len(args) in (1, 2):
        found = entries.lookup(args[0])
        if found is None and not entries.open and is_constant_key(
                args[0]) and cast(Const, args[0]).value not in entries.entries:
            # `config.get("batch_size", 32)` of a dict without that key (None without
            # a default: `if kwargs.get("descriptions"):` of keywords not given)
            return args[1] if len(args) == 2 else Const(None)
        return found if found is not None else UNKNOWN
    if method not in READING_DICT_METHODS:
        entries.open = True
    return UNKNOWN


# A `tf.distribute` strategy's methods that hand a dataset's batches to its replicas,
# and those that run a step on every replica (`strategy.run(step, args=(batch,))`).
_DISTRIBUTING = frozenset({"experimental_distribute_dataset"})
_REPLICA_RUNS = frozenset({"run", "experimental_run_v2"})
# Builtins whose result the model knows for some arguments.
_BUILTINS = frozenset({"int", "float", "iter", "next"})
# methods of a string that give another known string of the same name
_STRING_NORMALISERS = frozenset({"lower", "upper", "casefold", "strip", "lstrip", "rstrip"})


def _builtin(name: str, args: list[Value], kwargs: dict[str, Value], looping: bool) -> Value:
    """``int(batch_size)`` / ``float(lr)`` of a number: that number (still where it is
    written); ``next(batches)`` of batches of a known size (the project's generator, a
    ``flow(...)`` iterator or ``iter(dataset)`` of a ``tf.data`` pipeline in a loop
    (``looping``)): one batch, whose arrays hold that many samples
    (``X, Y = next(data_gen)``)."""
    if not (len(args) == 1 or name == "next" and len(args) == 2) or kwargs:
        return UNKNOWN  # (`next(batches, None)`: the default only ends the loop)
    given = args[0]
    if name in {"int", "float"}:
        number = const_number(given)
        if number is None or not isinstance(given, Const) or isinstance(given.value, bool):
            return UNKNOWN
        try:
            converted = int(number) if name == "int" else float(number)
        except (OverflowError, ValueError):
            return UNKNOWN
        return replace(given, value=converted)
    if name == "iter":
        # `iter(trainset)` of batches: an iterator over those very batches
        return given if isinstance(given, Dataset) else UNKNOWN
    if isinstance(given, Dataset) and given.batch_size is not None and (
            given.batch_node is not None) and (given.from_generator or looping):
        # a generator's next batch; a `flow(...)` iterator's or `iter(dataset)`'s taken
        # on each turn of a loop (one taken before it is a peek at the data: a smoke
        # test's single step on it barely moves the moving statistics)
        return Samples(given.batch_size, given.batch_node, given.size_value)
    return UNKNOWN


def yields_batches(owner: ClassValue) -> bool:
    """A plain class of the project whose instances are iterated (``__iter__``,
    ``__next__``) and keep a ``batch_size``: a data loader whose items are batches of
    that size (``for images, targets in trainset``)."""
    return bool({"__iter__", "__next__"} & owner.methods.keys()) and (
        BATCH_PARAMETER in _assigned_self_attributes(owner))


def _assigned_self_attributes(owner: ClassValue) -> list[str]:
    """The ``self.<name>`` attributes the class's ``__init__`` assigns (by name)."""
    init = owner.methods.get("__init__")
    if init is None or not isinstance(init.node, cst.FunctionDef):
        return []
    names: list[str] = []
    for statement in init.node.body.body if isinstance(init.node.body, cst.IndentedBlock) else ():
        if not isinstance(statement, cst.SimpleStatementLine):
            continue
        for small in statement.body:
            if isinstance(small, cst.Assign):
                for target in small.targets:
                    if (isinstance(target.target, cst.Attribute)
                            and isinstance(target.target.value, cst.Name)
                            and target.target.value.value == "self"):
                        names.append(target.target.attr.value)
    return names


def _attribute_dict(args: list[Value], kwargs: dict[str, Value], node: cst.Call) -> Value:
    """``EasyDict()``, ``EasyDict({"lr": 0.1})``, ``SimpleNamespace(lr=0.1)``: a dict
    whose entries are its attributes; built from anything else, it may hold anything."""
    if len(args) > 1 or any(arg.star for arg in node.args):
        return DictValue({}, node, open=True, attributes=True)
    entries: dict[object, Value] = {}
    if args:
        given = args[0]
        if not isinstance(given, DictValue) or given.open:
            return DictValue({}, node, open=True, attributes=True)
        entries.update(given.entries)
    entries.update(kwargs)
    return DictValue(entries, node, attributes=True)


def _default(function: FunctionValue, name: str, standalone: bool) -> Value:
    """The default of parameter ``name``; in a function replayed on its own, a constant
    default is only assumed (a caller may pass anything)."""
    value = function.defaults.get(name, UNKNOWN)
    return replace(value, assumed=True) if standalone and isinstance(value, Const) else value


def method_order(cls: ClassValue) -> list[ClassValue]:
    """The project classes of ``cls``'s method resolution order (C3, as Python computes
    it; library bases left out), depth-first left to right when C3 fails."""
    def linear(current: ClassValue, seen: tuple[int, ...]) -> list[ClassValue]:
        bases = [base for base in current.bases if isinstance(base, ClassValue)
                 and id(base) not in seen]
        sequences = [linear(base, (*seen, id(current))) for base in bases] + [bases]
        result = [current]
        while any(sequences):
            for sequence in sequences:
                if not sequence:
                    continue
                head = sequence[0]
                if not any(head in other[1:] for other in sequences):
                    break
            else:  # inconsistent: Python would refuse the class; read it depth-first
                rest = [cls for sequence in sequences for cls in sequence]
                return result + [cls for index, cls in enumerate(rest)
                                 if cls not in rest[:index] and cls not in result]
            result.append(head)
            sequences = [sequence[1:] if sequence and sequence[0] is head else sequence
                         for sequence in sequences]
        return result
    return linear(cls, ())
