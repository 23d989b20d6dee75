"""Out-of-distribution detection from latent trajectories (Sec. 4.2, Fig. 5, Table 1).

Used by chapter 9 (the small MNIST autoencoder) and chapter 11 (the natural-image stand-in
and, where its weights load, ViT-MAE).

The paper encodes 2,000 training images, iterates the latent map to their attractors
``Z*_train``, and scores a test input by the mean distance of its trajectory to the nearest
training attractor (:func:`lvf.measures.ood.trajectory_score`). It compares with a KNN score
on the training latents (K = 2,000), and in App. B.3 with a Mahalanobis distance and the
reconstruction error. :func:`run` does all of it for one model and several test sets, with
the same code for the book's autoencoders and for a pretrained one
(:mod:`lvf.models.adapters`); :meth:`OODResult.table` gives AUROC and FPR95 per method and
test set.

**The training attractors** ``Z*_train`` are, in this book, the *distinct converged* end points
of the training latents' iterations: a start whose step ``‖z_{t+1} − z_t‖²`` never fell below
``tol`` within ``max_steps`` is still in transit and is no attractor
(:func:`lvf.protocols.memorization.converged_attractors`); converged end points whose cosine
similarity exceeds ``cos_threshold`` (0.99, the paper's rule for counting attractors) are one
attractor. :attr:`OODResult.converged_fraction` is the share of starts that converged. When
none did, there is no training attractor and the trajectory score is NaN (as are its AUROC
and FPR95).

**Across seeds.** A chapter runs :func:`run` once per seed (another trained network and
another draw of the data) and keeps ``{seed: OODResult}``. :func:`across_seeds` gives the
long table of AUROC and FPR95, :func:`mean_sd` its mean ± standard deviation over seeds,
:func:`gaps` the effect a verdict is judged on (the trajectory score's AUROC minus the best
baseline's, or minus chance, per seed and OOD set) and :func:`judge_gaps` the verdict
(:func:`lvf.book.verdicts.judge` per OOD set over seeds, joined by
:func:`lvf.book.verdicts.combine`). :data:`PAPER_FIG5A` holds the paper's own numbers.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor

from lvf._batching import batched
from lvf.attractors import Attractors
from lvf.iterate import IterationResult, iterate
from lvf.latent_map import LatentMap
from lvf.measures import ood
from lvf.protocols.memorization import converged_attractors

if TYPE_CHECKING:
    import pandas as pd

    from lvf.book.verdicts import Verdict

__all__ = [
    "CIFAR_OOD_SETS",
    "PAPER_FIG5A",
    "OODResult",
    "across_seeds",
    "cifar_sets",
    "describe_gaps",
    "gaps",
    "judge_gaps",
    "mean_sd",
    "mnist_sets",
    "paper_table",
    "run",
    "trajectory_parts",
]

PAPER_FIG5A: dict[str, dict[str, dict[str, float]]] = {
    "d(attractors)": {
        "SUN397": {"FPR95": 29.60, "AUROC": 91.20},
        "Places365": {"FPR95": 29.95, "AUROC": 90.99},
        "Texture": {"FPR95": 25.85, "AUROC": 92.63},
        "iNaturalist": {"FPR95": 29.85, "AUROC": 91.29},
    },
    "KNN (K=2000)": {
        "SUN397": {"FPR95": 100.00, "AUROC": 42.59},
        "Places365": {"FPR95": 100.00, "AUROC": 32.36},
        "Texture": {"FPR95": 34.50, "AUROC": 89.41},
        "iNaturalist": {"FPR95": 86.35, "AUROC": 68.60},
    },
}
"""The paper's Fig. 5a (ViT-MAE base pretrained on ImageNet; ImageNet in distribution), in %:
``{method: {OOD set: {"FPR95": …, "AUROC": …}}}``. Its Table 1 (App. B.3) adds the
Mahalanobis distance and the reconstruction error without printing their numbers."""


MNIST_OOD_SETS: tuple[str, ...] = (
    "Fashion-MNIST",
    "CIFAR-10 gray",
    "Kodak crops",
    "scikit-image crops",
    "uniform noise",
    "Gaussian noise",
)
"""The out-of-distribution sets of :func:`mnist_sets`, in order."""


def mnist_sets(n: int, seed: int, x_ref: Tensor) -> dict[str, Tensor]:
    """The evaluation sets of chapter 9's MNIST autoencoder: the MNIST test set (in
    distribution, ``"MNIST (ID)"``) and the six sets of :data:`MNIST_OOD_SETS`.

    Parameters
    ----------
    n
        Images per set.
    seed
        Which draw: the images are drawn with seed ``seed + 1`` (so seed 0 of a chapter does
        not share its draw with data drawn with seed 0 elsewhere).
    x_ref
        ``(N, 1, 32, 32)`` reference (training) images in ``[0, 1]``: the Gaussian noise has
        their mean and standard deviation.

    Returns
    -------
    dict
        ``{name: (n, 1, 32, 32) tensor in [0, 1]}``, MNIST first.
    """
    from lvf import data

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", data.DataSourceWarning)
        sets = {
            "MNIST (ID)": data.load("mnist", "test", n, seed=seed + 1)[0],
            "Fashion-MNIST": data.load("fashion-mnist", "test", n, seed=seed + 1)[0],
            "CIFAR-10 gray": data.load("cifar10-gray", "test", n, seed=seed + 1)[0],
            "Kodak crops": data.photo_crops(n, gray=True, seed=seed + 1, source="kodak"),
            "scikit-image crops": data.photo_crops(n, gray=True, seed=seed + 1, source="skimage"),
        }
    g = torch.Generator().manual_seed(seed + 1)
    mu, sd = float(x_ref.mean()), float(x_ref.std())
    sets["uniform noise"] = torch.rand(n, 1, 32, 32, generator=g)
    sets["Gaussian noise"] = (mu + sd * torch.randn(n, 1, 32, 32, generator=g)).clamp(0, 1)
    return sets


CIFAR_OOD_SETS: tuple[str, ...] = ("Kodak crops", "Fashion-MNIST", "MNIST", "uniform noise")
"""The out-of-distribution sets of :func:`cifar_sets`, in order: from near (natural photos)
to far (noise)."""


def cifar_sets(n_ref: int, n: int, seed: int) -> tuple[Tensor, dict[str, Tensor]]:
    """The reference images and evaluation sets of chapter 11's CIFAR-10 autoencoder: the
    CIFAR-10 test set (in distribution, ``"CIFAR-10 (ID)"``) and the four sets of
    :data:`CIFAR_OOD_SETS`, gray images copied into three channels.

    Parameters
    ----------
    n_ref
        CIFAR-10 training images for the references (KNN, Mahalanobis, the attractors).
    n
        Images per evaluation set.
    seed
        Which draw (the test sets with ``seed``, the references and crops with ``seed + 1``,
        the noise with a generator seeded ``seed``).

    Returns
    -------
    ref, sets
        ``(n_ref, 3, 32, 32)`` and ``{name: (n, 3, 32, 32)}``, in ``[0, 1]``, CIFAR-10 first.
    """
    from lvf import data

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", data.DataSourceWarning)
        ref = data.load("cifar10", "train", n_ref, seed=seed + 1)[0]
        noise = torch.Generator().manual_seed(seed)
        sets = {
            "CIFAR-10 (ID)": data.load("cifar10", "test", n, seed=seed)[0],
            "Kodak crops": data.photo_crops(n, 32, source="kodak", seed=seed + 1),
            "Fashion-MNIST": data.to_rgb(data.load("fashion-mnist", "test", n, seed=seed)[0]),
            "MNIST": data.to_rgb(data.load("mnist", "test", n, seed=seed)[0]),
            "uniform noise": torch.rand(n, 3, 32, 32, generator=noise),
        }
    return ref, sets


def paper_table() -> pd.DataFrame:
    """:data:`PAPER_FIG5A` as a DataFrame laid out like :meth:`OODResult.table`: rows =
    methods, columns = (OOD set, metric)."""
    import pandas as pd

    return pd.DataFrame(
        {
            (name, metric): [PAPER_FIG5A[m][name][metric] for m in PAPER_FIG5A]
            for name in PAPER_FIG5A["d(attractors)"]
            for metric in ("FPR95", "AUROC")
        },
        index=list(PAPER_FIG5A),
    )


@dataclass(eq=False)  # holds tensors: compare fields explicitly
class OODResult:
    """Scores of every method on the in-distribution test set and on each OOD set.

    Attributes
    ----------
    id_name
        Name of the in-distribution test set (a key of :attr:`scores`).
    scores
        ``{set name: {method: (N,) float64 scores}}``; larger = more OOD.
    steps
        ``{set name: (N,) iterations}`` of the test trajectories.
    attractors
        The training attractors ``Z*_train``: the distinct *converged* end points
        (:class:`lvf.Attractors`: ``centers`` ``(A, *S)``, ``counts``, ``labels`` ``(n,)``
        over the attractor starts, ``-1`` for a start that did not converge).
    train_latents
        ``(M, *S)`` the encoded training images (the reference of KNN and Mahalanobis).
    train_iteration
        The :class:`lvf.IterationResult` of the attractor starts.
    latents
        ``{set name: (N, *S)}`` the encoded test images.
    iterations
        ``{set name: IterationResult}`` with the recorded trajectories, when :func:`run` was
        asked to keep them (``keep_trajectories=True``); empty otherwise.
    converged
        ``{set name: (N,) bool}`` whether each test trajectory met the step criterion
        within ``max_steps`` (the others are scored on the path up to the cap).
    """

    id_name: str
    scores: dict[str, dict[str, Tensor]] = field(default_factory=dict)
    steps: dict[str, Tensor] = field(default_factory=dict)
    attractors: Attractors | None = None
    train_latents: Tensor | None = None
    train_iteration: IterationResult | None = None
    latents: dict[str, Tensor] = field(default_factory=dict)
    iterations: dict[str, IterationResult] = field(default_factory=dict)
    converged: dict[str, Tensor] = field(default_factory=dict)

    @property
    def train_attractors(self) -> Tensor:
        """``(A, *S)`` the centres of the distinct training attractors."""
        return self.attractors.centers

    @property
    def converged_fraction(self) -> float:
        """Share of the attractor starts whose iteration converged (the others are in transit
        at ``max_steps`` and belong to no training attractor)."""
        return float(self.train_iteration.converged.float().mean())

    @property
    def knn_paper(self) -> str:
        """The KNN method with the largest K (the paper's: K = the number of training
        images, i.e. the mean distance to all of them)."""
        knn = [m for m in self.methods if m.startswith("KNN (K=")]
        return max(knn, key=lambda m: int(m[7:-1]))

    def roc(self, name: str, method: str) -> tuple[np.ndarray, np.ndarray]:
        """``(fpr, tpr)``: the ROC curve of ``method`` for telling the OOD set ``name`` from
        the in-distribution test set (:func:`lvf.measures.ood.roc`)."""
        return ood.roc(self.scores[self.id_name][method], self.scores[name][method])

    @property
    def methods(self) -> list[str]:
        return list(self.scores[self.id_name])

    @property
    def ood_names(self) -> list[str]:
        return [n for n in self.scores if n != self.id_name]

    def metrics(self) -> dict[str, dict[str, dict[str, float]]]:
        """``{ood set: {method: {"FPR95": %, "AUROC": %}}}``."""
        out: dict[str, dict[str, dict[str, float]]] = {}
        for name in self.ood_names:
            out[name] = {}
            for m in self.methods:
                s_id, s_ood = self.scores[self.id_name][m], self.scores[name][m]
                out[name][m] = {
                    "FPR95": 100 * ood.fpr_at_tpr(s_id, s_ood, 0.95),
                    "AUROC": 100 * ood.auroc(s_id, s_ood),
                }
        return out

    def table(self):
        """AUROC and FPR95 (in %) as a pandas DataFrame: rows = methods, columns =
        (OOD set, metric), like the paper's table in Fig. 5a."""
        import pandas as pd

        data = {
            (name, metric): [self.metrics()[name][m][metric] for m in self.methods]
            for name in self.ood_names
            for metric in ("FPR95", "AUROC")
        }
        return pd.DataFrame(data, index=self.methods)


