"""lvf.fixed_point: accelerated end points that agree with plain iteration, and never a saddle
or a repeller reported as an attractor."""

from __future__ import annotations

import math

import pytest
import torch

import lvf
from lvf.fixed_point import end_points, spectral_radius


def saddle_map(z):
    """x -> x + 0.1 (x - x³), y -> y / 2: attractors (±1, 0), a saddle at (0, 0) with
    eigenvalues 1.1 and 0.5 (the y axis is its stable manifold)."""
    x, y = z[:, 0], z[:, 1]
    return torch.stack([x + 0.1 * (x - x**3), 0.5 * y], dim=1)


def test_spectral_radius_of_linear_maps_including_rotations():
    a = torch.tensor([[0.6, -0.3], [0.3, 0.6]])  # a rotation-scaling: |λ| = sqrt(0.45)
    z = torch.randn(3, 2)
    rho = spectral_radius(lambda v: v @ a.T, z, n_iter=60)
    assert torch.allclose(rho, torch.full((3,), math.sqrt(0.45), dtype=torch.float64), rtol=1e-3)
    d = torch.diag(torch.tensor([0.2, -1.5, 0.9]))
    rho = spectral_radius(lambda v: v @ d.T, torch.randn(2, 3), n_iter=60)
    assert torch.allclose(rho, torch.full((2,), 1.5, dtype=torch.float64), rtol=1e-3)


def test_saddles_and_repellers_are_never_attractors():
    g = torch.Generator().manual_seed(0)
    z0 = torch.cat(
        [
            1e-3 * torch.randn(20, 2, generator=g),  # next to the saddle: Anderson finds it
            torch.tensor([[0.0, 0.7], [0.0, -2.0]]),  # on the saddle's stable manifold
            3.6 * torch.rand(20, 2, generator=g) - 1.8,  # inside the basins of (±1, 0)
        ]
    )
    ep = end_points(saddle_map, z0, tol=1e-10)
    ends = ep.final[ep.attractor]
    assert len(ends) == 40 and torch.allclose(ends[:, 0].abs(), torch.ones(40), atol=1e-3)
    # the two starts on the stable manifold converge, under plain iteration, to the saddle:
    # converged, but not stable, so not attractors
    assert ep.converged[20:22].all() and not ep.stable[20:22].any()
    assert torch.allclose(
        ep.radius[20:22], torch.tensor([1.1, 1.1], dtype=torch.float64), rtol=1e-3
    )
    # every accelerated end point passed the test; saddles found by Anderson were redone
    assert (ep.radius[ep.accelerated] < 1).all()

    rep = end_points(lambda z: 2.0 * z, torch.randn(5, 3, generator=g))  # a pure repeller
    assert not rep.attractor.any() and not rep.accelerated.any() and rep.diverged.all()


def test_same_attractors_as_plain_iteration_in_far_fewer_evaluations():
    g = torch.Generator().manual_seed(1)
    c = torch.randn(16, generator=g)
    a = torch.diag(torch.linspace(0.5, 0.995, 16))
    q, _ = torch.linalg.qr(torch.randn(16, 16, generator=g))
    j = q @ a @ q.T  # a non-diagonal contraction with spectral radius 0.995

    def f(z):
        return (z - c) @ j.T + c

    z0 = c + torch.randn(200, 16, generator=g)
    ep = end_points(f, z0, tol=1e-12, max_steps=20_000)
    plain = lvf.iterate(f, z0, tol=1e-12, max_steps=20_000)
    assert ep.attractor.all() and ep.accelerated.float().mean() >= 0.95 and plain.converged.all()
    assert torch.allclose(ep.final, c.expand(200, 16), atol=1e-3)
    assert torch.allclose(plain.final, c.expand(200, 16), atol=2e-3)
    assert ep.evaluations.float().mean() < plain.steps.float().mean() / 10


def test_batches_latent_shapes_and_bad_input():
    calls = []

    def f(z):  # a (N, 2, 3) latent, contracting to 1
        calls.append(z.shape[0])
        return 0.5 * z + 0.5

    ep = end_points(f, torch.zeros(11, 2, 3), batch_size=4, tol=1e-12)
    assert ep.final.shape == (11, 2, 3) and ep.attractor.all()
    assert torch.allclose(ep.final, torch.ones(11, 2, 3), atol=1e-5)
    assert max(calls) <= 4
    with pytest.raises(ValueError, match="non-empty batch"):
        end_points(f, torch.zeros(0, 2))
    with pytest.raises(ValueError, match="tol > 0"):
        end_points(f, torch.zeros(3, 2), tol=0.0)
