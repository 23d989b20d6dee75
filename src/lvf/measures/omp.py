"""Batched Orthogonal Matching Pursuit (OMP) in torch, and the random orthogonal basis.

Sec. 4.1 of the paper reconstructs test latents as sparse combinations of a dictionary of
attractors, and compares with a random orthogonal basis (the book's page "Where the paper is
silent", ``choice-orthogonal-starts``). This
module provides both pieces:

* :func:`omp` — Orthogonal Matching Pursuit (Mallat & Zhang 1993; Pati et al. 1993) for many
  signals at once, in the spirit of the "Batch-OMP" of Rubinstein, Zibulevsky & Elad (2008):
  the Gram matrix ``G = D Dᵀ`` and the correlations ``D x`` are computed once, and each greedy
  step grows the Cholesky factor of the chosen atoms' Gram block by one row and updates the
  residual's correlations with all atoms (Gram–Schmidt carried out in correlation space),
  instead of solving a fresh least-squares problem. All signals advance together as batched
  tensor operations, so it runs unchanged on CPU or GPU. Several sparsity levels can be asked
  for in one call: OMP is greedy, so the support at ``k`` atoms is the first ``k`` atoms of
  the support at ``k' > k`` and one pass gives every level.
* :func:`random_orthogonal_basis` — rows of a Haar-random orthogonal matrix (QR of a Gaussian
  with the sign correction of Mezzadri 2007), the paper's baseline dictionary.

Cost: for ``n`` signals, ``A`` atoms and ``K`` non-zeros, ``O(A² · dim)`` for the Gram
matrix, ``O(n · A · K²/2)`` for the correlation updates and ``O(n · K²)`` per requested
level for the coefficients; memory ``O(c · K · A)`` for a chunk of ``c`` signals (chosen
from ``max_memory``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = ["omp", "omp_reconstruct", "random_orthogonal_basis"]


def random_orthogonal_basis(
    dim: int,
    n: int | None = None,
    *,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device | None = None,
) -> Tensor:
    """``n`` orthonormal rows in ``R^dim``, drawn uniformly (Haar) from the orthogonal group.

    The QR decomposition of a ``dim × n`` standard Gaussian matrix, with the signs of ``R``'s
    diagonal moved into ``Q`` so the distribution is exactly uniform (Mezzadri 2007). With
    ``n = dim`` (the default) the rows span the whole space: the paper's orthogonal baseline,
    "the initial orthogonal samples Z*_0 which, by design, fully span the latent space".

    Parameters
    ----------
    dim
        Dimension of the space.
    n
        Number of rows, ``1 ≤ n ≤ dim``; ``None`` means ``dim``.
    generator
        Random generator (on the CPU); the Gaussian is drawn on the CPU in float64, so the
        basis does not depend on ``device``.

    Returns
    -------
    Tensor
        ``(n, dim)`` with ``Q @ Q.T = I_n``.
    """
    n = dim if n is None else n
    if not 1 <= n <= dim:
        raise ValueError(f"need 1 <= n <= dim, got n={n}, dim={dim}")
    g = torch.randn(dim, n, generator=generator, dtype=torch.float64)
    q, r = torch.linalg.qr(g)
    q = q * torch.sign(torch.diagonal(r)).where(torch.diagonal(r) != 0, 1.0)
    return q.T.contiguous().to(device=device, dtype=dtype)


def _levels(n_nonzero: int | Sequence[int], n_atoms: int) -> list[int]:
    levels = [n_nonzero] if isinstance(n_nonzero, int) else list(n_nonzero)
    if not levels:
        raise ValueError("n_nonzero is an empty sequence")
    for k in levels:
        if isinstance(k, bool) or int(k) != k or not 1 <= k <= n_atoms:
            raise ValueError(f"every n_nonzero must be an integer in [1, {n_atoms}], got {k!r}")
    return [int(k) for k in levels]


def omp(
    dictionary: Tensor,
    signals: Tensor,
    n_nonzero: int | Sequence[int],
    *,
    max_memory: float = 2**30,
    return_support: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """Sparse codes of ``signals`` over ``dictionary`` by Orthogonal Matching Pursuit.

    At each step OMP picks the atom most correlated (in absolute value) with the current
    residual, then refits all chosen atoms by least squares. Atoms are L2-normalised
    *inside* for the selection (as scikit-learn's ``orthogonal_mp`` assumes of its input);
    the returned coefficients refer to the atoms as given, so ``coef @ dictionary`` is the
    reconstruction (see :func:`omp_reconstruct`). Atoms of zero norm are never chosen.

    A signal stops early, keeping fewer than ``n_nonzero`` atoms, when its residual is
    exhausted (largest squared correlation below ``eps · ‖x‖²``) or the next atom is linearly
    dependent on the chosen ones (its Cholesky pivot falls below ``eps``). scikit-learn stops
    in these cases too, with a warning, but by slightly different rules (it may add atoms with
    zero coefficients once the residual is round-off).

    Parameters
    ----------
    dictionary
        ``(n_atoms, dim)`` atoms as rows.
    signals
        ``(n, dim)`` signals, same device; computed in the signals' floating dtype
        (float32 or float64; lower precisions are computed in float32 and cast back).
        Use float64 for coherent dictionaries (nearly parallel atoms, such as attractor
        dictionaries) at large numbers of atoms: the Cholesky pivots become small, and
        float32 round-off, amplified by ``1 / pivot``, then spoils the updates.
    n_nonzero
        Number of atoms per signal, or a sequence of them (one pass computes every level).
    max_memory
        Bytes allowed for the per-chunk Gram rows; signals are processed in chunks sized to
        fit (results do not depend on it).
    return_support
        Also return the chosen atom indices in selection order.

    Returns
    -------
    coef
        ``(n, n_atoms)`` for an int ``n_nonzero``; ``(len(levels), n, n_atoms)`` for a
        sequence, in the order given. Dtype and device of ``signals``.
    support
        Only with ``return_support``: ``(n, max(levels))`` int64 atom indices in the order
        chosen, ``-1`` where a signal stopped early.

    Examples
    --------
    >>> import torch
    >>> d = torch.eye(4, dtype=torch.float64)
    >>> omp(d, torch.tensor([[0.0, 3.0, 0.0, -1.0]], dtype=torch.float64), 1)
    tensor([[0., 3., 0., 0.]], dtype=torch.float64)
    """
    if dictionary.ndim != 2 or signals.ndim != 2:
        raise ValueError(
            f"need dictionary (n_atoms, dim) and signals (n, dim); got shapes "
            f"{tuple(dictionary.shape)} and {tuple(signals.shape)}"
        )
    if dictionary.shape[1] != signals.shape[1]:
        raise ValueError(
            f"atoms have {dictionary.shape[1]} dimensions but signals have {signals.shape[1]}"
        )
    if not signals.is_floating_point() or not dictionary.is_floating_point():
        raise TypeError("dictionary and signals must be floating-point tensors")
    n_atoms = dictionary.shape[0]
    levels = _levels(n_nonzero, n_atoms)
    k_max = max(levels)
    out_dtype, device = signals.dtype, signals.device
    dtype = out_dtype if out_dtype in (torch.float32, torch.float64) else torch.float32

    d = dictionary.to(device=device, dtype=dtype)
    x = signals.to(dtype)
    norms = d.norm(dim=1)
    usable = norms > 0
    d_unit = d / norms.clamp_min(torch.finfo(dtype).tiny).unsqueeze(1)
    gram = d_unit @ d_unit.T  # (A, A)
    gram.diagonal().copy_(usable.to(dtype))  # exactly 1 (0 for unusable atoms)

    n = x.shape[0]
    coef = torch.zeros(len(levels), n, n_atoms, dtype=dtype, device=device)
    support = torch.full((n, k_max), -1, dtype=torch.long, device=device)
    itemsize = torch.finfo(dtype).bits // 8
    chunk = max(1, min(n, int(max_memory // max(1, k_max * n_atoms * itemsize))))
    for s in range(0, n, chunk):
        sl = slice(s, min(n, s + chunk))
        _omp_chunk(gram, d_unit, x[sl], usable, levels, k_max, coef[:, sl], support[sl])

    coef = coef / norms.clamp_min(torch.finfo(dtype).tiny)  # back to the given atoms' scale
    coef = coef.to(out_dtype)
    if isinstance(n_nonzero, int):
        coef = coef[0]
    return (coef, support) if return_support else coef


def _omp_chunk(
    gram: Tensor,
    d_unit: Tensor,
    x: Tensor,
    usable: Tensor,
    levels: list[int],
    k_max: int,
    coef_out: Tensor,
    support_out: Tensor,
) -> None:
    """Batch-OMP for one chunk of ``c`` signals; writes ``coef_out`` ``(L, c, A)`` in place.

    Gram–Schmidt in correlation space. With ``q_1, …, q_s`` the orthonormal basis of the
    chosen atoms (never formed), the code keeps ``P[j] = D q_j`` — the correlations of every
    atom with ``q_j`` — and the residual's correlations ``α = D r``. Choosing atom ``k``:
    ``w_j = q_jᵀ d_k = P[j, k]`` (a look-up), pivot ``p = sqrt(1 - ‖w‖²)``,
    ``P[s] = (G[k] - Σ_j w_j P[j]) / p``, ``ζ = q_sᵀ x = α_k / p`` and ``α ← α - ζ P[s]``.
    ``[w, p]`` is the new row of the Cholesky factor ``L`` of the chosen atoms' Gram block and
    ``ζ`` the new entry of ``z = L⁻¹ D_S x``; the coefficients ``γ = L⁻ᵀ z`` are solved only
    at the requested levels. Per step: ``O(c · s · A)`` work and no ``O(s²)`` solve.
    """
    c, dtype, device = x.shape[0], x.dtype, x.device
    n_atoms = gram.shape[0]
    eps = torch.finfo(dtype).eps

    alpha = x @ d_unit.T  # (c, A) correlations of the residual (= the signal) with every atom
    energy = x.square().sum(dim=1)  # ‖x‖²
    p_rows = torch.empty(c, k_max, n_atoms, dtype=dtype, device=device)  # P[j] = D q_j
    chol = torch.zeros(c, k_max, k_max, dtype=dtype, device=device)  # L, lower
    z = torch.zeros(c, k_max, dtype=dtype, device=device)
    idx = torch.zeros(c, k_max, dtype=torch.long, device=device)
    blocked = (~usable).unsqueeze(0).repeat(c, 1)  # atoms a signal may no longer choose
    active = torch.ones(c, dtype=torch.bool, device=device)
    want = {k: i for i, k in enumerate(levels)}
    ar = torch.arange(c, device=device)

    for s in range(k_max):
        score = alpha.abs().masked_fill_(blocked, -1.0)
        best, k = score.max(dim=1)
        # stop: residual exhausted, or every atom already chosen or unusable
        active &= (best >= 0) & (best.square() > eps * energy)
        p_new = gram.index_select(0, k)  # (c, A): G[k, :]
        if s > 0:
            w = p_rows[:, :s].gather(2, k.view(c, 1, 1).expand(c, s, 1)).squeeze(2)  # (c, s)
            pivot_sq = 1.0 - w.square().sum(dim=1)
            active &= pivot_sq > eps  # k depends linearly on the chosen atoms
            pivot = pivot_sq.clamp_min(eps).sqrt()
            p_new = torch.baddbmm(p_new.unsqueeze(1), w.unsqueeze(1), p_rows[:, :s], alpha=-1.0)
            p_new = p_new.squeeze(1)
            chol[:, s, :s] = w * active.unsqueeze(1)
        else:
            pivot = torch.ones(c, dtype=dtype, device=device)
        # a stopped signal gets P[s] = 0, ζ = 0 and the dummy row [0, …, 0, 1] of L: its
        # extra coefficient is exactly zero and the earlier ones do not change
        inv_p = torch.where(active, 1.0 / pivot, 0.0)
        p_new = p_new * inv_p.unsqueeze(1)
        zeta = alpha.gather(1, k.unsqueeze(1)).squeeze(1) * inv_p
        alpha = alpha - p_new * zeta.unsqueeze(1)
        p_rows[:, s] = p_new
        chol[:, s, s] = torch.where(active, pivot, 1.0)
        z[:, s] = zeta
        idx[:, s] = k
        support_out[:, s] = torch.where(active, k, -1)
        blocked[ar, k] |= active

        if s + 1 in want:
            upper = chol[:, : s + 1, : s + 1].transpose(1, 2)
            gamma = torch.linalg.solve_triangular(upper, z[:, : s + 1, None], upper=True)
            coef_out[want[s + 1]].scatter_add_(1, idx[:, : s + 1], gamma.squeeze(2))


def omp_reconstruct(
    dictionary: Tensor, signals: Tensor, n_nonzero: int | Sequence[int], **kwargs
) -> Tensor:
    """``omp(dictionary, signals, n_nonzero) @ dictionary``: the sparse approximations.

    ``(n, dim)`` for an int ``n_nonzero``, ``(len(levels), n, dim)`` for a sequence.
    """
    coef = omp(dictionary, signals, n_nonzero, **kwargs)
    return coef @ dictionary.to(device=coef.device, dtype=coef.dtype)