def run(
    encode: Callable[[Tensor], Tensor],
    decode: Callable[[Tensor], Tensor],
    train_images: Tensor,
    test_sets: Mapping[str, Tensor],
    *,
    id_name: str | None = None,
    knn_k: Sequence[int] = (2000,),
    tol: float = 1e-5,
    max_steps: int = 500,
    n_attractor_starts: int | None = None,
    cos_threshold: float = 0.99,
    keep_trajectories: bool = False,
    preprocess: Callable[[Tensor], Tensor] | None = None,
    batch_size: int = 256,
    device: str | torch.device | None = None,
    dtype: torch.dtype = torch.float32,
) -> OODResult:
    """The Sec. 4.2 protocol: training attractors, then five scores on every test set.

    Parameters
    ----------
    encode, decode
        The autoencoder (model input space <-> latents).
    train_images
        ``(M, C, H, W)`` in-distribution training images (the paper: 2,000), in ``[0, 1]``:
        the reference set of the KNN and Mahalanobis scores.
    test_sets
        ``{name: (N, C, H, W)}`` images in ``[0, 1]``; the first (or ``id_name``) is the
        in-distribution test set, the others are OOD.
    knn_k
        Neighbour counts of the KNN baseline (clipped to the number of training images); the
        paper uses 2,000 with 2,000 training images, i.e. the mean distance to all of them.
    tol, max_steps
        Stopping rule of every iteration (paper: 1e-5 and 500 for foundation models; 1e-6
        and 3,000 for small autoencoders).
    n_attractor_starts
        Iterate only the first ``n`` training latents to find the attractors (default: all).
    cos_threshold
        End points more similar than this are one training attractor.
    keep_trajectories
        Keep every test set's :class:`lvf.IterationResult` with its trajectory (memory:
        ``N × steps × latent size`` per set) in :attr:`OODResult.iterations`.
    preprocess
        ``[0, 1]`` images -> model input (e.g. ``adapter.preprocess``).
    batch_size
        Images per forward pass and the active pool of every iteration: the networks never
        see more than ``batch_size`` inputs at once.

    Returns
    -------
    OODResult
        Methods: ``"trajectory"`` (mean distance of the trajectory to the nearest training
        attractor), ``"KNN (K=…)"``, ``"Mahalanobis"`` (Ledoit–Wolf Gaussian on the training
        latents), ``"reconstruction"`` (pixel MSE of ``D(E(x))`` in model input space).
        Latents are flattened (token latents included: ``choice-token-flattening``).
        The training attractors are the distinct end points of the attractor starts that
        converged (``tol`` within ``max_steps``); with none, the trajectory score is NaN and a
        ``RuntimeWarning`` says so.
    """
    device = torch.device(device) if device is not None else torch.device("cpu")
    names = list(test_sets)
    id_name = id_name or names[0]
    if id_name not in test_sets:
        raise ValueError(f"id_name {id_name!r} is not one of the test sets {names}")
    f = LatentMap(encode, decode)

    def latents(images: Tensor) -> Tensor:
        step = (lambda b: encode(preprocess(b))) if preprocess else encode
        return batched(step, images, batch_size, device=device, dtype=dtype)

    def recon_error(images: Tensor) -> Tensor:
        def err(b: Tensor) -> Tensor:
            x = preprocess(b) if preprocess else b
            return (decode(encode(x)) - x).float().flatten(1).square().mean(dim=1)

        return batched(err, images, batch_size, device=device).double().cpu()

    z_train = latents(train_images)
    starts = z_train if n_attractor_starts is None else z_train[:n_attractor_starts]
    res = iterate(f, starts, tol=tol, max_steps=max_steps, batch_size=batch_size)
    attractors = converged_attractors(res.final, res.converged, cos_threshold=cos_threshold)
    if len(attractors) == 0:
        warnings.warn(
            f"none of the {len(starts)} training starts converged within {max_steps} steps "
            f"(tol {tol:g}): there is no training attractor and the trajectory score is NaN",
            RuntimeWarning,
            stacklevel=2,
        )
    out = OODResult(
        id_name=id_name, attractors=attractors, train_latents=z_train, train_iteration=res
    )
    centers = attractors.centers
    ks = sorted({min(int(k), len(z_train)) for k in knn_k}, reverse=True)
    for name in [id_name] + [n for n in names if n != id_name]:
        images = test_sets[name]
        z = out.latents[name] = latents(images)
        if keep_trajectories:
            run_ = iterate(
                f, z, tol=tol, max_steps=max_steps, record="trajectory", batch_size=batch_size
            )
            out.iterations[name] = run_
            traj, steps = ood.trajectory_score(run_.trajectory, centers), run_.steps.cpu()
            conv = run_.converged.cpu()
        else:
            parts = []
            for s in range(0, z.shape[0], batch_size):
                r = iterate(
                    f, z[s : s + batch_size], tol=tol, max_steps=max_steps, record="trajectory"
                )
                parts.append((ood.trajectory_score(r.trajectory, centers), r.steps, r.converged))
            traj, steps, conv = (torch.cat([p[i].cpu() for p in parts]) for i in range(3))
        scores = {"trajectory": traj}
        for k in ks:
            scores[f"KNN (K={k})"] = torch.as_tensor(ood.knn_score(z_train, z, k))
        scores["Mahalanobis"] = torch.as_tensor(ood.mahalanobis_score(z_train, z))
        scores["reconstruction"] = recon_error(images)
        out.scores[name] = scores
        out.steps[name] = steps
        out.converged[name] = conv
    return out


