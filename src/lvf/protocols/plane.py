"""Autoencoders with a two-dimensional latent space: attractors, their stability, their density.

The paper's opening figure (Fig. 1, Sec. 1) draws the field ``f(z) - z`` of autoencoders with a
bottleneck ``k = 2`` and reads its attractors as "aligned with high-density areas of the data
distribution"; Def. 2 (attractors are stable fixed points), App. A.3 (``f`` contracts around
them), Sec. 2 (initialization and regularization make ``f`` contract) and App. B.4 (Fig. 11,
the number of steps against the linear-rate estimate of Prop. A.9) are checked on the same
kind of model. Chapter 1 uses this module on toy denoising autoencoders of Gaussian blobs,
where the data density is known; chapter 2 on the paper's convolutional autoencoders of MNIST,
where it is estimated from the encoded training images.

* :func:`summarize` — attractors of one model from uniform starts over its latent window
  (converged end points only, the paper's step rule), their stability and basins, and the
  Jacobian on the encoded data;
* :func:`toy_effects` — the effects chapter 1 judges, one number per seed;
* :func:`density_percentile` and :func:`attractor_density` — where attractors sit in the
  density of the (encoded) data: the effect of the claim "attractors at high density";
* :func:`stable_balance` — how many converged starts end at a stable fixed point;
* :func:`correlations` — per-seed Pearson and Spearman correlations (Fig. 11);
* :func:`survey`, :func:`convergence_steps` and :func:`mnist_effects` — chapter 2's protocol
  on one model: fixed points from uniform starts over its :func:`window` and from its
  training codes, Fig. 11's steps, and the effects its verdicts are read from (one seed at a
  time, so the budget study of :mod:`lvf.book.budget` measures exactly what the chapter does).

Every effect is signed so that a positive value goes the paper's way
(:func:`lvf.book.verdicts.judge`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from lvf.attractors import find_attractors
from lvf.iterate import IterationResult, iterate
from lvf.jacobian import eigenvalues, jacobian, spectral_norm
from lvf.measures.density import GaussianKDE, nearest_distance, select_bandwidth

__all__ = [
    "AttractorDensity",
    "PlaneSummary",
    "Survey",
    "attractor_density",
    "attractor_effects",
    "convergence_steps",
    "correlations",
    "density_percentile",
    "jacobian_norm",
    "mnist_effects",
    "shown",
    "stable_balance",
    "summarize",
    "survey",
    "toy_effects",
    "unit_starts",
    "window",
]


def jacobian_norm(f: Callable[[Tensor], Tensor], z: Tensor) -> Tensor:
    """``‖J_f(z)‖_σ`` ``(N,)`` at the points ``z`` ``(N, k)``, from the full ``k × k``
    Jacobians: exact, and fast for a small latent."""
    return torch.linalg.matrix_norm(jacobian(f, z), ord=2)


def stable_balance(counts: Tensor, stable: Tensor) -> float:
    """Share of converged starts that end at a stable fixed point, minus the share that end
    at an unstable one: ``2 s - 1`` in ``[-1, 1]``.

    Parameters
    ----------
    counts
        ``(M,)`` converged starts that end at each fixed point.
    stable
        ``(M,)`` bool, whether each passes the eigenvalue check of Def. 2.

    Returns
    -------
    float
        ``1`` when every converged start ends at an attractor, ``-1`` when none does, NaN
        without converged starts.

    >>> stable_balance(torch.tensor([3, 1]), torch.tensor([True, False]))
    0.5
    """
    counts = torch.as_tensor(counts, dtype=torch.float64).cpu()
    stable = torch.as_tensor(stable, dtype=torch.bool).cpu()
    total = float(counts.sum())
    if total == 0:
        return math.nan
    return 2 * float(counts[stable].sum()) / total - 1


def density_percentile(log_at: Tensor, log_reference: Tensor) -> Tensor:
    """Where points sit in a density, as a percentile of reference points.

    Parameters
    ----------
    log_at
        ``(M,)`` log-density at the points of interest (e.g. attractors).
    log_reference
        ``(N,)`` log-density at the reference points (e.g. the training data).

    Returns
    -------
    Tensor
        ``(M,)`` float64: the share of reference points where the density is *lower*: 1 at
        (or above) the densest reference point, 0 at (or below) the sparsest, 0.5 at a
        typical one.

    >>> density_percentile(torch.tensor([2.5, 0.0]), torch.tensor([1.0, 2.0, 3.0, 4.0]))
    tensor([0.5000, 0.0000], dtype=torch.float64)
    """
    at = torch.as_tensor(log_at, dtype=torch.float64).cpu().reshape(-1, 1)
    ref = torch.as_tensor(log_reference, dtype=torch.float64).cpu().reshape(1, -1)
    return (ref < at).to(torch.float64).mean(dim=1)


@dataclass
class PlaneSummary:
    """Attractors and field statistics of one autoencoder, from uniform starts.

    ``N`` data points, latent size ``k``, ``M`` distinct converged end points (fixed points);
    tensors on the CPU.

    Attributes
    ----------
    x, z
        ``(N, d)`` the data and ``(N, k)`` their codes.
    centers, decoded
        ``(M, k)`` one end point per fixed point and ``(M, d)`` its decoding.
    counts
        ``(M,)`` converged starts that end at each fixed point.
    stable, radius, sigma
        ``(M,)`` the eigenvalue check of Def. 2, the spectral radius and the spectral norm of
        ``J_f`` there.
    major
        ``(M,)`` stable with a basin above ``min_share`` of all starts: the attractors.
    n_starts, converged, median_steps
        Starts, the share that converged, the median number of steps.
    jac_on_data
        ``(N,)`` ``‖J_f‖_σ`` at the codes of the data.
    mean_v_on_data
        Mean ``‖f(z) - z‖`` over the codes of the data.
    """

    x: Tensor
    z: Tensor
    centers: Tensor
    decoded: Tensor
    counts: Tensor
    stable: Tensor
    radius: Tensor
    sigma: Tensor
    major: Tensor
    n_starts: int
    converged: float
    median_steps: float
    jac_on_data: Tensor
    mean_v_on_data: float

    @property
    def attractors(self) -> Tensor:
        """``(A, k)`` the stable fixed points with a basin above ``min_share``."""
        return self.centers[self.major]

    def row(self) -> dict[str, float]:
        """The summary as one row of a table."""
        return {
            "fixed points": len(self.centers),
            "stable": int(self.stable.sum()),
            "attractors (basin > 1%)": int(self.major.sum()),
            "converged": self.converged,
            "median steps": self.median_steps,
            "mean ‖v‖ on data": self.mean_v_on_data,
            "sup ‖J‖σ on data": float(self.jac_on_data.max()),
        }


@torch.no_grad()
def _decode(model, z: Tensor) -> Tensor:
    return model.decode(z)


def summarize(
    model,
    x: Tensor,
    *,
    n_starts: int = 2000,
    seed: int = 0,
    merge: float = 0.15,
    min_share: float = 0.01,
    pad: float = 0.35,
    tol: float = 1e-6,
    max_steps: int = 3000,
) -> PlaneSummary:
    """Attractors of ``f = E ∘ D`` from uniform starts over the latent window of the data.

    The starts are uniform on the box around the codes ``E(x)``, enlarged by ``pad`` times
    its size on each side; each is iterated under the paper's rule (``‖z_{t+1} - z_t‖² <
    tol`` within ``max_steps``). Only converged end points enter the fixed points: they are
    grouped when their **decodings** lie within ``merge`` of each other (in data space, so
    that models whose latent spaces have different scales are counted alike), and each group
    is represented by its first end point.

    Parameters
    ----------
    model
        An autoencoder with ``encode``, ``decode`` and ``latent_map()`` (CPU), latent ``(k,)``.
    x
        ``(N, d)`` data points.

    Returns
    -------
    PlaneSummary
    """
    fm = model.latent_map()
    with torch.no_grad():
        z = model.encode(x)
    k = z.shape[1]
    lo, hi = z.min(0).values, z.max(0).values
    gen = torch.Generator().manual_seed(seed)
    z0 = lo - pad * (hi - lo) + torch.rand(n_starts, k, generator=gen) * (hi - lo) * (1 + 2 * pad)
    res = iterate(fm, z0, tol=tol, max_steps=max_steps)
    ends = res.final[res.converged]
    centers, counts = ends[:0], torch.zeros(0, dtype=torch.long)
    if len(ends):
        groups = find_attractors(_decode(model, ends), eps=merge)
        first = [int(torch.nonzero(groups.labels == m)[0, 0]) for m in range(len(groups))]
        centers, counts = ends[first], groups.counts.cpu()
    if len(centers):
        radius = eigenvalues(fm, centers).abs().amax(dim=1)
        sigma = spectral_norm(fm, centers)
    else:
        radius = sigma = torch.zeros(0)
    stable = radius < 1
    return PlaneSummary(
        x=x,
        z=z,
        centers=centers,
        decoded=_decode(model, centers) if len(centers) else x[:0],
        counts=counts,
        stable=stable,
        radius=radius,
        sigma=sigma,
        major=stable & (counts > min_share * n_starts),
        n_starts=n_starts,
        converged=float(res.converged.float().mean()),
        median_steps=float(res.steps.float().median()),
        jac_on_data=jacobian_norm(fm, z),
        mean_v_on_data=float(fm.residual(z).norm(dim=1).mean()),
    )


def toy_effects(
    main: PlaneSummary,
    *,
    untrained: PlaneSummary,
    no_noise: PlaneSummary,
    no_decay: PlaneSummary,
    strong_decay: PlaneSummary,
    log_density: Callable[[Tensor], Tensor],
) -> dict[str, float]:
    """The effects chapter 1 judges for one seed, each positive the paper's way.

    Parameters
    ----------
    main
        The denoising autoencoder (input noise, weight decay ``1e-4``).
    untrained
        The same network at initialization.
    no_noise, no_decay, strong_decay
        Retrained without input noise, without weight decay, with weight decay ``1e-2``.
    log_density
        ``(n, d) -> (n,)`` the log-density of the data (known for toy data).

    Returns
    -------
    dict
        * ``density`` (Fig. 1): mean :func:`density_percentile` of the decoded attractors
          among the training points, minus 0.5;
        * ``stable`` (Def. 2): :func:`stable_balance` of the converged starts;
        * ``contraction`` (App. A.3): ``1 - max ‖J_f(z*)‖_σ`` over the attractors;
        * ``initialization`` (Sec. 2, Fig. 3a): ``1 -`` median ``‖J_f‖_σ`` on the data,
          untrained;
        * ``noise`` (Sec. 2, Eq. 2): share of the data where ``‖J_f‖_σ < 1``, with input
          noise minus without;
        * ``weight decay`` (Sec. 2, 3.3): ``log2`` of the number of attractors without weight
          decay over the number with ``1e-2`` (each counted as at least 1): how much strong
          weight decay merges.
        NaN where the model has no attractor.
    """
    own = attractor_effects(main, log_density)
    return {
        "density": own["density"],
        "stable": stable_balance(main.counts, main.stable),
        "contraction": own["contraction"],
        "initialization": 1 - float(untrained.jac_on_data.median()),
        "noise": float((main.jac_on_data < 1).double().mean())
        - float((no_noise.jac_on_data < 1).double().mean()),
        "weight decay": math.log2(_at_least_one(no_decay) / _at_least_one(strong_decay)),
    }


def attractor_effects(
    main: PlaneSummary, log_density: Callable[[Tensor], Tensor]
) -> dict[str, float]:
    """The two effects of :func:`toy_effects` that need only the model itself (chapter 1's
    budget study measures them alone): ``density``, the mean :func:`density_percentile` of
    its decoded attractors among its points ``main.x``, minus 0.5; and ``contraction``,
    ``1 - max ‖J_f(z*)‖_σ`` over the attractors. NaN for both without an attractor."""
    att = main.major
    if not bool(att.any()):
        return {"density": math.nan, "contraction": math.nan}
    pct = density_percentile(log_density(main.decoded[att]), log_density(main.x))
    return {"density": float(pct.mean()) - 0.5, "contraction": 1 - float(main.sigma[att].max())}


def _at_least_one(summary: PlaneSummary) -> int:
    return max(int(summary.major.sum()), 1)


@dataclass
class AttractorDensity:
    """Where the attractors of one model sit in the density of its encoded data.

    ``N`` codes, ``A`` attractors, ``K`` density peaks; arrays on the CPU, distances in units
    of the bandwidth ``h``.

    Attributes
    ----------
    kde, bandwidth
        The Gaussian KDE of the codes and its bandwidth ``h`` (cross-validated).
    percentile
        ``(A,)`` :func:`density_percentile` of each attractor among the codes.
    to_data
        ``(A,)`` distance of each attractor to its nearest code.
    to_peak
        ``(A,)`` distance mean shift climbs from each attractor to a local maximum of the KDE.
    peaks
        ``(K, k)`` maxima of the KDE that collect at least ``min_share`` of the codes, densest
        first.
    top
        Distance of the densest peak to its nearest attractor (inf without attractors).
    starts_to_data
        Median distance of the given starts to their nearest code (NaN without starts).
    """

    kde: GaussianKDE
    bandwidth: float
    percentile: np.ndarray
    to_data: np.ndarray
    to_peak: np.ndarray
    peaks: Tensor
    top: float
    starts_to_data: float

    @property
    def effect(self) -> float:
        """Mean density percentile of the attractors minus 0.5: positive when attractors sit
        at higher density than the typical code (NaN without attractors)."""
        return float(self.percentile.mean()) - 0.5 if len(self.percentile) else math.nan


def attractor_density(
    codes: Tensor,
    attractors: Tensor,
    *,
    starts: Tensor | None = None,
    min_share: float = 0.02,
) -> AttractorDensity:
    """Measure where ``attractors`` ``(A, k)`` sit in the KDE of ``codes`` ``(N, k)``.

    The bandwidth is chosen by cross-validated likelihood
    (:func:`lvf.measures.density.select_bandwidth`); computations are in float64 on the CPU.
    ``starts`` ``(S, k)``, optional, are compared with the codes too (how far a random start
    typically is from the data).
    """
    zc = codes.detach().cpu().double()
    c = attractors.detach().cpu().double().reshape(-1, zc.shape[1])
    kde = GaussianKDE(zc, select_bandwidth(zc))
    h = kde.bandwidth
    peaks = kde.modes(min_count=max(1, int(min_share * len(zc))))[0]
    if len(c):
        percentile = density_percentile(kde.log_prob(c), kde.log_prob(zc)).numpy()
        climbed, _ = kde.mean_shift(c)
        to_data = nearest_distance(c, zc).numpy() / h
        to_peak = (climbed - c).norm(dim=1).numpy() / h
    else:
        percentile = to_data = to_peak = np.zeros(0)
    top = nearest_distance(peaks[:1], c).item() / h if len(peaks) else math.nan
    far = math.nan
    if starts is not None:
        far = nearest_distance(starts.detach().cpu().double(), zc).median().item() / h
    return AttractorDensity(kde, h, percentile, to_data, to_peak, peaks, top, far)


def correlations(estimate, measured, groups):
    """Pearson and Spearman correlations of ``estimate`` with ``measured``, per group and
    pooled.

    Parameters
    ----------
    estimate, measured, groups
        ``(n,)`` paired values and the group (e.g. seed) of each; pairs with a NaN are left
        out.

    Returns
    -------
    pandas.DataFrame
        Indexed by group, then ``"pooled"``; columns ``n``, ``pearson``, ``spearman`` (NaN
        for fewer than 3 pairs or a constant side).
    """
    import pandas as pd
    from scipy import stats

    est, meas = np.asarray(estimate, float), np.asarray(measured, float)
    grp = np.asarray(groups)
    ok = np.isfinite(est) & np.isfinite(meas)

    def one(mask) -> dict[str, float]:
        a, b = est[mask & ok], meas[mask & ok]
        if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
            return dict(n=len(a), pearson=math.nan, spearman=math.nan)
        return dict(
            n=len(a),
            pearson=float(stats.pearsonr(a, b).statistic),
            spearman=float(stats.spearmanr(a, b).statistic),
        )

    rows = {g: one(grp == g) for g in dict.fromkeys(grp.tolist())}
    rows["pooled"] = one(np.ones(len(est), bool))
    return pd.DataFrame(rows).T.astype({"n": int})


# ---- chapter 2: the paper's k = 2 autoencoders of MNIST (Fig. 1, Def. 2, Fig. 11) ----------


def window(codes: Tensor, *, smallest: float = 8.0, quantile: float = 0.995) -> float:
    """Half-width ``L`` of the square window ``[-L, L]²`` that holds a model's codes.

    ``L`` is the ``quantile`` of ``max_i |z_i|`` over the codes ``(N, k)``, rounded up to a
    multiple of 4, and at least ``smallest`` (the paper draws ``[-8, 8]²``).

    >>> window(torch.tensor([[1.0, -9.5], [2.0, 3.0]]), quantile=1.0)
    12.0
    >>> window(torch.zeros(5, 2))
    8.0
    """
    reach = float(codes.detach().abs().amax(dim=1).quantile(quantile))
    return max(smallest, 4.0 * math.ceil(reach / 4))


def unit_starts(n: int, k: int = 2, *, seed: int = 1) -> Tensor:
    """``(n, k)`` starts uniform on ``[-1, 1]^k``, the same for every model; multiply by a
    model's :func:`window` to spread them over its window."""
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(n, k, generator=gen) * 2 - 1


