"""A tiny causal language model the book trains itself, through transformers.

App. B.8.2 of the paper iterates the residual stream of Qwen3-0.6B and SmolLM2-1.7B. Where
those weights are absent, the book trains a model of the same *library classes*
(``Qwen3ForCausalLM``, or ``LlamaForCausalLM`` — SmolLM2's architecture) at a toy size on a
text every machine has: the source code of Python's own standard library, read as bytes
(vocabulary 256, no tokenizer to download).

* :func:`stdlib_text` — the corpus, deterministic for a given Python version.
* :class:`TinyLMConfig` / :func:`trained_lm` — build, train (AdamW, next-byte cross-entropy)
  and cache the model on disk (``cache_dir()/models``), like :func:`lvf.train.trained`.
* :func:`windows` — byte windows of the held-out end of the corpus, as ``input_ids``.
"""

from __future__ import annotations

import hashlib
import json
import os
import sysconfig
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import Tensor

from lvf.paths import atomic_write, cache_dir

__all__ = ["TinyLMConfig", "TrainedLM", "stdlib_text", "trained_lm", "windows"]

_FORMAT = 1


def stdlib_text(max_bytes: int = 4_000_000) -> bytes:
    """Python's standard-library sources (``Lib/*.py``, sorted by name), concatenated.

    Returns at most ``max_bytes`` bytes. The same Python version gives the same text.
    """
    lib = Path(sysconfig.get_paths()["stdlib"])
    parts, total = [], 0
    for path in sorted(lib.glob("*.py")):
        data = path.read_bytes()
        parts.append(data)
        total += len(data)
        if total >= max_bytes:
            break
    if not parts:
        raise FileNotFoundError(f"no Python sources found in {lib}")
    return b"".join(parts)[:max_bytes]


@dataclass(frozen=True)
class TinyLMConfig:
    """A tiny byte-level causal LM and how to train it.

    Parameters
    ----------
    arch
        ``"qwen3"`` (``Qwen3ForCausalLM``) or ``"llama"`` (``LlamaForCausalLM``).
    hidden, layers, heads, kv_heads, intermediate
        Model size (head dimension ``hidden // heads``).
    seq_len, batch_size, steps, lr, weight_decay
        Training: random windows of ``seq_len + 1`` bytes, AdamW.
    corpus_bytes
        Bytes of :func:`stdlib_text` used; the last 10 % are held out.
    seed
        Seed of the initialisation and of the windows.
    """

    arch: str = "qwen3"
    hidden: int = 64
    layers: int = 2
    heads: int = 4
    kv_heads: int = 2
    intermediate: int = 128
    seq_len: int = 64
    batch_size: int = 32
    steps: int = 300
    lr: float = 3e-3
    weight_decay: float = 0.01
    corpus_bytes: int = 2_000_000
    seed: int = 0

    def key(self) -> str:
        text = json.dumps({"format": _FORMAT, **asdict(self)}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def build(self):
        """A freshly initialised model (from torch's global RNG)."""
        import transformers

        common = dict(
            vocab_size=256,
            hidden_size=self.hidden,
            intermediate_size=self.intermediate,
            num_hidden_layers=self.layers,
            num_attention_heads=self.heads,
            num_key_value_heads=self.kv_heads,
            max_position_embeddings=max(256, self.seq_len),
            tie_word_embeddings=True,
        )
        if self.arch == "qwen3":
            cfg = transformers.Qwen3Config(head_dim=self.hidden // self.heads, **common)
            return transformers.Qwen3ForCausalLM(cfg)
        if self.arch == "llama":
            return transformers.LlamaForCausalLM(transformers.LlamaConfig(**common))
        raise ValueError(f"arch must be 'qwen3' or 'llama', got {self.arch!r}")


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


def _split(config: TinyLMConfig) -> tuple[Tensor, Tensor]:
    data = torch.frombuffer(bytearray(stdlib_text(config.corpus_bytes)), dtype=torch.uint8)
    cut = int(0.9 * len(data))
    return data[:cut].long(), data[cut:].long()


def windows(config: TinyLMConfig, n: int, *, seed: int = 0, length: int | None = None) -> Tensor:
    """``n`` random byte windows of the held-out text, ``(n, length)`` int64 ``input_ids``
    (``length`` defaults to the training ``seq_len``)."""
    length = length or config.seq_len
    _, held = _split(config)
    g = torch.Generator().manual_seed(seed)
    starts = torch.randint(0, len(held) - length, (n,), generator=g)
    return torch.stack([held[s : s + length] for s in starts.tolist()])


def _loss(model, batch: Tensor) -> Tensor:
    logits = model(input_ids=batch[:, :-1]).logits
    return torch.nn.functional.cross_entropy(logits.reshape(-1, 256), batch[:, 1:].reshape(-1))


def trained_lm(config: TinyLMConfig = TinyLMConfig()) -> TrainedLM:
    """The model of ``config``, trained on :func:`stdlib_text` or loaded from the cache."""
    path = cache_dir() / "models" / f"tinylm-{config.arch}-{config.key()}.pt"
    if path.exists():
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
            if payload.get("config") == asdict(config):
                with torch.random.fork_rng(devices=[]):
                    model = config.build()
                model.load_state_dict(payload["state_dict"])
                return TrainedLM(
                    model.eval(),
                    config,
                    payload["losses"],
                    payload["val_loss"],
                    payload["seconds"],
                    from_cache=True,
                )
        except Exception:  # noqa: BLE001 - an unreadable cache entry is retrained
            pass
    train, held = _split(config)
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
    model.eval()
    with torch.no_grad():
        val = windows(config, 64, seed=12345, length=config.seq_len + 1)
        val_loss = float(_loss(model, val))
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    payload = {
        "format": _FORMAT,
        "config": asdict(config),
        "state_dict": state,
        "losses": losses,
        "val_loss": val_loss,
        "seconds": seconds,
        "torch_version": str(torch.__version__),
        "pid": os.getpid(),
    }
    atomic_write(path, lambda f: torch.save(payload, f))
    return TrainedLM(model, config, losses, val_loss, seconds)
