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

**The training attractors** ``Z*_train`` are, in this book, the *distinct* end points of the
training latents' iterations that did not diverge: end points whose cosine similarity
exceeds ``cos_threshold`` (0.99, the paper's rule for counting attractors) are one attractor
(:func:`lvf.find_attractors`), represented by the first of them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from lvf._batching import batched
from lvf.attractors import Attractors, find_attractors
from lvf.iterate import IterationResult, iterate
from lvf.latent_map import LatentMap
from lvf.measures import ood

__all__ = ["OODResult", "run"]


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
        The training attractors ``Z*_train`` (:class:`lvf.Attractors`: ``centers``
        ``(A, *S)``, ``counts``, ``labels`` over the non-diverged starts).
    train_latents
        ``(M, *S)`` the encoded training images (the reference of KNN and Mahalanobis).
    train_iteration
        The :class:`lvf.IterationResult` of the attractor starts.
    latents
        ``{set name: (N, *S)}`` the encoded test images.
    iterations
        ``{set name: IterationResult}`` with the recorded trajectories, when :func:`run` was
        asked to keep them (``keep_trajectories=True``); empty otherwise.
    """

    id_name: str
    scores: dict[str, dict[str, Tensor]] = field(default_factory=dict)
    steps: dict[str, Tensor] = field(default_factory=dict)
    attractors: Attractors | None = None
    train_latents: Tensor | None = None
    train_iteration: IterationResult | None = None
    latents: dict[str, Tensor] = field(default_factory=dict)
    iterations: dict[str, IterationResult] = field(default_factory=dict)

    @property
    def train_attractors(self) -> Tensor:
        """``(A, *S)`` the centres of the distinct training attractors."""
        return self.attractors.centers

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
    attractors = find_attractors(res.final[~res.diverged], cos_threshold=cos_threshold)
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
        else:
            traj, steps = ood.trajectory_scores(
                f, z, centers, tol=tol, max_steps=max_steps, chunk=batch_size
            )
        scores = {"trajectory": traj}
        for k in ks:
            scores[f"KNN (K={k})"] = torch.as_tensor(ood.knn_score(z_train, z, k))
        scores["Mahalanobis"] = torch.as_tensor(ood.mahalanobis_score(z_train, z))
        scores["reconstruction"] = recon_error(images)
        out.scores[name] = scores
        out.steps[name] = steps
    return out
