"""Contraction at initialisation of standard backbones (App. B.1, Fig. 6; chapter 3).

The paper pushes ``N(0, I)`` images through randomly initialised classifiers and reports the
ratio ``σ_out / σ_in`` of output to input spread: below one for every architecture, which it
reads as contraction being present before any training. :func:`backbone_gains` measures it
for the twelve torchvision classifiers of :data:`BACKBONES` with :func:`lvf.measures.
contraction.gain`'s spread, each row cached in the one cache (:class:`lvf.cache.Entry`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence

import torch
from torch import nn

from lvf.cache import Entry
from lvf.measures.contraction import SpreadAccumulator

__all__ = ["BACKBONES", "backbone_gains"]

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
