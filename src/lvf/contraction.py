"""How much a network contracts: output/input spread on random inputs, and Lipschitz bounds.

Two measurements of contraction, used for the paper's Fig. 6 (App. B.1) and App. C:

* :func:`gain` — the ratio ``σ_out / σ_in`` of the spread of a network's outputs to the spread
  of its inputs, for inputs drawn from ``N(0, I)`` (so ``σ_in ≈ 1``). A ratio below one means
  the network shrinks random perturbations on average. :func:`backbone_gains` runs it on
  randomly initialised torchvision classifiers.
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

import hashlib
import json
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.func import functional_call, vjp

from lvf.paths import atomic_write, cache_dir

__all__ = [
    "BACKBONES",
    "LipschitzBound",
    "SpreadAccumulator",
    "activation_lipschitz",
    "backbone_gains",
    "gain",
    "lipschitz_bound",
    "operator_norm",
    "spread",
]

BACKBONES: tuple[str, ...] = (
    "alexnet",
    "vgg11",
    "resnet18",
    "resnet50",
    "densenet121",
    "mobilenet_v2",
    "mobilenet_v3_small",
    "efficientnet_b0",
    "regnet_y_400mf",
    "convnext_tiny",
    "vit_b_16",
    "swin_t",
)
"""The twelve torchvision classifiers used for Fig. 6 (the spec's default #21; the paper does
not name its backbones), roughly in order of publication."""


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


def _classifier_head(model: nn.Module) -> nn.Linear:
    """The last ``nn.Linear`` registered in ``model`` (the classification head)."""
    heads = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not heads:
        raise ValueError(f"{type(model).__name__} has no nn.Linear head")
    return heads[-1]


_BACKBONE_CACHE_VERSION = 2


def _measure(model: nn.Module, head: nn.Module, inputs, batch_norms: list[nn.Module]) -> dict:
    """Centred and pooled spread ratios of ``model`` on ``inputs()``, in eval mode except for
    ``batch_norms``, which use batch statistics; buffers are restored afterwards."""
    buffers = {k: v.clone() for k, v in model.named_buffers()}
    model.eval()
    for m in batch_norms:
        m.train()
    acc_in, acc_out, acc_feat = (SpreadAccumulator() for _ in range(3))
    hook = head.register_forward_hook(lambda m, i, o: acc_feat.add(i[0]))
    start = time.perf_counter()
    try:
        with torch.no_grad():
            for x in inputs():
                acc_out.add(model(x))
                acc_in.add(x)
    finally:
        hook.remove()
        model.eval()
        model.load_state_dict(buffers, strict=False)
    return dict(
        ratio=acc_out.centred() / acc_in.centred(),
        ratio_pooled=acc_out.pooled() / acc_in.pooled(),
        ratio_features=acc_feat.centred() / acc_in.centred(),
        seconds=time.perf_counter() - start,
    )


def _backbone_row_path(settings: dict) -> Path:
    import torchvision

    text = json.dumps(
        {
            "version": _BACKBONE_CACHE_VERSION,
            "torch": torch.__version__,
            "torchvision": torchvision.__version__,
            **settings,
        },
        sort_keys=True,
    )
    key = hashlib.sha256(text.encode()).hexdigest()[:16]
    return cache_dir() / "contraction" / f"{settings['architecture']}-{key}.json"


def backbone_gains(
    names: Iterable[str] = BACKBONES,
    *,
    seeds: Iterable[int] = range(10),
    n_inputs: int = 1000,
    modes: Sequence[str] = ("eval",),
    image_size: int = 224,
    batch_size: int = 16,
    input_seed: int = 0,
    device: str | torch.device | None = None,
    cache: bool = False,
    progress: Callable[[str], None] | None = None,
) -> list[dict]:
    """``σ_out/σ_in`` of randomly initialised torchvision classifiers on ``N(0, I)`` images.

    Each network is built with ``torchvision.models.get_model(name, weights=None)`` under
    ``torch.manual_seed(seed)`` (the caller's random state is left untouched) and fed the same
    ``n_inputs`` images of shape ``(3, image_size, image_size)`` with i.i.d. ``N(0, 1)`` pixels,
    in batches of ``batch_size``. Image ``i`` depends only on ``(input_seed, i)``.

    Parameters
    ----------
    names
        torchvision model names, default :data:`BACKBONES`.
    seeds
        Initialisation seeds; one network per (name, seed).
    n_inputs
        Number of random input images (paper: 1,000).
    modes
        ``"eval"``: ``model.eval()``; batch normalisation uses its running statistics (at
        initialisation mean 0 and variance 1, so a fresh batch-norm layer is the identity).
        ``"batch"``: as ``"eval"`` except that batch normalisation uses the statistics of each
        batch of ``batch_size`` inputs, as in training. Dropout and stochastic depth are off in
        both modes (their noise would count as output spread), so the network is a
        deterministic function of the batch. For a network without batch normalisation both
        modes are the same function; the ``"batch"`` row then repeats the ``"eval"`` result
        (``same_as_eval=True``). The running statistics are restored after a ``"batch"`` pass.
    image_size
        Side of the square input images (224 for ImageNet models; ``vit_b_16`` needs 224).
    batch_size
        Inputs per forward pass (also the batch of batch-norm statistics in ``"batch"`` mode).
    input_seed
        Seed of the inputs; the same inputs are used for every network.
    device
        Default ``"cuda"`` if available, else ``"cpu"``.
    cache
        Keep each row as a small JSON file in ``cache_dir()/contraction`` keyed by all the
        settings of that row, the device type and the torch and torchvision versions (random
        initialisation depends on them), and reuse it when asked again. Cached rows report
        their original ``seconds`` and ``cached=True``.
    progress
        Called with a short message after each row, e.g. ``print``.

    Returns
    -------
    list of dict
        One row per (name, seed, mode) with keys ``architecture``, ``seed``, ``mode``,
        ``n_inputs``, ``image_size``, ``batch_size``, ``ratio`` (centred ``σ_out/σ_in`` of
        the logits), ``ratio_pooled`` (pooled spreads), ``ratio_features`` (centred, for the
        features entering the classification head: the input of the last ``nn.Linear``),
        ``head_zero`` (the head's weights are all zero, as torchvision initialises
        ``vit_b_16``: the logits are then constant), ``params``, ``seconds`` (wall-clock time
        of the forward passes), ``same_as_eval`` and ``cached``.
    """
    import torchvision.models as tvm

    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    for mode in modes:
        if mode not in ("eval", "batch"):
            raise ValueError(f"mode must be 'eval' or 'batch', got {mode!r}")
    if n_inputs < 2:
        raise ValueError(f"n_inputs must be at least 2, got {n_inputs}")
    shape = (3, image_size, image_size)
    starts = list(range(0, n_inputs, batch_size))
    sizes = [min(batch_size, n_inputs - s) for s in starts]

    def inputs():  # image i depends only on (input_seed, i), not on the batching
        gen = torch.Generator()
        for start, size in zip(starts, sizes, strict=True):
            batch = torch.empty(size, *shape)
            for j in range(size):
                gen.manual_seed(1_000_003 * input_seed + start + j)
                batch[j] = torch.randn(shape, generator=gen)
            yield batch.to(device)

    def settings(name: str, seed: int, mode: str) -> dict:
        return dict(
            architecture=name,
            seed=int(seed),
            mode=mode,
            n_inputs=n_inputs,
            image_size=image_size,
            batch_size=batch_size,
            input_seed=input_seed,
            device=device.type,
        )

    rows = []
    for name in names:
        for seed in seeds:
            todo = []
            for mode in modes:
                path = _backbone_row_path(settings(name, seed, mode))
                row = None
                if cache and path.is_file():
                    try:
                        row = json.loads(path.read_text(encoding="utf-8"))
                        row["cached"] = True
                    except (OSError, ValueError):
                        row = None
                rows.append(row)
                if row is None:
                    todo.append((len(rows) - 1, mode, path))
                elif progress is not None:
                    progress(f"{name} seed {seed} {mode}: {row['ratio']:.3g} (cached)")
            if not todo:
                continue
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                model = tvm.get_model(name, weights=None).to(device)
            head = _classifier_head(model)
            head_zero = bool((head.weight == 0).all())
            params = sum(p.numel() for p in model.parameters())
            norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
            measured: dict[str, dict] = {}
            for index, mode, path in todo:
                same = mode == "batch" and not norms
                if same and "eval" not in measured:
                    measured["eval"] = _measure(model, head, inputs, [])
                if not same:
                    measured[mode] = _measure(model, head, inputs, norms if mode == "batch" else [])
                row = dict(
                    settings(name, seed, mode),
                    **measured["eval" if same else mode],
                    head_zero=head_zero,
                    params=params,
                    same_as_eval=same,
                )
                if same:
                    row["seconds"] = 0.0
                if cache:
                    text = json.dumps(row, indent=1)
                    atomic_write(path, lambda f, text=text: f.write(text.encode("utf-8")))
                rows[index] = dict(row, cached=False)
                if progress is not None:
                    progress(
                        f"{name} seed {seed} {mode}: {row['ratio']:.3g} ({row['seconds']:.1f} s)"
                    )
            del model
    return rows


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
    computation runs in float64, on the layer's device.

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
    from scipy.sparse.linalg import LinearOperator, eigsh

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

    def A(x: Tensor) -> Tensor:
        return functional_call(layer, params, (x,))

    if n <= dense_max:
        eye = torch.eye(n, dtype=torch.float64, device=weight.device).reshape(n, *in_shape)
        with torch.no_grad():
            cols = A(eye).reshape(n, -1)  # row i = A e_i, so this is Aᵀ
        return float(torch.linalg.matrix_norm(cols, ord=2))

    zero = torch.zeros(1, *in_shape, dtype=torch.float64, device=weight.device)
    with torch.enable_grad():
        _, pullback = vjp(A, zero)  # A is linear: one pullback gives Aᵀ for every cotangent

    def normal(v: np.ndarray) -> np.ndarray:  # AᵀA v
        x = torch.as_tensor(np.ascontiguousarray(v).reshape(1, *in_shape), device=weight.device)
        with torch.no_grad():
            (w,) = pullback(A(x))
        return w.reshape(-1).cpu().numpy()

    op = LinearOperator((n, n), matvec=normal, dtype=np.float64)
    v0 = np.random.default_rng(seed).standard_normal(n)
    (lam,) = eigsh(op, k=1, which="LA", tol=tol, v0=v0, return_eigenvectors=False)
    return math.sqrt(max(float(lam), 0.0))


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
