"""The latent vector field ``v(z) = f(z) - z`` of a 2-D latent space, on a grid for plotting."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

__all__ = ["Field2D", "grid", "grid_points"]


@dataclass
class Field2D:
    """The residual field on an ``n_y × n_x`` grid, as numpy arrays ready for matplotlib.

    ``plt.streamplot(F.x, F.y, F.U, F.V)`` draws it and ``plt.pcolormesh(F.x, F.y, F.speed)``
    its norm (the paper's Fig. 1 uses viridis). Row ``i`` and column ``j`` hold the point
    ``(x[j], y[i])``.

    Attributes
    ----------
    x, y
        ``(n_x,)`` and ``(n_y,)`` grid coordinates.
    U, V
        ``(n_y, n_x)`` components of ``f(z) - z``.
    speed
        ``(n_y, n_x)`` norm ``‖f(z) - z‖₂``.
    """

    x: np.ndarray
    y: np.ndarray
    U: np.ndarray
    V: np.ndarray

    @property
    def speed(self) -> np.ndarray:
        return np.hypot(self.U, self.V)

    @property
    def extent(self) -> tuple[float, float, float, float]:
        """``(x_min, x_max, y_min, y_max)`` for ``imshow(..., extent=F.extent, origin="lower")``."""
        return float(self.x[0]), float(self.x[-1]), float(self.y[0]), float(self.y[-1])


def grid_points(
    xlim: tuple[float, float] = (-8.0, 8.0),
    ylim: tuple[float, float] = (-8.0, 8.0),
    n: int | tuple[int, int] = 100,
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> tuple[Tensor, Tensor, Tensor]:
    """Grid coordinates ``x`` ``(n_x,)``, ``y`` ``(n_y,)`` and its points ``(n_y·n_x, 2)``.

    The points are in row-major order: reshaping a per-point quantity to ``(n_y, n_x)``
    gives the layout of :class:`Field2D`.
    """
    nx, ny = (n, n) if isinstance(n, int) else n
    if nx < 2 or ny < 2:
        raise ValueError(f"a grid needs at least 2 points per axis, got n={n}")
    x = torch.linspace(float(xlim[0]), float(xlim[1]), nx, device=device, dtype=dtype)
    y = torch.linspace(float(ylim[0]), float(ylim[1]), ny, device=device, dtype=dtype)
    yy, xx = torch.meshgrid(y, x, indexing="ij")
    return x, y, torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=1)


def grid(
    f: Callable[[Tensor], Tensor],
    xlim: tuple[float, float] = (-8.0, 8.0),
    ylim: tuple[float, float] = (-8.0, 8.0),
    n: int | tuple[int, int] = 100,
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
    batch_size: int = 16384,
) -> Field2D:
    """Evaluate ``f(z) - z`` on a regular grid over ``xlim × ylim`` of a 2-D latent space.

    Parameters
    ----------
    f
        Map ``(B, 2) -> (B, 2)``.
    n
        Points per axis, or ``(n_x, n_y)``.
    device, dtype
        Where and in what precision to evaluate ``f`` (default: CPU, float32).
    """
    x, y, pts = grid_points(xlim, ylim, n, device=device, dtype=dtype)
    with torch.no_grad():
        probe = f(pts[:1])
        if probe.shape != (1, 2):
            raise ValueError(
                f"lvf.field.grid draws 2-D latent spaces; f maps (1, 2) to {tuple(probe.shape)}. "
                "For larger latents, project or slice the field yourself."
            )
        res = torch.cat([f(p) - p for p in pts.split(batch_size)])
    ny, nx = y.numel(), x.numel()
    res = res.reshape(ny, nx, 2).cpu().numpy()
    return Field2D(x=x.cpu().numpy(), y=y.cpu().numpy(), U=res[..., 0], V=res[..., 1])
