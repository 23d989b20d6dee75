"""lvf.models.adapters on tiny random models of the same library classes (no download).

Every adapter is built from a small random configuration of the class the real weights use
(diffusers ``AutoencoderKL`` and ``AutoencoderRAE``, transformers ``ViTMAEForPreTraining``,
``Qwen3ForCausalLM`` and ``LlamaForCausalLM``), so the wiring — shapes, dtypes, devices, the
no-shuffle MAE, the pre-norm residual stream — is checked on every machine; loading a hub id
offline must fail with our message.
"""

from __future__ import annotations

import os

import pytest
import torch

os.environ["HF_HUB_OFFLINE"] = "1"  # never touch the network from the tests

diffusers = pytest.importorskip("diffusers")
transformers = pytest.importorskip("transformers")

import lvf  # noqa: E402
from lvf.models import adapters  # noqa: E402

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(autouse=True)
def _one_thread():
    # tiny models: thread start-up costs more than it saves (and much more on a busy machine)
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _seeded(fn):
    torch.manual_seed(0)
    return fn()


@pytest.fixture(scope="module")
def tiny_kl():
    return _seeded(
        lambda: diffusers.AutoencoderKL(
            down_block_types=("DownEncoderBlock2D",) * 2,
            up_block_types=("UpDecoderBlock2D",) * 2,
            block_out_channels=(8, 16),
            layers_per_block=1,
            latent_channels=4,
            norm_num_groups=4,
            sample_size=16,
        )
    )


@pytest.fixture(scope="module")
def tiny_mae():
    cfg = transformers.ViTMAEConfig(
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        decoder_hidden_size=16,
        decoder_num_hidden_layers=1,
        decoder_num_attention_heads=2,
        decoder_intermediate_size=32,
        image_size=32,
        patch_size=8,
    )
    return _seeded(lambda: transformers.ViTMAEForPreTraining(cfg))


def _tiny_qwen():
    cfg = transformers.Qwen3Config(
        vocab_size=64,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=8,
        max_position_embeddings=64,
    )
    return _seeded(lambda: transformers.Qwen3ForCausalLM(cfg))


def _tiny_llama():
    cfg = transformers.LlamaConfig(
        vocab_size=64,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
    )
    return _seeded(lambda: transformers.LlamaForCausalLM(cfg))


@pytest.fixture(scope="module")
def tiny_rae():
    return _seeded(
        lambda: diffusers.AutoencoderRAE(
            encoder_type="dinov2",
            encoder_hidden_size=64,
            encoder_patch_size=8,
            encoder_num_hidden_layers=1,
            decoder_hidden_size=32,
            decoder_num_hidden_layers=1,
            decoder_num_attention_heads=2,
            decoder_intermediate_size=64,
            patch_size=4,
            encoder_input_size=32,
        )
    )


def _check_map(adapter, z0, max_steps=5):
    """f keeps shape, device and dtype, follows float64/bfloat16, and lvf.iterate runs."""
    f = adapter.latent_map()
    fz = f(z0)
    assert fz.shape == z0.shape and fz.dtype == z0.dtype and fz.device == z0.device
    assert torch.isfinite(fz).all()
    res = lvf.iterate(f, z0, tol=1e-5, max_steps=max_steps, record="norms")
    assert res.final.shape == z0.shape and res.norms.shape[0] == z0.shape[0]
    assert (res.steps >= 1).all()
    for dtype in (torch.float64, torch.bfloat16):
        out = f(z0.to(dtype))
        assert out.dtype == dtype and out.shape == z0.shape
    adapter.to(dtype=torch.float32)
    return fz


@pytest.mark.parametrize("device", DEVICES)
def test_autoencoder_kl(tiny_kl, device):
    ad = adapters.autoencoder_kl(tiny_kl, device=device)
    assert ad.kind == "autoencoder_kl" and ad.latent_scale == pytest.approx(0.18215)
    images = torch.rand(3, 3, 16, 16, device=device)
    x = ad.preprocess(images)
    assert x.min() >= -1 and x.max() <= 1
    z = ad.encode(x)
    assert z.shape == (3, 4, 8, 8)
    # the posterior mean, not a sample: deterministic
    assert torch.equal(z, ad.encode(x))
    assert torch.allclose(z, tiny_kl.to(device).encode(x).latent_dist.mean)
    assert ad.decode(z).shape == (3, 3, 16, 16)
    assert ad.postprocess(ad.decode(z)).shape == images.shape
    # noise drawn in the scaled (unit-variance) space maps to raw latents and back
    eps = torch.randn(2, 4, 8, 8, device=device)
    assert torch.allclose(ad.to_scaled(ad.to_raw(eps)), eps, atol=1e-6)
    assert ad.to_raw(eps).std() > 3 * eps.std()
    _check_map(ad, z)


