"""Properties of the whole analysis on generated programs: it never fails on valid Python
(hypothesmith), and on generated fine-tuning scripts its findings do not depend on
unrelated statements around them.

Example counts follow the hypothesis profile (tests/conftest.py): small under ``ci``,
large under ``campaign`` (see docs/property-tests.md)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import hypothesmith
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bnlint.engine import FileResult, lint_source
from bnlint.finding import Finding, Span
from bnlint.registry import all_rules
from bnlint.rule import Rule
from bnlint.settings import Settings, TargetKeras
from bnlint.sources import source_from_text

TARGETS: tuple[TargetKeras, ...] = ("auto", "keras3", "tf-keras", "keras2", "tf1")
# Every rule, the ones off by default included, each made to apply to any text (an
# empty needle occurs everywhere): the prefilter would skip most generated programs.
EVERY_RULE: tuple[type[Rule], ...] = tuple(
    type(rule.__name__, (rule,), {"needles": (b"",), "__module__": rule.__module__})
    for rule in all_rules()
)
# What bnlint may say about valid Python: its parser (libcst) cannot read a few
# constructs CPython accepts. Anything else, an internal error above all, is a bug.
_LIBCST_LIMIT = "cannot analyse: Python accepts this code but bnlint's parser (libcst)"


def budget(ci_examples: int) -> settings:
    """``ci_examples`` examples under the ci profile; the loaded profile's count (a
    campaign's) otherwise."""
    if settings.get_current_profile_name() == "ci":
        return settings(max_examples=ci_examples)
    return settings()


def lint(text: str, target: TargetKeras = "auto") -> FileResult:
    return lint_source(source_from_text("generated.py", text),
                       Settings(target_keras=target), EVERY_RULE)


def assert_analysed_cleanly(result: FileResult) -> None:
    unexpected = [error for error in result.errors if _LIBCST_LIMIT not in error]
    assert unexpected == []
    if not result.errors:
        # hypothesmith's programs compile: none may be reported as a syntax error
        assert [f for f in result.findings if f.code == "BN000"] == []


# --- valid Python never makes the analysis fail ---------------------------------------


@budget(30)
@given(hypothesmith.from_grammar(), st.sampled_from(TARGETS))
def test_programs_from_the_grammar_are_analysed_without_error(
    program: str, target: TargetKeras
) -> None:
    assert_analysed_cleanly(lint(program, target))


@budget(12)
@given(hypothesmith.from_node(), st.sampled_from(TARGETS))
def test_programs_from_libcst_nodes_are_analysed_without_error(
    program: str, target: TargetKeras
) -> None:
    assert_analysed_cleanly(lint(program, target))


_PRELUDE = (
    "import keras\n"
    "base = keras.applications.ResNet50(weights='imagenet', include_top=False)\n"
    "base.trainable = False\n"
    "model = keras.Sequential([base, keras.layers.BatchNormalization()])\n"
    "model.compile('adam', loss='mse')\n"
)
_FINALE = "base.trainable = True\nmodel.compile('adam', loss='mse')\nmodel.fit(x, y)\n"


@budget(30)
@given(hypothesmith.from_grammar(), st.sampled_from(TARGETS))
def test_programs_between_fine_tuning_steps_are_analysed_without_error(
    program: str, target: TargetKeras
) -> None:
    """The generated code rebinds, deletes, wraps and calls names between the steps of
    a fine-tuning script, where the semantic model tracks Keras objects."""
    text = _PRELUDE + program + ("" if program.endswith("\n") else "\n") + _FINALE
    try:
        compile(text, "generated.py", "exec", dont_inherit=True)
    except (SyntaxError, ValueError):  # e.g. a `from __future__` import no longer first
        assume(False)
    assert_analysed_cleanly(lint(text, target))


# --- generated fine-tuning scripts ---------------------------------------------------
#
# A script is a tree of blocks. Each rendered line carries a tag (its index in the
# script without insertions, or None for an inserted line), so findings of the script
# with unrelated statements inserted can be mapped back row for row.

Line = tuple[str, "int | None"]


@dataclass
class Simple:
    """A statement of one or more lines (relative indentation inside)."""

    lines: tuple[str, ...]
    inserted: bool = False


@dataclass
class Compound:
    """``header:`` with a body, and optionally ``else:`` with another body."""

    header: str
    body: list[Node]
    orelse: list[Node] | None = None
    after: tuple[str, ...] = ()  # e.g. the call of a function right after its def


Node = Simple | Compound


@dataclass
class Script:
    header: tuple[str, ...]
    body: list[Node] = field(default_factory=list)

    def render(self) -> list[Line]:
        counter = itertools.count()
        out: list[Line] = [(line, next(counter)) for line in self.header]
        _render_block(self.body, 0, out, counter)
        return out


