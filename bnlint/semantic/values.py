"""Abstract values the semantic model binds to names.

Identity matters: one ``Layer`` object stands for one Keras layer/model instance, so
every event that touches it refers to the same Python object. ``None`` in a
``bool | None`` field means "unknown" and rules treat it as such: they fire only on
definite facts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import libcst as cst

Tri = bool | None
ModelKind = Literal["layer", "sequential", "functional", "subclassed", "application", "loaded"]
# How a layer is wired into the model that contains it.
WiringMode = Literal["sequential", "call", "flattened", "attribute"]
# The ``training=`` argument of a call, as written.
TrainingArg = Literal["absent", "true", "false", "none", "dynamic"]


class Value:
    """Base of all abstract values."""

    __slots__ = ()


class Unknown(Value):
    """A value the model does not know anything about."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN = Unknown()


class Replicas(Value):
    """``strategy.num_replicas_in_sync``: how many replicas of a ``tf.distribute``
    strategy share each global batch (a number the code cannot know)."""

    __slots__ = ()


REPLICAS = Replicas()


class Opaque(Unknown):
    """An unknown value known by the name it was read from: ``args.use_pix2pix`` where
    nothing says what ``args`` holds (a parameter of a class replayed on its own). Stored
    on the way (``self.use_pix2pix = args.use_pix2pix``) it is still that value, so an
    ``if`` on either reads one condition. Otherwise it is as unknown as ``UNKNOWN``."""

    __slots__ = ("key", "name")

    def __init__(self, name: str, key: str | None = None) -> None:
        self.name = name
        # what tells it apart from other values of that name: a parameter's is its name
        # and the parameter (`use_bn#<id>`), so that two functions' `use_bn` are two values
        self.key = key or name

    def __repr__(self) -> str:
        return f"UNKNOWN({self.name})"


@dataclass(eq=False, slots=True)
class Const(Value):
    """A Python constant: int, float, str, bool or None (after constant folding)."""

    value: object
    node: cst.CSTNode | None = None
    # A parameter's default in a function replayed on its own (an entry point): one
    # value a caller may pass, not the only one, so comparisons with it decide nothing.
    assumed: bool = False
    # A setting of the shipped configuration (a command-line option's default, an entry
    # of a JSON/YAML file the program reads): what a run with nothing else given uses.
    # Assumed as well, and an ``if`` on it may still go either way. Says where it comes
    # from ("the default of `--batch-size`", "`config.json`").
    setting: str | None = None
    # The argument of the outermost call that handed this constant on by name
    # (`run(size)`, `load(batch_size=BATCH_SIZE)`): where the user sets what that call
    # passes on, as for a number written as the argument itself.
    passed_at: cst.Arg | None = None
    # Which entry of the settings file ``setting`` names it is (`train.finetune`): two
    # entries of one file are two settings.
    entry: str | None = None
    # Worked out from a setting (`args.stage + "_resnet50"`, `args.bs * 2`): it comes
    # from the setting, but is not its value.
    derived: bool = False
    # A setting a run may replace by a value of another type: an option's default
    # without `type=` or a `store_true` action (given, it is a string).
    other_types: bool = False


@dataclass(eq=False, slots=True)
class ModuleRef(Value):
    """A name that refers to an imported module or symbol, by its canonical name."""

    name: str


@dataclass(eq=False, slots=True)
class Wiring:
    """A child layer/model inside a container, and how it is called there."""

    child: Layer
    mode: WiringMode
    training: TrainingArg
    node: cst.CSTNode
    # `training=training`: the enclosing function's own parameter is passed on.
    forwards_training: bool = False
    # For attribute children of a subclassed model: seen called in its ``call()``.
    called: bool = False
    # Called on an arm of an ``if`` in a loop whose test is the same on every iteration
    # and unknown (`if use_bn and i > 0:`): the layer may not be in the graph at all.
    maybe: bool = False


