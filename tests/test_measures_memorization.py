import math

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from lvf.measures.memorization import chamfer_similarity, max_cosine, memorization, rank_explaining
from lvf.measures.ood import auroc, fpr_at_tpr, knn_score, mahalanobis_score, trajectory_score


def test_memorization_is_the_max_cosine_to_the_training_set():
    train = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]).reshape(3, 1, 1, 3)
    decoded = torch.tensor([[2.0, 0.0, 0.0], [1.0, 1.0, 0.0], [-1.0, 0.0, 0.0]]).reshape(3, 1, 1, 3)
    mem = memorization(decoded, train, block_size=2)
    torch.testing.assert_close(mem, torch.tensor([1.0, 1 / math.sqrt(2), 0.0]))
    assert max_cosine(decoded, train)[1][0] == 0


def test_rank_explaining_counts_singular_vectors():
    # singular values 3, 2, 1: shares 9/14, 13/14, 1
    x = torch.diag(torch.tensor([3.0, 2.0, 1.0]))
    assert rank_explaining(x, 0.5) == 1
    assert rank_explaining(x, 0.9) == 2
    assert rank_explaining(x, 0.95) == 3
    assert rank_explaining(x, 13 / 14) == 2
    ones = torch.ones(5, 4)
    assert rank_explaining(ones, 0.9) == 1 and rank_explaining(ones, 0.9, center=True) == 0


def test_chamfer_similarity():
    a = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    assert chamfer_similarity(a, a) == pytest.approx(1.0)
    b = torch.tensor([[1.0, 0.0]])
    # a->b: mean(1, 0) = 0.5 ; b->a: 1
    assert chamfer_similarity(a, b) == pytest.approx(0.75)


def test_trajectory_score_skips_padding_and_averages_distances():
    att = torch.tensor([[0.0, 0.0], [10.0, 0.0]])
    nan = float("nan")
    traj = torch.tensor(
        [
            [[3.0, 4.0], [0.0, 1.0], [nan, nan]],  # distances 5, 1 -> 3
            [[10.0, 2.0], [10.0, 0.0], [10.0, 0.0]],  # 2, 0, 0 -> 2/3
        ]
    )
    torch.testing.assert_close(
        trajectory_score(traj, att, block_size=1), torch.tensor([3.0, 2 / 3], dtype=torch.float64)
    )


def test_knn_and_mahalanobis_against_hand_computation():
    train = torch.tensor([[0.0], [1.0], [3.0]])
    test = torch.tensor([[0.0], [10.0]])
    np.testing.assert_allclose(knn_score(train, test, k=2), [0.5, 8.0])
    np.testing.assert_allclose(knn_score(train, test, k=3), [4 / 3, 26 / 3])
    with pytest.raises(ValueError, match="k must lie"):
        knn_score(train, test, k=4)
    g = np.random.default_rng(0)
    tr = torch.tensor(g.normal(size=(5000, 2)) * [1.0, 4.0])
    d = mahalanobis_score(tr, torch.tensor([[0.0, 4.0], [1.0, 0.0], [0.0, 0.0]]))
    np.testing.assert_allclose(d, [1.0, 1.0, 0.0], atol=0.06)


@pytest.mark.parametrize("n, p", [(20, 50), (40, 300), (30, 30 * 7)])
def test_mahalanobis_without_the_covariance_matrix_equals_scikit_learn(n, p):
    """More dimensions than training latents (the ViT-MAE's case): the Gram-matrix path gives
    scikit-learn's Ledoit–Wolf distances, with correlated, anisotropic latents."""
    from sklearn.covariance import LedoitWolf

    g = np.random.default_rng(p)
    mix = g.normal(size=(p, p)) / np.sqrt(p) + np.diag(np.linspace(0.2, 3.0, p))
    tr = g.normal(size=(n, p)) @ mix + 5.0
    te = g.normal(size=(7, p)) @ mix * 1.5 + 5.0
    want = np.sqrt(LedoitWolf().fit(tr).mahalanobis(te))
    got = mahalanobis_score(torch.tensor(tr), torch.tensor(te), dual_above=0)
    np.testing.assert_allclose(got, want, rtol=1e-7)
    # the default switches to it only above 4,096 dimensions: same numbers either way
    np.testing.assert_allclose(mahalanobis_score(torch.tensor(tr), torch.tensor(te)), want)


def test_auroc_and_fpr95():
    ids = np.arange(100.0)  # ID scores 0..99
    ood = np.arange(50.0, 150.0)
    assert auroc(ids, ood) == pytest.approx(
        roc_auc_score(np.r_[np.zeros(100), np.ones(100)], np.r_[ids, ood])
    )
    # 95 % of ID lie at or below 94: OOD scores 50..94 (45 of 100) are taken for ID
    assert fpr_at_tpr(ids, ood) == pytest.approx(0.45)
    assert fpr_at_tpr(ids, ids + 1000) == 0.0
    assert auroc(ids, ids + 1000) == 1.0
