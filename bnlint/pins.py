"""The Keras flavour a project pins in its dependency files (for ``target-keras = "auto"``).

Reads ``pyproject.toml`` (PEP 621, PEP 735 groups, Poetry), ``requirements*.txt`` and
``requirements/*.txt``, ``setup.py`` (``install_requires`` / ``extras_require``, read
without running it), ``setup.cfg``, ``environment.yml``, ``Pipfile`` and a
``Dockerfile`` (``pip install`` lines and a ``tensorflow/tensorflow`` base image); a
malformed file is skipped, never fatal. A version is reported only when the pin fixes it
(``==``, a ``~=`` with three parts, a conda ``=X.Y``): bounds alone leave it unknown.

Pins apply per directory: a file takes the flavour of the nearest directory above it,
up to the project root, whose files decide one (:class:`PinIndex`), so an `old/`
directory pinned to TensorFlow 1 and a `new/` one pinned to Keras 3 are each read as
written.
"""

from __future__ import annotations

import ast
import configparser
import glob
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass

from bnlint.flavour import Flavour, parse_version
from bnlint.project import is_below, repository_top

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

Version = tuple[int, ...]

TENSORFLOW_NAMES = frozenset(
    {"tensorflow", "tensorflow-cpu", "tensorflow-gpu", "tensorflow-macos"})
TF_KERAS_NAMES = frozenset({"tf-keras"})
_RELEVANT = TENSORFLOW_NAMES | TF_KERAS_NAMES | {"keras"}

_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(.*)")
_SPECIFIER = re.compile(r"(===|==|~=|>=|<=|!=|<|>|\^|~|=)?\s*([0-9][0-9A-Za-z.*+!_-]*)")
_KERAS2_TF_LIMIT: Version = (2, 16)


@dataclass(frozen=True, slots=True)
class Pin:
    """One dependency entry: normalised name, ``(operator, version)`` pairs, the entry
    as written (for messages) and the file it came from."""

    name: str
    specifiers: tuple[tuple[str, str], ...]
    text: str
    origin: str


@dataclass(frozen=True, slots=True)
class Range:
    """What a pin allows: ``low`` inclusive, ``high`` exclusive, ``exact`` when fixed."""

    low: Version | None = None
    high: Version | None = None
    exact: Version | None = None

    def major(self) -> int | None:
        """The one major version the range allows, if it is only one."""
        if self.exact:
            return self.exact[0]
        low = self.low[0] if self.low else None
        high = _last_major_below(self.high) if self.high else None
        if low is not None and (high == low or (high is None and low >= 3)):
            return low  # with no upper bound, >= 3 is Keras 3: there is no Keras 4
        if low is None and high is not None and high <= 2:
            return high
        return None


def project_flavour(root: str) -> Flavour | None:
    """The Keras flavour the dependency files in ``root`` pin, or None if none does."""
    return decide(list(project_pins(root)))


def project_pins(root: str, shown_from: str | None = None) -> Iterator[Pin]:
    """Every Keras/TensorFlow dependency entry in ``root``'s project files, in the order
    pyproject.toml, requirements files, setup.py, setup.cfg, environment.yml, Pipfile,
    Dockerfile. Origins are shown relative to ``shown_from`` (default ``root``)."""
    base = root if shown_from is None else shown_from

    def origin(name: str) -> str:
        return os.path.relpath(os.path.join(root, name), base)

    yield from _pyproject_pins(root, origin("pyproject.toml"))
    for path in _requirements_files(root):
        yield from _requirements_pins(path, os.path.relpath(path, base))
    yield from _setup_py_pins(os.path.join(root, "setup.py"), origin("setup.py"))
    yield from _setup_cfg_pins(root, origin("setup.cfg"))
    for name in ("environment.yml", "environment.yaml"):
        yield from _environment_pins(os.path.join(root, name), origin(name))
    yield from _pipfile_pins(os.path.join(root, "Pipfile"), origin("Pipfile"))
    yield from _dockerfile_pins(os.path.join(root, "Dockerfile"), origin("Dockerfile"))


