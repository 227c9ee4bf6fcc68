"""Shared test fixtures.

Tests that need the reference data in ``../shared`` use the ``shared_dir`` fixture: it skips
with a reason when the folder is absent (a user's fresh clone) and fails under ``CI=true``,
where the folder must be present.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but the reference data folder {SHARED} is missing")
        pytest.skip(f"reference data folder {SHARED} is absent (clone ../shared beside the repo)")
    return SHARED


@pytest.fixture
def one_torch_thread():
    """Tiny models on a shared 2-core machine run far faster with one intra-op thread."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
