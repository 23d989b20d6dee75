"""Known-answer tests of lvf.protocols.dynamics (Sec. 3.4, chapter 8) on hand-made autoencoders
whose attractors are known."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import torch
from torch import nn

from lvf.protocols.dynamics import (
    across_seeds,
    checkpoint_row,
    effects,
    plane_across_seeds,
    trend_effect,
)


class PrototypeAE(nn.Module):
    """Images ``(1, 1, k)``, latents ``(k,)``: ``E`` flattens, ``D(z) = (z + p(z)) / 2`` with
    ``p(z)`` the prototype nearest to ``z``; every prototype is an attractor of ``f = E∘D``,
    reached from its Voronoi cell, and ``D(p) = p``."""

    def __init__(self, prototypes: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("protos", prototypes.reshape(len(prototypes), -1))
        self.k = self.protos.shape[1]

    def encode(self, x):
        return x.reshape(len(x), -1)

    def decode(self, z):
        near = self.protos[torch.cdist(z, self.protos).argmin(dim=1)]
        return ((z + near) / 2).reshape(len(z), 1, 1, z.shape[1])


class RotationAE(nn.Module):
    """``f`` rotates the first two latent coordinates by 90°: no start ever converges."""

    def encode(self, x):
        return x.reshape(len(x), -1)

    def decode(self, z):
        out = z.clone()
        out[:, 0], out[:, 1] = -z[:, 1], z[:, 0]
        return out.reshape(len(z), 1, 1, z.shape[1])


A = torch.tensor([2.0, 1.0, 0.0, 0.0])
B = torch.tensor([-2.0, 1.0, 0.0, 0.0])  # cos(A, B) = -0.6: another attractor


def _images(*rows):
    return torch.stack(rows).reshape(len(rows), 1, 1, -1)


class FakeRun:
    """A training run with a model per epoch (what ``across_seeds`` needs of TrainedModel)."""

    def __init__(self, models):
        self.models = models

    def load_epoch(self, e):
        return self.models[e]


def test_one_attractor_for_every_source():
    model = PrototypeAE(A[None])
    x_train = _images(A, A, A, A + torch.tensor([0.0, 0.0, 1.0, 0.0]))
    x_test = _images(A + 0.5, A - 0.5, A * 2, A / 2)
    row, probe = checkpoint_row(model, x_train, x_test, starts=4)
    for s in ("train", "test", "noise"):
        assert row[f"distinct_{s}"] == 1
        assert row[f"frac_{s}"] == pytest.approx(0.25)
        assert row[f"largest_{s}"] == pytest.approx(1.0)
        assert row[f"converged_{s}"] == pytest.approx(1.0)
    assert row["steps_train"] == 1  # the first three starts sit on the attractor: one step
    assert row["chamfer"] == pytest.approx(1.0, abs=1e-5)
    assert row["rank90"] == 1 and probe.rank90 == 1
    assert probe.trajectory is None  # scored, then dropped: ch08 keeps a probe per checkpoint
    assert row["mem_mean"] == pytest.approx(1.0, abs=1e-5)  # D(A) = A is a training image
    # D(E(x)) - x = (A - x) / 2 for every x: the test error is a quarter of the MSE to A
    assert row["test_mse"] == pytest.approx(float((x_test - A).square().mean()) / 4, rel=1e-5)
    assert row["black_mse"] == pytest.approx(float(x_test.square().mean()))


def test_noise_reaches_an_attractor_training_starts_never_reach():
    model = PrototypeAE(torch.stack([A, B]))
    n = 64
    x_train = _images(*([A] * n))  # every training start sits on A: trajectory score 0
    x_test = _images(*([A + 0.1] * n))
    row, _ = checkpoint_row(model, x_train, x_test, starts=n, noise_seed=3)
    assert (row["distinct_train"], row["distinct_test"], row["distinct_noise"]) == (1, 1, 2)
    noise = torch.randn(n, 4, generator=torch.Generator().manual_seed(3))
    to_a = float((noise[:, 0] > 0).float().mean())  # the Voronoi cell of A
    assert row["largest_noise"] == pytest.approx(max(to_a, 1 - to_a))
    # Chamfer: noise→train: mean(cos(A,A), cos(B,A)) = (1 - 0.6)/2; train→noise: 1
    assert row["chamfer"] == pytest.approx(0.5 * (0.2 + 1.0), abs=1e-4)
    # training trajectories score 0, every noise trajectory more: perfectly apart
    assert row["fpr95"] == 0.0 and row["auroc"] == 1.0


def test_unconverged_starts_are_never_attractors():
    model = RotationAE()
    x = _images(A, B, A + 1, B + 1)
    row, probe = checkpoint_row(model, x, x, starts=4, max_steps=20)
    for s in ("train", "test", "noise"):
        assert row[f"converged_{s}"] == 0.0
        assert row[f"distinct_{s}"] == 0 and row[f"largest_{s}"] == 0.0
        assert row[f"steps_{s}"] == 20
    assert probe.unconverged == 4
    assert math.isnan(row["chamfer"]) and math.isnan(row["fpr95"]) and math.isnan(row["auroc"])


def test_across_seeds_and_plane():
    one, two = PrototypeAE(A[None]), PrototypeAE(torch.stack([A, B]))
    x = _images(A + 0.1, B + 0.1, A - 0.1, B - 0.1)
    runs = [(s, FakeRun({0: one, 1: two}), x) for s in (0, 1)]
    table, probes = across_seeds(runs, x, epochs=(0, 1), starts=4)
    assert list(zip(table.seed, table.epoch, strict=True)) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert table.distinct_train.tolist() == [1, 2, 1, 2]
    assert probes[1, 1].n_distinct == 2
    plane_runs = [
        (s, FakeRun({0: PrototypeAE(A[None, :2]), 1: PrototypeAE(torch.stack([A, B])[:, :2])}), x)
        for s in (0, 1)
    ]
    xy = _images(A[:2] + 0.1, B[:2] + 0.1, A[:2] - 0.1, B[:2] - 0.1)
    plane = plane_across_seeds([(s, r, xy) for s, r, _ in plane_runs], epochs=(0, 1), starts=4)
    assert plane.distinct.tolist() == [1, 2, 1, 2]
    assert plane.largest.tolist() == pytest.approx([1.0, 0.5, 1.0, 0.5])
    eff = effects(table, plane)
    assert eff.plane_init.tolist() == [1.0, 1.0] and eff.plane_splits.tolist() == [1.0, 1.0]
    assert eff.init_train.tolist() == [1.0, 1.0]
    last = table[table.epoch == 1]
    expected = 1 - last.distinct_noise.to_numpy() / last.distinct_train.to_numpy()
    assert eff.noise_behind.tolist() == pytest.approx(expected.tolist())


def test_trend_effect():
    assert trend_effect([1, 2, 3], [1, 2, 4]) == pytest.approx(1.0)
    assert trend_effect([1, 2, 3], [2, 2, 2]) == 0.0  # a count that never grows
    assert trend_effect([1, 2, 3], [1.0, 0.99999994, 1.0000001]) == 0.0  # round-off
    assert math.isnan(trend_effect([1], [2]))
    assert math.isnan(trend_effect([1, 2, 3], [1, math.nan, math.nan]))
    # NaN pairs are dropped
    assert trend_effect([1, 2, 3, 4], [1, math.nan, 2, 3]) == pytest.approx(1.0)


def _table(seed, mem, mse, frac, black=0.1):
    epochs = range(len(mem))
    return pd.DataFrame(
        dict(
            seed=seed,
            epoch=list(epochs),
            mem_mean=mem,
            test_mse=mse,
            black_mse=black,
            frac_train=frac,
            frac_test=frac,
            chamfer=1.0,
            fpr95=[1.0 - e / 10 for e in epochs],
            rank90=[1, 1, 2, 3, 3],
            largest_train=[1.0, 0.5, 0.5, 0.2, 0.2],
            largest_test=1.0,
            largest_noise=1.0,
            distinct_train=[1, 1, 2, 4, 4],
            distinct_noise=[1, 1, 1, 1, 1],
            steps_train=[2, 4, 4, 10, 10],
            steps_noise=[2, 4, 8, 40, 20],
        )
    )


def test_effects_known_answers():
    # epochs 0..4; epochs 1 and 2 sit at the black-image plateau (mse 0.1 = black_mse)
    table = pd.concat(
        [
            _table(0, [0.5, 0.0, 0.0, 0.9, 0.7], [0.3, 0.1, 0.1, 0.05, 0.04], [1, 1, 1, 2, 3]),
            _table(1, [0.5, 0.0, 0.8, 0.9, 1.0], [0.3, 0.1, 0.08, 0.05, 0.04], [1, 1, 1, 1, 1]),
        ]
    )
    eff = effects(table)
    assert eff.mem.tolist() == pytest.approx([-1.0, 1.0])  # over epochs 3, 4 and 2, 3, 4
    assert eff.draw_from.tolist() == [3.0, 2.0]
    assert eff.test_mse.tolist() == pytest.approx([-0.9486833, -1.0])  # ties at the plateau
    assert eff.frac_train.iloc[1] == 0.0  # constant: no growth
    assert eff.chamfer.tolist() == [0.0, 0.0]
    assert eff.fpr95.tolist() == pytest.approx([-1.0, -1.0])
    assert eff.init_train.tolist() == [1.0, 1.0]
    assert eff.noise_behind.tolist() == [0.75, 0.75]
    assert eff.noise_slower.tolist() == pytest.approx([1.0, 1.0])  # log2 of 1, 2, 4, 2
    assert eff.rank90.tolist() == pytest.approx([0.9486833] * 2)
