"""A tiny causal language model the book trains itself, through transformers.

App. B.8.2 of the paper iterates the residual stream of Qwen3-0.6B and SmolLM2-1.7B. Where
those weights are absent, the book trains a model of the same *library classes*
(``Qwen3ForCausalLM``, or ``LlamaForCausalLM`` — SmolLM2's architecture) at a toy size on a
text every machine has: the source code of Python's own standard library, read as bytes
(vocabulary 256, no tokenizer to download).

* :func:`stdlib_text` — the corpus, deterministic for a given Python version.
* :class:`TinyLMConfig` — the model's size and training settings; ``build()`` makes it.
* :func:`windows` — byte windows of the held-out end of the corpus, as ``input_ids``.

:func:`lvf.train.trained_lm` trains it (AdamW, next-byte cross-entropy) and caches it in the
one cache, like the autoencoders.
"""

from __future__ import annotations

import sysconfig
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import Tensor

__all__ = ["TinyLMConfig", "corpus_split", "stdlib_text", "windows"]


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

    def to_dict(self) -> dict:
        """The configuration as plain JSON-compatible data."""
        return asdict(self)

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


def corpus_split(config: TinyLMConfig) -> tuple[Tensor, Tensor]:
    """The corpus of ``config`` as int64 bytes: the first 90 % (training), the rest (held out)."""
    data = torch.frombuffer(bytearray(stdlib_text(config.corpus_bytes)), dtype=torch.uint8)
    cut = int(0.9 * len(data))
    return data[:cut].long(), data[cut:].long()


def windows(config: TinyLMConfig, n: int, *, seed: int = 0, length: int | None = None) -> Tensor:
    """``n`` random byte windows of the held-out text, ``(n, length)`` int64 ``input_ids``
    (``length`` defaults to the training ``seq_len``)."""
    length = length or config.seq_len
    _, held = corpus_split(config)
    g = torch.Generator().manual_seed(seed)
    starts = torch.randint(0, len(held) - length, (n,), generator=g)
    return torch.stack([held[s : s + length] for s in starts.tolist()])
