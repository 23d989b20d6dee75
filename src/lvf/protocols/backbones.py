"""Contraction at initialisation (App. B.1, Fig. 6; Fig. 3a/3c at epoch 0): chapter 3.

The paper pushes ``N(0, I)`` images through randomly initialised classifiers and reports the
ratio ``σ_out / σ_in`` of output to input spread: below one for every architecture, which it
reads as contraction being present before any training, and the reason why the latent field
of an untrained autoencoder has a single attractor (Fig. 3a, 3c at epoch 0).

* :func:`backbone_gains` measures the ratio for the twelve torchvision classifiers of
  :data:`BACKBONES` with :func:`lvf.measures.contraction.gain`'s spread, each row cached in
  the one cache (:class:`lvf.cache.Entry`); :func:`backbone_effects` reduces the rows to one
  number per initialisation seed, the margin :func:`contraction_margin` of the least
  contractive network.
* :func:`untrained_conv_ae`, :func:`conv_ae_gains` and :func:`attractors_at_init` make the
  same measurements on the paper's own autoencoder (Table 4) before training, and count the
  attractors of its latent map under the paper's rule (converged end points only);
  :func:`init_effects` reduces them to one number per seed and claim.

The effects are the inputs of :func:`lvf.book.verdicts.judge`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence

import torch
from torch import nn

from lvf.cache import Entry
from lvf.iterate import iterate
from lvf.jacobian import spectral_norm
from lvf.measures.contraction import SpreadAccumulator, gain

__all__ = [
    "BACKBONES",
    "GAIN_QUANTITIES",
    "attractors_at_init",
    "backbone_effects",
    "backbone_gains",
    "contraction_margin",
    "conv_ae_gains",
    "init_effects",
    "untrained_conv_ae",
]

_CACHE_VERSION = 2

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
"""The twelve torchvision classifiers used for Fig. 6 (the paper does not name its backbones:
see the book's page "Where the paper is silent", ``choice-fig6-backbones``), roughly in order of
publication."""


def _classifier_head(model: nn.Module) -> nn.Linear:
    """The last ``nn.Linear`` registered in ``model`` (the classification head)."""
    heads = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not heads:
        raise ValueError(f"{type(model).__name__} has no nn.Linear head")
    return heads[-1]


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


def _row_entry(settings: dict) -> Entry:
    import torchvision

    config = {"torch": torch.__version__, "torchvision": torchvision.__version__, **settings}
    return Entry("contraction", settings["architecture"], config, version=_CACHE_VERSION)


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
        Keep each row in the one cache (:class:`lvf.cache.Entry`, ``cache_dir()/contraction``)
        keyed by all the settings of that row, the device type and the torch and torchvision
        versions (random initialisation depends on them), and reuse it when asked again. Cached
        rows report
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
                entry = _row_entry(settings(name, seed, mode))
                row = entry.load() if cache else None
                if row is not None:
                    row["cached"] = True
                rows.append(row)
                if row is None:
                    todo.append((len(rows) - 1, mode, entry))
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
            for index, mode, entry in todo:
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
                    entry.store(row)
                rows[index] = dict(row, cached=False)
                if progress is not None:
                    progress(
                        f"{name} seed {seed} {mode}: {row['ratio']:.3g} ({row['seconds']:.1f} s)"
                    )
            del model
    return rows


# --------------------------------------------------------------------------------------------
# effects for the verdicts
# --------------------------------------------------------------------------------------------


def contraction_margin(ratios: Iterable[float]) -> float:
    """How many decades the *least* contractive of ``ratios`` lies below one:
    ``-log10(max(ratios))``; positive when every ratio is below one, ``inf`` when all are 0.

    >>> contraction_margin([0.01, 0.1])
    1.0
    >>> contraction_margin([0.5, 2.0]) < 0
    True
    """
    worst = max(float(r) for r in ratios)
    return math.inf if worst <= 0 else -math.log10(worst)


def backbone_effects(rows: Iterable[Mapping], *, mode: str) -> dict[int, float]:
    """One effect per initialisation seed for Fig. 6: the :func:`contraction_margin` of the
    centred logit ratios of all architectures of that seed in batch-norm ``mode``.

    Parameters
    ----------
    rows
        Rows of :func:`backbone_gains` (keys ``seed``, ``mode``, ``ratio``).
    mode
        ``"eval"`` or ``"batch"``.

    Returns
    -------
    dict
        ``{seed: -log10(max_architecture ratio)}``, seeds in increasing order.
    """
    by_seed: dict[int, list[float]] = {}
    for r in rows:
        if r["mode"] == mode:
            by_seed.setdefault(int(r["seed"]), []).append(float(r["ratio"]))
    if not by_seed:
        raise ValueError(f"no rows in mode {mode!r}")
    return {s: contraction_margin(v) for s, v in sorted(by_seed.items())}


# --------------------------------------------------------------------------------------------
# the paper's autoencoder (Table 4) at initialisation
# --------------------------------------------------------------------------------------------


def untrained_conv_ae(
    k: int, seed: int, *, in_channels: int = 1, width: int = 32, device=None
) -> nn.Module:
    """The Table-4 conv autoencoder (:class:`lvf.models.ConvAE`) for ``in_channels x 32 x 32``
    images, freshly initialised under ``torch.manual_seed(seed)`` (the caller's random state
    is left untouched), in eval mode on ``device`` (default CPU)."""
    from lvf.models import ConvAE

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = ConvAE(in_channels=in_channels, k=k, width=width)
    return model.to(device or "cpu").eval()


GAIN_QUANTITIES: tuple[str, ...] = (
    "F on N(0, I) images",
    "F on MNIST digits",
    "f on N(0, I) latents",
    "max ‖J_f(z)‖σ",
)
"""The four measurements of :func:`conv_ae_gains`, in order."""


def conv_ae_gains(
    ks: Sequence[int],
    seeds: Sequence[int],
    images,
    *,
    n: int = 256,
    n_jacobian: int = 16,
    device=None,
) -> list[dict]:
    """Spread ratios and Jacobian norms of untrained Table-4 autoencoders (Fig. 6 protocol).

    For every bottleneck ``k`` and seed ``s``: the model :func:`untrained_conv_ae` ``(k, s)``;
    ``n`` images ``(n, 1, 32, 32)`` and ``n`` latents ``(n, k)`` with i.i.d. ``N(0, 1)``
    entries drawn from a generator seeded with ``1000 + s``; and four measurements
    (:data:`GAIN_QUANTITIES`): :func:`~lvf.measures.contraction.gain` of ``F = D ∘ E`` on the
    noise images and on ``images``, of ``f = E ∘ D`` on the latents, and the largest spectral
    norm of ``J_f`` at the first ``n_jacobian`` latents (:func:`lvf.jacobian.spectral_norm`).

    Parameters
    ----------
    images
        ``(N, 1, 32, 32)`` real images (e.g. MNIST test digits).

    Returns
    -------
    list of dict
        One row per (k, seed, quantity): keys ``k``, ``seed``, ``quantity``, ``value``.
    """
    rows = []
    for k in ks:
        for seed in seeds:
            ae = untrained_conv_ae(k, seed, device=device)
            dev = next(ae.parameters()).device
            g = torch.Generator().manual_seed(1000 + seed)
            f = ae.latent_map()
            noise = torch.randn(n, 1, 32, 32, generator=g).to(dev)
            z = torch.randn(n, k, generator=g).to(dev)
            values = (
                gain(ae, noise),
                gain(ae, images.to(dev)),
                gain(f, z),
                float(spectral_norm(f, z[:n_jacobian], n_iter=20).max()),
            )
            for name, value in zip(GAIN_QUANTITIES, values, strict=True):
                rows.append(dict(k=k, seed=seed, quantity=name, value=value))
    return rows


@torch.no_grad()
def attractors_at_init(
    ks: Sequence[int],
    seeds: Sequence[int],
    *,
    starts: int,
    tol: float = 1e-6,
    max_steps: int = 3000,
    device=None,
) -> list[dict]:
    """The attractors of untrained Table-4 autoencoders from ``N(0, I_k)`` starts.

    For every ``k`` and seed ``s``, ``starts`` latents ``(starts, k)`` drawn with a generator
    seeded with ``s`` are iterated under ``f = E ∘ D`` of :func:`untrained_conv_ae` ``(k, s)``
    until the squared step is below ``tol`` (the paper's rule: ``1e-6`` within 3,000 steps).
    Only converged end points are attractors; they are grouped by the paper's cosine rule
    (:func:`lvf.protocols.memorization.converged_attractors`).

    Returns
    -------
    list of dict
        One row per (k, seed): ``attractors`` (distinct converged attractors), ``converged``
        (share of starts that converged), ``largest`` (share of *all* starts in the largest
        basin: 1 for a single attractor that every start reaches), ``max_steps`` (most steps
        a start took), ``norm`` (``‖z*‖`` of the largest basin's attractor, ``nan`` without
        one), ``rel_norm`` (``‖z*‖ / √k``, the norm of a typical start being ``√k``) and
        ``end_spread`` (largest distance of a converged end point from their mean).
    """
    from lvf.protocols.memorization import converged_attractors

    rows = []
    for k in ks:
        for seed in seeds:
            ae = untrained_conv_ae(k, seed, device=device)
            dev = next(ae.parameters()).device
            z0 = torch.randn(starts, k, generator=torch.Generator().manual_seed(seed)).to(dev)
            res = iterate(ae.latent_map(), z0, tol=tol, max_steps=max_steps)
            att = converged_attractors(res.final, res.converged)
            ends = res.final[res.converged]
            norm = float(att.centers[0].norm()) if len(att) else math.nan
            rows.append(
                dict(
                    k=k,
                    seed=seed,
                    attractors=len(att),
                    converged=float(res.converged.float().mean()),
                    largest=float(att.counts.max()) / starts if len(att) else 0.0,
                    max_steps=int(res.steps.max()),
                    norm=norm,
                    rel_norm=norm / math.sqrt(k),
                    end_spread=float((ends - ends.mean(0)).norm(dim=1).max())
                    if len(ends)
                    else math.nan,
                )
            )
    return rows


def _decades_below(rel_norms) -> float:
    worst = float(max(rel_norms, key=lambda r: math.inf if math.isnan(r) else r))
    if math.isnan(worst):  # a model without a converged attractor
        return -math.inf
    return math.inf if worst == 0 else -math.log10(worst)


def init_effects(gains, attractors):
    """One number per seed for each claim about the untrained autoencoder.

    Parameters
    ----------
    gains
        Rows of :func:`conv_ae_gains` (a list of dicts or a DataFrame).
    attractors
        Rows of :func:`attractors_at_init`.

    Returns
    -------
    DataFrame
        Indexed by seed, over all bottlenecks ``k`` of that seed: ``contraction``, the
        :func:`contraction_margin` of every ratio and Jacobian norm (decades below one);
        ``largest``, the smallest share of starts in the largest basin (1: every start of
        every ``k`` reaches one attractor); ``near_origin``, ``-log10`` of the largest
        ``‖z*‖ / √k`` (decades by which the attractor is closer to the origin than a
        typical start; ``-inf`` without attractor).
    """
    import pandas as pd

    g, a = pd.DataFrame(gains), pd.DataFrame(attractors)
    out = pd.DataFrame(
        {
            "contraction": g.groupby("seed").value.agg(contraction_margin),
            "largest": a.groupby("seed").largest.min(),
            "near_origin": a.groupby("seed").rel_norm.agg(_decades_below),
        }
    )
    out.index.name = "seed"
    return out
