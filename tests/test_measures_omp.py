"""lvf.measures.omp: batched OMP against scikit-learn's orthogonal_mp, and the orthogonal
baseline."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from sklearn.linear_model import orthogonal_mp

from lvf.measures.omp import omp, omp_reconstruct, random_orthogonal_basis

F64 = torch.float64


def _unit_rows(d: torch.Tensor) -> torch.Tensor:
    return d / d.norm(dim=1, keepdim=True)


def _sklearn(dictionary: torch.Tensor, signals: torch.Tensor, k: int) -> np.ndarray:
    """scikit-learn's codes, (n, n_atoms), for unit-norm atoms given as rows."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "ended prematurely"
        coef = orthogonal_mp(dictionary.numpy().T, signals.numpy().T, n_nonzero_coefs=k)
    return np.atleast_2d(coef.T)


def _supports(coef: np.ndarray) -> list[set[int]]:
    return [set(np.flatnonzero(row).tolist()) for row in coef]


@pytest.mark.parametrize(("n_atoms", "dim", "k"), [(120, 40, 10), (64, 64, 20), (200, 30, 30)])
def test_matches_sklearn_on_random_problems(n_atoms, dim, k):
    g = torch.Generator().manual_seed(n_atoms + dim + k)
    d = _unit_rows(torch.randn(n_atoms, dim, generator=g, dtype=F64))
    x = torch.randn(25, dim, generator=g, dtype=F64)
    ours, support = omp(d, x, k, return_support=True)
    ref = _sklearn(d, x, k)
    assert [set(s.tolist()) for s in support] == _supports(ref)  # same supports
    res_ours = x - ours @ d
    res_ref = x.numpy() - ref @ d.numpy()
    assert np.abs(res_ours.numpy() - res_ref).max() < 1e-5  # same residuals
    assert np.abs(ours.numpy() - ref).max() < 1e-8


def test_recovers_exact_sparse_signals():
    g = torch.Generator().manual_seed(1)
    n_atoms, dim, k, n = 256, 128, 8, 40
    d = _unit_rows(torch.randn(n_atoms, dim, generator=g, dtype=F64))
    truth = torch.zeros(n, n_atoms, dtype=F64)
    for i in range(n):
        idx = torch.randperm(n_atoms, generator=g)[:k]
        truth[i, idx] = torch.randn(k, generator=g, dtype=F64).sign() * (
            1 + torch.rand(k, generator=g, dtype=F64)
        )
    x = truth @ d
    ours = omp(d, x, k)
    assert torch.allclose(ours, truth, atol=1e-10)
    assert _supports(ours.numpy()) == _supports(truth.numpy()) == _supports(_sklearn(d, x, k))
    # asking for more atoms than needed stops once the residual is exhausted
    more, support = omp(d, x, 2 * k, return_support=True)
    assert torch.allclose(more, truth, atol=1e-10)
    assert ((support >= 0).sum(dim=1) == k).all()


def test_orthonormal_dictionary_keeps_largest_coordinates():
    q = random_orthogonal_basis(32, generator=torch.Generator().manual_seed(2), dtype=F64)
    x = torch.randn(10, 32, dtype=F64, generator=torch.Generator().manual_seed(3))
    coords = x @ q.T
    coef = omp(q, x, 5)
    top = coords.abs().topk(5, dim=1).indices
    expected = torch.zeros_like(coords).scatter(1, top, coords.gather(1, top))
    assert torch.allclose(coef, expected, atol=1e-12)
    # the full basis reconstructs exactly
    assert torch.allclose(omp_reconstruct(q, x, 32), x, atol=1e-10)


def test_coherent_dictionary_matches_sklearn():
    """Structured problem: clusters of nearly parallel atoms (like attractor dictionaries)."""
    g = torch.Generator().manual_seed(4)
    centers = torch.randn(20, 50, generator=g, dtype=F64)
    d = centers.repeat_interleave(5, 0) + 0.05 * torch.randn(100, 50, generator=g, dtype=F64)
    d = _unit_rows(d)
    x = torch.randn(30, 50, generator=g, dtype=F64)
    ours, support = omp(d, x, 15, return_support=True)
    ref = _sklearn(d, x, 15)
    assert [set(s.tolist()) for s in support] == _supports(ref)
    assert np.abs((x - ours @ d).numpy() - (x.numpy() - ref @ d.numpy())).max() < 1e-5


