"""Denoising autoencoders: training with Gaussian input noise (the paper's Eq. 2), cached.

The paper lists augmentation as one source of contraction (Sec. 2, Eq. 2): training on
corrupted inputs, ``‖x - F(x + ε)‖²`` with ``ε ~ N(0, s² I)``, gives a denoising autoencoder
(DAE). For small ``s`` the optimal DAE satisfies ``F(x) - x ≈ s² ∇ log p(x)`` (Alain & Bengio,
2014): the field points along the score, which is what the paper's Theorem 1 asserts for the
latent field under local contraction.

:class:`Denoising` wraps any autoencoder so that its ``forward`` corrupts the input in training
mode only (like dropout), so :func:`lvf.train.fit` trains a DAE unchanged. :func:`trained`
trains one from a :class:`lvf.train.TrainConfig` plus the noise level and caches it on disk
next to the models of :func:`lvf.train.trained`, keyed by the configuration and the noise.
"""

from __future__ import annotations

import hashlib
import json
import time
import warnings

import torch
from torch import Tensor, nn

from lvf.paths import atomic_write, cache_dir
from lvf.train import CacheWarning, TrainConfig, TrainedModel, fit, training_data

__all__ = ["Denoising", "cache_path", "trained"]

_FORMAT = 1  # bump when training here changes


class Denoising(nn.Module):
    """``forward(x) = model(x + s ε)`` while training, ``model(x)`` in eval mode.

    Parameters
    ----------
    model
        An autoencoder (``encode``, ``decode``, ``forward``); its parameters are shared.
    noise_std
        ``s``, the standard deviation of the Gaussian corruption (0: a plain autoencoder).

    The noise is drawn from torch's global generator (seed it for reproducible training).
    ``encode``, ``decode`` and ``latent_map`` are those of the wrapped model.
    """

    def __init__(self, model: nn.Module, noise_std: float) -> None:
        super().__init__()
        if not noise_std >= 0:
            raise ValueError(f"noise_std must be >= 0, got {noise_std!r}")
        self.model = model
        self.noise_std = float(noise_std)

    def forward(self, x: Tensor) -> Tensor:
        if self.training and self.noise_std > 0:
            x = x + self.noise_std * torch.randn_like(x)
        return self.model(x)

    def encode(self, x: Tensor) -> Tensor:
        return self.model.encode(x)

    def decode(self, z: Tensor) -> Tensor:
        return self.model.decode(z)

    def latent_map(self):
        return self.model.latent_map()


def _key(config: TrainConfig, noise_std: float) -> str:
    text = json.dumps({"format": _FORMAT, "config": config.key(), "noise_std": noise_std})
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def cache_path(config: TrainConfig, noise_std: float):
    """Cache file of the DAE ``(config, noise_std)``."""
    dataset = config.dataset.replace(":", "-").replace("/", "-")
    name = f"dae-{config.model}-{dataset}-{_key(config, noise_std)}.pt"
    return cache_dir() / "models" / name


def trained(
    config: TrainConfig,
    noise_std: float,
    *,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> TrainedModel:
    """The DAE trained with ``config`` and input noise ``noise_std``, from the cache if present.

    The recipe is :func:`lvf.train.fit` with every setting of ``config`` (optimiser, schedule,
    weight decay, epochs, batch size, seeds) on :func:`lvf.train.training_data` ``(config)``;
    the only change is the corruption of each mini-batch. Initialisation and noise are drawn
    under ``torch.manual_seed(config.seed)`` inside :func:`torch.random.fork_rng`.
    ``config.save_epochs`` is ignored (no checkpoints).

    Returns
    -------
    lvf.train.TrainedModel
        ``model`` is the bare autoencoder (``config.build()``), in eval mode; ``history`` as
        in :func:`lvf.train.fit`, plus ``"train_seconds"`` and ``"noise_std"``.
    """
    noise_std = float(noise_std)
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    path = cache_path(config, noise_std)
    if path.exists():
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
            if payload.get("config") != config.to_json() or payload.get("noise_std") != noise_std:
                raise ValueError("stored configuration differs from the requested one")
            model = config.build()
            model.load_state_dict(payload["state_dict"])
            return TrainedModel(
                model.to(device).eval(), config, payload["history"], {}, path, from_cache=True
            )
        except Exception as err:
            warnings.warn(
                f"The cached DAE {path} is unreadable or stale ({type(err).__name__}: {err}); "
                "retraining it.",
                CacheWarning,
                stacklevel=2,
            )
    x_train = training_data(config)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(config.seed)
        model = config.build().to(device)
        start = time.perf_counter()
        dae = Denoising(model, noise_std)
        history = fit(dae, x_train, **config.fit_kwargs(), progress=progress)
    history["train_seconds"] = [time.perf_counter() - start]
    history["noise_std"] = [noise_std]
    state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
    payload = {
        "format": _FORMAT,
        "config": config.to_json(),
        "noise_std": noise_std,
        "state_dict": state,
        "history": history,
    }
    atomic_write(path, lambda f: torch.save(payload, f))
    return TrainedModel(model.eval(), config, history, {}, path, from_cache=False)
