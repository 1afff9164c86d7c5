"""The command line: ``bnlint [check] [PATH ...]``, ``bnlint rule CODE``, and friends.

Exit codes (as ruff): 0 no findings, 1 findings (unless ``--exit-zero``), 2 usage,
configuration or input errors and internal errors; 2 wins over 1. Errors are one line on
stderr (``bnlint: error: ...``), never a traceback unless ``BNLINT_DEBUG=1``.

Heavy modules (libcst, the rules, the semantic model) are imported inside functions so
that ``bnlint --version`` and ``--help`` stay instant.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager as ContextManager
from contextlib import nullcontext
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, TextIO

from bnlint import __version__
from bnlint.config import (
    CACHE_DIR_ENV,
    LIMIT_KEYS,
    TARGETS,
    CliOverrides,
    ConfigError,
    apply_overrides,
    find_config,
    limit_from_text,
    load_settings,
)
from bnlint.settings import Settings

if TYPE_CHECKING:
    from bnlint.baseline import Entry as BaselineEntry
    from bnlint.cache import ResultCache
    from bnlint.discover import DiscoveryResult
    from bnlint.engine import FileResult
    from bnlint.flavour import Flavour
    from bnlint.pins import PinIndex
    from bnlint.progress import ProgressBar
    from bnlint.report import FixSummary
    from bnlint.rule import Rule

OUTPUT_FORMATS = ("full", "concise", "json", "json-lines", "github", "gitlab", "sarif",
                  "junit", "text")
OUTPUT_FORMAT_ENV = "BNLINT_OUTPUT_FORMAT"
EXIT_CLEAN = 0
EXIT_FINDINGS = 1
EXIT_ERROR = 2
DEBUG_HINT = "(run with BNLINT_DEBUG=1 for the traceback)"


class UsageError(Exception):
    """Command-line arguments that do not make sense together."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a lint run produced, before it is printed."""

    results: tuple[FileResult, ...]
    errors: tuple[str, ...]


