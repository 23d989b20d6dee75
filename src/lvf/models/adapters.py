"""Pretrained models of the field as latent maps ``f = E ∘ D``, through their own libraries.

The paper iterates ``f(z) = E(D(z))`` on foundation models (Secs. 4.1, 4.2, App. B.8). This
module wraps each of them as an :class:`Adapter` — an encoder, a decoder and the
:class:`lvf.LatentMap` they make — using the libraries the models are published with:

=====================  ==============================  ===================================
adapter                library class                   latent ``z``
=====================  ==============================  ===================================
:func:`autoencoder_kl`  diffusers ``AutoencoderKL``      ``(N, 4, H/8, W/8)`` posterior mean
:func:`vit_mae`         transformers                     ``(N, 1 + L, d)`` encoder tokens
                        ``ViTMAEForPreTraining``         (CLS + all patches, in order)
:func:`causal_lm`       transformers causal LMs          ``(N, T, d)`` residual stream
:func:`rae`             diffusers ``AutoencoderRAE``     ``(N, d, h, w)`` SSL features
=====================  ==============================  ===================================

Each takes a model object (e.g. one built from a tiny random configuration, as the tests
do) or a hub id / local folder, which is passed to the library's ``from_pretrained``. When
the weights are neither in the local Hugging Face cache nor in the given folder, and the Hub
cannot be reached, :class:`WeightsNotFoundError` says which weights are missing and how to
get them. ``local_files_only=None`` (the default) tries the network only when the Hub answers
(and ``HF_HUB_OFFLINE`` is not set), so an offline machine fails at once instead of retrying.

Where weights are looked for, in order: a folder given as the name; ``$LVF_WEIGHTS/<hub id>``
when the environment variable ``LVF_WEIGHTS`` names a folder of model folders (so every
chapter finds them by hub id); the Hugging Face cache; the Hub. A folder written by
:func:`lvf.models.fullsize.save` holds *random* weights of the published architecture: the
adapter loaded from it has ``random_weights=True`` and a warning says so.

Devices and dtypes: an adapter's ``encode``/``decode`` move the wrapped model to the device and
floating dtype of their input the first time they differ (in place), so float64 or bfloat16
latents give float64 or bfloat16 latents back, on the device they came from.

The paper's checkpoints (the ids are the book's inference, the paper gives none: see the book's
page "Where the paper is silent", ``choice-checkpoints``) are in
:data:`PAPER_MODELS`; :func:`load` picks the right adapter for them.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import logging
import os
import socket
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import torch
from torch import Tensor, nn

from lvf.latent_map import LatentMap

__all__ = [
    "PAPER_MODELS",
    "Adapter",
    "RandomWeightsWarning",
    "WeightsNotFoundError",
    "autoencoder_kl",
    "causal_lm",
    "hub_reachable",
    "load",
    "rae",
    "resolve",
    "siglip_layout",
    "vit_mae",
]

PAPER_MODELS: dict[str, tuple[str, str]] = {
    "stabilityai/sd-vae-ft-mse": ("autoencoder_kl", "Stable Diffusion VAE (Sec. 4.1)"),
    "stabilityai/sdxl-vae": ("autoencoder_kl", "Stable Diffusion XL VAE (App. B.7)"),
    "facebook/vit-mae-base": ("vit_mae", "ViT-MAE base (Sec. 4.2)"),
    "Qwen/Qwen3-0.6B": ("causal_lm", "Qwen3-0.6B (App. B.8.2)"),
    "HuggingFaceTB/SmolLM2-1.7B": ("causal_lm", "SmolLM2-1.7B (App. B.8.2)"),
    "nyu-visionx/RAE-dinov2-wReg-base-ViTXL-n08": ("rae", "DINOv2-B + RAE decoder (B.8.1)"),
    "nyu-visionx/RAE-siglip2-base-p16-i256-ViTXL-n08": ("rae", "SigLIP2-B + RAE decoder (B.8.1)"),
}
"""Hub id -> (adapter name, what the paper uses it for)."""

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class WeightsNotFoundError(OSError):
    """Pretrained weights are not available locally and could not be downloaded."""


class RandomWeightsWarning(UserWarning):
    """The weights loaded are random (:mod:`lvf.models.fullsize`), not the paper's model."""


