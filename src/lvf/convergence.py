"""How fast iteration reaches an attractor: measured step counts and the linear-rate estimate.

Near an attractor ``z*`` the map is almost linear, ``z_{t+1} - z* ≈ J_f(z*) (z_t - z*)``, so
the error ``e_t = z_t - z*`` shrinks at least geometrically, ``‖e_t‖ ≤ ‖e_0‖ ρ^t`` with
``ρ = ‖J_f(z*)‖_σ < 1`` (paper, Prop. A.9/A.10). The error is below ``ε`` after

    T(ε) = log(ε / ‖e_0‖) / log ρ

steps, the estimate the paper compares with measured counts in App. B.4 (Fig. 11). Far from
``z*`` the higher-order terms the linearisation drops dominate, so the estimate is only a
guide there.

Three pieces:

- :func:`refine_fixed_points` polishes approximate fixed points (the output of
  :func:`lvf.iterate`, which stops on the *step* length, not on the distance to ``z*``) with
  Newton's method on ``g(z) = f(z) - z``, for small latents;
- :func:`steps_to_reach` counts, from a recorded trajectory, the steps each start needs to
  come within ``ε`` of its attractor;
- :func:`linear_rate_steps` is the estimate ``T(ε)`` above.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from lvf.iterate import IterationResult
from lvf.jacobian import jacobian

__all__ = ["linear_rate_steps", "refine_fixed_points", "steps_to_reach"]


def _flat(z: Tensor) -> Tensor:
    return z.reshape(z.shape[0], -1)


def refine_fixed_points(
    f: Callable[[Tensor], Tensor],
    z: Tensor,
    *,
    max_steps: int = 20,
    tol: float | None = None,
) -> Tensor:
    """Polish approximate fixed points of ``f`` with Newton's method on ``f(z) - z = 0``.

    Each step solves ``(J_f(z) - I) δ = -(f(z) - z)`` and moves ``z ← z + δ``; a step that
    does not lower the residual ``‖f(z) - z‖`` is halved (up to 10 times) and a point whose
    residual cannot be lowered keeps its current value. Each point stops on its own once its
    residual is below ``tol``, so the work follows the points still being polished. Newton
    converges quadratically once close, so a handful of steps takes the output of
    :func:`lvf.iterate` (which stops when the *step* is short, possibly still far from ``z*``
    when ``f`` contracts slowly) to the fixed point within rounding.

    Uses the full Jacobian (:func:`lvf.jacobian.jacobian`), so it is meant for small latents
    (``D = prod(S)`` up to a few hundred).

    Parameters
    ----------
    f
        The map, ``(N, *S) -> (N, *S)``; a :class:`lvf.LatentMap` or a differentiable function.
    z
        ``(N, *S)`` starting guesses, e.g. ``iterate(...).final`` or attractor centers.
    max_steps
        Most Newton steps.
    tol
        A point is done once its residual ``‖f(z) - z‖₂`` is below it; default ``100 ×`` the
        machine epsilon of ``z``'s dtype times ``1 + ‖z‖``.

    Returns
    -------
    Tensor
        ``(N, *S)`` refined points, same dtype and device as ``z``.
    """
    if not isinstance(z, Tensor) or z.ndim < 2 or z.shape[0] == 0:
        shape = tuple(z.shape) if isinstance(z, Tensor) else type(z).__name__
        raise ValueError(f"z must be a non-empty batch of latents (N, *S), got {shape}")
    if int(max_steps) != max_steps or max_steps < 0:
        raise ValueError(f"max_steps must be a non-negative integer, got {max_steps}")
    fn = getattr(f, "raw", f)
    shape = z.shape
    n, d = shape[0], math.prod(shape[1:])
    z = _flat(z.detach()).clone()
    eye = torch.eye(d, dtype=z.dtype, device=z.device)

    def residual(p: Tensor) -> Tensor:
        with torch.no_grad():
            return _flat(fn(p.reshape(p.shape[0], *shape[1:]))) - p

    r = residual(z)
    res_norm = r.norm(dim=1)
    eps = torch.finfo(z.dtype).eps
    # points still being polished: above the tolerance and still improving
    active = torch.ones(n, dtype=torch.bool, device=z.device)
    for _ in range(int(max_steps)):
        limit = tol if tol is not None else 100 * eps * (1 + z.norm(dim=1))
        active &= ~(res_norm < limit)
        idx = torch.nonzero(active).flatten()
        if idx.numel() == 0:
            break
        za, ra, na = z[idx], r[idx], res_norm[idx]
        A = jacobian(fn, za.reshape(-1, *shape[1:])) - eye
        delta = torch.linalg.lstsq(A, -ra.unsqueeze(-1)).solution.squeeze(-1)
        delta = torch.nan_to_num(delta, nan=0.0, posinf=0.0, neginf=0.0)
        # backtracking: halve the step of each point until its residual drops (10 tries)
        trying = torch.arange(idx.numel(), device=z.device)
        scale = 1.0
        for _ in range(10):
            trial = za[trying] + scale * delta[trying]
            tr = residual(trial)
            tn = tr.norm(dim=1)
            ok = torch.isfinite(tn) & (tn < na[trying])
            g = idx[trying[ok]]
            z[g], r[g], res_norm[g] = trial[ok], tr[ok], tn[ok]
            trying = trying[~ok]
            if trying.numel() == 0:
                break
            scale /= 2
        active[idx[trying]] = False  # no step lowered the residual: stalled, keep as is
    return z.reshape(shape)


def steps_to_reach(
    result: IterationResult, target: Tensor, eps: float = 1e-3, *, stride: int = 1
) -> Tensor:
    """Steps each start needs to come within ``eps`` of its attractor, from its trajectory.

    Parameters
    ----------
    result
        The output of ``lvf.iterate(f, z0, record="trajectory", stride=stride)`` for ``N``
        starts. Iterate with a tolerance small enough that trajectories do get within
        ``eps`` (e.g. ``tol=1e-10`` for ``eps=1e-3``): :func:`lvf.iterate` stops on the step
        length, and when ``f`` contracts slowly the last iterate can still be farther than
        the step from ``z*``.
    target
        ``(N, *S)`` the attractor each start reaches (e.g. refined centers indexed by the
        labels of :func:`lvf.find_attractors`).
    eps
        Distance threshold; the paper leaves it open, the book uses ``1e-3``
        (its page "Where the paper is silent", ``choice-convergence-eps``).
    stride
        The stride the trajectory was recorded with; counts are then multiples of it (exact
        for the last recorded iterate).

    Returns
    -------
    Tensor
        ``(N,)`` float64 on the CPU: the first ``t`` with ``‖z_t - z*‖₂ < eps`` (0 when the
        start is already that close), NaN when no recorded iterate gets that close.
    """
    if result.trajectory is None or result.lengths is None:
        raise ValueError("steps_to_reach needs iterate(..., record='trajectory')")
    traj = result.trajectory
    n, length = traj.shape[:2]
    if target.shape[0] != n or tuple(target.shape[1:]) != tuple(traj.shape[2:]):
        raise ValueError(
            f"target must have shape {(n, *traj.shape[2:])} (one attractor per start), "
            f"got {tuple(target.shape)}"
        )
    if not eps > 0:
        raise ValueError(f"eps must be positive, got {eps}")
    dist = traj.reshape(n, length, -1) - target.detach().cpu().reshape(n, 1, -1).to(traj.dtype)
    dist = dist.norm(dim=2)  # NaN in the padding
    close = dist < eps
    first = torch.where(close.any(dim=1), close.to(torch.int64).argmax(dim=1), -1)
    t = first.to(torch.float64) * stride
    # the last recorded column of each start is its final iterate, at step `steps`
    last = first == (result.lengths - 1)
    t = torch.where(last, result.steps.cpu().to(torch.float64), t)
    return torch.where(first < 0, torch.full_like(t, math.nan), t)


def linear_rate_steps(e0: Tensor, rho: Tensor, eps: float = 1e-3) -> Tensor:
    """The linear-rate estimate ``T = log(eps / ‖e_0‖) / log ρ`` (Prop. A.9).

    Parameters
    ----------
    e0
        ``(N,)`` initial distances ``‖z_0 - z*‖``.
    rho
        ``(N,)`` contraction factors, ``‖J_f(z*)‖_σ`` (or the spectral radius) at the
        attractor each start reaches.
    eps
        Target distance.

    Returns
    -------
    Tensor
        ``(N,)`` float64: the estimate; ``0`` where ``e0 <= eps``; NaN where ``ρ >= 1`` (no
        contraction, the estimate says nothing) or ``ρ <= 0``.
    """
    e0 = torch.as_tensor(e0, dtype=torch.float64).cpu()
    rho = torch.as_tensor(rho, dtype=torch.float64).cpu()
    if e0.shape != rho.shape:
        raise ValueError(f"e0 and rho need the same shape, got {tuple(e0.shape)} and {rho.shape}")
    if not eps > 0:
        raise ValueError(f"eps must be positive, got {eps}")
    t = torch.log(eps / e0) / torch.log(rho)
    t = torch.where(e0 <= eps, torch.zeros_like(t), t)
    return torch.where((rho >= 1) | (rho <= 0), torch.full_like(t, math.nan), t)
