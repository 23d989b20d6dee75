"""Group converged iterates into distinct attractors.

The paper counts two attractors as the same when their cosine similarity exceeds 0.99
(Fig. 3c). :func:`find_attractors` applies that rule with deterministic *leader*
clustering: points are visited in order, and a point becomes a new attractor (a leader)
when no earlier leader is similar to it. Every point is then labelled with its most similar
leader. Work is done in blocks, so memory stays ``O(block · M)`` for ``M`` attractors and
no ``N × N`` matrix is ever formed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

__all__ = ["Attractors", "find_attractors"]


@dataclass
class Attractors:
    """Distinct attractors among ``N`` points of latent shape ``S``.

    Attributes
    ----------
    centers
        ``(M, *S)``: one representative per attractor (its leader: the first point, in
        input order, of the group), on the input's device.
    labels
        ``(N,)`` int64: index into ``centers`` of each point's most similar attractor.
    counts
        ``(M,)`` int64: points per attractor (the size of its basin among the starts).
    """

    centers: Tensor
    labels: Tensor
    counts: Tensor

    def __len__(self) -> int:
        return self.centers.shape[0]

    def __repr__(self) -> str:
        largest = int(self.counts.max()) if len(self) else 0
        return f"Attractors(M={len(self)}, N={self.labels.numel()}, largest={largest})"


def _features(x: Tensor, metric: str, zero_tol: float) -> Tensor:
    """Row features whose similarity is a dot product (cosine) or raw rows (Euclidean).

    For the cosine, rows are L2-normalised and given one extra coordinate that is 1 for
    (numerically) zero rows: zero rows are then similar to each other (one attractor at the
    origin) and to nothing else, instead of having an undefined cosine.
    """
    if metric == "euclidean":
        return x
    norms = x.norm(dim=1, keepdim=True)
    is_zero = norms <= zero_tol
    unit = torch.where(is_zero, torch.zeros_like(x), x / norms.clamp_min(zero_tol))
    return torch.cat([unit, is_zero.to(x.dtype)], dim=1)


def _similarity(a: Tensor, b: Tensor, metric: str) -> Tensor:
    """``(A, B)`` similarity, larger is closer: cosine, or minus the Euclidean distance."""
    if metric == "cosine":
        return a @ b.T
    return -torch.cdist(a, b)


def _best(a: Tensor, centers: Tensor, metric: str, chunk: int) -> tuple[Tensor, Tensor]:
    """Highest similarity of each row of ``a`` over ``centers`` and its index, in chunks."""
    best = torch.full((a.shape[0],), -torch.inf, dtype=a.dtype, device=a.device)
    arg = torch.zeros(a.shape[0], dtype=torch.long, device=a.device)
    for s in range(0, centers.shape[0], chunk):
        val, j = _similarity(a, centers[s : s + chunk], metric).max(dim=1)
        better = val > best
        best = torch.where(better, val, best)
        arg = torch.where(better, j + s, arg)
    return best, arg


def find_attractors(
    points: Tensor,
    *,
    cos_threshold: float = 0.99,
    eps: float | None = None,
    block_size: int = 4096,
    zero_tol: float = 1e-8,
) -> Attractors:
    """Deduplicate ``points`` (e.g. ``iterate(...).final``) into distinct attractors.

    Parameters
    ----------
    points
        ``(N, *S)`` converged iterates; flattened to ``(N, D)`` internally.
    cos_threshold
        Two points are the same attractor when their cosine similarity is greater than
        this (paper: 0.99). Used unless ``eps`` is given. Points with norm ``<= zero_tol``
        form one attractor at the origin.
    eps
        Use the Euclidean rule instead: the same attractor when ``‖a - b‖₂ < eps``.
        Preferable in low dimension, where the cosine ignores the radius (in 2-D,
        cos > 0.99 merges everything within 8° of a ray).
    block_size
        Points compared at once; memory is ``O(block_size · M)``.

    Returns
    -------
    Attractors
        ``centers`` ``(M, *S)``, ``labels`` ``(N,)``, ``counts`` ``(M,)``. Deterministic:
        the same input gives the same output, centers in order of first appearance.
    """
    if not isinstance(points, Tensor):
        raise TypeError(f"points must be a torch.Tensor (N, ...), got {type(points).__name__}")
    if points.ndim < 2 or points.shape[0] == 0:
        raise ValueError(
            f"points must be a non-empty batch (N, *latent_shape), got shape {tuple(points.shape)}"
        )
    x = points.reshape(points.shape[0], -1)
    if not x.is_floating_point():
        x = x.float()
    if not all(bool(torch.isfinite(x[s : s + 65536]).all()) for s in range(0, len(x), 65536)):
        raise ValueError(
            "points hold NaN or inf; pass only finite iterates, e.g. res.final[~res.diverged]"
        )
    if eps is None:
        if not -1.0 < cos_threshold < 1.0:
            raise ValueError(f"cos_threshold must lie in (-1, 1), got {cos_threshold}")
        metric, threshold = "cosine", float(cos_threshold)
    else:
        if not eps > 0:
            raise ValueError(f"eps must be positive, got {eps}")
        metric, threshold = "euclidean", -float(eps)

    n = x.shape[0]
    chunk = 16384
    # Features are made block by block (never a normalised copy of all N points), and each
    # point's best match among the centers found before its block is kept from the first
    # pass, so the second pass only compares it with the centers found after.
    leaders: list[int] = []
    centers = _features(x[:0], metric, zero_tol)
    best = torch.full((n,), -torch.inf, dtype=centers.dtype, device=x.device)
    labels = torch.zeros(n, dtype=torch.long, device=x.device)
    compared: list[int] = []  # per block: centers it was compared with in the first pass

    for s in range(0, n, block_size):
        block = _features(x[s : s + block_size], metric, zero_tol)
        compared.append(centers.shape[0])
        if centers.shape[0]:
            best[s : s + block_size], labels[s : s + block_size] = _best(
                block, centers, metric, chunk
            )
            free = torch.nonzero(~(best[s : s + block_size] > threshold)).flatten()
        else:
            free = torch.arange(block.shape[0], device=block.device)
        if free.numel() == 0:
            continue
        # leader clustering among the block's unmatched points, in input order
        cand = block[free]
        close = (_similarity(cand, cand, metric) > threshold).cpu().numpy()
        covered = np.zeros(len(free), dtype=bool)
        new = []
        for i in range(len(free)):
            if not covered[i]:
                new.append(i)
                covered |= close[i]
        new_t = free[torch.as_tensor(new, dtype=torch.long, device=free.device)]
        leaders.extend((new_t + s).tolist())
        centers = torch.cat([centers, block[new_t]])

    m = centers.shape[0]
    for b, s in enumerate(range(0, n, block_size)):
        if compared[b] == m:  # no center was found after this block's first pass
            continue
        block = _features(x[s : s + block_size], metric, zero_tol)
        val, j = _best(block, centers[compared[b] :], metric, chunk)
        better = val > best[s : s + block_size]  # ties keep the earlier center, like argmax
        labels[s : s + block_size] = torch.where(
            better, j + compared[b], labels[s : s + block_size]
        )
    counts = torch.bincount(labels, minlength=len(leaders))
    lead = torch.as_tensor(leaders, dtype=torch.long, device=points.device)
    return Attractors(centers=points[lead], labels=labels, counts=counts)
