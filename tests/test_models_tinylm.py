"""lvf.models.tinylm: the corpus, windows, and a few training steps of a tiny transformers LM."""

from __future__ import annotations

import os

import pytest
import torch

os.environ["HF_HUB_OFFLINE"] = "1"
pytest.importorskip("transformers")

from lvf.models.tinylm import TinyLMConfig, stdlib_text, windows  # noqa: E402
from lvf.train import trained_lm  # noqa: E402


def test_corpus_and_windows_are_deterministic():
    text = stdlib_text(50_000)
    assert len(text) == 50_000 and b"def " in text
    cfg = TinyLMConfig(corpus_bytes=50_000, seq_len=16)
    w = windows(cfg, 4, seed=3)
    assert w.shape == (4, 16) and w.dtype == torch.int64 and int(w.max()) < 256
    assert torch.equal(w, windows(cfg, 4, seed=3))


@pytest.mark.parametrize("arch", ["qwen3", "llama"])
def test_training_lowers_the_loss_and_caches(arch, tmp_path, monkeypatch):
    monkeypatch.setenv("LVF_CACHE", str(tmp_path))
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        cfg = TinyLMConfig(
            arch=arch, hidden=16, layers=1, heads=2, kv_heads=1, intermediate=32, seq_len=16,
            batch_size=8, steps=30, lr=1e-2, corpus_bytes=50_000,
        )  # fmt: skip
        first = trained_lm(cfg)
        assert not first.from_cache and len(first.losses) == 30
        assert first.losses[-1] < first.losses[0] - 1.0  # from ~ln(256) = 5.5 towards text
        again = trained_lm(cfg)
        assert again.from_cache and again.val_loss == pytest.approx(first.val_loss)
        ids = windows(cfg, 2)
        with torch.no_grad():
            a = first.model(input_ids=ids).logits
            b = again.model(input_ids=ids).logits
        assert torch.allclose(a, b)
        with pytest.raises(ValueError, match="arch"):
            TinyLMConfig(arch="gpt").build()
    finally:
        torch.set_num_threads(n)


def test_a_corrupted_cache_entry_is_retrained_loudly(tmp_path, monkeypatch):
    from lvf.cache import CacheWarning

    monkeypatch.setenv("LVF_CACHE", str(tmp_path))
    cfg = TinyLMConfig(
        hidden=8, layers=1, heads=2, kv_heads=1, intermediate=16, seq_len=8,
        batch_size=4, steps=2, corpus_bytes=20_000,
    )  # fmt: skip
    first = trained_lm(cfg)
    (path,) = (tmp_path / "models").glob("tinylm-qwen3-*.pt")
    path.write_bytes(path.read_bytes()[:200])
    with pytest.warns(CacheWarning, match="corrupted"):
        again = trained_lm(cfg)
    assert not again.from_cache and again.losses == first.losses
    assert trained_lm(cfg).from_cache
