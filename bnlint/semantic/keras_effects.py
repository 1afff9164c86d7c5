"""The Keras API's effects: layers, models, applications and optimizers created,
layers called with ``training=``, compile/fit/evaluate, ``trainable`` and learning-rate
changes, gradients taken on a tape."""

from __future__ import annotations

from dataclasses import replace

import libcst as cst

from bnlint.semantic.events import Event
from bnlint.semantic.replay import (
    BATCH_PARAMETER,
    CALLBACK_HOOKS,
    DATASET_UTILITIES,
    EVAL_METHODS,
    FIT_METHODS,
    GRAPH_OP_PREFIXES,
    HARMLESS_PREFIXES,
    HUB_PREPROCESSING,
    MERGE_FUNCTIONS,
    PROGRESS_BARS,
    BoundMethod,
    ReplayBase,
    const_int,
    const_number,
    is_input_layer,
    is_tf1_optimizer,
    optimizer_of,
    rate_of,
)
from bnlint.semantic.scan import own_checkpoint_loads
from bnlint.semantic.sequences import sequence_batch_size
from bnlint.semantic.syntax import (
    keyword,
    list_elements,
    source_texts,
    training_arg,
    training_default,
)
from bnlint.semantic.trainability import (
    apply_to_layer,
    apply_to_selection,
    bn_frozen_by_slice,
    state_snapshot,
)
from bnlint.semantic.values import (
    UNKNOWN,
    Checkpoint,
    ClassValue,
    Const,
    DataGenerator,
    Dataset,
    FunctionValue,
    Instance,
    Layer,
    LayerSelection,
    ListValue,
    Optimizer,
    OptimizerAttr,
    Samples,
    Schedule,
    Tape,
    Tensor,
    TrainingArg,
    Tri,
    Value,
    Variables,
    Wiring,
    eager_result,
    flattened,
    merge_tensors,
    written_constant,
)


def _graph_outputs(args: list[Value], kwargs: dict[str, Value]) -> Value | None:
    """The ``outputs`` of ``Model(inputs, outputs)`` (``output=``: the Keras 1 / early
    Keras 2 spelling, still in the wild)."""
    return args[1] if len(args) > 1 else kwargs.get("outputs", kwargs.get("output"))


# Conversions that keep an array's first (batch) dimension.
SAME_SAMPLES = frozenset({
    "tf.convert_to_tensor", "tf.cast", "tf.identity", "tf.constant", "numpy.array",
    "numpy.asarray", "numpy.float32", "numpy.copy",
})


# Transpositions that keep the samples on the first axis when their permutation does.
_TRANSPOSES = frozenset({"numpy.transpose", "tf.transpose"})


def _keeps_first_axis(permutation: Value) -> bool:
    """A permutation written as a tuple/list of constants that starts with axis 0."""
    if not isinstance(permutation, ListValue) or not permutation.items:
        return False
    first = permutation.items[0]
    return isinstance(first, Const) and first.value == 0 and not isinstance(first.value, bool)


# Fit methods whose targets are arrays of the batch's samples (not a generator's).
ARRAY_METHODS = frozenset({"fit", "train_on_batch"})


def _samples_in(data: Value | None) -> Samples | None:
    """The samples a model's input holds: the array itself, or for several inputs
    (`train_on_batch([imgs_a, imgs_b], y)`) one of them: every input has the batch's size."""
    if isinstance(data, ListValue):
        return next((item for item in data.items if isinstance(item, Samples)), None)
    return data if isinstance(data, Samples) else None


def sized_data(node: cst.Call, kwargs: dict[str, Value]) -> Dataset:
    """Batches of the call's literal ``batch_size=`` (the argument is where to act)."""
    size_arg = keyword(node, "batch_size")
    given = kwargs.get("batch_size", UNKNOWN)
    size = const_number(given) if size_arg is not None else None
    return Dataset(int(size), size_arg, size_value=written_constant(given)) if size is not None else (
        Dataset(None))


