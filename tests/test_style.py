"""One style for the library, the tests and the chapters' code cells: ruff lint and format.

Chapters are MyST Markdown notebooks; each is converted to a Jupyter notebook in memory with
jupytext and handed to ruff on stdin under its own path, so pyproject's per-file rules for
``book/**`` apply. To fix a chapter in place::

    jupytext --pipe "ruff format -" --pipe "ruff check --fix -" book/ch01_dynamical_systems.md
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import jupytext
import pytest

ROOT = Path(__file__).resolve().parents[1]
RUFF = [sys.executable, "-m", "ruff"]
CODE_DIRS = [d for d in ("src", "tests", "benchmarks") if (ROOT / d).is_dir()]


def _is_notebook(path: Path) -> bool:
    head = path.read_text(encoding="utf-8")[:2000]
    return head.startswith("---") and "jupytext:" in head and "kernelspec:" in head


CHAPTERS = sorted(p for p in (ROOT / "book").rglob("*.md") if _is_notebook(p))
BOOK_SCRIPTS = sorted((ROOT / "book").rglob("*.py"))


def _ruff(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*RUFF, *args], cwd=ROOT, input=stdin, capture_output=True, text=True, check=False
    )


def test_ruff_is_installed():
    proc = _ruff("--version")
    assert proc.returncode == 0, "ruff is part of the `test` extra: pip install -e '.[test]'"


def test_ruff_check_code():
    proc = _ruff("check", "--no-cache", *CODE_DIRS, *map(str, BOOK_SCRIPTS))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ruff_format_code():
    proc = _ruff("format", "--check", "--no-cache", *CODE_DIRS, *map(str, BOOK_SCRIPTS))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_there_are_chapters_to_lint():
    assert CHAPTERS, "no MyST notebooks found under book/"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.relative_to(ROOT).as_posix())
@pytest.mark.parametrize("action", ["check", "format"])
def test_ruff_chapter_cells(chapter: Path, action: str):
    notebook = jupytext.writes(jupytext.read(chapter), fmt="ipynb")
    name = chapter.relative_to(ROOT).with_suffix(".ipynb").as_posix()
    args = ["check", "--no-cache"] if action == "check" else ["format", "--diff", "--no-cache"]
    proc = _ruff(*args, "--stdin-filename", name, "-", stdin=notebook)
    assert proc.returncode == 0, f"ruff {action} on {chapter.name}:\n{proc.stdout}{proc.stderr}"
