"""The residual loss ``L(z) = ‖f(z) - z‖²`` and gradient descent on it (the paper's Prop. 3.1).

Fixed points of ``f`` are the zeros of ``L``, so one could look for them by minimising ``L``.
But ``∇L(z) = 2 (J_f(z) - I)ᵀ v(z)`` with ``v = f(z) - z``: the fixed-point step ``v`` is the
negative gradient direction only where ``(J_f - I)ᵀ ≈ -c I``, e.g. near an attractor with
``J_f ≈ 0`` (paper, Prop. 3.1 / A.7). Elsewhere the two walks differ, and gradient descent on
``L`` also stops at *unstable* fixed points (repellers, saddles: ``L = 0`` there too) and at
local minima of ``L`` that are not fixed points at all, which fixed-point iteration never
does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["DescentResult", "descend", "residual_loss", "residual_loss_grad"]


def _fn(f: Callable[[Tensor], Tensor]) -> Callable[[Tensor], Tensor]:
    return getattr(f, "raw", f)  # LatentMap.raw keeps autograd on


def residual_loss(f: Callable[[Tensor], Tensor], z: Tensor) -> Tensor:
    """``L(z) = ‖f(z) - z‖²`` per row, shape (N,), for ``z`` of shape (N, *S). No gradients."""
    with torch.no_grad():
        return (_fn(f)(z) - z).reshape(len(z), -1).square().sum(dim=1)


def residual_loss_grad(f: Callable[[Tensor], Tensor], z: Tensor) -> tuple[Tensor, Tensor]:
    """``L(z)`` (N,) and its gradient ``∇L(z) = 2 (J_f - I)ᵀ v(z)`` (N, *S), by autograd.

    Rows are treated independently (``f`` must act on each row separately).
    """
    z = z.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        loss = (_fn(f)(z) - z).reshape(len(z), -1).square().sum(dim=1)
        (grad,) = torch.autograd.grad(loss.sum(), z)
    return loss.detach(), grad.detach()


@dataclass
class DescentResult:
    """Outcome of :func:`descend` for ``N`` starts.

    Attributes
    ----------
    final : Tensor, shape (N, *S)
        Last iterate.
    loss : Tensor, shape (N,)
        ``L`` at ``final``.
    grad_norm : Tensor, shape (N,)
        ``‖∇L‖`` at ``final``.
    steps : int
        Number of gradient-step rounds made (the most any start took).
    """

    final: Tensor
    loss: Tensor
    grad_norm: Tensor
    steps: int


def descend(
    f: Callable[[Tensor], Tensor],
    z0: Tensor,
    *,
    lr: float = 0.05,
    steps: int = 2000,
    grad_tol: float = 1e-16,
) -> DescentResult:
    """Plain gradient descent ``z ← z - lr ∇L(z)`` on ``L(z) = ‖f(z) - z‖²`` from every start.

    A start stops as soon as its ``‖∇L‖² < grad_tol`` (the others go on), so the cost follows
    the number of point-steps actually needed.

    Parameters
    ----------
    f
        The map, ``(N, *S) -> (N, *S)`` (an :class:`lvf.LatentMap` or a differentiable function).
    z0 : Tensor, shape (N, *S)
    lr
        Step size.
    steps
        Most steps.
    """
    z = z0.detach().clone()
    active = torch.ones(len(z), dtype=torch.bool, device=z.device)
    t = 0
    while t < steps and bool(active.any()):
        t += 1
        idx = torch.nonzero(active).flatten()
        _, grad = residual_loss_grad(f, z[idx])
        done = grad.reshape(len(idx), -1).square().sum(dim=1) < grad_tol
        z[idx[~done]] = z[idx[~done]] - lr * grad[~done]
        active[idx[done]] = False
    loss, grad = residual_loss_grad(f, z)
    return DescentResult(z, loss, grad.reshape(len(z), -1).norm(dim=1), t)
