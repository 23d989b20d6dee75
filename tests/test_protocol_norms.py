"""lvf.protocols.norms: norms along iterations and chunked trajectory scores, on linear maps."""

from __future__ import annotations

import pytest
import torch

from lvf.iterate import iterate
from lvf.measures.ood import trajectory_score, trajectory_scores
from lvf.protocols.norms import embedding_norm, track_norms


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


def test_trajectory_scores_equal_the_recorded_score():
    g = torch.Generator().manual_seed(0)
    z0 = torch.randn(7, 3, generator=g, dtype=torch.float64)
    att = torch.randn(4, 3, generator=g, dtype=torch.float64)
    f = lambda z: 0.7 * z + 0.3 * att[0]  # noqa: E731 - converges to att[0]
    scores, steps = trajectory_scores(f, z0, att, tol=1e-10, max_steps=200, chunk=3)
    res = iterate(f, z0, tol=1e-10, max_steps=200, record="trajectory")
    assert torch.allclose(scores, trajectory_score(res.trajectory, att))
    assert torch.equal(steps, res.steps)