def _maybe(wiring: Wiring, result: Tri) -> Tri:
    """What ``wiring``'s child contributes: a definite yes is only a maybe when the
    call itself may not have happened."""
    return None if wiring.maybe and result is True else result


@dataclass(eq=False, slots=True)
class Layer(Value):
    """A Keras layer or model instance (a Model is a Layer in Keras)."""

    qualname: str
    node: cst.CSTNode
    label: str = ""
    # How far from the linted file's own code the label was given: (1 inside another
    # module, else 0; calls deep). A name given nearer to the user's code wins.
    label_distance: tuple[int, int] = (2, 0)
    is_bn: bool = False
    bn_v1: bool = False
    is_dropout: bool = False
    is_model: bool = False
    model_kind: ModelKind = "layer"
    # Does it (transitively) contain BN layers? True/False/None (unknown).
    has_bn: Tri = False
    has_dropout: Tri = False
    # Inner layers the model does not track one by one (an application's, a loaded
    # model's, a flattened base's).
    opaque: bool = False
    pretrained: bool = False
    pretrained_node: cst.CSTNode | None = None
    user_class: str | None = None
    # the user class itself, whose methods (its bases' included) run on the layer
    user_owner: ClassValue | None = None
    children: list[Wiring] = field(default_factory=list)
    attrs: dict[str, Value] = field(default_factory=dict)
    # Trainable state: the layer's own flag, and that of its untracked inner BN and
    # other layers. Set by containers recursively (F7).
    trainable: Tri = True
    inner_bn_trainable: Tri = True
    inner_other_trainable: Tri = True
    # User classes: the default of the `training` parameter of their `call` ("absent"
    # when `call` has no such parameter). Built-in Keras layers default to None.
    call_training_default: TrainingArg = "none"
    # keras.applications models: (fewest layers of any variant, largest distance of the
    # last BN layer from the end of `.layers`), when measured.
    layer_shape: tuple[int, int] | None = None
    # Where the replay keeps the state this layer had before an entry point changed it
    # (set for the layers of the semantic model; see ``StateJournal``).
    journal: StateJournal | None = None
    serial: int = 0
    # Made inside the ``call()`` of this user layer (``BatchNormalization()(out)`` in
    # ``call``): it runs whenever that layer is called.
    made_in_call_of: Layer | None = None
    # Loaded from the program's own checkpoint of this model (``load_model(path)`` of
    # the path its ``ModelCheckpoint`` wrote), its BatchNormalization layers frozen.
    restored_from: Layer | None = None

    def will_change(self) -> None:
        """Called before the replay changes the state an entry point must not leave
        behind (trainable flags, ``pretrained``, ``attrs``)."""
        if self.journal is not None:
            self.journal.remember(self)

    def descendants(self) -> list[Layer]:
        """Tracked layers inside this one, depth first (without itself)."""
        found: list[Layer] = []
        seen: set[int] = {id(self)}
        stack = [wiring.child for wiring in reversed(self.children)]
        while stack:
            layer = stack.pop()
            if id(layer) in seen:
                continue
            seen.add(id(layer))
            found.append(layer)
            stack.extend(wiring.child for wiring in reversed(layer.children))
        return found

    def contains_bn(self) -> Tri:
        """Does this layer run a BN layer when called? (itself, tracked, or opaque)."""
        if self.is_bn:
            return True
        if self.has_bn:
            return True
        results = [_maybe(child, child.child.contains_bn()) for child in self.children]
        if any(result is True for result in results):
            return True
        if self.has_bn is None or any(result is None for result in results):
            return None
        return False

    def contains_dropout(self) -> Tri:
        if self.is_dropout or self.has_dropout:
            return True
        results = [_maybe(child, child.child.contains_dropout()) for child in self.children]
        if any(result is True for result in results):
            return True
        if self.has_dropout is None or any(result is None for result in results):
            return None
        return False

    def bn_trainable(self) -> Tri:
        """Is some BN layer inside (or this BN layer) trainable right now?

        True: at least one BN is definitely trainable; False: every BN is definitely
        frozen (or there is none); None: unknown."""
        if self.is_bn:
            return self.trainable
        states: list[Tri] = []
        if self.has_bn is not False:
            states.append(self.inner_bn_trainable if self.has_bn else None)
        for wiring in self.children:
            if wiring.child.contains_bn() is not False:
                states.append(_maybe(wiring, wiring.child.bn_trainable()))
        if any(state is True for state in states):
            # has_bn None with inner state True is still only a maybe
            if self.has_bn is None and not any(
                _maybe(w, w.child.bn_trainable()) is True for w in self.children
            ):
                return None
            return True
        if all(state is False for state in states):
            return False
        return None

    def runs_in_outer_mode(self, kind: Literal["bn", "dropout"]) -> Tri:
        """When this layer is called, does some trainable BN layer (``kind="bn"``) or
        some Dropout layer (``kind="dropout"``) inside it run in the mode of that call,
        i.e. no explicit ``training=`` on the way fixes its mode?

        True: at least one definitely does; False: none does; None: unknown."""
        return _runs_in_outer_mode(self, kind, set())

    def set_trainable(self, value: Tri) -> None:
        """``layer.trainable = value``: recursive over everything inside (F7)."""
        self.will_change()
        self.trainable = value
        self.inner_bn_trainable = value
        self.inner_other_trainable = value
        for layer in self.descendants():
            layer.will_change()
            layer.trainable = value
            layer.inner_bn_trainable = value
            layer.inner_other_trainable = value