def resolve(name: str) -> str:
    """The folder or hub id ``from_pretrained`` is given for ``name``: ``name`` itself when it
    is a folder, else ``$LVF_WEIGHTS/<name>`` when that folder exists, else ``name``."""
    if os.path.isdir(name):
        return name
    root = os.environ.get("LVF_WEIGHTS", "").strip()
    if root:
        candidate = os.path.join(os.path.expanduser(root), name)
        if os.path.isdir(candidate):
            return candidate
    return name


def _is_random(folder: str) -> bool:
    return os.path.isfile(os.path.join(folder, "LVF_RANDOM_WEIGHTS.json"))


@functools.cache
def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hugging Face Hub answers a TCP connection (cached for the session).

    ``False`` at once when ``HF_HUB_OFFLINE`` is set. Honours ``HF_ENDPOINT`` (mirrors).
    """
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        return False
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    url = urlparse(endpoint)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname or "huggingface.co", port), timeout=timeout):
            return True
    except OSError:
        return False


def _missing_message(what: str, name: str, offline: bool, err: BaseException) -> str:
    where = (
        "no local copy was found and the Hugging Face Hub is not reachable from here"
        if offline
        else "loading failed"
    )
    return (
        f"Could not load the pretrained weights {name!r} ({what}): {where}.\n"
        "To use them, do one of:\n"
        f"  * download them on a machine with network access:  hf download {name}\n"
        f"    (older huggingface_hub: huggingface-cli download {name}), then copy the\n"
        "    Hugging Face cache (~/.cache/huggingface/hub, or $HF_HOME/hub) to this machine;\n"
        "  * put the model's folder (config.json and *.safetensors) on disk and pass its path\n"
        "    instead of the hub id;\n"
        "  * run with network access (and HF_HUB_OFFLINE unset) so it downloads by itself.\n"
        f"The library said: {type(err).__name__}: {str(err).strip().splitlines()[0][:300]}"
    )


def _from_pretrained(
    cls: Any, name: str, what: str, local_files_only: bool | None, **kwargs: Any
) -> Any:
    """``cls.from_pretrained(resolve(name), ...)``; a failure to find the weights becomes
    :class:`WeightsNotFoundError` with instructions."""
    name = resolve(name)
    offline = not hub_reachable() if local_files_only is None else local_files_only
    if cls.__module__.startswith("diffusers") and importlib.util.find_spec("accelerate") is None:
        kwargs.setdefault("low_cpu_mem_usage", False)  # what diffusers falls back to anyway
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*local_dir_use_symlinks.*")
            return cls.from_pretrained(name, local_files_only=offline, **kwargs)
    except (OSError, ValueError) as err:  # the libraries raise OSError / EnvironmentError
        if os.path.isdir(name) and not isinstance(err, FileNotFoundError):
            raise  # a local folder that exists but does not load: show the real error
        raise WeightsNotFoundError(_missing_message(what, name, offline, err)) from err


@contextlib.contextmanager
def _quiet(*loggers: str):
    """Silence the libraries' INFO/WARNING log lines (e.g. diffusers' note on casting)."""
    saved = [(lg, lg.level) for lg in map(logging.getLogger, loggers)]
    for lg, _ in saved:
        lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg, level in saved:
            lg.setLevel(level)


def _follow(model: nn.Module, t: Tensor) -> None:
    """Move ``model`` (in place) to the device and floating dtype of ``t`` when they differ."""
    p = next(model.parameters(), None)
    if p is not None and (p.device != t.device or p.dtype != t.dtype):
        with _quiet("diffusers", "transformers"):
            model.to(device=t.device, dtype=t.dtype)


@dataclass
class Adapter:
    """A pretrained model seen as an autoencoder.

    Attributes
    ----------
    name
        Hub id, folder or class name of the wrapped model.
    kind
        ``"autoencoder_kl"``, ``"vit_mae"``, ``"causal_lm"`` or ``"rae"``.
    model
        The library's model object (eval mode).
    encode
        Inputs in model space -> latents ``z``.
    decode
        Latents -> model-space outputs (for a causal LM the identity: the map is the network).
    preprocess, postprocess
        Images in ``[0, 1]`` ``(N, 3, H, W)`` -> model space, and back (``None`` for text).
    latent_scale
        The library's latent scaling factor ``s`` (diffusers ``scaling_factor``): ``s · z`` is
        the roughly unit-variance latent diffusion models use. 1 where there is none.
    latent_shift
        diffusers ``shift_factor`` (0 when absent): the scaled latent is ``s · (z - shift)``.
    tokenizer
        The tokenizer of a causal LM loaded by id (``None`` otherwise).
    notes
        Choices made for this model, in words.
    random_weights
        ``True`` when the weights came from a folder of :func:`lvf.models.fullsize.save`:
        the published architecture with random weights, good for costs, not for results.
    """

    name: str
    kind: str
    model: nn.Module
    encode: Callable[[Tensor], Tensor]
    decode: Callable[[Tensor], Tensor]
    preprocess: Callable[[Tensor], Tensor] | None = None
    postprocess: Callable[[Tensor], Tensor] | None = None
    latent_scale: float = 1.0
    latent_shift: float = 0.0
    tokenizer: Any = None
    notes: list[str] = field(default_factory=list)
    random_weights: bool = False

    def latent_map(self) -> LatentMap:
        """``f(z) = encode(decode(z))`` as an :class:`lvf.LatentMap`."""
        return LatentMap(self.encode, self.decode)

    def to_raw(self, z_scaled: Tensor) -> Tensor:
        """Scaled (unit-variance) latents -> the raw latents ``encode`` returns."""
        return z_scaled / self.latent_scale + self.latent_shift

    def to_scaled(self, z: Tensor) -> Tensor:
        """Raw latents -> the scaled latents ``s · (z - shift)``."""
        return (z - self.latent_shift) * self.latent_scale

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.model.parameters()).dtype

    def to(self, device: str | torch.device | None = None, dtype: torch.dtype | None = None):
        """Move the wrapped model; returns ``self``."""
        self.model.to(device=device, dtype=dtype)
        return self

    def __repr__(self) -> str:
        return (
            f"Adapter({self.kind}: {self.name!r}, {self.dtype}, {self.device}, "
            f"latent_scale={self.latent_scale:g})"
        )


def _diffusers_codec(model: nn.Module, latent_of: Callable[[Any], Tensor]):
    """``encode``/``decode`` of a diffusers autoencoder: ``latent_of(model.encode(x))`` and
    ``model.decode(z).sample``, each following its input's device and dtype."""

    def encode(x: Tensor) -> Tensor:
        _follow(model, x)
        return latent_of(model.encode(x))

    def decode(z: Tensor) -> Tensor:
        _follow(model, z)
        return model.decode(z).sample

    return encode, decode