class KerasEffects(ReplayBase):
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
        if name.startswith("keras.optimizers.") or is_tf1_optimizer(name):
            return self.create_optimizer(name, node, args, kwargs)
        if name in api.gradient_tape:
            return Tape(node)
        if name.startswith("tqdm.") and name.rsplit(".", 1)[-1] in PROGRESS_BARS and args and (
                isinstance(args[0], Dataset)):
            return args[0]  # `tqdm(enumerate(loader))`: the same batches
        if name == "tf.train.Checkpoint":
            return Checkpoint(tuple(value for value in kwargs.values() if isinstance(value, Layer)))
        if name == "tf.train.CheckpointManager" and args and isinstance(args[0], Checkpoint):
            return args[0]  # `manager.save()` saves the checkpoint's models
        if name in {"numpy.expand_dims", "tf.expand_dims"} and args:
            # `np.expand_dims(img, 0)`: one sample made a batch of one
            axis = args[1] if len(args) > 1 else kwargs.get("axis", UNKNOWN)
            if isinstance(axis, Const) and axis.value == 0 and not isinstance(
                    axis.value, bool) and not isinstance(args[0], (Tensor, Layer)):
                return Samples(1, node)
            return UNKNOWN
        if name in SAME_SAMPLES and args and isinstance(args[0], Samples):
            return args[0]  # `tf.convert_to_tensor(batch)`: the same samples
        if name in _TRANSPOSES and args and isinstance(args[0], Samples) and _keeps_first_axis(
                args[1] if len(args) > 1 else kwargs.get("axes", kwargs.get("perm", UNKNOWN))):
            return args[0]  # `np.transpose(batch, (0, 2, 3, 1))`: still one sample per row
        if name in api.set_value and args:
            if isinstance(args[0], OptimizerAttr):
                self.record_set_lr(args[0].optimizer, node,
                                   args[1] if len(args) > 1 else kwargs.get("value", UNKNOWN))
            return UNKNOWN
        if name.startswith("keras.") and name.rsplit(".", 1)[-1] in DATASET_UTILITIES:
            return sized_data(node, kwargs)
        if name.startswith("keras.") and name.endswith(".ImageDataGenerator"):
            return DataGenerator(node)
        if name == "tf.data.Dataset.from_generator":
            shapes = kwargs.get("output_shapes", args[2] if len(args) > 2 else UNKNOWN)
            return generated_dataset(shapes, node)
        if name.startswith("tf.data."):
            return Dataset(None, item=dataset_item(name, args))
        if api.is_layer_class(name):
            return self.create_layer(name, node, kwargs, children=args)
        if name.startswith(("keras_hub.layers.", "keras_hub.models.")) and name.removesuffix(
                ".from_preset").endswith(HUB_PREPROCESSING):
            # ImageConverter, ...Preprocessor, ...Tokenizer: preprocessing, no BN
            return self.create_layer(name, node, kwargs)
        if name.startswith("os.environ") or name == "os.putenv":
            self.note_environment(node, args)
            return UNKNOWN
        merge = merge_layer_class(name, node)
        if merge is not None:
            # `layers.add([x, shortcut])`: an Add layer of the model, called on the list
            return self.call_layer(self.create_layer(merge, node, kwargs), node, args)
        if name.startswith(GRAPH_OP_PREFIXES) or (
                name.startswith("keras.applications.") and name.endswith(".preprocess_input")):
            # `layers.concatenate([a, b])`, `tf.nn.relu(x)`, `keras.ops.add(x, y)` on
            # symbolic tensors: no BN layer, the graph goes on
            operands = [item for value in [*args, *kwargs.values()]
                        for item in (value.items if isinstance(value, ListValue) else (value,))]
            tensor = merge_tensors(operands, node) or eager_result(operands, node)
            if tensor is not None:
                return tensor
        if not name.startswith(HARMLESS_PREFIXES):
            self.havoc(args, kwargs, node)
        return UNKNOWN

    def note_environment(self, node: cst.CSTNode, args: list[Value]) -> None:
        """``os.environ[name] = value`` / ``setdefault`` / ``putenv``: does it ask
        TensorFlow for its legacy Keras 2 (tf-keras)?"""
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

    def new_layer(self, name: str, node: cst.CSTNode, **fields: object) -> Layer:
        layer = Layer(qualname=name, node=node, **fields)  # type: ignore[arg-type]
        layer.journal, layer.serial = self.journal, len(self.model.layers)
        if self.current_method == "call" and self.current_self is not None:
            layer.made_in_call_of = self.current_self
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
            apply_to_layer(layer, trainable.value, definite=True)
        elif trainable is not None:
            apply_to_layer(layer, None, definite=True)
        return layer

    def create_sequential(self, name: str, node: cst.Call, args: list[Value],
                          kwargs: dict[str, Value]) -> Layer:
        model = self.new_layer(name, node, is_model=True, model_kind="sequential")
        items = args[0] if args else kwargs.get("layers")
        if isinstance(items, ListValue):
            elements = items.nodes or tuple(list_elements(node))
            for index, item in enumerate(items.items):
                where = elements[index] if index < len(elements) else node
                if isinstance(item, Layer) and is_input_layer(item):
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
                model.will_change()
                model.pretrained = True
                model.pretrained_node = node
        elif items is not None:
            model.has_bn = None
            model.has_dropout = None
        return model

    def create_functional(self, name: str, node: cst.Call, args: list[Value],
                          kwargs: dict[str, Value]) -> Value:
        if _graph_outputs(args, kwargs) is None:
            return UNKNOWN
        model = self.new_layer(name, node, is_model=True, model_kind="functional")
        self.wire_graph(model, args, kwargs)
        return model

    def wire_graph(self, model: Layer, args: list[Value], kwargs: dict[str, Value]) -> None:
        """The layers between a functional model's inputs and outputs become its own:
        ``Model(inputs, outputs)``, or a subclass of Model whose ``__init__`` builds the
        graph and hands it to ``super().__init__(inputs=..., outputs=...)``."""
        outputs = _graph_outputs(args, kwargs)
        if outputs is None:
            return
        model.will_change()
        inputs = args[0] if args else kwargs.get("inputs", kwargs.get("input"))
        sources = inputs.items if isinstance(inputs, ListValue) else (inputs,)
        if all(isinstance(item, Tensor) and item.symbolic and not item.history
               for item in sources):
            # one InputLayer per `keras.Input` (Input tensors built from another model's
            # `.input` are not counted: unknown)
            model.attrs["__input_count__"] = Const(len(sources))
        tensors = flattened(outputs)
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
        known = {(id(w.child), id(w.node)) for w in model.children}
        for wiring in history:
            if (id(wiring.child), id(wiring.node)) not in known:
                known.add((id(wiring.child), id(wiring.node)))
                model.children.append(wiring)

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
            model.will_change()
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
        argument = keyword(node, "trainable")
        if argument is not None:
            # `from_preset(..., trainable=False)` freezes like `model.trainable = False`
            value = kwargs.get("trainable", UNKNOWN)
            flag = value.value if isinstance(value, Const) else None
            self.record(Event("set_trainable", argument, model, self.context,
                              attr="trainable", value=value, value_node=argument.value,
                              trainable_before=True, bn_trainable_before=model.bn_trainable()))
            apply_to_layer(model, flag if isinstance(flag, bool) else None,
                            self.context.definite)
        return model

    def create_hub_layer(self, name: str, node: cst.Call, kwargs: dict[str, Value]) -> Layer:
        layer = self.new_layer(name, node, is_model=True, model_kind="application", has_bn=None,
                               has_dropout=None, opaque=True, pretrained=True,
                               pretrained_node=node)
        self.model.pretrained_signals.append(node)
        trainable = kwargs.get("trainable")
        flag = trainable.value if isinstance(trainable, Const) else (None if trainable else False)
        argument = keyword(node, "trainable")
        if argument is not None:
            # `hub.KerasLayer(url, trainable=...)` sets the flag like an assignment
            self.record(Event("set_trainable", argument, layer, self.context, attr="trainable",
                              value=trainable, value_node=argument.value,
                              trainable_before=False, bn_trainable_before=None))
        apply_to_layer(layer, flag if isinstance(flag, bool) else None, definite=True)
        return layer

    def create_loaded(self, name: str, node: cst.Call) -> Layer:
        self.model.pretrained_signals.append(node)
        loaded = self.new_layer(name, node, is_model=True, model_kind="loaded", has_bn=None,
                                has_dropout=None, opaque=True, pretrained=True,
                                pretrained_node=node)
        source = self.checkpointed_model(node)
        if source is not None:
            # the program's own checkpoint of the one model it trained: that model's
            # layers, its BatchNormalization layers frozen as they were when written
            loaded.has_bn = True
            loaded.inner_bn_trainable = False
            loaded.inner_other_trainable = None
            loaded.restored_from = source
        return loaded

    def checkpointed_model(self, node: cst.Call) -> Layer | None:
        """For ``load_model(path)`` of a path the program writes (``model.save(path)``,
        ``ModelCheckpoint(path)``): the model it wrote there, when the program trained
        exactly one model before and that model's BatchNormalization layers were all
        frozen when it last trained and still are (the reload then holds them frozen
        too)."""
        if not self.restores_own_checkpoint(node):
            return None
        trained = {id(event.target): event.target for event in self.model.events_of("fit")
                   if isinstance(event.target, Layer)}
        if len(trained) != 1:
            return None
        source = next(iter(trained.values()))
        if source.contains_bn() is not True:
            return None
        # frozen when it last trained (a checkpoint callback writes then) and still now (a
        # `save` may come after the training)
        changes: list[Event] = []
        before_fit: list[Event] = []
        last_fit: Event | None = None
        for event in self.model.events:
            if event.kind == "set_trainable":
                changes.append(event)
            elif event.kind == "fit" and event.target is source:
                last_fit, before_fit = event, list(changes)
        if last_fit is None or not (last_fit.bn_trainable_before is False
                                    or bn_frozen_by_slice(source, before_fit)):
            return None
        return source if source.bn_trainable() is False or bn_frozen_by_slice(
            source, changes) else None

    def create_clone(self, name: str, node: cst.Call, args: list[Value]) -> Layer:
        source = args[0] if args else None
        has_bn = source.contains_bn() if isinstance(source, Layer) else None
        return self.new_layer(name, node, is_model=True, model_kind="loaded", has_bn=has_bn,
                              has_dropout=None, opaque=True)

    def create_optimizer(self, name: str, node: cst.Call, args: list[Value],
                         kwargs: dict[str, Value]) -> Optimizer:
        rate_value = kwargs.get("learning_rate", args[0] if args else None)
        lr_arg = keyword(node, "lr")
        if rate_value is None and lr_arg is not None:
            rate_value = kwargs.get("lr")
        default = self.api.optimizer_defaults.get(name)
        optimizer = Optimizer(name, node, None, lr_kwarg_node=lr_arg)
        if rate_value is None:
            optimizer.learning_rate = default
            optimizer.default_rate = default is not None
        elif isinstance(rate_value, Schedule):
            optimizer.schedule = True
        elif isinstance(rate_value, Const) and rate_value.setting is not None:
            pass  # a rate from the command line or a config: a run may give another
        else:
            optimizer.learning_rate = const_number(rate_value)
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
        default: TrainingArg = training_default(call.node) if call is not None and isinstance(
            call.node, cst.FunctionDef) else "none"
        layer = self.new_layer(f"<{owner.name}>", node, is_model=owner.keras_base == "model",
                               model_kind="subclassed", has_bn=False, has_dropout=False,
                               is_bn=owner.batch_norm is True,
                               user_class=owner.name, call_training_default=default)
        layer.user_owner = owner
        return layer

    def call_layer(self, layer: Layer, node: cst.Call, args: list[Value],
                   kwargs: dict[str, Value] | None = None) -> Value:
        argument = keyword(node, "training") or self.positional_training(layer, node)
        training = training_arg(argument)
        if argument is None and any(arg.star for arg in node.args):
            training = "dynamic"  # `model(x, **kwargs)` / `model(*args)` may pass it
        forwards = (argument is not None and isinstance(argument.value, cst.Name)
                    and argument.value.value in self.current_params)
        if forwards and self.context.method_of is None and kwargs is not None:
            # `bn(x, training=training)` in a plain helper (`def block(x, training=True)`):
            # the parameter holds what the caller passed, or its default
            passed = kwargs.get("training")
            if isinstance(passed, Const) and isinstance(passed.value, bool):
                training = "true" if passed.value else "false"
                forwards = False
        elif training == "dynamic" and argument is not None and not forwards and kwargs:
            # `base(x, training=training)` with a module constant `training = False`:
            # that value, as if written there (a setting a run may change stays unknown)
            given = kwargs.get("training")
            if isinstance(given, Const) and isinstance(given.value, bool) and not (
                    given.assumed or given.setting is not None):
                training = "true" if given.value else "false"
        first = args[0] if args else None
        data = _samples_in(first)
        batch = data if training == "true" else None
        # a model trained by a custom step (`model(x, training=True)` on a tape): what
        # its layers' flags are at this step, as a fit records them
        step = training == "true" and layer.is_model and bool(self.context.tapes)
        self.record(Event("call", node, layer, self.context, training=training,
                          inputs=tuple(args), trainable_before=layer.trainable,
                          bn_trainable_before=layer.bn_trainable(),
                          forwards_training=forwards,
                          batch_size=batch.count if batch else None,
                          batch_node=batch.node if batch else None,
                          batch_value=batch.size_value if batch else None,
                          extra=state_snapshot(layer) if step else {}))
        self.note_subclass_wiring(layer, training, forwards, node)
        wiring = Wiring(layer, "call", training, node, forwards_training=forwards)
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
                return
        if layer.made_in_call_of is owner and layer is not owner:
            # `BatchNormalization()(out)` made and called in `call`: it runs in the
            # mode of each call of its maker
            owner.will_change()
            owner.children.append(Wiring(layer, "attribute", training, node,
                                         forwards_training=forwards, called=True,
                                         maybe=self.conditional()))

    def imported_train_step(self, layer: Layer) -> FunctionValue | None:
        """The ``train_step`` a model class defined in another module of the project
        gives its instances, when it has one."""
        owner = self.model.class_named(layer.user_class) if layer.user_class else None
        step = owner.methods.get("train_step") if owner is not None else None
        if step is None or step.origin is None or id(step.node) in self.active:
            return None
        return step

    def restores_own_checkpoint(self, node: cst.Call) -> bool:
        """``model.load_weights(path)`` of a path the same module writes weights to
        (``save_weights(path)``, ``ModelCheckpoint(path)``): the program's own
        checkpoint, resumed or reloaded, not weights trained elsewhere."""
        module = self.module if self.foreign_path is None else (
            self.model.project_modules.get(self.foreign_path))
        if module is None:
            return False
        loads = self.own_loads.get(id(module))
        if loads is None:
            loads = self.own_loads[id(module)] = own_checkpoint_loads(module)
        return id(node) in loads

    def own_step(self, layer: Layer, method: str) -> str | None:
        """The step method of the model's own class that ``evaluate``/``predict`` run
        instead of calling the whole model (a GAN whose ``test_step`` runs only its
        generator), when the class defines one."""
        step = "predict_step" if method.startswith("predict") else "test_step"
        owner = self.model.class_named(layer.user_class) if layer.user_class else None
        return step if owner is not None and step in owner.methods else None

    def call_model_method(self, layer: Layer, method: str, node: cst.Call, args: list[Value],
                          kwargs: dict[str, Value]) -> Value:
        if method == "compile":
            return self.compile_model(layer, node, args, kwargs)
        if method in FIT_METHODS:
            self.fit_model(layer, method, node, args, kwargs)
            return UNKNOWN
        if method in EVAL_METHODS:
            snapshot = state_snapshot(layer)
            step = self.own_step(layer, method)
            if step is not None:
                snapshot["own_step"] = step
            self.record(Event("evaluate", node, layer, self.context, method=method,
                              trainable_before=layer.trainable,
                              bn_trainable_before=layer.bn_trainable(),
                              extra=snapshot))
            return Tensor(False)
        if method == "add" and args and isinstance(args[0], Layer) and is_input_layer(args[0]):
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
        if method == "set_weights" and args and isinstance(args[0], Variables) and (
                args[0].layer is not None):
            # the weights another model trained, its BatchNormalization statistics included
            self.record(Event("copy_weights", node, layer, self.context, value=args[0]))
        if method == "load_weights" or copied:
            if not (method == "load_weights" and self.restores_own_checkpoint(node)):
                layer.will_change()
                layer.pretrained = True
                layer.pretrained_node = node
                self.model.pretrained_signals.append(node)
            self.record(Event("load_weights", node, layer, self.context))
            return UNKNOWN
        if method in {"__call__", "call"}:
            return self.call_layer(layer, node, args, kwargs)
        if layer.user_class is not None:
            owner = self.model.class_named(layer.user_class)
            if owner is not None and method in owner.methods:
                return self.call_function(owner.methods[method], args, kwargs, layer,
                                          site=node)
        child = layer.attrs.get(method)
        if isinstance(child, Layer):
            # `self.bn(x)`: a layer held in an attribute, called
            return self.call_layer(child, node, args, kwargs)
        if isinstance(child, (FunctionValue, BoundMethod)):
            function = child.function if isinstance(child, BoundMethod) else child
            bound = child.receiver if isinstance(child, BoundMethod) else None
            return self.call_function(function, args, kwargs, bound, site=node)
        if isinstance(child, Instance) and "__call__" in child.owner.methods:
            # `self.block(x)`: a callable object the model holds
            return self.call_function(child.owner.methods["__call__"], args, kwargs, child,
                                      site=node)
        return UNKNOWN

    def compile_model(self, layer: Layer, node: cst.Call, args: list[Value],
                      kwargs: dict[str, Value]) -> Value:
        value = kwargs.get("optimizer", args[0] if args else None)
        optimizer: Optimizer | None = None
        if isinstance(value, Optimizer):
            optimizer = value
        elif isinstance(value, Const) and isinstance(value.value, str):
            where = keyword(node, "optimizer")
            target = where.value if where is not None else (node.args[0].value if node.args
                                                            else node)
            optimizer = self.optimizer_from_string(value.value, target)
        layer.will_change()
        layer.attrs["optimizer"] = optimizer if optimizer is not None else UNKNOWN
        self.record(Event("compile", node, layer, self.context, optimizer=optimizer,
                          learning_rate=optimizer.learning_rate if optimizer else None,
                          trainable_before=layer.trainable,
                          bn_trainable_before=layer.bn_trainable(),
                          extra=state_snapshot(layer)))
        return UNKNOWN

    def fit_model(self, layer: Layer, method: str, node: cst.Call, args: list[Value],
                  kwargs: dict[str, Value]) -> None:
        batch_size: int | None = None
        batch_node: cst.CSTNode | None = None
        source: Const | None = None
        data = args[0] if args else kwargs.get("x", kwargs.get("generator"))
        size_arg = keyword(node, "batch_size")
        if size_arg is not None and not isinstance(data, Dataset) and not (
                isinstance(data, Instance) and data.owner.data_sequence):
            # (a dataset or a Sequence makes its own batches: fit ignores `batch_size=`)
            number = const_number(kwargs.get("batch_size", UNKNOWN))
            if number is not None:
                batch_size, batch_node = int(number), size_arg
                source = written_constant(kwargs.get("batch_size", UNKNOWN))
        if batch_size is None and isinstance(data, Dataset) and data.batch_size is not None:
            batch_size, batch_node, source = data.batch_size, data.batch_node, data.size_value
            given = keyword(node, "x") or keyword(node, "generator") or next(
                (arg for arg in node.args if arg.keyword is None and not arg.star), None)
            if data.from_generator and given is not None and not isinstance(
                    data.batch_node, cst.Arg):
                # the generator this fit trains on (no call of it gives `batch_size`)
                batch_node = given.value
        if batch_size is None and isinstance(data, Instance) and data.owner.data_sequence:
            held = sequence_batch_size(data)
            size = const_int(held)
            # where the code sets it: the Sequence's own argument or attribute, else the
            # settings object's (`cfg.batch_size = 2`)
            where = data.batch_node if BATCH_PARAMETER in data.attrs else (
                held.node if isinstance(held, Const) else None)
            if size is not None and size > 0 and where is not None:
                batch_size, batch_node = size, where  # a Sequence's batches
                source = written_constant(held)
        data = _samples_in(data) or data
        target = args[1] if len(args) > 1 else kwargs.get("y")
        if not isinstance(data, Samples) and method in ARRAY_METHODS and isinstance(
                target, Samples):
            data = target  # `train_on_batch(imgs, valid)`, `valid = np.ones((batch_size, 1))`
        if isinstance(data, Samples) and (batch_size is None or data.count < batch_size):
            # the data holds fewer samples than a batch: that is the batch
            batch_size, batch_node, source = data.count, data.node, data.size_value
        self.record(Event("fit", node, layer, self.context, method=method,
                          batch_size=batch_size, batch_node=batch_node, batch_value=source,
                          optimizer=optimizer_of(layer),
                          learning_rate=rate_of(layer),
                          trainable_before=layer.trainable,
                          bn_trainable_before=layer.bn_trainable(),
                          extra=state_snapshot(layer)))
        step = self.imported_train_step(layer) if method in {"fit", "fit_generator"} else None
        if step is not None:
            # `gan.fit(ds)` on a model class of another module: Keras runs its own
            # `train_step` on each batch (a class of this file is replayed on its own)
            self.call_function(step, [UNKNOWN], {}, layer, site=node)
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
        where = keyword(node, "sources")
        source_node = where.value if where is not None else (
            node.args[1].value if len(node.args) > 1 else None)
        watched = source_node is not None and any(
            text in tape.watched for text in source_texts(self.module, source_node))
        if all(isinstance(item, Variables) for item in items):
            variables: Tri = True
        elif watched or all(isinstance(item, Tensor) for item in items):
            variables = False  # gradients with respect to inputs
        else:
            variables = None
        self.record(Event("gradient", node, tape, self.context, inputs=(target, *items),
                          sources_are_variables=variables))
        return UNKNOWN

    def set_trainable(self, owner: Value, target: cst.Attribute, value: Value,
                      value_node: cst.BaseExpression) -> None:
        flag: Tri = None
        if isinstance(value, Const) and isinstance(value.value, bool):
            flag = value.value
        elif isinstance(value, Const) and isinstance(value.value, str):
            # `trainable = "False"`: Keras 3 stores bool(value), tf-keras the string, and
            # both read it as a truth value (F14): a non-empty string leaves it trainable
            flag = bool(value.value)
        layer = owner if isinstance(owner, Layer) else None
        selection = owner if isinstance(owner, LayerSelection) else None
        before = layer.trainable if layer else (selection.container.trainable if selection else None)
        bn_before = layer.bn_trainable() if layer else (
            _selected_bn_trainable(selection) if selection else None)
        self.record(Event("set_trainable", target, owner, self.context, attr="trainable",
                          value=value, value_node=value_node, selection=selection,
                          trainable_before=before, bn_trainable_before=bn_before))
        definite = self.context.definite
        if layer is not None:
            apply_to_layer(layer, flag, definite)
        elif selection is not None:
            apply_to_selection(selection, flag, definite)

    def record_set_lr(self, optimizer: Optimizer | None, node: cst.CSTNode, value: Value) -> None:
        # a rate from the command line or a config is unknown: a run may give another
        rate = None if isinstance(value, Const) and value.setting is not None else (
            const_number(value))
        self.record(Event("set_lr", node, optimizer, self.context, optimizer=optimizer,
                          learning_rate=rate, value=value))
        if optimizer is not None and self.context.definite:
            optimizer.learning_rate = rate
            optimizer.default_rate = False
            optimizer.schedule = isinstance(value, Schedule)


