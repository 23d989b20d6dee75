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
* :func:`attractor_dictionary` — ``Z* = f^∞(Z_0)`` (tol 1e-5, 500 steps for foundation models):
  the **converged** end points only. A start still in transit at the cap (or diverged) is
  dropped from the dictionary and counted apart (:attr:`ProbeResult.unconverged`): the
  attractor dictionary may have fewer atoms than the orthogonal one.
* :func:`sparse_code_errors` — per-sample pixel MSE of the decoded OMP reconstructions at
  several numbers of atoms.
* :func:`probe` — the whole protocol for one model and several datasets, the same code for the
  book's own autoencoder and for a pretrained one (:mod:`lvf.models.adapters`).
* :func:`probe_seeds` — :func:`probe` repeated over seeds of the noise starts (a pretrained
  model; :func:`probe_adapter` for the SD / SDXL VAEs); :func:`probe_trained` — over seeds of
  a trained stand-in (each seed retrains the model, :func:`lvf.train.seeded`, and draws its
  own starts). :func:`convergence_table` — how the starts of each seed ended.
* :func:`test_sets` — chapter 10's four test sets for its CIFAR-10 stand-in.
* :func:`gap_table` and :func:`gap_effects` — the relative error gap (orthogonal −
  attractors) / orthogonal per seed, dataset and number of atoms, and its per-seed mean over
  chosen numbers of atoms: the effects a verdict is judged on (:func:`lvf.book.verdicts.judge`).
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
    "TrainedProbe",
    "attractor_dictionary",
    "convergence_table",
    "gap_effects",
    "gap_table",
    "orthogonal_starts",
    "probe",
    "probe_adapter",
    "probe_seeds",
    "probe_trained",
    "sparse_code_errors",
    "test_sets",
]


