"""Shared test set-up.

Tests never draw progress bars or open windows; everything else (scale, cache, data) is
left to each test or to the caller's environment (``.ci/run`` sets temporary folders).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("LVF_PROGRESS", "0")
os.environ.setdefault("MPLBACKEND", "Agg")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository root (the folder holding pyproject.toml and _toc.yml)."""
    return ROOT