class PinIndex:
    """The pinned flavour of each directory of a project, read once per directory.

    A file takes the flavour of the nearest directory above it whose dependency files
    decide one. The search ends at the repository's top (the directory holding ``.git``
    or ``.hg``), so the answer does not depend on where bnlint was started; outside a
    repository it ends at ``root`` (the configuration's directory, else the working
    directory), or at the file's own directory for a file outside ``root``."""

    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)
        self._decided: dict[str, Flavour | None] = {}
        self._nearest: dict[str, Flavour | None] = {}
        self._tops: dict[str, str | None] = {}

    def flavour_for(self, path: str) -> Flavour | None:
        """The flavour pinned for the file at ``path``, or None if nothing above it pins."""
        start = os.path.dirname(os.path.abspath(path))
        if start not in self._nearest:  # files of one directory share the answer
            self._nearest[start] = next(
                (flavour for flavour in map(self.pinned_in, self._directories(start))
                 if flavour is not None), None)
        return self._nearest[start]

    def pinned_in(self, directory: str) -> Flavour | None:
        """What the files of ``directory`` itself pin (cached)."""
        if directory not in self._decided and not _may_pin(directory):
            self._decided[directory] = None
        if directory not in self._decided:
            # origins as the user sees them: relative to the working directory when below it
            here = os.getcwd()
            shown_from = here if is_below(directory, here) else os.path.dirname(directory)
            self._decided[directory] = decide(list(project_pins(directory, shown_from)))
        return self._decided[directory]

    def _directories(self, start: str) -> Iterator[str]:
        if start not in self._tops:
            self._tops[start] = repository_top(start)
        top = self._tops[start]
        if top is None:
            top = self.root if is_below(start, self.root) else start
        directory = start
        while True:
            yield directory
            parent = os.path.dirname(directory)
            if directory == top or parent == directory:
                return
            directory = parent


def decide(pins: list[Pin]) -> Flavour | None:
    """Turn pins into a flavour: a Keras pin of known major, else a TensorFlow pin that
    decides which Keras it bundles. Installing tf-keras decides nothing alone: from
    TensorFlow 2.16 on, `tf.keras` is tf-keras only with `TF_USE_LEGACY_KERAS=1` (which
    a file that sets it, or imports `tf_keras`, says itself, but an environment may set
    it too: TensorFlow >= 2.16 beside tf-keras decides nothing), and before 2.16 the
    TensorFlow pin says tf-keras anyway; a tf-keras pin then names the version."""
    tf_keras = _best(pins, TF_KERAS_NAMES)
    keras = _best(pins, {"keras"})
    tensorflow = _best(pins, TENSORFLOW_NAMES)
    major = pin_range(keras).major() if keras is not None else None
    if keras is not None and major is not None:
        return _keras_flavour(keras, major, tensorflow)
    flavour = _tensorflow_flavour(tensorflow) if tensorflow is not None else None
    if flavour is None or tf_keras is None:
        return flavour
    if flavour.name == "keras3":
        return None  # Keras 3, or tf-keras where the environment sets TF_USE_LEGACY_KERAS
    if flavour.name == "tf-keras" and pin_range(tf_keras).exact is not None:
        return Flavour("tf-keras", pin_range(tf_keras).exact,
                       f"{flavour.reason}, {_reason(tf_keras)}")
    return flavour


def _keras_flavour(keras: Pin, major: int, tensorflow: Pin | None) -> Flavour:
    """Keras 3; Keras 2 bundled with a TensorFlow 2 before 2.16 (tf-keras); else
    standalone Keras 2, with what the TensorFlow pin means for `tf.keras` code."""
    version = pin_range(keras).exact
    if major >= 3:
        return Flavour("keras3", version, _reason(keras))
    bundled = _tensorflow_flavour(tensorflow) if tensorflow is not None else None
    if tensorflow is not None and _before(pin_range(tensorflow), _KERAS2_TF_LIMIT) and (
            bundled is None or bundled.name != "tf1"):
        return Flavour("tf-keras", version, f"{_reason(keras)}, {_reason(tensorflow)}")
    return Flavour("keras2", version, _reason(keras), bundled=bundled)


def _tensorflow_flavour(tensorflow: Pin) -> Flavour | None:
    """TensorFlow 1.x -> tf1, 2.0-2.15 -> tf-keras, >= 2.16 -> Keras 3 (version unknown)."""
    allowed = pin_range(tensorflow)
    reason = _reason(tensorflow)
    if allowed.major() == 1 or (allowed.low is None and _before(allowed, (2,))):
        return Flavour("tf1", allowed.exact, reason)
    if allowed.low is not None and _key(allowed.low) >= _key(_KERAS2_TF_LIMIT):
        return Flavour("keras3", None, reason)
    if _before(allowed, _KERAS2_TF_LIMIT) and (allowed.low is None or allowed.low[0] >= 2):
        return Flavour("tf-keras", allowed.exact, reason)
    return None


