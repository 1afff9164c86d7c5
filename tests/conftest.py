"""Shared test set-up: every test gets its own empty result cache, and hypothesis runs
under a settings profile.

bnlint caches results in ``.bnlint_cache`` at the project root by default; a test that
runs the CLI (in-process or in a subprocess, which inherits the environment) must
neither write into the repository nor be answered by another test's cache.

Profiles (``BNLINT_HYPOTHESIS_PROFILE``): ``ci``, the default, keeps each property test
to the few examples it asks for; ``campaign`` runs ``BNLINT_CAMPAIGN_EXAMPLES`` examples
(default 10,000) per property test, for long runs (docs/property-tests.md).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Generating and analysing a program takes tenths of a second: no deadline, and no
# health check for slow generation (hypothesmith's grammar is slow by nature).
_SLOW = [HealthCheck.too_slow, HealthCheck.data_too_large]
settings.register_profile("ci", deadline=None, suppress_health_check=_SLOW, print_blob=True)
settings.register_profile(
    "campaign", deadline=None, suppress_health_check=_SLOW, print_blob=True,
    max_examples=int(os.environ.get("BNLINT_CAMPAIGN_EXAMPLES", "10000")),
)
settings.load_profile(os.environ.get("BNLINT_HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def _private_cache_dir(tmp_path_factory: pytest.TempPathFactory,
                       monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path_factory.mktemp("bnlint-cache")
    monkeypatch.setenv("BNLINT_CACHE_DIR", str(directory))
    return directory
