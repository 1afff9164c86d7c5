"""The settings a run uses when nobody passes any: command-line option defaults and the
entries of the project's JSON/YAML configuration files.

``parser.add_argument("--batch_size", type=int, default=4)`` then
``args = parser.parse_args()`` makes ``args.batch_size`` 4; absl's
``flags.DEFINE_integer("batch_size", 4, ...)`` makes ``FLAGS.batch_size`` 4; and
``config = json.load(open("config.json"))`` makes ``config["train"]["batch_size"]``
whatever the project's ``config.json`` holds. Each is a setting (``Const.setting``): used
as a number, a slice bound or a dict key's entry, but an ``if`` on it may still go either
way, since a user may run the script with other options. The user's files are only read,
never run: JSON with the standard library, YAML with ``yaml.safe_load``.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import replace
from typing import TYPE_CHECKING

from bnlint.semantic.values import (
    UNKNOWN,
    ArgumentParser,
    Const,
    DictValue,
    ListValue,
    OpenedFile,
    ParsedArguments,
    Value,
)

if TYPE_CHECKING:
    import libcst as cst
else:
    from bnlint.lazy import libcst as cst

PARSER_CLASSES = frozenset({"argparse.ArgumentParser"})
# absl's flag definitions, also re-exported by TF1 as `tf.app.flags` / `tf.flags`
_FLAG_DEFINITION = re.compile(
    r"^(?:absl\.flags|tf\.(?:compat\.v1\.)?(?:app\.)?flags)\.DEFINE_(\w+)$")
_FLAG_VALUES = re.compile(r"^(?:absl\.flags|tf\.(?:compat\.v1\.)?(?:app\.)?flags)\.FLAGS$")
_CONVERSIONS = {"int": int, "float": float, "str": str}
# `json.load(handle)`, and `json.loads(handle.read())` (the file's text is the file)
JSON_LOADERS = frozenset({"json.load", "json.loads"})
YAML_LOADERS = frozenset({"yaml.safe_load", "yaml.load", "yaml.full_load"})
# a configuration file larger than this is data, not settings
MAX_SETTINGS_BYTES = 256 * 1024
# nesting kept from a configuration file (deeper entries are unknown)
_MAX_DEPTH = 8


def setting(value: Value, node: cst.CSTNode | None, origin: str) -> Value:
    """``value`` as a setting from ``origin``: constants become assumed settings; lists
    and dicts keep their items as they are."""
    if isinstance(value, Const):
        return replace(value, node=value.node or node, assumed=True, setting=origin)
    return value


def add_argument(parser: ArgumentParser, node: cst.Call, args: list[Value],
                 kwargs: dict[str, Value]) -> None:
    """Record an option's default under its destination (``--batch-size`` ->
    ``batch_size``; ``dest=`` wins). Positional arguments and required options have no
    default a run can rely on."""
    flags = [arg.value for arg in args if isinstance(arg, Const) and isinstance(arg.value, str)]
    if not flags or len(flags) != len(args):
        return
    dest = _destination(flags, kwargs.get("dest"))
    if dest is None:
        return
    required = kwargs.get("required")
    if not flags[0].startswith("-") or (isinstance(required, Const) and required.value):
        parser.defaults[dest] = UNKNOWN
        return
    action = kwargs.get("action")
    action_name = action.value if isinstance(action, Const) else None
    if "default" in kwargs:
        default = kwargs["default"]
    elif action_name in {"store_true", "store_false"}:
        default = Const(action_name == "store_false", node)
    elif action is None or action_name in {"store", "store_const", "append", "count"}:
        default = Const(None, node)
    else:
        default = UNKNOWN
    value = setting(_converted(default, node), node, f"the default of `{_shown(flags)}`")
    if isinstance(value, Const) and isinstance(value.value, bool) and not (
            action_name in {"store_true", "store_false"} or _typed_bool(node)):
        value = replace(value, other_types=True)  # (`--use_bn False` gives "False")
    parser.defaults[dest] = value


def _typed_bool(node: cst.Call) -> bool:
    """``type=bool``: whatever is given becomes a bool."""
    return any(arg.keyword is not None and arg.keyword.value == "type"
               and isinstance(arg.value, cst.Name) and arg.value.value == "bool"
               for arg in node.args)


def _shown(flags: list[str]) -> str:
    longs = [flag for flag in flags if flag.startswith("--")]
    return longs[0] if longs else flags[0]


def _destination(flags: list[str], dest: Value | None) -> str | None:
    if isinstance(dest, Const) and isinstance(dest.value, str):
        return dest.value
    longs = [flag for flag in flags if flag.startswith("--")]
    chosen = longs[0] if longs else flags[0]
    name = chosen.lstrip("-").replace("-", "_")
    return name if name.isidentifier() else None


def _converted(default: Value, node: cst.Call) -> Value:
    """``type=int`` applies to a string default, as argparse does."""
    if not (isinstance(default, Const) and isinstance(default.value, str)):
        return default
    for arg in node.args:
        if arg.keyword is not None and arg.keyword.value == "type" and isinstance(
                arg.value, cst.Name) and arg.value.value in _CONVERSIONS:
            try:
                return replace(default, value=_CONVERSIONS[arg.value.value](default.value))
            except ValueError:
                return UNKNOWN
    return default


def parser_method(parser: ArgumentParser, method: str, node: cst.Call, args: list[Value],
                  kwargs: dict[str, Value]) -> Value:
    """What a method of a parser does and returns."""
    if method == "add_argument":
        add_argument(parser, node, args, kwargs)
        return UNKNOWN
    if method in {"add_argument_group", "add_mutually_exclusive_group"}:
        return ArgumentParser(parser.defaults)
    if method == "set_defaults":
        for name, value in kwargs.items():
            if name.isidentifier():
                parser.defaults[name] = setting(value, node, f"the default of `{name}`")
        return UNKNOWN
    if method in {"parse_args", "parse_known_args"}:
        given = args[0] if args else kwargs.get("args")
        if given is not None and not (isinstance(given, ListValue) and not given.items
                                      and not given.changed):
            return UNKNOWN  # options given in the code: not the defaults
        parsed = ParsedArguments(dict(parser.defaults))
        return parsed if method == "parse_args" else ListValue((parsed, ListValue(())))
    return UNKNOWN


def flag_definition(name: str, node: cst.Call, args: list[Value],
                    kwargs: dict[str, Value]) -> tuple[str, Value] | None:
    """``flags.DEFINE_integer("batch_size", 4, "help")``: (flag name, default)."""
    if _FLAG_DEFINITION.match(name) is None:
        return None
    flag = args[0] if args else kwargs.get("name", UNKNOWN)
    if not (isinstance(flag, Const) and isinstance(flag.value, str)):
        return None
    default = args[1] if len(args) > 1 else kwargs.get("default", UNKNOWN)
    return flag.value, setting(default, node, f"the default of flag `{flag.value}`")


def is_flag_values(name: str) -> bool:
    """``FLAGS`` of absl (or TF1's re-export)."""
    return _FLAG_VALUES.match(name) is not None


def settings_file(directories: list[str], top: str, written: Value) -> OpenedFile | None:
    """``open("config.json")``: the project's file it names, looked up as a run from
    each of ``directories`` would find it (never outside ``top``). It is read only if
    the program loads it as JSON or YAML (``solver.json.default`` too)."""
    if not (isinstance(written, Const) and isinstance(written.value, str)):
        return None
    name = written.value
    top = os.path.realpath(top)
    candidates = [name] if os.path.isabs(name) else [
        os.path.join(directory, name) for directory in directories]
    for candidate in candidates:
        found = os.path.realpath(candidate)
        if (found == top or found.startswith(top + os.sep)) and os.path.isfile(found):
            return OpenedFile(found)
    return OpenedFile(None)


def load_settings(opened: OpenedFile, loader: str, node: cst.CSTNode) -> Value:
    """The entries of a JSON/YAML file the program loads, as settings (unknown when
    the file is missing, too large or not well formed)."""
    if opened.path is None:
        return UNKNOWN
    try:
        if os.path.getsize(opened.path) > MAX_SETTINGS_BYTES:
            return UNKNOWN
        with open(opened.path, encoding="utf-8") as handle:
            text = handle.read()
        data = json.loads(text) if loader in JSON_LOADERS else _yaml_data(text)
    except (OSError, ValueError, RecursionError):
        return UNKNOWN
    return _value_of(data, node, f"read from `{os.path.basename(opened.path)}`", 0, "")


def _yaml_data(text: str) -> object:
    """``yaml.safe_load`` of the text (a file that is not YAML raises ValueError)."""
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ValueError(str(error)) from error


def _value_of(data: object, node: cst.CSTNode, origin: str, depth: int, entry: str) -> Value:
    """The file's ``data`` as values; each constant knows its ``entry`` (`train.lr`)."""
    if depth > _MAX_DEPTH:
        return UNKNOWN
    if data is None or isinstance(data, (bool, int, float, str)):
        return Const(data, node, assumed=True, setting=origin, entry=entry)
    if isinstance(data, list):
        return ListValue(tuple(_value_of(item, node, origin, depth + 1, f"{entry}[{index}]")
                               for index, item in enumerate(data)))
    if isinstance(data, dict):
        entries: dict[object, Value] = {}
        for key, item in data.items():
            if not isinstance(key, (str, int, bool)) and key is not None:
                return DictValue({}, open=True)
            entries[key] = _value_of(item, node, origin, depth + 1,
                                     f"{entry}.{key}" if entry else str(key))
        return DictValue(entries)
    return UNKNOWN