LayerState = tuple[Layer, Tri, Tri, Tri, bool, dict[str, "Value"]]


class StateJournal:
    """The state of the layers that existed when an entry point's replay began, each
    recorded just before the replay first changes it, so that the next entry point
    starts from the state the module left (and not after the others). Recording only
    what changes keeps a file of many entry points linear: copying every layer's state
    for each of them was quadratic."""

    __slots__ = ("limit", "saved")

    def __init__(self) -> None:
        self.limit = 0  # layers with a serial below it are recorded; 0: none
        self.saved: dict[int, LayerState] = {}

    def start(self, layers: int) -> None:
        """Record the first change of each of the first ``layers`` layers from now."""
        self.limit, self.saved = layers, {}

    def remember(self, layer: Layer) -> None:
        if layer.serial < self.limit and id(layer) not in self.saved:
            self.saved[id(layer)] = (layer, layer.trainable, layer.inner_bn_trainable,
                                     layer.inner_other_trainable, layer.pretrained,
                                     dict(layer.attrs))

    def restore(self) -> None:
        """Put back every recorded state and stop recording."""
        for layer, trainable, inner_bn, inner_other, pretrained, attrs in self.saved.values():
            layer.trainable, layer.inner_bn_trainable = trainable, inner_bn
            layer.inner_other_trainable, layer.pretrained = inner_other, pretrained
            layer.attrs = attrs
        self.limit, self.saved = 0, {}


def merge_tensors(values: Sequence[Value], node: cst.CSTNode | None = None,
                  extra: tuple[Wiring, ...] = ()) -> Tensor | None:
    """The symbolic tensor computed from ``values`` (layer inputs, operands): the union of
    the graphs behind the symbolic ones, incomplete when other values are unknown.
    None when no value is a symbolic tensor."""
    tensors = [value for value in values if isinstance(value, Tensor) and value.symbolic]
    if not tensors:
        return None
    complete = all(tensor.complete for tensor in tensors) and all(
        isinstance(value, (Tensor, Const)) for value in values
    )
    return Tensor(True, (*_joined_history(tensors), *extra), node, complete)


def _joined_history(tensors: Sequence[Tensor]) -> tuple[Wiring, ...]:
    """The layer calls behind any of ``tensors``, each once, in order of appearance."""
    history: list[Wiring] = []
    seen: set[int] = set()
    for tensor in tensors:
        for wiring in tensor.history:
            if id(wiring) not in seen:
                seen.add(id(wiring))
                history.append(wiring)
    return tuple(history)