def _provenance(adapter: Adapter, model: Any) -> Adapter:
    """Mark (and warn about) an adapter whose weights came from a folder of random weights."""
    if isinstance(model, str) and _is_random(resolve(model)):
        adapter.random_weights = True
        msg = (
            f"{model!r} was loaded from {resolve(model)}, which holds random weights of the "
            "published architecture (lvf.models.fullsize), not the trained model: use it for "
            "costs and code paths, never for results"
        )
        adapter.notes.append(msg)
        warnings.warn(msg, RandomWeightsWarning, stacklevel=3)
    return adapter


def _prepare(model: nn.Module, device, dtype) -> nn.Module:
    model.eval().requires_grad_(False)
    if device is not None or dtype is not None:
        model.to(device=device, dtype=dtype)
    return model


# --------------------------------------------------------------------------------------------
# diffusers AutoencoderKL (Stable Diffusion VAEs)
# --------------------------------------------------------------------------------------------


def autoencoder_kl(
    model: Any = "stabilityai/sd-vae-ft-mse",
    *,
    subfolder: str | None = None,
    device: str | torch.device | None = None,
    dtype: torch.dtype | None = None,
    local_files_only: bool | None = None,
) -> Adapter:
    """A diffusers ``AutoencoderKL`` (the Stable Diffusion VAE) as an :class:`Adapter`.

    ``encode``: images in ``[-1, 1]`` ``(N, 3, H, W)`` -> the posterior **mean**
    ``latent_dist.mean``, raw (unscaled) ``(N, C_z, H/8, W/8)`` (``choice-sd-checkpoint``: no
    sampling,
    so ``f`` is deterministic). ``decode``: raw latents -> ``.sample``, images in about
    ``[-1, 1]`` (not clamped). The library's ``scaling_factor`` (0.18215 for SD 1.x, 0.13025
    for SDXL) and ``shift_factor`` are kept as ``latent_scale``/``latent_shift``: the book
    iterates raw latents and draws noise starts ``N(0, I)`` in the scaled space
    (:meth:`Adapter.to_raw`).

    Parameters
    ----------
    model
        An ``AutoencoderKL`` object, or a hub id / local folder for ``from_pretrained``
        (default the SD VAE ``stabilityai/sd-vae-ft-mse``; SDXL: ``stabilityai/sdxl-vae``;
        a full pipeline repository with ``subfolder="vae"``).
    """
    from diffusers import AutoencoderKL

    if isinstance(model, str):
        name = model if subfolder is None else f"{model}/{subfolder}"
        kw = {"subfolder": subfolder} if subfolder else {}
        vae = _from_pretrained(
            AutoencoderKL, model, "diffusers AutoencoderKL", local_files_only, **kw
        )
    else:
        vae, name = model, type(model).__name__
    vae = _prepare(vae, device, dtype)
    cfg = vae.config

    encode, decode = _diffusers_codec(vae, lambda out: out.latent_dist.mean)
    adapter = Adapter(
        name=name,
        kind="autoencoder_kl",
        model=vae,
        encode=encode,
        decode=decode,
        preprocess=lambda x: 2.0 * x - 1.0,
        postprocess=lambda x: ((x + 1.0) / 2.0).clamp(0.0, 1.0),
        latent_scale=float(cfg.scaling_factor),
        latent_shift=float(cfg.shift_factor or 0.0),
        notes=[
            "encoder output = posterior mean (latent_dist.mean); images in [-1, 1]",
            f"latents raw; scaled latent = {float(cfg.scaling_factor):g} * z",
        ],
    )
    return _provenance(adapter, model)


