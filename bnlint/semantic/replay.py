"""The replay's shared state: scopes of names, the current context, the event trace,
and the operations each part of the replay offers the others."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import libcst as cst

from bnlint.semantic.events import Context, Event, PathKind
from bnlint.semantic.model import SemanticModel
from bnlint.semantic.names import KerasApi, keras_api
from bnlint.semantic.paths import ConditionSource, PathOracle, Relevance
from bnlint.semantic.values import (
    ClassValue,
    Const,
    FunctionValue,
    Instance,
    Layer,
    ListValue,
    Optimizer,
    ProjectModule,
    Samples,
    StateJournal,
    Tape,
    Value,
    Variables,
    written_constant,
)

if TYPE_CHECKING:
    from bnlint.project import Project

# How a statement leaves its block: up to the function, the loop or a handler.
Exit = Literal["return", "raise", "break", "continue"]

MAX_INLINE_DEPTH = 8
# At most this many calls per replay re-enter a function already running (on other
# numbers: `self.g(i - 1)`), each within MAX_INLINE_DEPTH.
MAX_RECURSIONS = 64
# At most this many of those re-entries run inside one another (they do not count
# towards MAX_INLINE_DEPTH).
MAX_RECURSION_DEPTH = 12
# `functools.reduce` over at most this many known items is followed step by step; a
# chain of lambdas it composes nests one call per item, counted apart from the depth.
MAX_FOLDED = 32
# A keyword of a call's arguments standing for its `*args` / `**kwargs`: which
# parameters those fill is unknown.
SPREAD = "**"
FIT_METHODS = frozenset({"fit", "fit_generator", "train_on_batch"})
EVAL_METHODS = frozenset({"evaluate", "predict", "predict_on_batch", "test_on_batch",
                          "evaluate_generator", "predict_generator"})
# Functions (not layers) that may be applied to tensors of a functional graph.
GRAPH_OP_PREFIXES = ("keras.layers.", "keras.ops.", "keras.backend.", "keras.activations.",
                      "tf.")
# Keras's functional merge helpers: each makes one layer of its class (counted in
# `model.layers`) and calls it on the list of tensors it is given.
MERGE_FUNCTIONS = {"add": "Add", "subtract": "Subtract", "multiply": "Multiply",
                   "average": "Average", "maximum": "Maximum", "minimum": "Minimum",
                   "concatenate": "Concatenate", "dot": "Dot"}
# Callback hooks in the order fit() runs them.
CALLBACK_HOOKS = ("on_train_begin", "on_epoch_begin", "on_train_batch_begin", "on_batch_begin",
                  "on_train_batch_end", "on_batch_end", "on_epoch_end", "on_train_end")
# Names that mean these modules even where the file does not import them.
CONVENTIONAL_MODULES = {"tf": "tensorflow", "keras": "keras"}
HUB_PREPROCESSING = ("Converter", "Preprocessor", "Tokenizer", "Packer")
# Keras utilities that return a batched tf.data.Dataset of their `batch_size=`.
DATASET_UTILITIES = frozenset({"image_dataset_from_directory", "text_dataset_from_directory",
                               "audio_dataset_from_directory", "timeseries_dataset_from_array"})
# Progress bars that yield the items of the iterable they wrap.
PROGRESS_BARS = frozenset({"tqdm", "tqdm_notebook"})
# tf.data methods after which the elements have another structure.
# tf.data methods after which the elements are batches of another size.
REBATCHING_DATASET_METHODS = frozenset({"unbatch", "rebatch", "window",
                                        "bucket_by_sequence_length", "group_by_window"})
RESTRUCTURING_DATASET_METHODS = frozenset({"map", "flat_map", "interleave", "unbatch",
                                           "padded_batch", "window"})
# The parameter (and attribute) that sets how many samples each batch of a project's
# own generator function or data sequence holds.
BATCH_PARAMETER = "batch_size"
# Names a generator function's parameter for its batch size goes by.
BATCH_PARAMETERS = frozenset({"batch_size", "batchsize", "batch_sz", "b_size", "bs"})
# Keras classes whose subclasses are data sequences that fit() takes batches from.
# Keras 2's base of the ImageDataGenerator iterators (a Sequence):
# `Iterator(n, batch_size, shuffle, seed)`.
KERAS_ITERATOR = "keras.preprocessing.image.Iterator"
DATA_SEQUENCES = frozenset({"keras.utils.Sequence", "keras.utils.PyDataset",
                            "keras.utils.data_utils.Sequence",
                            "keras.utils.data_utils.PyDataset", KERAS_ITERATOR})
# ImageDataGenerator methods that return an iterator of batches of their `batch_size=`.
GENERATOR_FLOWS = frozenset({"flow", "flow_from_directory", "flow_from_dataframe"})
# Callees that receive a model without changing its trainable state.
HARMLESS_PREFIXES = ("keras.", "tf.", "np.", "numpy.", "matplotlib.", "plt.", "os.", "sys.",
                      "logging.", "json.", "pickle.", "wandb.", "mlflow.", "tqdm.")
# A loop over a short list of known items (at most this many) runs once per item: a
# `for` over symbolic tensors, a list comprehension over known values.
UNROLLED_ITEMS = 8

BUILTINS_NO_EFFECT = frozenset({"print", "len", "isinstance", "type", "repr", "str", "id",
                                 "hasattr", "getattr", "vars", "dir", "list", "tuple",
                                 "enumerate", "zip", "range", "sorted", "any", "all", "sum",
                                 "min", "max", "abs", "round", "int", "float", "bool"})




@dataclass(eq=False)
class Env:
    """Names bound in one scope; reads fall back to the module scope."""

    names: dict[str, Value] = field(default_factory=dict)
    parent: Env | None = None
    globals_declared: set[str] = field(default_factory=set)
    returns: list[Value] = field(default_factory=list)
    # what a generator function's `yield` statements give
    yields: list[Value] = field(default_factory=list)

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


@dataclass(eq=False, slots=True)
class BoundMethod(Value):
    function: FunctionValue
    receiver: Layer | Instance


def const_number(value: Value) -> float | None:
    """A numeric (not bool) constant as a float."""
    if isinstance(value, Const) and isinstance(value.value, (int, float)) and not isinstance(
        value.value, bool
    ):
        return float(value.value)
    return None


def const_int(value: Value) -> int | None:
    """An integer constant (folded arithmetic may give an integral float)."""
    number = value.value if isinstance(value, Const) else None
    if isinstance(number, bool) or not isinstance(number, (int, float)):
        return None
    if isinstance(number, float) and not number.is_integer():
        return None
    return int(number)


def variables_list(value: Value) -> tuple[Value, ...] | None:
    """``model.trainable_variables`` (or a list of them) as a tuple, else None."""
    if isinstance(value, Variables):
        return (value,)
    if isinstance(value, ListValue) and value.items and all(
        isinstance(item, Variables) for item in value.items
    ):
        return value.items
    return None


def is_input_layer(layer: Layer) -> bool:
    """Is ``layer`` an InputLayer (never one of a Sequential's ``layers``)?"""
    return layer.qualname.rsplit(".", 1)[-1] == "InputLayer"


def is_tf1_optimizer(name: str) -> bool:
    """A ``tf.train`` / ``tf.compat.v1.train`` optimizer class."""
    return name.startswith(("tf.compat.v1.train.", "tf.train.")) and name.endswith("Optimizer")


def optimizer_of(layer: Layer) -> Optimizer | None:
    """The optimizer ``layer`` was last compiled with, when known."""
    value = layer.attrs.get("optimizer")
    return value if isinstance(value, Optimizer) else None


def rate_of(layer: Layer) -> float | None:
    """The learning rate ``layer`` trains at, when known."""
    optimizer = optimizer_of(layer)
    return optimizer.learning_rate if optimizer is not None else None


class ReplayBase:
    """State of one replay. The statement, expression, call and Keras-effect parts
    of the replay (mixins of ``Builder``) implement the operations declared here."""

    def __init__(self, module: cst.Module, oracle: PathOracle | None = None,
                 relevance: Relevance | None = None, project: Project | None = None) -> None:
        self.module = module
        # where the linted file's imports of its own project lead (None: not followed)
        self.project = project
        # None: branches are joined; else the oracle decides the conditions that matter
        self.oracle = oracle
        self.relevance = relevance or Relevance()
        # how the statement just replayed left its block on this path, if it did
        self.exit: Exit | None = None
        # a decided `if` whose other arm always leaves the block: the rest of the block
        # runs on this arm's path
        self.continuation: tuple[PathKind, cst.CSTNode] | None = None
        # the block and index of the statement after the `if` being replayed
        self.block_rest: tuple[Sequence[cst.CSTNode], int] = ((), 0)
        self.model = SemanticModel(module=module)
        # the layers' state before an entry point's replay changed it (see build.py)
        self.journal = StateJournal()
        self.api: KerasApi = keras_api()
        self.context = Context()
        self.module_env = Env()
        self.star_imports: list[str] = []
        self.functions: list[FunctionValue] = []
        self.ran: set[int] = set()
        self.active: list[int] = []
        # each active call's function and arguments, how many of them re-entered a
        # function already running (on other whole numbers: bounded recursion), and how
        # many calls did so in this replay
        self.active_arguments: list[tuple[int, tuple[list[Value], dict[str, Value]]]] = []
        self.recursion_depth = 0
        self.recursions = 0
        # how many of the active calls are lambdas (a composed chain nests one per step)
        self.active_lambdas = 0
        self.control_dependencies = 0
        self.arg_scopes = 0
        self.current_self: Layer | None = None
        self.current_method: str | None = None
        self.current_params: frozenset[str] = frozenset()
        # the global scope of the code being replayed: the file's, or that of a project
        # module it imported (and the path of that module)
        self.globals_env = self.module_env
        self.foreign_path: str | None = None
        # per module replayed (by id): its loads of weights it writes itself (by id)
        self.own_loads: dict[int, frozenset[int]] = {}
        # the statement of the linted file through which the replay entered another
        # module of the project
        self.foreign_entry: cst.CSTNode | None = None
        # project modules imported so far (path -> their global names), like sys.modules
        self.imported: dict[str, Env] = {}
        # classes defined in the linted file itself
        self.local_classes: list[ClassValue] = []
        # flags of the layer loops being replayed that flip once (see ``latches``):
        # name -> (value before the loop, loop variable)
        self.latches: dict[str, tuple[bool, str]] = {}
        # Names each loop body assigns, by id of the loop statement.
        self.loop_assignments: dict[int, frozenset[str]] = {}
        # per loop: what it rebinds or changes through a method, dotted (its target
        # included)
        self.loop_targets: dict[int, frozenset[str]] = {}
        # loops over list displays of builders being run item by item
        self.unrolled_loops: set[int] = set()
        # path steps of the `if`s this replay decided (kept alive, keyed by identity):
        # their arm runs as definitely as the `if` itself
        self.decided_steps: dict[int, tuple[PathKind, cst.CSTNode]] = {}
        # absl flags defined so far, in any module of the project: name -> default
        self.flag_defaults: dict[str, Value] = {}

    def record(self, event: Event) -> None:
        self.model.events.append(event)
        event.entry_site = self.foreign_entry
        self.mark_entry(event.node)

    def mark_entry(self, node: cst.CSTNode) -> None:
        """Inside another module, remember which statement of the linted file led to
        ``node`` (a step, or where a batch size is set): a finding there is reported at
        that statement."""
        if self.foreign_entry is not None:
            self.model.entry_sites.setdefault(id(node), self.foreign_entry)

    def exec_block(self, body: Sequence[cst.BaseStatement] | Sequence[cst.BaseSmallStatement],
                   env: Env) -> None:
        raise NotImplementedError

    def exec_suite(self, suite: cst.BaseSuite, env: Env) -> None:
        raise NotImplementedError

    def define_function(self, node: cst.FunctionDef, env: Env, owner: ClassValue | None) -> None:
        raise NotImplementedError

    def bind_unknown(self, target: cst.BaseExpression, env: Env) -> None:
        raise NotImplementedError

    def assign(self, target: cst.BaseExpression, value: Value, value_node: cst.BaseExpression,
               env: Env) -> None:
        raise NotImplementedError

    def set_trainable(self, owner: Value, target: cst.Attribute, value: Value,
                      value_node: cst.BaseExpression) -> None:
        raise NotImplementedError

    def record_set_lr(self, optimizer: Optimizer | None, node: cst.CSTNode, value: Value) -> None:
        raise NotImplementedError

    def eval(self, node: cst.BaseExpression | None, env: Env) -> Value:
        raise NotImplementedError

    def conditional(self, since: tuple[object, ...] = ()) -> bool:
        raise NotImplementedError

    def counted_samples(self, size: cst.BaseExpression, env: Env) -> Samples | None:
        """As many samples as ``size`` says (``np.zeros((n, 1))``, ``x[i:i + n]``), when
        it is a known positive whole number, sized where that number is written."""
        value = self.eval(size, env)
        count = const_int(value)
        if count is None or count < 1:
            return None
        return Samples(count, size, written_constant(value))

    def fold(self, left: Value, right: Value,
             operator: cst.BaseBinaryOp | cst.BaseAugOp) -> Value:
        raise NotImplementedError

    def default_truth(self, test: cst.BaseExpression, env: Env) -> bool | None:
        raise NotImplementedError

    def condition_source(self, test: cst.BaseExpression, env: Env) -> ConditionSource | None:
        raise NotImplementedError

    def eval_call(self, node: cst.Call, env: Env) -> Value:
        raise NotImplementedError

    def havoc(self, args: list[Value], kwargs: dict[str, Value],
              node: cst.CSTNode | None = None) -> None:
        raise NotImplementedError

    def call_symbol(self, name: str, node: cst.Call, args: list[Value],
                    kwargs: dict[str, Value]) -> Value:
        raise NotImplementedError

    def note_environment(self, node: cst.CSTNode, args: list[Value]) -> None:
        raise NotImplementedError

    def exec_import(self, node: cst.Import | cst.ImportFrom, env: Env) -> None:
        raise NotImplementedError

    def project_attribute(self, module: ProjectModule, attr: str) -> Value:
        raise NotImplementedError

    def project_module(self, name: str, level: int, node: cst.CSTNode) -> ProjectModule | None:
        raise NotImplementedError

    def name_value(self, name: str, node: cst.CSTNode, env: Env) -> Value:
        raise NotImplementedError

    def attribute_of(self, owner: Value, attr: str, node: cst.CSTNode) -> Value:
        raise NotImplementedError

    def looked_up(self, node: cst.Call, env: Env) -> Value | None:
        raise NotImplementedError

    def scope_entry(self, scope: str, key: Value, node: cst.CSTNode, env: Env) -> Value:
        raise NotImplementedError

    def imported_module(self, written: Value, node: cst.Call) -> Value:
        raise NotImplementedError

    def new_layer(self, name: str, node: cst.CSTNode, **fields: object) -> Layer:
        raise NotImplementedError

    def new_user_instance(self, owner: ClassValue, node: cst.CSTNode) -> Layer:
        raise NotImplementedError

    def call_layer(self, layer: Layer, node: cst.Call, args: list[Value],
                   kwargs: dict[str, Value] | None = None) -> Value:
        raise NotImplementedError

    def wire_graph(self, model: Layer, args: list[Value], kwargs: dict[str, Value]) -> None:
        raise NotImplementedError

    def call_model_method(self, layer: Layer, method: str, node: cst.Call, args: list[Value],
                          kwargs: dict[str, Value]) -> Value:
        raise NotImplementedError

    def record_gradient(self, tape: Tape, node: cst.Call, args: list[Value],
                        kwargs: dict[str, Value]) -> Value:
        raise NotImplementedError

    def call_function(self, function: FunctionValue, args: list[Value],
                      kwargs: dict[str, Value], receiver: Value | None,
                      standalone: bool = False, site: cst.Call | None = None) -> Value:
        raise NotImplementedError

