"""Per-claim records: what the paper says, what a chapter measured, and the verdict.

Each chapter calls :func:`record` once per claim of the paper it tests. Records are JSON
files, one per chapter, in :func:`claims_dir`; the reproduction report collects them with
:func:`load`, so no result is typed by hand. :func:`table` shows a chapter's records as the
"the paper says / we see" table that closes it.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lvf.paths import atomic_write
from lvf.scales import current_scale

__all__ = ["VERDICTS", "Claim", "claims_dir", "load", "record", "table"]

VERDICTS = ("reproduced", "partly reproduced", "not reproduced", "not tested")


@dataclass
class Claim:
    """One claim of the paper and what we measured.

    Attributes
    ----------
    id
        Stable identifier, e.g. ``"fig2-small-k-memorizes"``.
    chapter
        The chapter's file stem, e.g. ``"ch06_bottleneck_memorization"``.
    paper
        The claim in the paper's words, with its figure or number.
    ours
        What we measured, with numbers.
    verdict
        One of :data:`VERDICTS`.
    scale
        The scale it was measured at (``tiny``, ``book`` or ``paper``).
    numbers
        The measured values, machine-readable.
    """

    id: str
    chapter: str
    paper: str
    ours: str
    verdict: str
    scale: str = field(default_factory=current_scale)
    numbers: dict[str, Any] = field(default_factory=dict)
    hardware: str = field(default_factory=lambda: _hardware())
    date: str = field(default_factory=lambda: datetime.now(UTC).strftime("%Y-%m-%d"))
    commit: str = field(default_factory=lambda: _commit())


def _hardware() -> str:
    try:
        import torch

        if torch.cuda.is_available():
            return torch.cuda.get_device_name(0)
    except Exception:  # noqa: BLE001 - the record must not fail over a hardware name
        pass
    return f"CPU ({platform.machine()}, {os.cpu_count()} cores)"


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def claims_dir() -> Path:
    """Folder of the records: ``$LVF_CLAIMS`` or ``book/_claims`` of this checkout."""
    env = os.environ.get("LVF_CLAIMS")
    if env:
        path = Path(env)
    else:
        here = Path.cwd()
        book = here if here.name == "book" else here / "book"
        path = book / "_claims"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _file(chapter: str) -> Path:
    return claims_dir() / f"{chapter}.json"


def record(
    id: str,
    *,
    chapter: str,
    paper: str,
    ours: str,
    verdict: str,
    numbers: dict[str, Any] | None = None,
) -> Claim:
    """Record (or replace) the claim ``id`` of ``chapter`` and return it."""
    if verdict not in VERDICTS:
        raise ValueError(f"verdict must be one of {VERDICTS}, got {verdict!r}")
    claim = Claim(
        id=id,
        chapter=chapter,
        paper=paper,
        ours=ours,
        verdict=verdict,
        numbers=_jsonable(numbers or {}),
    )
    path = _file(chapter)
    claims = {c["id"]: c for c in _read(path)}
    claims[id] = asdict(claim)
    text = json.dumps(list(claims.values()), indent=2, ensure_ascii=False)
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))
    return claim


def _jsonable(value: Any) -> Any:
    """Numbers from numpy or torch become plain Python numbers."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


def _read(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return json.loads(path.read_text(encoding="utf-8"))


def load(chapter: str | None = None) -> list[Claim]:
    """All records, or one chapter's, in file and insertion order."""
    files = [_file(chapter)] if chapter else sorted(claims_dir().glob("*.json"))
    return [Claim(**c) for f in files for c in _read(f)]


def table(chapter: str):
    """The chapter's records as a Markdown table (an IPython display object)."""
    from IPython.display import Markdown

    rows = ["| claim | the paper says | we see | verdict |", "|---|---|---|---|"]
    for c in load(chapter):
        cells = (c.id, c.paper, f"{c.ours} *({c.scale} scale)*", f"**{c.verdict}**")
        rows.append("| " + " | ".join(s.replace("|", "\\|") for s in cells) + " |")
    return Markdown("\n".join(rows))
