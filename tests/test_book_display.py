"""lvf.book.display.draw_field on the Agg backend (conftest sets MPLBACKEND=Agg)."""

import warnings

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.collections import LineCollection, PathCollection, QuadMesh
from matplotlib.colors import LogNorm

import lvf.field
from lvf.book.display import draw_field


def _rotation(z):
    """A contraction toward the origin with a twist: the field spirals in."""
    rot = torch.tensor([[0.8, -0.3], [0.3, 0.8]], dtype=z.dtype)
    return z @ rot.T


@pytest.fixture
def ax():
    fig, ax = plt.subplots()
    yield ax
    plt.close(fig)


@pytest.fixture
def field():
    return lvf.field.grid(_rotation, (-3.0, 3.0), (-2.0, 2.5), n=(37, 29))


def _scatters(ax):
    return [c for c in ax.collections if isinstance(c, PathCollection)]


def test_draws_heat_map_and_streamlines(ax, field):
    mesh = draw_field(ax, field)
    assert isinstance(mesh, QuadMesh)
    np.testing.assert_allclose(mesh.get_array().ravel(), field.speed.ravel(), rtol=1e-6)
    assert any(isinstance(c, LineCollection) for c in ax.collections)  # the streamlines
    assert ax.get_xlim() == pytest.approx((-3.0, 3.0))
    assert ax.get_ylim() == pytest.approx((-2.0, 2.5))
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("$z_1$", "$z_2$")
    assert len(ax.figure.axes) == 1  # no colour bar unless asked
    assert not _scatters(ax)


def test_float32_grid_works(ax):
    # float32 axes far from 0 are not evenly spaced to streamplot's tolerance (rtol 1e-5)
    fld = lvf.field.grid(_rotation, (0.0, 500.0), (0.0, 500.0), n=301)
    assert fld.x.dtype == np.float32
    with pytest.raises(ValueError, match="equally spaced"):
        plt.figure().gca().streamplot(fld.x, fld.y, fld.U, fld.V)
    plt.close()
    draw_field(ax, fld)
    assert any(isinstance(c, LineCollection) for c in ax.collections)


def test_colour_bar_when_asked(ax, field):
    mesh = draw_field(ax, field, norm=LogNorm(), cbar=True, cbar_label="length")
    assert len(ax.figure.axes) == 2
    assert ax.figure.axes[1].get_ylabel() == "length"
    assert isinstance(mesh.norm, LogNorm)


def test_points_modes_and_attractors_in_order(ax, field):
    z = torch.randn(50, 2, generator=torch.Generator().manual_seed(0))
    draw_field(
        ax,
        field,
        points=z,
        modes=np.zeros((3, 2)),
        attractors=torch.zeros(1, 2),
        points_style=dict(c="tab:red", alpha=0.3),
        attractors_style=dict(marker="x", zorder=None, label="attractors"),  # no edge warning
        title="t",
    )
    points, modes, att = _scatters(ax)
    np.testing.assert_allclose(points.get_offsets(), z.numpy(), rtol=1e-6)
    assert points.get_alpha() == 0.3
    assert len(modes.get_offsets()) == 3 and len(att.get_offsets()) == 1
    assert att.get_label() == "attractors"
    assert att.get_zorder() == 1  # None drops the default zorder=3: matplotlib's own
    assert ax.get_title() == "t"


def test_streamlines_only(ax, field):
    ax.imshow(np.zeros((4, 4)), extent=(-3, 3, -2, 2.5), origin="lower")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert draw_field(ax, field, background=False, cbar=True, color="k") is None
    assert not any(isinstance(c, QuadMesh) for c in ax.collections)
    assert any(isinstance(c, LineCollection) for c in ax.collections)
    assert len(ax.figure.axes) == 1