@pytest.mark.parametrize("device", DEVICES)
def test_vit_mae_no_masking_no_shuffling(tiny_mae, device):
    ad = adapters.vit_mae(tiny_mae, device=device)
    assert tiny_mae.config.mask_ratio == 0.0
    x = ad.preprocess(torch.rand(2, 3, 32, 32, device=device))
    z = ad.encode(x)
    assert z.shape == (2, 1 + 16, 32)  # CLS + 4x4 patches, hidden 32
    assert torch.equal(z, ad.encode(x))  # no random shuffling between calls
    # patches keep their order: the encoder tokens are those of a plain forward pass with the
    # identity permutation, and the model's ids_restore is the identity
    out = tiny_mae.vit(pixel_values=x, noise=torch.arange(16, device=device).expand(2, -1).float())
    assert torch.equal(out.ids_restore, torch.arange(16, device=device).expand(2, -1))
    assert torch.allclose(out.last_hidden_state, z)
    # moving one image's patch moves that patch token only (positional order is kept)
    x2 = x.clone()
    x2[:, :, :8, :8] = 0.0  # patch 0 changed
    z2 = ad.encode(x2)
    changed = (z2 - z).abs().amax(dim=(0, 2)) > 1e-6
    assert changed[1]  # token of patch 0 (after CLS) changes
    img = ad.decode(z)
    assert img.shape == (2, 3, 32, 32)
    _check_map(ad, z)


def test_vit_mae_norm_pix_loss_warns(tiny_mae):
    tiny_mae.config.norm_pix_loss = True
    try:
        with pytest.warns(UserWarning, match="norm_pix_loss"):
            ad = adapters.vit_mae(tiny_mae)
        assert any("norm_pix_loss" in n for n in ad.notes)
    finally:
        tiny_mae.config.norm_pix_loss = False


@pytest.mark.parametrize("build", [_tiny_qwen, _tiny_llama], ids=["qwen3", "llama"])
@pytest.mark.parametrize("device", DEVICES)
def test_causal_lm_residual_stream(build, device):
    lm = build()
    ad = adapters.causal_lm(lm, device=device)
    ids = torch.randint(0, 64, (3, 7))
    h0 = ad.embed(ids)
    assert h0.shape == (3, 7, 32) and h0.device.type == device
    h1 = ad.encode(h0)
    # pre-norm: equals the hidden state of the last layer before the final norm
    with torch.no_grad():
        out = lm.model(inputs_embeds=h0, output_hidden_states=True)
        post = out.last_hidden_state
    assert torch.allclose(lm.model.norm(h1), post, atol=1e-5)
    assert not torch.allclose(h1, post, atol=1e-3)
    post_ad = adapters.causal_lm(lm, final_norm=True)
    assert torch.allclose(post_ad.encode(h0), post, atol=1e-6)
    assert torch.equal(ad.decode(h1), h1)
    # causal: changing the last token leaves earlier positions unchanged
    h0b = h0.clone()
    h0b[:, -1] += 1.0
    assert torch.allclose(ad.encode(h0b)[:, :-1], h1[:, :-1], atol=1e-5)
    _check_map(ad, h0)


@pytest.mark.parametrize("device", DEVICES)
def test_rae(tiny_rae, device):
    ad = adapters.rae(tiny_rae, device=device)
    x = torch.rand(2, 3, 16, 16, device=device)
    z = ad.encode(x)
    assert z.shape == (2, 64, 4, 4)  # (32 / 8)^2 = 16 tokens of width 64, as a 4x4 map
    assert ad.decode(z).shape == (2, 3, 16, 16)
    _check_map(ad, z, max_steps=3)


@pytest.mark.parametrize(
    ("fn", "hub_id"),
    [
        (adapters.autoencoder_kl, "stabilityai/sd-vae-ft-mse"),
        (adapters.autoencoder_kl, "stabilityai/sdxl-vae"),
        (adapters.vit_mae, "facebook/vit-mae-base"),
        (adapters.causal_lm, "Qwen/Qwen3-0.6B"),
        (adapters.rae, "nyu-visionx/RAE-dinov2-wReg-base-ViTXL-n08"),
    ],
)
def test_missing_weights_offline_give_our_message(fn, hub_id, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path))  # an empty cache
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(adapters.WeightsNotFoundError) as info:
        fn(hub_id, local_files_only=True)
    msg = str(info.value)
    assert hub_id in msg and f"hf download {hub_id}" in msg
    assert "huggingface-cli download" in msg and "path" in msg
    assert isinstance(info.value.__cause__, OSError)  # raised by the library's own loader


def test_missing_local_folder(tmp_path):
    with pytest.raises(adapters.WeightsNotFoundError, match="no-such-folder"):
        adapters.autoencoder_kl(str(tmp_path / "no-such-folder"), local_files_only=True)


def test_offline_env_means_no_network_attempt(monkeypatch):
    adapters.hub_reachable.cache_clear()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert adapters.hub_reachable() is False
    adapters.hub_reachable.cache_clear()


def test_load_by_paper_id(monkeypatch):
    with pytest.raises(adapters.WeightsNotFoundError, match="vit-mae-base"):
        adapters.load("facebook/vit-mae-base", local_files_only=True)
    with pytest.raises(ValueError, match="kind"):
        adapters.load("someone/some-model")
    assert set(kind for kind, _ in adapters.PAPER_MODELS.values()) == {
        "autoencoder_kl",
        "vit_mae",
        "causal_lm",
        "rae",
    }
