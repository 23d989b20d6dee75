"""Small statistics that several chapters use, defined once so they follow one rule."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["spearman"]


def spearman(x: ArrayLike, y: ArrayLike) -> float:
    """Spearman's rank correlation of ``x`` and ``y`` (:func:`scipy.stats.spearmanr`).

    It exists so that every chapter uses one rule for constant input: the correlation is
    undefined there, and this returns NaN quietly (scipy returns NaN too, but warns). A
    chapter that wants another value for that case writes it at the call site, e.g.
    ``np.nan_to_num(spearman(a, b))`` for 0.

    Parameters
    ----------
    x, y
        ``(n,)`` paired samples (lists, arrays, pandas Series or Index); ties get average
        ranks.

    Returns
    -------
    float
        The correlation in ``[-1, 1]``; NaN when ``n < 2`` or either side is constant (or
        holds a NaN).
    """
    from scipy.stats import spearmanr

    a = np.asarray(x, dtype=float).ravel()
    b = np.asarray(y, dtype=float).ravel()
    if a.shape != b.shape:
        raise ValueError(f"spearman needs paired samples, got {a.size} and {b.size} values")
    if a.size < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(spearmanr(a, b).statistic)
