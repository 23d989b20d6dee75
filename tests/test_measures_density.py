import math

import numpy as np
import pytest
import torch

from lvf.measures.density import GaussianKDE, nearest_distance, select_bandwidth


def _two_clusters(n=200, seed=0):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(n, 2, generator=g, dtype=torch.float64) * 0.1 + torch.tensor([-2.0, 0.0])
    b = torch.randn(n, 2, generator=g, dtype=torch.float64) * 0.1 + torch.tensor([2.0, 1.0])
    return torch.cat([a, b])


def test_log_prob_matches_scikit_learn():
    from sklearn.neighbors import KernelDensity

    pts = _two_clusters()
    kde = GaussianKDE(pts, bandwidth=0.3, block_size=7)
    q = torch.randn(50, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    ref = KernelDensity(bandwidth=0.3).fit(pts.numpy()).score_samples(q.numpy())
    np.testing.assert_allclose(kde.log_prob(q).numpy(), ref, rtol=1e-10, atol=1e-10)


def test_single_point_kde_is_a_gaussian():
    kde = GaussianKDE(torch.zeros(1, 2, dtype=torch.float64), bandwidth=2.0)
    z = torch.tensor([[1.0, -3.0]], dtype=torch.float64)
    expected = -10.0 / 8.0 - math.log(2 * math.pi * 4.0)
    assert kde.log_prob(z).item() == pytest.approx(expected)
    torch.testing.assert_close(kde.score(z), -z / 4.0)


def test_score_is_the_gradient_of_log_prob():
    pts = _two_clusters()
    kde = GaussianKDE(pts, bandwidth=0.5)
    z = torch.randn(30, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    zz = z.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(kde.log_prob(zz).sum(), zz)
    torch.testing.assert_close(kde.score(z), grad)


def test_modes_of_two_clusters_are_their_centres_and_zero_score():
    pts = _two_clusters()
    kde = GaussianKDE(pts, bandwidth=0.2)
    modes, counts = kde.modes()
    assert len(modes) == 2 and int(counts.sum()) == len(pts)
    means = torch.stack([pts[:200].mean(0), pts[200:].mean(0)])
    assert nearest_distance(modes, means).max() < 0.05
    assert kde.score(modes).norm(dim=1).max() < 1e-5


def test_select_bandwidth_picks_a_small_one_for_tight_clusters():
    pts = _two_clusters()
    h = select_bandwidth(pts)
    assert 0.01 < h < 0.5
    h2 = select_bandwidth(pts, bandwidths=[0.05, 0.1, 5.0])
    assert h2 in (0.05, 0.1)


def test_nearest_distance_known_answer():
    a = torch.tensor([[0.0, 0.0], [3.0, 4.0]])
    b = torch.tensor([[0.0, 1.0], [3.0, 0.0]])
    torch.testing.assert_close(nearest_distance(a, b), torch.tensor([1.0, 4.0]))
    assert torch.isinf(nearest_distance(a, b[:0])).all()


def test_bad_inputs():
    with pytest.raises(ValueError):
        GaussianKDE(torch.zeros(3), bandwidth=1.0)
    with pytest.raises(ValueError):
        GaussianKDE(torch.zeros(3, 2), bandwidth=0.0)
    with pytest.raises(ValueError):
        GaussianKDE(torch.zeros(3, 2), bandwidth=1.0).log_prob(torch.zeros(2, 3))