# --------------------------------------------------------------------------------------------
# transformers ViTMAEForPreTraining
# --------------------------------------------------------------------------------------------


def vit_mae(
    model: Any = "facebook/vit-mae-base",
    *,
    device: str | torch.device | None = None,
    dtype: torch.dtype | None = None,
    local_files_only: bool | None = None,
) -> Adapter:
    """A transformers ``ViTMAEForPreTraining`` as an :class:`Adapter` (``choice-vitmae``).

    Masking is switched off (``mask_ratio = 0``) and patches are **not shuffled**: the encoder
    gets the identity ``noise = [0, 1, …, L-1]``, so ``argsort(noise)`` keeps the patch order
    and ``ids_restore`` is the identity (transformers draws random noise when none is given,
    which would permute the tokens at every call even with ``mask_ratio = 0``).

    ``encode``: ImageNet-normalised images ``(N, 3, S, S)`` (see ``preprocess``) -> encoder
    tokens ``last_hidden_state`` ``(N, 1 + L, d)``, CLS first (197 × 768 for the base model).
    ``decode``: tokens -> MAE decoder -> ``unpatchify`` -> images in the same normalised pixel
    space. If the model was trained with ``norm_pix_loss`` its decoder predicts per-patch
    standardised pixels; the patch statistics are not in ``z``, so the decoded image is left
    patch-normalised (a warning says so).
    """
    from transformers import ViTMAEForPreTraining

    if isinstance(model, str):
        mae = _from_pretrained(
            ViTMAEForPreTraining, model, "transformers ViTMAEForPreTraining", local_files_only
        )
        name = model
    else:
        mae, name = model, type(model).__name__
    mae = _prepare(mae, device, dtype)
    mae.config.mask_ratio = 0.0
    mae.vit.embeddings.config.mask_ratio = 0.0
    notes = ["mask_ratio = 0, identity patch order (noise = arange)", "latent = encoder tokens"]
    if getattr(mae.config, "norm_pix_loss", False):
        msg = (
            f"{name} was trained with norm_pix_loss: its decoder predicts per-patch normalised "
            "pixels, so decoded images are patch-normalised (patch means and variances are not "
            "part of the latent)."
        )
        warnings.warn(msg, stacklevel=2)
        notes.append(msg)
    size = mae.config.image_size
    size = size if isinstance(size, int) else size[0]
    n_patches = (size // mae.config.patch_size) ** 2
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)

    def order(t: Tensor) -> Tensor:
        return torch.arange(n_patches, device=t.device).expand(t.shape[0], -1)

    def encode(x: Tensor) -> Tensor:
        _follow(mae, x)
        noise = order(x).float()  # argsort(noise) = identity: no shuffling
        return mae.vit(pixel_values=x, noise=noise).last_hidden_state

    def decode(z: Tensor) -> Tensor:
        _follow(mae, z)
        if z.shape[1] != n_patches + 1:
            raise ValueError(f"expected {n_patches + 1} tokens (CLS + patches), got {z.shape[1]}")
        logits = mae.decoder(z, order(z)).logits
        return mae.unpatchify(logits)

    adapter = Adapter(
        name=name,
        kind="vit_mae",
        model=mae,
        encode=encode,
        decode=decode,
        preprocess=lambda x: (x - mean.to(x)) / std.to(x),
        postprocess=lambda x: (x * std.to(x) + mean.to(x)).clamp(0.0, 1.0),
        notes=notes,
    )
    return _provenance(adapter, model)