def main(argv: Sequence[str] | None = None) -> int:
    """Run bnlint with ``argv`` (default: ``sys.argv[1:]``) and return the exit code."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    serving = arguments[:1] == ["server"]
    try:
        args = _parse_server(arguments[1:]) if serving else _parse(arguments)
    except SystemExit as exit_:  # argparse: --help, --version, usage errors
        return exit_.code if isinstance(exit_.code, int) else EXIT_ERROR
    try:
        return _serve() if serving else _dispatch(args)
    except (ConfigError, UsageError) as error:
        return _fail(str(error))
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # noqa: BLE001 - the boundary: anything else is our bug
        if os.environ.get("BNLINT_DEBUG"):
            traceback.print_exc()
        first_line = next(iter(str(error).splitlines()), "")
        return _fail(f"internal error: {type(error).__name__}: {first_line} {DEBUG_HINT}")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (public so that docs can print ``--help``)."""
    parser = argparse.ArgumentParser(
        prog="bnlint",
        description="Find Keras BatchNormalization and fine-tuning mistakes.",
        epilog="Also: `bnlint rule CODE` (= --explain CODE), `bnlint check PATH ...` "
        "(= bnlint PATH ...), `bnlint server` (a language server for editors). "
        "Exit status: 0 clean, 1 findings, 2 error.",
    )
    parser.add_argument("paths", nargs="*", metavar="PATH",
                        help="files or directories to lint (default: .); `-` reads stdin")
    selection = parser.add_argument_group("rule selection (comma-separated; CLI wins over config)")
    for flag, text in (("--select", "rules to enable, replacing the default set"),
                       ("--extend-select", "rules to enable in addition"),
                       ("--ignore", "rules to disable")):
        selection.add_argument(flag, action="append", metavar="RULES", help=text)
    parser.add_argument("--output-format", "--format", dest="output_format",
                        choices=OUTPUT_FORMATS, default=_default_format(), metavar="FORMAT",
                        help=f"how findings are reported: {', '.join(OUTPUT_FORMATS[:-1])} "
                        f"(default: full, or {OUTPUT_FORMAT_ENV}; `text` = concise; "
                        "see docs/output-formats.md)")
    parser.add_argument("-o", "--output-file", dest="output_file", metavar="FILE",
                        help="write the report to FILE instead of stdout")
    adopt = parser.add_argument_group("adopting bnlint on code with findings")
    adopt.add_argument("--write-baseline", metavar="FILE",
                       help="record every current finding in FILE and exit 0")
    adopt.add_argument("--baseline", metavar="FILE",
                       help="report only findings that FILE (from --write-baseline) lacks")
    adopt.add_argument("--add-noqa", action="store_true",
                       help="add `# noqa: CODE` to the line of every current finding")
    probe = parser.add_argument_group("runtime probe (needs the `probe` extra)")
    probe.add_argument("--probe", action="store_true",
                       help="confirm findings on a small reconstructed model in TensorFlow/"
                       "Keras and report the measured numbers")
    probe.add_argument("--probe-flavours", metavar="LIST", type=_probe_flavours,
                       help="comma-separated flavours to probe under (keras3, tf-keras; "
                       "default: each file's target)")
    probe.add_argument("--probe-timeout", metavar="SECONDS", type=_positive_float,
                       default=120.0, help="time limit per scenario (default: 120)")
    fixing = parser.add_argument_group("fixes (ruff's model: safe fixes keep what the code "
                                       "states; unsafe ones change how the model trains)")
    fixing.add_argument("--fix", action=argparse.BooleanOptionalAction, default=None,
                        help="apply the safe fixes, then report what remains (also `fix` "
                        "in config)")
    fixing.add_argument("--unsafe-fixes", action=argparse.BooleanOptionalAction,
                        default=None, help="also apply (and mark [*]) the unsafe fixes "
                        "(also `unsafe-fixes` in config)")
    fixing.add_argument("--fix-only", action="store_true",
                        help="apply fixes and report nothing else (implies --fix)")
    fixing.add_argument("--diff", action="store_true",
                        help="write nothing: print a diff of what the fixes would change "
                        "(implies --fix-only); exit 1 when there is one")
    fixing.add_argument("--exit-non-zero-on-fix", action="store_true",
                        help="exit 1 when a fix was applied, even if nothing remains")
    parser.add_argument("--statistics", action="store_true",
                        help="print the number of findings per rule instead of each finding")
    parser.add_argument("--exit-zero", action="store_true",
                        help="exit 0 even when there are findings")
    parser.add_argument("--config", metavar="FILE",
                        help="configuration file (bnlint.toml or pyproject.toml)")
    parser.add_argument("--isolated", action="store_true", help="ignore configuration files")
    parser.add_argument("--target-keras", choices=TARGETS, help="the Keras flavour targeted")
    parser.add_argument("--jobs", "-j", type=_positive_int, metavar="N",
                        help="worker processes (default: CPU count; runs of < 20 files use one)")
    parser.add_argument("--force-exclude", action=argparse.BooleanOptionalAction, default=None,
                        help="apply excludes even to paths named on the command line")
    parser.add_argument("--respect-gitignore", action=argparse.BooleanOptionalAction,
                        default=None, help="skip files ignored by .gitignore (default: yes)")
    parser.add_argument("--no-cache", action="store_true",
                        help="neither read nor write the result cache")
    parser.add_argument("--cache-dir", metavar="DIR",
                        help="where to keep the result cache (default: .bnlint_cache in the "
                        "project root; also `cache-dir` in config, BNLINT_CACHE_DIR)")
    limits = parser.add_argument_group(
        "limits per file (a file beyond one is reported as not analysed; also config keys)")
    for flag, metavar, text in (
        ("--max-file-size", "MB", "skip program text larger than this (default: 10)"),
        ("--max-nesting", "N", "skip expressions nested deeper than this (default: 2000)"),
        ("--file-timeout", "SECONDS", "stop analysing a file after this long (default: 60)"),
        ("--file-memory", "MB", "memory budget of the process analysing a file (default: 4096)"),
    ):
        limits.add_argument(flag, type=_limit(flag[2:]), metavar=metavar, help=text)
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="a progress bar on stderr (default: on a terminal, outside CI, "
                        "once the run takes more than a moment)")
    parser.add_argument("--stdin-filename", metavar="NAME",
                        help="name of the file read from stdin (for config, report, excludes)")
    parser.add_argument("--show-settings", action="store_true",
                        help="print the effective settings and exit")
    parser.add_argument("--show-files", action="store_true",
                        help="print the files that would be linted and exit")
    parser.add_argument("--explain", metavar="RULE", help="print a rule's documentation")
    parser.add_argument("--list-rules", action="store_true", help="print the rule table")
    parser.add_argument("--version", action="version", version=f"bnlint {__version__}")
    return parser


