"""Shared test set-up: every test gets its own empty result cache.

bnlint caches results in ``.bnlint_cache`` at the project root by default; a test that
runs the CLI (in-process or in a subprocess, which inherits the environment) must
neither write into the repository nor be answered by another test's cache.
"""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _private_cache_dir(tmp_path_factory: pytest.TempPathFactory,
                       monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path_factory.mktemp("bnlint-cache")
    monkeypatch.setenv("BNLINT_CACHE_DIR", str(directory))
    return directory