def _before(allowed: Range, limit: Version) -> bool:
    """Does the range lie entirely below ``limit``?"""
    if allowed.exact is not None:
        return _key(allowed.exact) < _key(limit)
    return allowed.high is not None and _key(allowed.high) <= _key(limit)


def _best(pins: list[Pin], names: set[str] | frozenset[str]) -> Pin | None:
    """The most informative pin among ``names``: exact beats bounded beats bare; the
    first file wins a tie. Bare TensorFlow/Keras entries say nothing, so they lose."""
    candidates = [pin for pin in pins if pin.name in names]
    if not candidates:
        return None

    def information(pin: Pin) -> int:
        allowed = pin_range(pin)
        return 2 if allowed.exact else 1 if (allowed.low or allowed.high) else 0

    best = max(candidates, key=information)  # max keeps the first of equals
    if information(best) == 0 and not names & TF_KERAS_NAMES:
        return None
    return best


def _reason(pin: Pin) -> str:
    return f"{pin.text} in {pin.origin}"


# --- versions -------------------------------------------------------------------------


def pin_range(pin: Pin) -> Range:
    """Intersect a pin's specifiers into one Range."""
    low: Version | None = None
    high: Version | None = None
    exact: Version | None = None
    for operator, text in pin.specifiers:
        this_low, this_high, this_exact = _specifier_range(operator, text)
        if this_low is not None and (low is None or _key(this_low) > _key(low)):
            low = this_low
        if this_high is not None and (high is None or _key(this_high) < _key(high)):
            high = this_high
        exact = exact or this_exact
    return Range(low, high, exact)


def _specifier_range(
    operator: str, text: str
) -> tuple[Version | None, Version | None, Version | None]:
    """(low, high, exact) of one specifier; PEP 440 plus Poetry's ^ and ~ and conda's =."""
    version = parse_version(text)
    if version is None or operator == "!=":
        return None, None, None
    last = len(version) - 1
    if operator in ("==", "===", "") and not text.endswith("*"):
        return version, _bump(version, last), version
    if operator in ("==", "===", "", "="):  # a prefix: 3.8.* (conda: =3.8)
        return version, _bump(version, last), version if last >= 1 else None
    if operator == "~=":  # ~=3.4.1 fixes 3.4; ~=3.4 only bounds the minor
        return version, _bump(version, max(last - 1, 0)), version[:-1] if last >= 2 else None
    if operator == "~":  # Poetry: ~3.4 and ~3.4.1 fix 3.4, ~3 fixes the major
        return version, _bump(version, min(last, 1)), version[:2] if last >= 1 else None
    if operator == "^":  # Poetry: up to the next change of the first non-zero part
        first = next((index for index, part in enumerate(version) if part), last)
        return version, _bump(version, first), None
    if operator in (">=", ">"):
        return version, None, None
    if operator == "<":
        return None, version, None
    return None, _bump(version, last), None  # <=


def _bump(version: Version, position: int) -> Version:
    """The first version past every release sharing ``version[:position + 1]``."""
    return (*version[:position], version[position] + 1)


def _last_major_below(high: Version) -> int:
    """The highest major version allowed by an exclusive upper bound."""
    return high[0] - 1 if all(part == 0 for part in high[1:]) else high[0]


def _key(version: Version) -> Version:
    """Comparable form: trailing zeros do not matter (2.16 == 2.16.0)."""
    parts = list(version)
    while parts and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


# --- requirement strings --------------------------------------------------------------


def parse_requirement(line: str, origin: str, conda: bool = False) -> Pin | None:
    """A PEP 508 requirement (or conda spec) as a Pin; None for comments, options,
    URLs without names and packages that do not matter here."""
    line = line.split(" #", 1)[0].split(";", 1)[0].strip()
    if conda:
        line = line.split("::", 1)[-1]
    match = _NAME.fullmatch(line)
    if not line or line.startswith(("#", "-")) or match is None:
        return None
    name = re.sub(r"[-_.]+", "-", match.group(1)).lower()
    rest = match.group(2).split(" --", 1)[0].strip()
    if name not in _RELEVANT or rest.startswith("@"):
        return None
    if conda:
        rest = _conda_specifier(rest)
    rest = rest.strip("()")
    specifiers = tuple(
        (operator, version) for operator, version in _SPECIFIER.findall(rest))
    text = re.sub(r"\s+", "", match.group(1) + rest) if rest else match.group(1)
    return Pin(name, specifiers, text, origin)


