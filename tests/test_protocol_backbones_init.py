"""lvf.protocols.backbones: the untrained Table-4 autoencoder and the per-seed effects of
chapter 3 (Fig. 6, Fig. 3a/3c at epoch 0)."""

import math

import pytest
import torch

from lvf.protocols.backbones import (
    GAIN_QUANTITIES,
    attractors_at_init,
    backbone_effects,
    contraction_margin,
    conv_ae_gains,
    init_effects,
    untrained_conv_ae,
)


def test_contraction_margin_is_decades_of_the_worst_ratio():
    assert contraction_margin([0.01, 0.1]) == pytest.approx(1.0)
    assert contraction_margin([1e-3]) == pytest.approx(3.0)
    assert contraction_margin([0.5, 2.0]) == pytest.approx(-math.log10(2.0))
    assert contraction_margin([0.0, 0.0]) == math.inf


def test_backbone_effects_take_the_least_contractive_network_per_seed_and_mode():
    rows = [
        dict(seed=0, mode="eval", ratio=1e-3),
        dict(seed=0, mode="eval", ratio=1e-1),
        dict(seed=0, mode="batch", ratio=10.0),
        dict(seed=1, mode="eval", ratio=0.0),  # a zero head (ViT) does not matter
        dict(seed=1, mode="eval", ratio=1e-2),
    ]
    assert backbone_effects(rows, mode="eval") == pytest.approx({0: 1.0, 1: 2.0})
    assert backbone_effects(rows, mode="batch") == pytest.approx({0: -1.0})
    with pytest.raises(ValueError, match="no rows"):
        backbone_effects(rows, mode="train")


def test_untrained_conv_ae_is_seeded_and_leaves_the_callers_rng_alone():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = untrained_conv_ae(2, 0, width=4)
    after = torch.rand(1)
    assert torch.equal(before, after)
    b, c = untrained_conv_ae(2, 0, width=4), untrained_conv_ae(2, 1, width=4)
    wa, wb, wc = (next(m.parameters()) for m in (a, b, c))
    assert torch.equal(wa, wb) and not torch.equal(wa, wc)
    assert not a.training


def test_conv_ae_gains_rows_and_contraction():
    images = torch.rand(8, 1, 32, 32)
    rows = conv_ae_gains([2, 4], [0, 1], images, n=8, n_jacobian=4)
    assert len(rows) == 2 * 2 * len(GAIN_QUANTITIES)
    assert [r["quantity"] for r in rows[:4]] == list(GAIN_QUANTITIES)
    assert all(0 < r["value"] < 1 for r in rows)  # PyTorch's init contracts (chapter 3)


def test_attractors_at_init_one_converged_attractor_near_the_origin():
    rows = attractors_at_init([2], [0, 1], starts=20)
    assert [(r["k"], r["seed"]) for r in rows] == [(2, 0), (2, 1)]
    for r in rows:
        assert r["attractors"] == 1 and r["converged"] == 1.0 and r["largest"] == 1.0
        assert r["rel_norm"] < 0.1 and r["end_spread"] < 1e-4


def test_attractors_at_init_counts_no_unconverged_start():
    rows = attractors_at_init([2], [0], starts=10, max_steps=1)  # nobody converges in 1 step
    assert rows[0]["attractors"] == 0 and rows[0]["converged"] == 0.0
    assert rows[0]["largest"] == 0.0 and math.isnan(rows[0]["rel_norm"])


def test_init_effects_known_answer():
    gains = [
        dict(k=2, seed=0, quantity="a", value=1e-4),
        dict(k=8, seed=0, quantity="a", value=1e-2),
        dict(k=2, seed=1, quantity="a", value=1e-3),
    ]
    atts = [
        dict(k=2, seed=0, largest=1.0, rel_norm=0.01),
        dict(k=8, seed=0, largest=0.8, rel_norm=0.001),
        dict(k=2, seed=1, largest=1.0, rel_norm=float("nan")),  # no attractor
    ]
    eff = init_effects(gains, atts)
    assert eff.contraction.tolist() == pytest.approx([2.0, 3.0])
    assert eff.largest.tolist() == [0.8, 1.0]
    assert eff.near_origin[0] == pytest.approx(2.0) and eff.near_origin[1] == -math.inf
