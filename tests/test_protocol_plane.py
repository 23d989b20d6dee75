"""Known-answer tests of lvf.protocols.plane (chapters 1 and 2) on a hand-made autoencoder whose
attractors, Jacobians and density are known."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from lvf.data import GaussianMixture2D
from lvf.protocols import plane

PROTOTYPES = torch.tensor([[-2.0, 0.0], [2.0, 0.0]])


class HalvingAE(nn.Module):
    """Data and latents in the plane: ``E`` is the identity, ``D(z) = (z + p(z)) / 2`` with
    ``p(z)`` the nearest prototype. ``f = E ∘ D`` halves the distance to it: both prototypes
    are attractors with ``J_f = I / 2``, each reached from its half-plane."""

    def encode(self, x):
        return x

    def decode(self, z):
        near = PROTOTYPES.to(z)[(z[:, 0] > 0).long()]  # the nearest prototype
        return (z + near) / 2

    def latent_map(self):
        from lvf.latent_map import LatentMap

        return LatentMap(self.encode, self.decode)


@pytest.fixture(scope="module")
def data():
    gen = torch.Generator().manual_seed(0)
    return PROTOTYPES[torch.arange(400) % 2] + 0.3 * torch.randn(400, 2, generator=gen)


@pytest.fixture(scope="module")
def summary(data):
    return plane.summarize(HalvingAE(), data, n_starts=300, seed=1)


def test_density_percentile_counts_lower_reference_points():
    pct = plane.density_percentile(
        torch.tensor([2.5, 0.0, 9.0]), torch.tensor([1.0, 2.0, 3.0, 4.0])
    )
    assert pct.tolist() == [0.5, 0.0, 1.0]


def test_stable_balance():
    assert plane.stable_balance(torch.tensor([3, 1]), torch.tensor([True, False])) == 0.5
    assert plane.stable_balance(torch.tensor([0.7, 0.3]), torch.tensor([True, True])) == 1.0
    assert math.isnan(plane.stable_balance(torch.zeros(2), torch.tensor([True, False])))


def test_summarize_finds_the_two_attractors(summary, data):
    assert summary.converged == 1.0
    assert len(summary.centers) == 2 and bool(summary.major.all())
    found = summary.attractors[summary.attractors[:, 0].argsort()]
    assert torch.allclose(found, PROTOTYPES, atol=2e-3)
    assert torch.allclose(summary.radius, torch.full((2,), 0.5), atol=1e-5)
    assert torch.allclose(summary.sigma, torch.full((2,), 0.5), atol=1e-4)
    assert torch.allclose(summary.jac_on_data, torch.full((len(data),), 0.5), atol=1e-5)
    assert int(summary.counts.sum()) == 300
    assert summary.row()["attractors (basin > 1%)"] == 2


def test_toy_effects_known_answers(summary):
    density = GaussianMixture2D(PROTOTYPES, std=0.3).log_prob
    e = plane.toy_effects(
        summary,
        untrained=summary,
        no_noise=summary,
        no_decay=summary,
        strong_decay=summary,
        log_density=density,
    )
    assert e["density"] == pytest.approx(0.5, abs=0.01)  # attractors decode to the modes
    assert e["stable"] == 1.0
    assert e["contraction"] == pytest.approx(0.5, abs=1e-4)
    assert e["initialization"] == pytest.approx(0.5, abs=1e-5)
    assert e["noise"] == 0.0
    assert e["weight decay"] == 0.0


def test_attractor_density_dense_and_sparse_blobs():
    gen = torch.Generator().manual_seed(0)
    dense = 0.3 * torch.randn(360, 2, generator=gen)
    sparse = torch.tensor([6.0, 0.0]) + 0.3 * torch.randn(40, 2, generator=gen)
    codes = torch.cat([dense, sparse])
    at = torch.tensor([[0.0, 0.0], [6.0, 0.0]])
    d = plane.attractor_density(codes, at, starts=torch.tensor([[0.0, 30.0]]))
    assert d.percentile[0] > 0.95 and d.percentile[1] < 0.15
    assert d.effect == pytest.approx(float(d.percentile.mean()) - 0.5)
    assert (d.to_data < 1).all() and (d.to_peak < 1).all()
    assert d.top < 1  # an attractor sits on the densest peak
    assert d.starts_to_data > 10
    empty = plane.attractor_density(codes, torch.zeros(0, 2))
    assert math.isnan(empty.effect) and math.isinf(empty.top)


def test_correlations_per_group_and_pooled():
    x = np.arange(10.0)
    est = np.concatenate([x, x])
    meas = np.concatenate([2 * x + 1, np.full(10, 3.0)])  # group 1: constant measure
    groups = np.repeat([0, 1], 10)
    table = plane.correlations(est, meas, groups)
    assert list(table.index) == [0, 1, "pooled"]
    assert table.loc[0, "pearson"] == pytest.approx(1.0)
    assert table.loc[0, "spearman"] == pytest.approx(1.0)
    assert math.isnan(table.loc[1, "pearson"]) and table.loc[1, "n"] == 10
    assert table.loc["pooled", "n"] == 20
    with_nan = plane.correlations(np.array([1.0, np.nan, 3.0, 4.0]), np.arange(4.0), np.zeros(4))
    assert with_nan.loc["pooled", "n"] == 3


def test_window_and_unit_starts():
    codes = torch.tensor([[1.0, -9.5], [2.0, 3.0]])
    assert plane.window(codes, quantile=1.0) == 12.0  # 9.5 rounded up to a multiple of 4
    assert plane.window(torch.zeros(3, 2)) == 8.0  # never smaller than the paper's square
    unit = plane.unit_starts(500)
    assert unit.shape == (500, 2) and unit.abs().max() <= 1 and unit.min() < -0.9
    assert torch.equal(unit, plane.unit_starts(500))  # the same draw for every model
    pick = plane.shown(100, 30)
    assert len(pick) == 30 and len(set(pick.tolist())) == 30 and pick.max() < 100
    assert torch.equal(plane.shown(100, 500), torch.randperm(
        100, generator=torch.Generator().manual_seed(0)))  # fmt: skip


def test_survey_of_the_halving_autoencoder(data):
    """Two attractors at the prototypes with J_f = I / 2, each owning its half of the window;
    from the training codes the error halves every step, so the measured steps to come within
    ε exceed the linear-rate estimate log2(e0 / ε) by less than one, and starting the count in
    the ball changes nothing: no gain."""
    s = plane.survey(HalvingAE(), data, plane.unit_starts(300), starts=200)
    assert s.lim == 8.0 and s.z_uniform.abs().max() <= 8.0
    assert s.converged_u == 1.0 and s.converged_d == 1.0
    order = torch.argsort(s.centers[:, 0])
    torch.testing.assert_close(s.centers[order], PROTOTYPES, atol=1e-6, rtol=0)
    torch.testing.assert_close(s.radius, torch.full((2,), 0.5), atol=1e-6, rtol=0)
    torch.testing.assert_close(s.sigma, torch.full((2,), 0.5), atol=1e-6, rtol=0)
    assert s.stable.all() and s.major.all() and s.n_cos == 2
    right = (s.z_uniform[:, 0] > 0).float().mean()
    assert float(s.share_u[order[1]]) == pytest.approx(float(right))
    assert float(s.share_u.sum()) == 1.0 and float(s.share_d.sum()) == 1.0
    assert len(s.attractors) == 2

    steps = plane.convergence_steps(s, eps=1e-3, r_lin=0.5)
    assert len(steps["measured"]) == 200
    gap = steps["measured"] - steps["norm"]
    assert bool(((gap > 0) & (gap <= 1 + 1e-9)).all())
    torch.testing.assert_close(steps["sigma"], torch.full((200,), 0.5, dtype=steps["sigma"].dtype))

    density = plane.attractor_density(data, s.attractors, starts=s.z_uniform)
    eff = plane.mnist_effects(s, density, steps)
    assert eff["several"] == 1 and eff["stable"] == 1.0 and eff["converged"] == 1.0
    assert eff["density"] > 0.4  # the prototypes are the densest points of their blobs
    # the steps are whole numbers, the estimates are not: correlations just below 1 ...
    assert eff["pearson"] > 0.9 and eff["spearman"] > 0.9
    # ... and the same from the ball (exact there too), so no gain beyond that rounding
    gap_in = steps["measured"] - steps["transit"] - steps["linear"]
    assert bool(((gap_in > 0) & (gap_in <= 1 + 1e-9)).all())
    assert abs(eff["pearson gain"]) < 0.1 and abs(eff["spearman gain"]) < 0.15
