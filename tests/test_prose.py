"""Every result a chapter's prose states is computed by the build.

A decimal number typed in a chapter's prose (outside code, math, inline code and glued values)
is a result that will silently disagree with the figures after a rebuild at another scale or on
another machine. It is allowed only when it is

* a setting or a definition of the book, listed in :data:`SETTINGS` with what it is;
* a quote of the paper, in a Markdown block quote (lines that start with ``>``);
* a reference to the paper's numbering (Sec. 3.3, Fig. 3, Prop. A.9, App. B.8, ...).

Results go through MyST-NB's ``glue`` (``{glue:text}`name:.2f```). The test also refuses
verdict words in headings and admonition titles: a title does not presuppose an outcome.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

BOOK = Path(__file__).resolve().parents[1] / "book"
CHAPTERS = sorted(BOOK.glob("ch[0-9][0-9]_*.md"))

SETTINGS: dict[str, str] = {
    "0.99": "cosine threshold of the paper's attractor rule",
    "0.9": "share of the energy that defines rank-90",
    "0.95": "coverage of the verdicts' intervals; TPR of FPR95",
    "0.5": "a step size, a noise level or a probability in a definition",
}
"""Decimals that are settings or definitions, never results."""

_NUMBERING = re.compile(
    r"(?:Secs?|Sections?|Figs?|Figures?|Props?|Proposition|Thms?|Theorem|Apps?|Appendix|"
    r"Tables?|Eqs?|Def|Definition|Lemma|Cor|Corollary|Algorithm|§|Python|version|v)"
    r"\.?\s*[A-Z]?\d+(?:\.\d+)*(?:\s*(?:and|,|–|-)\s*[A-Z]?\d+(?:\.\d+)*)*",
)
_DECIMAL = re.compile(r"(?<![\w.])[−-]?\d+\.\d+(?![\w.])")
_VERDICT_WORDS = re.compile(
    r"\b(fails?|succeeds?|works|reproduced|confirm(?:s|ed)?|refute[sd]?)\b", re.IGNORECASE
)


def prose(text: str) -> str:
    """The chapter's prose: without front matter, code, math, roles and block quotes."""
    text = re.sub(r"\A---\n.*?\n---\n", "", text, flags=re.S)
    text = re.sub(r"^(`{3,}|:{3,}).*?$", r"\g<0>", text, flags=re.M)
    text = re.sub(r"```\{code-cell\}.*?\n```", "", text, flags=re.S)
    text = re.sub(r"```.*?\n```", "", text, flags=re.S)
    text = re.sub(r"^>.*$", "", text, flags=re.M)  # quotes of the paper
    text = re.sub(r"^\s*:[\w-]+:.*$", "", text, flags=re.M)  # directive options
    text = re.sub(r"\$\$.*?\$\$", "", text, flags=re.S)
    text = re.sub(r"\$[^$\n]+\$", "", text)
    text = re.sub(r"\{[\w:-]+\}`[^`]*`", "", text)  # roles: glue, ref, doc, cite, math
    text = re.sub(r"`[^`]*`", "", text)
    text = re.sub(r"\]\([^)]*\)", "]", text)  # link targets
    return _NUMBERING.sub("", text)


def typed_decimals(text: str) -> list[str]:
    """Decimals in the prose that are not settings (each once, in order)."""
    seen: list[str] = []
    for m in _DECIMAL.findall(prose(text)):
        number = m.replace("−", "-").lstrip("-")
        if number not in SETTINGS and number not in seen:
            seen.append(number)
    return seen


def titles(text: str) -> list[str]:
    """Headings and admonition titles outside code cells."""
    text = re.sub(r"```\{code-cell\}.*?\n```", "", text, flags=re.S)
    heads = re.findall(r"^#{1,6}\s+(.*)$", text, flags=re.M)
    heads += re.findall(r"^:{3,}\{admonition\}\s*(.*)$", text, flags=re.M)
    return heads


def test_the_scanner_finds_typed_results_and_skips_the_rest():
    text = (
        "---\nformat_version: 0.13\n---\n"
        "We measured an AUROC of 91.2 here, and a loss of {glue:text}`loss:.3f`.\n"
        "Sec. 3.3 and Prop. A.9 say so; the threshold is 0.99; $x = 2.5$ and `lr=5e-4`.\n"
        "> The paper reports 29.60.\n"
        "```{code-cell} ipython3\nx = 0.123\n```\n"
    )
    assert typed_decimals(text) == ["91.2"]
    assert titles("# Why the score fails here\n:::{admonition} It works\n") == [
        "Why the score fails here",
        "It works",
    ]


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_no_typed_results_in_the_prose(chapter):
    found = typed_decimals(chapter.read_text(encoding="utf-8"))
    assert not found, (
        f"{chapter.name} states results typed by hand: {found}. Glue them from the run "
        "(myst_nb.glue and {glue:text}), quote the paper in a block quote, or, for a "
        "setting, add it to SETTINGS in tests/test_prose.py with what it is."
    )


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_titles_do_not_presuppose_an_outcome(chapter):
    bad = [t for t in titles(chapter.read_text(encoding="utf-8")) if _VERDICT_WORDS.search(t)]
    assert not bad, f"{chapter.name}: titles that state an outcome before the build: {bad}"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_every_chapter_says_what_it_found(chapter):
    text = chapter.read_text(encoding="utf-8")
    found = re.search(r"^## What we found\s*$(.*?)^## ", text, flags=re.M | re.S)
    assert found, f"{chapter.name} has no section '## What we found' before its claims table"
    assert "{glue:" in found.group(1), f"{chapter.name}: 'What we found' glues no number"
