import pytest
import torch

from lvf import find_attractors


def brute_force_leaders(x: torch.Tensor, close) -> tuple[list[int], torch.Tensor]:
    """Sequential leader clustering with the full N×N relation: the reference."""
    sim_ok = close(x)  # (N, N) bool
    leaders: list[int] = []
    for i in range(x.shape[0]):
        if not any(sim_ok[i, j] for j in leaders):
            leaders.append(i)
    return leaders, sim_ok


def cos_matrix(x):
    u = x / x.norm(dim=1, keepdim=True)
    return u @ u.T


def test_hand_built_case():
    points = torch.tensor(
        [
            [1.0, 0.0, 0.0],
            [0.0, 2.0, 0.0],
            [3.0, 0.01, 0.0],  # same direction as point 0
            [0.0, 0.0, -1.0],
            [0.0, 5.0, 0.02],  # same direction as point 1
            [2.0, 0.0, 0.0],
        ]
    )
    att = find_attractors(points, cos_threshold=0.99)
    assert len(att) == 3
    torch.testing.assert_close(att.centers, points[[0, 1, 3]])
    assert att.labels.tolist() == [0, 1, 0, 2, 1, 0]
    assert att.counts.tolist() == [3, 2, 1]


def test_euclidean_rule_separates_what_the_cosine_merges():
    points = torch.tensor([[1.0, 0.0], [4.0, 0.0], [1.05, 0.0], [4.0, 0.01]])
    assert len(find_attractors(points)) == 1  # all on one ray
    att = find_attractors(points, eps=0.1)
    assert att.labels.tolist() == [0, 1, 0, 1]


def test_zero_vectors_form_one_attractor_at_the_origin():
    points = torch.tensor([[0.0, 0.0], [1.0, 1.0], [0.0, 0.0], [1e-12, 0.0]])
    att = find_attractors(points)
    assert att.labels.tolist() == [0, 1, 0, 0]
    assert att.counts.tolist() == [3, 1]


@pytest.mark.parametrize("block_size", [1, 7, 64, 4096])
def test_matches_brute_force_cosine(block_size):
    g = torch.Generator().manual_seed(0)
    dirs = torch.randn(12, 5, generator=g)
    points = dirs[torch.randint(0, 12, (400,), generator=g)]
    points = points * (1 + torch.rand(400, 1, generator=g))
    points = points + 0.08 * torch.randn(400, 5, generator=g)
    att = find_attractors(points, cos_threshold=0.99, block_size=block_size)
    leaders, _ = brute_force_leaders(points, lambda x: cos_matrix(x) > 0.99)
    torch.testing.assert_close(att.centers, points[leaders])
    expected = cos_matrix(points)[:, leaders].argmax(dim=1)
    assert torch.equal(att.labels, expected)
    assert att.counts.sum() == 400


@pytest.mark.parametrize("block_size", [3, 50])
def test_matches_brute_force_euclidean(block_size):
    g = torch.Generator().manual_seed(1)
    points = torch.rand(300, 2, generator=g) * 4
    att = find_attractors(points, eps=0.5, block_size=block_size)
    leaders, _ = brute_force_leaders(points, lambda x: torch.cdist(x, x) < 0.5)
    torch.testing.assert_close(att.centers, points[leaders])
    expected = torch.cdist(points, points[leaders]).argmin(dim=1)
    assert torch.equal(att.labels, expected)
    # every point lies within eps of the attractor it is given
    assert (torch.cdist(points, att.centers).gather(1, att.labels[:, None]) < 0.5).all()


def test_deterministic_and_shape_preserving():
    g = torch.Generator().manual_seed(2)
    points = torch.randn(1000, 4, 3, generator=g)
    a, b = find_attractors(points, cos_threshold=0.5), find_attractors(points, cos_threshold=0.5)
    assert torch.equal(a.labels, b.labels) and torch.equal(a.centers, b.centers)
    assert a.centers.shape[1:] == (4, 3)


def test_bad_inputs():
    with pytest.raises(ValueError, match="non-empty batch"):
        find_attractors(torch.zeros(0, 3))
    with pytest.raises(ValueError, match="NaN or inf"):
        find_attractors(torch.tensor([[1.0, float("nan")]]))
    with pytest.raises(ValueError, match="cos_threshold"):
        find_attractors(torch.ones(2, 2), cos_threshold=1.5)
    with pytest.raises(ValueError, match="eps"):
        find_attractors(torch.ones(2, 2), eps=-1)
