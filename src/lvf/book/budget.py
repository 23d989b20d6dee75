"""Budget studies: does a claim's effect move toward the paper as training grows?

The book trains its networks far less than the paper does. When a claim is not reproduced at
``book`` scale, the first question is whether the budget is the cause. A **budget study**
repeats a chapter's experiment at 1×, 4× and 16× the book's optimizer steps
(:data:`MULTIPLIERS`), on every seed, measures the same per-seed effects the chapter's verdicts
are read from, and asks whether they move toward the paper's side as the budget grows.

* :data:`STUDIES` holds one :class:`Study` per chapter: how its budget grows (more training
  images where the dataset has them, otherwise more epochs), the claims and their parts, and
  the function that measures one (budget, seed) cell.
* :func:`run` computes the cells that are missing and writes each one as a small JSON file
  under :func:`results_dir` (``book/data/budget/<chapter>/x<m>-seed<s>.json``, written
  atomically), so an interrupted study loses nothing and several processes can share the
  work. The files are committed; ``lvf budget ch08`` recomputes them.
* :func:`table` reads them back; :func:`verdicts` judges each budget with the book's one rule
  (:func:`lvf.book.verdicts.judge`); :func:`trend` gives the **trend with budget**; and
  :func:`figure` draws one panel per claim part.

The trend is the least-squares slope of the per-seed effects (signed so that positive goes
the paper's way) on ``log2`` of the budget multiplier, with Student's *t* 95 % interval
(:func:`scipy.stats.linregress`): **toward the paper** when the interval is above 0, **away
from the paper** when below, **no clear trend** otherwise. A part whose effect is undefined
at some budget (no converged attractor, say) is judged on the budgets where it is defined.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from lvf.protocols.ood import CIFAR_OOD_SETS, MNIST_OOD_SETS

__all__ = [
    "MULTIPLIERS",
    "STUDIES",
    "Part",
    "Study",
    "by_budget",
    "by_setting",
    "convergence",
    "convergence_sentence",
    "cost_hours",
    "figure",
    "plateau_sentence",
    "to_compute",
    "results_dir",
    "run",
    "scaled",
    "settled",
    "sentence",
    "summary",
    "table",
    "trend",
    "trend_of",
    "claim_trends",
    "verdicts",
    "waiting",
]

MULTIPLIERS: tuple[int, ...] = (1, 4, 16)
"""The budgets, as multiples of the book's optimizer steps."""

TRENDS: tuple[str, ...] = ("toward the paper", "no clear trend", "away from the paper")
"""Every trend :func:`trend` can give."""


@dataclass(frozen=True)
class Part:
    """One measured part of a claim.

    Attributes
    ----------
    claim
        The record id of the claim (as in :data:`lvf.book.claims.CLAIMS`).
    column
        The effect's name in the cells (raw sign, as the chapter computes it).
    label
        The part's name in the chapter's verdict, e.g. ``"memorization falls"``.
    direction
        ``+1`` when the paper says the effect is positive, ``-1`` when negative.
    smallest
        The smallest effect that counts, as the chapter judges it.
    """

    claim: str
    column: str
    label: str
    direction: int
    smallest: float


@dataclass(frozen=True)
class Study:
    """A chapter's budget study.

    Attributes
    ----------
    chapter
        The chapter, e.g. ``"ch08"``.
    budget
        How the budget grows, in words (for the chapter and the report).
    parts
        The claim parts it measures.
    measure
        ``measure(ns, multiplier, seed, device) -> dict`` of one cell: every part's
        ``column`` plus training diagnostics (the plateau measure, epochs...). ``ns`` is the
        chapter's settings at the scale (:func:`lvf.train.registry.chapter_settings`: ``S``,
        ``SEEDS``, its constants).
    """

    chapter: str
    budget: str
    parts: tuple[Part, ...]
    measure: Callable[[dict, int, int, str], dict[str, float]]
    reference: dict[str, Any] = field(default_factory=dict)
    """Settings of the chapter's ``book`` scale that the study's 1× keeps: the book's budget
    when the study was run. When the book's own budget later moves up (ch08 now trains at
    the study's 4×), the study's budgets stay where they were and its cells stay valid."""

    def settings(self, ns: dict, scale: str) -> dict:
        """``ns`` (:func:`lvf.train.registry.chapter_settings`) with :attr:`reference` applied
        to its ``S`` at ``book`` scale."""
        if scale != "book" or not self.reference:
            return ns
        return {**ns, "S": {**ns["S"], **self.reference}}

    def book_multiplier(self, ns: dict, scale: str = "book") -> float:
        """Where the chapter's own settings ``ns`` sit on the study's axis at ``scale``: at
        ``book`` scale the ratio of their ``n_train`` to the reference's (1 unless the book's
        budget moved after the study), at other scales 1 (the reference applies to ``book``
        only)."""
        n = self.reference.get("n_train")
        if scale != "book" or not n:
            return 1.0
        return ns["S"]["n_train"] / n

    @property
    def claims(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p.claim for p in self.parts))


# ---- budgets -------------------------------------------------------------------------------

_FULL = {"mnist": 60_000, "fashion-mnist": 60_000, "cifar10": 50_000}


def scaled(config, multiplier: int, *, data: bool = True):
    """``config`` with ``multiplier`` times its optimizer steps: more training images while the
    dataset has them (up to its full training split; a toy density ``"toy:<name>"`` has no
    end), then more epochs; with ``data=False`` more epochs on the same images.

    When the epochs grow, the learning-rate schedule keeps its shape: ``lr_step`` grows with
    them, so the rate is halved at the same fractions of the run (every third of it, by
    default). Keeping the 1× ``lr_step`` instead would halve the rate ``multiplier`` times as
    often, and at 16× leave it near zero for most of the run: more steps, no more training.

    Parameters
    ----------
    config
        A :class:`lvf.train.TrainConfig`.
    multiplier
        A positive integer; 1 returns ``config`` unchanged (so the study's 1× cell is the
        chapter's own model, read from the same cache).

    Returns
    -------
    TrainConfig
        With ``n_train`` and ``epochs`` changed, everything else as in ``config``.

    >>> from lvf.train import TrainConfig
    >>> c = TrainConfig(model="conv", dataset="mnist", n_train=2000, epochs=30)
    >>> (scaled(c, 16).n_train, scaled(c, 16).epochs)
    (32000, 30)
    >>> (scaled(c, 64).n_train, scaled(c, 64).epochs)
    (60000, 64)
    >>> (scaled(c, 16, data=False).n_train, scaled(c, 16, data=False).epochs)
    (2000, 480)
    >>> (c.lr_step, scaled(c, 16).lr_step, scaled(c, 16, data=False).lr_step)
    (10, 10, 160)
    >>> toy = TrainConfig(model="mlp", dataset="toy:moons", n_train=1000, epochs=300)
    >>> (scaled(toy, 16).n_train, scaled(toy, 16).epochs)
    (16000, 300)
    """
    if not isinstance(multiplier, int) or multiplier < 1:
        raise ValueError(f"multiplier={multiplier!r}: give a positive integer (1, 4, 16...).")
    if multiplier == 1:
        return config
    full = math.inf if config.dataset.startswith("toy:") else _FULL.get(config.dataset)
    n = config.n_train or full
    if not data or full is None or n is None:
        more, epochs = config.n_train, config.epochs * multiplier
    else:
        more = int(min(full, n * multiplier))
        epochs = max(1, round(config.epochs * multiplier * n / more))
    if epochs == config.epochs or not config.epochs:
        return replace(config, n_train=more, epochs=epochs)
    lr_step = max(1, round(config.lr_step * epochs / config.epochs))
    return replace(config, n_train=more, epochs=epochs, lr_step=lr_step)


def _loss_diagnostics(run) -> dict[str, float]:
    """The final training loss and the plateau measure (:func:`lvf.train.loss_drop`: the
    relative fall of the loss over the last quarter of the epochs; 0.01 = still 1 % lower at
    the end)."""
    from lvf.train import loss_drop

    loss = [float(v) for v in run.history["loss"]]
    return {"final_loss": loss[-1], "loss_drop_last_quarter": loss_drop(loss)}


def _train_time(run, cached: bool | None = None) -> dict[str, float]:
    """The model's training seconds as recorded when it was trained (so a recomputed cell,
    ``--force``, keeps them), and the same again when the cell found it in the cache
    (``cached``, default ``run.from_cache``) rather than training it: :func:`cost_hours`
    adds those."""
    seconds = float(run.history["train_seconds"][0])
    found = run.from_cache if cached is None else cached
    return {"train_seconds": seconds, "train_seconds_cached": seconds if found else 0.0}