# what the `lsp` extra installs (pyproject.toml): bnlint is not on a package index
LSP_INSTALL = "python -m pip install 'pygls>=2.0'"


def _parse_server(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bnlint server",
        description="Run bnlint as a language server, speaking LSP over stdin and stdout.")
    # language clients often pass the transport they chose; stdio is the only one
    parser.add_argument("--stdio", action="store_true", help="use stdin and stdout (default)")
    return parser.parse_args(argv)


def _serve() -> int:
    """``bnlint server``: the language server over stdio (the ``lsp`` extra)."""
    try:
        from bnlint.language_server import serve
    except ImportError as error:
        if (error.name or "").split(".")[0] not in ("pygls", "lsprotocol"):
            raise
        return _fail(f"`bnlint server` needs pygls (the lsp extra), which is not installed: "
                     f"{LSP_INSTALL}")
    serve()
    return EXIT_CLEAN


def _default_format() -> str:
    """``full``, unless BNLINT_OUTPUT_FORMAT names another format (as RUFF_OUTPUT_FORMAT)."""
    chosen = os.environ.get(OUTPUT_FORMAT_ENV, "").strip()
    return chosen if chosen in OUTPUT_FORMATS else "full"


def _parse(argv: list[str]) -> argparse.Namespace:
    if argv[:1] == ["check"]:
        argv = argv[1:]
    elif argv[:1] == ["rule"]:
        argv = ["--explain", *argv[1:]] if len(argv) > 1 else ["--list-rules"]
        if argv[1:2] == ["--all"]:
            argv[1] = "ALL"
    parser = build_parser()
    args = parser.parse_args(argv)
    chosen = os.environ.get(OUTPUT_FORMAT_ENV, "").strip()
    if chosen and chosen not in OUTPUT_FORMATS:
        parser.error(f"{OUTPUT_FORMAT_ENV}={chosen!r} is not an output format "
                     f"(choose from {', '.join(OUTPUT_FORMATS[:-1])})")
    if "-" in args.paths and len(args.paths) > 1:
        parser.error("`-` (stdin) cannot be combined with other paths")
    if args.stdin_filename is not None and args.paths not in ([], ["-"]):
        parser.error("--stdin-filename reads stdin: do not pass other paths")
    if args.write_baseline is not None and (args.add_noqa or args.baseline is not None):
        parser.error("--write-baseline records every finding: it takes neither --add-noqa "
                     "nor --baseline")
    if args.add_noqa and (args.paths == ["-"] or args.stdin_filename is not None):
        parser.error("--add-noqa edits files: it cannot read stdin")
    if args.diff:
        args.fix_only = True
    if args.fix_only:
        args.fix = True
    if args.fix and (args.paths == ["-"] or args.stdin_filename is not None):
        parser.error("--fix, --fix-only and --diff edit files: they cannot read stdin")
    if args.fix and (args.add_noqa or args.write_baseline is not None or args.statistics):
        parser.error("--fix, --fix-only and --diff take neither --add-noqa, "
                     "--write-baseline nor --statistics")
    if args.probe and (args.fix or args.add_noqa or args.write_baseline is not None):
        parser.error("--probe reports on findings: it takes neither --fix, --add-noqa "
                     "nor --write-baseline")
    return args