def trajectory_parts(iteration: IterationResult, attractors: Tensor) -> dict[str, Tensor]:
    """The trajectory score taken apart: five statistics of each trajectory's distances.

    For every recorded point ``z_i`` of every trajectory, ``d_i = min_a ‖z_i − a‖₂`` to the
    nearest attractor; the statistics are the distance of the **start** ``d_0``, of the
    **end** point, their **mean** over the path (the paper's score), their **sum** (the mean
    without the ``1/N``), and the number of **steps**.

    Parameters
    ----------
    iteration
        An :class:`lvf.IterationResult` of ``N`` starts with ``record="trajectory"``
        (``trajectory`` ``(N, L, *S)`` NaN-padded, ``lengths`` ``(N,)``).
    attractors
        ``(A, *S)`` the training attractors (``A ≥ 1``).

    Returns
    -------
    dict
        ``{"start", "end", "mean", "sum", "steps"}`` each ``(N,)`` float64 on the CPU, and
        ``"distances"`` ``(N, L)``: ``d_i`` per recorded point, NaN after the trajectory ends.
    """
    if iteration.trajectory is None or iteration.lengths is None:
        raise ValueError("trajectory_parts needs an iteration run with record='trajectory'")
    if attractors.shape[0] == 0:
        raise ValueError("trajectory_parts needs at least one attractor")
    traj = iteration.trajectory.double().cpu()
    n, length = traj.shape[:2]
    pts = traj.reshape(n, length, -1)
    valid = ~torch.isnan(pts).any(dim=2)
    att = attractors.reshape(attractors.shape[0], -1).double().cpu()
    d = torch.full((n, length), float("nan"), dtype=torch.float64)
    d[valid] = torch.cdist(pts[valid], att).min(dim=1).values
    end = d[torch.arange(n), iteration.lengths.cpu() - 1]
    return dict(
        start=d[:, 0],
        end=end,
        mean=d.nanmean(dim=1),
        sum=d.nansum(dim=1),
        steps=iteration.steps.cpu().double(),
        distances=d,
    )


