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

Everything runs in batches on the device of the model, CPU or GPU.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from lvf._batching import batched
from lvf.attractors import Attractors, find_attractors
from lvf.iterate import iterate
from lvf.latent_map import LatentMap
from lvf.measures.memorization import max_cosine, rank_explaining

__all__ = ["AttractorProbe", "converged_attractors", "probe_attractors", "reconstruction_mse"]


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

    Returns
    -------
    AttractorProbe
    """
    if starts is None:
        starts = x_train
    elif isinstance(starts, int):
        if not 1 <= starts <= len(x_train):
            raise ValueError(f"starts={starts} must lie in [1, {len(x_train)}]")
        starts = x_train[:starts]
    device = _device(model)
    z0 = batched(model.encode, starts, batch_size, device=device, out_device="cpu").to(device)
    f = LatentMap(model.encode, model.decode)
    res = iterate(f, z0, tol=tol, max_steps=max_steps, batch_size=batch_size)
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
    )