def eager_result(values: Sequence[Value], node: cst.CSTNode) -> Tensor | None:
    """``tf.reduce_mean(critic(x, training=True))`` in a training step: an eager tensor
    computed from the outputs of layer calls keeps those calls behind it (which model
    a gradient's target came from). None unless some operand is such an output."""
    history = _joined_history([value for value in values
                               if isinstance(value, Tensor) and not value.symbolic])
    return Tensor(False, history, node) if history else None


def flattened(value: Value) -> tuple[Value, ...]:
    """The values of a (nested) list: ``Model(inputs, (boxes, raw))``."""
    if not isinstance(value, ListValue):
        return (value,)
    return tuple(leaf for item in value.items for leaf in flattened(item))


def track_layers(holder: Layer, items: ListValue, node: cst.CSTNode) -> None:
    """``self.blocks = [Conv2D(...), BatchNormalization()]`` on a layer: Keras tracks the
    layers of a list held as an attribute (nested lists too) as the holder's own, and
    those appended to it later (``self.blocks.append(...)``)."""
    lists, seen = [items], set()
    while lists:
        current = lists.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if not any(held is holder for held in current.holders):
            current.holders.append(holder)
        for item in current.items:
            if isinstance(item, ListValue):
                lists.append(item)
            elif isinstance(item, Layer) and item is not holder and not any(
                    wiring.child is item for wiring in holder.children):
                holder.will_change()
                holder.children.append(Wiring(item, "attribute", "absent", node,
                                              maybe=id(item) in current.maybe_items))


def common_graph(values: Sequence[Value], node: cst.CSTNode) -> Tensor | None:
    """One item, not known which, of a list of symbolic tensors (``feats[2]`` of feature
    maps appended in a loop): the layer calls behind every item are behind it; the graph
    may hold more. None unless every item is a symbolic tensor."""
    tensors = [value for value in values if isinstance(value, Tensor) and value.symbolic]
    if not tensors or len(tensors) != len(values):
        return None
    others = [{id(w) for w in other.history} for other in tensors[1:]]
    history = tuple(wiring for wiring in tensors[0].history
                    if all(id(wiring) in ids for ids in others))
    return Tensor(True, history, node, complete=False)


def _runs_in_outer_mode(layer: Layer, kind: Literal["bn", "dropout"], seen: set[int]) -> Tri:
    if id(layer) in seen:
        return False
    seen.add(id(layer))
    if kind == "bn" and layer.is_bn:
        return layer.trainable
    if kind == "dropout" and layer.is_dropout:
        return True
    results: list[Tri] = []
    own = layer.has_bn if kind == "bn" else layer.has_dropout
    if own is True:
        results.append(layer.inner_bn_trainable if kind == "bn" else True)
    elif own is None:
        results.append(None)
    for wiring in layer.children:
        child = wiring.child
        if child.call_training_default == "true":
            results.append(False)  # its own default runs it in training mode
        elif wiring.mode in {"sequential", "flattened"} or wiring.forwards_training or (
            wiring.training in {"absent", "none"}
        ):
            results.append(_maybe(wiring, _runs_in_outer_mode(child, kind, seen)))
        elif wiring.training in {"true", "false"}:
            results.append(False)  # fixed explicitly
        else:
            results.append(None)
    if any(result is True for result in results):
        return True
    if all(result is False for result in results):
        return False
    return None


@dataclass(eq=False, slots=True)
class Optimizer(Value):
    """An optimizer; ``learning_rate`` is None when not a known constant."""

    qualname: str
    node: cst.CSTNode
    learning_rate: float | None
    default_rate: bool = False
    schedule: bool = False
    lr_kwarg_node: cst.CSTNode | None = None
    from_string: bool = False


@dataclass(eq=False, slots=True)
class Tensor(Value):
    """A tensor. ``symbolic`` when it flows from ``keras.Input`` (a functional graph);
    ``history`` lists the layer calls that produced it."""

    symbolic: bool
    history: tuple[Wiring, ...] = ()
    inputs_node: cst.CSTNode | None = None
    # False when part of the graph behind it is unknown (an input of unknown origin was
    # merged in), so the history may miss layers.
    complete: bool = True