def _conda_specifier(rest: str) -> str:
    """conda: `=3.8` / `3.8` mean 3.8.*, `=3.8.0=build` drops the build string."""
    rest = rest.strip()
    parts = rest.split("=")
    if rest.startswith("=") and not rest.startswith("=="):
        return "=" + parts[1]
    if rest[:1].isdigit():
        return "=" + rest.split()[0]
    if rest.startswith("==") and len(parts) > 3:
        return "==" + parts[2]
    return rest


def _poetry_specifier(constraint: object) -> str | None:
    """A Poetry constraint (string or table) as specifier text; `3.8.0` means ==3.8.0."""
    if isinstance(constraint, dict):
        constraint = constraint.get("version")
    if not isinstance(constraint, str) or constraint.strip() in ("", "*"):
        return None
    return ",".join(
        part if not part.strip()[:1].isdigit() else "==" + part.strip()
        for part in constraint.split(","))


# --- files ----------------------------------------------------------------------------


# Dependency files larger than this are not dependency files (or not worth reading).
_LARGEST_FILE = 1 << 20


def _read(path: str) -> str | None:
    try:
        if not os.path.isfile(path) or os.path.getsize(path) > _LARGEST_FILE:
            return None  # a FIFO or a device named like a dependency file is not one
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except (OSError, ValueError):
        return None


def _read_toml(path: str) -> dict[str, object] | None:
    text = _read(path)
    if text is None:
        return None
    try:
        return tomllib.loads(text)
    except (tomllib.TOMLDecodeError, ValueError, RecursionError):
        return None


def _pyproject_pins(root: str, origin: str) -> Iterator[Pin]:
    """[project] dependencies and optional-dependencies, [dependency-groups], Poetry."""
    data = _read_toml(os.path.join(root, "pyproject.toml"))
    if data is None:
        return
    for line in _pep621_lines(data):
        pin = parse_requirement(line, origin)
        if pin is not None:
            yield pin
    for name, constraint in _poetry_entries(data):
        specifier = _poetry_specifier(constraint)
        pin = parse_requirement(f"{name} {specifier or ''}", origin)
        if pin is not None:
            yield pin


def _pep621_lines(data: dict[str, object]) -> Iterator[str]:
    project = _table(data, "project")
    yield from _strings(project.get("dependencies"))
    for group in _table(project, "optional-dependencies").values():
        yield from _strings(group)
    for group in _table(data, "dependency-groups").values():
        yield from _strings(group)


def _poetry_entries(data: dict[str, object]) -> Iterator[tuple[str, object]]:
    poetry = _table(_table(data, "tool"), "poetry")
    yield from _table(poetry, "dependencies").items()
    for group in _table(poetry, "group").values():
        if isinstance(group, dict):
            yield from _table(group, "dependencies").items()