def across_seeds(results: Mapping[int, OODResult]) -> pd.DataFrame:
    """AUROC and FPR95 (in %) of every seed, OOD set and method: one row each.

    Parameters
    ----------
    results
        ``{seed: OODResult}``, one :func:`run` per seed.

    Returns
    -------
    pandas.DataFrame
        Columns ``seed``, ``set``, ``method``, ``AUROC``, ``FPR95``.
    """
    import pandas as pd

    rows = [
        dict(seed=seed, set=name, method=method, **vals)
        for seed, out in results.items()
        for name, per in out.metrics().items()
        for method, vals in per.items()
    ]
    return pd.DataFrame(rows, columns=["seed", "set", "method", "AUROC", "FPR95"])


def mean_sd(results: Mapping[int, OODResult], metric: str = "AUROC") -> pd.DataFrame:
    """``metric`` (``"AUROC"`` or ``"FPR95"``, in %) as "mean ± sd" over seeds.

    Returns
    -------
    pandas.DataFrame
        Rows = methods, columns = OOD sets, cells such as ``"91.2 ± 1.3"`` (the standard
        deviation over seeds; ``"91.2"`` with one seed).
    """
    import pandas as pd

    table = across_seeds(results)
    grouped = table.groupby(["method", "set"], sort=False)[metric]
    mean, sd = grouped.mean(), grouped.std()

    def cell(key) -> str:
        m, s = mean[key], sd[key]
        return f"{m:.1f}" if not math.isfinite(s) else f"{m:.1f} ± {s:.1f}"

    first = next(iter(results.values()))
    data = {name: [cell((m, name)) for m in first.methods] for name in first.ood_names}
    return pd.DataFrame(data, index=first.methods).rename_axis(f"{metric} (%)")


