"""Training the tiny byte-level language model of :mod:`lvf.models.tinylm`, cached.

AdamW with a one-cycle schedule on random windows of :func:`lvf.models.tinylm.stdlib_text`,
next-byte cross-entropy, gradients clipped at 1; the model goes to the one cache
(:class:`lvf.cache.Entry`) keyed by its :class:`~lvf.models.tinylm.TinyLMConfig`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from torch import Tensor

from lvf.cache import Entry
from lvf.models.tinylm import TinyLMConfig, corpus_split, windows
from lvf.train import _tally

__all__ = ["TrainedLM", "trained_lm"]

_FORMAT = 2  # bump when training here changes


@dataclass
class TrainedLM:
    """A trained tiny LM: ``model`` (eval mode, CPU), ``config``, ``losses`` per step,
    held-out loss ``val_loss`` (nats per byte), ``seconds`` of training, ``from_cache``."""

    model: torch.nn.Module
    config: TinyLMConfig
    losses: list[float]
    val_loss: float
    seconds: float
    from_cache: bool = False


def _loss(model, batch: Tensor) -> Tensor:
    logits = model(input_ids=batch[:, :-1]).logits
    return torch.nn.functional.cross_entropy(logits.reshape(-1, 256), batch[:, 1:].reshape(-1))


def _entry(config: TinyLMConfig) -> Entry:
    """The cache entry of ``config``'s model."""
    return Entry("models", f"tinylm-{config.arch}", config.to_dict(), version=_FORMAT)


def trained_lm(config: TinyLMConfig | None = None) -> TrainedLM:
    """The model of ``config``, trained on :func:`~lvf.models.tinylm.stdlib_text` or loaded
    from the one cache (``cache_dir()/models/tinylm-<arch>-<key>.pt``; an unreadable entry is
    retrained with a :class:`lvf.cache.CacheWarning`), or fetched from the published
    checkpoints (:mod:`lvf.train.hub`) when missing. ``None``: the default configuration."""
    config = config if config is not None else TinyLMConfig()
    from lvf.train.hub import load_or_fetch

    entry = _entry(config)
    content, fetched = load_or_fetch(entry)
    if content is not None:
        _tally.note(entry.path.name, "fetched" if fetched else "cached")
        with torch.random.fork_rng(devices=[]):
            model = config.build()
        model.load_state_dict(content["state_dict"])
        return TrainedLM(
            model.eval(),
            config,
            content["losses"],
            content["val_loss"],
            content["seconds"],
            from_cache=True,
        )
    train, _ = corpus_split(config)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        model = config.build()
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=config.lr, total_steps=max(1, config.steps), pct_start=0.1
    )
    g = torch.Generator().manual_seed(config.seed)
    losses = []
    start = time.perf_counter()
    model.train()
    for _ in range(config.steps):
        idx = torch.randint(0, len(train) - config.seq_len - 1, (config.batch_size,), generator=g)
        batch = torch.stack([train[i : i + config.seq_len + 1] for i in idx.tolist()])
        loss = _loss(model, batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
    seconds = time.perf_counter() - start
    _tally.note(entry.path.name, "trained", seconds)
    model.eval()
    with torch.no_grad():
        val = windows(config, 64, seed=12345, length=config.seq_len + 1)
        val_loss = float(_loss(model, val))
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    entry.store({"state_dict": state, "losses": losses, "val_loss": val_loss, "seconds": seconds})
    return TrainedLM(model, config, losses, val_loss, seconds)
