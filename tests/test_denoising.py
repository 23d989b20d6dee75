import pytest
import torch

from lvf.denoising import Denoising, cache_path, trained
from lvf.models import MLPAE
from lvf.train import TrainConfig
from lvf.train import trained as trained_plain


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


@pytest.mark.slow
def test_trained_is_cached_and_zero_noise_matches_lvf_train(tmp_path, monkeypatch):
    monkeypatch.setenv("LVF_CACHE", str(tmp_path))
    cfg = TrainConfig(
        model="mlp",
        dataset="toy:moons",
        n_train=64,
        epochs=2,
        batch_size=32,
        model_kwargs={"in_dim": 2, "k": 2, "hidden": (8,)},
    )
    a = trained(cfg, 0.1, device="cpu", progress=False)
    assert not a.from_cache and cache_path(cfg, 0.1).is_file()
    b = trained(cfg, 0.1, device="cpu", progress=False)
    assert b.from_cache
    for p, q in zip(a.model.parameters(), b.model.parameters(), strict=True):
        torch.testing.assert_close(p, q)
    assert cache_path(cfg, 0.1) != cache_path(cfg, 0.2)
    c = trained(cfg, 0.0, device="cpu", progress=False)
    d = trained_plain(cfg, device="cpu", progress=False)
    for p, q in zip(c.model.parameters(), d.model.parameters(), strict=True):
        torch.testing.assert_close(p, q)
    e = trained(cfg, 0.1, device="cpu", progress=False)
    assert any(
        not torch.equal(p, q)
        for p, q in zip(c.model.parameters(), e.model.parameters(), strict=True)
    )
