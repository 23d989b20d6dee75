"""lvf.probing: orthogonal starts, the attractor dictionary and OMP reconstruction errors."""

from __future__ import annotations

import torch

from lvf.probing import attractor_dictionary, orthogonal_starts, sparse_code_errors


def test_orthogonal_starts_are_orthogonal_with_gaussian_norm():
    z = orthogonal_starts((2, 3, 3), seed=1, dtype=torch.float64)
    assert z.shape == (18, 2, 3, 3)
    flat = z.reshape(18, -1)
    assert torch.allclose(flat @ flat.T, 18 * torch.eye(18, dtype=torch.float64), atol=1e-10)
    scaled = orthogonal_starts((4,), n=2, std=torch.tensor(3.0), mean=1.0, seed=1)
    assert scaled.shape == (2, 4)
    assert torch.allclose((scaled - 1.0).norm(dim=1), torch.full((2,), 6.0), atol=1e-5)
    assert torch.equal(orthogonal_starts((4,), seed=2), orthogonal_starts((4,), seed=2))


def test_attractor_dictionary_of_a_linear_contraction():
    b = torch.tensor([1.0, -2.0, 0.5])
    atoms, res = attractor_dictionary(lambda z: 0.5 * z + b, orthogonal_starts((3,)), tol=1e-12)
    assert res.converged.all()
    assert torch.allclose(atoms, (2 * b).expand(3, 3), atol=1e-5)


def test_sparse_code_errors_with_an_orthonormal_basis_and_identity_decoder():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(6, 1, 2, 4, generator=g, dtype=torch.float64)  # "images" = latents
    basis = torch.eye(8, dtype=torch.float64)
    err = sparse_code_errors(basis, x, x, lambda z: z, [1, 3, 8], batch_size=4)
    assert err.shape == (3, 6)
    flat = x.reshape(6, -1)
    sq = flat.square().sort(dim=1, descending=True).values
    for i, k in enumerate([1, 3, 8]):
        expected = sq[:, k:].sum(dim=1) / 8  # the dropped coordinates, averaged over pixels
        assert torch.allclose(err[i], expected, atol=1e-12)
    # a post-processing step is applied before comparing
    shifted = sparse_code_errors(basis, x, x + 1, lambda z: z, [8], postprocess=lambda y: y + 1)
    assert torch.allclose(shifted, torch.zeros(1, 6, dtype=torch.float64), atol=1e-12)
