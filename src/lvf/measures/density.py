"""Kernel density estimates of encoded data: log-density, score and modes.

The paper's Theorem 1 (Sec. 3.1, App. A.1) compares the latent field ``v(z) = f(z) - z`` with
the score ``∇ log q(z)`` of the latent density ``q`` of the encoded data, and places the
attractors at the modes of ``q``. For a learned encoder ``q`` is unknown; the reference here
is a Gaussian kernel density estimate of the encoded points ``z_i = E(x_i)``,

    q̂(z) = 1/N Σ_i N(z; z_i, h² I),

whose score and modes are exact:

* score: ``∇ log q̂(z) = Σ_i w_i(z) (z_i - z) / h²`` with ``w(z) = softmax_i(-‖z - z_i‖² / 2h²)``;
* modes: the fixed points of Gaussian mean shift, ``z ← Σ_i w_i(z) z_i`` (i.e.
  ``z ← z + h² ∇ log q̂(z)``), which climbs ``q̂`` monotonically and stops at its local maxima.

:func:`select_bandwidth` picks ``h`` by cross-validated likelihood with scikit-learn's
``KernelDensity``, which also gives an independent check of :meth:`GaussianKDE.log_prob`.
Everything is batched torch code that runs on the device of the points.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

__all__ = ["GaussianKDE", "nearest_distance", "select_bandwidth"]


def select_bandwidth(
    points: Tensor, bandwidths=None, *, cv: int = 5, max_points: int = 4000, seed: int = 0
) -> float:
    """Bandwidth of a Gaussian KDE by ``cv``-fold cross-validated log-likelihood (scikit-learn).

    Parameters
    ----------
    points : Tensor, shape (N, d)
    bandwidths : sequence of float, optional
        Candidates. Default: 20 values log-spaced from 0.02 to 1 times the points' mean
        standard deviation per coordinate.
    cv
        Number of folds (``sklearn.model_selection.GridSearchCV``).
    max_points
        Use at most this many points (a random subset) to keep the search fast.

    Returns
    -------
    float
        The bandwidth with the best mean held-out log-likelihood.
    """
    from sklearn.model_selection import GridSearchCV
    from sklearn.neighbors import KernelDensity

    x = _as_numpy(points)
    if len(x) > max_points:
        x = x[np.random.default_rng(seed).choice(len(x), max_points, replace=False)]
    if bandwidths is None:
        scale = float(x.std(axis=0).mean())
        bandwidths = scale * np.logspace(np.log10(0.02), 0, 20)
    search = GridSearchCV(
        KernelDensity(kernel="gaussian"),
        {"bandwidth": np.asarray(bandwidths, dtype=float)},
        cv=cv,
    )
    search.fit(x)
    return float(search.best_params_["bandwidth"])


class GaussianKDE:
    """An isotropic Gaussian kernel density estimate with exact score and modes.

    Parameters
    ----------
    points : Tensor, shape (N, d)
        The samples (e.g. encoded training data). Kept on their device; computations use
        their dtype (float64 recommended for scores far from the data).
    bandwidth
        Kernel standard deviation ``h`` (e.g. from :func:`select_bandwidth`).
    block_size
        Query points handled at once; memory is ``O(block_size · N)``.
    """

    def __init__(self, points: Tensor, bandwidth: float, *, block_size: int = 2048) -> None:
        if not isinstance(points, Tensor) or points.ndim != 2 or len(points) == 0:
            raise ValueError("points must be a non-empty tensor of shape (N, d)")
        if not bandwidth > 0:
            raise ValueError(f"bandwidth must be positive, got {bandwidth!r}")
        self.points = points if points.is_floating_point() else points.float()
        self.bandwidth = float(bandwidth)
        self.block_size = int(block_size)

    def __repr__(self) -> str:
        n, d = self.points.shape
        return f"GaussianKDE(N={n}, d={d}, bandwidth={self.bandwidth:.4g})"

    def _blocks(self, z: Tensor):
        z = z.to(self.points)
        if z.ndim != 2 or z.shape[1] != self.points.shape[1]:
            raise ValueError(f"z must have shape (M, {self.points.shape[1]}), got {tuple(z.shape)}")
        return z.split(self.block_size)

    def _logits(self, z: Tensor) -> Tensor:
        """``-‖z - z_i‖² / 2h²``, shape (M, N)."""
        return -torch.cdist(z, self.points).square() / (2 * self.bandwidth**2)

    def log_prob(self, z: Tensor) -> Tensor:
        """``log q̂(z)``, shape (M,), for ``z`` of shape (M, d)."""
        n, d = self.points.shape
        const = math.log(n) + 0.5 * d * math.log(2 * math.pi * self.bandwidth**2)
        out = [torch.logsumexp(self._logits(b), dim=1) - const for b in self._blocks(z)]
        return torch.cat(out)

    def score(self, z: Tensor) -> Tensor:
        """``∇ log q̂(z)``, shape (M, d): ``Σ_i w_i(z) (z_i - z) / h²``."""
        return torch.cat([self._mean(b) - b for b in self._blocks(z)]) / self.bandwidth**2

    def _mean(self, z: Tensor) -> Tensor:
        """Kernel-weighted mean of the samples, ``Σ_i w_i(z) z_i``, shape (M, d)."""
        return torch.softmax(self._logits(z), dim=1) @ self.points

    def mean_shift(
        self, z0: Tensor, *, tol: float = 1e-10, max_steps: int = 2000
    ) -> tuple[Tensor, Tensor]:
        """Run Gaussian mean shift ``z ← Σ_i w_i(z) z_i`` from every start.

        Parameters
        ----------
        z0 : Tensor, shape (M, d)
        tol
            A start stops once its squared step ``‖z_{t+1} - z_t‖²`` is below ``tol``.
        max_steps
            Most steps per start.

        Returns
        -------
        final : Tensor, shape (M, d)
            The points reached (modes of ``q̂`` for the converged ones).
        converged : Tensor, shape (M,), bool
        """
        from lvf.iterate import iterate

        def step(z: Tensor) -> Tensor:
            return torch.cat([self._mean(b) for b in self._blocks(z)])

        res = iterate(step, z0.to(self.points), tol=tol, max_steps=max_steps)
        return res.final, res.converged

    def modes(
        self, starts: Tensor | None = None, *, merge: float | None = None, min_count: int = 1
    ) -> tuple[Tensor, Tensor]:
        """Local maxima of ``q̂`` found by mean shift, deduplicated.

        Parameters
        ----------
        starts : Tensor, shape (M, d), optional
            Where mean shift starts; default the samples themselves (every mode of a Gaussian
            KDE attracts at least the samples nearest to it, so none is missed).
        merge
            End points closer than this are one mode (default ``bandwidth / 10``).
        min_count
            Drop modes reached from fewer starts than this.

        Returns
        -------
        modes : Tensor, shape (K, d)
            Sorted by decreasing ``q̂``.
        counts : Tensor, shape (K,), int64
            Number of starts that reached each mode.
        """
        from lvf.attractors import find_attractors

        starts = self.points if starts is None else starts
        final, converged = self.mean_shift(starts)
        final = final[converged]
        if len(final) == 0:
            return final, torch.zeros(0, dtype=torch.long)
        merge = self.bandwidth / 10 if merge is None else merge
        att = find_attractors(final, eps=merge)
        keep = att.counts >= min_count
        centers, counts = att.centers[keep], att.counts[keep]
        # polish the leaders (first end points of their groups) onto the exact maxima
        centers, _ = self.mean_shift(centers, tol=1e-14, max_steps=5000)
        order = self.log_prob(centers).argsort(descending=True)
        return centers[order], counts[order]


def nearest_distance(a: Tensor, b: Tensor) -> Tensor:
    """Euclidean distance from each row of ``a`` ``(M, d)`` to its nearest row of ``b`` ``(K, d)``.

    Returns
    -------
    Tensor, shape (M,)
    """
    if len(b) == 0:
        return torch.full((len(a),), math.inf, dtype=a.dtype, device=a.device)
    return torch.cdist(a, b.to(a)).min(dim=1).values


def _as_numpy(points) -> np.ndarray:
    if isinstance(points, Tensor):
        points = points.detach().cpu().numpy()
    x = np.asarray(points, dtype=np.float64)
    if x.ndim != 2 or len(x) < 2:
        raise ValueError(f"points must have shape (N, d) with N >= 2, got {x.shape}")
    return x
