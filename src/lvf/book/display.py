"""What the chapters show: notices and plots that several chapters draw the same way."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.collections import QuadMesh
    from matplotlib.colors import Normalize

    from lvf.field import Field2D

__all__ = ["draw_field", "notice"]

POINTS = dict(s=2, c="k", alpha=0.5, linewidths=0)
MODES = dict(s=70, facecolors="none", edgecolors="orange", lw=1.5)
ATTRACTORS = dict(marker="*", s=120, c="red", edgecolors="k", zorder=3)


def notice(title: str, body: str, *, command: str | None = None, kind: str = "warning"):
    """A visible box for a chapter (an IPython HTML display object, styled as a Sphinx
    admonition), e.g. to say that pretrained weights are missing and how to get them.

    ``body`` is plain text (escaped; blank lines separate paragraphs, line breaks are kept);
    ``command`` is shown as a code block.
    """
    import html

    from IPython.display import HTML

    paras = "".join(
        "<p>" + "<br>".join(html.escape(line) for line in p.strip().splitlines()) + "</p>"
        for p in body.strip().split("\n\n")
        if p.strip()
    )
    code = f"<pre>{html.escape(command)}</pre>" if command else ""
    return HTML(
        f'<div class="admonition {html.escape(kind)}">'
        f'<p class="admonition-title">{html.escape(title)}</p>{paras}{code}</div>'
    )


def _even(a: np.ndarray) -> np.ndarray:
    """``a``'s first and last value and length as an evenly spaced float64 axis.

    A float32 grid from :func:`lvf.field.grid` is not exactly evenly spaced, and
    matplotlib's ``streamplot`` insists that it is.
    """
    return np.linspace(float(a[0]), float(a[-1]), len(a))


def _xy(points: Any) -> np.ndarray:
    """``(n, 2)`` points (numpy or torch, on any device) as a numpy array."""
    if hasattr(points, "detach"):
        points = points.detach().cpu().numpy()
    return np.asarray(points).reshape(-1, 2)


def _scatter(ax: Axes, points: Any, default: dict, style: dict | None) -> None:
    from matplotlib.markers import MarkerStyle

    kw = {k: v for k, v in {**default, **(style or {})}.items() if v is not None}
    if not MarkerStyle(kw.get("marker") or "o").is_filled():
        kw.pop("edgecolors", None)  # matplotlib warns and ignores them on "x", "+", ...
    ax.scatter(*_xy(points).T, **kw)


def draw_field(
    ax: Axes,
    field: Field2D,
    *,
    points: Any = None,
    modes: Any = None,
    attractors: Any = None,
    background: bool = True,
    cmap: str = "viridis",
    norm: Normalize | None = None,
    color: str = "white",
    linewidth: float = 0.5,
    density: float = 1.0,
    arrowsize: float = 1.0,
    points_style: dict | None = None,
    modes_style: dict | None = None,
    attractors_style: dict | None = None,
    cbar: bool = False,
    cbar_label: str = r"$\|f(z) - z\|$",
    title: str | None = None,
    xlabel: str | None = "$z_1$",
    ylabel: str | None = "$z_2$",
    aspect: str | float = "equal",
) -> QuadMesh | None:
    """Draw a 2-D latent field on ``ax``: its length as a heat map, its streamlines on top,
    then optional point clouds; the axes are set to the grid's extent.

    Layers, bottom to top: ``‖f(z) - z‖`` (``pcolormesh``, when ``background``),
    streamlines of ``f(z) - z`` (``streamplot``), ``points`` (e.g. encoded data), ``modes``
    (e.g. of a density estimate) and ``attractors``. The chapters pass their own styling, so
    their figures differ only where they choose to.

    Parameters
    ----------
    ax
        Matplotlib axes to draw on (anything already on it stays underneath).
    field
        The field on its grid, from :func:`lvf.field.grid`; float32 grids are fine (the axes
        are respaced exactly evenly for ``streamplot``).
    points, modes, attractors
        ``(n, 2)`` numpy arrays or tensors (any device), or None to skip the layer.
    background
        Draw the heat map of the field's length (``cmap``, ``norm``, e.g. a shared
        ``LogNorm``); False draws streamlines only, e.g. over a basin image.
    color, linewidth, density, arrowsize
        ``streamplot`` styling.
    points_style, modes_style, attractors_style
        ``scatter`` keyword arguments that update the defaults (points: small translucent
        black dots; modes: orange circles; attractors: red stars edged in black). Pass
        ``label=`` for a legend; a key set to None drops the default, leaving
        matplotlib's own.
    cbar, cbar_label
        Add a colour bar for the heat map next to ``ax``.
    title, xlabel, ylabel, aspect
        Axes decoration; a label left None is not set.

    Returns
    -------
    matplotlib.collections.QuadMesh or None
        The heat map (for a colour bar shared by several panels), None without background.
    """
    x, y = _even(field.x), _even(field.y)
    mesh = None
    if background:
        mesh = ax.pcolormesh(x, y, field.speed, cmap=cmap, norm=norm, shading="auto")
    ax.streamplot(
        x,
        y,
        field.U,
        field.V,
        color=color,
        linewidth=linewidth,
        density=density,
        arrowsize=arrowsize,
    )
    for layer, default, style in (
        (points, POINTS, points_style),
        (modes, MODES, modes_style),
        (attractors, ATTRACTORS, attractors_style),
    ):
        if layer is not None:
            _scatter(ax, layer, default, style)
    ax.set(xlim=(x[0], x[-1]), ylim=(y[0], y[-1]), aspect=aspect)
    for setter, value in ((ax.set_title, title), (ax.set_xlabel, xlabel), (ax.set_ylabel, ylabel)):
        if value is not None:
            setter(value)
    if cbar and mesh is not None:
        ax.figure.colorbar(mesh, ax=ax, shrink=0.8, label=cbar_label)
    return mesh
