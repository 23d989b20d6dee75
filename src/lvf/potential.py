"""Is a vector field a gradient? Line integrals, curl and potentials of fields on the plane.

A field ``v`` is conservative, ``v = ∇ψ``, exactly when its Jacobian is symmetric
(on a simply connected domain). Then the line integral ``∫_γ v · dγ = ψ(end) - ψ(start)``
does not depend on the path ``γ``, the curl ``∂v_y/∂x - ∂v_x/∂y`` vanishes, and integrating
``v`` recovers ``ψ`` up to a constant. The paper (Sec. 3.1, App. A.1) notes that for an
autoencoder with a symmetric latent Jacobian this makes ``ψ`` an energy, ``q ∝ e^{ψ}``.

* :func:`line_integral` integrates any field ``v: (B, d) -> (B, d)`` along batched, densely
  sampled paths (trapezoid rule between consecutive points); :func:`polyline` builds such
  paths from a few corners;
* :func:`curl` and :func:`grid_potential` work on a field sampled on a grid
  (:class:`lvf.field.Field2D`): the scalar curl by central differences, and the potential by
  cumulative trapezoid integration along two different path families (first along ``x`` then
  ``y``, or the reverse), whose disagreement measures how far the field is from a gradient.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

__all__ = ["curl", "grid_potential", "line_integral", "polyline"]


def polyline(vertices: Tensor, n: int = 100) -> Tensor:
    """Resample polylines so that every segment has ``n`` equal pieces.

    Parameters
    ----------
    vertices : Tensor, shape (V, d) or (B, V, d)
        Corner points, ``V >= 2``.
    n
        Pieces per segment.

    Returns
    -------
    Tensor, shape (B, (V - 1) n + 1, d) (B = 1 for a single polyline)
    """
    if vertices.ndim == 2:
        vertices = vertices[None]
    if vertices.ndim != 3 or vertices.shape[1] < 2:
        raise ValueError(
            f"vertices must have shape (V, d) or (B, V, d) with V >= 2, got {tuple(vertices.shape)}"
        )
    if n < 1:
        raise ValueError(f"n must be a positive integer, got {n}")
    t = torch.linspace(0, 1, n + 1, dtype=vertices.dtype, device=vertices.device)[:-1]
    a, b = vertices[:, :-1, None, :], vertices[:, 1:, None, :]  # (B, V-1, 1, d)
    pieces = a + t[None, None, :, None] * (b - a)  # (B, V-1, n, d)
    pts = pieces.reshape(vertices.shape[0], -1, vertices.shape[2])
    return torch.cat([pts, vertices[:, -1:]], dim=1)


def line_integral(
    field: Callable[[Tensor], Tensor], paths: Tensor, *, batch_size: int = 65536
) -> Tensor:
    """``∫ v · dγ`` along each path, by the trapezoid rule between consecutive points.

    Parameters
    ----------
    field
        Map ``(B, d) -> (B, d)``, e.g. ``lambda z: f(z) - z`` or ``f.residual``. Evaluated
        without gradients.
    paths : Tensor, shape (P, L, d) or (L, d)
        Densely sampled paths (see :func:`polyline`); the error is ``O(1/L²)`` for smooth
        fields.
    batch_size
        Points evaluated at once.

    Returns
    -------
    Tensor, shape (P,) (a 0-d tensor for a single path)
    """
    single = paths.ndim == 2
    if single:
        paths = paths[None]
    if paths.ndim != 3 or paths.shape[1] < 2:
        raise ValueError(f"paths must have shape (P, L, d) with L >= 2, got {tuple(paths.shape)}")
    p, length, d = paths.shape
    flat = paths.reshape(-1, d)
    with torch.no_grad():
        v = torch.cat([field(chunk) for chunk in flat.split(batch_size)]).reshape(p, length, d)
    mid = 0.5 * (v[:, 1:] + v[:, :-1])
    out = (mid * paths.diff(dim=1)).sum(dim=(1, 2))
    return out[0] if single else out


def curl(F) -> np.ndarray:
    """Scalar curl ``∂V/∂x - ∂U/∂y`` of a grid field (:class:`lvf.field.Field2D`), ``(n_y, n_x)``.

    Second-order differences, central inside and one-sided at the border
    (``numpy.gradient``). Zero for a gradient field up to discretisation error.
    """
    x, y = np.asarray(F.x, np.float64), np.asarray(F.y, np.float64)
    dv_dx = np.gradient(np.asarray(F.V, dtype=np.float64), x, axis=1, edge_order=2)
    du_dy = np.gradient(np.asarray(F.U, dtype=np.float64), y, axis=0, edge_order=2)
    return dv_dx - du_dy


def _cumtrapz(values: np.ndarray, coords: np.ndarray, axis: int) -> np.ndarray:
    """Cumulative trapezoid integral along ``axis``, starting at 0."""
    values = np.moveaxis(values, axis, -1)
    steps = np.diff(coords)
    inc = 0.5 * (values[..., 1:] + values[..., :-1]) * steps
    out = np.concatenate([np.zeros(values.shape[:-1] + (1,)), np.cumsum(inc, axis=-1)], axis=-1)
    return np.moveaxis(out, -1, axis)


def grid_potential(F, order: str = "xy") -> np.ndarray:
    """Potential ``ψ`` of a grid field, with ``ψ = 0`` at the corner ``(x[0], y[0])``.

    ``order="xy"`` reaches each grid node by going along the bottom row in ``x`` and then up
    its column in ``y``; ``order="yx"`` goes up the first column and then along the row. For a
    gradient field both give the same ``ψ`` (up to the quadrature error); their difference
    ``xy - yx`` at a node is the counterclockwise circulation of ``v`` around the rectangle
    spanned by the corner and the node.

    Parameters
    ----------
    F
        A :class:`lvf.field.Field2D` (``U``, ``V`` of shape ``(n_y, n_x)``).
    order
        ``"xy"`` or ``"yx"``.

    Returns
    -------
    numpy.ndarray, shape (n_y, n_x)
    """
    x = np.asarray(F.x, dtype=np.float64)
    y = np.asarray(F.y, dtype=np.float64)
    U = np.asarray(F.U, dtype=np.float64)
    V = np.asarray(F.V, dtype=np.float64)
    if order == "xy":
        bottom = _cumtrapz(U[0], x, axis=0)  # along y = y[0]
        return bottom[None, :] + _cumtrapz(V, y, axis=0)
    if order == "yx":
        left = _cumtrapz(V[:, 0], y, axis=0)  # along x = x[0]
        return left[:, None] + _cumtrapz(U, x, axis=1)
    raise ValueError(f"order must be 'xy' or 'yx', got {order!r}")