def _render_block(block: Sequence[Node], depth: int, out: list[Line],
                  counter: itertools.count[int]) -> None:
    indent = "    " * depth
    originals = [node for node in block if not (isinstance(node, Simple) and node.inserted)]
    if not originals:
        out.append((indent + "pass", next(counter)))
    for node in block:
        if isinstance(node, Simple):
            for line in node.lines:
                text = indent + line if line else ""
                out.append((text, None if node.inserted else next(counter)))
            continue
        out.append((indent + node.header + ":", next(counter)))
        _render_block(node.body, depth + 1, out, counter)
        if node.orelse is not None:
            out.append((indent + "else:", next(counter)))
            _render_block(node.orelse, depth + 1, out, counter)
        for line in node.after:
            out.append((indent + line, next(counter)))


IMPORTS = (
    ("import keras",),
    ("from tensorflow import keras",),
    ("import tensorflow as tf", "keras = tf.keras"),
    ("import tf_keras as keras",),
)
BASES = ("MobileNetV2", "ResNet50", "EfficientNetB0")
_RATES = ("1e-3", "1e-4", "1e-5")


def _model(kind: str, training: str) -> tuple[str, ...]:
    if kind == "sequential":
        return ("model = keras.Sequential([base, keras.layers.GlobalAveragePooling2D(),",
                "                          keras.layers.Dense(10)])")
    call = "base(inputs)" if training == "omitted" else f"base(inputs, training={training})"
    return ("inputs = keras.Input((224, 224, 3))", f"x = {call}",
            "x = keras.layers.GlobalAveragePooling2D()(x)",
            "x = keras.layers.BatchNormalization()(x)",
            "model = keras.Model(inputs, keras.layers.Dense(10)(x))")


EVENTS = st.one_of(
    st.sampled_from(["base", "model"]).flatmap(lambda owner: st.sampled_from([
        (f"{owner}.trainable = False",), (f"{owner}.trainable = True",)])),
    st.tuples(st.sampled_from(["[:20]", "[-20:]", ""]), st.booleans()).map(
        lambda pick: (f"for layer in base.layers{pick[0]}:",
                      f"    layer.trainable = {pick[1]}")),
    st.just(("for layer in base.layers:",
             "    if isinstance(layer, keras.layers.BatchNormalization):",
             "        layer.trainable = False")),
    st.sampled_from(_RATES).map(lambda rate: (
        f"model.compile(optimizer=keras.optimizers.Adam({rate}), loss='mse')",)),
    st.just(("model.compile('adam', loss='mse')",)),
    st.sampled_from(["2", "32"]).map(lambda batch: (
        f"model.fit(x_train, y_train, epochs=1, batch_size={batch})",)),
    st.just(("model.fit(x_train, y_train)",)),
    st.just(("model.evaluate(x_train, y_train)",)),
    st.sampled_from(["True", "False"]).map(lambda mode: (f"y = base(x_train, training={mode})",)),
    st.sampled_from(["0.1", "0.99"]).map(lambda momentum: (
        f"bn = keras.layers.BatchNormalization(momentum={momentum})",)),
)


@st.composite
def _block(draw: st.DrawFn, depth: int, names: itertools.count[int]) -> list[Node]:
    block: list[Node] = []
    for _ in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["event", "event", "if", "def", "for"]) if depth < 2
                    else st.just("event"))
        if kind == "event":
            block.append(Simple(draw(EVENTS)))
        elif kind == "if":
            condition = draw(st.sampled_from(["args.finetune", "FLAG", "epoch > 2"]))
            orelse = draw(st.none() | _block(depth + 1, names))
            block.append(Compound(f"if {condition}", draw(_block(depth + 1, names)), orelse))
        elif kind == "def":
            name = f"phase_{next(names)}"
            called = draw(st.booleans()) and depth == 0
            block.append(Compound(f"def {name}()", draw(_block(depth + 1, names)),
                                  after=(f"{name}()",) if called else ()))
        else:
            block.append(Compound("for epoch in range(3)", draw(_block(depth + 1, names))))
    return block


@st.composite
def scripts(draw: st.DrawFn) -> Script:
    """A fine-tuning script: imports, a pretrained base, a model around it, then events
    in random order inside random branches, functions and loops."""
    kind = draw(st.sampled_from(["sequential", "functional"]))
    training = draw(st.sampled_from(["False", "True", "omitted"]))
    base = draw(st.sampled_from(BASES))
    header = (*draw(st.sampled_from(IMPORTS)),
              f"base = keras.applications.{base}(weights='imagenet', include_top=False)",
              *_model(kind, training))
    return Script(header, draw(_block(0, itertools.count())))


UNRELATED = st.sampled_from([
    ("unrelated_total = 0",), ("print('step')",), ("import os",), ("",), ("# a note",),
    ("unrelated_items = [i * 2 for i in range(3)]",), ("assert True",),
    ("def unrelated_helper():", "    return 1"),
    ("if unrelated_total:", "    unrelated_total += 1"),
    ("'''A string.'''",),
])


