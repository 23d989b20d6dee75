"""Every chapter of the book runs end to end at ``LVF_SCALE=tiny``.

Each page listed in ``_toc.yml`` that is a notebook (a MyST Markdown file with a jupytext
header) is read with jupytext and executed with nbclient in a fresh ``python3`` kernel of the
interpreter running the tests, with the chapter's folder as working directory. Any cell error
fails the test.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import jupytext
import nbclient
import pytest
from toc import toc_pages

ROOT = Path(__file__).resolve().parents[1]
CELL_TIMEOUT_S = 300


def _is_notebook(path: Path) -> bool:
    head = path.read_text(encoding="utf-8")[:2000]
    return head.startswith("---") and "jupytext:" in head and "kernelspec:" in head


def toc_notebooks() -> list[Path]:
    """Chapters in _toc.yml order that are executable notebooks."""
    paths = [(ROOT / p).with_suffix(".md") for p in toc_pages()]
    return [p for p in paths if p.is_file() and _is_notebook(p)]


NOTEBOOKS = toc_notebooks()


@pytest.fixture(scope="module")
def python3_kernel(tmp_path_factory) -> str:
    """A ``python3`` kernelspec that runs this interpreter, found first on JUPYTER_PATH."""
    data = tmp_path_factory.mktemp("jupyter")
    spec = data / "kernels" / "python3"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    kernel = {"argv": argv, "display_name": "Python 3 (lvf tests)", "language": "python"}
    (spec / "kernel.json").write_text(json.dumps(kernel))
    old = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(data), old]))
    yield "python3"
    if old is None:
        os.environ.pop("JUPYTER_PATH", None)
    else:
        os.environ["JUPYTER_PATH"] = old


def test_toc_has_chapters():
    assert NOTEBOOKS, "_toc.yml lists no executable chapter"


@pytest.mark.slow
@pytest.mark.parametrize("chapter", NOTEBOOKS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_chapter_executes_at_tiny_scale(chapter: Path, python3_kernel: str, monkeypatch, tmp_path):
    monkeypatch.setenv("LVF_SCALE", "tiny")
    # claim records of a tiny run must not overwrite the book's (lvf.book.report)
    claims = tmp_path / "claims"
    monkeypatch.setenv("LVF_CLAIMS", str(claims))
    monkeypatch.setenv("LVF_PROGRESS", "0")
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    nb = jupytext.read(chapter)
    client = nbclient.NotebookClient(
        nb,
        timeout=CELL_TIMEOUT_S,
        kernel_name=python3_kernel,
        allow_errors=False,
        resources={"metadata": {"path": str(chapter.parent)}},
    )
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as err:
        pytest.fail(f"{chapter.name}: a cell failed at LVF_SCALE=tiny\n{err}", pytrace=False)
    # every claim a chapter records must be one of the paper's (the report joins on it)
    from lvf.book.claims import CLAIMS

    known = {rid for c in CLAIMS for rid in c.tested_by}
    # and every verdict comes from lvf.book.verdicts with an interval over seeds
    from lvf.book.scales import seeds

    for f in claims.glob("*.json"):
        records = json.loads(f.read_text())
        unknown = {r["id"] for r in records} - known
        assert not unknown, f"{f.stem} records {unknown}: add them to lvf.book.claims.CLAIMS"
        for r in records:
            j = r.get("judgement") or {}
            assert j.get("label") == r["verdict"], f"{r['id']}: no computed verdict"
            if r["verdict"] != "not tested" and r.get("model") != "any":
                assert j["seeds"] >= len(seeds()), f"{r['id']}: {j['seeds']} seeds"