def shown(n: int, n_show: int) -> Tensor:
    """``(min(n, n_show),)`` indices of the training images chapter 2 encodes (for its
    figures, densities and starts): the first ``n_show`` of a permutation seeded with 0."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(0))[:n_show]


@dataclass
class Survey:
    """Fixed points of one ``k = 2`` model from uniform and from training starts (chapter 2).

    ``M`` fixed points; ``U`` uniform starts, ``D`` training starts; tensors on the device of
    the model except where said.

    Attributes
    ----------
    lim
        The window's half-width (:func:`window`), ``z_uniform`` ``(U, 2)`` the uniform starts.
    uniform, data
        The iterations (:func:`lvf.iterate`) from the uniform starts (the paper's rule) and from
        the training codes (``tol=1e-10``, whole trajectories kept, for Fig. 11).
    centers
        ``(M, 2)`` fixed points: converged end points grouped within 0.1, one per group
        polished by Newton's method, then merged within 0.01.
    labels_u, labels_d
        ``(U,)``, ``(D,)`` the fixed point each start ends at, ``-1`` if it did not converge.
    radius, sigma, stable
        ``(M,)`` spectral radius and spectral norm of ``J_f`` there; ``radius < 1`` (Def. 2).
    n_cos
        Fixed points the paper's grouping rule (cosine similarity > 0.99) would count.
    share_u, share_d
        ``(M,)`` on the CPU: share of uniform and of training starts that end there.
    major
        ``(M,)`` on the CPU: stable with a basin of at least 1 % of the window: the attractors.
    converged_u, converged_d
        Share of uniform and of training starts that converged.
    """

    lim: float
    z_uniform: Tensor
    uniform: IterationResult
    data: IterationResult
    centers: Tensor
    labels_u: Tensor
    labels_d: Tensor
    radius: Tensor
    sigma: Tensor
    stable: Tensor
    n_cos: int
    share_u: Tensor
    share_d: Tensor
    major: Tensor
    converged_u: float
    converged_d: float

    @property
    def attractors(self) -> Tensor:
        """``(A, 2)`` the attractors (:attr:`major`)."""
        return self.centers[self.major.to(self.centers.device)]


def survey(model, codes: Tensor, unit: Tensor, *, starts: int, min_share: float = 0.01) -> Survey:
    """Iterate ``f = E ∘ D`` from uniform starts over the model's window and from its training
    codes, and find, polish and check the fixed points they reach (chapter 2).

    Parameters
    ----------
    model
        An autoencoder with ``latent_map()``, latent size 2.
    codes
        ``(N, 2)`` the encoded training images; the first ``starts`` are the training starts,
        all of them set the window (:func:`window`).
    unit
        ``(U, 2)`` starts on ``[-1, 1]²`` (:func:`unit_starts`), scaled to the window.
    starts
        Number of training starts.

    Returns
    -------
    Survey
    """
    from lvf.convergence import refine_fixed_points

    f = model.latent_map()
    lim = window(codes)
    z_uniform = unit.to(codes.device, codes.dtype) * lim
    ru = iterate(f, z_uniform)  # the paper's rule: ‖Δz‖² < 1e-6 within 3,000 steps
    rd = iterate(f, codes[:starts], tol=1e-10, record="trajectory")
    ends = torch.cat([ru.final[ru.converged], rd.final[rd.converged]])
    groups = find_attractors(ends, eps=0.1)  # end points close together
    polished = refine_fixed_points(f, groups.centers)  # Newton on one point per group
    att = find_attractors(polished, eps=0.01)  # groups that polish to the same point
    labels = [torch.full((len(r.final),), -1, device=ends.device) for r in (ru, rd)]
    per_end, n_u = att.labels[groups.labels], int(ru.converged.sum())
    labels[0][ru.converged], labels[1][rd.converged] = per_end[:n_u], per_end[n_u:]
    radius = eigenvalues(f, att.centers).abs().amax(dim=1)
    n = len(att.centers)
    share_u, share_d = (
        torch.bincount(lab[lab >= 0].cpu(), minlength=n) / len(lab) for lab in labels
    )
    stable = radius < 1
    return Survey(
        lim=lim,
        z_uniform=z_uniform,
        uniform=ru,
        data=rd,
        centers=att.centers,
        labels_u=labels[0],
        labels_d=labels[1],
        radius=radius,
        sigma=spectral_norm(f, att.centers),
        stable=stable,
        n_cos=len(find_attractors(ends, cos_threshold=0.99)),  # the paper's rule
        share_u=share_u,
        share_d=share_d,
        major=stable.cpu() & (share_u >= min_share),
        converged_u=float(ru.converged.float().mean()),
        converged_d=float(rd.converged.float().mean()),
    )


def convergence_steps(s: Survey, *, eps: float = 1e-3, r_lin: float = 0.5) -> dict[str, Tensor]:
    """Fig. 11 on one model: measured steps from each training start to its attractor, and
    the linear-rate estimates (Prop. A.9), on the CPU.

    Only starts that reach a stable fixed point and come within ``r_lin`` of it are kept.

    Returns
    -------
    dict of ``(n,)`` tensors
        ``measured`` (steps until ``‖z_t - z*‖ < eps``), ``norm`` and ``radius`` (the estimate
        from the start with ``ρ = ‖J_f(z*)‖σ`` or its spectral radius), ``transit`` (first step
        within ``r_lin``), ``linear`` (the estimate from there, spectral norm), ``sigma``,
        ``rho``.
    """
    from lvf.convergence import linear_rate_steps, steps_to_reach

    rd = s.data
    lab = s.labels_d.cpu()
    j = lab.clamp_min(0)  # the fixed point each start reaches (label -1: none)
    z_star, sigma, rho = s.centers.cpu()[j], s.sigma.cpu()[j], s.radius.cpu()[j]
    e0 = (rd.trajectory[:, 0] - z_star).norm(dim=1)
    t_in = steps_to_reach(rd, z_star, r_lin)  # first step within r_lin of z*
    z_in = rd.trajectory[torch.arange(len(j)), t_in.nan_to_num(0).long()]
    ok = (lab >= 0) & s.stable.cpu()[j] & torch.isfinite(t_in)
    out = dict(
        measured=steps_to_reach(rd, z_star, eps),
        norm=linear_rate_steps(e0, sigma, eps),
        radius=linear_rate_steps(e0, rho, eps),
        transit=t_in,
        linear=linear_rate_steps((z_in - z_star).norm(dim=1), sigma, eps),
        sigma=sigma,
        rho=rho,
    )
    return {k: v[ok] for k, v in out.items()}


def mnist_effects(
    s: Survey, density: AttractorDensity, steps: dict[str, Tensor]
) -> dict[str, float]:
    """The effects chapter 2 judges for one seed, each positive the paper's way.

    Returns
    -------
    dict
        * ``several`` (Fig. 1): attractors − 1;
        * ``density`` (Fig. 1): :attr:`AttractorDensity.effect`;
        * ``stable`` (Def. 2): :func:`stable_balance` of the converged uniform starts;
        * ``pearson``, ``spearman`` (Fig. 11): correlation of the measured steps with the
          paper's estimate (spectral norm, whole trajectory);
        * ``pearson gain``, ``spearman gain`` (App. B.4): the same from the first step within
          ``r_lin`` of the attractor, minus the whole trajectory's;
        * ``converged``: share of uniform starts that converged (not an effect).
    """
    measured = steps["measured"].numpy()
    whole = correlations(steps["norm"].numpy(), measured, np.zeros(len(measured)))
    near = correlations(
        steps["linear"].numpy(), measured - steps["transit"].numpy(), np.zeros(len(measured))
    )
    w, n = whole.loc["pooled"], near.loc["pooled"]
    return {
        "several": int(s.major.sum()) - 1,
        "density": density.effect,
        "stable": stable_balance(s.share_u, s.stable),
        "pearson": float(w.pearson),
        "spearman": float(w.spearman),
        "pearson gain": float(n.pearson - w.pearson),
        "spearman gain": float(n.spearman - w.spearman),
        "converged": s.converged_u,
    }