@st.composite
def _insert_unrelated(draw: st.DrawFn, block: list[Node]) -> list[Node]:
    result: list[Node] = []
    for node in block:
        if isinstance(node, Compound):
            orelse = node.orelse
            node = Compound(node.header, draw(_insert_unrelated(node.body)),
                            None if orelse is None else draw(_insert_unrelated(orelse)),
                            node.after)
        result.extend(Simple(lines, inserted=True)
                      for lines in draw(st.lists(UNRELATED, max_size=2)))
        result.append(node)
    result.extend(Simple(lines, inserted=True) for lines in draw(st.lists(UNRELATED, max_size=2)))
    return result


def _text(lines: Sequence[Line]) -> str:
    return "".join(line + "\n" for line, _ in lines)


def _new_rows(original: Sequence[Line], padded: Sequence[Line]) -> dict[int, int]:
    """Row of each original line (1-based) -> its row in the padded script."""
    where = {tag: row for row, (_, tag) in enumerate(padded, start=1) if tag is not None}
    return {row: where[tag] for row, (_, tag) in enumerate(original, start=1)
            if tag is not None}


Start = tuple[str, str, tuple[int, int], tuple[tuple[str, tuple[int, int], "str | None"], ...]]


def _starts(finding: Finding, rows: dict[int, int] | None = None) -> Start:
    """What must not change: code, message, and where the finding and each related
    location start (rows moved by ``rows``)."""
    def start(span: Span) -> tuple[int, int]:
        return (span.start.row if rows is None else rows[span.start.row], span.start.column)

    return (finding.code, finding.message, start(finding.span),
            tuple((item.message, start(item.span), item.path) for item in finding.related))


def _spans(finding: Finding) -> list[Span]:
    return [finding.span, *(item.span for item in finding.related)]


def _same_end(before: Span, after: Span, rows: dict[int, int], padded: Sequence[Line]) -> bool:
    """Does ``after`` end where ``before`` does, moved? A span may also end later, past
    inserted lines only: a statement added at the end of a block the span covers."""
    moved = rows[before.end.row]
    if after.end.row == moved:
        return after.end.column == before.end.column
    return after.end.row > moved and all(
        padded[row - 1][1] is None for row in range(moved + 1, after.end.row + 1))


Flavour = Literal["auto", "keras3", "tf-keras"]


@budget(60)
@given(st.data(), st.sampled_from(("auto", "keras3", "tf-keras")))
def test_findings_do_not_depend_on_unrelated_statements(
    data: st.DataObject, target: Flavour
) -> None:
    script = data.draw(scripts(), label="script")
    padded = Script(script.header, data.draw(_insert_unrelated(script.body), label="padded"))
    original_lines, padded_lines = script.render(), padded.render()
    before, after = lint(_text(original_lines), target), lint(_text(padded_lines), target)
    assert before.errors == () and after.errors == ()
    rows = _new_rows(original_lines, padded_lines)
    expected = sorted(before.findings, key=lambda finding: _starts(finding, rows))
    actual = sorted(after.findings, key=_starts)
    assert [_starts(finding) for finding in actual] == [
        _starts(finding, rows) for finding in expected]
    for old, new in zip(expected, actual):
        assert all(_same_end(old_span, new_span, rows, padded_lines)
                   for old_span, new_span in zip(_spans(old), _spans(new)))


def test_the_script_generator_reaches_findings() -> None:
    """The stability property is only worth something if the scripts are flagged: a
    fixed script of the generator's own statements has the classic findings."""
    base = "base = keras.applications.ResNet50(weights='imagenet', include_top=False)"
    script = Script(("import keras", base, *_model("sequential", "False")),
                    [Simple(("base.trainable = False",)),
                     Simple(("model.compile(optimizer=keras.optimizers.Adam(1e-3), loss='mse')",)),
                     Simple(("model.fit(x_train, y_train, epochs=1, batch_size=32)",)),
                     Compound("if args.finetune", [
                         Simple(("base.trainable = True",)),
                         Simple(("model.compile('adam', loss='mse')",)),
                         Simple(("model.fit(x_train, y_train)",))])])
    padded = Script(script.header, [Simple(("import os",), inserted=True), *script.body[:2],
                                    Simple(("print('step')",), inserted=True), *script.body[2:]])
    before = lint(_text(script.render()))
    after = lint(_text(padded.render()))
    assert {f.code for f in before.findings} >= {"BN201", "BN204"}
    rows = _new_rows(script.render(), padded.render())
    assert [f.span.start.row for f in after.findings] == [
        rows[f.span.start.row] for f in before.findings]
    assert [f.span.start.row for f in after.findings] != [f.span.start.row for f in before.findings]
