"""Shared test configuration: hypothesis profiles chosen by CODEC_HYPOTHESIS_PROFILE, and the
real weights (``../shared/weights`` or CODEC_WEIGHTS): a test that needs them and does not
find them is skipped with the path it looked at, or fails with CODEC_REQUIRE_WEIGHTS=1
(.ci/run sets it: CI has the weights, so their absence there is an error, not a skip)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # benchmarks/recipe.py is shared with the tests
    sys.path.insert(0, str(ROOT))

settings.register_profile("default", max_examples=40, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", max_examples=200, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=10, deadline=None)
# for hunting rare property failures by hand (not run by CI: too slow for its budget)
settings.register_profile("stress", max_examples=2000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("CODEC_HYPOTHESIS_PROFILE", "default"))


def weights_dir() -> Path:
    from benchmarks.recipe import weights_dir as wd
    return wd()


@pytest.fixture(scope="session")
def shared_weights() -> Path:
    d = weights_dir()
    if not d.is_dir():
        msg = f"real weights not found at {d} (set CODEC_WEIGHTS)"
        if os.environ.get("CODEC_REQUIRE_WEIGHTS") == "1":
            pytest.fail(msg)
        pytest.skip(msg)
    return d