def _limit(key: str) -> Callable[[str], float]:
    """An argparse type checking a limit flag as its config key ``key`` is checked."""

    def checked(text: str) -> float:
        try:
            return limit_from_text(key, text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(f"expected {error}, got {text!r}") from None

    return checked


def _probe_flavours(text: str) -> tuple[str, ...]:
    from bnlint.probe.session import FLAVOURS

    chosen = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    unknown = [name for name in chosen if name not in FLAVOURS]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(
            f"unknown flavour {', '.join(unknown) or repr(text)} (choose from "
            f"{', '.join(FLAVOURS)})")
    return chosen


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive: {text!r}")
    return value


def _fix_mode(args: argparse.Namespace, settings: Settings, stdin: bool) -> None:
    """Settle --fix and --unsafe-fixes: the flags win, then the configuration's `fix`
    and `unsafe-fixes`. A configured `fix` does not apply where nothing is fixed: stdin,
    --add-noqa, --write-baseline, --statistics, --show-*."""
    if args.unsafe_fixes is None:
        args.unsafe_fixes = settings.unsafe_fixes
    if args.fix is None:
        args.fix = settings.fix and not (
            stdin or args.add_noqa or args.write_baseline is not None or args.statistics
            or args.probe)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _dispatch(args: argparse.Namespace) -> int:
    from bnlint.registry import all_rules

    rules = all_rules()
    if args.list_rules:
        return _print(_rule_table(rules))
    if args.explain is not None:
        return _print(_explain(args.explain, rules))
    return _check(args, rules)


def _check(args: argparse.Namespace, rules: Sequence[type[Rule]]) -> int:
    """The lint run proper: settings, selection, files or stdin, report."""
    stdin = args.paths == ["-"] or (not args.paths and args.stdin_filename is not None)
    paths: list[str] = args.paths or ["."]
    config_path = _config_path(args, paths, stdin)
    file_settings = load_settings(config_path)
    overrides = _overrides(args)
    settings = apply_overrides(file_settings, overrides)
    _fix_mode(args, settings, stdin)
    selected = _selected(file_settings, overrides, rules)
    if args.show_settings:
        text = _settings_text(config_path, settings, selected)
        if not stdin and args.paths:
            text += _targets_text(args.paths, settings)
        return _print(text)
    baseline = _load_baseline(args.baseline) if args.baseline is not None else None
    if args.probe:
        from bnlint.probe import ProbeUnavailable
        from bnlint.probe.session import require

        try:
            require(args.probe_flavours or ("keras3",))
        except ProbeUnavailable as error:
            _error(str(error))
            return EXIT_ERROR
    if stdin:
        outcome = _lint_stdin(args, settings, rules, selected)
        if outcome is None:  # --force-exclude and an excluded name: say nothing (ruff)
            return EXIT_CLEAN
    else:
        if args.show_files:
            return _show_files(paths, settings)
        outcome = _lint_files(args, paths, settings, rules, selected)
    if baseline is not None:
        from bnlint.baseline import filter_results

        outcome = Outcome(filter_results(outcome.results, baseline), outcome.errors)
    if args.fix:
        return _fix(args, outcome, settings, rules, selected, baseline)
    if not args.probe:
        return _finish(args, outcome)
    outcome, summary = _probe(args, outcome)
    status = _finish(args, outcome)
    sys.stdout.flush()
    print(summary, file=sys.stderr)
    return status


def _probe(args: argparse.Namespace, outcome: Outcome) -> tuple[Outcome, str]:
    """Attach the probe's verdicts; returns the summary line for stderr."""
    import time

    from bnlint.probe import probe_results, summary_line
    from bnlint.progress import Mode, wanted

    mode: Mode = "auto" if args.progress is None else "always" if args.progress else "never"
    started = time.perf_counter()
    results = probe_results(outcome.results, args.probe_flavours, args.probe_timeout,
                            sys.stderr if wanted(sys.stderr, mode) else None)
    return (Outcome(tuple(results), outcome.errors),
            summary_line(results, time.perf_counter() - started))


def _fix(
    args: argparse.Namespace, outcome: Outcome, settings: Settings,
    rules: Sequence[type[Rule]], selected: frozenset[str],
    baseline: list[BaselineEntry] | None,
) -> int:
    """--fix, --fix-only, --diff: apply (or show) the fixes, then report as ruff does."""
    from bnlint.fix_files import fix_results, unified_diff, write_fixes
    from bnlint.runner import lint_text

    pins = _pins(settings)

    def relint(path: str, data: bytes) -> FileResult:
        pinned = pins.flavour_for(path) if pins is not None else None
        result = lint_text(path, data, settings, rules, selected, project_flavour=pinned)
        if baseline is not None:
            from bnlint.baseline import filter_results

            result = filter_results((result,), baseline)[0]
        return result

    fixes = fix_results(outcome.results, relint, args.unsafe_fixes)
    if args.diff:
        _print("".join(unified_diff(fix) for fix in fixes))
    else:
        fixes = write_fixes(fixes)
    fixed = sum(len(fix.fixed) for fix in fixes if fix.changed)
    problems = [fix.error for fix in fixes if fix.error is not None]
    fixed_outcome = Outcome(tuple(fix.result for fix in fixes), (*outcome.errors, *problems))
    if not args.fix_only:
        return _finish(args, fixed_outcome, fixed=fixed)
    errors = [*fixed_outcome.errors,
              *(_file_error(r.path, e) for r in fixed_outcome.results for e in r.errors)]
    for error in errors:
        _error(error)
    print(_fix_only_summary(fixed, fixed_outcome.results, args), file=(
        sys.stderr if args.diff else sys.stdout), end="")
    if errors:
        return EXIT_ERROR
    if args.diff:
        return EXIT_FINDINGS if fixed else EXIT_CLEAN
    return EXIT_FINDINGS if fixed and args.exit_non_zero_on_fix else EXIT_CLEAN


def _fix_only_summary(fixed: int, results: Sequence[FileResult],
                      args: argparse.Namespace) -> str:
    """ruff's ``Fixed 2 findings.`` / ``Would fix 2 findings.`` (with --diff), with the
    unsafe fixes left out when there are some."""
    from bnlint.fix import is_applicable

    hidden = 0 if args.unsafe_fixes else sum(
        1 for result in results for finding in result.findings
        if is_applicable(finding.fix, True))
    noun = f"finding{'' if fixed == 1 else 's'}"
    extra = (f" ({hidden} fix{'' if hidden == 1 else 'es'} available with "
             "`--unsafe-fixes`)") if hidden else ""
    if fixed:
        return f"{'Would fix' if args.diff else 'Fixed'} {fixed} {noun}{extra}.\n"
    if hidden:
        return f"No findings {'would be ' if args.diff else ''}fixed{extra}.\n"
    return ""


def _load_baseline(path: str) -> list[BaselineEntry]:
    from bnlint.baseline import BaselineError, load_baseline

    try:
        return load_baseline(path)
    except BaselineError as error:
        raise UsageError(str(error)) from None


def _config_path(args: argparse.Namespace, paths: list[str], stdin: bool) -> str | None:
    if args.config is not None:
        if not os.path.isfile(args.config):
            raise ConfigError(f"{args.config}: configuration file not found")
        return str(args.config)
    if args.isolated:
        return None
    start = (args.stdin_filename or ".") if stdin else paths[0]
    return find_config(start)


def _split_selectors(values: list[str] | None, option: str) -> tuple[str, ...] | None:
    if values is None:
        return None
    items = tuple(item.strip() for value in values for item in value.split(",") if item.strip())
    if not items:  # `--select ""` would silently turn every rule off
        raise ConfigError(f"{option}: expected rule codes or names, got an empty value")
    return items


def _overrides(args: argparse.Namespace) -> CliOverrides:
    return CliOverrides(
        select=_split_selectors(args.select, "--select"),
        ignore=_split_selectors(args.ignore, "--ignore") or (),
        extend_select=_split_selectors(args.extend_select, "--extend-select") or (),
        target_keras=args.target_keras,
        force_exclude=args.force_exclude,
        respect_gitignore=args.respect_gitignore,
        cache_dir=args.cache_dir or os.environ.get(CACHE_DIR_ENV) or None,
        no_cache=args.no_cache,
        limits=tuple((key.replace("-", "_"), value) for key in LIMIT_KEYS
                     if (value := getattr(args, key.replace("-", "_"))) is not None),
        fix=args.fix,
        unsafe_fixes=args.unsafe_fixes,
    )


def _selected(
    file_settings: Settings, overrides: CliOverrides, rules: Sequence[type[Rule]]
) -> frozenset[str]:
    from bnlint.selection import SelectionLayer, resolve_selection

    cli = SelectionLayer(overrides.select, overrides.ignore, overrides.extend_select)
    return resolve_selection(file_settings, rules, cli)


def _pins(settings: Settings) -> PinIndex | None:
    """Where each file's pinned flavour comes from: the dependency files above it, up to
    the project root (unless the configuration names the target)."""
    if settings.target_keras != "auto":
        return None
    from bnlint.pins import PinIndex

    return PinIndex(settings.root)


def _lint_files(
    args: argparse.Namespace, paths: list[str], settings: Settings,
    rules: Sequence[type[Rule]], selected: frozenset[str],
) -> Outcome:
    from bnlint.runner import lint_paths

    found = _discover(paths, settings)
    if not found.files and not found.errors:
        _warn("no Python files or notebooks found under the given paths")
    # the cache keeps no probe scenarios: a probe run analyses every file afresh
    cache = _open_cache(settings, rules) if found.files and not args.probe else None
    with _progress_bar(args, len(found.files)) as progress:
        results = lint_paths(
            found.files, settings, rules, selected,
            jobs=args.jobs, pins=_pins(settings), cache=cache, progress=progress,
        )
    if cache is not None and cache.problem is not None:
        _warn(cache.problem)
    return Outcome(tuple(results), tuple(found.errors))


def _progress_bar(args: argparse.Namespace, total: int) -> ContextManager[ProgressBar | None]:
    """A progress bar on stderr when a person is watching (bnlint.progress), else None."""
    from bnlint.progress import DELAY, Mode, ProgressBar, wanted

    mode: Mode = "auto" if args.progress is None else "always" if args.progress else "never"
    if total == 0 or not wanted(sys.stderr, mode):
        return nullcontext(None)
    return ProgressBar(sys.stderr, total, 0.0 if mode == "always" else DELAY)


def _open_cache(settings: Settings, rules: Sequence[type[Rule]]) -> ResultCache | None:
    if settings.cache_dir is None:
        return None
    from bnlint.cache import ResultCache

    return ResultCache.open(settings.cache_dir, settings, rules, None)


def _discover(paths: list[str], settings: Settings) -> DiscoveryResult:
    from bnlint.discover import DiscoveryError, discover

    try:
        return discover(paths, settings)
    except DiscoveryError as error:
        raise ConfigError(str(error)) from None


def _lint_stdin(
    args: argparse.Namespace, settings: Settings,
    rules: Sequence[type[Rule]], selected: frozenset[str],
) -> Outcome | None:
    from bnlint.runner import lint_text

    name: str = args.stdin_filename or "-"
    if sys.stdin is None:  # started with stdin closed (`bnlint - <&-`)
        raise ConfigError("cannot read standard input: it is closed")
    try:
        data = sys.stdin.buffer.read()
    except OSError as error:
        raise ConfigError(f"cannot read standard input: {error.strerror or error}") from None
    if args.stdin_filename is not None and _stdin_excluded(name, settings):
        return None
    pins = _pins(settings)
    pinned = pins.flavour_for(os.path.abspath(name if name != "-" else "stdin.py")) if (
        pins is not None) else None
    result = lint_text(name, data, settings, rules, selected, project_flavour=pinned,
                       isolate=True)
    return Outcome((result,), ())


def _stdin_excluded(name: str, settings: Settings) -> bool:
    """With --force-exclude, is the stdin file's name excluded? Decided by discovery,
    so only for a name that exists on disk (an editor buffer of a real file)."""
    if not settings.force_exclude or not os.path.exists(name):
        return False
    found = _discover([name], settings)
    return not found.files and not found.errors


def _show_files(paths: list[str], settings: Settings) -> int:
    found = _discover(paths, settings)
    _print("".join(f"{path}\n" for path in found.files))
    for error in found.errors:
        _error(error)
    return EXIT_ERROR if found.errors else EXIT_CLEAN


def _finish(args: argparse.Namespace, outcome: Outcome, fixed: int = 0) -> int:
    results = outcome.results
    errors = [*outcome.errors, *(_file_error(r.path, e) for r in results for e in r.errors)]
    for error in errors:
        _error(error)
    if args.write_baseline is not None or args.add_noqa:
        return _adopt(args, results, bool(errors))
    if args.statistics:
        text = _statistics(results, args.output_format)
    else:
        from bnlint.report import FixSummary

        color = args.output_file is None and _wants_color(sys.stdout)
        text = _render(args.output_format, outcome, errors, color,
                       FixSummary(fixed, args.unsafe_fixes))
    if args.output_file is not None:
        _write_report(args.output_file, text)
    else:
        _print(text)
    if errors:
        return EXIT_ERROR
    has_findings = any(result.findings for result in results)
    if fixed and args.exit_non_zero_on_fix:
        return EXIT_FINDINGS
    return EXIT_FINDINGS if has_findings and not args.exit_zero else EXIT_CLEAN


def _adopt(args: argparse.Namespace, results: Sequence[FileResult], failed: bool) -> int:
    """--write-baseline or --add-noqa: record or silence the findings, report nothing."""
    if args.write_baseline is not None:
        from bnlint.baseline import BaselineError, write_baseline

        try:
            count = write_baseline(args.write_baseline, results)
        except BaselineError as error:
            raise UsageError(str(error)) from None
        print(f"Wrote {count} finding{'s' if count != 1 else ''} to {args.write_baseline}",
              file=sys.stderr)
    else:
        from bnlint.add_noqa import add_noqa

        added = add_noqa(results, _warn, _error)
        failed = failed or added.failed
        print(f"Added {added.count} noqa directive{'s' if added.count != 1 else ''}",
              file=sys.stderr)
    return EXIT_ERROR if failed else EXIT_CLEAN


def _render(output_format: str, outcome: Outcome, errors: Sequence[str], color: bool,
            fixes: FixSummary | None = None) -> str:
    """The report of ``outcome`` in ``output_format``."""
    from bnlint import report

    results = outcome.results
    if output_format == "json":
        return report.render_json(results)
    if output_format == "json-lines":
        return report.render_json_lines(results)
    if output_format == "github":
        from bnlint.formats.github import render_github

        return render_github(results)
    if output_format == "gitlab":
        from bnlint.formats.gitlab import render_gitlab

        return render_gitlab(results)
    if output_format == "sarif":
        from bnlint.formats.sarif import render_sarif

        return render_sarif(results, errors)
    if output_format == "junit":
        from bnlint.formats.junit import render_junit

        return render_junit(results)
    if output_format == "full":
        from bnlint.formats.full import render_full

        return render_full(results, color=color, other_errors=len(outcome.errors),
                           fixes=fixes)
    return report.render_text(results, other_errors=len(outcome.errors), fixes=fixes)


def _wants_color(stream: TextIO) -> bool:
    """Colour on a terminal unless NO_COLOR is set (no-color.org); FORCE_COLOR forces it."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _write_report(path: str, text: str) -> None:
    """Write the report to ``path`` (its directory created), or raise a UsageError."""
    try:
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        with open(path, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
    except OSError as error:
        raise UsageError(f"{path}: cannot write the report: {error.strerror or error}") from None


def _statistics(results: Sequence[FileResult], output_format: str) -> str:
    import json
    from collections import Counter

    from bnlint.report import render_statistics

    if output_format not in ("json", "json-lines"):
        return render_statistics(results)
    counts = Counter((f.code, f.name) for result in results for f in result.findings)
    rows = [{"code": code, "name": name, "count": count}
            for (code, name), count in sorted(counts.items(), key=lambda i: (-i[1], i[0]))]
    if output_format == "json-lines":
        return "".join(json.dumps(row) + "\n" for row in rows)
    return json.dumps(rows, indent=2) + "\n"


def _file_error(path: str, message: str) -> str:
    return message if message.startswith(path) else f"{path}: {message}"


def _rule_table(rules: Sequence[type[Rule]]) -> str:
    rows = [("CODE", "NAME", "DEFAULT", "SEVERITY", "SUMMARY")]
    rows += [(r.code, r.name, "on" if r.default_enabled else "off", r.severity, r.summary)
             for r in rules]
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    return "".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row[:4], widths)) + "  " + row[4]
        + "\n"
        for row in rows
    )


# BN000 is no rule (nothing selects or ignores it): CPython's verdict on the file.
_SYNTAX_ERROR_PAGE = """# syntax-error (BN000)

Severity: error. Reported on every file bnlint analyses (one that mentions what its
rules look for); it cannot be selected, ignored or suppressed.

## What it does
Reports a file (or a notebook cell) that CPython does not compile, at the row and
column CPython gives and with its message. Code written for Python 2 (`print x`,
`except E, e:`, indentation that mixes tabs and spaces) is named as such and then
read as its mechanical Python 3 port: its findings are reported beside the BN000, at
the file's rows, without fixes. Code that Python accepts but bnlint's
parser cannot read is an error on stderr, not a BN000.

## Why is this bad?
Python cannot run the file as it is; and the other rules see only what could be
read: for a file that cannot be ported, nothing.

## Example
```python
print "training the head"
```

## Use instead
```python
print("training the head")
```
"""


def _explain(selector: str, rules: Sequence[type[Rule]]) -> str:
    if selector.upper() == "BN000" or selector == "syntax-error":
        return _SYNTAX_ERROR_PAGE
    wanted = [r for r in rules if selector.upper() in (r.code, "ALL") or selector == r.name]
    if not wanted:
        raise UsageError(f"unknown rule {selector!r} (`bnlint --list-rules` lists them)")
    return "\n".join(_rule_page(rule) for rule in wanted)


def _rule_page(rule: type[Rule]) -> str:
    default = "On by default." if rule.default_enabled else "Off by default (select it)."
    page = f"# {rule.name} ({rule.code})\n\nSeverity: {rule.severity}. {default}\n\n"
    return page + (rule.documentation() or rule.summary) + "\n"


def _settings_text(config_path: str | None, settings: Settings, selected: frozenset[str]) -> str:
    lines = [f"config = {config_path!r}"]
    lines += [f"{field.name} = {getattr(settings, field.name)!r}" for field in fields(settings)]
    lines.append(f"selected = {sorted(selected)!r}")
    return "".join(line + "\n" for line in lines)


def _targets_text(paths: list[str], settings: Settings) -> str:
    """For each path named with --show-settings: the Keras it is judged for and why (a
    file's own code counts; for a directory, what its dependency files pin)."""
    from bnlint.engine import judged_flavour
    from bnlint.flavour import Flavour
    from bnlint.project import project_for
    from bnlint.sources import SourceError, read_source

    pins = _pins(settings)
    lines: list[str] = []
    for path in paths:
        pinned = pins.flavour_for(os.path.join(path, "x.py") if os.path.isdir(path)
                                  else path) if pins is not None else None
        flavour: Flavour | None = pinned
        if settings.target_keras != "auto":
            flavour = Flavour(settings.target_keras, settings.keras_version,
                                 "configured target-keras")
        elif os.path.isfile(path):
            try:
                flavour = judged_flavour(read_source(path), settings, pinned,
                                         project_for(path, settings.root))
            except SourceError as error:
                lines.append(f"keras[{path!r}] = {str(error)!r}")
                continue
        lines.append(f"keras[{path!r}] = {_describe_target(flavour)!r}")
        package = _api_package(path, settings)
        if package is not None:
            lines.append(f"migration-rules[{path!r}] = {_MIGRATION_OFF.format(package)!r}")
    return "".join(line + "\n" for line in lines)


_MIGRATION_OFF = ("off: part of the `{}` package's own sources, which maintain the legacy "
                  "APIs that BN212, BN301 and BN305 advise users to move off")


def _api_package(path: str, settings: Settings) -> str | None:
    """The Keras/TensorFlow package whose own sources the file ``path`` is part of."""
    from bnlint.project import project_for

    project = project_for(path, settings.root) if os.path.isfile(path) else None
    return project.api_package() if project is not None else None


def _describe_target(flavour: Flavour | None) -> str:
    if flavour is None:
        return "decided per file: nothing pinned here"
    if flavour.assumed:
        from bnlint.semantic.flavour import ASSUMED

        why = ("no configuration, pin or code says which Keras" if flavour.reason == ASSUMED
               else flavour.reason)
        return f"unknown: {why}; rules whose verdict depends on it stay silent"
    return f"{flavour.describe()} ({flavour.reason})"


def _print(text: str, stream: TextIO | None = None) -> int:
    out = stream or sys.stdout
    if out is None:  # started with stdout closed (`bnlint >&-`)
        raise ConfigError("cannot write the report: standard output is closed")
    try:
        out.write(text)
        out.flush()
    except BrokenPipeError:  # `bnlint | head`: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())
    except OSError as error:  # a full disk: say so, and leave nothing to flush at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())
        raise ConfigError(f"cannot write the report: {error.strerror or error}") from None
    return EXIT_CLEAN


def _error(message: str) -> None:
    print(f"bnlint: error: {message}", file=sys.stderr)


def _warn(message: str) -> None:
    print(f"bnlint: warning: {message}", file=sys.stderr)


def _fail(message: str) -> int:
    _error(message)
    return EXIT_ERROR
