"""Per-claim records: what the paper says, what a chapter measured, and the verdict.

Each chapter calls :func:`record` once per claim of the paper it tests, with a
:class:`lvf.book.verdicts.Verdict` computed by :func:`lvf.book.verdicts.judge` (never a label
typed in the chapter) and the kind of model it was measured on. Records are JSON
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
from lvf.book.verdicts import LABELS, MODEL_KINDS, Verdict
from lvf.cache import atomic_write

if TYPE_CHECKING:
    from IPython.display import Markdown

__all__ = [
    "MODEL_KINDS",
    "VERDICTS",
    "Claim",
    "claims_dir",
    "figure",
    "load",
    "markdown",
    "record",
    "reproduction",
    "run_table",
    "runs",
    "summary",
    "table",
    "training",
]

VERDICTS = LABELS


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
        One of :data:`VERDICTS` (the label of ``judgement``).
    model
        What it was measured on: a key of :data:`MODEL_KINDS` (``"stand-in"`` verdicts are
        analogs).
    judgement
        The :class:`~lvf.book.verdicts.Verdict` as a dict: per-seed effects, estimate,
        interval, smallest effect that counts, parts.
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
    model: str = "paper"
    judgement: dict[str, Any] = field(default_factory=dict)
    scale: str = field(default_factory=current_scale)
    numbers: dict[str, Any] = field(default_factory=dict)
    hardware: str = field(default_factory=lambda: _hardware())
    date: str = field(default_factory=lambda: datetime.now(UTC).strftime("%Y-%m-%d"))
    commit: str = field(default_factory=lambda: _commit())

    @property
    def judged(self) -> Verdict:
        """The verdict with its interval (:class:`lvf.book.verdicts.Verdict`)."""
        if not self.judgement:
            return Verdict(self.verdict)
        return Verdict.from_dict(self.judgement)

    @property
    def shown(self) -> str:
        """The verdict as the book prints it: ``"analog: "`` before a stand-in's."""
        analog = self.model == "stand-in" and self.verdict != "not tested"
        return f"analog: {self.verdict}" if analog else self.verdict


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
    verdict: Verdict,
    model: str,
    numbers: dict[str, Any] | None = None,
) -> Claim:
    """Record (or replace) the claim ``id`` of ``chapter`` and return it.

    ``verdict`` comes from :func:`lvf.book.verdicts.judge`, :func:`~lvf.book.verdicts.combine`
    or :func:`~lvf.book.verdicts.not_tested`; ``model`` is a key of :data:`MODEL_KINDS`. In a
    notebook the verdict is also glued (MyST-NB) for the chapter's prose: ``verdict.<id>``
    (the label as printed, ``"analog: …"`` for a stand-in) and ``interval.<id>`` (estimate,
    interval and seeds).
    """
    if not isinstance(verdict, Verdict):
        raise TypeError(
            f"verdict must be a lvf.book.verdicts.Verdict (from judge, combine or not_tested), "
            f"got {verdict!r}: verdicts are computed, never typed"
        )
    if model not in MODEL_KINDS:
        raise ValueError(f"model must be one of {tuple(MODEL_KINDS)}, got {model!r}")
    claim = Claim(
        id=id,
        chapter=chapter,
        paper=paper,
        ours=ours,
        verdict=verdict.label,
        model=model,
        judgement=_jsonable(verdict.as_dict()),
        numbers=_jsonable(numbers or {}),
    )
    path = _file(chapter)
    claims = {c["id"]: c for c in _read(path)}
    claims[id] = asdict(claim)
    text = json.dumps(list(claims.values()), indent=2, ensure_ascii=False)
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))
    glue(f"verdict.{id}", claim.shown)
    glue(f"interval.{id}", verdict.interval() or verdict.reason)
    return claim


def glue(name: str, value: Any) -> None:
    """Glue ``value`` under ``name`` for the chapter's prose (MyST-NB's ``glue``, not
    displayed); outside a notebook kernel it does nothing."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with the book extra
        return
    if get_ipython() is None:
        return
    from myst_nb import glue as _glue

    _glue(name, value, display=False)


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
    the scale, the machine, the number of torch threads and what the chapter's models cost
    (how many were loaded from the cache, fetched or trained, and the seconds spent
    training them), in ``runs/<chapter>.json`` of :func:`claims_dir`. :func:`runs` reads
    them back.
    """
    _stamp_run(chapter)
    rows = [
        (
            c.id,
            c.paper,
            f"{c.ours} *({c.scale} scale)*",
            MODEL_KINDS.get(c.model, c.model),
            f"**{c.shown}** {c.judged.interval()}".strip(),
        )
        for c in load(chapter)
    ]
    return markdown(["claim", "the paper says", "we see", "measured on", "verdict"], rows)


