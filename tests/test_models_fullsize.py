"""The paper's models at full size from their configurations (lvf.models.fullsize), loaded back
through the adapters by hub id, as a reader with the real weights would.

Parameter counts are checked against the numbers the model cards publish (built on the meta
device: no memory, no time). The round trip save_pretrained -> LVF_WEIGHTS -> adapters.load ->
f runs at full size for the models that fit in a test's seconds; LVF_FULLSIZE=all adds the
large ones (benchmarks/fullsize.py runs them all, with the protocols end to end).
"""

from __future__ import annotations

import os
import warnings

import pytest
import torch

from lvf.models import adapters, fullsize

ALL = bool(os.environ.get("LVF_FULLSIZE", "").strip().lower() in ("all", "1"))
large = pytest.mark.skipif(not ALL, reason="a large network: set LVF_FULLSIZE=all")


def meta(hub_id: str) -> torch.nn.Module:
    with warnings.catch_warnings(), torch.device("meta"):
        warnings.simplefilter("ignore")
        return fullsize.build(hub_id)


@pytest.mark.parametrize(
    "hub_id, published, rel",
    [
        ("stabilityai/sd-vae-ft-mse", 83.65e6, 1e-3),  # "83.7M"
        ("stabilityai/sdxl-vae", 83.65e6, 1e-3),  # same architecture
        ("Qwen/Qwen3-0.6B", 0.6e9, 0.01),  # model card: 0.6B, 0.44B without embeddings
        ("HuggingFaceTB/SmolLM2-1.7B", 1.71e9, 0.01),
    ],
)
def test_parameter_counts_are_the_published_ones(hub_id, published, rel):
    n = fullsize.n_parameters(meta(hub_id))
    assert abs(n - published) / published < rel, n


def test_qwen3_without_embeddings_and_vit_mae_encoder():
    qwen = meta("Qwen/Qwen3-0.6B")
    non_embedding = fullsize.n_parameters(qwen) - qwen.get_input_embeddings().weight.numel()
    assert abs(non_embedding - 0.44e9) / 0.44e9 < 0.01
    mae = meta("facebook/vit-mae-base")
    assert abs(fullsize.n_parameters(mae.vit) - 86e6) / 86e6 < 0.01  # ViT-B/16


@pytest.mark.parametrize(
    "hub_id, shape",
    [
        ("stabilityai/sd-vae-ft-mse", (4, 32, 32)),  # k = 4,096 at 256 px: the paper's N
        ("facebook/vit-mae-base", (197, 768)),
        ("nyu-visionx/RAE-siglip2-base-p16-i256-ViTXL-n08", (768, 16, 16)),
        pytest.param("stabilityai/sdxl-vae", (4, 32, 32), marks=large),
        pytest.param("nyu-visionx/RAE-dinov2-wReg-base-ViTXL-n08", (768, 16, 16), marks=large),
        pytest.param("Qwen/Qwen3-0.6B", (64, 1024), marks=large),
        pytest.param("HuggingFaceTB/SmolLM2-1.7B", (64, 2048), marks=large),
    ],
)
@pytest.mark.slow
def test_saved_at_full_size_and_loaded_by_hub_id(tmp_path, monkeypatch, hub_id, shape):
    monkeypatch.setenv("LVF_WEIGHTS", str(tmp_path))
    folder = fullsize.save(hub_id)
    assert folder == tmp_path / hub_id and fullsize.is_random(folder)
    assert adapters.resolve(hub_id) == str(folder)
    with pytest.warns(adapters.RandomWeightsWarning, match="random weights"):
        ad = adapters.load(hub_id, local_files_only=True)
    assert ad.random_weights and ad.kind == fullsize.PAPER_CONFIGS[hub_id].kind
    reference = fullsize.build(hub_id).state_dict()
    loaded = ad.model.state_dict()
    assert loaded.keys() == reference.keys()
    assert all(torch.equal(loaded[k], v) for k, v in reference.items())
    model = fullsize.PAPER_CONFIGS[hub_id]
    with torch.no_grad():
        if ad.kind == "causal_lm":
            ids = ad.tokenizer("def f(x):\n    return x + 1\n" * 8, return_tensors="pt").input_ids
            assert int(ids.max()) < model.config["vocab_size"]
            z = ad.embed(ids[:, :64])
        else:
            x = torch.rand(1, *model.input, generator=torch.Generator().manual_seed(0))
            z = ad.encode(ad.preprocess(x))
        fz = ad.latent_map()(z)
    assert tuple(z.shape[1:]) == shape and fz.shape == z.shape
    assert torch.isfinite(fz).all()


def test_save_never_replaces_other_weights(tmp_path):
    real = tmp_path / "stabilityai" / "sd-vae-ft-mse"
    real.mkdir(parents=True)
    (real / "config.json").write_text("{}")
    with pytest.raises(FileExistsError, match="real checkpoint"):
        fullsize.save("stabilityai/sd-vae-ft-mse", tmp_path)
    assert (real / "config.json").read_text() == "{}"
    with pytest.raises(KeyError, match="not one of the paper's models"):
        fullsize.save("someone/else", tmp_path)
    with pytest.raises(ValueError, match="LVF_WEIGHTS"):
        os.environ.pop("LVF_WEIGHTS", None)
        fullsize.save("stabilityai/sd-vae-ft-mse")


def test_resolve_prefers_a_folder_then_lvf_weights_then_the_hub(tmp_path, monkeypatch):
    monkeypatch.delenv("LVF_WEIGHTS", raising=False)
    assert adapters.resolve("org/model") == "org/model"
    monkeypatch.setenv("LVF_WEIGHTS", str(tmp_path))
    assert adapters.resolve("org/model") == "org/model"  # no such folder there
    (tmp_path / "org" / "model").mkdir(parents=True)
    assert adapters.resolve("org/model") == str(tmp_path / "org" / "model")
    assert adapters.resolve(str(tmp_path)) == str(tmp_path)


TINY_SIGLIP_RAE = dict(
    encoder_type="siglip2",
    encoder_hidden_size=64,
    encoder_patch_size=16,
    encoder_num_hidden_layers=1,
    encoder_input_size=32,
    decoder_hidden_size=32,
    decoder_num_hidden_layers=1,
    decoder_num_attention_heads=2,
    decoder_intermediate_size=64,
    patch_size=16,
)


def test_siglip2_rae_builds_and_round_trips_only_with_the_layout_shim(tmp_path):
    from diffusers import AutoencoderRAE
    from transformers import SiglipVisionModel

    if "vision_model" in SiglipVisionModel.__init__.__code__.co_names:
        pytest.skip("this transformers still has SiglipVisionModel.vision_model")
    with pytest.raises(AttributeError, match="vision_model"):
        AutoencoderRAE(**TINY_SIGLIP_RAE)  # diffusers 0.42 with transformers 5, unpatched
    with adapters.siglip_layout():
        ae = AutoencoderRAE(**TINY_SIGLIP_RAE).eval()
    assert any(k.startswith("encoder.vision_model.encoder.") for k in ae.state_dict())
    ae.save_pretrained(tmp_path)
    ad = adapters.rae(str(tmp_path), local_files_only=True)
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        z = ad.encode(x)
        assert torch.allclose(z, ae.encode(x).latent)
        assert ad.latent_map()(z).shape == z.shape == (2, 64, 2, 2)
    assert not ad.random_weights