def _selected_bn_trainable(selection: LayerSelection) -> Tri:
    """Were the BatchNormalization layers a selection reaches trainable before it is
    assigned? For known members: True when every member holding BN had them trainable,
    False when one had them all frozen; otherwise the container's state."""
    if selection.members is None:
        return selection.container.bn_trainable()
    states = [member.bn_trainable() for member in selection.members
              if member.contains_bn() is not False]
    if all(state is True for state in states):
        return True
    return False if any(state is False for state in states) else None


def merge_layer_class(name: str, node: cst.Call) -> str | None:
    """The layer class a functional merge helper makes (``keras.layers.add`` ->
    ``keras.layers.Add``), when it is given just the list of tensors (a second positional
    argument would be read as ``training``)."""
    module, _, function = name.rpartition(".")
    if module not in {"keras.layers", "keras.layers.merge"} or function not in MERGE_FUNCTIONS:
        return None
    positional = [arg for arg in node.args if arg.keyword is None]
    if len(positional) != 1 or positional[0].star:
        return None
    return f"keras.layers.{MERGE_FUNCTIONS[function]}"


# tf.data constructors whose element is the structure they are given.
_STRUCTURED_DATASETS = frozenset({"tf.data.Dataset.zip", "tf.data.Dataset.from_tensor_slices",
                                  "tf.data.Dataset.from_tensors"})


