"""The paper's foundation models at their published size, built from configuration.

The real weights of the paper's models (Secs. 4.1, 4.2, App. B.7, B.8) are downloaded from
the Hugging Face Hub, which not every machine can reach. What a machine *can* always do is
build the same network from its published configuration — same classes, same layer sizes,
same latent shape, same scaling factors — with random weights. This module does that, so that

* the loading code a reader runs (``from_pretrained`` of a local folder, through
  :mod:`lvf.models.adapters`) is exercised on a folder written by ``save_pretrained``, and
* the time and memory one evaluation of ``f = E ∘ D`` costs at full size can be measured
  anywhere (``benchmarks/fullsize.py``).

Random weights are **not** the paper's model: the dynamics of ``f`` they define say nothing
about what the trained networks learned. Every folder written by :func:`save` carries a file
:data:`MARKER` saying so, and :func:`lvf.models.adapters.load` marks an adapter loaded from it
(``Adapter.random_weights``), so a chapter never reports such a run as a result.

The configurations in :data:`PAPER_CONFIGS` are those of the checkpoints' ``config.json`` on
the Hub (the book's inference of which checkpoints the paper used, ``choice-checkpoints``).
For the RAE models, diffusers builds the frozen encoder (DINOv2 with registers, SigLIP2) from
the same configuration. The language models get a *stand-in tokenizer*: a byte-level BPE
trained here on Python source (the real tokenizers are downloaded with the weights), saved
beside the weights so that ``AutoTokenizer.from_pretrained`` runs too; its token ids are valid
ids of the model's vocabulary.

Environment variable
--------------------
``LVF_WEIGHTS``
    A folder holding model folders named by their hub id, e.g.
    ``$LVF_WEIGHTS/stabilityai/sd-vae-ft-mse/config.json``. :mod:`lvf.models.adapters` looks
    there before the Hugging Face cache, so the chapters load whatever is in it by hub id.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

__all__ = [
    "MARKER",
    "PAPER_CONFIGS",
    "PaperModel",
    "PaperRun",
    "build",
    "is_random",
    "n_parameters",
    "save",
    "weights_dir",
]

MARKER = "LVF_RANDOM_WEIGHTS.json"
"""File written into every folder made by :func:`save`: its weights are random."""

_SD_BLOCKS = {
    "act_fn": "silu",
    "block_out_channels": [128, 256, 512, 512],
    "down_block_types": ["DownEncoderBlock2D"] * 4,
    "up_block_types": ["UpDecoderBlock2D"] * 4,
    "in_channels": 3,
    "out_channels": 3,
    "latent_channels": 4,
    "layers_per_block": 2,
    "norm_num_groups": 32,
}
_RAE_DECODER = {  # ViT-XL decoder of the RAE checkpoints (Zheng et al. 2025)
    "decoder_hidden_size": 1152,
    "decoder_num_hidden_layers": 28,
    "decoder_num_attention_heads": 16,
    "decoder_intermediate_size": 4096,
    "patch_size": 16,
    "noise_tau": 0.8,  # the "n08" of the ids: training noise only, unused at inference
}


@dataclass(frozen=True)
class PaperRun:
    """The paper's protocol on one model, as the book's chapter runs it with the real weights.

    Attributes
    ----------
    experiment
        Which experiment, and the chapter that runs it.
    inputs
        Starts, images or sequences iterated (one draw of the starts; the book repeats it
        over its seeds).
    steps
        The cap on iterations: ``inputs × steps`` bounds the evaluations of ``f``.
    tol
        The stopping rule on ``‖f(z_{t+1}) − f(z_t)‖²`` (``None``: exactly ``steps`` steps).
    batch_size
        Inputs per forward pass in the chapter's cell.
    decodes
        Decoder calls besides the iteration: per step and input (the norms of App. B.8.1
        decode every iterate) and in total (Sec. 4.1 decodes every OMP reconstruction).
    """

    experiment: str
    inputs: int
    steps: int
    tol: float | None
    batch_size: int
    decodes_per_step: int = 0
    extra_decodes: int = 0

    @property
    def max_evaluations(self) -> int:
        """Evaluations of ``f`` if no input stops early (the time bound of the run)."""
        return self.inputs * self.steps


_PROBING = PaperRun(  # 4,096 starts; 6 datasets x 500 images coded at 9 levels, 2 dictionaries
    "Sec. 4.1 probing (chapter 10)", 4096, 500, 1e-5, 16, extra_decodes=6 * 500 * 9 * 2
)
_RAE_NORMS = PaperRun("App. B.8.1 norms (chapter 12)", 500, 300, None, 16, decodes_per_step=1)
_LM_NORMS = PaperRun("App. B.8.2 norms (chapter 12)", 1000, 300, None, 256)


@dataclass(frozen=True)
class PaperModel:
    """One of the paper's foundation models, as a configuration.

    Attributes
    ----------
    hub_id
        The checkpoint's id on the Hugging Face Hub.
    kind
        The :mod:`lvf.models.adapters` adapter that wraps it.
    library_class
        ``"diffusers.AutoencoderKL"``, ``"transformers.ViTMAEForPreTraining"``, …
    config
        Keyword arguments of the class's configuration, as in the checkpoint's ``config.json``.
    use
        What the paper uses it for.
    input
        What one input of the paper's protocol is: ``(3, S, S)`` images or ``(T,)`` tokens.
    run
        The paper's protocol on it (:class:`PaperRun`).
    notes
        How the random-weight copy differs from the checkpoint besides the weights.
    """

    hub_id: str
    kind: str
    library_class: str
    config: dict[str, Any]
    use: str
    input: tuple[int, ...]
    run: PaperRun
    notes: list[str] = field(default_factory=list)


PAPER_CONFIGS: dict[str, PaperModel] = {
    m.hub_id: m
    for m in [
        PaperModel(
            "stabilityai/sd-vae-ft-mse",
            "autoencoder_kl",
            "diffusers.AutoencoderKL",
            {**_SD_BLOCKS, "sample_size": 256, "scaling_factor": 0.18215},
            "Sec. 4.1: data-free probing, 4,096 starts, 256-px images",
            (3, 256, 256),
            _PROBING,
        ),
        PaperModel(
            "stabilityai/sdxl-vae",
            "autoencoder_kl",
            "diffusers.AutoencoderKL",
            {**_SD_BLOCKS, "sample_size": 1024, "scaling_factor": 0.13025, "force_upcast": True},
            "App. B.7: the probing of Sec. 4.1 on the SDXL autoencoder",
            (3, 256, 256),
            _PROBING,
        ),
        PaperModel(
            "facebook/vit-mae-base",
            "vit_mae",
            "transformers.ViTMAEForPreTraining",
            {
                "hidden_size": 768,
                "num_hidden_layers": 12,
                "num_attention_heads": 12,
                "intermediate_size": 3072,
                "image_size": 224,
                "patch_size": 16,
                "qkv_bias": True,
                "decoder_hidden_size": 512,
                "decoder_num_hidden_layers": 8,
                "decoder_num_attention_heads": 16,
                "decoder_intermediate_size": 2048,
                "mask_ratio": 0.75,
                "norm_pix_loss": False,
            },
            "Sec. 4.2: OOD detection from trajectories, 224-px images",
            (3, 224, 224),
            # 2,000 training images, then 2,000 ID and 4 x 2,000 OOD test images
            PaperRun("Sec. 4.2 OOD (chapter 11)", 2000 + 2000 + 4 * 2000, 500, 1e-5, 32),
        ),
        PaperModel(
            "nyu-visionx/RAE-dinov2-wReg-base-ViTXL-n08",
            "rae",
            "diffusers.AutoencoderRAE",
            {
                "encoder_type": "dinov2",
                "encoder_hidden_size": 768,
                "encoder_patch_size": 14,
                "encoder_num_hidden_layers": 12,
                "encoder_input_size": 224,
                **_RAE_DECODER,
            },
            "App. B.8.1: norms along 300 iterations, DINOv2-B encoder + ViT-XL decoder",
            (3, 256, 256),
            _RAE_NORMS,
            ["latent normalisation statistics: identity (the checkpoint's are per position)"],
        ),
        PaperModel(
            "nyu-visionx/RAE-siglip2-base-p16-i256-ViTXL-n08",
            "rae",
            "diffusers.AutoencoderRAE",
            {
                "encoder_type": "siglip2",
                "encoder_hidden_size": 768,
                "encoder_patch_size": 16,
                "encoder_num_hidden_layers": 12,
                "encoder_input_size": 256,
                **_RAE_DECODER,
            },
            "App. B.8.1: norms along 300 iterations, SigLIP2-B encoder + ViT-XL decoder",
            (3, 256, 256),
            _RAE_NORMS,
            ["latent normalisation statistics: identity (the checkpoint's are per position)"],
        ),
        PaperModel(
            "Qwen/Qwen3-0.6B",
            "causal_lm",
            "transformers.Qwen3ForCausalLM",
            {
                "vocab_size": 151936,
                "hidden_size": 1024,
                "intermediate_size": 3072,
                "num_hidden_layers": 28,
                "num_attention_heads": 16,
                "num_key_value_heads": 8,
                "head_dim": 128,
                "hidden_act": "silu",
                "max_position_embeddings": 40960,
                "max_window_layers": 28,
                "rms_norm_eps": 1e-6,
                "rope_theta": 1000000,
                "attention_bias": False,
                "tie_word_embeddings": True,
                "bos_token_id": 151643,
                "eos_token_id": 151645,
            },
            "App. B.8.2: residual stream iterated 300 times, 1,000 sequences",
            (64,),
            _LM_NORMS,
        ),
        PaperModel(
            "HuggingFaceTB/SmolLM2-1.7B",
            "causal_lm",
            "transformers.LlamaForCausalLM",
            {
                "vocab_size": 49152,
                "hidden_size": 2048,
                "intermediate_size": 8192,
                "num_hidden_layers": 24,
                "num_attention_heads": 32,
                "num_key_value_heads": 32,
                "hidden_act": "silu",
                "max_position_embeddings": 8192,
                "rms_norm_eps": 1e-5,
                "rope_theta": 130000,
                "attention_bias": False,
                "mlp_bias": False,
                "tie_word_embeddings": True,
                "bos_token_id": 1,
                "eos_token_id": 2,
                "pad_token_id": 2,
            },
            "App. B.8.2: residual stream iterated 300 times, 1,000 sequences",
            (64,),
            _LM_NORMS,
        ),
    ]
}
"""Hub id -> :class:`PaperModel`: the published configuration of each of the paper's models."""


