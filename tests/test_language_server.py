"""``bnlint server`` answers a real language client: the installed ``bnlint`` command in
a subprocess, spoken to over stdio by pygls's client. Diagnostics come with codes,
ranges, severities and related locations in other files; unsaved text is what is
linted; a closed document's diagnostics are cleared; the noqa code action's edit
silences the finding; the project's configuration decides what is reported."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import sys
import textwrap
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pygls.lsp.client import LanguageClient

from bnlint.cli import main

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
BNLINT = os.path.join(os.path.dirname(sys.executable), "bnlint")
# a guard against a hung server, never a measure of speed
REPLY_TIMEOUT = 180.0

BUILDER = """\
import tensorflow as tf


def build_model(num_classes):
    base = tf.keras.applications.ResNet50(include_top=False, weights="imagenet",
                                          pooling="avg")
    base.trainable = False
    model = tf.keras.Sequential([base, tf.keras.layers.Dense(num_classes)])
    return model, base
"""
HELPERS = """\
def unfreeze(base):
    base.trainable = True
"""
TRAINER = """\
import tensorflow as tf
from models import build_model
from helpers import unfreeze

model, base = build_model(10)
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
model.fit(train_ds, epochs=5)
{unfreeze}
model.compile(optimizer=tf.keras.optimizers.Adam(1e-5),
              loss="sparse_categorical_crossentropy")
model.fit(train_ds, epochs=5)
"""
CONFIG = """\
[tool.bnlint]
select = ["BN201"]
target-keras = "tf-keras"
"""


def trainer(unfreeze: str = "unfreeze(base)") -> str:
    return TRAINER.format(unfreeze=unfreeze)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A repository where a base is built in models.py, unfrozen by helpers.py and
    trained (BN201) in train.py."""
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    for name, text in (("pyproject.toml", CONFIG), ("models.py", BUILDER),
                       ("helpers.py", HELPERS), ("train.py", trainer())):
        (root / name).write_text(textwrap.dedent(text), encoding="utf-8")
    return root


class Session:
    """A client connected to a running ``bnlint server``, collecting what it sends."""

    def __init__(self, client: LanguageClient) -> None:
        self.client = client
        self.diagnostics: asyncio.Queue[types.PublishDiagnosticsParams] = asyncio.Queue()
        self.shown: list[str] = []
        self.versions: dict[str, int] = {}

    def open(self, path: Path, text: str | None = None) -> str:
        uri = path.as_uri()
        self.versions[uri] = 1
        self.client.text_document_did_open(types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="python", version=1,
                text=path.read_text(encoding="utf-8") if text is None else text)))
        return uri

    def change(self, uri: str, text: str) -> None:
        self.versions[uri] += 1
        self.client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(
                uri=uri, version=self.versions[uri]),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)]))

    def save(self, uri: str) -> None:
        self.client.text_document_did_save(types.DidSaveTextDocumentParams(
            text_document=types.TextDocumentIdentifier(uri=uri)))

    def close(self, uri: str) -> None:
        self.client.text_document_did_close(types.DidCloseTextDocumentParams(
            text_document=types.TextDocumentIdentifier(uri=uri)))

    async def published(self, uri: str) -> list[types.Diagnostic]:
        """The next diagnostics published for ``uri``."""
        while True:
            params = await asyncio.wait_for(self.diagnostics.get(), REPLY_TIMEOUT)
            if params.uri == uri:
                return list(params.diagnostics)

    async def code_actions(self, uri: str, line: int) -> list[types.CodeAction]:
        where = types.Position(line=line, character=0)
        answer = await asyncio.wait_for(self.client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                range=types.Range(start=where, end=where),
                context=types.CodeActionContext(diagnostics=[]))), REPLY_TIMEOUT)
        return [action for action in answer or [] if isinstance(action, types.CodeAction)]


@asynccontextmanager
async def session(cwd: Path, command: tuple[str, ...] = (BNLINT, "server"),
                  capabilities: types.ClientCapabilities | None = None,
                  ) -> AsyncIterator[tuple[Session, types.InitializeResult]]:
    client = LanguageClient("bnlint-tests", "1")
    talk = Session(client)

    @client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def on_diagnostics(params: types.PublishDiagnosticsParams) -> None:
        talk.diagnostics.put_nowait(params)

    @client.feature(types.WINDOW_SHOW_MESSAGE)
    def on_message(params: types.ShowMessageParams) -> None:
        talk.shown.append(params.message)

    @client.feature(types.WINDOW_LOG_MESSAGE)
    def on_log(params: types.LogMessageParams) -> None:
        pass

    await client.start_io(*command, cwd=str(cwd))
    try:
        initialized = await asyncio.wait_for(client.initialize_async(types.InitializeParams(
            capabilities=capabilities or types.ClientCapabilities(),
            root_uri=cwd.as_uri(),
            process_id=os.getpid())), REPLY_TIMEOUT)
        client.initialized(types.InitializedParams())
        yield talk, initialized
        await asyncio.wait_for(client.shutdown_async(None), REPLY_TIMEOUT)
    finally:
        client.exit(None)  # (after a failed assertion too: the server must not linger)
        try:
            await asyncio.wait_for(client.stop(), REPLY_TIMEOUT)
        except asyncio.TimeoutError:
            process = getattr(client, "_server", None)
            if process is not None:
                process.kill()
            raise