def test_numerically_dependent_atoms_stop_cleanly():
    """Near-duplicate atoms (as attractor dictionaries have): OMP stops adding atoms once the
    next one is numerically in the span of the chosen ones; errors never grow with K."""
    g = torch.Generator().manual_seed(9)
    base = _unit_rows(torch.randn(10, 20, generator=g, dtype=F64))
    d = torch.cat([base, base + 1e-10 * torch.randn(10, 20, generator=g, dtype=F64), base])
    x = torch.randn(6, 20, generator=g, dtype=F64)
    levels = [3, 10, 20, 30]
    coef, support = omp(d, x, levels, return_support=True)
    assert ((support >= 0).sum(dim=1) <= 10).all()
    err = (x - coef @ d).norm(dim=2)  # (levels, n)
    assert (err[1:] <= err[:-1] + 1e-12).all()
    # with 10 independent directions in 20 dimensions the error at K >= 10 is the distance
    # to their span
    proj = x @ torch.linalg.pinv(base) @ base
    assert torch.allclose(err[-1], (x - proj).norm(dim=1), atol=1e-8)


def test_unnormalised_atoms_give_coefficients_of_the_atoms_as_given():
    g = torch.Generator().manual_seed(5)
    d = _unit_rows(torch.randn(60, 20, generator=g, dtype=F64))
    scale = 0.1 + 3 * torch.rand(60, 1, generator=g, dtype=F64)
    x = torch.randn(8, 20, generator=g, dtype=F64)
    unit = omp(d, x, 6)
    scaled = omp(d * scale, x, 6)
    assert torch.allclose(scaled * scale.T, unit, atol=1e-10)
    assert torch.allclose(scaled @ (d * scale), unit @ d, atol=1e-10)


def test_several_levels_in_one_pass_equal_separate_calls():
    g = torch.Generator().manual_seed(6)
    d = torch.randn(80, 30, generator=g, dtype=F64)
    x = torch.randn(12, 30, generator=g, dtype=F64)
    levels = [3, 10, 1, 25]
    stacked = omp(d, x, levels)
    assert stacked.shape == (4, 12, 80)
    for i, k in enumerate(levels):
        assert torch.allclose(stacked[i], omp(d, x, k), atol=1e-12)
    recon = omp_reconstruct(d, x, levels)
    assert recon.shape == (4, 12, 30)
    err = (recon - x).square().sum(dim=2).mean(dim=1)
    assert err[2] >= err[0] >= err[1] >= err[3]  # errors fall with more atoms (1, 3, 10, 25)


def test_chunking_zero_atoms_zero_signals_and_float32():
    g = torch.Generator().manual_seed(7)
    d = torch.randn(50, 16, generator=g, dtype=F64)
    d[[3, 17]] = 0.0  # unusable atoms are never chosen
    x = torch.randn(9, 16, generator=g, dtype=F64)
    x[4] = 0.0
    full, support = omp(d, x, 7, return_support=True)
    small = omp(d, x, 7, max_memory=1)  # one signal per chunk
    assert torch.allclose(full, small, atol=1e-12)
    assert not torch.isin(support, torch.tensor([3, 17])).any()
    assert (full[4] == 0).all() and (support[4] == -1).all()
    f32 = omp(d.float(), x.float(), 7)
    assert f32.dtype == torch.float32
    assert torch.allclose(f32.double(), full, atol=1e-4)


def test_bad_arguments():
    d, x = torch.randn(5, 3), torch.randn(2, 3)
    with pytest.raises(ValueError, match="n_nonzero"):
        omp(d, x, 6)
    with pytest.raises(ValueError, match="dimensions"):
        omp(d, torch.randn(2, 4), 2)
    with pytest.raises(ValueError, match="n_atoms"):
        omp(d[0], x, 1)


def test_random_orthogonal_basis():
    q = random_orthogonal_basis(64, generator=torch.Generator().manual_seed(0), dtype=F64)
    assert q.shape == (64, 64)
    assert torch.allclose(q @ q.T, torch.eye(64, dtype=F64), atol=1e-12)
    part = random_orthogonal_basis(10, 4, generator=torch.Generator().manual_seed(0))
    assert part.shape == (4, 10) and part.dtype == torch.float32
    assert torch.allclose(part @ part.T, torch.eye(4), atol=1e-5)
    # Haar: the first coordinate of a random unit vector has mean 0 and variance 1/dim
    firsts = torch.stack(
        [
            random_orthogonal_basis(8, generator=torch.Generator().manual_seed(s), dtype=F64)[0, 0]
            for s in range(400)
        ]
    )
    assert abs(float(firsts.mean())) < 0.05
    assert abs(float(firsts.square().mean()) - 1 / 8) < 0.03


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_gpu_matches_cpu():
    g = torch.Generator().manual_seed(8)
    d = torch.randn(300, 64, generator=g, dtype=F64)
    x = torch.randn(50, 64, generator=g, dtype=F64)
    cpu = omp(d, x, 20)
    gpu = omp(d.cuda(), x.cuda(), 20)
    assert gpu.device.type == "cuda"
    assert torch.allclose(gpu.cpu(), cpu, atol=1e-9)
