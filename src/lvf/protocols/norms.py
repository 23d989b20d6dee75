"""Following iterates: norms along a fixed number of iterations (App. B.8, Figs. 12, 19, 20).

Used by chapter 11 (are the trajectories contractive?) and chapter 12 (decoders of
representation autoencoders and the residual streams of language models).

A measurement of the paper on iterated latent maps that does not fit the early-exit
:func:`lvf.iterate` (the chunked trajectory OOD scores live in :mod:`lvf.measures.ood`):

* :func:`track_norms` — App. B.8 and Fig. 12 run every start for a fixed number of
  iterations (300 in B.8) and plot, per iteration, the latent residual norm
  ``‖z_{t+1} − z_t‖``, the embedding norm ``‖z_t‖`` and the output-space residual
  ``‖D(z_{t+1}) − D(z_t)‖``.

Token conventions: for latents ``(N, T, d)`` (token sequences) norms are taken per token over
``d`` and averaged over tokens; for feature maps ``(N, C, H, W)`` per position over the ``C``
channels and averaged over positions (the "mean embedding norm" of App. B.8); for vectors
``(N, k)`` they are plain vector norms.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["NormTrace", "embedding_norm", "track_norms"]


def embedding_norm(z: Tensor) -> Tensor:
    """Mean per-token norm of each latent, ``(N,)`` (see the module's conventions)."""
    if z.ndim == 2:
        return z.norm(dim=1)
    if z.ndim == 3:
        return z.norm(dim=2).mean(dim=1)
    if z.ndim == 4:
        return z.norm(dim=1).flatten(1).mean(dim=1)
    raise ValueError(f"latents must be (N, k), (N, T, d) or (N, C, H, W); got {tuple(z.shape)}")


@dataclass
class NormTrace:
    """Norms along ``T`` iterations of ``N`` starts (float64, CPU).

    Attributes
    ----------
    latent_residual
        ``(N, T)``: embedding-norm convention applied to ``z_{t+1} − z_t``, for ``t = 0..T-1``.
    embedding
        ``(N, T + 1)``: :func:`embedding_norm` of ``z_0, …, z_T``.
    output_residual
        ``(N, T)``: RMS over pixels of ``D(z_{t+1}) − D(z_t)``, when a decoder was given.
    """

    latent_residual: Tensor
    embedding: Tensor
    output_residual: Tensor | None = None

    def summary(self) -> dict[str, float]:
        """Medians over starts: ``residual_first`` and ``residual_last`` (latent residual at
        the first and last step) and ``late_growth``, the embedding norm at the end over the
        one halfway (1 for a bounded iteration, about 2 for one growing linearly)."""
        t = self.embedding.shape[1] - 1
        return {
            "residual_first": float(self.latent_residual[:, 0].median()),
            "residual_last": float(self.latent_residual[:, -1].median()),
            "late_growth": float((self.embedding[:, t] / self.embedding[:, t // 2]).median()),
        }

    def contractive(self, max_growth: float = 1.1) -> bool:
        """The residual shrank (last step below the first) and the embedding norm stopped
        growing (``late_growth < max_growth``): the paper's "contractive, non-divergent"."""
        s = self.summary()
        return s["residual_last"] < s["residual_first"] and s["late_growth"] < max_growth


def track_norms(
    f: Callable[[Tensor], Tensor],
    z0: Tensor,
    steps: int,
    *,
    decode: Callable[[Tensor], Tensor] | None = None,
    batch_size: int = 256,
) -> NormTrace:
    """Iterate ``f`` exactly ``steps`` times from every start and record the norms.

    Parameters
    ----------
    f
        The latent map ``(B, *S) -> (B, *S)``.
    z0
        ``(N, *S)`` starts.
    steps
        Number of iterations (no early exit).
    decode
        Optional decoder for the output-space residual (one extra decode per step).
    batch_size
        Starts iterated together.
    """
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    n = z0.shape[0]
    lat = torch.empty(n, steps, dtype=torch.float64)
    emb = torch.empty(n, steps + 1, dtype=torch.float64)
    out = torch.empty(n, steps, dtype=torch.float64) if decode is not None else None
    with torch.no_grad():
        for s in range(0, n, batch_size):
            z = z0[s : s + batch_size]
            sl = slice(s, s + z.shape[0])
            emb[sl, 0] = embedding_norm(z.float()).double().cpu()
            x = decode(z) if decode is not None else None
            for t in range(steps):
                z_new = f(z)
                lat[sl, t] = embedding_norm((z_new - z).float()).double().cpu()
                emb[sl, t + 1] = embedding_norm(z_new.float()).double().cpu()
                if decode is not None:
                    x_new = decode(z_new)
                    rms = (x_new - x).float().flatten(1).square().mean(dim=1).sqrt()
                    out[sl, t] = rms.double().cpu()
                    x = x_new
                z = z_new
    return NormTrace(latent_residual=lat, embedding=emb, output_residual=out)