@dataclass(eq=False, slots=True)
class LayerSelection(Value):
    """Some layers of a container: ``container.layers[...]``, a loop variable over them,
    or ``container.get_layer(...)``. ``guard`` narrows by isinstance/name checks."""

    container: Layer
    node: cst.CSTNode
    # "all", "slice" (contiguous part, at least a few layers), "one" (a single layer).
    extent: Literal["all", "slice", "one"] = "all"
    guard: Literal["none", "bn", "not_bn"] = "none"
    # When the container's layers are tracked individually: the exact ones selected.
    members: tuple[Layer, ...] | None = None
    element: bool = False  # an element (loop variable / index), not the list itself
    # For a slice without a step: its bounds when they are known integers (None for an
    # omitted bound); None when unknown.
    bounds: tuple[int | None, int | None] | None = None
    # A leading ("head") or trailing ("tail") part of the layers whose boundary is not
    # known: the layers before / from the one at which a flag flips inside the loop
    # (``if layer.name == "block5_conv1": set_trainable = True``). Which layers, and so
    # which BatchNormalization layers, it holds is unknown.
    anchor: Literal["none", "head", "tail"] = "none"

    def keeps_bn_tail(self, base: Layer | None = None, head: int | None = None) -> bool:
        """Does this slice certainly leave some BN layer of the container out, at the
        end of its layer list (``layers[:100]``, ``layers[:-20]`` of a measured
        application)? A margin of three layers covers differences between versions.
        With ``base``, the measured application whose layers begin the container's
        list (a model built on ``base.output``), followed by ``head`` layers when that
        is known: does ``layers[:N]`` (or ``layers[:-N]``) leave some of the base's BN
        layers out?"""
        shape = (base or self.container).layer_shape
        if self.extent != "slice" or self.bounds is None or shape is None:
            return False
        lower, upper = self.bounds
        if lower not in (None, 0) or upper is None:
            return False
        if base is not None and upper < 0:
            if head is None or upper + head >= 0:
                return False
            upper += head  # `model.layers[:-20]` past a head of 4: the base's last 16
        fewest, last_bn = shape
        tail = -upper if upper < 0 else fewest - upper
        return tail >= last_bn + 3


@dataclass(eq=False, slots=True)
class Samples(Value):
    """An array whose first (batch) dimension is certainly ``count``: a single sample
    made a batch (``np.expand_dims(img, 0)``, ``x[None]``, ``x[i:i + 1]``), or a batch
    that a loop takes from the project's generator of ``batch_size=count``; ``node``
    is the expression that fixes it."""

    count: int
    node: cst.CSTNode
    # the constant the count came from, where the code (or a setting) writes it
    size_value: Const | None = None


@dataclass(eq=False, slots=True)
class Dataset(Value):
    """A tf.data pipeline; ``batch_size`` from a literal ``.batch(n)``. Also the batches
    of a generator function of the project called with a known ``batch_size``
    (``from_generator``): the fit that trains on it is where they are seen."""

    batch_size: int | None
    batch_node: cst.CSTNode | None = None
    from_generator: bool = False
    # the constant the batch size came from, where the code (or a setting) writes it
    size_value: Const | None = None
    # what a generator yields, when every `yield` has the same nesting of lists and
    # tuples (`yield [images, [boxes, classes]], zeros`): where its arrays sit in a batch
    item: ListValue | None = None
    # under `enumerate(...)` (or `.enumerate()`): each element is a (step, batch) pair
    enumerated: bool = False


@dataclass(eq=False, slots=True)
class LayerCount(Value):
    """``len(container.layers)``, or that many less ``offset`` (negative):
    ``len(model.layers) - n``."""

    container: Layer
    offset: int = 0