# --------------------------------------------------------------------------------------------
# transformers causal language models
# --------------------------------------------------------------------------------------------


def causal_lm(
    model: Any = "Qwen/Qwen3-0.6B",
    *,
    final_norm: bool = False,
    device: str | torch.device | None = None,
    dtype: torch.dtype | None = None,
    local_files_only: bool | None = None,
) -> Adapter:
    """A transformers causal language model's residual stream as a map (App. B.8.2).

    ``f(h) = stack(inputs_embeds = h)``: the whole residual stream (all decoder layers) with
    the hidden states ``h`` ``(N, T, d)`` fed back as input embeddings. The output is the last
    layer's hidden state **before** the final norm (``choice-llm-iteration``; ``final_norm=True``
    takes it after the norm). The language-model head is not used. ``encode`` is the stack,
    ``decode`` the identity; start from token embeddings with ``adapter.embed(input_ids)``.
    No attention mask: give equal-length sequences (causal attention only).
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = None
    if isinstance(model, str):
        lm = _from_pretrained(
            AutoModelForCausalLM, model, "transformers AutoModelForCausalLM", local_files_only
        )
        try:
            tokenizer = AutoTokenizer.from_pretrained(resolve(model), local_files_only=True)
        except (OSError, ValueError):
            tokenizer = None
        name = model
    else:
        lm, name = model, type(model).__name__
    lm = _prepare(lm, device, dtype)
    base = lm.base_model
    norm = getattr(base, "norm", None)
    if not final_norm and not isinstance(norm, nn.Module):
        raise ValueError(
            f"{type(base).__name__} has no final `.norm` module to read the pre-norm hidden "
            "state from; pass final_norm=True to use last_hidden_state"
        )
    captured: dict[str, Tensor] = {}

    def grab(_module: nn.Module, args: tuple) -> None:
        captured["h"] = args[0]

    def encode(h: Tensor) -> Tensor:
        _follow(lm, h)
        if final_norm:
            return base(inputs_embeds=h, use_cache=False).last_hidden_state
        handle = norm.register_forward_pre_hook(grab)
        try:
            base(inputs_embeds=h, use_cache=False)
        finally:
            handle.remove()
        return captured.pop("h")

    adapter = Adapter(
        name=name,
        kind="causal_lm",
        model=lm,
        encode=encode,
        decode=lambda h: h,
        tokenizer=tokenizer,
        notes=[
            "f = decoder stack with inputs_embeds = h; output "
            + ("after" if final_norm else "before")
            + " the final norm"
        ],
    )
    adapter.embed = lambda ids: lm.get_input_embeddings()(ids.to(adapter.device))  # type: ignore[attr-defined]
    return _provenance(adapter, model)


# --------------------------------------------------------------------------------------------
# diffusers AutoencoderRAE (SSL encoders with pretrained decoders)
# --------------------------------------------------------------------------------------------


def rae(
    model: Any = "nyu-visionx/RAE-dinov2-wReg-base-ViTXL-n08",
    *,
    device: str | torch.device | None = None,
    local_files_only: bool | None = None,
    dtype: torch.dtype | None = None,
) -> Adapter:
    """A diffusers ``AutoencoderRAE`` (frozen DINOv2 / SigLIP2 / MAE encoder with the trained
    ViT decoder of Zheng et al. 2025) as an :class:`Adapter` (App. B.8.1, ``choice-rae-decoders``).

    ``encode``: images in ``[0, 1]`` (resized and ImageNet-normalised inside) -> the
    normalised encoder features ``(N, d, h, w)`` (``.latent``); ``decode`` -> ``.sample``,
    images in about ``[0, 1]``.
    """
    from diffusers import AutoencoderRAE

    if isinstance(model, str):
        with siglip_layout():
            ae = _from_pretrained(
                AutoencoderRAE, model, "diffusers AutoencoderRAE", local_files_only
            )
        name = model
    else:
        ae, name = model, type(model).__name__
    ae = _prepare(ae, device, dtype)

    encode, decode = _diffusers_codec(ae, lambda out: out.latent)
    adapter = Adapter(
        name=name,
        kind="rae",
        model=ae,
        encode=encode,
        decode=decode,
        preprocess=lambda x: x,
        postprocess=lambda x: x.clamp(0.0, 1.0),
        notes=[f"encoder {ae.config.encoder_type}; latent = normalised encoder features"],
    )
    return _provenance(adapter, model)


class _SiglipLayout(nn.Module):
    """A transformers ``SiglipVisionModel`` under the attribute ``vision_model``: the layout of
    transformers 4 (``SiglipVisionModel.vision_model.{embeddings, encoder, post_layernorm,
    head}``), which diffusers' ``AutoencoderRAE`` and the RAE checkpoints' weight names use."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.vision_model = inner
        self.config = inner.config

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.vision_model(*args, **kwargs)