def gaps(results: Mapping[int, OODResult], against: Sequence[str] | str) -> pd.DataFrame:
    """The effect of an OOD claim: AUROC of the trajectory score minus that of a reference,
    in percentage points, per seed and OOD set (positive = the trajectory score is better).

    Parameters
    ----------
    results
        ``{seed: OODResult}``.
    against
        Method names of the baselines (the best of them on each seed and set is the
        reference: "more discriminative than both" means better than the better one), or
        ``"chance"`` for an AUROC of 50 %.

    Returns
    -------
    pandas.DataFrame
        Columns ``seed``, ``set``, ``trajectory`` (its AUROC), ``reference`` (the reference's
        name), ``reference AUROC`` and ``gap``.
    """
    import pandas as pd

    rows = []
    for seed, out in results.items():
        for name, per in out.metrics().items():
            traj = per["trajectory"]["AUROC"]
            if against == "chance":
                ref, ref_auc = "chance", 50.0
            else:
                aucs = {m: per[m]["AUROC"] for m in against}
                ref = max(aucs, key=lambda m: -math.inf if math.isnan(aucs[m]) else aucs[m])
                ref_auc = aucs[ref]
            rows.append(
                {"seed": seed, "set": name, "trajectory": traj, "reference": ref,
                 "reference AUROC": ref_auc, "gap": traj - ref_auc}
            )  # fmt: skip
    cols = ["seed", "set", "trajectory", "reference", "reference AUROC", "gap"]
    return pd.DataFrame(rows, columns=cols)


