"""How much a network contracts: output/input spread on random inputs, and Lipschitz bounds.

Two measurements of contraction, used for the paper's Fig. 6 (App. B.1) and App. C:

* :func:`gain` — the ratio ``σ_out / σ_in`` of the spread of a network's outputs to the spread
  of its inputs, for inputs drawn from ``N(0, I)`` (so ``σ_in ≈ 1``). A ratio below one means
  the network shrinks random perturbations on average. :func:`lvf.protocols.backbones.
  backbone_gains` runs it on randomly initialised torchvision classifiers (Fig. 6).
* :func:`lipschitz_bound` — the product of the operator (spectral) norms of the affine layers
  of a sequential network times the Lipschitz constants of its activations. It bounds the
  spectral norm of the Jacobian everywhere, ``‖J(x)‖₂ ≤ Π_ℓ ‖W_ℓ‖₂ · Π_a Lip(a)``, which is
  the weight-decay argument of App. C: when the product is below one the map is a contraction
  (Banach: a unique fixed point, reached from everywhere).

The spread ``σ`` of a batch ``Y`` of shape ``(N, *S)`` is, by default, the *centred* one: the
root mean square over the ``D = prod(S)`` coordinates of each coordinate's standard deviation
across the ``N`` samples, ``σ(Y) = sqrt(mean_j Var_i Y_ij)``. It is zero for a constant map,
whatever the constant. The *pooled* spread ``Y.std()`` over all ``N · D`` numbers also counts
input-independent offsets between coordinates (a constant map with distinct entries has a
pooled spread above zero); both are returned where it matters.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.func import functional_call, vjp

__all__ = [
    "LipschitzBound",
    "SpreadAccumulator",
    "activation_lipschitz",
    "gain",
    "lipschitz_bound",
    "operator_norm",
    "spread",
]

# --------------------------------------------------------------------------------------------
# spread of outputs over inputs
# --------------------------------------------------------------------------------------------


class SpreadAccumulator:
    """Streaming centred and pooled spread of batches ``(B, *S)`` that arrive one at a time.

    Sums are kept in float64 per coordinate, so the result does not depend on how the ``N``
    samples are split into batches.
    """

    def __init__(self) -> None:
        self.n = 0
        self._s1: Tensor | None = None
        self._s2: Tensor | None = None

    def add(self, y: Tensor) -> None:
        """Add a batch ``(B, *S)``; every batch must have the same ``S``."""
        y = y.detach().reshape(y.shape[0], -1).to(torch.float64)
        if self._s1 is None:
            self._s1 = torch.zeros(y.shape[1], dtype=torch.float64, device=y.device)
            self._s2 = torch.zeros_like(self._s1)
        elif y.shape[1] != self._s1.numel():
            raise ValueError(f"batch has {y.shape[1]} coordinates, earlier ones {self._s1.numel()}")
        self.n += y.shape[0]
        self._s1 += y.sum(0)
        self._s2 += (y * y).sum(0)

    def centred(self) -> float:
        """``sqrt(mean_j Var_i y_ij)`` with the unbiased (N − 1) variance."""
        self._check()
        var = (self._s2 - self._s1**2 / self.n) / (self.n - 1)
        return float(var.clamp_min(0).mean().sqrt())

    def pooled(self) -> float:
        """Standard deviation of all ``N · D`` numbers together (unbiased)."""
        self._check()
        m = self.n * self._s1.numel()
        total, total_sq = float(self._s1.sum()), float(self._s2.sum())
        return math.sqrt(max(total_sq - total**2 / m, 0.0) / (m - 1))

    def _check(self) -> None:
        if self._s1 is None or self.n < 2:
            raise ValueError("need at least two samples to measure a spread")


def spread(y: Tensor, *, pooled: bool = False) -> float:
    """Spread ``σ`` of a batch ``y`` of shape ``(N, *S)``, ``N ≥ 2`` (see the module docstring).

    ``pooled=False``: ``sqrt(mean_j Var_i y_ij)``; ``pooled=True``: ``y.std()``.
    """
    acc = SpreadAccumulator()
    acc.add(y)
    return acc.pooled() if pooled else acc.centred()


def gain(
    fn: Callable[[Tensor], Tensor],
    x: Tensor,
    *,
    pooled: bool = False,
    batch_size: int | None = None,
) -> float:
    """``σ_out / σ_in``: the spread of ``fn(x)`` over the spread of ``x``.

    Parameters
    ----------
    fn
        Map ``(B, *S_in) -> (B, *S_out)`` acting on each row independently (e.g. a model in
        eval mode, or an :class:`lvf.LatentMap`). Called under ``torch.no_grad``.
    x
        ``(N, *S_in)`` inputs, ``N ≥ 2``; for the paper's protocol, ``torch.randn``.
    pooled
        Use the pooled spread (``std`` of all numbers) instead of the centred one.
    batch_size
        Rows per call of ``fn``; ``None`` for all at once.

    Returns
    -------
    float
        The ratio; ``0.0`` for a constant map (centred spread).
    """
    out = SpreadAccumulator()
    inp = SpreadAccumulator()
    step = batch_size or x.shape[0]
    with torch.no_grad():
        for chunk in x.split(step):
            out.add(fn(chunk))
            inp.add(chunk)
    if pooled:
        return out.pooled() / inp.pooled()
    return out.centred() / inp.centred()


# --------------------------------------------------------------------------------------------
# randomly initialised torchvision classifiers (Fig. 6)
# --------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------
# layer-wise Lipschitz bounds (App. C)
# --------------------------------------------------------------------------------------------

_AFFINE = (
    nn.Linear,
    nn.Conv1d,
    nn.Conv2d,
    nn.Conv3d,
    nn.ConvTranspose1d,
    nn.ConvTranspose2d,
    nn.ConvTranspose3d,
)
_SHAPE_ONLY = (nn.Flatten, nn.Unflatten, nn.Identity, nn.Dropout)


def activation_lipschitz(module: nn.Module) -> float:
    """Lipschitz constant ``sup |a'(x)|`` of an elementwise activation module.

    ReLU, Tanh, Hardtanh, ReLU6: 1; Sigmoid: 1/4; LeakyReLU: ``max(1, |slope|)``; ELU:
    ``max(1, α)``; SiLU: 1.0998; GELU: 1.1289 (their derivatives overshoot 1); shape-only
    modules (Flatten, Unflatten, Identity, Dropout in eval mode): 1.

    Raises
    ------
    TypeError
        For any other module.
    """
    if isinstance(module, (nn.ReLU, nn.ReLU6, nn.Tanh, nn.Hardtanh, *_SHAPE_ONLY)):
        return 1.0
    if isinstance(module, nn.Sigmoid):
        return 0.25
    if isinstance(module, nn.LeakyReLU):
        return max(1.0, abs(module.negative_slope))
    if isinstance(module, nn.ELU):
        return max(1.0, float(module.alpha))
    if isinstance(module, nn.SiLU):
        return 1.0998393  # max of σ(x)(1 + x(1 − σ(x))), at x ≈ 2.3994
    if isinstance(module, nn.GELU):
        return 1.1289041  # max of Φ(x) + x φ(x), at x = √2
    raise TypeError(
        f"no known Lipschitz constant for {type(module).__name__}; lipschitz_bound handles "
        "Linear/Conv/ConvTranspose layers and ReLU, LeakyReLU, ELU, Sigmoid, Tanh, SiLU, GELU, "
        "Flatten, Unflatten, Identity, Dropout"
    )


def operator_norm(
    layer: nn.Module,
    in_shape: Sequence[int],
    *,
    tol: float = 1e-10,
    dense_max: int = 256,
    seed: int = 0,
) -> float:
    """Spectral norm of the linear part of an affine layer acting on inputs of ``in_shape``.

    For ``nn.Linear`` this is ``torch.linalg.matrix_norm(W, ord=2)``. For convolutions and
    transposed convolutions the operator depends on the input size, padding and stride. Let
    ``A`` be the layer with its bias set to zero, as a matrix acting on flattened inputs of
    ``in_shape``. When the input has at most ``dense_max`` entries, ``A`` is formed column by
    column and its largest singular value computed directly; otherwise the largest eigenvalue
    of ``AᵀA`` is found by the Lanczos method (``scipy.sparse.linalg.eigsh``, ARPACK), with
    ``A`` applied by the layer and ``Aᵀ`` by its exact adjoint (``torch.func.vjp``). Both are
    exact up to floating point (``tol`` is ARPACK's relative tolerance on the eigenvalue). The
    weight is first divided by its largest entry and the norm scaled back (exact, since the
    norm is homogeneous; it keeps ARPACK accurate on weights shrunk to ~1e-31 by weight
    decay), and when Lanczos does not converge the matrix is formed instead if it has at most
    2²⁵ entries. The computation runs in float64, on the layer's device.

    Parameters
    ----------
    layer
        ``nn.Linear``, ``nn.Conv{1,2,3}d`` or ``nn.ConvTranspose{1,2,3}d`` (any ``groups``,
        ``stride``, ``padding``, ``dilation``).
    in_shape
        Shape of one input without the batch dimension, e.g. ``(C, H, W)``.
    seed
        Seed of the Lanczos start vector.

    Returns
    -------
    float
        ``‖A‖₂``.
    """
    import numpy as np
    from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigsh

    if not isinstance(layer, _AFFINE):
        raise TypeError(f"operator_norm needs a Linear or (transposed) convolution, got {layer}")
    weight = layer.weight.detach().to(torch.float64)
    if isinstance(layer, nn.Linear):
        return float(torch.linalg.matrix_norm(weight, ord=2))
    params = {"weight": weight}
    if layer.bias is not None:
        params["bias"] = torch.zeros_like(layer.bias, dtype=torch.float64)
    in_shape = tuple(int(s) for s in in_shape)
    n = math.prod(in_shape)

    def dense(params: dict) -> float:  # ‖A‖₂ from the matrix, built column by column
        eye = torch.eye(n, dtype=torch.float64, device=weight.device).reshape(n, *in_shape)
        with torch.no_grad():
            cols = functional_call(layer, params, (eye,)).reshape(n, -1)  # row i = A e_i: Aᵀ
        return float(torch.linalg.matrix_norm(cols, ord=2))

    if n <= dense_max:
        return dense(params)

    def largest(params: dict) -> float:  # ‖A‖₂ by Lanczos on AᵀA
        def apply(x: Tensor) -> Tensor:
            return functional_call(layer, params, (x,))

        zero = torch.zeros(1, *in_shape, dtype=torch.float64, device=weight.device)
        with torch.enable_grad():
            _, pullback = vjp(apply, zero)  # linear: one pullback gives Aᵀ for every cotangent

        def normal(v: np.ndarray) -> np.ndarray:  # AᵀA v
            x = torch.as_tensor(np.ascontiguousarray(v).reshape(1, *in_shape), device=weight.device)
            with torch.no_grad():
                (w,) = pullback(apply(x))
            return w.reshape(-1).cpu().numpy()

        op = LinearOperator((n, n), matvec=normal, dtype=np.float64)
        v0 = np.random.default_rng(seed).standard_normal(n)
        (lam,) = eigsh(op, k=1, which="LA", tol=tol, v0=v0, return_eigenvectors=False)
        return math.sqrt(max(float(lam), 0.0))

    # The norm is homogeneous, ‖A(cW)‖ = c ‖A(W)‖: solve for W / max|W| and scale back. A
    # strong weight decay shrinks weights to ~1e-31, which puts the eigenvalues of AᵀA near
    # 1e-62, where ARPACK's convergence test fails or stops early (a 1e-4 relative error).
    scale = float(weight.abs().max())
    if scale == 0.0:
        return 0.0
    unit = params | {"weight": weight / scale}
    try:
        return scale * largest(unit)
    except ArpackNoConvergence as err:
        # Top eigenvalues too close to separate to ``tol`` (seen on a one-channel convolution
        # after a strong weight decay): fall back to the matrix when it fits in ~256 MiB.
        with torch.no_grad():
            zero = torch.zeros(1, *in_shape, dtype=torch.float64, device=weight.device)
            out = functional_call(layer, unit, (zero,))
        if n * out.numel() > 2**25:
            raise RuntimeError(
                f"operator_norm: Lanczos did not converge to tol={tol:g} on {layer} with inputs "
                f"{in_shape}, and its matrix is too large to form; pass a larger tol."
            ) from err
        return scale * dense(unit)


def _flatten(layers: Iterable[nn.Module]) -> list[nn.Module]:
    flat: list[nn.Module] = []
    for m in layers:
        if isinstance(m, nn.Sequential):
            flat.extend(_flatten(m))
        else:
            flat.append(m)
    return flat


@dataclass
class LipschitzBound:
    """Layer-wise bound on the Jacobian of a sequential network.

    Attributes
    ----------
    names
        ``(L,)`` description of each affine layer, e.g. ``"Conv2d(1→32) on (1, 32, 32)"``.
    norms
        ``(L,)`` float64 tensor: spectral norm ``‖W_ℓ‖₂`` of each affine layer (its linear
        part on the actual input shape).
    frobenius
        ``(L,)`` float64 tensor: Frobenius norm of each weight tensor, what weight decay
        penalises (squared).
    activation_factor
        Product of the activations' Lipschitz constants (e.g. 1/4 for one Sigmoid).
    """

    names: list[str]
    norms: Tensor
    frobenius: Tensor
    activation_factor: float

    @property
    def product(self) -> float:
        """``Π_ℓ ‖W_ℓ‖₂``, the paper's bound (App. C) for 1-Lipschitz activations."""
        return float(self.norms.prod())

    @property
    def bound(self) -> float:
        """``Π_ℓ ‖W_ℓ‖₂ · Π_a Lip(a)``: an upper bound on ``‖J(x)‖₂`` at every ``x``."""
        return self.product * self.activation_factor

    def __repr__(self) -> str:
        return (
            f"LipschitzBound(L={len(self.names)}, product={self.product:.4g}, "
            f"bound={self.bound:.4g})"
        )


def lipschitz_bound(layers: Iterable[nn.Module], example: Tensor, **norm_kw) -> LipschitzBound:
    """Bound ``sup_x ‖J(x)‖₂`` for the composition of ``layers`` applied in order.

    ``‖J(x)‖₂ ≤ Π_ℓ ‖W_ℓ‖₂ · Π_a Lip(a)`` holds for any composition of affine layers and
    elementwise activations (chain rule and submultiplicativity). Nested ``nn.Sequential``
    are flattened. For an autoencoder's latent map ``f = E ∘ D`` pass
    ``[*model.decoder, *model.encoder]``.

    Parameters
    ----------
    layers
        Modules applied one after the other: affine layers (see :func:`operator_norm`),
        elementwise activations and shape-only modules (see :func:`activation_lipschitz`).
        Anything else (normalisation, attention, residual blocks) raises ``TypeError``.
    example
        ``(B, *S)`` an input, only used to find each layer's input shape.
    **norm_kw
        Passed to :func:`operator_norm` (``tol``, ``dense_max``, ``seed``).

    Returns
    -------
    LipschitzBound
    """
    mods = _flatten(layers)
    names, norms, frob = [], [], []
    factor = 1.0
    x = example[:1]
    with torch.no_grad():
        for m in mods:
            if isinstance(m, _AFFINE):
                shape = tuple(x.shape[1:])
                norms.append(operator_norm(m, shape, **norm_kw))
                frob.append(float(m.weight.detach().double().norm()))
                if isinstance(m, nn.Linear):
                    io = f"{m.in_features}→{m.out_features}"
                else:
                    io = f"{m.in_channels}→{m.out_channels}"
                names.append(f"{type(m).__name__}({io}) on {shape}")
            else:
                factor *= activation_lipschitz(m)
            x = m(x)
    return LipschitzBound(
        names=names,
        norms=torch.tensor(norms, dtype=torch.float64),
        frobenius=torch.tensor(frob, dtype=torch.float64),
        activation_factor=factor,
    )
