"""Shared test configuration.

Real recordings live in ../shared/data (never committed); tests that need them skip with a
reason when it is absent, as in a user's fresh clone.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=2")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("BRAINFIT_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared recordings not found at {SHARED_DATA} (only present in CI / dev checkouts)")
    return SHARED_DATA
