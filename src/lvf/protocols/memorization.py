"""What the attractors of a trained image autoencoder say about memorization and generalization.

Sec. 3.3 and 3.4 of the paper (Figs. 2, 3, 13, 14); used by chapters 6 (bottleneck), 7 (less
data) and 8 (training dynamics).

:func:`probe_attractors` makes, for one model, the measurements of the paper's Sec. 3.3
(Fig. 2, Fig. 13 left, Fig. 14 of App. B.6) and Sec. 3.4 (Fig. 3):

1. encode the starts (by default training images) and iterate ``z <- f(z) = E(D(z))`` until the
   squared step falls below ``tol`` or ``max_steps`` is reached (App. D: 1e-6 and 3,000 for the
   small convolutional autoencoders);
2. keep the **converged** end points only (the step criterion met within ``max_steps``): an
   end point still in transit is not an attractor; the share that converged is
   :attr:`AttractorProbe.converged_fraction` and the others are counted apart;
3. group the converged end points into distinct attractors, two being equal when their cosine
   similarity exceeds 0.99 (:func:`lvf.find_attractors`, the rule of Fig. 3c);
4. decode; the **memorization coefficient** of every converged start's attractor is the cosine
   similarity of its decoding to the closest training image
   (:func:`lvf.measures.memorization.memorization`,
   the max the paper means), reported as mean ± std over those starts (``choice-mem-average``:
   all attractors reached from the start set, not de-duplicated);
5. the **rank-90** of the decoded *distinct* attractors
   (:func:`lvf.measures.memorization.rank_explaining`, uncentred, 90 % of the energy): the
   book's one definition, used by every chapter;
6. the model's reconstruction error (mean squared error per pixel) on test and training images,
   the paper's measure of generalization.

:func:`sweep` repeats the probe over a grid of trained models (datasets × bottlenecks, or
datasets × training-set sizes) and over seeds (:func:`lvf.train.seeded`), and returns one row
per model and seed; :func:`spearman_by_seed` and :func:`trend_text` read a trend off those
rows, the numbers :func:`lvf.book.verdicts.trend` judges.

Everything runs in batches on the device of the model, CPU or GPU.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from lvf._batching import batched
from lvf.attractors import Attractors, find_attractors
from lvf.iterate import iterate
from lvf.latent_map import LatentMap
from lvf.measures.memorization import max_cosine, rank_explaining

if TYPE_CHECKING:
    import pandas as pd

    from lvf.train import TrainConfig

__all__ = [
    "AttractorProbe",
    "Sweep",
    "converged_attractors",
    "end_point_memorization",
    "over_seeds",
    "probe_attractors",
    "reconstruction_mse",
    "spearman_by_seed",
    "sweep",
    "trend_text",
]


@dataclass
class AttractorProbe:
    """Attractors of one autoencoder and the measures taken on them.

    ``N`` starts, latent size ``k``, ``M`` distinct attractors, images ``(C, H, W)``. Tensors
    are on the CPU.

    Attributes
    ----------
    final
        ``(N, k)`` last iterate of every start.
    steps, converged
        ``(N,)`` number of applications of ``f`` and whether the step criterion was met.
    attractors
        The distinct attractors among the converged end points (``centers`` ``(M, k)``,
        ``labels`` ``(N,)`` with ``-1`` for a start that did not converge, ``counts``
        ``(M,)``), largest basin first.
    decoded
        ``(M, C, H, W)`` decoded distinct attractors ``D(z*)``, in the order of ``attractors``.
    mem
        ``(N_conv,)`` memorization coefficient of the end point of every converged start.
    mem_attractors, nearest
        ``(M,)`` memorization coefficient of each distinct attractor and the index (into the
        training images given) of its closest training image.
    rank90
        Singular vectors needed to explain 90 % of the variance of ``decoded`` (uncentred).
    test_mse, train_mse
        Mean squared reconstruction error per pixel on the test and training images.
    settings
        The iteration settings used (tol, max_steps, cos_threshold).
    trajectory
        ``(N, L, k)`` the recorded iterates (NaN-padded, as
        :attr:`lvf.IterationResult.trajectory`), only when asked for with
        ``probe_attractors(..., record="trajectory")``; else ``None``.
    """

    final: Tensor
    steps: Tensor
    converged: Tensor
    attractors: Attractors
    decoded: Tensor
    mem: Tensor
    mem_attractors: Tensor
    nearest: Tensor
    rank90: int
    test_mse: float
    train_mse: float
    settings: dict[str, Any] = field(default_factory=dict)
    trajectory: Tensor | None = None

    @property
    def mem_mean(self) -> float:
        """Mean memorization coefficient over the converged starts (``nan`` if none)."""
        return float(self.mem.mean()) if self.mem.numel() else float("nan")

    @property
    def mem_std(self) -> float:
        return float(self.mem.std()) if self.mem.numel() > 1 else 0.0

    @property
    def n_distinct(self) -> int:
        return len(self.attractors)

    @property
    def converged_fraction(self) -> float:
        """Share of the starts whose end point met the step criterion (an attractor)."""
        return float(self.converged.float().mean())

    @property
    def unconverged(self) -> int:
        """Starts still in transit at ``max_steps``: counted apart, never attractors."""
        return int((~self.converged).sum())

    def summary(self) -> dict[str, float | int]:
        """The scalar results, for tables and :func:`lvf.book.report.record`."""
        return {
            "mem_mean": self.mem_mean,
            "mem_std": self.mem_std,
            "test_mse": self.test_mse,
            "train_mse": self.train_mse,
            "rank90": self.rank90,
            "distinct": self.n_distinct,
            "starts": int(self.final.shape[0]),
            "converged": self.converged_fraction,
            "unconverged": self.unconverged,
            "median_steps": float(self.steps.float().median()),
        }

    def __repr__(self) -> str:
        return (
            f"AttractorProbe(starts={self.final.shape[0]}, distinct={self.n_distinct}, "
            f"mem={self.mem_mean:.3f}±{self.mem_std:.3f}, rank90={self.rank90}, "
            f"test_mse={self.test_mse:.4g}, converged={self.converged_fraction:.0%})"
        )


def _device(model) -> torch.device:
    try:
        return next(model.parameters()).device
    except (AttributeError, StopIteration):
        return torch.device("cpu")


def converged_attractors(
    final: Tensor, converged: Tensor, *, cos_threshold: float = 0.99
) -> Attractors:
    """The distinct attractors among the converged end points, largest basin first.

    Parameters
    ----------
    final
        ``(N, *latent)`` end points of an iteration.
    converged
        ``(N,)`` bool, whether each met the step criterion.

    Returns
    -------
    Attractors
        ``centers`` ``(M, *latent)``, ``counts`` ``(M,)`` and ``labels`` ``(N,)`` on the CPU;
        a start that did not converge has label ``-1`` and belongs to no attractor.
    """
    converged = converged.to(final.device)
    labels = torch.full((final.shape[0],), -1, dtype=torch.long)
    if not bool(converged.any()):
        return Attractors(final[:0].cpu(), labels, torch.zeros(0, dtype=torch.long))
    att = find_attractors(final[converged], cos_threshold=cos_threshold)
    order = torch.argsort(att.counts, descending=True, stable=True)
    relabel = torch.empty_like(order)
    relabel[order] = torch.arange(len(order), device=order.device)
    labels[converged.cpu()] = relabel[att.labels].cpu()
    return Attractors(att.centers[order].cpu(), labels, att.counts[order].cpu())


@torch.no_grad()
def reconstruction_mse(model, x: Tensor, *, batch_size: int = 512) -> float:
    """Mean squared error per pixel of ``decode(encode(x))`` against ``x`` ``(N, C, H, W)``."""
    device = _device(model)
    total = 0.0
    for b in x.split(batch_size):
        b = b.to(device)
        total += float((model.decode(model.encode(b)) - b).square().sum())
    return total / x.numel()


def probe_attractors(
    model,
    x_train: Tensor,
    x_test: Tensor,
    *,
    starts: Tensor | int | None = None,
    tol: float = 1e-6,
    max_steps: int = 3000,
    cos_threshold: float = 0.99,
    batch_size: int = 512,
    record: str | None = None,
    stride: int = 1,
) -> AttractorProbe:
    """Iterate the latent map of ``model`` from training latents and measure its attractors.

    Parameters
    ----------
    model
        An autoencoder with ``encode`` ``(B, C, H, W) -> (B, k)`` and ``decode`` (e.g.
        :class:`lvf.models.ConvAE`); evaluated without gradients on its own device.
    x_train
        ``(N_train, C, H, W)`` the model's training images: the reference set of the
        memorization coefficient.
    x_test
        ``(N_test, C, H, W)`` held-out images for the test error.
    starts
        Images ``(N, C, H, W)`` whose latents start the iteration, or an int ``N`` for the first
        ``N`` training images (default: all of them).
    tol, max_steps
        Stopping rule of :func:`lvf.iterate` (squared step length, summed over dimensions).
    cos_threshold
        Two final iterates belong to the same attractor above this cosine similarity.
    batch_size
        Images per forward pass, and the active pool of :func:`lvf.iterate`.
    record, stride
        ``record="trajectory"`` keeps the iterates (every ``stride``-th) in
        :attr:`AttractorProbe.trajectory`, for a caller that scores the trajectories too (ch08
        does): the same iteration then serves both, instead of running it twice.

    Returns
    -------
    AttractorProbe
    """
    if record not in (None, "trajectory"):
        raise ValueError(f"record={record!r}: give None or 'trajectory'.")
    if starts is None:
        starts = x_train
    elif isinstance(starts, int):
        if not 1 <= starts <= len(x_train):
            raise ValueError(f"starts={starts} must lie in [1, {len(x_train)}]")
        starts = x_train[:starts]
    device = _device(model)
    z0 = batched(model.encode, starts, batch_size, device=device, out_device="cpu").to(device)
    f = LatentMap(model.encode, model.decode)
    res = iterate(
        f, z0, tol=tol, max_steps=max_steps, batch_size=batch_size, record=record, stride=stride
    )
    final, converged = res.final, res.converged
    att = converged_attractors(final, converged, cos_threshold=cos_threshold)
    ends = final[converged.to(final.device)]
    decoded_final = batched(model.decode, ends, batch_size, device=device, out_device="cpu")
    decoded = batched(model.decode, att.centers, batch_size, device=device, out_device="cpu")
    mem, _ = max_cosine(decoded_final, x_train)
    mem_att, nearest = max_cosine(decoded, x_train)
    return AttractorProbe(
        final=final.cpu(),
        steps=res.steps.cpu(),
        converged=converged.cpu(),
        attractors=att,
        decoded=decoded,
        mem=mem.cpu(),
        mem_attractors=mem_att.cpu(),
        nearest=nearest.cpu(),
        rank90=rank_explaining(decoded, 0.9),
        test_mse=reconstruction_mse(model, x_test, batch_size=batch_size),
        train_mse=reconstruction_mse(model, x_train, batch_size=batch_size),
        settings={"tol": tol, "max_steps": max_steps, "cos_threshold": cos_threshold},
        trajectory=res.trajectory,
    )


@torch.no_grad()
def end_point_memorization(
    model, probe: AttractorProbe, images: Tensor, *, batch_size: int = 512
) -> Tensor:
    """The memorization coefficient of every converged end point, against any image set.

    With ``images`` the training images this is ``probe.mem``; with held-out images it is the
    control that tells memorization of *training* images from looking like the data.

    Parameters
    ----------
    model
        The autoencoder ``probe`` was measured on (its ``decode`` is used).
    probe
        :class:`AttractorProbe` with ``final`` ``(N, k)`` and ``converged`` ``(N,)``.
    images
        ``(N_ref, C, H, W)`` reference images.

    Returns
    -------
    Tensor
        ``(N_conv,)`` on the CPU: max cosine similarity of each decoded converged end point to
        ``images`` (empty when no start converged).
    """
    device = _device(model)
    ends = probe.final[probe.converged]
    decoded = batched(model.decode, ends, batch_size, device=device, out_device="cpu")
    if not len(decoded):
        return torch.zeros(0)
    return max_cosine(decoded, images)[0].cpu()


@dataclass
class Sweep:
    """Attractor probes of a grid of trained models, each trained on several seeds.

    A *key* is the setting's label values followed by the seed, e.g. ``("mnist", 32, 1)``
    for the labels ``{"dataset": "mnist", "k": 32}`` and seed 1.

    Attributes
    ----------
    results
        One row per model and seed (a pandas DataFrame): the setting's labels, ``seed``,
        ``n_train`` (training images), ``epochs``, ``cached`` (read from the model cache), the
        columns of :meth:`AttractorProbe.summary` (``mem_mean``, ``rank90``, ``converged``,
        ...) and, with ``control=True``, ``mem_test_mean``: the mean memorization coefficient
        of the same converged end points against the test images.
    probes
        :class:`AttractorProbe` by key.
    configs
        The :class:`lvf.train.TrainConfig` of each key (already seeded).
    seconds
        Wall-clock seconds spent in ``"training"`` (or reading the cache) and in
        ``"attractors"`` (iteration and measures).
    """

    results: pd.DataFrame
    probes: dict[tuple, AttractorProbe]
    configs: dict[tuple, TrainConfig]
    seconds: dict[str, float]

    def training_images(self, key: tuple) -> Tensor:
        """``(n_train, C, H, W)`` the training images of ``key`` (its seed's draw)."""
        from lvf.train import training_data

        return training_data(self.configs[key])


def sweep(
    settings: Iterable[tuple[Mapping[str, Any], TrainConfig, Tensor]],
    *,
    seeds: Sequence[int],
    starts: int,
    tol: float = 1e-6,
    max_steps: int = 3000,
    cos_threshold: float = 0.99,
    control: bool = False,
    device: str | torch.device | None = None,
) -> Sweep:
    """Train (or read from the cache) every model of a grid on every seed, and probe it.

    For each setting and each seed ``s``, the model of ``lvf.train.seeded(config, s)``
    (another initialisation *and* another draw of the training subset) is trained with
    :func:`lvf.train.trained`, its first ``starts`` training images start the iteration, and
    :func:`probe_attractors` measures it: memorization and rank-90 over converged end points
    only, the converged share next to them.

    Parameters
    ----------
    settings
        ``(labels, config, x_test)`` per model: ``labels`` a mapping of column names to values
        (e.g. ``{"dataset": "mnist", "k": 32}``), ``config`` its seed-0
        :class:`lvf.train.TrainConfig`, ``x_test`` ``(N_test, C, H, W)`` its held-out images
        (the same for every seed).
    seeds
        The seeds to repeat over (e.g. :func:`lvf.book.scales.seeds`).
    starts
        Training images iterated per model (fewer if the training set is smaller).
    tol, max_steps, cos_threshold
        As in :func:`probe_attractors` (the paper's rule: 1e-6 within 3,000 steps).
    control
        Also measure the end points' memorization against ``x_test`` (``mem_test_mean``).
    device
        Where to train and iterate (default: CUDA if available).

    Returns
    -------
    Sweep
        ``results`` has ``len(settings) * len(seeds)`` rows, setting-major, seeds in order.
    """
    import pandas as pd

    from lvf import train as _train

    rows: list[dict[str, Any]] = []
    probes: dict[tuple, AttractorProbe] = {}
    configs: dict[tuple, TrainConfig] = {}
    seconds = {"training": 0.0, "attractors": 0.0}
    for labels, config, x_test in settings:
        for s in seeds:
            cfg = _train.seeded(config, s)
            key = (*labels.values(), s)
            t0 = time.perf_counter()
            tm = _train.trained(cfg, device=device, progress=False)
            x_train = _train.training_data(cfg)
            t1 = time.perf_counter()
            pr = probe_attractors(
                tm.model,
                x_train,
                x_test,
                starts=min(starts, len(x_train)),
                tol=tol,
                max_steps=max_steps,
                cos_threshold=cos_threshold,
            )
            row = dict(labels) | {
                "seed": s,
                "n_train": len(x_train),
                "epochs": cfg.epochs,
                "cached": bool(tm.from_cache),
            }
            row |= pr.summary()
            if control:
                mem_test = end_point_memorization(tm.model, pr, x_test)
                row["mem_test_mean"] = float(mem_test.mean()) if len(mem_test) else float("nan")
            seconds["training"] += t1 - t0
            seconds["attractors"] += time.perf_counter() - t1
            rows.append(row)
            probes[key], configs[key] = pr, cfg
    return Sweep(pd.DataFrame(rows), probes, configs, seconds)


def over_seeds(table: pd.DataFrame, by: Sequence[str], columns: Sequence[str]) -> pd.DataFrame:
    """Mean and standard deviation over seeds of ``columns``, one row per setting ``by``.

    Parameters
    ----------
    table
        One row per model and seed (:attr:`Sweep.results`).
    by
        The columns that name a setting, e.g. ``["dataset", "k"]``.
    columns
        The measured columns to average.

    Returns
    -------
    pandas.DataFrame
        Columns ``by``, then for each ``c`` in ``columns`` ``c`` (the mean over seeds) and
        ``c + "_sd"`` (the standard deviation, ``nan`` with one seed), and ``seeds`` (how
        many); settings in order of appearance.
    """
    groups = table.groupby(list(by), sort=False)[list(columns)]
    mean, sd = groups.mean(), groups.std()
    out = mean.join(sd.add_suffix("_sd"))
    out = out[[c for col in columns for c in (col, f"{col}_sd")]]
    out["seeds"] = table.groupby(list(by), sort=False).size()
    return out.reset_index()


def spearman_by_seed(
    table: pd.DataFrame, *, x: str, y: str, by: str = "dataset", seed: str = "seed"
) -> pd.DataFrame:
    """Spearman's ρ of ``x`` with ``y`` across the rows of each group and seed.

    The per-seed effects that :func:`lvf.book.verdicts.trend` judges, as a table to show, with
    its rule for a ``y`` that does not change across the rows (equal to 6 significant digits):
    no trend, ρ = 0.

    Parameters
    ----------
    table
        One row per model and seed, with columns ``x``, ``y``, ``by`` and ``seed``.

    Returns
    -------
    pandas.DataFrame
        ``(groups, seeds)``: index the values of ``by`` in order of appearance, columns the
        seeds; ``nan`` where ρ is undefined (a constant ``x``, a missing value, one row).
    """
    import numpy as np
    import pandas as pd

    from lvf.measures.stats import spearman

    def rho(part) -> float:
        values = np.asarray(part[y], dtype=float)
        if values.size > 1 and np.isfinite(values).all():
            if np.ptp([float(f"{v:.6g}") for v in values]) == 0:
                return 0.0
        return spearman(part[x], values)

    rhos = {(g, s): rho(part) for (g, s), part in table.groupby([by, seed], sort=False)}
    out = pd.Series(rhos, dtype=float).unstack()
    out = out.reindex(index=list(dict.fromkeys(table[by])), columns=sorted(set(table[seed])))
    out.index.name, out.columns.name = by, seed
    return out


def trend_text(
    table: pd.DataFrame, *, x: str, y: str, by: str = "dataset", seed: str = "seed"
) -> str:
    """:func:`spearman_by_seed` in words, e.g. ``"mnist ρ = −0.90, −0.70; cifar10 ρ = …"``
    (one value per seed, in seed order), for a record's ``ours``."""
    rhos = spearman_by_seed(table, x=x, y=y, by=by, seed=seed)
    return "; ".join(
        f"{g} ρ = " + ", ".join(f"{r:+.2f}".replace("-", "−").replace("+nan", "n/a") for r in row)
        for g, row in rhos.iterrows()
    )
