"""Following iterates: norms along a fixed number of iterations (App. B.8, Figs. 12, 19, 20).

Used by chapter 11 (are the trajectories contractive?) and chapter 12 (decoders of
representation autoencoders and the residual streams of language models).

A measurement of the paper on iterated latent maps that does not fit the early-exit
:func:`lvf.iterate` (the chunked trajectory OOD scores live in :mod:`lvf.measures.ood`):

* :func:`track_norms` — App. B.8 and Fig. 12 run every start for a fixed number of
  iterations (300 in B.8) and plot, per iteration, the latent residual norm
  ``‖z_{t+1} − z_t‖``, the embedding norm ``‖z_t‖`` and the output-space residual
  ``‖D(z_{t+1}) − D(z_t)‖``.
* :meth:`NormTrace.effects` and :func:`trace_effects` — the numbers App. B.8's claim
  ("contractive, non-divergent") is judged on, per trace and per seed: how many decades the
  residuals fall over the run, and how far the embedding norm's growth stays below linear.

Token conventions: for latents ``(N, T, d)`` (token sequences) norms are taken per token over
``d`` and averaged over tokens; for feature maps ``(N, C, H, W)`` per position over the ``C``
channels and averaged over positions (the "mean embedding norm" of App. B.8); for vectors
``(N, k)`` they are plain vector norms.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = [
    "EFFECTS",
    "MAX_FALL",
    "NormTrace",
    "embedding_norm",
    "residual_stream_traces",
    "trace_effects",
    "trace_table",
    "track_norms",
]

EFFECTS: dict[str, str] = {
    "latent residual falls": "decades the median latent residual falls, first to last step "
    "(at most MAX_FALL)",
    "output residual falls": "decades the median output residual falls, first to last step "
    "(at most MAX_FALL)",
    "norm bounded": "1 − log2 of the embedding norm's growth over the second half "
    "(1: bounded, 0: linear growth)",
}
"""The effects of :meth:`NormTrace.effects`, in words; positive means the paper's way."""

MAX_FALL = 6.0
"""Decades of fall beyond which a residual is at float32 round-off: a larger fall (an exact
fixed point has residual 0) counts as this many decades, so that seeds which all converge
agree on the effect instead of differing by where round-off stopped them."""


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

    def effects(self) -> dict[str, float]:
        """The effects App. B.8's claim is judged on (:data:`EFFECTS`), positive the paper's way.

        * ``latent residual falls``: ``log10(r_first / r_last)`` of the median latent residual
          at the first and last step, at most :data:`MAX_FALL`: 1 means a tenfold fall, 0 no
          fall, negative a rise (``nan`` when the first residual is 0: nothing can fall).
        * ``output residual falls``: the same for the output residual (only when a decoder
          was given).
        * ``norm bounded``: ``1 − log2(late_growth)`` (:meth:`summary`). An embedding norm that
          grows like ``t^a`` has ``late_growth = 2^a``, so the effect is ``1 − a``: 1 for a
          bounded norm, 0 for linear growth (what an iteration whose updates do not shrink
          gives), negative for faster growth.
        """

        def fall(r: Tensor) -> float:
            first, last = float(r[:, 0].median()), float(r[:, -1].median())
            if not first > 0:
                return math.nan
            return math.log10(first / max(last, first * 10.0**-MAX_FALL))

        out = {"latent residual falls": fall(self.latent_residual)}
        if self.output_residual is not None:
            out["output residual falls"] = fall(self.output_residual)
        out["norm bounded"] = 1.0 - math.log2(self.summary()["late_growth"])
        return out

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


def trace_effects(
    traces: Mapping[int, Mapping[str, NormTrace]],
) -> dict[str, dict[str, list[float]]]:
    """The effects of :meth:`NormTrace.effects` gathered over seeds.

    Parameters
    ----------
    traces
        ``{seed: {variant: NormTrace}}``: for each seed (another trained model), the traces
        of every variant measured (e.g. an architecture and a reading of its state). Every
        seed must hold the same variants.

    Returns
    -------
    dict
        ``{variant: {effect: [value of each seed, in the order of traces]}}``, ready for
        :func:`lvf.book.verdicts.judge` (one verdict per variant and effect).
    """
    out: dict[str, dict[str, list[float]]] = {}
    variants = None
    for seed, per in traces.items():
        if variants is not None and list(per) != variants:
            raise ValueError(f"seed {seed} has variants {list(per)}, expected {variants}")
        variants = list(per)
        for variant, tr in per.items():
            for name, value in tr.effects().items():
                out.setdefault(variant, {}).setdefault(name, []).append(value)
    return out


def trace_table(traces: Mapping[int, Mapping[str, NormTrace]]):
    """Every seed's and variant's :meth:`NormTrace.summary` and :meth:`NormTrace.effects`.

    Parameters
    ----------
    traces
        ``{seed: {variant: NormTrace}}`` as for :func:`trace_effects`.

    Returns
    -------
    pandas.DataFrame
        One row per (seed, variant): ``residual_first``, ``residual_last``, ``late_growth``
        and the effects of :data:`EFFECTS` (``output residual falls`` is NaN without a
        decoder).
    """
    import pandas as pd

    rows = [
        {"seed": seed, "variant": variant} | tr.summary() | tr.effects()
        for seed, per in traces.items()
        for variant, tr in per.items()
    ]
    return pd.DataFrame(rows)


def residual_stream_traces(lm, n_seq: int, steps: int) -> dict[str, NormTrace]:
    """Fig. 17's measurement on one trained tiny language model (chapter 12): iterate its
    residual stream from the token embeddings of ``n_seq`` held-out byte windows (the same
    windows for every model: :func:`lvf.models.tinylm.windows` with seed 1), read both before
    and after the final norm (``choice-llm-iteration``), ``steps`` times each.

    Parameters
    ----------
    lm
        A :class:`lvf.train.TrainedLM` (``.model``, ``.config``).

    Returns
    -------
    dict
        ``{"<arch>, before final norm": NormTrace, "<arch>, after final norm": NormTrace}``,
        each over ``(n_seq, seq_len, hidden)`` starts.
    """
    from lvf.models import adapters, tinylm

    ids = tinylm.windows(lm.config, n_seq, seed=1)
    out = {}
    for final_norm in (False, True):
        ad = adapters.causal_lm(lm.model, final_norm=final_norm)
        with torch.no_grad():
            h0 = ad.embed(ids)
        label = f"{lm.config.arch}, {'after' if final_norm else 'before'} final norm"
        out[label] = track_norms(ad.latent_map(), h0, steps)
    return out
