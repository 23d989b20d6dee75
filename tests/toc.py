"""The pages of the book, as listed in ``_toc.yml`` (shared by the packaging, chapter and
website tests)."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _files(entries: list[dict]) -> list[str]:
    files = []
    for entry in entries:
        if "file" in entry:
            files.append(entry["file"])
        for key in ("parts", "chapters", "sections"):
            files.extend(_files(entry.get(key, [])))
    return files


def toc_pages() -> list[str]:
    """Every page of ``_toc.yml`` in order, the root first, as paths without suffix."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [toc["root"], *_files(toc.get("parts", []) + toc.get("chapters", []))]
