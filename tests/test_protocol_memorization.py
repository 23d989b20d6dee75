"""Known-answer tests of lvf.protocols.memorization on a hand-made autoencoder whose attractors are
known."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from lvf.protocols.memorization import probe_attractors, reconstruction_mse


class PrototypeAE(nn.Module):
    """Images ``(1, 2, 2)``, latents ``(4,)``: ``E`` flattens, ``D(z) = (z + p(z)) / 2``.

    ``p(z)`` is the prototype nearest to ``z``, so ``f(z) = E(D(z))`` halves the distance to
    it: every prototype is an attractor, reached from its Voronoi cell.
    """

    def __init__(self, prototypes: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("protos", prototypes.reshape(len(prototypes), -1))
        self.scale = nn.Parameter(torch.ones(()))  # gives the module a device

    def encode(self, x):
        return x.reshape(len(x), -1) * self.scale

    def decode(self, z):
        near = self.protos[torch.cdist(z, self.protos).argmin(dim=1)]
        return ((z + near) / 2).reshape(len(z), 1, 2, 2)


P0 = torch.tensor([1.0, 0.0, 0.0, 0.0])
P1 = torch.tensor([0.0, 1.0, 0.0, 0.0])
NOISE = torch.tensor([0.0, 0.0, 0.3, 0.0])


def _data():
    model = PrototypeAE(torch.stack([P0, P1]))
    # three starts near P1, one at P0; P1 itself is not a training image
    train = torch.stack([P0, P1 + NOISE, P1 + 0.5 * NOISE, P1 - NOISE]).reshape(4, 1, 2, 2)
    test = torch.stack([P0 + NOISE, P1]).reshape(2, 1, 2, 2)
    return model, train, test


def test_attractors_memorization_and_rank():
    model, train, test = _data()
    pr = probe_attractors(model, train, test)
    assert pr.n_distinct == 2 and pr.converged.all()
    assert pr.attractors.counts.tolist() == [3, 1]  # largest basin first
    torch.testing.assert_close(pr.attractors.centers, torch.stack([P1, P0]), atol=2e-3, rtol=0)
    torch.testing.assert_close(pr.decoded.reshape(2, 4), torch.stack([P1, P0]), atol=2e-3, rtol=0)
    # D(P1) = P1, closest training image P1 + 0.5·NOISE: cos = 1 / sqrt(1 + 0.15²)
    cos_p1 = 1 / math.sqrt(1 + 0.15**2)
    assert pr.mem_attractors.tolist() == pytest.approx([cos_p1, 1.0], abs=1e-4)
    assert pr.nearest.tolist() == [2, 0]
    assert pr.mem.tolist() == pytest.approx([1.0, cos_p1, cos_p1, cos_p1], abs=1e-4)
    assert pr.mem_mean == pytest.approx((1 + 3 * cos_p1) / 4, abs=1e-4)
    assert pr.rank90 == 2  # two orthogonal unit images: each explains half
    # F(x) = (x + p)/2, so the error is ‖x − p‖² / 4 per image, over 4 pixels
    assert pr.test_mse == pytest.approx((0.09 / 4 + 0.0) / 8)
    assert pr.train_mse == pytest.approx((0 + 0.09 / 4 + 0.0225 / 4 + 0.09 / 4) / 16)
    # from ‖z0 − p‖ = 0.3 the t-th step has length 0.3 / 2^t: it stops at the first t with
    # 0.09 / 4^t < 1e-6, i.e. t = 9 applications
    assert pr.steps[1].item() == 9
    s = pr.summary()
    assert s["distinct"] == 2 and s["starts"] == 4 and s["converged"] == 1.0


def test_starts_max_steps_and_repr():
    model, train, test = _data()
    pr = probe_attractors(model, train, test, starts=2, max_steps=3)
    assert pr.final.shape == (2, 4) and pr.steps.tolist() == [1, 3]
    assert pr.converged.tolist() == [True, False] and pr.converged_fraction == 0.5
    # the start still in transit is no attractor: one attractor (P0), label -1 for the other
    assert pr.n_distinct == 1 and pr.attractors.labels.tolist() == [0, -1]
    assert pr.unconverged == 1 and pr.mem.tolist() == pytest.approx([1.0])
    assert pr.summary()["unconverged"] == 1
    assert "distinct=1" in repr(pr) and pr.settings["max_steps"] == 3
    with pytest.raises(ValueError, match="starts"):
        probe_attractors(model, train, test, starts=5)


def test_no_start_converges():
    model, train, test = _data()
    pr = probe_attractors(model, train[1:], test, max_steps=2)
    assert pr.converged_fraction == 0.0 and pr.n_distinct == 0 and pr.rank90 == 0
    assert math.isnan(pr.mem_mean) and "distinct=0" in repr(pr)


def test_reconstruction_mse_batches():
    model, train, _ = _data()
    assert reconstruction_mse(model, train, batch_size=1) == pytest.approx(
        reconstruction_mse(model, train)
    )
