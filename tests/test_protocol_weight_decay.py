"""lvf.protocols.weight_decay: the App. C measurements of chapter 5 and their per-seed
effects."""

import math

import pandas as pd
import pytest
import torch

from lvf.models import ConvAE
from lvf.protocols.weight_decay import (
    bound_holds,
    checkpoint_measures,
    sweep,
    useful_contraction,
)


def _ae(seed=0, scale=1.0):
    torch.manual_seed(seed)
    model = ConvAE(in_channels=1, k=2, width=4).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("weight"):
                p.mul_(scale)
    return model


class _Run:
    """Stands for a TrainedModel: one model per epoch."""

    def __init__(self, models):
        self.models = models

    def load_epoch(self, epoch):
        return self.models[epoch]


def test_checkpoint_measures_on_an_untrained_autoencoder():
    x = torch.rand(6, 1, 32, 32)
    m = checkpoint_measures(_ae(), x, x[:4])
    assert m["bound"] >= m["jac_max"] > 0  # the theorem
    assert m["bound"] == pytest.approx(m["prod_W"] / 4)  # one sigmoid, ReLUs 1
    assert m["attractors"] == 1 and m["converged"] == 1.0  # contraction at init (chapter 3)
    assert m["rho_star"] < 1 and m["jac_star"] < 1 and m["weights2"] > 0
    assert 0 < m["test_mse"] < 1


def test_checkpoint_measures_without_converged_starts_has_no_attractor():
    x = torch.rand(4, 1, 32, 32)
    m = checkpoint_measures(_ae(), x, x, tol=1e-30, max_steps=1)  # nobody converges
    assert m["attractors"] == 0 and m["converged"] == 0.0
    assert math.isnan(m["jac_star"]) and math.isnan(m["rho_star"])


def test_sweep_rows_and_loose_by():
    x = {0: torch.rand(4, 1, 32, 32), 1: torch.rand(4, 1, 32, 32)}
    runs = [(s, wd, _Run({0: _ae(s), 2: _ae(s, 0.5)})) for s in (0, 1) for wd in (0.0, 1e-3)]
    table = sweep(runs, x, x[0], epochs=(0, 2))
    assert len(table) == 8
    assert table[["seed", "weight_decay", "epoch"]].iloc[1].tolist() == [0, 0.0, 2]
    assert (table.loose_by >= 1).all()
    shrunk = table[table.epoch == 2]
    assert (shrunk.prod_W.values < table[table.epoch == 0].prod_W.values).all()


def test_bound_holds_share_per_seed():
    table = pd.DataFrame(
        dict(
            seed=[0, 0, 1, 1],
            bound=[2.0, 1.0, 1.0, 0.5],
            jac_max=[1.0, 1.00005, 1.0, 1.0],  # within rtol=1e-4 still holds
        )
    )
    assert bound_holds(table).tolist() == [1.0, 0.5]


def test_useful_contraction_needs_bound_below_one_and_a_reconstruction():
    table = pd.DataFrame(
        dict(
            seed=[0, 0, 0, 1, 1, 2],
            epoch=[1, 2, 2, 2, 2, 2],
            prod_W=[0.1, 0.5, 10.0, 0.5, 10.0, 10.0],
            test_mse=[0.01, 0.01, 0.01, 0.2, 0.01, 0.01],
        )
    )
    # seed 0: below one and good at the last epoch; seed 1: below one but useless; seed 2: no
    assert useful_contraction(table, mean_image_mse=0.1).tolist() == [1.0, 0.0, 0.0]