def test_sets(n: int) -> dict[str, Tensor]:
    """Chapter 10's test images for its CIFAR-10 stand-in, from near to far from the training
    data: the CIFAR-10 test images, 32-px crops of the Kodak photographs, and Fashion-MNIST
    and MNIST (gray levels copied into three channels); the same draw for every seed.

    Returns
    -------
    dict
        ``{name: (n, 3, 32, 32) tensor in [0, 1]}``, CIFAR-10 first.
    """
    import warnings

    from lvf import data

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", data.DataSourceWarning)
        return {
            "CIFAR-10": data.load("cifar10", "test", n, seed=0)[0],
            "Kodak crops": data.photo_crops(n, 32, source="kodak", seed=0),
            "Fashion-MNIST": data.to_rgb(data.load("fashion-mnist", "test", n, seed=0)[0]),
            "MNIST": data.to_rgb(data.load("mnist", "test", n, seed=0)[0]),
        }


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
    """Iterate ``f`` from every start; the **converged** end points are the dictionary's atoms.

    Returns
    -------
    atoms
        ``(m, k)`` flattened end points of the ``m`` starts whose step fell below ``tol``
        within ``max_steps`` (:attr:`IterationResult.converged`), in the order of the starts.
        Starts still in transit at the cap, and diverged ones, are not attractors: they are
        dropped (``n - m`` of them; the iteration result says which).
    result
        The :class:`lvf.IterationResult` of all ``n`` starts.
    """
    res = iterate(f, starts, tol=tol, max_steps=max_steps, batch_size=batch_size)
    keep = res.converged.to(res.final.device)
    return res.final[keep].flatten(1), res


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
    OMP loses accuracy on them at large numbers of atoms; a level above the number of atoms
    uses them all, and an empty dictionary codes every latent as 0), the codes are decoded with
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
    usable = [min(int(k), d.shape[0]) for k in levels]  # a level beyond the atoms uses them all
    distinct = sorted(set(usable))
    pick = [distinct.index(k) for k in usable]
    out = torch.empty(len(levels), flat.shape[0], dtype=torch.float64)
    for s in range(0, flat.shape[0], batch_size):
        z = flat[s : s + batch_size]
        if d.shape[0] == 0:
            recon = torch.zeros(len(levels), *z.shape, dtype=latents.dtype, device=z.device)
        else:
            codes = omp(d, z.to(work), distinct)[pick]  # (L, B, n_atoms)
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
        ``(m, *S)`` the converged end points (the attractor dictionary, ``m ≤ n``; starts in
        transit at the cap are not in it).
    iteration
        The :class:`lvf.IterationResult` of all ``n`` starts.
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

    @property
    def converged_fraction(self) -> float:
        """Share of the starts whose end point converged (and is an atom)."""
        n = self.iteration.converged.numel()
        return float(self.iteration.converged.sum()) / n if n else float("nan")

    @property
    def unconverged(self) -> int:
        """Number of starts dropped from the dictionary: in transit at the cap or diverged."""
        return int((~self.iteration.converged).sum())

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
       to attractors (``tol``, ``max_steps``: the paper's 1e-5 and 500); the converged end
       points are the attractor dictionary (:func:`attractor_dictionary`).
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
        starts=starts,
        attractors=atoms.reshape(-1, *starts.shape[1:]),
        iteration=res,
        levels=[int(k) for k in levels],
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


def probe_seeds(
    encode: Callable[[Tensor], Tensor],
    decode: Callable[[Tensor], Tensor],
    starts: Callable[[int], Tensor],
    datasets: Mapping[str, Tensor],
    levels: Sequence[int],
    *,
    seeds: Sequence[int],
    **kwargs,
) -> dict[int, ProbeResult]:
    """:func:`probe` of one model repeated over seeds of its noise starts.

    For a pretrained model the only randomness of the protocol is the draw of the starts:
    ``starts(s)`` gives the ``(n, *S)`` starts of seed ``s`` (e.g. ``lambda s:
    orthogonal_starts(shape, seed=s)``). ``kwargs`` go to :func:`probe`.

    Returns
    -------
    dict
        ``{seed: ProbeResult}`` in the order of ``seeds``.
    """
    return {s: probe(encode, decode, starts(s), datasets, levels, **kwargs) for s in seeds}


def probe_adapter(
    adapter,
    datasets: Mapping[str, Tensor],
    levels: Sequence[int],
    *,
    seeds: Sequence[int],
    device: str | torch.device | None = None,
    n_starts: int | None = None,
    dtype: torch.dtype = torch.float32,
    **kwargs,
) -> dict[int, ProbeResult]:
    """:func:`probe_seeds` of a pretrained autoencoder (an :class:`lvf.models.adapters.Adapter`
    with ``latent_scale``/``latent_shift``, e.g. the SD or SDXL VAE).

    The starts are :func:`orthogonal_starts` with ``N = k`` drawn in the *scaled* latent space
    and mapped to raw latents (``std = 1 / latent_scale``, ``mean = latent_shift``,
    ``choice-sd-checkpoint``); the latent shape is read off the encoding of one image of the
    first dataset. ``n_starts`` keeps the first rows of the orthogonal basis only (a cheaper
    run, e.g. to time the protocol at full size: ``benchmarks/fullsize.py``); the paper's
    ``N = k`` is the default. ``dtype`` is that of the starts, hence of the iteration and of
    the encoded images (the adapter follows it). ``kwargs`` go to :func:`probe`
    (``batch_size``, ``tol``, ``max_steps``); ``preprocess``/``postprocess`` are the
    adapter's.
    """
    first = next(iter(datasets.values()))[:1].to(device)
    with torch.no_grad():
        shape = tuple(adapter.encode(adapter.preprocess(first)).shape[1:])

    def starts(s: int) -> Tensor:
        return orthogonal_starts(
            shape,
            n=n_starts,
            std=1.0 / adapter.latent_scale,
            mean=adapter.latent_shift,
            seed=s,
            dtype=dtype,
            device=device,
        )

    return probe_seeds(
        adapter.encode,
        adapter.decode,
        starts,
        datasets,
        levels,
        seeds=seeds,
        preprocess=adapter.preprocess,
        postprocess=adapter.postprocess,
        **kwargs,
    )


@dataclass
class TrainedProbe:
    """:func:`probe` of one seed of a trained stand-in (:func:`probe_trained`).

    Attributes
    ----------
    seed
        The seed: of the training (:func:`lvf.train.seeded`) and of the starts.
    config
        The :class:`lvf.train.TrainConfig` of that seed.
    model
        The trained autoencoder (eval mode).
    sigma
        Standard deviation of its latents over (up to ``n_scale``) of its training images:
        the starts have norm ``sigma · sqrt(k)``.
    result
        The :class:`ProbeResult`.
    """

    seed: int
    config: object
    model: torch.nn.Module
    sigma: float
    result: ProbeResult


def probe_trained(
    config,
    datasets: Mapping[str, Tensor],
    levels: Sequence[int],
    *,
    seeds: Sequence[int],
    n_scale: int = 2000,
    tol: float = 1e-5,
    max_steps: int = 500,
    batch_size: int = 256,
) -> dict[int, TrainedProbe]:
    """The protocol on a trained autoencoder, once per seed.

    Seed ``s`` trains (or loads from the cache) ``lvf.train.seeded(config, s)`` — another
    initialisation and another draw of the training data — and draws its own ``k``
    orthogonal starts (:func:`orthogonal_starts` with ``seed=s``), scaled to the model's
    latents: ``std`` is the standard deviation of the encodings of its first ``n_scale``
    training images (the model's latent has no prescribed scale). The test ``datasets`` are
    the same for every seed.

    Returns
    -------
    dict
        ``{seed: TrainedProbe}`` in the order of ``seeds``.
    """
    from lvf.train import seeded, trained, training_data

    out: dict[int, TrainedProbe] = {}
    for s in seeds:
        cfg = seeded(config, s)
        model = trained(cfg).model.eval()
        device = next(model.parameters()).device
        x_train = training_data(cfg)[:n_scale]
        z_train = batched(model.encode, x_train, batch_size, device=device)
        sigma = float(z_train.std())
        starts = orthogonal_starts(z_train.shape[1:], std=sigma, seed=s, device=device)
        result = probe(
            model.encode,
            model.decode,
            starts,
            datasets,
            levels,
            tol=tol,
            max_steps=max_steps,
            batch_size=batch_size,
        )
        out[s] = TrainedProbe(s, cfg, model, sigma, result)
    return out


def _results(results: Mapping[int, ProbeResult | TrainedProbe]) -> dict[int, ProbeResult]:
    return {s: r.result if isinstance(r, TrainedProbe) else r for s, r in results.items()}


def gap_table(results: Mapping[int, ProbeResult | TrainedProbe]):
    """The mean errors of every seed, dataset and number of atoms, and their relative gap.

    Parameters
    ----------
    results
        ``{seed: ProbeResult}`` (or :class:`TrainedProbe`), e.g. from :func:`probe_seeds` or
        :func:`probe_trained`.

    Returns
    -------
    pandas.DataFrame
        One row per (seed, dataset, atoms): ``orthogonal`` and ``attractors`` (mean pixel MSE
        over the test images) and ``gap = (orthogonal − attractors) / orthogonal`` — positive
        when the attractors code the images better (0.3: 30 % lower error).
    """
    import pandas as pd

    rows = []
    for seed, res in _results(results).items():
        for name, per in res.mean_errors().items():
            pairs = zip(res.levels, per["orthogonal"], per["attractors"], strict=True)
            for k, o, a in pairs:
                row = dict(seed=seed, dataset=name, atoms=k, orthogonal=o, attractors=a)
                rows.append(row | {"gap": (o - a) / o})
    return pd.DataFrame(rows)


def gap_effects(table, atoms: Sequence[int]) -> dict[str, list[float]]:
    """Per dataset, the mean relative gap over the numbers of atoms ``atoms``, per seed.

    Parameters
    ----------
    table
        From :func:`gap_table`.
    atoms
        Numbers of atoms to average over (each must be in the table).

    Returns
    -------
    dict
        ``{dataset: [effect of each seed, in seed order]}`` — the per-seed effects that
        :func:`lvf.book.verdicts.judge` turns into a verdict for each dataset.
    """
    atoms = [int(k) for k in atoms]
    missing = set(atoms) - set(table["atoms"])
    if missing or not atoms:
        raise ValueError(f"numbers of atoms not in the table: {sorted(missing) or atoms}")
    rows = table[table["atoms"].isin(atoms)]
    means = rows.groupby(["dataset", "seed"], sort=False)["gap"].mean()
    return {
        name: [float(v) for _, v in means[name].sort_index().items()]
        for name in dict.fromkeys(rows["dataset"])
    }


def convergence_table(results: Mapping[int, ProbeResult | TrainedProbe], *, n_train: int = 2000):
    """How the starts of every seed ended, next to the dictionary they give.

    Parameters
    ----------
    results
        ``{seed: ProbeResult}`` or ``{seed: TrainedProbe}``.
    n_train
        For a :class:`TrainedProbe`, the memorization coefficient compares the decoded
        attractors with (up to) this many of its training images.

    Returns
    -------
    pandas.DataFrame
        One row per seed: ``starts``, ``converged`` (the atoms of the attractor dictionary),
        ``converged share``, ``dropped`` (in transit at the cap or diverged: not atoms),
        ``diverged``, ``median steps`` (of the converged starts) and ``distinct`` (distinct
        converged attractors, cosine > 0.99,
        :func:`lvf.protocols.memorization.converged_attractors`). For a :class:`TrainedProbe`
        also ``rank-90`` of the decoded distinct attractors (the book's one definition,
        :func:`lvf.measures.memorization.rank_explaining`) and ``memorization``, the mean over
        the distinct attractors of the largest cosine of the decoded attractor to a training
        image (:func:`lvf.measures.memorization.memorization`).
    """
    import pandas as pd

    from lvf.measures.memorization import memorization, rank_explaining
    from lvf.protocols.memorization import converged_attractors

    rows = []
    for seed, entry in results.items():
        res = entry.result if isinstance(entry, TrainedProbe) else entry
        it = res.iteration
        conv = it.converged.cpu()
        steps = it.steps.cpu()[conv].float()
        distinct = converged_attractors(it.final, it.converged)
        row = {
            "seed": seed,
            "starts": conv.numel(),
            "converged": int(conv.sum()),
            "converged share": res.converged_fraction,
            "dropped": res.unconverged,
            "diverged": int(it.diverged.sum()),
            "median steps": float(steps.median()) if len(steps) else float("nan"),
            "distinct": len(distinct.counts),
        }
        if isinstance(entry, TrainedProbe):
            from lvf.train import training_data

            model = entry.model
            device = next(model.parameters()).device
            decoded = batched(model.decode, distinct.centers, 256, device=device, out_device="cpu")
            x_train = training_data(entry.config)[:n_train]
            mem = memorization(decoded, x_train) if len(decoded) else torch.empty(0)
            row["rank-90"] = rank_explaining(decoded, 0.9)
            row["memorization"] = float(mem.mean()) if len(mem) else float("nan")
        rows.append(row)
    return pd.DataFrame(rows).set_index("seed")
