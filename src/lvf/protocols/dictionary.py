"""Data-free weight probing (Sec. 4.1): a dictionary of attractors from noise, and OMP with it.

Figs. 4, 15, 16, 17 and Table 2 of the paper; used by chapter 10 (the natural-image stand-in
and, where its weights load, the Stable Diffusion VAE).

The paper draws as many Gaussian starts as the latent has dimensions, orthogonalises them,
iterates the latent map ``f`` to its attractors, and uses the attractors as a dictionary: test
latents are coded with Orthogonal Matching Pursuit over the attractors, decoded, and compared
with the same coding over the orthogonal starts themselves (which span the latent space by
construction). Lower error with fewer atoms means the attractors hold directions the model
actually uses — information read from the weights alone, without data.

* :func:`orthogonal_starts` — the starts ``Z_0`` (``choice-orthogonal-starts``).
* :func:`attractor_dictionary` — ``Z* = f^∞(Z_0)`` (tol 1e-5, 500 steps for foundation models).
* :func:`sparse_code_errors` — per-sample pixel MSE of the decoded OMP reconstructions at
  several numbers of atoms.
* :func:`probe` — the whole protocol for one model and several datasets, the same code for the
  book's own autoencoder and for a pretrained one (:mod:`lvf.models.adapters`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from lvf._batching import batched
from lvf.iterate import IterationResult, iterate
from lvf.latent_map import LatentMap
from lvf.measures.omp import omp, random_orthogonal_basis

__all__ = [
    "ProbeResult",
    "attractor_dictionary",
    "orthogonal_starts",
    "probe",
    "sparse_code_errors",
]


def orthogonal_starts(
    latent_shape: Sequence[int],
    *,
    n: int | None = None,
    std: float | Tensor = 1.0,
    mean: float | Tensor = 0.0,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device | None = None,
) -> Tensor:
    """``n`` orthogonal Gaussian starts of the latent shape, ``(n, *latent_shape)``.

    Rows of a Haar-random orthogonal matrix (:func:`lvf.measures.omp.random_orthogonal_basis`) times
    ``sqrt(k)``, so each start has exactly the norm ``sqrt(k)`` a ``N(0, I_k)`` sample has on
    average — "orthogonalised Gaussian samples" — then mapped to the model's latent scale as
    ``mean + std · z`` (``std``/``mean`` broadcast over the latent shape; e.g. ``std =
    1 / scaling_factor`` for the SD VAE, ``choice-sd-checkpoint``). ``n`` defaults to ``k``, the
    number
    of latent dimensions, as in the paper.
    """
    shape = tuple(int(s) for s in latent_shape)
    k = 1
    for s in shape:
        k *= s
    q = random_orthogonal_basis(
        k, n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64
    )
    z = (q * k**0.5).reshape(-1, *shape)
    z = mean + torch.as_tensor(std, dtype=torch.float64) * z
    return z.to(device=device, dtype=dtype)


def attractor_dictionary(
    f: Callable[[Tensor], Tensor],
    starts: Tensor,
    *,
    batch_size: int | None = None,
    tol: float = 1e-5,
    max_steps: int = 500,
) -> tuple[Tensor, IterationResult]:
    """Iterate ``f`` from every start; the final iterates are the dictionary's atoms.

    Returns the atoms ``(n, k)`` (flattened latents; every start gives one atom, converged or
    not — see :attr:`IterationResult.converged`) and the :class:`lvf.IterationResult`.
    A start that diverged keeps its last finite iterate.
    """
    res = iterate(f, starts, tol=tol, max_steps=max_steps, batch_size=batch_size)
    return res.final.reshape(res.final.shape[0], -1), res


def sparse_code_errors(
    dictionary: Tensor,
    latents: Tensor,
    images: Tensor,
    decode: Callable[[Tensor], Tensor],
    levels: Sequence[int],
    *,
    batch_size: int = 256,
    postprocess: Callable[[Tensor], Tensor] | None = None,
) -> Tensor:
    """Pixel MSE of decoded OMP reconstructions, per number of atoms and per sample.

    Each latent is coded over ``dictionary`` with :func:`lvf.measures.omp.omp` at every level of
    ``levels`` (one pass, in float64: attractor dictionaries are highly coherent and float32
    OMP loses accuracy on them at large numbers of atoms), the codes are decoded with
    ``decode`` (optionally followed by ``postprocess``, e.g. to map ``[-1, 1]`` outputs to
    ``[0, 1]``), and compared with the images.

    Parameters
    ----------
    dictionary
        ``(n_atoms, k)`` atoms (flattened latents).
    latents
        ``(N, *latent_shape)`` encoded test images.
    images
        ``(N, C, H, W)`` the images, in the range the (post-processed) decoder produces.
    decode
        Latents ``(B, *latent_shape)`` -> images ``(B, C, H, W)``.
    levels
        Numbers of atoms.

    Returns
    -------
    Tensor
        ``(len(levels), N)`` float64 mean squared errors over pixels (and channels), CPU.
    """
    shape = latents.shape[1:]
    flat = latents.reshape(latents.shape[0], -1)
    work = torch.float64  # attractor dictionaries are coherent: float32 OMP loses accuracy
    d = dictionary.to(device=flat.device, dtype=work)
    out = torch.empty(len(levels), flat.shape[0], dtype=torch.float64)
    for s in range(0, flat.shape[0], batch_size):
        z = flat[s : s + batch_size]
        codes = omp(d, z.to(work), list(levels))  # (L, B, n_atoms)
        recon = (codes @ d).to(latents.dtype)  # (L, B, k)
        x = images[s : s + batch_size].to(device=flat.device)
        with torch.no_grad():
            for i in range(len(levels)):
                y = decode(recon[i].reshape(-1, *shape))
                if postprocess is not None:
                    y = postprocess(y)
                err = (y.float() - x.float()).square().flatten(1).mean(dim=1)
                out[i, s : s + z.shape[0]] = err.double().cpu()
    return out


@dataclass
class ProbeResult:
    """What :func:`probe` found.

    Attributes
    ----------
    starts
        ``(n, *S)`` the orthogonal starts (the baseline dictionary).
    attractors
        ``(n, *S)`` the final iterates from them (the attractor dictionary).
    iteration
        The :class:`lvf.IterationResult` of the starts.
    levels
        Numbers of atoms.
    errors
        ``{dataset: {"orthogonal": (L, N), "attractors": (L, N)}}`` per-sample pixel MSE.
    latents
        ``{dataset: (N, *S)}`` the encoded test images.
    """

    starts: Tensor
    attractors: Tensor
    iteration: IterationResult
    levels: list[int]
    errors: dict[str, dict[str, Tensor]] = field(default_factory=dict)
    latents: dict[str, Tensor] = field(default_factory=dict)

    def mean_errors(self) -> dict[str, dict[str, list[float]]]:
        """``{dataset: {dictionary: [mean MSE per level]}}``."""
        return {
            name: {d: e.mean(dim=1).tolist() for d, e in per.items()}
            for name, per in self.errors.items()
        }


def probe(
    encode: Callable[[Tensor], Tensor],
    decode: Callable[[Tensor], Tensor],
    starts: Tensor,
    datasets: Mapping[str, Tensor],
    levels: Sequence[int],
    *,
    preprocess: Callable[[Tensor], Tensor] | None = None,
    postprocess: Callable[[Tensor], Tensor] | None = None,
    tol: float = 1e-5,
    max_steps: int = 500,
    batch_size: int = 256,
) -> ProbeResult:
    """Data-free weight probing (Sec. 4.1) of the autoencoder ``(encode, decode)``.

    1. Iterate ``f = encode ∘ decode`` from the ``starts`` (e.g. :func:`orthogonal_starts`)
       to attractors (``tol``, ``max_steps``: the paper's 1e-5 and 500).
    2. For every dataset, encode its images (``[0, 1]``, ``(N, C, H, W)``; ``preprocess``
       maps them to the model's input range), code the latents with OMP over the starts and
       over the attractors at each number of atoms in ``levels``, decode (``postprocess``
       maps outputs back to ``[0, 1]``), and measure the pixel MSE against the images.

    Works on any device: the images are moved to the device of ``starts``. ``batch_size``
    bounds every call of ``encode`` and ``decode`` (the iteration's active pool included).
    """
    f = LatentMap(encode, decode)
    atoms, res = attractor_dictionary(
        f, starts, tol=tol, max_steps=max_steps, batch_size=batch_size
    )
    ortho = starts.reshape(starts.shape[0], -1)
    out = ProbeResult(
        starts=starts, attractors=res.final, iteration=res, levels=[int(k) for k in levels]
    )
    for name, images in datasets.items():
        x = images.to(starts.device)
        step = (lambda b: encode(preprocess(b))) if preprocess else encode
        z = batched(step, x, batch_size, dtype=starts.dtype)
        out.latents[name] = z
        out.errors[name] = {
            label: sparse_code_errors(
                d, z, x, decode, levels, batch_size=batch_size, postprocess=postprocess
            )
            for label, d in (("orthogonal", ortho), ("attractors", atoms))
        }
    return out
