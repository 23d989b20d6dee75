"""Weight decay and the layer-wise Jacobian bound: App. C of the paper; chapter 5
(``ch05_weight_decay``).

The paper argues that weight decay pushes an autoencoder towards contraction: for
1-Lipschitz activations ``‖J(x)‖₂ ≤ Π_ℓ ‖W_ℓ‖₂``, weight decay keeps the weights small, and a
product below one makes the map a contraction. For every saved epoch of every training run
(one run per weight decay and seed), :func:`checkpoint_measures` measures on the latent map
``f = E ∘ D`` of a sequential autoencoder (e.g. :class:`lvf.models.ConvAE`)

* the bound ``Π_ℓ ‖W_ℓ‖₂`` (exact operator norms, :func:`lvf.measures.contraction.
  lipschitz_bound`), with and without the activations' constants, and ``Σ_ℓ ‖W_ℓ‖_F²``;
* the spectral norm of ``J_f`` at the encoded probe images (full Jacobian);
* the attractors reached from those latents under the paper's rule (``‖z_{t+1} − z_t‖²
  < 1e-6`` within 3,000 steps; converged end points only, grouped by cosine > 0.99) with the
  share that converged, and the spectral norm and spectral radius of ``J_f`` there;
* the reconstruction error on test images.

:func:`sweep` does it for every checkpoint of every run and returns one table;
:func:`bound_holds` and :func:`useful_contraction` reduce it to one number per seed, the input
of :func:`lvf.book.verdicts.judge` (the trend of the bound with the weight decay is judged by
:func:`lvf.book.verdicts.trend` on the last epoch's rows).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor

from lvf.iterate import iterate
from lvf.jacobian import eigenvalues, jacobian
from lvf.measures.contraction import lipschitz_bound

__all__ = ["bound_holds", "checkpoint_measures", "sweep", "useful_contraction"]


def _device(model) -> torch.device:
    return next(model.parameters()).device


def checkpoint_measures(
    model,
    x_probe: Tensor,
    x_test: Tensor,
    *,
    tol: float = 1e-6,
    max_steps: int = 3000,
) -> dict[str, float]:
    """Bound, Jacobian norms, attractors and test error of one autoencoder.

    Parameters
    ----------
    model
        An autoencoder with ``encode``, ``decode``, ``latent_map()`` and sequential
        ``encoder`` and ``decoder`` made of affine layers and elementwise activations (what
        :func:`lvf.measures.contraction.lipschitz_bound` accepts), in eval mode.
    x_probe
        ``(N, C, H, W)`` training images: their latents ``(N, k)`` are where the Jacobian is
        measured and where the iteration starts.
    x_test
        ``(M, C, H, W)`` test images for the reconstruction error.
    tol, max_steps
        The paper's convergence rule for small autoencoders (App. D).

    Returns
    -------
    dict
        ``prod_W`` (``Π ‖W_ℓ‖₂`` over the ten affine layers of ``f``), ``bound`` (times the
        activations' Lipschitz constants), ``weights2`` (``Σ ‖W_ℓ‖_F²``, what weight decay
        penalises, biases excluded), ``jac_mean`` and ``jac_max`` (``‖J_f(z)‖σ`` over the
        probe latents), ``attractors`` (distinct converged attractors), ``converged`` (share
        of the starts that converged), ``jac_star`` and ``rho_star`` (largest spectral norm
        and spectral radius of ``J_f`` at the attractors; ``nan`` without one) and
        ``test_mse`` (mean squared error per pixel).
    """
    from lvf.protocols.memorization import converged_attractors

    dev = _device(model)
    f = model.latent_map()
    x_probe, x_test = x_probe.to(dev), x_test.to(dev)
    with torch.no_grad():
        z = model.encode(x_probe)
        mse = float(F.mse_loss(model(x_test), x_test))
    b = lipschitz_bound([*model.decoder, *model.encoder], z[:1])
    jac = torch.linalg.matrix_norm(jacobian(f, z), ord=2)
    res = iterate(f, z, tol=tol, max_steps=max_steps)
    att = converged_attractors(res.final, res.converged)
    centers = att.centers.to(dev)
    found = len(att) > 0
    return dict(
        prod_W=b.product,
        bound=b.bound,
        weights2=float((b.frobenius**2).sum()),
        jac_mean=float(jac.mean()),
        jac_max=float(jac.max()),
        attractors=len(att),
        converged=float(res.converged.float().mean()),
        jac_star=float(torch.linalg.matrix_norm(jacobian(f, centers), ord=2).max())
        if found
        else math.nan,
        rho_star=float(eigenvalues(f, centers).abs().max()) if found else math.nan,
        test_mse=mse,
    )


def sweep(
    runs: Iterable[tuple[int, float, object]],
    x_probe: dict[int, Tensor],
    x_test: Tensor,
    *,
    epochs: Sequence[int],
    **kwargs,
) -> pd.DataFrame:
    """:func:`checkpoint_measures` at every saved epoch of every run.

    Parameters
    ----------
    runs
        ``(seed, weight_decay, trained)`` per run, ``trained`` a
        :class:`lvf.train.TrainedModel` whose ``load_epoch`` holds ``epochs``.
    x_probe
        The probe images of each seed, ``{seed: (N, C, H, W)}`` (its own training images).
    x_test
        ``(M, C, H, W)`` test images, shared by the runs.
    epochs
        The checkpoints to measure.
    kwargs
        Passed to :func:`checkpoint_measures`.

    Returns
    -------
    DataFrame
        One row per (seed, weight decay, epoch): columns ``seed``, ``weight_decay``,
        ``epoch``, those of :func:`checkpoint_measures`, and ``loose_by`` (``bound /
        jac_max``: by how much the bound exceeds the largest measured Jacobian norm; ``inf``
        for a Jacobian that vanishes).
    """
    rows = []
    for seed, wd, run in runs:
        for epoch in epochs:
            measured = checkpoint_measures(run.load_epoch(epoch), x_probe[seed], x_test, **kwargs)
            rows.append(dict(seed=seed, weight_decay=wd, epoch=epoch) | measured)
    table = pd.DataFrame(rows)
    table["loose_by"] = table.bound / table.jac_max
    return table


def bound_holds(table: pd.DataFrame, *, rtol: float = 1e-4) -> pd.Series:
    """Per seed, the share of checkpoints at which the bound holds:
    ``bound ≥ (1 − rtol) · jac_max`` (``rtol`` absorbs the float32 rounding of the
    Jacobian). The inequality is a theorem, so every share should be 1.

    Returns
    -------
    Series
        Indexed by seed.
    """
    ok = table.bound >= table.jac_max * (1 - rtol)
    return ok.groupby(table.seed).mean().rename("bound_holds")


def useful_contraction(
    table: pd.DataFrame, mean_image_mse: float, *, useful: float = 0.9
) -> pd.Series:
    """Per seed, whether weight decay made a *useful* contraction: 1.0 when at the last epoch
    some model has ``Π ‖W_ℓ‖₂ < 1`` (a contraction by App. C's bound) and reconstructs test
    images better than the mean training image, ``test_mse < useful · mean_image_mse``;
    0.0 otherwise.

    Returns
    -------
    Series
        Indexed by seed, values 0.0 or 1.0.
    """
    last = table[table.epoch == table.epoch.max()]
    ok = (last.prod_W < 1) & (last.test_mse < useful * mean_image_mse)
    return ok.groupby(last.seed).any().astype(float).rename("useful_contraction")
