"""The latent map f = E ∘ D of an autoencoder.

For an autoencoder with encoder ``E: X -> Z`` and decoder ``D: Z -> X`` the map
``f(z) = E(D(z))`` sends the latent space to itself (paper, Eq. 3). Iterating it turns
the latent space into a discrete dynamical system whose residual ``v(z) = f(z) - z`` is
the *latent vector field* (Eq. 4).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

__all__ = ["LatentMap"]


class LatentMap:
    """``f(z) = encode(decode(z))`` for batched latents of any shape.

    Parameters
    ----------
    encode
        Callable mapping data ``(N, *x_shape)`` to latents ``(N, *z_shape)``.
    decode
        Callable mapping latents ``(N, *z_shape)`` to data ``(N, *x_shape)``.

    Latents can be vectors ``(N, k)``, feature maps ``(N, C, H, W)`` or token sequences
    ``(N, T, d)``: the map only requires ``encode(decode(z))`` to return the shape of ``z``.

    Calling the map runs without autograd (``torch.no_grad``), on the device and dtype of
    its input. :meth:`raw` is the same map with autograd left as the caller set it, for
    Jacobians (see :mod:`lvf.jacobian`).

    Examples
    --------
    >>> import torch
    >>> f = LatentMap(encode=lambda x: 0.5 * x, decode=lambda z: z + 1.0)
    >>> f(torch.zeros(3, 2))
    tensor([[0.5000, 0.5000],
            [0.5000, 0.5000],
            [0.5000, 0.5000]])
    """

    def __init__(self, encode: Callable[[Tensor], Tensor], decode: Callable[[Tensor], Tensor]):
        for name, fn in (("encode", encode), ("decode", decode)):
            if not callable(fn):
                raise TypeError(
                    f"LatentMap needs a callable {name}, got {type(fn).__name__}. "
                    f"Pass e.g. model.{name} (a bound method) or a function."
                )
        self.encode = encode
        self.decode = decode

    def raw(self, z: Tensor) -> Tensor:
        """``encode(decode(z))`` with autograd as the caller set it. Shape of ``z``."""
        out = self.encode(self.decode(z))
        if out.shape != z.shape:
            raise ValueError(
                f"encode(decode(z)) returned shape {tuple(out.shape)} for z of shape "
                f"{tuple(z.shape)}; a latent map must return the shape of its input. "
                "Check that the encoder returns the latent the decoder takes (e.g. the "
                "posterior mean, not a distribution)."
            )
        return out

    def __call__(self, z: Tensor) -> Tensor:
        """``f(z)``: ``(N, *z_shape) -> (N, *z_shape)``, without gradients."""
        with torch.no_grad():
            return self.raw(z)

    def residual(self, z: Tensor) -> Tensor:
        """The latent vector field ``v(z) = f(z) - z``, shape of ``z``."""
        return self(z) - z

    def __repr__(self) -> str:
        return f"LatentMap(encode={self.encode!r}, decode={self.decode!r})"
