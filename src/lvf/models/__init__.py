"""Every model the book uses, behind one registry.

* :mod:`~lvf.models.autoencoders` — the paper's convolutional autoencoder (Table 4) and an MLP
  autoencoder for 2-D toy data;
* :mod:`~lvf.models.spatial` — a small autoencoder with a spatial latent, like the Stable
  Diffusion VAE's;
* :mod:`~lvf.models.tied` — a one-hidden-layer tied-weight autoencoder (a conservative field);
* :mod:`~lvf.models.denoising` — the wrapper that corrupts the input while training;
* :mod:`~lvf.models.tinylm` — a tiny byte-level causal language model (transformers classes);
* :mod:`~lvf.models.adapters` — pretrained models (diffusers, transformers) as latent maps.

Models the book trains are built by name (:func:`build_model`), which is how
:class:`lvf.train.TrainConfig` refers to them; :func:`register_model` adds one of your own.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from lvf.models.autoencoders import MLPAE, ConvAE
from lvf.models.denoising import Denoising
from lvf.models.spatial import SpatialConvAE
from lvf.models.tied import TiedAE

__all__ = [
    "MODELS",
    "ConvAE",
    "Denoising",
    "MLPAE",
    "SpatialConvAE",
    "TiedAE",
    "build_model",
    "count_parameters",
    "model_class",
    "register_model",
]


MODELS: dict[str, type[nn.Module]] = {
    "conv": ConvAE,
    "mlp": MLPAE,
    "spatial": SpatialConvAE,
    "tied": TiedAE,
}
"""Model names accepted by :func:`build_model` (and :class:`lvf.train.TrainConfig`)."""


def register_model(name: str, cls: type[nn.Module]) -> None:
    """Make ``cls`` buildable (and trainable with the cache) as ``name``.

    Raises
    ------
    ValueError
        If ``name`` is already taken by another class.
    """
    if MODELS.get(name, cls) is not cls:
        raise ValueError(f"The model name {name!r} is taken by {MODELS[name].__name__}.")
    MODELS[name] = cls


def model_class(name: str) -> type[nn.Module]:
    """The class registered as ``name``.

    Raises
    ------
    ValueError
        If no model has that name; the message lists the known names.
    """
    if name not in MODELS:
        known = sorted(MODELS)
        raise ValueError(f"Unknown model {name!r}; known models: {', '.join(known)}.")
    return MODELS[name]


def build_model(name: str, **kwargs: Any) -> nn.Module:
    """Build a model by name, e.g. ``build_model("conv", k=16)``.

    Parameters
    ----------
    name
        A key of :data:`MODELS`: ``"conv"`` (:class:`ConvAE`), ``"mlp"`` (:class:`MLPAE`),
        ``"spatial"`` (:class:`SpatialConvAE`), ``"tied"`` (:class:`TiedAE`) or one added by
        :func:`register_model`.
    **kwargs
        Passed to the model's constructor.

    Returns
    -------
    torch.nn.Module
        A freshly initialised model (initialised from torch's global RNG).
    """
    cls = model_class(name)
    try:
        return cls(**kwargs)
    except TypeError as err:
        raise TypeError(f"Bad arguments for model {name!r} ({cls.__name__}): {err}") from err


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters of ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
