"""Denoising autoencoders: training with Gaussian input noise (the paper's Eq. 2).

The paper lists augmentation as one source of contraction (Sec. 2, Eq. 2): training on
corrupted inputs, ``‖x - F(x + ε)‖²`` with ``ε ~ N(0, s² I)``, gives a denoising autoencoder
(DAE). For small ``s`` the optimal DAE satisfies ``F(x) - x ≈ s² ∇ log p(x)`` (Alain & Bengio,
2014): the field points along the score, which is what the paper's Theorem 1 asserts for the
latent field under local contraction.

:class:`Denoising` wraps any autoencoder so that its ``forward`` corrupts the input in training
mode only (like dropout), so :func:`lvf.train.fit` trains a DAE unchanged. To train and cache
one, give :class:`lvf.train.TrainConfig` a positive ``noise_std``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["Denoising"]


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