def _gap_cells(out, seed: int, claims: dict) -> dict[str, float]:
    """The trajectory score's AUROC gap per claim and OOD set of one seed's
    :func:`lvf.protocols.ood.run` result: against the KNN score (``"knn"``, the largest
    ``K``), or the better of the named baselines, as chapters 9 and 11 judge them."""
    from lvf.protocols import ood

    cells: dict[str, float] = {}
    for cid, (against, *_) in claims.items():
        table = ood.gaps({seed: out}, [out.knn_paper] if against == "knn" else against)
        cells |= {f"{cid}@{r.set}": float(r.gap) for r in table.itertuples()}
    return cells


def _steps(config, n: int | None = None) -> int:
    """Optimizer steps of ``config``; ``n``, the training images it had, when ``n_train`` is
    ``None`` and the machine holds fewer than the full split (CIFAR-10 here)."""
    n = n or config.n_train or _FULL.get(config.dataset, 0)
    return config.epochs * math.ceil(n / config.batch_size)


# ---- ch01: the toy denoising autoencoder of eight Gaussian blobs (App. A.3) ------------------


def _ch01(ns: dict, multiplier: int, seed: int, device: str) -> dict[str, float]:
    """Chapter 1's main model on one seed at the budget: its denoising autoencoder trained on
    ``multiplier`` times the samples of the blobs at the same 150 epochs, summarized by the
    chapter's protocol on its own training points (:func:`lvf.protocols.plane.summarize`:
    uniform starts over the window of their codes, converged end points only) and measured as
    the chapter measures App. A.3: ``1 - max ‖J_f(z*)‖σ`` over the attractors. So a cell is
    what the chapter itself gives at that budget. The density of the attractors (Fig. 1) is
    kept as a diagnostic."""
    S = ns["S"]
    import lvf.data
    from lvf.protocols import plane
    from lvf.train import trained, training_data
    from lvf.train.registry import _ch01_config

    config = scaled(_ch01_config(S, seed=seed), multiplier)
    run = trained(config, device="cpu", progress=False)  # the chapter trains on the CPU
    x = training_data(config)  # the chapter's x_s of the seed, at this budget
    main = plane.summarize(run.model, x, n_starts=S["starts"], seed=seed)
    att = main.major
    mixture = lvf.data.GaussianMixture2D.circle(n_modes=8, radius=2.0, std=0.2)
    effects = plane.attractor_effects(main, mixture.log_prob)  # as the chapter's toy_effects
    return {
        **effects,
        "largest_sigma": 1 - effects["contraction"],
        "median_sigma": float(main.sigma[att].median()) if bool(att.any()) else math.nan,
        "attractors": int(att.sum()),
        "fixed_points": len(main.centers),
        "converged": main.converged,
        "n_train": config.n_train,
        "epochs": config.epochs,
        "steps": _steps(config),
        **_loss_diagnostics(run),
        **_train_time(run),
    }


# ---- ch02: the paper's k = 2 autoencoders of MNIST (Fig. 1, Def. 2, Fig. 11) --------------

_CH02 = {  # effect column: (record id, the part's name in ch02's verdict, the smallest effect)
    "density": ("fig1-attractors-at-density", "attractors at high density", 0.25),
    "pearson": ("fig11-convergence-estimate", "Pearson r", 0.5),
    "spearman": ("fig11-convergence-estimate", "Spearman ρ", 0.5),
    "pearson gain": ("fig11-higher-order-far-away", "Pearson r gain", 0.1),
    "spearman gain": ("fig11-higher-order-far-away", "Spearman ρ gain", 0.1),
}  # fmt: skip