def generated_dataset(shapes: Value, node: cst.Call) -> Dataset:
    """``Dataset.from_generator(gen, output_shapes=((batch_size, 256, 256, 3), ...))``:
    the first axis of the first shape is the size of every batch the generator yields
    (None when it is not a known number); a tuple of shapes gives elements of as many
    parts."""
    first = shapes
    item: ListValue | None = None
    if isinstance(shapes, ListValue) and shapes.items and isinstance(shapes.items[0], ListValue):
        if any(isinstance(part, ListValue) and not part.items for part in shapes.items):
            return Dataset(None)  # a scalar part, `((2,), ())`: one sample per element
        first = shapes.items[0]
        item = ListValue((UNKNOWN,) * len(shapes.items))
    given = first.items[0] if isinstance(first, ListValue) and first.items else UNKNOWN
    size = const_int(given)
    if size is None or size < 1:
        return Dataset(None, item=item)
    return Dataset(size, _batch_axis(node) or node, from_generator=True,
                   size_value=written_constant(given), item=item)


def _batch_axis(node: cst.Call) -> cst.BaseExpression | None:
    """Where ``output_shapes=`` of a ``from_generator`` call writes the batch axis of
    its first shape (``args.batch_size`` in ``((args.batch_size, 256, 3), ...)``)."""
    written = next((arg.value for arg in node.args
                    if arg.keyword is not None and arg.keyword.value == "output_shapes"), None)
    if written is None and len(node.args) > 2 and node.args[2].keyword is None:
        written = node.args[2].value
    while isinstance(written, (cst.Tuple, cst.List)) and written.elements:
        first = written.elements[0].value
        if not isinstance(first, (cst.Tuple, cst.List)):
            return first
        written = first
    return None


def dataset_item(name: str, args: list[Value]) -> ListValue | None:
    """The element structure of a dataset made from a tuple: ``zip((a, b))`` and
    ``from_tensor_slices((x, y))`` give pairs, so ``batch[0]`` of a batch is the batch
    of ``a``. Zipped datasets of known structure keep theirs; None when not a tuple."""
    if name not in _STRUCTURED_DATASETS or not args or not isinstance(args[0], ListValue):
        return None
    return ListValue(tuple(entry.item if isinstance(entry, Dataset) and entry.item is not None
                           else UNKNOWN for entry in args[0].items))