def judge_gaps(table: pd.DataFrame, *, smallest: float, measure: str) -> Verdict:
    """The verdict on an OOD claim from :func:`gaps`: one :func:`lvf.book.verdicts.judge` per
    OOD set over its seeds (effect = ``gap``, positive the paper's way), joined over the sets
    by :func:`lvf.book.verdicts.combine` (parts named by the set)."""
    from lvf.book.verdicts import combine, judge

    parts = {
        str(name): judge(g.sort_values("seed")["gap"].tolist(), smallest=smallest,
                         measure=measure)
        for name, g in table.groupby("set", sort=False)
    }  # fmt: skip
    return combine(parts, measure=measure)


def describe_gaps(table: pd.DataFrame) -> str:
    """One line for a record: the mean gap ± sd over seeds per OOD set, e.g.
    ``"Fashion-MNIST −56.2 ± 3.1, uniform noise +12.0 ± 0.4 (AUROC points, 3 seeds)"``."""
    g = table.groupby("set", sort=False)["gap"]
    mean, sd = g.mean(), g.std()
    n = table["seed"].nunique()
    cells = ", ".join(
        f"{name} {mean[name]:+.1f}" + (f" ± {sd[name]:.1f}" if math.isfinite(sd[name]) else "")
        for name in mean.index
    )
    return f"{cells} (AUROC points, {n} seed{'s' * (n != 1)})"