@contextlib.contextmanager
def siglip_layout():
    """Build SigLIP2 ``AutoencoderRAE`` models with transformers 5 inside this block.

    diffusers 0.42's ``AutoencoderRAE`` builds its SigLIP2 encoder as a transformers
    ``SiglipVisionModel`` and reaches into ``model.vision_model``; transformers 5 flattened
    that class (no ``vision_model`` attribute), so building or loading
    ``nyu-visionx/RAE-siglip2-…`` fails with ``AttributeError``. No released diffusers fixes
    it (found by building the network at full size, ``lvf.models.fullsize``), hence this
    shim: within the block, diffusers' module sees a ``SiglipVisionModel`` wrapped in
    :class:`_SiglipLayout`, which restores the old layout, so the attribute exists and the
    weight names (``encoder.vision_model.…``) are those of the checkpoints. With a
    transformers that still has ``vision_model``, it changes nothing.
    """
    from diffusers.models.autoencoders import autoencoder_rae as rae_module

    original = getattr(rae_module, "SiglipVisionModel", None)
    if original is None or "vision_model" in original.__init__.__code__.co_names:
        yield
        return

    def wrapped(config: Any) -> nn.Module:
        return _SiglipLayout(original(config))

    rae_module.SiglipVisionModel = wrapped
    try:
        yield
    finally:
        rae_module.SiglipVisionModel = original


_ADAPTERS: dict[str, Callable[..., Adapter]] = {
    "autoencoder_kl": autoencoder_kl,
    "vit_mae": vit_mae,
    "causal_lm": causal_lm,
    "rae": rae,
}


def load(name: str, kind: str | None = None, **kwargs: Any) -> Adapter:
    """The adapter for a hub id or folder: ``kind`` names the adapter (one of
    ``autoencoder_kl``, ``vit_mae``, ``causal_lm``, ``rae``); for the ids of
    :data:`PAPER_MODELS` it may be left out. Other keywords go to the adapter function."""
    if kind is None:
        if name not in PAPER_MODELS:
            raise ValueError(
                f"say which adapter {name!r} needs: kind= one of {', '.join(_ADAPTERS)}"
            )
        kind = PAPER_MODELS[name][0]
    if kind not in _ADAPTERS:
        raise ValueError(f"unknown adapter kind {kind!r}; use one of {', '.join(_ADAPTERS)}")
    return _ADAPTERS[kind](name, **kwargs)