def run(test: Callable[[], Any]) -> None:
    asyncio.run(test())


def test_open_publishes_the_finding_with_its_range_code_and_notes_in_other_files(
        project: Path) -> None:
    async def check() -> None:
        async with session(project) as (talk, initialized):
            capabilities = initialized.capabilities
            assert capabilities.code_action_provider is not None
            assert initialized.server_info is not None
            assert initialized.server_info.name == "bnlint"
            uri = talk.open(project / "train.py")
            [diagnostic] = await talk.published(uri)
        assert diagnostic.code == "BN201"
        assert diagnostic.source == "bnlint"
        assert diagnostic.severity == types.DiagnosticSeverity.Warning
        assert diagnostic.code_description is None  # bnlint has no rule pages online
        assert diagnostic.message.startswith("unfreezing `base` puts its BatchNormalization")
        # `unfreeze(base)` on line 8 (0-based 7), columns 1-15 (0-based 0-14)
        assert diagnostic.range == types.Range(start=types.Position(line=7, character=0),
                                               end=types.Position(line=7, character=14))
        related = diagnostic.related_information or []
        notes = {(n.location.uri.rsplit("/", 1)[-1], n.location.range.start.line, n.message)
                 for n in related}
        assert (("helpers.py", 1, "the step reported above, in another module of the project")
                in notes)
        assert ("models.py", 6, "`base` is frozen here (its BN layers in inference mode)") in notes
        assert ("train.py", 8, "recompiled here: the unfreeze takes effect") in notes
        uris = {note.location.uri for note in related}
        assert uris == {(project / name).as_uri()
                        for name in ("train.py", "helpers.py", "models.py")}

    run(check)


def test_unsaved_change_is_linted_and_closing_clears_the_diagnostics(project: Path) -> None:
    async def check() -> None:
        async with session(project) as (talk, _):
            uri = talk.open(project / "train.py")
            assert [d.code for d in await talk.published(uri)] == ["BN201"]
            talk.change(uri, trainer("pass"))  # the unfreeze removed, not saved
            assert await talk.published(uri) == []
            talk.change(uri, trainer("\n" + "unfreeze(base)"))  # back, one line lower
            [again] = await talk.published(uri)
            assert again.range.start.line == 8
            talk.close(uri)
            assert await talk.published(uri) == []
        assert (project / "train.py").read_text(encoding="utf-8") == trainer()

    run(check)


def test_noqa_code_action_edit_silences_the_finding(project: Path) -> None:
    async def check() -> None:
        async with session(project) as (talk, _):
            uri = talk.open(project / "train.py")
            [diagnostic] = await talk.published(uri)
            assert await talk.code_actions(uri, 2) == []  # no finding on that line
            [action] = await talk.code_actions(uri, 7)
            assert action.title == "Disable BN201 for this line"
            assert action.kind == types.CodeActionKind.QuickFix
            assert list(action.diagnostics or []) == [diagnostic]
            assert action.edit is not None and action.edit.changes is not None
            [edit] = action.edit.changes[uri]
            end_of_line = types.Position(line=7, character=len("unfreeze(base)"))
            assert edit.range == types.Range(start=end_of_line, end=end_of_line)
            assert edit.new_text == "  # noqa: BN201"
            talk.change(uri, trainer("unfreeze(base)  # noqa: BN201"))
            assert await talk.published(uri) == []

    run(check)


def test_noqa_code_action_extends_an_existing_noqa_list(project: Path) -> None:
    async def check() -> None:
        async with session(project) as (talk, _):
            uri = talk.open(project / "train.py",
                            trainer("unfreeze(base)  # noqa: E501  (long)"))
            assert [d.code for d in await talk.published(uri)] == ["BN201"]
            [action] = await talk.code_actions(uri, 7)
            assert action.edit is not None and action.edit.changes is not None
            [edit] = action.edit.changes[uri]
            column = len("unfreeze(base)  # noqa: E501")
            assert edit.range.start == types.Position(line=7, character=column)
            assert edit.new_text == ", BN201"

    run(check)


def test_positions_count_utf16_code_units_unless_the_client_chooses(project: Path) -> None:
    text = trainer('label = "😋"; unfreeze(base)')
    prefix = 'label = "😋"; '

    async def start_column(capabilities: types.ClientCapabilities | None) -> int:
        async with session(project, capabilities=capabilities) as (talk, _):
            uri = talk.open(project / "train.py", text)
            [diagnostic] = await talk.published(uri)
            [action] = await talk.code_actions(uri, 7)
            assert action.edit is not None and action.edit.changes is not None
            [edit] = action.edit.changes[uri]
            assert edit.range.start.character == diagnostic.range.end.character
            return diagnostic.range.start.character

    utf32 = types.ClientCapabilities(general=types.GeneralClientCapabilities(
        position_encodings=[types.PositionEncodingKind.Utf32]))
    assert asyncio.run(start_column(None)) == len(prefix) + 1  # the emoji is 2 units
    assert asyncio.run(start_column(utf32)) == len(prefix)