@dataclass(eq=False, slots=True)
class LayerIndex(Value):
    """An index running over ``container.layers`` from ``start``:
    ``for i in range(len(model.layers))`` (or ``range(start, len(...))``), or the counter
    of ``for i, layer in enumerate(model.layers)``, whose layer is the loop variable
    named ``element``."""

    container: Layer
    start: int | None = None
    element: str | None = None
    counted_from: int = 0  # `enumerate(layers, 1)`: the counter's first value


@dataclass(eq=False, slots=True)
class Checkpoint(Value):
    """A ``tf.train.Checkpoint`` (or a ``tf.train.CheckpointManager`` of one): its
    ``save()`` writes the weights, moving statistics included, of the models in
    ``saves`` for later use."""

    saves: tuple[Layer, ...]


@dataclass(eq=False, slots=True)
class PositionRange(Value):
    """An index running over fixed positions, ``start`` up to ``stop``:
    ``for i in range(142)``, used as ``model.layers[i]``."""

    start: int
    stop: int


@dataclass(eq=False, slots=True)
class DataGenerator(Value):
    """A Keras ``ImageDataGenerator``: its ``flow*`` methods yield batches of their
    ``batch_size=``."""

    node: cst.CSTNode


@dataclass(eq=False, slots=True)
class Tape(Value):
    """A ``tf.GradientTape``; ``watched`` holds the source text of what
    ``tape.watch(...)`` was given (inputs whose gradients are wanted)."""

    node: cst.CSTNode
    watched: list[str] = field(default_factory=list)
    # PyTorch autograd (Keras 3 on the torch backend): not a ``with`` block but a method
    # that calls ``loss.backward()``, all of whose operations are recorded
    autograd: bool = False


@dataclass(eq=False, slots=True)
class FunctionValue(Value):
    """A user function (or method) defined in this file, or a ``lambda`` expression
    (one value per evaluation of the expression: each closes over its own scope)."""

    node: cst.FunctionDef | cst.Lambda
    qualname: str
    owner: ClassValue | None = None
    # Default values of parameters, evaluated once where the function is defined (as
    # Python does): `def build(opt=Adam(lr=2e-4))` creates its optimizer there.
    defaults: dict[str, Value] = field(default_factory=dict)
    # the global scope (an ``Env``) and path of the project module that defines it;
    # None for the linted file's own
    globals: object | None = None
    origin: str | None = None
    # the scope (an ``Env``) of the function it is defined in: a nested function reads
    # the enclosing function's names (``def train_step(...)`` inside ``main()``)
    closure: object | None = None


@dataclass(eq=False, slots=True)
class Partial(Value):
    """``functools.partial(callee, *args, **kwargs)``: a call of it calls ``callee``
    with these arguments first (``partial(Conv2D, padding="same")``)."""

    callee: Value
    args: tuple[Value, ...]
    kwargs: dict[str, Value]


@dataclass(eq=False, slots=True)
class ClassValue(Value):
    """A user class defined in this file; ``keras_base`` when it subclasses a Keras
    Layer/Model."""

    node: cst.ClassDef
    name: str
    keras_base: Literal["layer", "model"] | None
    methods: dict[str, FunctionValue] = field(default_factory=dict)
    bases: tuple[Value, ...] = ()
    # the arguments of the first instantiation seen (for replaying methods nobody calls)
    arguments: tuple[list[Value], dict[str, Value]] | None = None
    # a subclass of Keras's BatchNormalization: True when its instances certainly are
    # BatchNormalization layers (no ``call`` of its own, or one that runs
    # ``super().call``), None when its own ``call`` may compute anything, else False
    batch_norm: Tri = False
    # a subclass of `keras.utils.Sequence` / `PyDataset`: its instances are the batches
    # `fit()` trains on, of their `batch_size` attribute
    data_sequence: bool = False
    # constants its body binds (`batch_size = 2` of a configuration class), its bases'
    # included: what `Config.batch_size` and `Config().batch_size` read until assigned
    constants: dict[str, Value] = field(default_factory=dict)