def _stamp_run(chapter: str) -> None:
    import torch

    import lvf
    from lvf.train import _tally

    run = dict(
        chapter=chapter,
        seconds=round(time.monotonic() - lvf._STARTED, 1),
        **_tally.snapshot(),
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
    closing table), ``models_cached``, ``models_fetched``, ``models_trained`` and
    ``train_seconds`` (the seconds of ``seconds`` spent training; absent in stamps written
    before they were recorded), ``scale``, ``hardware``, ``threads``, ``date`` and
    ``commit``.
    """
    files = sorted((claims_dir() / "runs").glob("*.json"))
    return [json.loads(f.read_text(encoding="utf-8")) for f in files]


def run_table(entries: Any = None):
    """The chapters' running times as a table, with what their models cost.

    Parameters
    ----------
    entries
        :func:`runs`' entries (a list of dicts or a DataFrame); default: :func:`runs`.

    Returns
    -------
    pandas.DataFrame
        One row per chapter, indexed by chapter: ``scale``, ``seconds``, ``trained``,
        ``fetched``, ``cached`` (models), ``training s``, ``without training s``
        (``seconds − training s``: about the chapter's time with a warm cache or the
        published checkpoints), ``threads``, ``hardware``, ``date``, ``commit``; and a last
        row ``all chapters`` with the sums (left empty where a stamp predates the counts, so
        that a sum never silently leaves a chapter out).
    """
    import pandas as pd

    df = pd.DataFrame(entries if entries is not None else runs())
    if df.empty:
        return df
    for col in ("models_trained", "models_fetched", "models_cached", "train_seconds"):
        if col not in df:
            df[col] = float("nan")
    out = pd.DataFrame(
        {
            "scale": df["scale"],
            "seconds": df["seconds"],
            "trained": df["models_trained"],
            "fetched": df["models_fetched"],
            "cached": df["models_cached"],
            "training s": df["train_seconds"],
            "without training s": (df["seconds"] - df["train_seconds"]).round(1),
            "threads": df["threads"],
            "hardware": df["hardware"],
            "date": df["date"],
            "commit": df["commit"],
        }
    ).set_index(df["chapter"].rename("chapter"))
    numeric = ["seconds", "trained", "fetched", "cached", "training s", "without training s"]
    total = {c: out[c].sum() if out[c].notna().all() else float("nan") for c in numeric}
    scales = sorted(set(out["scale"]))
    total["scale"] = scales[0] if len(scales) == 1 else "mixed"
    out.loc["all chapters"] = pd.Series(total)
    return out.astype({c: "Int64" for c in ("trained", "fetched", "cached", "threads")})


def reproduction() -> tuple[list[dict[str, Any]], list[Claim]]:
    """Every claim of the paper joined with the records that test it.

    Returns
    -------
    rows
        One dict per (paper claim, record) pair, in the order of :data:`lvf.book.claims.CLAIMS`:
        ``section``, ``where``, ``claim`` (the paper's claim), ``record`` (the chapter
        record's id, or ``""``), ``chapter``, ``ours``, ``verdict``, ``scale``,
        ``hardware``, ``date``, ``commit`` and ``trend``: the trend of its effect with the
        training budget (:func:`lvf.book.budget.claim_trends`; "not studied" for a claim on
        the paper's models that no study covers and that is not reproduced, "—" otherwise).
        A claim without records gives one row with verdict ``"not tested"`` and the reason
        (or "no record yet": its chapter has not run).
    orphans
        Records that test no claim of :data:`lvf.book.claims.CLAIMS` (an id to add there).
    """
    from lvf.book.budget import claim_trends
    from lvf.book.claims import CLAIMS

    trends = claim_trends()
    records = load()
    by_id: dict[str, list[Claim]] = {}
    for r in records:
        by_id.setdefault(r.id, []).append(r)
    fields = (
        "record", "chapter", "ours", "verdict", "model", "scale", "hardware", "date", "commit"
    )  # fmt: skip
    rows: list[dict[str, Any]] = []
    for pc in CLAIMS:
        base = dict(section=pc.section, where=pc.where, claim=pc.text)
        found = [r for rid in pc.tested_by for r in by_id.get(rid, [])]
        for r in found:
            row = base | {f: getattr(r, "id" if f == "record" else f) for f in fields}
            study = (r.chapter.split("_")[0], r.id)  # e.g. ("ch02", "fig1-...")
            if study in trends:
                t = trends[study]
            elif r.model == "paper" and r.verdict not in ("reproduced", "not tested"):
                t = "not studied"
            else:
                t = "—"
            rows.append(row | dict(shown=r.shown, interval=r.judged.interval(), trend=t))
        if not found:
            why = pc.untested or "No record yet: the chapter that tests it has not run here."
            empty = base | dict.fromkeys(fields, "") | dict(shown="not tested", interval="")
            rows.append(empty | dict(ours=why, verdict="not tested", model="untested", trend="—"))
    known = {rid for pc in CLAIMS for rid in pc.tested_by}
    orphans = [r for r in records if r.id not in known]
    return rows, orphans


KINDS_SHOWN: dict[str, str] = {
    "paper": "on the paper's models",
    "any": "on statements about any model",
    "stand-in": "on stand-ins (analogs)",
    "untested": "not tested",
}
"""Columns of the report's summary, in order: what a verdict was measured on."""


def summary(rows: list[dict[str, Any]]):
    """Verdicts counted by what they were measured on (a pandas DataFrame).

    ``rows`` come from :func:`reproduction`; rows are verdicts (:data:`VERDICTS`), columns
    :data:`KINDS_SHOWN` (the paper's models, general statements, stand-ins, untested), with
    a total row and column. A claim tested in two chapters counts twice.
    """
    import pandas as pd

    df = pd.DataFrame(rows)
    table = pd.crosstab(df.verdict, df.model).reindex(
        index=list(VERDICTS), columns=list(KINDS_SHOWN), fill_value=0
    )
    table.columns = list(KINDS_SHOWN.values())
    table.loc["total"] = table.sum()
    table["total"] = table.sum(axis=1)
    return table


def figure(rows: list[dict[str, Any]]):
    """Claims by verdict and chapter, the paper's models apart from stand-ins.

    One horizontal bar per chapter (and one for claims no chapter tests), split by verdict;
    left panel: direct tests (the paper's models and statements about any model), right
    panel: stand-ins. Returns the matplotlib figure.
    """
    import matplotlib.pyplot as plt
    import pandas as pd

    colours = {
        "reproduced": "#2a9d8f",
        "partly reproduced": "#8ab17d",
        "inconclusive": "#e9c46a",
        "not reproduced": "#e76f51",
        "not tested": "#bbbbbb",
    }
    df = pd.DataFrame(rows)
    df["where"] = df.chapter.str.slice(0, 4).where(df.chapter != "", "none")
    panels = {
        "direct tests: the paper's models, general statements": df.model.isin(
            ["paper", "any", "untested"]
        ),
        "stand-ins: analog verdicts": df.model == "stand-in",
    }
    chapters = sorted(df["where"].unique(), key=lambda c: (c == "none", c))
    fig, axes = plt.subplots(
        1, 2, figsize=(10, 0.32 * len(chapters) + 1.9), sharey=True, sharex=True
    )
    for ax, (title, keep) in zip(axes, panels.items(), strict=True):
        counts = pd.crosstab(df[keep]["where"], df[keep].verdict).reindex(
            index=chapters, columns=list(colours), fill_value=0
        )
        left = pd.Series(0, index=chapters)
        for verdict, colour in colours.items():
            ax.barh(chapters, counts[verdict], left=left, color=colour, label=verdict)
            left = left + counts[verdict]
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("records")
        ax.xaxis.get_major_locator().set_params(integer=True)
    axes[0].invert_yaxis()
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(colours), fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


def training(scale: str | None = None, status=None):
    """Has each chapter's training reached a plateau? A pandas DataFrame, one row per chapter.

    Read from the cache (:func:`lvf.train.registry.training_status`; nothing is trained):
    the number of models the chapter trains that are cached, their optimizer steps (fewest and
    most), the plateau measure over them (:func:`lvf.train.loss_drop`, the relative fall of the
    training loss over the last quarter of the run: median and largest) and the share of
    models on a plateau (below :data:`lvf.train.PLATEAU`). ``status``: a frame of
    :func:`~lvf.train.registry.training_status` already read (read here when ``None``).
    """
    import pandas as pd

    from lvf.train.registry import training_status

    df = training_status(scale) if status is None else status
    if df.empty:
        return pd.DataFrame()
    g = df.groupby("chapter")
    out = pd.DataFrame(
        {
            "models": g.size(),
            "steps": g.steps.min().map("{:,}".format) + g.steps.max().map(lambda v: f" to {v:,}"),
            "loss still falling, median": g.loss_drop.median().map("{:.1%}".format),
            "largest": g.loss_drop.max().map("{:.1%}".format),
            "on a plateau": g.plateau.mean().map("{:.0%}".format),
        }
    )
    same = g.steps.min() == g.steps.max()
    out.loc[same, "steps"] = g.steps.min()[same].map("{:,}".format)
    return out


def training_sentence(scale: str | None = None, status=None) -> str:
    """What :func:`training` found, in words: the share of models on a plateau, and the
    chapters whose training loss still falls most (median over their models).

    ``status`` is a frame of :func:`lvf.train.registry.training_status` (read from the cache
    when ``None``)."""
    from lvf.train import PLATEAU
    from lvf.train.registry import training_status

    df = training_status(scale) if status is None else status
    if df.empty:
        return "No trained model was found in the cache, so nothing can be said about convergence."
    # A model shared by chapters (ch08/ch09, ch10-12) counts once.
    models = df.drop_duplicates("model")
    n, on = len(models), int(models.plateau.sum())
    medians = df.groupby("chapter").loss_drop.median()
    falling = medians[medians >= PLATEAU].sort_values(ascending=False)
    text = (
        f"Of the {n} models found in the cache, {on} ({on / n:.0%}) have reached a plateau "
        f"(their loss fell by less than {PLATEAU:.0%} over the last quarter of training)."
    )
    if falling.empty:
        return text + " In every chapter the median model is on a plateau."
    named = ", ".join(f"{ch} ({v:.0%})" for ch, v in falling.items())
    return (
        text + f" The median model is still learning in {named}; those chapters' verdicts "
        "are the ones a longer training could change, and their budget studies, where they "
        "exist, show whether it does."
    )
