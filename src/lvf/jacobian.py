"""Jacobians of a latent map: spectral norms, eigenvalues and the stability of fixed points.

A fixed point ``z* = f(z*)`` is an attractor when every eigenvalue of ``J_f(z*)`` has
modulus below one (paper, Def. 2); the spectral norm ``‖J_f(z)‖_σ`` bounds the local
Lipschitz constant (Def. 3), and ``sup_z ‖J_f(z)‖_σ < 1`` makes ``f`` a contraction.

All functions treat ``f`` as acting on each row of a batch independently (true for
autoencoders in eval mode: no batch normalisation in training mode), so the Jacobian of the
batched map is block-diagonal and one ``jvp``/``vjp`` over the batch gives every row's
product at once.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor
from torch.func import jacrev, jvp, vjp, vmap

__all__ = ["eigenvalues", "is_stable", "jacobian", "spectral_norm"]


def _differentiable(f: Callable[[Tensor], Tensor]) -> Callable[[Tensor], Tensor]:
    """The map with autograd enabled (``LatentMap.raw`` when ``f`` is a LatentMap)."""
    if not callable(f):
        raise TypeError(f"f must be callable, got {type(f).__name__}")
    return getattr(f, "raw", f)


def _check_points(z: Tensor) -> Tensor:
    if not isinstance(z, Tensor) or z.ndim < 2 or z.shape[0] == 0:
        shape = tuple(z.shape) if isinstance(z, Tensor) else type(z).__name__
        raise ValueError(f"z must be a non-empty batch of latents (N, *S), got {shape}")
    if not z.is_floating_point():
        raise TypeError(f"z must be floating point, got {z.dtype}")
    # a fresh, ordinary tensor: results of iterate() may come from no-grad/inference code
    return z.detach().clone()


def _row_norm(x: Tensor) -> Tensor:
    return x.reshape(x.shape[0], -1).norm(dim=1)


def spectral_norm(
    f: Callable[[Tensor], Tensor],
    z: Tensor,
    *,
    n_iter: int = 50,
    rtol: float = 1e-5,
    seed: int = 0,
) -> Tensor:
    """Largest singular value ``‖J_f(z)‖_σ`` at each point, by power iteration on ``JᵀJ``.

    Only Jacobian–vector products are used (``torch.func.jvp`` and ``vjp``), so it works
    for latents of any size, e.g. ``(N, 4, 32, 32)``.

    Parameters
    ----------
    f
        Map ``(N, *S) -> (N, *S)`` (a :class:`lvf.LatentMap` or a differentiable function).
    z
        ``(N, *S)`` points.
    n_iter
        Most power iterations; stops earlier once every estimate changes by less than
        ``rtol`` (relative) between iterations.
    seed
        Seed of the random start vectors.

    Returns
    -------
    Tensor
        ``(N,)`` spectral norms, on ``z``'s device.
    """
    fn = _differentiable(f)
    z = _check_points(z)
    gen = torch.Generator(device=z.device).manual_seed(seed)
    v = torch.randn(z.shape, generator=gen, device=z.device, dtype=z.dtype)
    v = v / _row_norm(v).view(-1, *([1] * (z.ndim - 1)))
    tiny = torch.finfo(z.dtype).tiny
    shape = (-1, *([1] * (z.ndim - 1)))
    with torch.enable_grad():
        _, pullback = vjp(fn, z)
        sigma = torch.zeros(z.shape[0], device=z.device, dtype=z.dtype)
        for _ in range(n_iter):
            _, jv = jvp(fn, (z,), (v,))  # J v
            new_sigma = _row_norm(jv)  # ‖J v‖ for unit v
            # normalise before the pullback so tiny Jacobians do not underflow (JᵀJv ~ σ²)
            u = jv / new_sigma.clamp_min(tiny).view(-1, *([1] * (jv.ndim - 1)))
            (w,) = pullback(u)  # ∝ Jᵀ J v (f may change the shape: J need not be square)
            v = w / _row_norm(w).clamp_min(tiny).view(shape)
            done = bool(((new_sigma - sigma).abs() <= rtol * new_sigma.abs()).all())
            sigma = new_sigma
            if done:
                break
    return sigma.detach()


def jacobian(f: Callable[[Tensor], Tensor], z: Tensor) -> Tensor:
    """Full Jacobian of ``f`` at each point, ``(N, D, D)`` with ``D = prod(S)``.

    Uses ``torch.func.vmap(jacrev(...))``; meant for small latents (``D`` up to a few
    thousand). For large latents use :func:`spectral_norm`.
    """
    fn = _differentiable(f)
    z = _check_points(z)
    shape = z.shape[1:]
    d = math.prod(shape)

    def single(v: Tensor) -> Tensor:
        return fn(v.reshape(1, *shape)).reshape(d)

    with torch.enable_grad():
        jac = vmap(jacrev(single))(z.reshape(z.shape[0], d))
    return jac.detach()


def eigenvalues(f: Callable[[Tensor], Tensor], z: Tensor) -> Tensor:
    """Eigenvalues of ``J_f(z)`` at each point, ``(N, D)`` complex, by decreasing modulus."""
    lam = torch.linalg.eigvals(jacobian(f, z))
    order = lam.abs().argsort(dim=1, descending=True)
    return torch.gather(lam, 1, order)


def is_stable(f: Callable[[Tensor], Tensor], z: Tensor) -> Tensor:
    """``(N,)`` bool: every eigenvalue of ``J_f(z)`` has modulus below one (Def. 2)."""
    return eigenvalues(f, z).abs().amax(dim=1) < 1