@dataclass(eq=False, slots=True)
class Instance(Value):
    """An instance of a plain (non-Keras) user class, with what its methods stored on
    ``self``: a GAN class keeps ``self.discriminator`` and ``self.combined`` across
    ``__init__`` and ``train``. For a data sequence, ``batch_node`` is where the
    user's code set its batch size (the constructor's argument, or an assignment of
    ``.batch_size``)."""

    owner: ClassValue
    node: cst.CSTNode
    attrs: dict[str, Value] = field(default_factory=dict)
    batch_node: cst.CSTNode | None = None
    # the branches (a replay context's ``path``) under which it was made: what its
    # methods set under the same branches holds wherever it exists
    made_under: tuple[object, ...] = ()


@dataclass(eq=False, slots=True)
class ProjectModule(Value):
    """A module of the user's project imported by the linted file (``import models``):
    its global names (an ``Env``) as its replay left them."""

    path: str
    names: object


@dataclass(eq=False, slots=True)
class ArgumentParser(Value):
    """An ``argparse.ArgumentParser`` (or one of its argument groups, which share its
    ``defaults``): each option's default so far, by destination."""

    defaults: dict[str, Value] = field(default_factory=dict)


@dataclass(eq=False, slots=True)
class ParsedArguments(Value):
    """What ``parser.parse_args()`` returns on a run given no options: the defaults,
    read as ``args.batch_size`` (and changed by ``args.batch_size = 8``)."""

    attrs: dict[str, Value] = field(default_factory=dict)


@dataclass(eq=False, slots=True)
class OpenedFile(Value):
    """``open(path)`` of a data file of the project (JSON or YAML) that the program may
    read its settings from; ``path`` is the file found, when it exists."""

    path: str | None


@dataclass(eq=False, slots=True)
class ListValue(Value):
    """A list/tuple literal of values (starred lists spliced in); ``nodes`` are the
    element expressions the items come from, when known."""

    items: tuple[Value, ...]
    nodes: tuple[cst.CSTNode, ...] | None = None
    # Set once the list may have changed since its display (``append``, an element
    # assigned, handed to a function bnlint cannot follow): its length and the position
    # of its items are then unknown (``items`` still holds what was appended).
    changed: bool = False
    # Made by a comprehension whose every element is a new layer (or such a list) made
    # by the same expression: ``items`` holds the one made while reading it, which stands
    # for each element (``[BatchNormalization() for _ in range(depth)]``).
    uniform: bool = False
    # The layers this list is an attribute of: Keras tracks the layers in it, those
    # appended later too (``self.blocks.append(Conv2D(...))``).
    holders: list[Layer] = field(default_factory=list)
    # Items appended on a path that may not run (``if use_bn: stack.append(BN())``), by
    # id: they may not be in the list at all.
    maybe_items: set[int] = field(default_factory=set)

    def one_item(self) -> Value | None:
        """The item any subscript reads, whatever its index: the element standing for
        each of a uniform list, or the single layer appended (maybe in a loop) to a
        list that changed. None when the index decides."""
        if self.uniform and len(self.items) == 1:
            return self.items[0]
        if self.changed and len(self.items) == 1 and isinstance(self.items[0], Layer):
            return self.items[0]
        return None


@dataclass(eq=False, slots=True)
class DictValue(Value):
    """A dict display whose keys are constants (``{"resnet50": ResNet50, ...}``): a
    lookup with a known key gives the entry. ``open`` once the dict may hold anything
    else (a key that is not a constant, ``**spread``, a mutating method, an assignment
    on one path only): then every lookup is unknown."""

    entries: dict[object, Value]
    node: cst.CSTNode | None = None
    open: bool = False
    # a dict whose entries are read and set as attributes too (`cfg.TRAIN.BATCH_SIZE`
    # of an EasyDict, a SimpleNamespace)
    attributes: bool = False

    def lookup(self, key: Value) -> Value | None:
        """The entry under ``key`` when both are certainly known, else None. A setting
        keys the builder a run with nothing else given takes (`BACKBONES[args.backbone]`
        with the option's default), as it sizes that run's batches; a value it keys
        (`{"linear": False, "full": True}[args.mode]`) stays unknown, since a run may
        pass another option and a constant would decide `if`s and rates."""
        if self.open:
            return None
        if is_constant_key(key):
            assert isinstance(key, Const)
            return self.entries.get(key.value)
        if is_setting_key(key):
            assert isinstance(key, Const)
            entry = self.entries.get(key.value)
            return entry if isinstance(entry, (ModuleRef, Layer, FunctionValue, Partial,
                                               ClassValue)) else None
        return None