def test_configuration_comes_from_the_projects_pyproject(project: Path) -> None:
    async def check() -> None:
        async with session(project) as (talk, _):
            uri = talk.open(project / "train.py")
            assert [d.code for d in await talk.published(uri)] == ["BN201"]
            (project / "pyproject.toml").write_text(
                CONFIG.replace('select = ["BN201"]', 'select = ["BN1"]'), encoding="utf-8")
            talk.save(uri)
            assert await talk.published(uri) == []

    run(check)


def test_excluded_files_and_notebooks_get_no_diagnostics(project: Path) -> None:
    (project / "pyproject.toml").write_text(CONFIG + 'extend-exclude = ["legacy"]\n',
                                            encoding="utf-8")
    (project / "legacy").mkdir()
    (project / "legacy" / "train.py").write_text(trainer(), encoding="utf-8")

    async def check() -> None:
        async with session(project) as (talk, _):
            excluded = talk.open(project / "legacy" / "train.py")
            assert await talk.published(excluded) == []
            notebook = talk.open(project / "train.ipynb", "{}")
            assert await talk.published(notebook) == []
            uri = talk.open(project / "train.py")
            assert [d.code for d in await talk.published(uri)] == ["BN201"]

    run(check)


def test_a_broken_configuration_is_shown_once_and_nothing_crashes(project: Path) -> None:
    (project / "pyproject.toml").write_text(CONFIG + "no-such-key = 1\n", encoding="utf-8")

    async def check() -> None:
        async with session(project) as (talk, _):
            uri = talk.open(project / "train.py")
            assert await talk.published(uri) == []
            talk.change(uri, trainer("pass"))
            assert await talk.published(uri) == []
            (project / "pyproject.toml").write_text(CONFIG, encoding="utf-8")
            talk.save(uri)
            assert await talk.published(uri) == []  # the buffer holds no finding
            talk.change(uri, trainer())
            assert [d.code for d in await talk.published(uri)] == ["BN201"]
            assert len(talk.shown) == 1
            assert "no-such-key" in talk.shown[0]

    run(check)


def test_server_without_pygls_names_the_install_command(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delitem(sys.modules, "bnlint.language_server", raising=False)
    monkeypatch.setitem(sys.modules, "pygls", None)
    assert main(["server"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert error.startswith("bnlint: error: `bnlint server` needs pygls")
    with open(ROOT / "pyproject.toml", "rb") as handle:
        [requirement] = tomllib.load(handle)["project"]["optional-dependencies"]["lsp"]
    assert error.rstrip().endswith(f"python -m pip install '{requirement}'")


def test_server_rejects_unknown_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["server", "--tcp"]) == 2
    assert "unrecognized arguments: --tcp" in capsys.readouterr().err


def editor_snippets() -> dict[str, str]:
    """The code blocks of the README's Editors section, by language."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Editors\n", 1)[1].split("\n## ", 1)[0]
    return dict(re.findall(r"```(\w+)\n(.*?)```", section, re.DOTALL))


def snippet_commands() -> list[tuple[str, list[str]]]:
    snippets = editor_snippets()
    vscode = json.loads(snippets["json"])
    assert vscode["glspc.server.languageId"] == ["python"]
    neovim = re.search(r"cmd = \{(.*?)\}", snippets["lua"])
    assert neovim is not None and 'filetypes = { "python" }' in snippets["lua"]
    return [
        ("vscode", [vscode["glspc.server.command"], *vscode["glspc.server.commandArguments"]]),
        ("neovim", re.findall(r'"([^"]*)"', neovim.group(1))),
    ]


@pytest.mark.parametrize(("editor", "command"), snippet_commands())
def test_readme_editor_snippets_start_a_server_that_lints(
        editor: str, command: list[str], project: Path) -> None:
    # the editor finds `bnlint` on its PATH: here, the one installed beside this Python
    path = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")
    executable = shutil.which(command[0], path=path)
    assert executable is not None, f"{editor}: {command[0]} not found"

    async def check() -> None:
        async with session(project, (executable, *command[1:])) as (talk, initialized):
            assert initialized.server_info is not None
            assert initialized.server_info.name == "bnlint"
            uri = talk.open(project / "train.py")
            assert [d.code for d in await talk.published(uri)] == ["BN201"]

    run(check)


def test_server_accepts_the_stdio_flag_that_clients_add(project: Path) -> None:
    async def check() -> None:
        async with session(project, (BNLINT, "server", "--stdio")) as (_, initialized):
            assert initialized.server_info is not None
            assert initialized.server_info.version is not None

    run(check)