def _ch02_config(S: dict, seed: int, multiplier: int):
    """Chapter 2's model of ``seed`` at ``multiplier`` times its steps, with the chapter's
    learning-rate schedule for the epochs it then has (halved every ``epochs`` epochs, i.e.
    never, below 50 epochs; else three times)."""
    from lvf.train import seeded
    from lvf.train.registry import _mnist_2d_config

    config = scaled(seeded(_mnist_2d_config(S), seed), multiplier)
    e = config.epochs
    return replace(config, lr_step=e if e < 50 else e // 3)


def _ch02(ns: dict, multiplier: int, seed: int, device: str) -> dict[str, float]:
    """Chapter 2's protocol on one seed at the budget (:mod:`lvf.protocols.plane`: the
    model's own window, uniform and training starts, Newton-polished fixed points, the KDE of
    its codes, Fig. 11's steps); the effects of its Fig. 1 and Fig. 11 claims."""
    S = ns["S"]
    from lvf._batching import batched
    from lvf.protocols import plane
    from lvf.train import trained, training_data

    config = _ch02_config(S, seed, multiplier)
    run = trained(config, device=device)
    model = run.model.eval()
    x = training_data(config)
    x = x[plane.shown(len(x), S["n_show"])].to(device)
    codes = batched(model.encode, x, 1024)  # as the chapter encodes them
    s = plane.survey(model, codes, plane.unit_starts(S["starts"]), starts=S["starts"])
    density = plane.attractor_density(codes, s.attractors, starts=s.z_uniform)
    out = plane.mnist_effects(s, density, plane.convergence_steps(s))
    out |= {"window": s.lim, "fixed_points": len(s.centers), "converged_d": s.converged_d}
    out |= {"n_train": config.n_train, "epochs": config.epochs, "steps": _steps(config)}
    return out | _train_time(run) | _loss_diagnostics(run)


# ---- ch08: training dynamics (Sec. 3.4, Fig. 3 and Fig. 13 right) --------------------------


def _ch08(ns: dict, multiplier: int, seed: int, device: str) -> dict[str, float]:
    S = ns["S"]
    import lvf.data
    from lvf.protocols import dynamics
    from lvf.train import seeded, trained, training_data
    from lvf.train.registry import _mnist_dynamics

    config = scaled(seeded(_mnist_dynamics(S, 128), seed), multiplier)
    run = trained(config, device=device)
    x_test, _ = lvf.data.load("mnist", "test", S["n_test"], seed=0)
    table, _ = dynamics.across_seeds(
        [(seed, run, training_data(config))],
        x_test,
        epochs=list(S["save"]),
        starts=S["starts"],
        max_steps=S["max_steps"],
        stride=S["stride"],
    )
    eff = dynamics.effects(table).iloc[0]
    last = table.sort_values("epoch").iloc[-1]
    out = {c: float(eff[c]) for c in ("mem", "test_mse", "frac_train", "frac_test")}
    out |= {c: float(eff[c]) for c in ("noise_behind", "noise_slower", "chamfer", "fpr95")}
    out |= {"rank90": float(eff["rank90"])}
    out |= {
        "n_train": config.n_train,
        "epochs": config.epochs,
        "steps": _steps(config),
        "test_mse_last": float(last.test_mse),
        "converged_train_last": float(last.converged_train),
        "converged_noise_last": float(last.converged_noise),
    }
    return out | _loss_diagnostics(run)


# ---- ch09: OOD detection by latent trajectories (Sec. 4.2, Fig. 5a, Table 1) ---------------

_CH09 = {  # record id: (the baselines, the smallest gap that counts, the part's name)
    "fig5a-trajectory-beats-knn": ("knn", 2.0, "beats KNN"),
    "tab1-trajectory-beats-mahalanobis-and-reconstruction": (
        ("Mahalanobis", "reconstruction"), 2.0, "beats Mahalanobis and reconstruction"
    ),
    "sec42-trajectory-score-detects-ood": ("chance", 40.0, "above chance"),
}  # fmt: skip


def _ch09(ns: dict, multiplier: int, seed: int, device: str) -> dict[str, float]:
    """Chapter 9's protocol on one seed of the ch08 network (k = 128) at the budget: the
    trajectory score's AUROC gap to each baseline, per OOD set (as the chapter's verdicts)."""
    S = ns["S"]
    from lvf.protocols import ood
    from lvf.train import seeded, trained, training_data
    from lvf.train.registry import _mnist_dynamics

    config = scaled(seeded(_mnist_dynamics(S, 128), seed), multiplier)
    run = trained(config, device=device)
    x_ref = training_data(config)[: S["n_ref"]]
    model = run.model.eval()
    out = ood.run(
        model.encode, model.decode, x_ref, ood.mnist_sets(S["n_eval"], seed, x_ref),
        knn_k=(ns["K_PAPER"], S["k_small"]), tol=ns["TOL"], max_steps=S["max_steps"],
        n_attractor_starts=S["n_att"], device=device,
    )  # fmt: skip
    cells = _gap_cells(out, seed, _CH09)
    cells |= {
        "n_train": config.n_train,
        "epochs": config.epochs,
        "steps": _steps(config),
        "converged_fraction": float(out.converged_fraction),
        "attractors": len(out.attractors),
    }
    return cells | _loss_diagnostics(run)


# ---- ch10: data-free weight probing on the CIFAR-10 stand-in (Sec. 4.1, Fig. 4) -----------

_CH10 = {  # record id: (which numbers of atoms, the part's name)
    "fig4-attractors-beat-orthogonal": ("below k", "attractors code better"),
    "fig4a-five-percent-atoms": ("5 %", "better at 5 % of the atoms"),
}  # fmt: skip
_CH10_SETS = ("CIFAR-10", "Kodak crops", "Fashion-MNIST", "MNIST")


def _ch10(ns: dict, multiplier: int, seed: int, device: str) -> dict[str, float]:
    """Chapter 10's protocol on one seed of the book's CIFAR-10 autoencoder (the stand-in for
    the SD VAE; the same models as chapter 11's study) at the budget: the relative OMP error
    gap (orthogonal − attractors) / orthogonal per test set, averaged over the numbers of
    atoms below ``k`` (Fig. 4b) and at 5 % of the atoms (Fig. 4a), as the chapter's
    verdicts."""
    S = ns["S"]
    from lvf.book.standins import book_autoencoder
    from lvf.protocols import dictionary
    from lvf.train import seeded, trained, training_data

    config = scaled(book_autoencoder(), multiplier, data=False)
    cached = seeded(config, seed).cache_path().is_file()  # else trained in this cell
    probes = dictionary.probe_trained(
        config, dictionary.test_sets(S["n_test"]), S["levels"], seeds=[seed], tol=ns["TOL"],
        max_steps=S["max_steps"],
    )  # fmt: skip
    k = probes[seed].model.k
    atoms = {"below k": [a for a in S["levels"] if a < k], "5 %": [max(1, round(0.05 * k))]}
    table = dictionary.gap_table(probes)
    cells: dict[str, float] = {}
    for cid, (which, _) in _CH10.items():
        for name, (effect,) in dictionary.gap_effects(table, atoms[which]).items():
            cells[f"{cid}@{name}"] = effect
    conv = dictionary.convergence_table(probes).iloc[0]
    run = trained(seeded(config, seed), device=device, progress=False)
    n_train = len(training_data(run.config))
    return (
        cells
        | {
            "converged_fraction": float(conv["converged share"]),
            "distinct": float(conv["distinct"]),
            "n_train": n_train,
            "epochs": config.epochs,
            "steps": _steps(config, n_train),
        }
        | _train_time(run, cached)
        | _loss_diagnostics(run)
    )


# ---- ch11: OOD detection on the CIFAR-10 stand-in (Sec. 4.2, Fig. 5a, Table 1, Fig. 12) ----

_CH11 = {  # record id: (the baselines, the smallest gap that counts, the part's name)
    "fig5-trajectory-beats-knn": ("knn", 2.0, "beats KNN"),
    "table1-trajectory-beats-mahalanobis-and-reconstruction": (
        ("Mahalanobis", "reconstruction"), 2.0, "beats Mahalanobis and reconstruction"
    ),
}  # fmt: skip


def _ch11(ns: dict, multiplier: int, seed: int, device: str) -> dict[str, float]:
    """Chapter 11's protocol on one seed of the book's CIFAR-10 autoencoder (the stand-in for
    the ViT-MAE) at the budget: the trajectory score's AUROC gap to the KNN score and to the
    better of the Mahalanobis distance and the reconstruction error, per OOD set, and how
    many orders of magnitude the median residual of the CIFAR-10 test latents shrinks
    (Fig. 12), as the chapter's verdicts. Its training images are all the CIFAR-10 images
    the book has, so the budget grows by epochs."""
    S = ns["S"]
    import numpy as np
    import torch

    from lvf.book.standins import book_autoencoder
    from lvf.protocols import ood
    from lvf.protocols.norms import track_norms
    from lvf.train import seeded, trained, training_data

    config = scaled(seeded(book_autoencoder(), seed), multiplier, data=False)
    n_train = len(training_data(config))
    run = trained(config, device=device)
    model = run.model.eval()
    ref, sets = ood.cifar_sets(S["n_ref"], S["n_test"], seed)
    out = ood.run(
        model.encode, model.decode, ref, sets, knn_k=S["knn"], tol=ns["TOL"],
        max_steps=S["max_steps"], n_attractor_starts=S["n_att"], device=device,
    )  # fmt: skip
    cells = _gap_cells(out, seed, _CH11)
    with torch.no_grad():
        z0 = model.encode(sets[out.id_name][: S["track_n"]].to(device))
    summ = track_norms(model.latent_map(), z0, S["track_steps"]).summary()
    cells["fig12-trajectories-contractive"] = float(
        np.log10(summ["residual_first"] / summ["residual_last"])
    )
    cells |= {
        "n_train": n_train,
        "epochs": config.epochs,
        "steps": _steps(config, n_train),
        "converged_fraction": float(out.converged_fraction),
        "attractors": len(out.attractors),
    }
    return cells | _train_time(run) | _loss_diagnostics(run)


# ---- ch12: the residual stream of tiny language models (App. B.8.2, Fig. 17) --------------

_CH12_VARIANTS = tuple(
    f"{arch}, {side} final norm" for arch in ("qwen3", "llama") for side in ("before", "after")
)
_CH12_EFFECTS = {"latent residual falls": math.log10(2), "norm bounded": 0.5}
"""Fig. 17's effects (:data:`lvf.protocols.norms.EFFECTS`) and the smallest that counts, as
chapter 12 judges them."""


def _ch12(ns: dict, multiplier: int, seed: int, device: str) -> dict[str, float]:
    """Chapter 12's Fig. 17 measurement on one seed of its two tiny byte-level language models
    (Qwen3 and Llama architectures, the stand-ins for Qwen3-0.6B and SmolLM2-1.7B) trained
    for ``multiplier`` times the book's optimizer steps (the one-cycle schedule spans the
    run): per variant (architecture, reading before or after the final norm), the effects
    the chapter judges."""
    S = ns["S"]
    from lvf.models.tinylm import TinyLMConfig
    from lvf.protocols.norms import residual_stream_traces
    from lvf.train import loss_drop, trained_lm

    cells: dict[str, float] = {}
    seconds = cached = 0.0
    drops, finals = [], []
    for arch in ("qwen3", "llama"):
        lm = trained_lm(TinyLMConfig(arch=arch, steps=S["lm_steps"] * multiplier, seed=seed))
        seconds += lm.seconds
        cached += lm.seconds * lm.from_cache
        drops.append(loss_drop(lm.losses, max(1, len(lm.losses) // 20)))
        finals.append(float(lm.val_loss))
        for variant, tr in residual_stream_traces(lm, S["n_seq"], S["iters"]).items():
            effects = tr.effects()
            cells |= {f"{variant}: {e}": float(effects[e]) for e in _CH12_EFFECTS}
    return cells | {
        "steps": S["lm_steps"] * multiplier,
        "held_out_loss_max": max(finals),
        "loss_drop_last_quarter": max(drops),
        "train_seconds": seconds,
        "train_seconds_cached": cached,
    }


# ---- ch06 and ch07: memorization against the bottleneck and the data (Sec. 3.2) ------------

_MEMORIZATION_DATASETS = ("mnist",)
"""The datasets of the ch06/ch07 studies: MNIST, the one whose book-scale verdicts are least
settled and whose models are cheapest; add more here (each multiplies the cost)."""

_CH06 = {  # record id: (x, y, the paper's direction, the part's name), as ch06's TRENDS
    "fig2-small-k-memorizes": ("k", "mem_mean", -1, "memorization falls with k"),
    "fig2-small-k-generalizes-worse": ("k", "test_mse", -1, "test error falls with k"),
    "fig2-memorization-vs-generalization": (
        "mem_mean", "test_mse", +1, "memorization tracks test error"
    ),
    "fig13-rank-grows-with-k": ("k", "rank90", +1, "rank-90 grows with k"),
}  # fmt: skip


def _sweep_cell(settings, seed: int, S: dict, device: str, trends: dict) -> dict[str, float]:
    """Train and probe one seed of a grid; one Spearman trend per (claim, dataset), and the
    training seconds of the grid's models (``train_seconds``; ``train_seconds_cached`` for
    those found in the cache, trained by another cell or ahead of the cell)."""
    from lvf.book.verdicts import trend_effect
    from lvf.protocols.memorization import sweep
    from lvf.train import seeded, trained

    found = [seeded(cfg, seed).cache_path().is_file() for _, cfg, _ in settings]
    sw = sweep(settings, seeds=[seed], starts=S["starts"], max_steps=S["max_steps"],
               device=device)  # fmt: skip
    runs = [trained(seeded(cfg, seed), device=device, progress=False) for _, cfg, _ in settings]
    res = sw.results
    out: dict[str, float] = {}
    for name, g in res.groupby("dataset", sort=False):
        for cid, (x, y, *_) in trends.items():
            out[f"{cid}@{name}"] = trend_effect(g[x], g[y])
        out[f"converged_min@{name}"] = float(g.converged.min())
        drops = [
            _loss_diagnostics(run)["loss_drop_last_quarter"]
            for (labels, _, _), run in zip(settings, runs, strict=True)
            if labels["dataset"] == name
        ]
        out[f"loss_drop_last_quarter_max@{name}"] = float(max(drops))
        out[f"epochs@{name}"] = int(g.epochs.max())
    times = [_train_time(run, cached=was) for run, was in zip(runs, found, strict=True)]
    return out | {k: sum(t[k] for t in times) for k in ("train_seconds", "train_seconds_cached")}


def _ch06(ns: dict, multiplier: int, seed: int, device: str) -> dict[str, float]:
    S = ns["S"]
    from lvf import data
    from lvf.train.registry import _memorization_config

    settings = []
    for name in _MEMORIZATION_DATASETS:
        tt = data.train_test(name, S["n_train"], S["n_test"])
        x_test = tt.test()[0]
        for k in S["ks"]:
            cfg = scaled(_memorization_config(S, tt, k), multiplier, data=False)
            settings.append(({"dataset": name, "k": k}, cfg, x_test))
    return _sweep_cell(settings, seed, S, device, _CH06)


def _ch07(ns: dict, multiplier: int, seed: int, device: str) -> dict[str, float]:
    S = ns["S"]
    from lvf import data
    from lvf.train.registry import _memorization_config

    largest = None if None in S["sizes"] else max(S["sizes"])
    settings = []
    for name in _MEMORIZATION_DATASETS:
        source = data.train_test(name, largest, S["n_test"])
        x_test = source.test()[0]
        for n in S["sizes"]:
            tt = data.train_test(source.dataset, n, S["n_test"])
            cfg = scaled(_memorization_config(S, tt, ns["K"]), multiplier, data=False)
            settings.append(({"dataset": name, "n_train": tt.n_train}, cfg, x_test))
    trends = {"fig14-less-data-more-memorization": ("n_train", "mem_mean", -1)}
    return _sweep_cell(settings, seed, S, device, trends)


# ---- ch04: attractors and the density on toy data (Thm. 1, Lemma A.5) ----------------------

_CH04 = {  # effect column: (record id, the part's name in ch04's verdict)
    "modes": ("thm1-attractors-at-density-modes", "attractors at the modes"),
    "cos gaussians": ("thm1-field-along-score", "gaussians"),
    "cos moons": ("thm1-field-along-score", "moons"),
    "cos rings": ("thm1-field-along-score", "rings"),
}  # fmt: skip


def _ch04(ns: dict, multiplier: int, seed: int, device: str) -> dict[str, float]:
    """Chapter 4's Theorem-1 protocol on one seed at the budget: its denoising autoencoder of
    each toy density trained on ``multiplier`` times the samples at the same epochs, studied
    (:func:`lvf.protocols.density.study`) on the first ``n_train`` of them, so that the KDE
    and the grid are the chapter's at every budget; the effects are the attractor/mode match
    of the blobs and the mean cosine of the field with the KDE score per density."""
    S = ns["S"]
    from lvf.protocols import density
    from lvf.train import seeded, trained, training_data
    from lvf.train.registry import _toy_config

    out: dict[str, float] = {}
    drops, seconds, cached = [], 0.0, 0.0
    for name in ns["DATASETS"]:
        base = seeded(replace(_toy_config(S, name), noise_std=ns["NOISE"]), seed)
        config = scaled(base, multiplier)
        run = trained(config, device=device)
        x = training_data(config)[: S["n_train"]].to(device)
        st = density.study(
            run.model.eval(), x, grid_n=S["grid"], tol=ns["TOL"], max_steps=S["max_steps"]
        )
        out[f"cos {name}"] = float(density.on_data_cos(st).mean())
        out[f"converged@{name}"] = st["converged"]
        out[f"attractors@{name}"] = len(st["centers"])
        out[f"kde_modes@{name}"] = len(st["modes"])
        if name == "gaussians":
            radius = density.mode_radius(st["modes"])
            out["modes"] = density.mode_match(st["centers"], st["modes"], radius)
        drops.append(_loss_diagnostics(run)["loss_drop_last_quarter"])
        seconds += float(run.history["train_seconds"][0])
        cached += float(run.history["train_seconds"][0]) if run.from_cache else 0.0
    return out | {
        "n_train": config.n_train,
        "epochs": config.epochs,
        "steps": _steps(config),
        "loss_drop_last_quarter": float(max(drops)),
        # as recorded when each model was trained, so a recomputed cell (--force) keeps it
        "train_seconds": seconds,
        "train_seconds_cached": cached,
    }


# ---- ch05: weight decay and the layer-wise bound (App. C) ----------------------------------

_CH05 = {  # effect column: (the part's name in ch05's verdict, the paper's direction, smallest)
    "bound_trend": ("bound falls", -1, 0.5),
    "jacobian_trend": ("Jacobian falls", -1, 0.5),
    "useful": ("useful and < 1", +1, 0.5),
}  # fmt: skip


def _ch05(ns: dict, multiplier: int, seed: int, device: str) -> dict[str, float]:
    """Chapter 5's protocol on one seed at the budget: its four weight decays trained with
    ``multiplier`` times the steps, measured at every saved epoch
    (:func:`lvf.protocols.weight_decay.sweep`); the effects are the chapter's three parts of
    App. C's "weight decay contracts" at the last epoch."""
    S = ns["S"]
    import torch.nn.functional as F

    import lvf.data
    from lvf.book.verdicts import trend_effect
    from lvf.protocols import weight_decay
    from lvf.train import seeded, trained, training_data
    from lvf.train.registry import _weight_decay_config

    configs = {
        wd: scaled(seeded(_weight_decay_config(S, ns["K"], wd), seed), multiplier)
        for wd in S["wds"]
    }
    runs = {wd: trained(c, device=device) for wd, c in configs.items()}
    first = configs[S["wds"][0]]
    x_probe = {seed: training_data(first)[: S["n_probe"]]}  # the seed's own training images
    x_test = lvf.data.load("mnist", "test", S["n_probe"], seed=0)[0].to(device)
    # the chapter's yardstick at every budget: the mean of its own (1x, seed 0) training images
    mean_image = training_data(_weight_decay_config(S, ns["K"], 0.0)).mean(0).to(device)
    mean_image_mse = float(F.mse_loss(mean_image.expand_as(x_test), x_test))
    table = weight_decay.sweep(
        [(seed, wd, run) for wd, run in runs.items()], x_probe, x_test, epochs=S["save"]
    )
    last = table[table.epoch == table.epoch.max()]
    out = {
        "bound_trend": trend_effect(last.weight_decay, last.prod_W),
        "jacobian_trend": trend_effect(last.weight_decay, last.jac_max),
        "useful": float(weight_decay.useful_contraction(table, mean_image_mse).iloc[0]),
    }
    for r in last.itertuples():
        out |= {
            f"prod_W@{r.weight_decay:g}": float(r.prod_W),
            f"jac_max@{r.weight_decay:g}": float(r.jac_max),
            f"test_mse@{r.weight_decay:g}": float(r.test_mse),
            f"attractors@{r.weight_decay:g}": int(r.attractors),
            f"converged@{r.weight_decay:g}": float(r.converged),
        }
    drops = [_loss_diagnostics(run)["loss_drop_last_quarter"] for run in runs.values()]
    return out | {
        "n_train": first.n_train,
        "epochs": first.epochs,
        "steps": _steps(first),
        "mean_image_mse": mean_image_mse,
        "loss_drop_last_quarter": float(max(drops)),
        # as recorded when each model was trained, so a recomputed cell (--force) keeps it
        "train_seconds": float(sum(run.history["train_seconds"][0] for run in runs.values())),
    }


_RHO = 0.5  # the smallest Spearman correlation that counts (the chapters' choice)

STUDIES: dict[str, Study] = {
    "ch08": Study(
        chapter="ch08",
        budget="more training images at the same 30 epochs: 2,000 (1×, the book's budget when "
        "the study was run), 8,000 (4×, the book's budget since) and 32,000 (16×) of MNIST's "
        "60,000 (the paper trains on all of them)",
        parts=(
            Part("fig3b-memorize-then-generalize", "mem", "memorization falls", -1, _RHO),
            Part("fig3b-memorize-then-generalize", "test_mse", "test error falls", -1, _RHO),
            Part("fig3c-distinct-attractors-grow", "frac_train", "train", +1, _RHO),
            Part("fig3c-distinct-attractors-grow", "frac_test", "test", +1, _RHO),
            Part("fig3c-distinct-attractors-grow", "noise_behind", "noise behind", +1, 0.25),
            Part(
                "fig3c-distinct-attractors-grow",
                "noise_slower",
                "noise slower",
                +1,
                math.log2(1.5),
            ),  # fmt: skip
            Part("fig3d-chamfer-increases", "chamfer", "Chamfer rises", +1, _RHO),
            Part("fig3d-fpr95-decreases", "fpr95", "FPR95 falls", -1, _RHO),
            Part("fig13-rank90-grows-with-training", "rank90", "rank-90 grows", +1, _RHO),
        ),
        measure=_ch08,
        reference={"n_train": 2000},
    ),
    "ch09": Study(
        chapter="ch09",
        budget="the ch08 network (k = 128) at its budgets: 2,000 (1×, the book's budget when "
        "the study was run), 8,000 (4×, the book's budget since) and 32,000 (16×) MNIST "
        "training images at 30 epochs",
        parts=tuple(
            Part(cid, f"{cid}@{name}", f"{what}, {name}", +1, smallest)
            for cid, (_, smallest, what) in _CH09.items()
            for name in MNIST_OOD_SETS
        ),
        measure=_ch09,
        reference={"n_train": 2000},
    ),
    "ch10": Study(
        chapter="ch10",
        budget="the ch11 study's networks: more epochs on the same 8,000 CIFAR-10 training "
        "images (all the book has), 12 (1×, the book) and 48 (4×), the learning-rate schedule "
        "stretched with the epochs; 192 (16×) not computed yet (hours of training per network "
        "on a 2-core CPU: `lvf budget ch10 --multipliers 16` on a GPU). The SD VAE's "
        "stand-in, so every verdict is an analog",
        parts=tuple(
            Part(cid, f"{cid}@{name}", f"{what}, {name}", +1, 0.1)
            for cid, (_, what) in _CH10.items()
            for name in _CH10_SETS
        ),
        measure=_ch10,
    ),
    "ch11": Study(
        chapter="ch11",
        budget="more epochs on the same 8,000 CIFAR-10 training images (all the book has): "
        "12 (1×, the book) and 48 (4×), the learning-rate schedule stretched with the epochs; "
        "192 (16×) not computed yet (hours of training per network on a 2-core CPU: "
        "`lvf budget ch11 --multipliers 16` on a GPU). The ViT-MAE's stand-in, so every "
        "verdict is an analog",
        parts=(
            *(
                Part(cid, f"{cid}@{name}", f"{what}, {name}", +1, smallest)
                for cid, (_, smallest, what) in _CH11.items()
                for name in CIFAR_OOD_SETS
            ),
            Part(
                "fig12-trajectories-contractive",
                "fig12-trajectories-contractive",
                "log10 residual shrink",
                +1,
                0.5,
            ),
        ),
        measure=_ch11,
    ),
    "ch12": Study(
        chapter="ch12",
        budget="more optimizer steps for the two tiny byte-level language models (the same "
        "windows of Python's standard library, the one-cycle schedule spanning the run): 200 "
        "(1×, the book), 800 (4×) and 3,200 (16×); stand-ins for the paper's LLMs, so every "
        "verdict is an analog",
        parts=tuple(
            Part("fig17-llm-residual-stream-contractive", f"{v}: {e}", f"{v}: {e}", +1, smallest)
            for v in _CH12_VARIANTS
            for e, smallest in _CH12_EFFECTS.items()
        ),
        measure=_ch12,
    ),
    "ch01": Study(
        chapter="ch01",
        budget="more samples of the eight Gaussian blobs at the same 150 epochs: 4,000 (1×, "
        "the book's budget when the study was run), 16,000 (4×, the book's since) and 64,000 "
        "(16×); each model is measured on its own training points, as the chapter does",
        parts=(Part("a3-local-contraction", "contraction", "1 − largest ‖J_f(z*)‖σ", +1, 0.1),),
        measure=_ch01,
        reference={"n_train": 4000},
    ),
    "ch02": Study(
        chapter="ch02",
        budget="more MNIST training images at the same 8 epochs: 10,000 (1×, the book), "
        "40,000 (4×), then all 60,000 for 21 epochs (16×)",
        parts=tuple(
            Part(cid, col, label, +1, smallest) for col, (cid, label, smallest) in _CH02.items()
        ),
        measure=_ch02,
    ),
    "ch04": Study(
        chapter="ch04",
        budget="more samples of each toy density at the same 300 epochs: 1,000 (1×, the book), "
        "4,000 (4×) and 16,000 (16×); every budget is studied on the first 1,000",
        parts=tuple(Part(cid, col, label, +1, 0.5) for col, (cid, label) in _CH04.items()),
        measure=_ch04,
    ),
    "ch05": Study(
        chapter="ch05",
        budget="more training images at the same 16 epochs: 2,000 (1×, the book's budget), "
        "8,000 (4×) and 32,000 (16×) of MNIST's 60,000, for each of the four weight decays",
        parts=tuple(
            Part("appC-weight-decay-contracts", col, label, d, smallest)
            for col, (label, d, smallest) in _CH05.items()
        ),
        measure=_ch05,
    ),
    "ch06": Study(
        chapter="ch06",
        budget="more epochs on the same 2,000 MNIST images: 1,000 optimizer steps (the book), "
        "4,000 and 16,000, the learning-rate schedule stretched with the epochs",
        parts=tuple(
            Part(cid, f"{cid}@{name}", f"{what}, {name}", d, _RHO)
            for cid, (_, _, d, what) in _CH06.items()
            for name in _MEMORIZATION_DATASETS
        ),
        measure=_ch06,
    ),
    "ch07": Study(
        chapter="ch07",
        budget="more epochs on the same MNIST training sets: 1,000 optimizer steps (the book), "
        "4,000 and 16,000, the learning-rate schedule stretched with the epochs",
        parts=tuple(
            Part(
                "fig14-less-data-more-memorization",
                f"fig14-less-data-more-memorization@{name}",
                f"memorization falls with data, {name}",
                -1,
                _RHO,
            )
            for name in _MEMORIZATION_DATASETS
        ),  # fmt: skip
        measure=_ch07,
    ),
}
"""The budget studies, by chapter."""


# ---- running and reading -------------------------------------------------------------------


def results_dir() -> Path:
    """Where the cells live: ``$LVF_BUDGET`` if set, else ``book/data/budget`` of the
    repository this package was installed from."""
    env = os.environ.get("LVF_BUDGET")
    if env:
        return Path(env).expanduser()
    return Path(__file__).resolve().parents[3] / "book" / "data" / "budget"


def _study(chapter: str) -> Study:
    if chapter not in STUDIES:
        raise ValueError(f"No budget study for {chapter!r}; the studies are: {', '.join(STUDIES)}.")
    return STUDIES[chapter]


def _cell(chapter: str, scale: str, multiplier: int, seed: int) -> Path:
    sub = chapter if scale == "book" else f"{chapter}-{scale}"
    return results_dir() / sub / f"x{multiplier}-seed{seed}.json"


def to_compute(
    chapter: str,
    *,
    scale: str | None = None,
    multipliers: Sequence[int] = MULTIPLIERS,
    seeds: Sequence[int] | None = None,
    force: bool = False,
) -> list[tuple[int, int]]:
    """The ``(multiplier, seed)`` cells :func:`run` would compute, in its order: those not
    computed yet, or every one with ``force``; seeds default to the chapter's at ``scale``.

    >>> to_compute("ch08", multipliers=(4,), seeds=(99,))
    [(4, 99)]
    """
    from lvf.book.scales import current_scale

    study = _study(chapter)
    scale = scale or current_scale()
    if seeds is None:
        from lvf.train.registry import chapter_settings

        seeds = study.settings(chapter_settings(chapter, scale), scale)["SEEDS"]
    return [
        (int(m), int(s))
        for m in multipliers
        for s in seeds
        if force or not _cell(chapter, scale, int(m), int(s)).exists()
    ]


def run(
    chapter: str,
    *,
    scale: str | None = None,
    multipliers: Sequence[int] = MULTIPLIERS,
    seeds: Sequence[int] | None = None,
    device: str | None = None,
    force: bool = False,
) -> list[Path]:
    """Compute the study's missing cells (every multiplier × seed) and write them.

    Parameters
    ----------
    chapter
        A key of :data:`STUDIES`, e.g. ``"ch08"``.
    scale
        ``"tiny"``, ``"book"`` or ``"paper"``; default :func:`lvf.current_scale`. The budgets
        are multiples of the chapter's settings at this scale.
    multipliers, seeds
        The cells to compute; seeds default to the chapter's (3 at book scale).
    force
        Recompute cells that exist.

    Returns
    -------
    list of Path
        The cell files, computed or found.
    """
    import time

    import torch

    from lvf.book.scales import configure_threads, current_scale
    from lvf.cache import atomic_write
    from lvf.train.registry import _at_scale, chapter_settings

    study = _study(chapter)
    configure_threads()  # LVF_THREADS, and denormals flushed: training runs 4x faster on CPUs
    scale = scale or current_scale()
    ns = study.settings(chapter_settings(chapter, scale), scale)
    seeds = list(ns["SEEDS"] if seeds is None else seeds)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    paths = []
    for m in multipliers:
        for s in seeds:
            path = _cell(chapter, scale, int(m), int(s))
            paths.append(path)
            if path.exists() and not force:
                continue
            print(f"{chapter}: budget {m}x, seed {s} ...", flush=True)
            t0 = time.perf_counter()
            with _at_scale(scale):  # lvf.pick inside the protocols sees the study's scale
                values = study.measure(ns, int(m), int(s), device)
            cell = {
                "chapter": chapter,
                "scale": scale,
                "multiplier": int(m),
                "seed": int(s),
                "seconds": round(time.perf_counter() - t0, 1),
                "values": {k: _plain(v) for k, v in values.items()},
                "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            }
            path.parent.mkdir(parents=True, exist_ok=True)
            text = json.dumps(cell, indent=1).encode()
            atomic_write(path, lambda f, text=text: f.write(text))
            print(f"{chapter}: budget {m}x, seed {s} done in {cell['seconds']:.0f} s", flush=True)
    return paths


def _plain(v: Any) -> Any:
    if isinstance(v, float | int):
        return None if isinstance(v, float) and not math.isfinite(v) else v
    return float(v)


def table(chapter: str, scale: str = "book"):
    """Every computed cell of a study, one row per (multiplier, seed).

    Returns
    -------
    pandas.DataFrame
        Columns ``multiplier``, ``seed``, ``seconds`` and every value of the cell (undefined
        values as NaN); empty when nothing was computed.
    """
    import pandas as pd

    _study(chapter)
    folder = results_dir() / (chapter if scale == "book" else f"{chapter}-{scale}")
    rows = []
    for path in sorted(folder.glob("x*-seed*.json")):
        try:
            cell = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise ValueError(
                f"{path} is not a readable budget cell ({err}); delete it and run "
                f"`lvf budget {chapter}` to recompute it."
            ) from err
        values = {k: (math.nan if v is None else v) for k, v in cell["values"].items()}
        rows.append({"multiplier": cell["multiplier"], "seed": cell["seed"]} | values
                    | {"seconds": cell["seconds"]})  # fmt: skip
    if not rows:
        return pd.DataFrame(columns=["multiplier", "seed", "seconds"])
    return pd.DataFrame(rows).sort_values(["multiplier", "seed"]).reset_index(drop=True)


def by_budget(cells, columns: Sequence[str]):
    """The models of a study at each budget: the mean over the seeds of every column of
    ``columns`` and the largest ``loss_drop_last_quarter`` (a budget is on a plateau only if
    every seed is).

    Parameters
    ----------
    cells
        :func:`table` of a study (may be empty).
    columns
        Per-cell values to average (a column the cells lack comes back as NaN).

    Returns
    -------
    pandas.DataFrame
        One row per budget (index ``budget``, the multiplier), ``columns`` then
        ``loss_drop_last_quarter``.
    """
    grown = cells.reindex(columns=["multiplier", *columns, "loss_drop_last_quarter"])
    how = {c: "max" if c == "loss_drop_last_quarter" else "mean" for c in grown.columns[1:]}
    return grown.groupby("multiplier").agg(how).rename_axis("budget")


def by_setting(chapter: str, measures: Sequence[str], scale: str = "book"):
    """A study's diagnostics per setting, averaged over the seeds: the cells' values named
    ``measure@setting`` (``prod_W@0.001`` in ch05, one per weight decay; ``converged_min@mnist``
    in ch06, one per dataset) in long form.

    Returns
    -------
    pandas.DataFrame
        Indexed by (``multiplier``, ``setting``), one column per name in ``measures`` (the
        mean over the seeds computed at that budget); no rows when nothing was computed.
    """
    import pandas as pd

    rows = [
        {"multiplier": int(m), "setting": col.split("@", 1)[1], "measure": name,
         "value": float(g[col].mean())}
        for m, g in table(chapter, scale).groupby("multiplier")
        for name in measures
        for col in g.columns
        if col.startswith(f"{name}@")
    ]  # fmt: skip
    if not rows:
        index = pd.MultiIndex.from_tuples([], names=["multiplier", "setting"])
        return pd.DataFrame(columns=list(measures), index=index)
    long = pd.DataFrame(rows).set_index(["multiplier", "setting", "measure"]).value
    return long.unstack("measure").reindex(columns=list(measures))


def _plateau_measure(cells, column: str | None = None):
    """Each cell's plateau measure: ``column``, or by default ``loss_drop_last_quarter`` where
    the cell trained one model and the largest ``loss_drop_last_quarter_max@<dataset>`` where
    it trained a sweep per dataset (ch06, ch07). ``None`` when the cells have no such column."""
    if column is not None:
        return cells[column] if column in cells else None
    if "loss_drop_last_quarter" in cells:
        return cells["loss_drop_last_quarter"]
    sweep = [c for c in cells.columns if c.startswith("loss_drop_last_quarter_max@")]
    return cells[sweep].max(axis=1) if sweep else None


def _plateau_budgets(cells, column: str | None = None):
    """``(worst, least)``: per budget, the largest and the smallest plateau measure over its
    seeds (Series indexed by multiplier), or ``None`` when the cells have no measure."""
    measure = _plateau_measure(cells, column)
    if measure is None or measure.dropna().empty:
        return None
    drops = measure.groupby(cells.multiplier.astype(int)).agg(["max", "min"]).dropna()
    return drops["max"], drops["min"]


def _plateau_from(worst) -> int | None:
    """The smallest budget from which every larger budget is on a plateau (its ``worst`` seed
    fell by less than :data:`lvf.train.PLATEAU`), or ``None`` when the largest is not."""
    from lvf.train import PLATEAU

    flat = worst < PLATEAU
    if not flat.iloc[-1]:
        return None
    last_falling = flat.index[~flat].max() if (~flat).any() else -math.inf
    return int(flat.index[flat.index > last_falling].min())


def plateau_sentence(chapter: str, column: str | None = None, scale: str = "book") -> str:
    """Has training reached a plateau, and from which budget? The answer in one sentence.

    A budget is on a plateau when every seed's ``column`` (the relative fall of the training
    loss over the last quarter of the run, :func:`lvf.train.loss_drop`; for a cell of several
    models, its largest, e.g. ``loss_drop_last_quarter_max@mnist``) is below
    :data:`lvf.train.PLATEAU`. The sentence names the smallest budget from which every larger
    one is on a plateau too, or, when the largest budget is not, the least of its seeds' values:
    every seed still fell at least that much. A budget that waits for seeds (:func:`waiting`)
    is left out, and the sentence says so.

    Parameters
    ----------
    chapter
        A key of :data:`STUDIES`.
    column
        The per-cell plateau measure; by default the study's own (:func:`_plateau_measure`).
    """
    from lvf.train import PLATEAU

    cells, wait = _judged(chapter, scale)
    note = _waiting_note(wait, "is left out")
    budgets = None if cells.empty else _plateau_budgets(cells, column)
    if budgets is None:
        return f"No budget of {chapter}'s study has a measure of the plateau yet.{note}"
    worst, least = budgets
    top = int(worst.index.max())
    rule = f"a fall of the training loss under {PLATEAU:.0%} over the last quarter of the run"
    first = _plateau_from(worst)
    if first is not None:
        return (
            f"Training is on a plateau ({rule}) from {first}× on: at every budget from there, "
            f"the loss of every run of every seed fell by at most "
            f"{worst.loc[first:].max():.1%} over its last quarter.{note}"
        )
    return (
        f"No budget up to {top}× brings training to a plateau ({rule}): at {top}× every seed "
        f"still has a run whose loss fell by at least {least.loc[top]:.0%} over its last "
        f"quarter.{note}"
    )


def waiting(chapter: str, scale: str = "book") -> dict[int, tuple[int, int]]:
    """The budgets that wait for seeds before they are judged: ``{multiplier: (computed,
    wanted)}``, where ``wanted`` is the seed count of the study's most complete budget (at
    least 2). A verdict on fewer seeds has a wider interval, so a budget judged on fewer
    seeds than the others could change its verdict for that reason alone."""
    return _waiting_in(table(chapter, scale))


def _waiting_in(cells) -> dict[int, tuple[int, int]]:
    """:func:`waiting` of a frame of cells (:func:`table`)."""
    if cells.empty:
        return {}
    counts = cells.groupby("multiplier").size()
    wanted = max(2, int(counts.max()))
    return {int(m): (int(n), wanted) for m, n in counts.items() if n < wanted}


def _judged(chapter: str, scale: str):
    """``(cells, wait)``: the study's cells (:func:`table`) without the budgets that wait for
    seeds, and those budgets (:func:`waiting`)."""
    cells = table(chapter, scale)
    wait = _waiting_in(cells)
    if wait:
        cells = cells[~cells.multiplier.astype(int).isin(list(wait))]
    return cells, wait


def _waiting_note(wait: dict[int, tuple[int, int]], what: str) -> str:
    """`` The 16× budget has 2 of its 3 seeds so far and <what>.`` per budget of
    :func:`waiting`; empty when none waits."""
    return "".join(
        f" The {m}× budget has {n} of its {wanted} seeds so far and {what}."
        for m, (n, wanted) in sorted(wait.items())
    )


def verdicts(chapter: str, scale: str = "book") -> dict[tuple[str, str], dict[int, Any]]:
    """The book's verdict (:func:`lvf.book.verdicts.judge`) of every part at every budget.

    Returns
    -------
    dict
        ``{(claim, part label): {multiplier: Verdict}}``. A budget still being computed has
        no verdict yet (:func:`waiting`): one with fewer seeds than the study's most complete
        budget, or than 2, would differ from the others by its seeds, not by its budget.
    """
    from lvf.book.verdicts import judge

    df, _ = _judged(chapter, scale)
    out: dict[tuple[str, str], dict[int, Any]] = {}
    for p in _study(chapter).parts:
        by = {}
        for m, g in df.groupby("multiplier", sort=True):
            by[int(m)] = judge(
                g[p.column].tolist(), smallest=p.smallest, direction=p.direction,
                measure=p.label,
            )  # fmt: skip
        out[p.claim, p.label] = by
    return out


def settled(chapter: str, scale: str = "book") -> int | None:
    """The smallest budget from which no part's verdict changes any more: every part has the
    same verdict at that budget and at every larger one the study judged. ``None`` when the
    verdicts still change between the two largest budgets (or fewer than two are judged):
    the study has not seen them settle."""
    labels: dict[int, list[str]] = {}
    for by in verdicts(chapter, scale).values():
        for m, v in by.items():
            labels.setdefault(m, []).append(v.label)
    budgets = sorted(labels)
    if not budgets:
        return None
    first = top = budgets[-1]
    for m in reversed(budgets[:-1]):
        if labels[m] != labels[top]:
            break
        first = m
    return None if first == top else first


def convergence(scale: str = "book"):
    """Has every study found a budget that settles its verdicts on converged training?

    One row per study: the budget the book's chapter trains at (``book``, on the study's
    axis, :meth:`Study.book_multiplier`), the budget from which its verdicts stop changing
    (:func:`settled`), the budget from which its training is on a plateau (``plateau from``,
    as in :func:`plateau_sentence`) and ``converged``: whether the book's budget is at least
    both, so that its verdicts would not change with more training and its models have
    stopped learning. Budgets that wait for seeds are left out of both measures.

    Returns
    -------
    pandas.DataFrame
        Indexed by chapter; budgets as multipliers, ``NaN`` where the study has not reached it.
    """
    import pandas as pd

    from lvf.train.registry import chapter_settings

    rows = []
    for ch, study in sorted(STUDIES.items()):
        cells = table(ch, scale)
        if cells.empty:
            continue
        judged, _ = _judged(ch, scale)
        budgets = _plateau_budgets(judged)
        flat = None if budgets is None else _plateau_from(budgets[0])
        book = study.book_multiplier(chapter_settings(ch, scale), scale)
        stable = settled(ch, scale)
        rows.append({
            "chapter": ch,
            "budgets": "/".join(f"{m}×" for m in sorted(cells.multiplier.astype(int).unique())),
            "book": book,
            "verdicts settle from": math.nan if stable is None else stable,
            "plateau from": math.nan if flat is None else flat,
            "converged": stable is not None and flat is not None and book >= max(stable, flat),
        })  # fmt: skip
    columns = ["chapter", "budgets", "book", "verdicts settle from", "plateau from", "converged"]
    return pd.DataFrame(rows, columns=columns).set_index("chapter")


def convergence_sentence(scale: str = "book") -> str:
    """:func:`convergence` in words: which studies' book budgets settle their verdicts on
    converged training, and what the others lack."""
    df = convergence(scale)
    if df.empty:
        return "No budget study has results yet."
    ok = df.index[df.converged].tolist()
    stable, flat = df["verdicts settle from"].notna(), df["plateau from"].notna()
    unsettled = df.index[~stable].tolist()
    falling = df.index[~flat].tolist()
    short = df.index[~df.converged & stable & flat].tolist()
    parts = [
        f"{len(ok)} of the {len(df)} budget studies {'finds' if len(ok) == 1 else 'find'} the "
        "book's budget converged (its verdicts no longer change with the budget and its "
        "training is on a plateau)" + (f": {', '.join(ok)}." if ok else ".")
    ]
    if unsettled:
        parts.append(
            f"In {', '.join(unsettled)} some verdict still changes between the two largest "
            "budgets, so no budget from which they settle is known yet."
        )
    if falling:
        parts.append(
            f"In {', '.join(falling)} the training loss still falls at the largest budget."
        )
    if short:
        parts.append(f"In {', '.join(short)} both are reached, at a budget above the book's.")
    return " ".join(parts)


def trend_of(multipliers: Sequence[float], effects: Sequence[float]) -> dict[str, float | str]:
    """The trend of signed effects with the budget: slope on ``log2(multiplier)`` and its 95 %
    interval (Student's *t*, ``n - 2`` degrees of freedom), and the label.

    Parameters
    ----------
    multipliers, effects
        One pair per (budget, seed); ``effects`` signed so that positive goes the paper's
        way. Pairs with an undefined effect are dropped.

    Returns
    -------
    dict
        ``slope``, ``low``, ``high`` (per doubling of the budget... per factor 2) and
        ``trend`` (one of :data:`TRENDS`, or ``"undefined"`` with fewer than 2 budgets).

    >>> trend_of([1, 1, 4, 4, 16, 16], [0.0, 0.1, 0.4, 0.5, 0.8, 0.9])["trend"]
    'toward the paper'
    >>> trend_of([1, 1, 4, 4, 16, 16], [0.5, 0.5, 0.5, 0.5, 0.5, 0.5])["trend"]
    'no clear trend'
    """
    import numpy as np
    from scipy import stats

    x = np.log2(np.asarray(multipliers, dtype=float))
    y = np.asarray(effects, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if np.unique(x).size < 2:
        return {"slope": math.nan, "low": math.nan, "high": math.nan, "trend": "undefined"}
    if np.ptp(y) == 0:
        return {"slope": 0.0, "low": 0.0, "high": 0.0, "trend": TRENDS[1]}
    fit = stats.linregress(x, y)
    half = float(stats.t.ppf(0.975, x.size - 2) * fit.stderr) if x.size > 2 else math.inf
    low, high = fit.slope - half, fit.slope + half
    label = TRENDS[0] if low > 0 else TRENDS[2] if high < 0 else TRENDS[1]
    return {"slope": float(fit.slope), "low": float(low), "high": float(high), "trend": label}


def trend(chapter: str, scale: str = "book") -> dict[tuple[str, str], dict[str, float | str]]:
    """:func:`trend_of` for every part of the study: ``{(claim, part label): trend}``."""
    df = table(chapter, scale)
    out = {}
    for p in _study(chapter).parts:
        if df.empty or p.column not in df:
            out[p.claim, p.label] = trend_of([], [])
            continue
        out[p.claim, p.label] = trend_of(df.multiplier, p.direction * df[p.column])
    return out


def cost_hours(chapter: str, scale: str = "book") -> float:
    """Hours of computing a study's cells took: each cell's wall time (``seconds``, which
    holds the training of the models it trained) plus the recorded training time of the
    models it found in the cache (``train_seconds_cached``, when the cell reports it)."""
    df = table(chapter, scale)
    extra = df["train_seconds_cached"].fillna(0).sum() if "train_seconds_cached" in df else 0.0
    return float(df["seconds"].sum() + extra) / 3600


def claim_trends(scale: str = "book") -> dict[tuple[str, str], str]:
    """One line per (chapter, claim) over every study with cells: ``"part: trend; part:
    trend"``, for the reproduction report's column "trend with budget". Keyed by the study's
    chapter too (``("ch02", "fig1-attractors-at-density")``): two chapters can test one claim
    on different models (ch01 on toy data, ch02 on MNIST), and a study speaks for its own."""
    out: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
    for chapter in STUDIES:
        if table(chapter, scale).empty:
            continue
        budgets = sorted(set(table(chapter, scale).multiplier.astype(int)))
        span = "/".join(f"{m}×" for m in budgets)
        for (claim, label), t in trend(chapter, scale).items():
            out.setdefault((chapter, claim), []).append((label, t["trend"], span))
    return {key: _claim_line(parts) for key, parts in out.items()}


def _claim_line(parts: list[tuple[str, str, str]], most: int = 3) -> str:
    """``(part, trend, budgets)`` triples as one line: each part with its trend, or, for a
    claim of more than ``most`` parts (ch09: one per OOD set), the parts grouped by trend,
    the largest group counted rather than listed."""
    if len(parts) <= most:
        return "; ".join(f"{label}: {t} ({span})" for label, t, span in parts)
    groups: dict[str, list[str]] = {}
    for label, t, _ in parts:
        groups.setdefault(t, []).append(label)
    spans = sorted({span for *_, span in parts})
    largest = max(groups, key=lambda t: len(groups[t]))
    text = []
    for t, labels in groups.items():
        named = "" if t == largest else f" ({'; '.join(labels)})"
        text.append(f"{t} on {len(labels)} of {len(parts)} parts{named}")
    return "; ".join(text) + f" ({', '.join(spans)})"


def figure(chapter: str, scale: str = "book", *, columns: int = 3):
    """One panel per claim part: the per-seed effects (dots), their mean and 95 % interval at
    every budget (bars), the smallest effect that counts (dashed) and the paper's side
    (shaded). Effects are signed so that the paper's direction is up; the title gives the
    trend.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt
    import numpy as np

    study = _study(chapter)
    df = table(chapter, scale)
    judged = verdicts(chapter, scale)
    trends = trend(chapter, scale)
    n = len(study.parts)
    rows = math.ceil(n / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.1 * rows), squeeze=False)
    for ax, p in zip(axes.ravel(), study.parts, strict=False):
        ms = sorted(set(df.multiplier.astype(int))) if not df.empty else list(MULTIPLIERS)
        y = p.direction * df[p.column].to_numpy(float) if p.column in df else np.array([])
        ax.scatter(df.multiplier, y, s=12, color="0.55", zorder=2, label="one seed")
        for m in ms:
            v = judged[p.claim, p.label].get(m)
            if v is None or not math.isfinite(v.estimate):
                continue
            err = [[v.estimate - v.low], [v.high - v.estimate]]
            ax.errorbar([m], [v.estimate], yerr=err, fmt="o", color="k", capsize=4, zorder=3,
                        label="mean, 95 % interval" if m == ms[0] else None)  # fmt: skip
        ax.axhline(0, color="0.3", lw=0.8)
        ax.axhline(p.smallest, color="tab:green", ls="--", lw=1,
                   label="smallest effect that counts")  # fmt: skip
        low, high = ax.get_ylim()
        high = max(high, 1.15 * p.smallest)
        ax.axhspan(0, high, color="tab:green", alpha=0.07, label="the paper's side")
        ax.set_ylim(low, high)
        ax.set(
            xscale="log",
            xticks=ms,
            xticklabels=[f"{m}×" for m in ms],
            xlabel="budget",
            ylabel="effect (paper's way up)",
        )
        ax.minorticks_off()
        ax.set_title(f"{p.label}\n{trends[p.claim, p.label]['trend']}", fontsize=10)
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    axes[0, 0].legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig


def summary(chapter: str, scale: str = "book"):
    """One row per claim part: its verdict at every budget, the trend and its slope.

    Returns
    -------
    pandas.DataFrame
        Index ``(claim, part)``; columns ``"<m>×"`` (the verdict's label and estimate at
        budget ``m``), ``trend``, ``slope per 2×`` (the slope and its 95 % interval), and
        ``seeds`` (cells per budget, e.g. ``"3/3/3"``).
    """
    import pandas as pd

    df = table(chapter, scale)
    judged, trends = verdicts(chapter, scale), trend(chapter, scale)
    wait = waiting(chapter, scale)
    budgets = sorted(set(df.multiplier.astype(int))) if not df.empty else []
    rows = []
    for p in _study(chapter).parts:
        row: dict[str, Any] = {"claim": p.claim, "part": p.label}
        for m in budgets:
            v = judged[p.claim, p.label].get(m)
            if v is not None:
                row[f"{m}×"] = f"{v.label} ({v.estimate:+.2f})"
            else:
                row[f"{m}×"] = "waits ({} of {} seeds)".format(*wait[m]) if m in wait else ""
        t = trends[p.claim, p.label]
        row["trend"] = t["trend"]
        row["slope per 2×"] = (
            f"{t['slope']:+.2f} [{t['low']:+.2f}, {t['high']:+.2f}]"
            if math.isfinite(t["slope"]) and math.isfinite(t["low"])
            else ""
        )
        counts = df.groupby("multiplier")[p.column].count() if p.column in df else {}
        row["seeds"] = "/".join(str(int(counts.get(m, 0))) for m in budgets)
        rows.append(row)
    return pd.DataFrame(rows).set_index(["claim", "part"])


def sentence(chapter: str, scale: str = "book") -> str:
    """The study's finding in words: which parts move toward the paper, which away, which
    show no clear trend, and how far the verdicts changed between the smallest and the
    largest budget."""
    df = table(chapter, scale)
    if df.empty:
        return f"No budget study has been computed for {chapter} yet (`lvf budget {chapter}`)."
    judged, trends = verdicts(chapter, scale), trend(chapter, scale)
    wait = waiting(chapter, scale)
    budgets = sorted(set(df.multiplier.astype(int)))
    lo, top = budgets[0], budgets[-1]
    hi = max((m for m in budgets if m not in wait), default=lo)  # the largest judged
    groups: dict[str, list[str]] = {}
    changed = []
    for p in _study(chapter).parts:
        groups.setdefault(trends[p.claim, p.label]["trend"], []).append(p.label)
        a, b = judged[p.claim, p.label].get(lo), judged[p.claim, p.label].get(hi)
        if a is not None and b is not None and a.label != b.label:
            changed.append(f"{p.label} ({a.label} → {b.label})")
    said = [
        f"{trend_label} ({len(labels)} of {len(_study(chapter).parts)}): {'; '.join(labels)}. "
        for trend_label in (*TRENDS, "undefined")
        if (labels := groups.get(trend_label))
    ]
    text = f"From {lo}× to {top}× the study's base budget: " + "".join(said)
    if changed:
        text += f"Verdicts that change between {lo}× and {hi}×: " + "; ".join(changed) + "."
    elif hi > lo:
        text += f"No verdict changes between {lo}× and {hi}×."
    return text + _waiting_note(wait, "is not judged yet (its seeds enter the trend)")
