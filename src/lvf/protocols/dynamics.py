"""The attractors of an autoencoder across training: Sec. 3.4 of the paper (Fig. 3a–d and
Fig. 13 right); chapter 8 (``ch08_training_dynamics``).

A training run saves its weights at a few epochs (``TrainConfig.save_epochs``, epoch 0 being
the initialization). At every checkpoint :func:`checkpoint_row` measures, from ``n`` starts of
each of three sources — encoded **training** images, encoded **test** images and latent
**noise** ``z_0 ~ N(0, I_k)`` —

* the attractors of each source under the paper's rule (iterate ``z <- f(z)`` until
  ``‖z_{t+1} - z_t‖² < tol`` within ``max_steps``; an end point that did not converge is never
  an attractor; two attractors are one when their cosine similarity exceeds 0.99): the number
  of distinct attractors, its fraction of the starts (Fig. 3c), the share of starts that
  converged, their median number of steps, and the share of *all* starts in the largest basin;
* for the training starts, the memorization coefficient, rank-90 and test error of
  :func:`lvf.protocols.memorization.probe_attractors` (Fig. 3b, Fig. 13 right: the book's one
  definition of rank-90, over decoded distinct converged attractors);
* the symmetric Chamfer similarity of the noise and training attractors, and the FPR95 and
  AUROC of the trajectory score separating noise trajectories from training ones (Fig. 3d).

:func:`across_seeds` does it for every checkpoint of every seed and returns one table;
:func:`plane_across_seeds` counts the attractors of a ``k = 2`` model (Fig. 3a);
:func:`effects` reduces both tables to one number per seed and claim, the input of
:func:`lvf.book.verdicts.judge`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import replace

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from lvf._batching import batched
from lvf.attractors import find_attractors
from lvf.iterate import iterate
from lvf.latent_map import LatentMap
from lvf.measures.memorization import chamfer_similarity
from lvf.measures.ood import auroc, fpr_at_tpr, trajectory_score
from lvf.measures.stats import spearman
from lvf.protocols.memorization import AttractorProbe, converged_attractors, probe_attractors

__all__ = [
    "DECIMALS",
    "SOURCES",
    "across_seeds",
    "checkpoint_row",
    "effects",
    "plane_across_seeds",
    "plane_window",
    "trend_effect",
]

SOURCES: tuple[str, ...] = ("train", "test", "noise")
"""The three sources of starts of Fig. 3c."""


def _device(model) -> torch.device:
    try:
        return next(model.parameters()).device
    except (AttributeError, StopIteration):
        return torch.device("cpu")


def _basin_stats(att, converged: Tensor, steps: Tensor, n: int) -> dict[str, float]:
    return {
        "distinct": len(att),
        "frac": len(att) / n,
        "converged": float(converged.float().mean()),
        "steps": float(steps.float().median()),
        "largest": float(att.counts[0]) / n if len(att) else 0.0,
    }


@torch.no_grad()
def checkpoint_row(
    model,
    x_train: Tensor,
    x_test: Tensor,
    *,
    starts: int,
    noise_seed: int = 0,
    tol: float = 1e-6,
    max_steps: int = 3000,
    stride: int = 1,
    cos_threshold: float = 0.99,
    batch_size: int = 512,
) -> tuple[dict[str, float], AttractorProbe]:
    """The Fig. 3 measurements of one checkpoint.

    Parameters
    ----------
    model
        An autoencoder with ``encode`` ``(B, C, H, W) -> (B, k)`` and ``decode``.
    x_train, x_test
        ``(N_train, C, H, W)`` the model's training images (the memorization reference and
        the first ``starts`` of them the training starts) and ``(N_test, C, H, W)`` test
        images (the test error, and the first ``starts`` the test starts).
    starts
        Number of starts per source.
    noise_seed
        Seed of the noise starts ``N(0, I_k)``.
    tol, max_steps
        The convergence rule (paper, App. D: 1e-6 within 3,000 steps).
    stride
        Recording stride of the trajectories scored for FPR95 / AUROC.

    Returns
    -------
    (row, probe)
        ``row``: ``test_mse``, ``black_mse`` (the test error of an all-black output),
        ``mem_mean``, ``mem_std``, ``rank90``; for each source ``s`` of :data:`SOURCES`:
        ``distinct_s``, ``frac_s`` (distinct / starts), ``converged_s`` (share converged),
        ``steps_s`` (median steps), ``largest_s`` (share of all starts in the largest basin);
        ``chamfer`` (noise vs training attractors), ``fpr95`` and ``auroc`` (noise
        trajectories against training ones; ``nan`` without training attractors).
        ``probe``: the :class:`~lvf.protocols.memorization.AttractorProbe` of the training
        starts, without their trajectories (``probe.trajectory`` is ``None``).
    """
    n = int(starts)
    probe = probe_attractors(  # its iteration of the training starts, trajectories kept
        model,
        x_train,
        x_test,
        starts=n,
        tol=tol,
        max_steps=max_steps,
        cos_threshold=cos_threshold,
        batch_size=batch_size,
        record="trajectory",
        stride=stride,
    )
    device = _device(model)
    f = LatentMap(model.encode, model.decode)
    z_test = batched(model.encode, x_test[:n], batch_size, device=device)
    g = torch.Generator().manual_seed(noise_seed)
    z_noise = torch.randn(n, *probe.final.shape[1:], generator=g).to(device)
    kw = dict(tol=tol, max_steps=max_steps, batch_size=batch_size)
    runs = {
        "test": iterate(f, z_test, **kw),
        "noise": iterate(f, z_noise, **kw, record="trajectory", stride=stride),
    }
    att = {
        "train": probe.attractors,
        "test": converged_attractors(runs["test"].final, runs["test"].converged),
        "noise": converged_attractors(runs["noise"].final, runs["noise"].converged),
    }
    row: dict[str, float] = {
        "test_mse": probe.test_mse,
        "black_mse": float(x_test.square().mean()),
        "mem_mean": probe.mem_mean,
        "mem_std": probe.mem_std,
        "rank90": probe.rank90,
    }
    for s in SOURCES:
        conv = probe.converged if s == "train" else runs[s].converged.cpu()
        steps = probe.steps if s == "train" else runs[s].steps.cpu()
        row |= {f"{k}_{s}": v for k, v in _basin_stats(att[s], conv, steps, n).items()}
    centers = att["train"].centers
    if len(centers) and len(att["noise"]):
        row["chamfer"] = chamfer_similarity(att["noise"].centers, centers)
    else:
        row["chamfer"] = math.nan
    if len(centers):
        score = {
            "train": trajectory_score(probe.trajectory, centers),
            "noise": trajectory_score(runs["noise"].trajectory, centers),
        }
        row["fpr95"] = fpr_at_tpr(score["train"], score["noise"])
        row["auroc"] = auroc(score["train"], score["noise"])
    else:
        row["fpr95"] = row["auroc"] = math.nan
    # the callers keep a probe per checkpoint: not its trajectories, (starts x steps x k) each
    return row, replace(probe, trajectory=None)


def across_seeds(
    runs: Iterable[tuple[int, object, Tensor]],
    x_test: Tensor,
    *,
    epochs: Sequence[int],
    starts: int,
    **kwargs,
) -> tuple[pd.DataFrame, dict[tuple[int, int], AttractorProbe]]:
    """:func:`checkpoint_row` at every saved epoch of every seed's run.

    Parameters
    ----------
    runs
        ``(seed, trained, x_train)`` per seed: the :class:`lvf.train.TrainedModel` (with
        ``load_epoch``) and its ``(N_train, C, H, W)`` training images.
    x_test
        ``(N_test, C, H, W)`` test images, shared by the seeds.
    epochs
        The checkpoints to measure.
    starts, kwargs
        Passed to :func:`checkpoint_row` (the noise starts of seed ``s`` use ``noise_seed=s``).

    Returns
    -------
    (table, probes)
        ``table``: one row per (seed, epoch), columns ``seed``, ``epoch`` and those of
        :func:`checkpoint_row`. ``probes``: the training-start probe of each (seed, epoch).
    """
    rows, probes = [], {}
    for seed, run, x_train in runs:
        for e in epochs:
            row, probes[seed, e] = checkpoint_row(
                run.load_epoch(e), x_train, x_test, starts=starts, noise_seed=seed, **kwargs
            )
            rows.append({"seed": seed, "epoch": e} | row)
    return pd.DataFrame(rows), probes


def plane_window(z: Tensor, pad: float = 0.15) -> tuple[tuple[float, float], tuple[float, float]]:
    """The window around 2-D latents ``z`` ``(N, 2)``: their 1 %–99 % quantile box, widened
    by ``pad`` of its width on each side. Returns ``(xlim, ylim)``."""
    z = z.detach().float().cpu()
    lo, hi = z.quantile(0.01, dim=0), z.quantile(0.99, dim=0)
    w = pad * (hi - lo)
    return (float(lo[0] - w[0]), float(hi[0] + w[0])), (float(lo[1] - w[1]), float(hi[1] + w[1]))


@torch.no_grad()
def plane_across_seeds(
    runs: Iterable[tuple[int, object, Tensor]],
    *,
    epochs: Sequence[int],
    starts: int,
    eps_share: float = 0.02,
    tol: float = 1e-6,
    max_steps: int = 3000,
) -> pd.DataFrame:
    """The attractors reached from training images by a ``k = 2`` model at each checkpoint.

    In two dimensions the cosine rule would merge every end point within 8° of a ray, so end
    points are grouped with the Euclidean rule of :func:`lvf.find_attractors` at ``eps`` =
    ``eps_share`` of the larger side of the seed's :func:`plane_window` (the window of its
    last checkpoint's encoded starts). Only converged end points are attractors.

    Parameters
    ----------
    runs
        ``(seed, trained, x_train)`` per seed, as for :func:`across_seeds`; the model has
        ``k = 2``.

    Returns
    -------
    DataFrame
        One row per (seed, epoch): ``distinct``, ``converged`` (share), ``largest`` (share of
        all starts in the largest basin) and ``eps``.
    """
    rows = []
    for seed, run, x_train in runs:
        last = run.load_epoch(max(epochs))
        xlim, ylim = plane_window(last.encode(x_train[:starts].to(_device(last))))
        eps = eps_share * max(xlim[1] - xlim[0], ylim[1] - ylim[0])
        for e in epochs:
            model = run.load_epoch(e)
            z = model.encode(x_train[:starts].to(_device(model)))
            res = iterate(LatentMap(model.encode, model.decode), z, tol=tol, max_steps=max_steps)
            ends = res.final[res.converged]
            counts = find_attractors(ends, eps=eps).counts if len(ends) else torch.zeros(0)
            rows.append(
                dict(
                    seed=seed,
                    epoch=e,
                    distinct=len(counts),
                    converged=float(res.converged.float().mean()),
                    largest=float(counts.max()) / starts if len(counts) else 0.0,
                    eps=eps,
                )
            )
    return pd.DataFrame(rows)


DECIMALS = 6
"""Decimals to which :func:`trend_effect` compares the measured values."""


def trend_effect(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's correlation of ``x`` and ``y`` over their finite pairs, as a trend effect:
    ``0`` when ``y`` does not change (no trend: a count that never grows did not grow), ``nan``
    with fewer than 2 finite pairs or a constant ``x`` (undefined). ``y`` is compared to
    :data:`DECIMALS` decimals, so that float round-off (a Chamfer similarity of 0.99999994
    and one of 1.0000001) makes no trend.

    >>> trend_effect([1, 2, 3], [5, 5, 5])
    0.0
    >>> trend_effect([1, 2, 3], [3, 2, 1])
    -1.0
    """
    a, b = np.asarray(x, dtype=float), np.round(np.asarray(y, dtype=float), DECIMALS)
    keep = np.isfinite(a) & np.isfinite(b)
    a, b = a[keep], b[keep]
    if a.size < 2 or np.ptp(a) == 0:
        return math.nan
    if np.ptp(b) == 0:
        return 0.0
    return float(spearman(a, b))


