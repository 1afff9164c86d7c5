"""Resolved configuration, passed explicitly to every stage (no global state)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

TargetKeras = Literal["auto", "keras3", "tf-keras", "keras2", "tf1"]

DEFAULT_EXCLUDES: tuple[str, ...] = (
    ".bzr",
    ".direnv",
    ".eggs",
    ".git",
    ".hg",
    ".ipynb_checkpoints",
    ".mypy_cache",
    ".nox",
    ".pytest_cache",
    ".ruff_cache",
    ".bnlint_cache",
    ".svn",
    ".tox",
    ".venv",
    "venv",
    ".env",
    "env",
    "__pypackages__",
    "__pycache__",
    "_build",
    "build",
    "dist",
    "node_modules",
    "site-packages",
)


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Numbers that rules compare against; each is a `[tool.bnlint]` key (kebab-case)."""

    # BN204: with no earlier phase of the same model known, an unfreeze phase is flagged
    # only when its learning rate is at least this (1e-3 = Adam/RMSprop default, F19).
    unfreeze_lr_threshold: float = 1e-3
    # BN204: the unfreeze phase must be at least this many times lower than the phase
    # before it (1.0 = "not lower" is flagged, as the catalogue states).
    unfreeze_lr_min_ratio: float = 1.0
    # BN401: batches up to this size are a warning (batch variance is 0 or degenerate).
    tiny_batch_warning: int = 2
    # BN401: batches up to this size (and above the warning size) are info.
    tiny_batch_info: int = 7
    # BN402: momentum at or below this looks like a PyTorch-style value (F18).
    pytorch_momentum_max: float = 0.5


@dataclass(frozen=True, slots=True)
class Limits:
    """What one file may cost; a file beyond a limit is not analysed and gets an error
    that names the limit. Each is a `[tool.bnlint]` key and a command-line flag."""

    # `max-file-size`: program text (a notebook's code cells) larger than this many MB
    # is skipped unread by the parser.
    max_file_size: float = 10.0
    # `max-nesting`: expressions nested deeper than this are not handed to the parser
    # (libcst's native parser dies of a stack overflow on a few thousand levels).
    max_nesting: int = 2000
    # `file-timeout`: seconds of analysis per file before it is stopped.
    file_timeout: float = 60.0
    # `file-memory`: MB of address space the process analysing a file may use.
    file_memory: int = 4096


@dataclass(frozen=True, slots=True)
class Settings:
    """The effective configuration for a run.

    ``select`` is None when the user did not choose: the default selection is every
    rule that is not off by default.
    """

    select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] = ()
    extend_select: tuple[str, ...] = ()
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    exclude: tuple[str, ...] = DEFAULT_EXCLUDES
    extend_exclude: tuple[str, ...] = ()
    respect_gitignore: bool = True
    force_exclude: bool = False
    # `fix` and `unsafe-fixes` (ruff's keys): apply the fixes (--fix) and include the
    # unsafe ones (--unsafe-fixes) without the flags.
    fix: bool = False
    unsafe_fixes: bool = False
    target_keras: TargetKeras = "auto"
    keras_version: tuple[int, ...] | None = None
    thresholds: Thresholds = field(default_factory=Thresholds)
    limits: Limits = field(default_factory=Limits)
    # Directory of the configuration file (or the working directory when there is
    # none); globs in exclude and per-file-ignores are relative to it.
    root: str = "."
    # Where the result cache lives (absolute once loaded: `cache-dir`, BNLINT_CACHE_DIR,
    # --cache-dir, else ROOT/.bnlint_cache); None means no cache (--no-cache).
    cache_dir: str | None = None
