"""lvf.protocols.dictionary: orthogonal starts, the attractor dictionary and OMP reconstruction
errors."""

from __future__ import annotations

import torch

from lvf.protocols.dictionary import attractor_dictionary, orthogonal_starts, sparse_code_errors


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


def test_probe_runs_the_protocol_on_a_spatial_autoencoder():
    from lvf.models.spatial import SpatialConvAE
    from lvf.protocols.dictionary import probe

    torch.manual_seed(0)
    model = SpatialConvAE(in_channels=3, latent_channels=2, width=4, image_size=8).eval()
    starts = orthogonal_starts((2, 2, 2), seed=0)
    data = {"a": torch.rand(5, 3, 8, 8), "b": torch.rand(3, 3, 8, 8)}
    out = probe(model.encode, model.decode, starts, data, [1, 4, 8], max_steps=20, batch_size=2)
    assert out.attractors.shape == starts.shape and out.levels == [1, 4, 8]
    assert set(out.errors) == {"a", "b"} and out.latents["a"].shape == (5, 2, 2, 2)
    for name, n in (("a", 5), ("b", 3)):
        for label in ("orthogonal", "attractors"):
            assert out.errors[name][label].shape == (3, n)
    # with all 8 atoms the orthogonal basis codes the latent exactly: error = reconstruction
    with torch.no_grad():
        recon = ((model(data["a"]) - data["a"]) ** 2).flatten(1).mean(dim=1).double()
    assert torch.allclose(out.errors["a"]["orthogonal"][-1], recon, atol=1e-5)
    means = out.mean_errors()
    assert len(means["b"]["attractors"]) == 3


def test_probe_through_a_diffusers_adapter():
    import os

    import pytest

    os.environ["HF_HUB_OFFLINE"] = "1"
    diffusers = pytest.importorskip("diffusers")
    from lvf.models.adapters import autoencoder_kl
    from lvf.protocols.dictionary import probe

    torch.manual_seed(0)
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        vae = diffusers.AutoencoderKL(
            down_block_types=("DownEncoderBlock2D",) * 2,
            up_block_types=("UpDecoderBlock2D",) * 2,
            block_out_channels=(8, 16),
            latent_channels=4,
            norm_num_groups=4,
            sample_size=8,
        )
        ad = autoencoder_kl(vae)
        starts = orthogonal_starts((4, 4, 4), n=8, std=1 / ad.latent_scale, seed=0)
        out = probe(
            ad.encode,
            ad.decode,
            starts,
            {"x": torch.rand(3, 3, 8, 8)},
            [2, 8],
            preprocess=ad.preprocess,
            postprocess=ad.postprocess,
            max_steps=3,
        )
        assert out.errors["x"]["attractors"].shape == (2, 3)
        assert torch.isfinite(out.errors["x"]["orthogonal"]).all()
    finally:
        torch.set_num_threads(n)
