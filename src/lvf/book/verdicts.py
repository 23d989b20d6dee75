"""One rule for every verdict the book gives: an effect in the paper's direction, an interval
over seeds, and a label read off that interval.

The page "How we judge a claim" (``book/judging.md``) explains the rule to readers; this module
is the only place that applies it. A chapter measures, for each independent repetition of its
experiment (a *seed*: another initialisation and another draw of the training data), one
number — the **effect** — signed so that a positive value goes the paper's way. :func:`judge`
turns those numbers into a :class:`Verdict`:

* the estimate is their mean, and the 95 % interval is Student's *t* interval of the mean
  (exact when the per-seed effects are normal; with 3 seeds its half-width is 2.48 standard
  deviations — wide, on purpose);
* each claim states the **smallest effect that counts** (``smallest``): a Spearman correlation
  of 0.5, an AUROC gap of 2 points... — an effect below it is too small to call the claim
  reproduced, even when it is certainly there;
* the label:

  ========================  =====================================================
  **reproduced**            interval above 0 and estimate ≥ ``smallest``
  **partly reproduced**     interval above 0 but estimate < ``smallest``
  **not reproduced**        interval below ``smallest`` and reaching 0 or below
  **inconclusive**          anything else: the interval holds 0 *and* an effect
                            that counts — more seeds or a larger budget decide
  ========================  =====================================================

A claim tested on several datasets or measures gets one verdict per part, joined by
:func:`combine`. Why no library does this: scipy gives the interval (``scipy.stats.t``), which
we use; the labels are the book's contract with its readers and live here, once.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

__all__ = [
    "LABELS",
    "MODEL_KINDS",
    "Verdict",
    "combine",
    "judge",
    "not_tested",
    "trend",
    "trend_effect",
]

LABELS: tuple[str, ...] = (
    "reproduced",
    "partly reproduced",
    "not reproduced",
    "inconclusive",
    "not tested",
)
"""Every verdict a record can carry, strongest first; ``not tested`` has no interval."""

MODEL_KINDS: dict[str, str] = {
    "paper": "the paper's model and data (at the book's budget)",
    "any": "a statement about every autoencoder, checked on a model of the book's choice",
    "stand-in": "a smaller model in place of one the book cannot run here: an analog",
}
"""What a record was measured on. Only ``stand-in`` verdicts are analogs."""

LEVEL = 0.95
"""Coverage of the intervals."""


@dataclass(frozen=True)
class Verdict:
    """A claim's verdict and the numbers it was read from.

    Attributes
    ----------
    label
        One of :data:`LABELS`.
    measure
        What the effect is, in words (e.g. ``"Spearman ρ of k with memorization, sign
        flipped"``); positive always means the paper's direction.
    effects
        The effect of every seed, in the paper's direction.
    estimate, low, high
        Mean effect and its :data:`LEVEL` interval (``nan`` when not tested).
    smallest
        The smallest effect that counts as the paper's effect.
    parts
        For a combined verdict (:func:`combine`), the verdict of each part by name.
    reason
        Why a claim was not tested.
    """

    label: str
    measure: str = ""
    effects: tuple[float, ...] = ()
    estimate: float = math.nan
    low: float = math.nan
    high: float = math.nan
    smallest: float = math.nan
    parts: Mapping[str, Verdict] = field(default_factory=dict)
    reason: str = ""

    def __post_init__(self):
        if self.label not in LABELS:
            raise ValueError(f"label must be one of {LABELS}, got {self.label!r}")

    @property
    def seeds(self) -> int:
        """Number of seeds (for a combined verdict, the smallest over its parts)."""
        if self.parts:
            return min(p.seeds for p in self.parts.values())
        return len(self.effects)

    def interval(self) -> str:
        """The estimate and interval as text, e.g. ``"+0.81 [+0.62, +1.00], 3 seeds"``; a
        combined verdict lists its parts."""
        if self.label == "not tested":
            return ""
        if self.parts:
            return "; ".join(f"{name}: {p.interval()}" for name, p in self.parts.items())
        if not math.isfinite(self.estimate):
            return f"undefined on every seed ({self.seeds} seed{'s' * (self.seeds != 1)})"
        return (
            f"{self.estimate:+.3g} [{self.low:+.3g}, {self.high:+.3g}], "
            f"{self.seeds} seed{'s' * (self.seeds != 1)}"
        )

    def as_dict(self) -> dict:
        """Plain JSON-able form (parts nested)."""
        return dict(
            label=self.label,
            measure=self.measure,
            effects=list(self.effects),
            estimate=self.estimate,
            low=self.low,
            high=self.high,
            smallest=self.smallest,
            seeds=self.seeds,
            parts={k: v.as_dict() for k, v in self.parts.items()},
            reason=self.reason,
        )

    @classmethod
    def from_dict(cls, d: Mapping) -> Verdict:
        """Inverse of :meth:`as_dict`."""
        return cls(
            label=d["label"],
            measure=d.get("measure", ""),
            effects=tuple(d.get("effects", ())),
            estimate=_num(d.get("estimate")),
            low=_num(d.get("low")),
            high=_num(d.get("high")),
            smallest=_num(d.get("smallest")),
            parts={k: cls.from_dict(v) for k, v in (d.get("parts") or {}).items()},
            reason=d.get("reason", ""),
        )


def _num(x) -> float:
    return math.nan if x is None else float(x)


def judge(
    effects: Sequence[float],
    *,
    smallest: float,
    measure: str,
    direction: int = +1,
) -> Verdict:
    """The verdict on one claim from its effect on each seed.

    Parameters
    ----------
    effects
        ``(n_seeds,)`` one number per independent repetition (at least 2). ``nan`` entries
        (a seed where the effect is undefined, e.g. a correlation of a constant) are dropped
        and the remaining count is what the interval uses.
    smallest
        The smallest effect (> 0, in the units of ``effects``) that counts as the paper's.
    measure
        What the effect is, in words, for tables and the report.
    direction
        ``+1`` when the paper's claim is that the effect is positive, ``-1`` when negative;
        the stored effects are multiplied by it, so they are positive the paper's way.

    Returns
    -------
    Verdict
        Labelled by the rule of the module docstring. With fewer than 2 finite effects the
        interval is undefined and the verdict is ``inconclusive``.

    Examples
    --------
    >>> judge([0.9, 0.8, 1.0], smallest=0.5, measure="ρ").label
    'reproduced'
    >>> judge([0.1, -0.6, 0.9], smallest=0.5, measure="ρ").label
    'inconclusive'
    """
    from scipy import stats

    if direction not in (-1, 1):
        raise ValueError(f"direction must be +1 or -1, got {direction!r}")
    if not smallest > 0:
        raise ValueError(f"smallest must be a positive effect size, got {smallest!r}")
    signed = tuple(direction * float(e) for e in effects)
    if len(signed) < 2:
        raise ValueError(
            f"a verdict needs the effect of at least 2 seeds, got {len(signed)}: run the "
            "experiment with more seeds (the book uses 3)"
        )
    finite = [e for e in signed if math.isfinite(e)]
    n = len(finite)
    if n < 2:
        return Verdict("inconclusive", measure, signed, smallest=smallest)
    mean = sum(finite) / n
    sd = math.sqrt(sum((e - mean) ** 2 for e in finite) / (n - 1))
    half = float(stats.t.ppf(0.5 + LEVEL / 2, n - 1)) * sd / math.sqrt(n)
    low, high = mean - half, mean + half
    if low > 0:
        label = "reproduced" if mean >= smallest else "partly reproduced"
    elif high < smallest:
        label = "not reproduced"
    else:
        label = "inconclusive"
    return Verdict(label, measure, signed, mean, low, high, smallest)


def combine(parts: Mapping[str, Verdict], *, measure: str = "") -> Verdict:
    """One verdict for a claim tested on several datasets or measures.

    * every part has the same label: that label;
    * some part is reproduced or partly reproduced: **partly reproduced**;
    * otherwise a part is inconclusive: **inconclusive**; else **not reproduced**.

    The combined verdict keeps the parts (shown by :meth:`Verdict.interval`).
    """
    if not parts:
        raise ValueError("combine needs at least one part")
    labels = {p.label for p in parts.values()}
    if len(labels) == 1:
        label = labels.pop()
    elif labels & {"reproduced", "partly reproduced"}:
        label = "partly reproduced"
    elif "inconclusive" in labels:
        label = "inconclusive"
    else:
        label = "not reproduced"
    first = next(iter(parts.values()))
    return Verdict(label, measure or first.measure, smallest=first.smallest, parts=dict(parts))


def not_tested(reason: str) -> Verdict:
    """The verdict of a claim no experiment could measure here, with the reason."""
    if not reason:
        raise ValueError("say why the claim is not tested")
    return Verdict("not tested", reason=reason)


def trend_effect(x, y) -> float:
    """The effect :func:`trend` judges for one seed: Spearman's correlation of ``x`` with
    ``y``, and 0 when ``y`` does not change (compared to 6 significant digits, so float
    round-off is no trend).

    >>> trend_effect([2, 8, 32], [0.9, 0.8, 0.7])
    -1.0
    >>> trend_effect([2, 8, 32], [0.5, 0.5, 0.5000000001])
    0.0
    """
    import numpy as np

    from lvf.measures.stats import spearman

    values = np.asarray(y, dtype=float)
    finite = values[np.isfinite(values)]
    if finite.size == values.size and finite.size > 1:
        rounded = np.array([float(f"{v:.6g}") for v in finite])
        if np.ptp(rounded) == 0:
            return 0.0
    return float(spearman(np.asarray(x, dtype=float), values))


def trend(
    table,
    *,
    x: str,
    y: str,
    direction: int,
    smallest: float = 0.5,
    by: str | None = None,
    seed: str = "seed",
    measure: str = "",
) -> Verdict:
    """The verdict on a monotone trend ("``y`` falls as ``x`` grows") measured on each seed.

    For every seed (and every group, e.g. dataset), the effect is Spearman's correlation of
    ``x`` with ``y`` across the rows (:func:`lvf.measures.stats.spearman`); :func:`judge`
    turns each group's per-seed correlations into a verdict and :func:`combine` joins the
    groups. A ``y`` that does not change across the rows (compared to 6 significant digits,
    so float round-off is no trend) has no trend: its effect is 0, not undefined — a count
    that never grows did not grow.

    Parameters
    ----------
    table
        A pandas DataFrame with one row per measurement: columns ``seed``, ``x``, ``y`` and,
        if given, ``by``.
    direction
        ``+1`` when the paper says ``y`` grows with ``x``, ``-1`` when it falls.
    smallest
        Smallest correlation that counts (default 0.5).
    by
        Column whose values are judged apart and combined (e.g. ``"dataset"``), or ``None``.

    Returns
    -------
    Verdict
        Combined over groups when ``by`` is given (parts named by the group's value).
    """
    measure = measure or f"Spearman ρ of {x} with {y}" + (" (sign flipped)" * (direction < 0))

    def one(df) -> Verdict:
        rhos = [trend_effect(g[x], g[y]) for _, g in df.groupby(seed, sort=True)]
        return judge(rhos, smallest=smallest, measure=measure, direction=direction)

    if by is None:
        return one(table)
    parts = {str(name): one(g) for name, g in table.groupby(by, sort=False)}
    return combine(parts, measure=measure)
