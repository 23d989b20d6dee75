"""lvf.protocols.dictionary: orthogonal starts, the attractor dictionary and OMP reconstruction
errors."""

from __future__ import annotations

import pytest
import torch

from lvf.iterate import IterationResult
from lvf.protocols.dictionary import (
    ProbeResult,
    attractor_dictionary,
    convergence_table,
    gap_effects,
    gap_table,
    orthogonal_starts,
    sparse_code_errors,
)


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


def test_attractor_dictionary_keeps_converged_end_points_only():
    # starts with a positive second coordinate contract to 0; the others drift by a unit step
    def f(z):
        return torch.where(z[:, 1:] > 0, 0.5 * z, z + torch.tensor([1.0, 0.0]))

    starts = torch.tensor([[1.0, 2.0], [1.0, -1.0], [3.0, 1.0], [-2.0, 0.0]])
    atoms, res = attractor_dictionary(f, starts, tol=1e-10, max_steps=60)
    assert res.converged.tolist() == [True, False, True, False]
    assert atoms.shape == (2, 2)  # the two oscillating starts are not atoms
    assert torch.allclose(atoms, torch.zeros(2, 2), atol=1e-5)


def test_sparse_code_errors_with_fewer_atoms_than_a_level():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(5, 4, generator=g, dtype=torch.float64)
    two = torch.eye(4, dtype=torch.float64)[:2]  # spans the first two coordinates
    err = sparse_code_errors(two, x, x, lambda z: z, [1, 2, 3, 4])
    rest = x[:, 2:].square().sum(dim=1) / 4  # what the span of the two atoms cannot reach
    for i in (1, 2, 3):  # levels 2, 3 and 4 all use both atoms
        assert torch.allclose(err[i], rest, atol=1e-12)
    empty = sparse_code_errors(two[:0], x, x, lambda z: z, [1, 3])  # no atom: latent coded as 0
    assert torch.allclose(empty, x.square().mean(dim=1).expand(2, 5), atol=1e-12)


def _fake_result(orth: list[float], attr: list[float], converged: list[bool]) -> ProbeResult:
    """A ProbeResult with given mean errors at levels [1, 2] (one test image per level)."""
    n = len(converged)
    conv = torch.tensor(converged)
    it = IterationResult(
        final=torch.zeros(n, 2),
        steps=torch.tensor([3] * n),
        converged=conv,
        diverged=torch.zeros(n, dtype=torch.bool),
    )
    per = {"orthogonal": torch.tensor(orth)[:, None], "attractors": torch.tensor(attr)[:, None]}
    return ProbeResult(
        starts=torch.zeros(n, 2),
        attractors=torch.zeros(int(conv.sum()), 2),
        iteration=it,
        levels=[1, 2],
        errors={"a": per},
    )


def test_gap_table_and_effects_known_answer():
    results = {
        0: _fake_result([2.0, 1.0], [1.0, 1.0], [True, True, False, True]),
        1: _fake_result([4.0, 2.0], [1.0, 3.0], [True, True, True, True]),
    }
    table = gap_table(results)
    assert len(table) == 4 and set(table.columns) >= {"seed", "dataset", "atoms", "gap"}
    gaps = table.set_index(["seed", "atoms"])["gap"]
    assert gaps[(0, 1)] == 0.5 and gaps[(0, 2)] == 0.0
    assert gaps[(1, 1)] == 0.75 and gaps[(1, 2)] == -0.5
    assert gap_effects(table, [1]) == {"a": [0.5, 0.75]}
    assert gap_effects(table, [1, 2]) == {"a": [0.25, 0.125]}
    with pytest.raises(ValueError):
        gap_effects(table, [3])
    conv = convergence_table(results)
    assert conv.loc[0, "converged"] == 3 and conv.loc[0, "dropped"] == 1
    assert conv.loc[0, "converged share"] == 0.75 and conv.loc[1, "dropped"] == 0
    assert conv.loc[0, "median steps"] == 3.0 and conv.loc[1, "distinct"] == 1


def test_probe_trained_repeats_over_seeds(monkeypatch, tmp_path):
    from lvf.protocols.dictionary import probe_trained
    from lvf.train import TrainConfig

    monkeypatch.setenv("LVF_CACHE", str(tmp_path / "cache"))
    config = TrainConfig(
        model="mlp", model_kwargs={"hidden": [8], "k": 2}, dataset="toy:gaussians",
        n_train=64, epochs=1, batch_size=32,
    )  # fmt: skip
    data = {"t": torch.randn(6, 2, generator=torch.Generator().manual_seed(0))}
    out = probe_trained(config, data, [1, 2], seeds=[0, 1], max_steps=50, batch_size=4)
    assert list(out) == [0, 1]
    for s, tp in out.items():
        assert tp.seed == s and tp.config.seed == s and tp.config.data_seed == s
        assert tp.result.starts.shape == (2, 2) and tp.sigma > 0
        assert tp.result.errors["t"]["attractors"].shape == (2, 6)
        assert len(tp.result.attractors) == int(tp.result.iteration.converged.sum())
    # another seed retrains the model and draws other starts
    assert not torch.equal(out[0].result.starts, out[1].result.starts)
    assert gap_table(out)["seed"].tolist() == [0, 0, 1, 1]
    conv = convergence_table(out)
    assert list(conv.index) == [0, 1] and {"rank-90", "memorization"} <= set(conv.columns)
    assert (conv["rank-90"] <= 2).all() and (conv["memorization"] <= 1 + 1e-6).all()


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


@pytest.fixture
def tiny_kl(monkeypatch):
    """A tiny random diffusers ``AutoencoderKL`` behind the adapter a reader uses (one thread,
    offline)."""
    diffusers = pytest.importorskip("diffusers")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from lvf.models.adapters import autoencoder_kl

    torch.manual_seed(0)
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    vae = diffusers.AutoencoderKL(
        down_block_types=("DownEncoderBlock2D",) * 2,
        up_block_types=("UpDecoderBlock2D",) * 2,
        block_out_channels=(8, 16),
        latent_channels=4,
        norm_num_groups=4,
        sample_size=8,
    )
    yield autoencoder_kl(vae)
    torch.set_num_threads(n)


def test_probe_through_a_diffusers_adapter(tiny_kl):
    from lvf.protocols.dictionary import probe

    ad = tiny_kl
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


def test_probe_adapter_repeats_over_seeds_of_the_starts(tiny_kl):
    from lvf.protocols.dictionary import probe_adapter

    ad = tiny_kl
    data = {"x": torch.rand(3, 3, 8, 8), "y": torch.rand(2, 3, 8, 8)}
    out = probe_adapter(ad, data, [2, 64], seeds=[0, 1], max_steps=3, batch_size=4)
    assert list(out) == [0, 1]
    for res in out.values():  # k = 4 x 4 x 4 orthogonal starts of norm sqrt(k) / scale
        assert res.starts.shape == (64, 4, 4, 4)
        norms = res.starts.flatten(1).norm(dim=1) * ad.latent_scale
        assert torch.allclose(norms, torch.full((64,), 8.0), atol=1e-3)
    assert not torch.equal(out[0].starts, out[1].starts)
    table = gap_table(out)
    assert len(table) == 2 * 2 * 2 and table["orthogonal"].notna().all()
    assert set(gap_effects(table, [2])) == {"x", "y"}
