"""Maps with known fixed points, attractors and basins, shared by the engine's tests."""

from __future__ import annotations

import math

import torch

# a = tanh(2a): the stable fixed points of z -> tanh(2z) are ±A_TANH2, the origin is unstable
A_TANH2 = 0.9575040240772687


def tanh2(z: torch.Tensor) -> torch.Tensor:
    """z -> tanh(2z), elementwise: attractors at ±A_TANH2 per coordinate, J = diag(2(1 - z²))."""
    return torch.tanh(2.0 * z)


def affine(A: torch.Tensor, b: torch.Tensor):
    """z -> A z + b on rows; its fixed point solves (I - A) z* = b."""

    def f(z: torch.Tensor) -> torch.Tensor:
        return z @ A.T + b

    f.fixed_point = torch.linalg.solve(torch.eye(A.shape[0], dtype=A.dtype) - A, b)
    return f


def random_contraction(k: int, rho: float, seed: int = 0, dtype=torch.float64) -> torch.Tensor:
    """A random k×k matrix with spectral norm exactly ``rho``."""
    g = torch.Generator().manual_seed(seed)
    A = torch.randn(k, k, generator=g, dtype=dtype)
    return rho * A / torch.linalg.matrix_norm(A, ord=2)


def steps_for_scaling(rho: float, z0_norm: float, tol: float) -> int:
    """Steps z -> rho z needs: the first t + 1 with (rho^t (1 - rho) ‖z0‖)² < tol."""
    t = 0
    while (rho**t * (1 - rho) * z0_norm) ** 2 >= tol:
        t += 1
    return t + 1


assert abs(math.tanh(2 * A_TANH2) - A_TANH2) < 1e-15
