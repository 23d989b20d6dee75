from dataclasses import replace

import pytest
import torch

from lvf.models import MLPAE, Denoising
from lvf.train import TrainConfig, fit, trained, training_data


def test_noise_only_in_training_mode():
    m = MLPAE(2, 2, (8,))
    d = Denoising(m, 0.5)
    x = torch.zeros(4, 2)
    d.eval()
    torch.testing.assert_close(d(x), m(x))
    d.train()
    torch.manual_seed(0)
    noisy = d(x)
    torch.manual_seed(0)
    torch.testing.assert_close(noisy, m(0.5 * torch.randn_like(x)))
    assert d.latent_map is not None and d.encode(x).shape == (4, 2)
    with pytest.raises(ValueError):
        Denoising(m, -1.0)


def _toy_mlp(dataset: str, model_kwargs: dict, **settings) -> TrainConfig:
    """A 2-D MLP autoencoder (k = 2) on a toy dataset, mini-batches of 32."""
    return TrainConfig(
        model="mlp", dataset=f"toy:{dataset}", batch_size=32,
        model_kwargs={"in_dim": 2, "k": 2, **model_kwargs}, **settings,
    )  # fmt: skip


@pytest.mark.slow
def test_trained_is_cached_and_zero_noise_matches_lvf_train(tmp_path, monkeypatch):
    monkeypatch.setenv("LVF_CACHE", str(tmp_path))
    cfg = _toy_mlp("moons", {"hidden": (8,)}, n_train=64, epochs=2)

    def dae(noise):
        return replace(cfg, noise_std=noise)

    a = trained(dae(0.1), device="cpu", progress=False)
    assert not a.from_cache and dae(0.1).cache_path().is_file()
    b = trained(dae(0.1), device="cpu", progress=False)
    assert b.from_cache
    for p, q in zip(a.model.parameters(), b.model.parameters(), strict=True):
        torch.testing.assert_close(p, q)
    assert dae(0.1).cache_path() != dae(0.2).cache_path()
    c = trained(dae(0.0), device="cpu", progress=False)
    d = trained(cfg, device="cpu", progress=False)
    for p, q in zip(c.model.parameters(), d.model.parameters(), strict=True):
        torch.testing.assert_close(p, q)
    e = trained(dae(0.1), device="cpu", progress=False)
    assert any(
        not torch.equal(p, q)
        for p, q in zip(c.model.parameters(), e.model.parameters(), strict=True)
    )


def test_trained_dae_equals_the_hand_written_recipe(tmp_path, monkeypatch):
    """A DAE from the cache-backed trainer has exactly the weights of seeding torch, building
    the model and fitting it wrapped in Denoising (how chapters trained them before)."""
    monkeypatch.setenv("LVF_CACHE", str(tmp_path))
    cfg = _toy_mlp(
        "gaussians", {"hidden": (16,), "activation": "silu"},
        n_train=128, epochs=3, lr=2e-3, seed=3, noise_std=0.3,
    )  # fmt: skip
    got = trained(cfg, device="cpu", progress=False).model
    torch.manual_seed(3)
    ref = MLPAE(in_dim=2, k=2, hidden=(16,), activation="silu")
    fit(Denoising(ref, 0.3), training_data(cfg), **cfg.fit_kwargs(), progress=False)
    for p, q in zip(got.parameters(), ref.parameters(), strict=True):
        assert torch.equal(p, q)
