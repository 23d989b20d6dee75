"""Write every chapter as a Jupyter notebook (.ipynb) beside its MyST Markdown file.

    python .ci/colab_notebooks.py [--repo URL] [--ref BRANCH]

Colab opens only ``.ipynb`` files. The deployment workflow runs this before building the
website (the theme's Colab and Binder buttons then point at the ``.ipynb``) and publishes the
notebooks on the ``notebooks`` branch. Each notebook starts with a cell that, on Colab only,
installs ``lvf`` from that branch; elsewhere the cell does nothing. ``_config.yml`` excludes
``book/*.ipynb`` from the build, so the Markdown files stay the source of the pages.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import jupytext
import nbformat

ROOT = Path(__file__).resolve().parents[1]

SETUP = """# On Colab: install the book's library (a few minutes; it pins torch). Elsewhere: nothing.
import sys

if "google.colab" in sys.modules:
    %pip install --quiet "lvf[foundation] @ git+{repo}@{ref}"
"""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--repo", default="https://github.com/latent-vector-fields/lvf")
    p.add_argument("--ref", default="notebooks")
    a = p.parse_args()
    for md in sorted((ROOT / "book").glob("*.md")):
        head = md.read_text(encoding="utf-8")[:2000]
        if "jupytext:" not in head:  # a plain page, not a notebook
            continue
        nb = jupytext.read(md)
        cell = nbformat.v4.new_code_cell(SETUP.format(repo=a.repo, ref=a.ref))
        cell.metadata["tags"] = ["colab-setup"]
        nb.cells.insert(0, cell)
        out = md.with_suffix(".ipynb")
        jupytext.write(nb, out, fmt="ipynb")
        print(out.relative_to(ROOT))


if __name__ == "__main__":
    main()
