"""Out-of-distribution scores and their evaluation (Secs. 3.4 and 4.2, App. B.3).

Every score here is *larger for more out-of-distribution* inputs:

* :func:`trajectory_score` — the paper's score: the mean Euclidean distance of the points
  of a latent trajectory to the nearest training attractor.
  :func:`trajectory_scores` iterates many starts a chunk at a time and scores them.
* :func:`knn_score` — mean distance to the K nearest training latents (after Sun et al.,
  2022; the paper uses K = 2,000).
* :func:`mahalanobis_score` — Mahalanobis distance to a Gaussian fitted to training latents
  (shrinkage covariance, scikit-learn's Ledoit–Wolf).

:func:`auroc`, :func:`fpr_at_tpr` and :func:`roc` evaluate a score with scikit-learn's ROC
tools. A score that is undefined (NaN: e.g. a trajectory score when no training start
converged, so there is no training attractor) gives an undefined (NaN) AUROC and FPR95.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from sklearn.covariance import LedoitWolf
from sklearn.metrics import roc_auc_score, roc_curve
from sklearn.neighbors import NearestNeighbors
from torch import Tensor

__all__ = [
    "auroc",
    "fpr_at_tpr",
    "knn_score",
    "mahalanobis_score",
    "roc",
    "trajectory_score",
    "trajectory_scores",
]


def _flat(x: Tensor | np.ndarray) -> np.ndarray:
    x = x.detach().cpu().numpy() if isinstance(x, Tensor) else np.asarray(x)
    return x.reshape(x.shape[0], -1).astype(np.float64)


def trajectory_score(trajectory: Tensor, attractors: Tensor, *, block_size: int = 8192) -> Tensor:
    """Mean distance of each trajectory's points to the nearest training attractor.

    ``score(z) = (1/L) Σ_{z_i ∈ π(z)} min_{a ∈ Z*_train} ‖z_i − a‖₂`` (Sec. 3.4), over the
    recorded points of each trajectory; NaN padding (as in
    :attr:`lvf.IterationResult.trajectory`) is skipped.

    Parameters
    ----------
    trajectory
        ``(N, L, *S)`` trajectories, NaN-padded after each one ends.
    attractors
        ``(M, *S)`` training attractors.

    Returns
    -------
    Tensor
        ``(N,)`` scores (float64, CPU); NaN when there is no attractor (``M = 0``).
    """
    n, length = trajectory.shape[:2]
    if attractors.shape[0] == 0:
        return torch.full((n,), float("nan"), dtype=torch.float64)
    pts = trajectory.reshape(n, length, -1).double().cpu()
    att = attractors.reshape(attractors.shape[0], -1).double().cpu()
    if pts.shape[2] != att.shape[1]:
        raise ValueError(
            f"trajectory points have {pts.shape[2]} dimensions, attractors {att.shape[1]}"
        )
    valid = ~torch.isnan(pts).any(dim=2)  # (N, L)
    rows = pts[valid]  # (P, D) every recorded point
    dmin = torch.cat([torch.cdist(r, att).min(dim=1).values for r in rows.split(block_size)])
    per_point = torch.zeros(n, length, dtype=torch.float64)
    per_point[valid] = dmin
    return per_point.sum(dim=1) / valid.sum(dim=1).clamp_min(1)


def trajectory_scores(
    f: Callable[[Tensor], Tensor],
    z0: Tensor,
    attractors: Tensor,
    *,
    tol: float = 1e-5,
    max_steps: int = 500,
    chunk: int = 256,
) -> tuple[Tensor, Tensor]:
    """Trajectory OOD scores of many starts, a chunk at a time.

    For each start, iterate ``f`` until ``‖z_{t+1} − z_t‖² < tol`` or ``max_steps`` (as
    :func:`lvf.iterate`), and average the Euclidean distance of every point of the
    trajectory ``z_0, z_1, …, z_final`` to its nearest attractor (paper Sec. 3.4;
    :func:`trajectory_score` on the recorded trajectory).

    Returns
    -------
    (scores, steps)
        ``(N,)`` float64 scores and ``(N,)`` int64 numbers of iterations, CPU.
    """
    from lvf.iterate import iterate

    scores, steps = [], []
    for s in range(0, z0.shape[0], chunk):
        res = iterate(f, z0[s : s + chunk], tol=tol, max_steps=max_steps, record="trajectory")
        scores.append(trajectory_score(res.trajectory, attractors))
        steps.append(res.steps.cpu())
    return torch.cat(scores), torch.cat(steps)


def knn_score(train: Tensor, test: Tensor, k: int) -> np.ndarray:
    """Mean Euclidean distance of each test latent to its ``k`` nearest training latents.

    ``train`` ``(N, *S)``, ``test`` ``(M, *S)`` (flattened); returns ``(M,)``. With
    ``k = N`` this is the mean distance to the whole training set.
    """
    tr = _flat(train)
    if not 1 <= k <= len(tr):
        raise ValueError(f"k must lie in [1, {len(tr)}] (the training set's size), got {k}")
    dist, _ = NearestNeighbors(n_neighbors=k).fit(tr).kneighbors(_flat(test))
    return dist.mean(axis=1)


def mahalanobis_score(train: Tensor, test: Tensor, *, dual_above: int = 4096) -> np.ndarray:
    """Mahalanobis distance of each test latent to a Gaussian fitted on ``train``, ``(M,)``.

    The covariance is scikit-learn's Ledoit–Wolf shrinkage estimate (``choice-mahalanobis`` on
    the book's page "Where the paper is silent"), so
    it stays invertible when there are fewer training latents than dimensions.

    When the latents have more dimensions ``p`` than there are training latents ``n`` (and more
    than ``dual_above``), the same estimate is computed without forming the ``p × p``
    covariance: :func:`_ledoit_wolf_dual`. That is the case of the ViT-MAE of Sec. 4.2 (``p =
    197 · 768 = 151,296`` flattened tokens, ``n = 2,000``), where scikit-learn would allocate
    171 GiB.
    """
    tr, te = _flat(train), _flat(test)
    if tr.shape[1] > max(tr.shape[0], dual_above):
        return np.sqrt(_ledoit_wolf_dual(tr, te))
    est = LedoitWolf().fit(tr)
    return np.sqrt(est.mahalanobis(te))


def _ledoit_wolf_dual(train: np.ndarray, test: np.ndarray, chunk: int = 512) -> np.ndarray:
    """Squared Mahalanobis distances under scikit-learn's Ledoit–Wolf estimate, through the
    ``n × n`` Gram matrix of the centred training latents instead of the ``p × p`` covariance.

    Written by hand because scikit-learn has no such path (its ``ledoit_wolf_shrinkage`` works
    in blocks of the ``p × p`` matrix: ``O(p² n)`` time). With ``X`` the centred ``(n, p)``
    training latents and ``G = X Xᵀ``, every term of scikit-learn's shrinkage ``s`` is a
    function of ``G`` (``Σ_i ‖x_i‖⁴ = Σ_i G_ii²``, ``‖XᵀX‖²_F = ‖G‖²_F``, ``tr XᵀX = tr G``);
    the estimate is ``Σ = a XᵀX / n + b I`` with ``a = 1 − s``, ``b = s · tr G / (n p)``, and
    by the Woodbury identity ``yᵀ Σ⁻¹ y = (‖y‖² − (a/n) (X y)ᵀ (b I + (a/n) G)⁻¹ (X y)) / b``.
    Agrees with scikit-learn to rounding (``tests/test_measures_memorization.py``).
    Returns ``(M,)`` float64.
    """
    x = np.asarray(train, dtype=np.float64)
    mean = x.mean(axis=0)
    x = x - mean
    n, p = x.shape
    g = x @ x.T
    trace = float(np.trace(g))
    mu = trace / (n * p)
    beta_ = float(np.sum(np.diag(g) ** 2))
    delta_ = float(np.sum(g**2)) / n**2
    beta = (beta_ / n - delta_) / (n * p)
    delta = (delta_ - 2.0 * mu * trace / n + p * mu**2) / p
    beta = min(beta, delta)
    shrink = 0.0 if beta == 0 else beta / delta
    a, b = 1.0 - shrink, shrink * mu
    if b <= 0:
        raise ValueError(
            "the Ledoit–Wolf shrinkage is 0 with more dimensions than training latents: the "
            "covariance is singular; give more training latents or fewer dimensions"
        )
    inner = np.linalg.cholesky(b * np.eye(n) + (a / n) * g)
    out = []
    for s in range(0, len(test), chunk):
        y = np.asarray(test[s : s + chunk], dtype=np.float64) - mean
        xy = x @ y.T  # (n, m)
        w = np.linalg.solve(inner, xy)  # L⁻¹ X y
        out.append((np.sum(y**2, axis=1) - (a / n) * np.sum(w**2, axis=0)) / b)
    return np.concatenate(out)


def _labels_scores(id_scores, ood_scores) -> tuple[np.ndarray, np.ndarray]:
    s_id, s_ood = np.asarray(id_scores, float).ravel(), np.asarray(ood_scores, float).ravel()
    if len(s_id) == 0 or len(s_ood) == 0:
        raise ValueError("need at least one in-distribution and one OOD score")
    y = np.r_[np.zeros(len(s_id)), np.ones(len(s_ood))]
    return y, np.r_[s_id, s_ood]


def auroc(id_scores, ood_scores) -> float:
    """Area under the ROC curve for telling OOD (positive, larger score) from ID. In [0, 1];
    NaN when a score is NaN."""
    y, s = _labels_scores(id_scores, ood_scores)
    if np.isnan(s).any():
        return float("nan")
    return float(roc_auc_score(y, s))


def roc(id_scores, ood_scores) -> tuple[np.ndarray, np.ndarray]:
    """The ROC curve of a score for telling OOD (positive, larger score) from ID.

    Returns
    -------
    (fpr, tpr)
        Two ``(P,)`` arrays from (0, 0) to (1, 1) (scikit-learn's ``roc_curve``): the share of
        ID inputs flagged as OOD and the share of OOD inputs flagged, at every threshold.
        The area under it is :func:`auroc`. Empty arrays when a score is NaN.
    """
    y, s = _labels_scores(id_scores, ood_scores)
    if np.isnan(s).any():
        return np.zeros(0), np.zeros(0)
    fpr, tpr, _ = roc_curve(y, s)
    return fpr, tpr


def fpr_at_tpr(id_scores, ood_scores, tpr: float = 0.95) -> float:
    """FPR95: share of OOD inputs taken for ID at the threshold keeping ``tpr`` of ID as ID.

    As in the paper (and OpenOOD): in-distribution is the positive class here; the threshold
    is the one at which ``tpr`` of ID inputs are classified ID (score below it), and the
    result is the fraction of OOD inputs also below it. In [0, 1]; lower is better; NaN when
    a score is NaN.
    """
    y, s = _labels_scores(id_scores, ood_scores)
    if np.isnan(s).any():
        return float("nan")
    # ID positive, smaller score = more ID; keep every threshold so the 95 % point is exact
    fpr, tpr_curve, _ = roc_curve(1 - y, -s, drop_intermediate=False)
    return float(fpr[np.searchsorted(tpr_curve, tpr, side="left")])
