"""Per-claim records: what the paper says, what a chapter measured, and the verdict.

Each chapter calls :func:`record` once per claim of the paper it tests. Records are JSON
files, one per chapter, in :func:`claims_dir`; the reproduction report collects them with
:func:`load`, so no result is typed by hand. :func:`table` shows a chapter's records as the
"the paper says / we see" table that closes it, and stamps the chapter's running time
(:func:`runs`). :func:`reproduction` joins the records with the paper's claims
(:data:`lvf.book.claims.CLAIMS`) for the reproduction report.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lvf.book.scales import current_scale
from lvf.cache import atomic_write

if TYPE_CHECKING:
    from IPython.display import Markdown

__all__ = [
    "VERDICTS",
    "Claim",
    "claims_dir",
    "load",
    "markdown",
    "record",
    "reproduction",
    "runs",
    "table",
]

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


def markdown(header: list[str], rows) -> Markdown:
    """A Markdown table (an IPython display object; MyST renders it on the website).

    Cells are converted with ``str``; a ``|`` in a cell is escaped and a newline becomes a
    space, so any text fits in a cell.
    """
    from IPython.display import Markdown

    def line(cells) -> str:
        text = (str(c).replace("|", "\\|").replace("\n", " ") for c in cells)
        return "| " + " | ".join(text) + " |"

    lines = [line(header), "|" + "---|" * len(header)] + [line(r) for r in rows]
    return Markdown("\n".join(lines))


def table(chapter: str):
    """The chapter's records as a Markdown table (an IPython display object).

    Called in a chapter's closing cell, it also stamps the chapter's running time: the
    seconds since ``lvf`` was first imported in this process (a chapter's first cell), with
    the scale, the machine and the number of torch threads, in ``runs/<chapter>.json`` of
    :func:`claims_dir`. :func:`runs` reads them back.
    """
    _stamp_run(chapter)
    rows = [
        (c.id, c.paper, f"{c.ours} *({c.scale} scale)*", f"**{c.verdict}**") for c in load(chapter)
    ]
    return markdown(["claim", "the paper says", "we see", "verdict"], rows)


def _stamp_run(chapter: str) -> None:
    import torch

    import lvf

    run = dict(
        chapter=chapter,
        seconds=round(time.monotonic() - lvf._STARTED, 1),
        scale=current_scale(),
        hardware=_hardware(),
        threads=torch.get_num_threads(),
        date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        commit=_commit(),
    )
    path = claims_dir() / "runs" / f"{chapter}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(run, indent=2)
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))


def runs() -> list[dict[str, Any]]:
    """The running time of every chapter's last execution, by chapter name.

    Each entry holds ``chapter``, ``seconds`` (from the chapter's first ``import lvf`` to its
    closing table), ``scale``, ``hardware``, ``threads``, ``date`` and ``commit``.
    """
    files = sorted((claims_dir() / "runs").glob("*.json"))
    return [json.loads(f.read_text(encoding="utf-8")) for f in files]


def reproduction() -> tuple[list[dict[str, Any]], list[Claim]]:
    """Every claim of the paper joined with the records that test it.

    Returns
    -------
    rows
        One dict per (paper claim, record) pair, in the order of :data:`lvf.book.claims.CLAIMS`:
        ``section``, ``where``, ``claim`` (the paper's claim), ``record`` (the chapter
        record's id, or ``""``), ``chapter``, ``ours``, ``verdict``, ``scale``,
        ``hardware``, ``date``, ``commit``. A claim without records gives one row with
        verdict ``"not tested"`` and the reason (or "no record yet": its chapter has not run).
    orphans
        Records that test no claim of :data:`lvf.book.claims.CLAIMS` (an id to add there).
    """
    from lvf.book.claims import CLAIMS

    records = load()
    by_id: dict[str, list[Claim]] = {}
    for r in records:
        by_id.setdefault(r.id, []).append(r)
    fields = ("record", "chapter", "ours", "verdict", "scale", "hardware", "date", "commit")
    rows: list[dict[str, Any]] = []
    for pc in CLAIMS:
        base = dict(section=pc.section, where=pc.where, claim=pc.text)
        found = [r for rid in pc.tested_by for r in by_id.get(rid, [])]
        for r in found:
            rows.append(base | {f: getattr(r, "id" if f == "record" else f) for f in fields})
        if not found:
            why = pc.untested or "No record yet: the chapter that tests it has not run here."
            rows.append(base | dict.fromkeys(fields, "") | dict(ours=why, verdict="not tested"))
    known = {rid for pc in CLAIMS for rid in pc.tested_by}
    orphans = [r for r in records if r.id not in known]
    return rows, orphans