def _paper_model(hub_id: str) -> PaperModel:
    if hub_id not in PAPER_CONFIGS:
        raise KeyError(
            f"{hub_id!r} is not one of the paper's models; use one of: {', '.join(PAPER_CONFIGS)}"
        )
    return PAPER_CONFIGS[hub_id]


def build(hub_id: str, *, seed: int = 0, dtype: torch.dtype = torch.float32) -> nn.Module:
    """The network of ``hub_id`` at its published size, with random weights (eval mode).

    The weights are the library's own initialisation under ``torch.manual_seed(seed)``
    (inside :func:`torch.random.fork_rng`: the caller's random state is untouched).
    """
    m = _paper_model(hub_id)
    module, cls_name = m.library_class.split(".")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if module == "diffusers":
            import diffusers

            from lvf.models.adapters import siglip_layout

            with siglip_layout():
                net = getattr(diffusers, cls_name)(**m.config)
        else:
            import transformers

            cls = getattr(transformers, cls_name)
            net = cls(cls.config_class(**m.config))
    if dtype != torch.float32:
        net = net.to(dtype)
    return net.eval().requires_grad_(False)


def n_parameters(model: nn.Module) -> int:
    """Number of parameters (tied weights counted once)."""
    return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())


def _stand_in_tokenizer(vocab_size: int, max_length: int):
    """A byte-level BPE trained on Python's standard library source (``tokenizers``), as a
    transformers ``PreTrainedTokenizerFast``; every id it gives is below ``vocab_size``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from lvf.models.tinylm import stdlib_text

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    size = min(vocab_size, 4096)
    trainer = trainers.BpeTrainer(
        vocab_size=size,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    text = stdlib_text(400_000).decode("utf-8", "ignore")
    tok.train_from_iterator([text[i : i + 10_000] for i in range(0, len(text), 10_000)], trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, model_max_length=max_length)


def weights_dir() -> Path | None:
    """``$LVF_WEIGHTS`` as a path, or ``None`` when it is not set."""
    env = os.environ.get("LVF_WEIGHTS", "").strip()
    return Path(env).expanduser() if env else None


def is_random(folder: str | os.PathLike[str]) -> bool:
    """Whether ``folder`` was written by :func:`save` (random weights, not the paper's)."""
    return (Path(folder) / MARKER).is_file()


def save(
    hub_id: str,
    root: str | os.PathLike[str] | None = None,
    *,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
    overwrite: bool = False,
) -> Path:
    """Build ``hub_id`` at full size (:func:`build`) and ``save_pretrained`` it to
    ``root/<hub_id>`` (default root ``$LVF_WEIGHTS``), with :data:`MARKER` and, for a causal
    LM, the stand-in tokenizer.

    The folder is written under a temporary name and renamed when complete, so an interrupted
    call never leaves a half-written model behind. An existing folder made by :func:`save` is
    kept (``overwrite=True`` rebuilds it); one holding other weights (real ones) is never
    touched: :class:`FileExistsError`.

    Returns
    -------
    pathlib.Path
        The model's folder, to give to an adapter (or found by hub id through
        ``LVF_WEIGHTS``).
    """
    m = _paper_model(hub_id)
    base = Path(root).expanduser() if root is not None else weights_dir()
    if base is None:
        raise ValueError("say where to save: pass root= or set LVF_WEIGHTS to a folder")
    target = base / hub_id
    if target.exists():
        if not is_random(target):
            raise FileExistsError(
                f"{target} exists and does not hold lvf's random weights (no {MARKER}); "
                "it may be the real checkpoint: move it away or choose another root"
            )
        if not overwrite:
            return target
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        net = build(hub_id, seed=seed, dtype=dtype)
        net.save_pretrained(tmp)
        if m.kind == "causal_lm":
            cfg = m.config
            _stand_in_tokenizer(cfg["vocab_size"], cfg["max_position_embeddings"]).save_pretrained(
                tmp
            )
        (tmp / MARKER).write_text(
            json.dumps(
                {
                    "hub_id": hub_id,
                    "what": "random weights of the published architecture, built by "
                    "lvf.models.fullsize.save; NOT the paper's model",
                    "seed": seed,
                    "dtype": str(dtype),
                    "parameters": n_parameters(net),
                    "tokenizer": "stand-in byte-level BPE (Python source)"
                    if m.kind == "causal_lm"
                    else None,
                },
                indent=2,
            )
        )
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target
