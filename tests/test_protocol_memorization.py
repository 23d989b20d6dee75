"""Known-answer tests of lvf.protocols.memorization on a hand-made autoencoder whose attractors are
known."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from lvf.protocols.memorization import (
    end_point_memorization,
    over_seeds,
    probe_attractors,
    reconstruction_mse,
    spearman_by_seed,
    sweep,
    trend_text,
)


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


def test_probe_keeps_the_trajectories_it_was_asked_for():
    """With ``record="trajectory"`` the probe's own iteration keeps its iterates (ch08 scores
    them instead of iterating the same starts twice): on the prototype map the distance to the
    attractor halves at every step, and the probe's numbers are those of a probe without it."""
    model, train, test = _data()
    plain = probe_attractors(model, train, test)
    assert plain.trajectory is None
    pr = probe_attractors(model, train, test, record="trajectory")
    assert torch.equal(pr.final, plain.final) and torch.equal(pr.steps, plain.steps)
    assert pr.mem_mean == plain.mem_mean and pr.rank90 == plain.rank90
    start = train.reshape(4, -1)[1]  # P1 + NOISE: its offset from P1 halves every step
    path = pr.trajectory[1, : int(pr.steps[1]) + 1]
    offset = (path - P1).norm(dim=1)
    assert offset[0] == pytest.approx(float((start - P1).norm()))
    assert torch.allclose(offset[1:] / offset[:-1], torch.full((len(offset) - 1,), 0.5))
    with pytest.raises(ValueError, match="record="):
        probe_attractors(model, train, test, record="norms")


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


# ---------------------------------------------------------------------------------------------
# end points against other images; sweeps over settings and seeds; trends per seed
# ---------------------------------------------------------------------------------------------


def test_end_point_memorization_against_training_and_test_images():
    model, train, test = _data()
    pr = probe_attractors(model, train, test)
    torch.testing.assert_close(end_point_memorization(model, pr, train), pr.mem)
    # end points P0, P1, P1, P1 against the test images P0 + NOISE and P1
    expected = [1 / math.sqrt(1 + 0.09), 1.0, 1.0, 1.0]
    assert end_point_memorization(model, pr, test).tolist() == pytest.approx(expected, abs=1e-4)
    none = probe_attractors(model, train[1:], test, max_steps=2)  # nothing converges
    assert end_point_memorization(model, none, test).numel() == 0


class _Trained:
    def __init__(self, model, from_cache):
        self.model, self.from_cache = model, from_cache


def _fake_training(monkeypatch):
    """lvf.train.trained / training_data replaced: the prototype model for every config, and
    the training images of data seed ``s`` are ``_data()``'s rolled by ``s``."""
    import lvf.train

    model, train, _ = _data()
    calls = []

    def trained(config, *, device=None, progress=True):
        calls.append(config)
        return _Trained(model, from_cache=config.seed == 0)

    def training_data(config):
        return train.roll(config.data_seed, dims=0)

    monkeypatch.setattr(lvf.train, "trained", trained)
    monkeypatch.setattr(lvf.train, "training_data", training_data)
    return calls


def test_sweep_trains_every_setting_on_every_seed(monkeypatch):
    from lvf.train import TrainConfig

    calls = _fake_training(monkeypatch)
    _, train, test = _data()
    cfg = TrainConfig(model="conv", dataset="mnist", epochs=3, n_train=4)
    settings = [({"dataset": "mnist", "k": k}, cfg, test) for k in (2, 8)]
    sw = sweep(settings, seeds=[0, 1], starts=2, control=True)
    assert [(c.seed, c.data_seed) for c in calls] == [(0, 0), (1, 1)] * 2
    r = sw.results
    assert list(r.k) == [2, 2, 8, 8] and list(r.seed) == [0, 1, 0, 1]
    assert list(r.cached) == [True, False, True, False] and set(r.n_train) == {4}
    assert set(r.epochs) == {3} and set(r.starts) == {2} and set(r.converged) == {1.0}
    # seed 0 starts at P0 and P1 + NOISE; seed 1 (rolled) at P1 - NOISE and P0
    cos_p1 = 1 / math.sqrt(1 + 0.15**2)
    assert r.mem_mean.tolist() == pytest.approx([(1 + cos_p1) / 2] * 4, abs=1e-4)
    cos_test = 1 / math.sqrt(1.09)  # P0 against P0 + NOISE; P1 is a test image
    assert r.mem_test_mean.tolist() == pytest.approx([(cos_test + 1) / 2] * 4, abs=1e-4)
    assert set(sw.probes) == {("mnist", 2, 0), ("mnist", 2, 1), ("mnist", 8, 0), ("mnist", 8, 1)}
    assert sw.probes["mnist", 8, 1].settings["max_steps"] == 3000
    assert sw.configs["mnist", 2, 1].data_seed == 1
    torch.testing.assert_close(sw.training_images(("mnist", 2, 1)), train.roll(1, dims=0))
    assert set(sw.seconds) == {"training", "attractors"}
    assert "mem_test_mean" not in sweep(settings[:1], seeds=[0], starts=1).results


def _trend_table():
    import pandas as pd

    x = [1, 2, 3, 4]
    rows = [dict(dataset="a", seed=0, x=v, y=-v) for v in x]  # falls: ρ = −1
    rows += [dict(dataset="a", seed=1, x=v, y=[1, 3, 2, 4][i]) for i, v in enumerate(x)]
    rows += [dict(dataset="b", seed=s, x=v, y=5.0 + 1e-9 * v) for s in (0, 1) for v in x]
    rows += [
        dict(dataset="c", seed=0, x=v, y=[1.0, 2.0, math.nan, 3.0][i]) for i, v in enumerate(x)
    ]
    rows += [dict(dataset="c", seed=1, x=1, y=1.0)]  # one row: undefined
    return pd.DataFrame(rows)


def test_spearman_by_seed_and_its_text_match_the_verdicts_trend():
    from lvf.book.verdicts import trend

    table = _trend_table()
    rhos = spearman_by_seed(table, x="x", y="y")
    assert list(rhos.index) == ["a", "b", "c"] and list(rhos.columns) == [0, 1]
    assert rhos.loc["a"].tolist() == pytest.approx([-1.0, 0.8])
    assert rhos.loc["b"].tolist() == [0.0, 0.0]  # constant up to round-off: no trend
    assert rhos.loc["c"].isna().all()  # a missing value; a single row
    assert trend_text(table, x="x", y="y") == (
        "a ρ = −1.00, +0.80; b ρ = +0.00, +0.00; c ρ = n/a, n/a"
    )
    verdict = trend(table, x="x", y="y", direction=+1, by="dataset")
    for group, row in rhos.iterrows():  # the very effects the verdict judges
        assert verdict.parts[group].effects == pytest.approx(tuple(row), nan_ok=True)


def test_over_seeds_mean_and_spread():
    table = _trend_table()
    table["z"] = table.seed * 2.0  # 0 and 2: mean 1, sd sqrt(2)
    out = over_seeds(table, ["dataset", "x"], ["y", "z"])
    assert list(out.columns) == ["dataset", "x", "y", "y_sd", "z", "z_sd", "seeds"]
    assert len(out) == 12 and list(out.seeds) == [2] * 8 + [2, 1, 1, 1]
    first = out.iloc[0]
    assert (first.dataset, first.x, first.y) == ("a", 1, 0.0)  # y = -1 and 1
    assert first.y_sd == pytest.approx(math.sqrt(2)) and first.z == 1.0