def effects(
    table: pd.DataFrame, plane: pd.DataFrame | None = None, *, drawing: float = 0.9
) -> pd.DataFrame:
    """One number per seed for each claim of Sec. 3.4, with its raw sign (the chapter gives
    :func:`lvf.book.verdicts.judge` the paper's direction).

    Parameters
    ----------
    table
        :func:`across_seeds`'s table.
    plane
        :func:`plane_across_seeds`'s table, or ``None``.
    drawing
        A checkpoint *draws digits* when its test error is below ``drawing`` times the error
        of an all-black output (``black_mse``); the memorization trend is taken over those
        checkpoints only (the memorization of a decoder that outputs a black image whatever
        its input says nothing about memorization).

    Returns
    -------
    DataFrame
        Indexed by seed. Trends (:func:`trend_effect` over the trained checkpoints, epoch
        ≥ 1): ``test_mse``, ``frac_train``, ``frac_test``, ``chamfer``, ``fpr95``,
        ``rank90``, ``mem`` (over the checkpoints that draw digits). At initialization
        (epoch 0): ``init_<source>``, the share of all starts in the largest basin. At the
        last checkpoint: ``noise_behind``, ``1 - distinct_noise / distinct_train`` (``nan``
        without training attractors). Over the trained checkpoints: ``noise_slower``, the mean
        of ``log2(steps_noise / steps_train)`` (median steps to converge). From ``plane``:
        ``plane_init`` (share in the largest basin at epoch 0) and ``plane_splits`` (most
        distinct attractors at a trained checkpoint, minus 1).
    """
    out = {}
    for seed, g in table.sort_values("epoch").groupby("seed", sort=True):
        trained = g[g.epoch >= 1]
        first, last = g.iloc[0], g.iloc[-1]
        row = {
            col: trend_effect(trained.epoch, trained[col])
            for col in ("test_mse", "frac_train", "frac_test", "chamfer", "fpr95", "rank90")
        }
        draws = trained[trained.test_mse < drawing * trained.black_mse]
        row["mem"] = trend_effect(draws.epoch, draws.mem_mean)
        row["draw_from"] = float(draws.epoch.min()) if len(draws) else math.nan
        row |= {f"init_{s}": float(first[f"largest_{s}"]) for s in SOURCES}
        n_tr, n_no = last.distinct_train, last.distinct_noise
        row["noise_behind"] = 1.0 - n_no / n_tr if n_tr > 0 else math.nan
        ratio = np.log2(trained.steps_noise.to_numpy(float) / trained.steps_train.to_numpy(float))
        row["noise_slower"] = float(ratio.mean()) if ratio.size else math.nan
        out[seed] = row
    df = pd.DataFrame.from_dict(out, orient="index").rename_axis("seed")
    if plane is not None:
        for seed, g in plane.sort_values("epoch").groupby("seed", sort=True):
            df.loc[seed, "plane_init"] = float(g.iloc[0].largest)
            df.loc[seed, "plane_splits"] = float(g[g.epoch >= 1].distinct.max() - 1)
    return df
