"""Shared test set-up.

Tests never draw progress bars, open windows or download checkpoints; everything else
(scale, cache, data) is left to each test or to the caller's environment (``.ci/run`` sets
temporary folders).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("LVF_PROGRESS", "0")
os.environ.setdefault("MPLBACKEND", "Agg")
# No test reaches for published checkpoints unless it says so (tests/test_train_hub.py serves
# its own on 127.0.0.1): CI has no route to the release, and a model must be trained here.
os.environ.setdefault("LVF_CHECKPOINTS_URL", "off")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository root (the folder holding pyproject.toml and _toc.yml)."""
    return ROOT
