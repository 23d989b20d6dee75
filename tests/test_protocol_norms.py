"""lvf.protocols.norms: norms along iterations and chunked trajectory scores, on linear maps."""

from __future__ import annotations

import math

import pytest
import torch

from lvf.iterate import iterate
from lvf.measures.ood import trajectory_score, trajectory_scores
from lvf.protocols.norms import (
    EFFECTS,
    MAX_FALL,
    embedding_norm,
    trace_effects,
    trace_table,
    track_norms,
)


def test_embedding_norm_conventions():
    assert torch.allclose(embedding_norm(torch.tensor([[3.0, 4.0]])), torch.tensor([5.0]))
    tokens = torch.zeros(1, 2, 2)
    tokens[0, 0] = torch.tensor([3.0, 4.0])  # one token of norm 5, one of norm 0
    assert torch.allclose(embedding_norm(tokens), torch.tensor([2.5]))
    fmap = torch.zeros(1, 2, 1, 2)
    fmap[0, :, 0, 1] = torch.tensor([6.0, 8.0])  # channel vector at one position
    assert torch.allclose(embedding_norm(fmap), torch.tensor([5.0]))
    with pytest.raises(ValueError):
        embedding_norm(torch.zeros(3))


def test_track_norms_of_a_linear_contraction():
    a = 0.5
    z0 = torch.tensor([[3.0, 4.0], [0.0, 1.0]], dtype=torch.float64)
    tr = track_norms(lambda z: a * z, z0, 6, decode=lambda z: 2 * z, batch_size=1)
    t = torch.arange(7, dtype=torch.float64)
    norms = z0.norm(dim=1, keepdim=True)
    assert torch.allclose(tr.embedding, norms * a**t)
    assert torch.allclose(tr.latent_residual, norms * (1 - a) * a ** t[:-1])
    rms = 2 * (1 - a) * a ** t[:-1] * z0.square().mean(dim=1, keepdim=True).sqrt()
    assert torch.allclose(tr.output_residual, rms)
    assert track_norms(lambda z: z, z0, 2).output_residual is None
    summ = tr.summary()
    assert summ["late_growth"] == pytest.approx(a**3)  # 6 steps: end over step 3
    assert tr.contractive()
    growing = track_norms(lambda z: z + 1.0, z0, 10)  # linear growth, constant residual
    assert not growing.contractive()
    assert growing.summary()["late_growth"] > 1.5


def test_effects_of_a_contraction_and_of_linear_growth():
    a = 0.5
    z0 = torch.tensor([[3.0, 4.0], [0.0, 1.0]], dtype=torch.float64)
    tr = track_norms(lambda z: a * z, z0, 6, decode=lambda z: 2 * z)
    eff = tr.effects()
    assert set(eff) == set(EFFECTS)
    # residuals fall by a^5 from the first step to the sixth: 5 · log10(2) decades
    assert eff["latent residual falls"] == pytest.approx(5 * math.log10(2))
    assert eff["output residual falls"] == pytest.approx(5 * math.log10(2))
    assert eff["norm bounded"] == pytest.approx(1 + 3)  # norm halves thrice: 1 - log2(a^3)
    # z + c from z0 = 0: the norm grows linearly (effect 0), the residual does not fall
    c = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    lin = track_norms(lambda z: z + c, torch.zeros(1, 2, dtype=torch.float64), 10).effects()
    assert lin == {"latent residual falls": 0.0, "norm bounded": pytest.approx(0.0)}
    # a fixed point reached exactly: the fall is counted up to round-off, MAX_FALL decades
    fixed = track_norms(lambda z: torch.zeros_like(z), z0, 4).effects()
    assert fixed["latent residual falls"] == pytest.approx(MAX_FALL)
    # nothing to fall from: a start that is already a fixed point
    still = track_norms(lambda z: z, z0, 3).effects()
    assert math.isnan(still["latent residual falls"])


def test_trace_effects_gathers_seeds_by_variant():
    z0 = torch.ones(3, 2, dtype=torch.float64)
    maps = {"half": lambda z: 0.5 * z, "third": lambda z: z / 3}
    traces = {s: {k: track_norms(f, z0, 4) for k, f in maps.items()} for s in (0, 1)}
    out = trace_effects(traces)
    assert list(out) == ["half", "third"]
    assert out["half"]["latent residual falls"] == pytest.approx([3 * math.log10(2)] * 2)
    assert out["third"]["norm bounded"] == pytest.approx([1 + 2 * math.log2(3)] * 2)
    with pytest.raises(ValueError):
        trace_effects({0: traces[0], 1: {"half": traces[1]["half"]}})
    table = trace_table(traces)
    assert len(table) == 4 and list(table.seed) == [0, 0, 1, 1]
    half = table[table.variant == "half"]
    assert half["late_growth"].tolist() == pytest.approx([0.25, 0.25])  # 4 steps: a^2
    assert half["norm bounded"].tolist() == pytest.approx([3.0, 3.0])


def test_trajectory_scores_equal_the_recorded_score():
    g = torch.Generator().manual_seed(0)
    z0 = torch.randn(7, 3, generator=g, dtype=torch.float64)
    att = torch.randn(4, 3, generator=g, dtype=torch.float64)
    f = lambda z: 0.7 * z + 0.3 * att[0]  # noqa: E731 - converges to att[0]
    scores, steps = trajectory_scores(f, z0, att, tol=1e-10, max_steps=200, chunk=3)
    res = iterate(f, z0, tol=1e-10, max_steps=200, record="trajectory")
    assert torch.allclose(scores, trajectory_score(res.trajectory, att))
    assert torch.equal(steps, res.steps)
