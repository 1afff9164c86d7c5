"""``bnlint server``: a language server, speaking LSP over stdin and stdout (pygls).

Each open Python document's findings are published as diagnostics when it is opened,
changed (its unsaved text, linted a moment after typing stops) or saved, and cleared when
it is closed; a save lints every open document again, since the module saved may be one
the others import. A diagnostic carries the rule code, the severity and the finding's
related locations, which may lie in other files of the project. On a finding's line the
code action "Disable BNxxx for this line" adds the code to the line's ``# noqa:``
comment. Documents are linted by :class:`bnlint.documents.DocumentLinter`: the same
engine, configuration and cache as the command line.

pygls (the ``lsp`` extra) is imported only by this module.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path

from bnlint import __version__
from bnlint.config import ConfigError
from bnlint.documents import DocumentLinter
from bnlint.engine import FileResult
from bnlint.finding import Finding, Span
from bnlint.sources import SourceError, read_source, split_lines

SOURCE = "bnlint"
# Seconds without a further change before a changed document is linted: typing is not
# slowed down by an analysis of every keystroke.
CHANGE_DELAY = 0.3
_SEVERITY = {
    "error": types.DiagnosticSeverity.Error,
    "warning": types.DiagnosticSeverity.Warning,
    "info": types.DiagnosticSeverity.Information,
}


class BnlintServer(LanguageServer):
    """The language server and what it knows of the open documents."""

    def __init__(self, linter: DocumentLinter | None = None) -> None:
        super().__init__(SOURCE, __version__)
        self.linter = linter or DocumentLinter()
        # uri -> (document version linted, result; None when bnlint does not lint it)
        self.results: dict[str, tuple[int | None, FileResult | None]] = {}
        self.reported: set[str] = set()  # configuration errors already shown


def build_server(linter: DocumentLinter | None = None) -> BnlintServer:
    """A server with bnlint's features registered (not started)."""
    server = BnlintServer(linter)

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: BnlintServer, params: types.DidOpenTextDocumentParams) -> None:
        publish(ls, params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    async def did_change(ls: BnlintServer, params: types.DidChangeTextDocumentParams) -> None:
        uri, version = params.text_document.uri, params.text_document.version
        await asyncio.sleep(CHANGE_DELAY)
        # a later change or the close has the last word; a code action may have linted it
        if uri in ls.workspace.text_documents and _version(ls, uri) == version and (
                ls.results.get(uri, (None, None))[0] != version):
            publish(ls, uri)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: BnlintServer, params: types.DidSaveTextDocumentParams) -> None:
        for uri in list(ls.workspace.text_documents):
            publish(ls, uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: BnlintServer, params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        ls.results.pop(uri, None)
        ls.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix]),
    )
    def code_action(ls: BnlintServer, params: types.CodeActionParams) -> list[types.CodeAction]:
        wanted = params.context.only
        if wanted is not None and not any(
                types.CodeActionKind.QuickFix.value.startswith(kind) for kind in wanted):
            return []
        uri = params.text_document.uri
        result = current_result(ls, uri)
        if result is None or result.source is None:
            return []
        first, last = params.range.start.line + 1, params.range.end.line + 1
        encoding = ls.workspace.position_encoding
        actions: list[types.CodeAction] = []
        for finding in result.findings:
            if finding.span.start.row <= last and first <= finding.span.end.row:
                actions.extend(finding_actions(uri, result, finding, encoding))
        return actions

    return server


def serve() -> None:
    """Run the server over stdin and stdout until the client asks it to exit."""
    build_server().start_io()


def _version(ls: BnlintServer, uri: str) -> int | None:
    return ls.workspace.get_text_document(uri).version


def current_result(ls: BnlintServer, uri: str) -> FileResult | None:
    """The result for the open document's current text, linted now if a change has not
    been linted yet."""
    if uri not in ls.workspace.text_documents:
        return None
    known = ls.results.get(uri)
    if known is not None and known[0] == _version(ls, uri):
        return known[1]
    return publish(ls, uri)


def publish(ls: BnlintServer, uri: str) -> FileResult | None:
    """Lint the open document ``uri`` and publish its diagnostics; return the result."""
    document = ls.workspace.get_text_document(uri)
    path = to_fs_path(uri) if uri.startswith("file:") else None
    result: FileResult | None = None
    if path is not None:
        try:
            result = ls.linter.lint(os.path.abspath(path), document.source)
        except ConfigError as error:
            _report_once(ls, str(error))
    ls.results[uri] = (document.version, result)
    diagnostics: list[types.Diagnostic] = []
    if result is not None:
        for message in result.errors:
            ls.window_log_message(types.LogMessageParams(
                type=types.MessageType.Error, message=f"bnlint: error: {message}"))
        diagnostics = to_diagnostics(result, ls.workspace.position_encoding)
    ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(
        uri=uri, version=document.version, diagnostics=diagnostics))
    return result


