"""Measures of what attractors hold: memorization, spread (rank-90) and set similarity.

* :func:`memorization` — the paper's memorization coefficient (Sec. 3.3), with the book's
  correction (``choice-mem-max`` on the page "Where the paper is silent"): the cosine similarity of
  a decoded attractor to its *closest* training image,
  i.e. a **max** over the training set (the paper prints min).
* :func:`rank_explaining` — the number of singular vectors that explain a share of the
  variance of the decoded attractors (App. B.5, Fig. 13; 90 % in the paper).
* :func:`chamfer_similarity` — the symmetric Chamfer similarity of two attractor sets
  (Fig. 3d; the paper gives no formula: ``choice-chamfer`` on the book's page "Where the paper is
  silent").
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["chamfer_similarity", "max_cosine", "memorization", "rank_explaining"]


def _unit_rows(x: Tensor) -> Tensor:
    x = x.flatten(1).float()
    return x / x.norm(dim=1, keepdim=True).clamp_min(1e-12)


def max_cosine(a: Tensor, b: Tensor, *, block_size: int = 4096) -> tuple[Tensor, Tensor]:
    """For each row of ``a``, the largest cosine similarity to a row of ``b`` and its index.

    Parameters
    ----------
    a
        ``(M, *S)`` queries, flattened to ``(M, D)``.
    b
        ``(N, *S)`` references, flattened to ``(N, D)``, same ``D``.

    Returns
    -------
    (values, indices)
        ``(M,)`` float and ``(M,)`` int64. Memory is ``O(block_size · M)``.
    """
    ua, ub = _unit_rows(a), _unit_rows(b)
    if ua.shape[1] != ub.shape[1]:
        raise ValueError(f"a and b have different sizes per row: {ua.shape[1]} vs {ub.shape[1]}")
    best = torch.full((ua.shape[0],), -2.0, device=ua.device)
    arg = torch.zeros(ua.shape[0], dtype=torch.long, device=ua.device)
    for s in range(0, ub.shape[0], block_size):
        val, j = (ua @ ub[s : s + block_size].to(ua.device).T).max(dim=1)
        better = val > best
        best, arg = torch.where(better, val, best), torch.where(better, j + s, arg)
    return best, arg


def memorization(decoded: Tensor, train: Tensor, *, block_size: int = 4096) -> Tensor:
    """Memorization coefficient of each decoded attractor, ``(M,)``.

    ``mem(z*) = max_{x ∈ X_train} cos(vec D(z*), vec x)`` in pixel space (``choice-mem-max``; the
    paper's "min" is a typo for the closest point). Report the mean ± std over attractors.

    Parameters
    ----------
    decoded
        ``(M, C, H, W)`` decoded attractors ``D(z*)``.
    train
        ``(N, C, H, W)`` training images, same pixel range as ``decoded``.
    """
    return max_cosine(decoded, train, block_size=block_size)[0]


def rank_explaining(x: Tensor, share: float = 0.9, *, center: bool = False) -> int:
    """Number of singular vectors needed to explain ``share`` of the variance of the rows.

    ``r = min { r : Σ_{i≤r} s_i² / Σ_i s_i² ≥ share }`` for the singular values ``s`` of the
    ``(M, D)`` matrix of flattened rows (App. B.5). The paper does not say whether it
    centres the rows; ``center=False`` (default) uses them as they are.
    """
    if not 0 < share <= 1:
        raise ValueError(f"share must lie in (0, 1], got {share}")
    if x.shape[0] == 0:
        return 0
    m = x.flatten(1).double()
    if center:
        m = m - m.mean(dim=0, keepdim=True)
    s2 = torch.linalg.svdvals(m).square()
    total = s2.sum()
    if total == 0:
        return 0
    explained = s2.cumsum(0) / total
    return (
        int(torch.searchsorted(explained, torch.tensor(share, dtype=explained.dtype) - 1e-12)) + 1
    )


def chamfer_similarity(a: Tensor, b: Tensor) -> float:
    """Symmetric Chamfer similarity of two point sets under the cosine.

    ``½ [ mean_{u∈A} max_{v∈B} cos(u, v) + mean_{v∈B} max_{u∈A} cos(u, v) ]``: 1 when every
    point of each set has an exact direction match in the other.
    """
    return 0.5 * float(max_cosine(a, b)[0].mean() + max_cosine(b, a)[0].mean())