# Classes whose instances hold their entries as attributes, built empty or from keyword
# arguments or a dict: configuration objects (`cfg = EasyDict(); cfg.TRAIN = EasyDict()`).
ATTRIBUTE_DICTS = frozenset({
    "easydict.EasyDict", "types.SimpleNamespace", "argparse.Namespace",
    "ml_collections.ConfigDict", "ml_collections.config_dict.ConfigDict", "addict.Dict",
    "munch.Munch", "box.Box",
})

# Methods of a dict that leave its entries as they are, and of a list that leave it as
# it is.
READING_DICT_METHODS = frozenset({"get", "keys", "values", "items", "copy", "__contains__"})
READING_LIST_METHODS = frozenset({"count", "index", "copy"})


def written_constant(value: Value) -> Const | None:
    """``value`` when it is a constant written somewhere in the code (or a setting
    read from a file), else None: where a number such as a batch size is set."""
    return value if isinstance(value, Const) and value.node is not None else None


def is_constant_key(key: Value) -> bool:
    """A constant that can key a dict the way the program's own dict would be keyed."""
    return isinstance(key, Const) and not key.assumed and isinstance(
        key.value, (str, int, float, bool, type(None)))


def is_setting_key(key: Value) -> bool:
    """A setting of the shipped configuration (an option's default) that can key a dict."""
    return isinstance(key, Const) and key.setting is not None and isinstance(
        key.value, (str, int, float, bool, type(None)))


@dataclass(eq=False, slots=True)
class Schedule(Value):
    """A learning-rate schedule object: its rate is not a single constant."""

    node: cst.CSTNode


@dataclass(eq=False, slots=True)
class OptimizerAttr(Value):
    """``optimizer.learning_rate`` / ``optimizer.lr`` (to follow ``.assign`` and
    ``K.set_value``)."""

    optimizer: Optimizer | None
    attr: str


@dataclass(eq=False, slots=True)
class Variables(Value):
    """``model.trainable_variables`` / ``model.trainable_weights`` (or ``.weights``)."""

    layer: Layer | None


def join_names(before: dict[str, Value], then_names: dict[str, Value],
                else_names: dict[str, Value], all_or_none: bool = False) -> dict[str, Value]:
    """The names after an ``if`` whose arms both run on some path: a value both arms
    agree on stays; two parts of one functional graph merge; anything else is unknown.
    ``all_or_none``: the arm taken is the same on every iteration of the loop, so the
    layer calls only one arm made may not be in the graph."""
    joined: dict[str, Value] = {}
    for key in set(then_names) | set(else_names):
        first, second = then_names.get(key), else_names.get(key)
        if first is not None and first is second:
            joined[key] = first
        elif isinstance(first, Tensor) and isinstance(second, Tensor) and (
            first.symbolic and second.symbolic
        ):
            # either path built part of the same functional graph
            merged = merge_tensors([first, second], first.inputs_node)
            if merged is not None and all_or_none:
                shared = {id(w) for w in first.history} & {id(w) for w in second.history}
                merged = replace(merged, history=tuple(
                    wiring if id(wiring) in shared or wiring.maybe
                    else replace(wiring, maybe=True) for wiring in merged.history))
            joined[key] = merged or UNKNOWN
        else:
            joined[key] = UNKNOWN
    return joined