def _table(data: dict[str, object], key: str) -> dict[str, object]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def _strings(value: object) -> list[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


# Names of the files (and the directory) that can pin a flavour, as project_pins reads them.
_PIN_FILES = frozenset({"pyproject.toml", "setup.py", "setup.cfg", "environment.yml",
                        "environment.yaml", "Pipfile", "Dockerfile", "requirements"})


def _may_pin(directory: str) -> bool:
    """Does ``directory`` hold any file that project_pins reads? (One listing instead
    of trying each name.)"""
    try:
        names = os.listdir(directory)
    except OSError:
        return True  # let the readers report nothing in their own way
    return any(name in _PIN_FILES or name.startswith("requirements") and name.endswith(".txt")
               for name in names)


def _requirements_files(root: str) -> list[str]:
    found = glob.glob(os.path.join(glob.escape(root), "requirements*.txt"))
    nested = glob.glob(os.path.join(glob.escape(root), "requirements", "*.txt"))
    return sorted(found) + sorted(nested)


def _requirements_pins(path: str, origin: str) -> Iterator[Pin]:
    """Pins of a pip requirements file; backslash-continued lines are joined."""
    text = _read(path)
    if text is None:
        return
    for line in text.replace("\\\n", " ").splitlines():
        pin = parse_requirement(line, origin)
        if pin is not None:
            yield pin


def _setup_cfg_pins(root: str, origin: str) -> Iterator[Pin]:
    """``[options] install_requires`` and ``[options.extras_require]`` of setup.cfg."""
    text = _read(os.path.join(root, "setup.cfg"))
    if text is None:
        return
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error:
        return
    values = [parser.get("options", "install_requires", fallback="")]
    if parser.has_section("options.extras_require"):
        values.extend(value for _, value in parser.items("options.extras_require"))
    for value in values:
        for line in value.splitlines():
            pin = parse_requirement(line, origin)
            if pin is not None:
                yield pin


def _environment_pins(path: str, origin: str) -> Iterator[Pin]:
    """conda and pip entries under ``dependencies:``, read line by line (no YAML parser)."""
    text = _read(path)
    if text is None:
        return
    inside = False
    pip_indent: int | None = None
    for line in text.splitlines():
        if line[:1] not in ("", " ", "\t", "-", "#"):
            inside = line.split("#", 1)[0].strip() == "dependencies:"
            pip_indent = None
            continue
        item = re.match(r"(\s*)-\s+(.*)", line)
        if not inside or item is None:
            continue
        indent, entry = len(item.group(1)), item.group(2).strip().strip("'\"")
        if pip_indent is not None and indent <= pip_indent:
            pip_indent = None
        if entry.rstrip().startswith("pip:"):
            pip_indent = indent
            continue
        pin = parse_requirement(entry, origin, conda=pip_indent is None)
        if pin is not None:
            yield pin


def _setup_py_pins(path: str, origin: str) -> Iterator[Pin]:
    """``install_requires=`` and ``extras_require=`` of the ``setup(...)`` call, read
    from the syntax tree (never run): list literals, or module-level names bound to
    them."""
    text = _read(path)
    if text is None:
        return
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return
    lists: dict[str, ast.expr] = {}
    for statement in tree.body:
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1 and isinstance(
                statement.targets[0], ast.Name):
            lists[statement.targets[0].id] = statement.value
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and _callee(node.func) == "setup"):
            continue
        for keyword in node.keywords:
            value = keyword.value
            if isinstance(value, ast.Name):
                value = lists.get(value.id, value)
            if keyword.arg == "install_requires":
                entries = _string_items(value)
            elif keyword.arg == "extras_require" and isinstance(value, ast.Dict):
                entries = [item for group in value.values for item in _string_items(
                    lists.get(group.id, group) if isinstance(group, ast.Name) else group)]
            else:
                continue
            for entry in entries:
                pin = parse_requirement(entry, origin)
                if pin is not None:
                    yield pin


def _callee(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _string_items(value: ast.expr) -> list[str]:
    if not isinstance(value, (ast.List, ast.Tuple)):
        return []
    return [item.value for item in value.elts
            if isinstance(item, ast.Constant) and isinstance(item.value, str)]


def _pipfile_pins(path: str, origin: str) -> Iterator[Pin]:
    """``[packages]`` and ``[dev-packages]`` of a Pipfile (``"==2.4.1"``, ``"*"`` or a
    table with ``version``)."""
    data = _read_toml(path)
    if data is None:
        return
    for section in ("packages", "dev-packages"):
        for name, constraint in _table(data, section).items():
            if isinstance(constraint, dict):
                constraint = constraint.get("version")
            if not isinstance(constraint, str) or constraint.strip() in ("", "*"):
                constraint = ""
            pin = parse_requirement(f"{name} {constraint}", origin)
            if pin is not None:
                yield pin


_PIP_INSTALL = re.compile(r"\bpip3?\s+install\b(.*)")
_TF_IMAGE = re.compile(
    r"^\s*FROM\s+(?:--\S+\s+)*(?:docker\.io/)?tensorflow/tensorflow:(\d+(?:\.\d+)*)",
    re.IGNORECASE)


def _dockerfile_pins(path: str, origin: str) -> Iterator[Pin]:
    """``pip install`` arguments of ``RUN`` lines (continuations joined, options and
    ``-r`` files skipped) and the version of a ``tensorflow/tensorflow:X.Y`` base image."""
    text = _read(path)
    if text is None:
        return
    for line in text.replace("\\\n", " ").splitlines():
        image = _TF_IMAGE.match(line)
        if image is not None:
            pin = parse_requirement(f"tensorflow=={image.group(1)}", origin)
            if pin is not None:
                yield pin
            continue
        for command in re.split(r"&&|;|\|\|", line):
            found = _PIP_INSTALL.search(command)
            if found is None:
                continue
            words = found.group(1).split()
            skip = False
            for word in words:
                if skip:
                    skip = False
                    continue
                if word in ("-r", "-c", "-e", "-i", "--index-url", "--extra-index-url",
                            "-f", "--find-links", "--requirement", "--constraint"):
                    skip = True
                    continue
                pin = parse_requirement(word.strip("'\""), origin)
                if pin is not None:
                    yield pin