def _report_once(ls: BnlintServer, message: str) -> None:
    """Show a configuration error once (every change of a document would repeat it)."""
    ls.window_log_message(types.LogMessageParams(
        type=types.MessageType.Error, message=f"bnlint: error: {message}"))
    if message not in ls.reported:
        ls.reported.add(message)
        ls.window_show_message(types.ShowMessageParams(
            type=types.MessageType.Error, message=f"bnlint: {message}"))


def to_diagnostics(result: FileResult, encoding: str | None) -> list[types.Diagnostic]:
    """The LSP diagnostics of ``result``'s findings; positions in the client's
    ``encoding`` (code units of UTF-16 unless the client chose another)."""
    if result.source is None:
        return []
    lines = _Lines(result.path, split_lines(result.source.text), encoding)
    return [diagnostic(finding, lines) for finding in result.findings]


def diagnostic(finding: Finding, lines: _Lines) -> types.Diagnostic:
    """One finding as a diagnostic; the related notes as related information."""
    related = [
        types.DiagnosticRelatedInformation(
            location=types.Location(
                uri=from_fs_path(lines.absolute(note.path)) or "",
                range=lines.range(note.span, note.path)),
            message=note.message)
        for note in finding.related
    ]
    return types.Diagnostic(
        range=lines.range(finding.span),
        message=finding.message,
        severity=_SEVERITY.get(finding.severity, types.DiagnosticSeverity.Warning),
        code=finding.code,
        source=SOURCE,
        related_information=related or None,
    )


def finding_actions(uri: str, result: FileResult, finding: Finding,
                    encoding: str | None) -> list[types.CodeAction]:
    """The code actions offered on ``finding``: today the noqa comment for its line.

    A finding's safe fix becomes its quick fix here, ahead of the noqa action, once
    findings carry their fix edits."""
    from bnlint.add_noqa import noqa_line

    source = result.source
    if source is None:
        return []
    rows = split_lines(source.text)
    row = finding.span.start.row
    new_line = noqa_line(source, row, [finding])
    if new_line is None or not 1 <= row <= len(rows):
        return []
    lines = _Lines(result.path, rows, encoding)
    old_line = rows[row - 1]
    # The noqa text is only ever inserted into the line, and an insertion can always be
    # placed at the end of the longest common start of the old and new line.
    start = 0
    while start < len(old_line) and old_line[start] == new_line[start]:
        start += 1
    where = lines.position(row, start + 1)
    edit = types.TextEdit(range=types.Range(start=where, end=where),
                          new_text=new_line[start:start + len(new_line) - len(old_line)])
    return [types.CodeAction(
        title=f"Disable {finding.code} for this line",
        kind=types.CodeActionKind.QuickFix,
        diagnostics=[diagnostic(finding, lines)],
        edit=types.WorkspaceEdit(changes={uri: [edit]}),
    )]


class _Lines:
    """Converts a finding's rows and code-point columns into LSP positions, reading
    the lines of other files of the project (as the analysis read them, from disk)
    when a related location lies there."""

    def __init__(self, path: str, lines: Sequence[str], encoding: str | None) -> None:
        self.path = path
        self.encoding = encoding
        self.files: dict[str | None, Sequence[str]] = {None: lines}

    def absolute(self, path: str | None) -> str:
        """The absolute path of a related location's file (None: this file)."""
        return os.path.abspath(path if path is not None else self.path)

    def range(self, span: Span, path: str | None = None) -> types.Range:
        """The LSP range of ``span`` in the file ``path`` (None: this file)."""
        return types.Range(start=self.position(span.start.row, span.start.column, path),
                           end=self.position(span.end.row, span.end.column, path))

    def position(self, row: int, column: int, path: str | None = None) -> types.Position:
        """The LSP position of a 1-based row and 1-based code-point column."""
        lines = self._lines(path)
        if not 1 <= row <= len(lines):
            return types.Position(line=max(row - 1, 0), character=max(column - 1, 0))
        before = lines[row - 1][:max(column - 1, 0)]
        return types.Position(line=row - 1, character=_units(before, self.encoding))

    def _lines(self, path: str | None) -> Sequence[str]:
        if path not in self.files:
            try:
                self.files[path] = split_lines(read_source(self.absolute(path)).text)
            except SourceError:
                self.files[path] = ()
        return self.files[path]


def _units(text: str, encoding: str | None) -> int:
    """The length of ``text`` in the code units of the negotiated position encoding."""
    if encoding == types.PositionEncodingKind.Utf32:
        return len(text)
    if encoding == types.PositionEncodingKind.Utf8:
        return len(text.encode("utf-8", "surrogatepass"))
    return len(text.encode("utf-16-le", "surrogatepass")) // 2
