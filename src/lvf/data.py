"""Datasets: MNIST-family images for the convolutional autoencoders, and 2-D toy densities.

Images
------
:func:`load` returns float32 images in ``[0, 1]`` of shape ``(N, C, 32, 32)`` and int64 labels.
MNIST's 28x28 digits are zero-padded by 2 pixels on every side so that the side is divisible
by 16, as the paper's Table 4 architecture needs (spec, section 5, default #3).

Files are searched in :func:`lvf.paths.data_dirs` (``$LVF_DATA``, the cache, then a
``shared/data`` folder beside the project checkout). Folders outside the cache are only ever
read: when torchvision needs to decompress the ``.gz`` files, they are first copied into
``cache_dir()/data``. Decoded arrays are cached as ``cache_dir()/data/<name>-<split>.pt`` so later
loads take a fraction of a second. With no local copy, torchvision downloads the data unless
``LVF_OFFLINE=1``.

Toy data
--------
:func:`toy2d` samples the 2-D point clouds used for the small MLP autoencoders, and
:class:`GaussianMixture2D` is a density whose log-probability, score and modes are known
exactly, to compare learned latent vector fields against.
"""

from __future__ import annotations

import math
import os
import shutil
import warnings
from collections.abc import Callable
from functools import partial
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from lvf.paths import atomic_write, cache_dir, data_dirs

__all__ = [
    "DATASETS",
    "TOY_DATASETS",
    "DatasetNotFoundError",
    "GaussianMixture2D",
    "load",
    "load_mnist",
    "toy2d",
]

IMAGE_SIZE = 32
"""Side length of every image returned by :func:`load`."""

_SPLITS = ("train", "test")
_DECODED_FORMAT = 1  # bump to invalidate the decoded-array caches


class DatasetNotFoundError(FileNotFoundError):
    """No usable local copy of a dataset was found and it could not be downloaded."""


# --------------------------------------------------------------------------------------------
# torchvision-backed readers
# --------------------------------------------------------------------------------------------


def _torchvision_class(class_name: str) -> type:
    import torchvision.datasets

    return getattr(torchvision.datasets, class_name)


def _raw_status(raw: Path, resources: list[tuple[str, str]]) -> tuple[str, str]:
    """Classify a torchvision ``raw/`` folder: ``("decoded"|"gz"|"missing", reason)``."""
    from torchvision.datasets.utils import check_integrity

    decoded = [raw / Path(name).stem for name, _ in resources]
    if all(p.is_file() for p in decoded):
        return "decoded", ""
    missing = [name for name, _ in resources if not (raw / name).is_file()]
    if missing:
        return "missing", f"missing {', '.join(missing)}"
    bad = [name for name, md5 in resources if not check_integrity(str(raw / name), md5)]
    if bad:
        return "missing", f"md5 mismatch for {', '.join(bad)}"
    return "gz", ""


def _is_inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


def _read_torchvision(class_name: str, split: str) -> tuple[Tensor, Tensor]:
    """Read a torchvision MNIST-style dataset without ever writing outside the cache.

    Returns uint8 images ``(N, 1, H, W)`` and int64 labels ``(N,)``.
    """
    cls = _torchvision_class(class_name)
    train = split == "train"
    scratch = cache_dir() / "data"
    searched: list[str] = []
    for folder in data_dirs():
        raw = folder / class_name / "raw"
        status, reason = _raw_status(raw, cls.resources)
        if status == "missing":
            searched.append(f"{raw} ({reason})")
            continue
        try:
            if status == "decoded":
                ds = cls(root=str(folder), train=train, download=False)  # reads only
            else:
                if not _is_inside(folder, scratch):
                    # never write into a shared (possibly read-only) folder: work on a copy
                    _copy_raw(raw, scratch / class_name / "raw", cls.resources)
                    folder = scratch
                # the .gz files are present and md5-valid: torchvision only gunzips them
                ds = cls(root=str(folder), train=train, download=True)
            return _checked(ds.data, ds.targets)
        except Exception as err:
            searched.append(f"{raw} (unreadable: {type(err).__name__}: {err})")

    if os.environ.get("LVF_OFFLINE", "") not in ("", "0"):
        searched.append(f"download skipped because LVF_OFFLINE={os.environ['LVF_OFFLINE']}")
    else:
        try:
            ds = cls(root=str(scratch), train=train, download=True)
            return _checked(ds.data, ds.targets)
        except Exception as err:  # no network, server down, ...
            searched.append(f"download into {scratch / class_name / 'raw'} failed: {err}")
    files = ", ".join(name for name, _ in cls.resources)
    raise DatasetNotFoundError(
        f"Dataset {class_name} ({split} split) not found. Searched:\n  "
        + "\n  ".join(searched)
        + f"\nTo fix: set LVF_DATA to a folder holding {class_name}/raw/ with the files {files} "
        "(e.g. LVF_DATA=/path/to/shared/data), or allow the download by giving network access "
        "and unsetting LVF_OFFLINE."
    )


def _checked(images: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    if images.dtype != torch.uint8 or images.ndim != 3 or labels.shape != images.shape[:1]:
        raise ValueError(
            f"decoded arrays look wrong: images {tuple(images.shape)} {images.dtype}, "
            f"labels {tuple(labels.shape)}"
        )
    return images.unsqueeze(1).contiguous(), labels.to(torch.int64)


def _copy_raw(src: Path, dst: Path, resources: list[tuple[str, str]]) -> None:
    """Copy md5-valid ``.gz`` files into ``dst`` and drop stale decompressed files there."""
    from torchvision.datasets.utils import check_integrity

    for name, md5 in resources:
        if not check_integrity(str(dst / name), md5):
            atomic_write(dst / name, partial(_copy_into, src / name))
        (dst / Path(name).stem).unlink(missing_ok=True)  # torchvision gunzips afresh


def _copy_into(src: Path, f) -> None:
    with open(src, "rb") as s:
        shutil.copyfileobj(s, f)


# Name -> reader(split) returning uint8 images (N, C, h, w) and int64 labels (N,).
# Adding a dataset is one entry here (plus its reader if torchvision has no class for it).
_READERS: dict[str, Callable[[str], tuple[Tensor, Tensor]]] = {
    "mnist": lambda split: _read_torchvision("MNIST", split),
}
DATASETS: tuple[str, ...] = tuple(_READERS)
"""Names accepted by :func:`load`."""


def _decoded(name: str, split: str) -> tuple[Tensor, Tensor]:
    """uint8 images and labels of a whole split, through an on-disk cache."""
    path = cache_dir() / "data" / f"{name}-{split}.pt"
    if path.is_file():
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
            if payload.get("format") != _DECODED_FORMAT:
                raise ValueError(f"format {payload.get('format')!r} != {_DECODED_FORMAT}")
            images, labels = payload["images"], payload["labels"]
            if images.dtype != torch.uint8 or images.ndim != 4 or labels.shape != images.shape[:1]:
                raise ValueError("unexpected shapes or dtypes")
            return images, labels
        except Exception as err:
            warnings.warn(
                f"Ignoring the unreadable dataset cache {path} ({err}); "
                "decoding the dataset again.",
                stacklevel=3,
            )
    images, labels = _READERS[name](split)
    payload = {"format": _DECODED_FORMAT, "images": images, "labels": labels}
    atomic_write(path, lambda f: torch.save(payload, f))
    return images, labels


def _subset_indices(total: int, n: int | None, seed: int) -> Tensor | None:
    if n is None:
        return None
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= total:
        raise ValueError(f"n={n!r} must be None (all) or an integer between 1 and {total}.")
    g = torch.Generator().manual_seed(seed)
    return torch.randperm(total, generator=g)[:n].sort().values


def load(
    name: str, split: str = "train", n: int | None = None, *, seed: int = 0
) -> tuple[Tensor, Tensor]:
    """Load an image dataset as float tensors.

    Parameters
    ----------
    name
        Dataset name, one of :data:`DATASETS` (case-insensitive).
    split
        ``"train"`` or ``"test"``.
    n
        ``None`` for the whole split, else the size of a random subset. The subset depends only
        on ``seed`` and ``n``; it keeps the official order, and the subset of size ``n`` is a
        subset of the one of size ``n + 1`` for the same seed.
    seed
        Seed of the subset.

    Returns
    -------
    images : Tensor, shape (N, C, 32, 32), float32 in [0, 1]
        Zero-padded to 32x32 (MNIST: 2 pixels on every side).
    labels : Tensor, shape (N,), int64

    Raises
    ------
    ValueError
        Unknown ``name`` or ``split``, or invalid ``n``.
    DatasetNotFoundError
        No local copy and no download possible.
    """
    key = name.lower()
    if key not in _READERS:
        raise ValueError(f"Unknown dataset {name!r}; known datasets: {', '.join(DATASETS)}.")
    if split not in _SPLITS:
        raise ValueError(f"split={split!r} is not valid; use one of {', '.join(_SPLITS)}.")
    images, labels = _decoded(key, split)
    idx = _subset_indices(len(labels), n, seed)
    if idx is not None:
        images, labels = images[idx], labels[idx]
    h, w = images.shape[-2:]
    top, left = (IMAGE_SIZE - h) // 2, (IMAGE_SIZE - w) // 2
    x = images.to(torch.float32).div_(255.0)
    x = F.pad(x, (left, IMAGE_SIZE - w - left, top, IMAGE_SIZE - h - top))
    return x, labels.clone()


def load_mnist(
    split: str = "train", n: int | None = None, *, seed: int = 0
) -> tuple[Tensor, Tensor]:
    """Load MNIST as ``(N, 1, 32, 32)`` float32 images in [0, 1] and ``(N,)`` int64 labels.

    The 28x28 digits are zero-padded by 2 pixels on every side. See :func:`load` for the
    parameters, the search path and the errors.
    """
    return load("mnist", split, n, seed=seed)


# --------------------------------------------------------------------------------------------
# 2-D toy densities
# --------------------------------------------------------------------------------------------


class GaussianMixture2D:
    """A mixture of isotropic 2-D Gaussians with a shared standard deviation.

    Its density, score and modes are known, so learned latent fields can be checked against
    them.

    Parameters
    ----------
    means : array-like, shape (M, 2)
        Component means.
    std : float
        Standard deviation of every component (the same along both axes).
    weights : array-like, shape (M,), optional
        Non-negative mixture weights; normalised to sum to one. Default: uniform.
    """

    def __init__(self, means, std: float, weights=None) -> None:
        means = torch.as_tensor(means, dtype=torch.float64)
        if means.ndim != 2 or means.shape[1] != 2 or len(means) == 0:
            raise ValueError(f"means must have shape (M, 2) with M >= 1, got {tuple(means.shape)}.")
        if not std > 0:
            raise ValueError(f"std must be positive, got {std!r}.")
        if weights is None:
            weights = torch.full((len(means),), 1.0 / len(means), dtype=torch.float64)
        weights = torch.as_tensor(weights, dtype=torch.float64)
        if weights.shape != (len(means),) or (weights < 0).any() or weights.sum() <= 0:
            raise ValueError(
                f"weights must be {len(means)} non-negative numbers with a positive sum, "
                f"got {weights.tolist()}."
            )
        self.means: Tensor = means
        self.std: float = float(std)
        self.weights: Tensor = weights / weights.sum()

    @classmethod
    def circle(cls, n_modes: int = 8, radius: float = 2.0, std: float = 0.2) -> GaussianMixture2D:
        """Equal-weight components evenly spaced on a circle, the first one at angle 0."""
        angles = torch.arange(n_modes, dtype=torch.float64) * (2 * math.pi / n_modes)
        return cls(radius * torch.stack([angles.cos(), angles.sin()], dim=1), std)

    def __repr__(self) -> str:
        return f"GaussianMixture2D(M={len(self.means)}, std={self.std})"

    def sample(self, n: int, seed: int = 0) -> Tensor:
        """Draw ``n`` points; the same ``seed`` gives the same points.

        Returns
        -------
        Tensor, shape (n, 2), float32
        """
        g = torch.Generator().manual_seed(seed)
        comp = torch.multinomial(self.weights, n, replacement=True, generator=g)
        noise = torch.randn(n, 2, generator=g, dtype=torch.float64)
        return (self.means[comp] + self.std * noise).to(torch.float32)

    def _log_components(self, points: Tensor) -> Tensor:
        means = self.means.to(points)
        sq = (points[:, None, :] - means[None]).pow(2).sum(-1)  # (N, M)
        var = self.std**2
        return self.weights.to(points).log() - sq / (2 * var) - math.log(2 * math.pi * var)

    def log_prob(self, points: Tensor) -> Tensor:
        """Log-density at ``points``.

        Parameters
        ----------
        points : Tensor, shape (N, 2)

        Returns
        -------
        Tensor, shape (N,), same dtype and device as ``points`` (float64 for non-float input).
        """
        points = _as_points(points)
        return torch.logsumexp(self._log_components(points), dim=1)

    def score(self, points: Tensor) -> Tensor:
        """Score ``grad_x log p(x)`` at ``points``, in closed form.

        Parameters
        ----------
        points : Tensor, shape (N, 2)

        Returns
        -------
        Tensor, shape (N, 2)
        """
        points = _as_points(points)
        resp = torch.softmax(self._log_components(points), dim=1)  # (N, M)
        return (resp @ self.means.to(points) - points) / self.std**2

    @property
    def modes(self) -> Tensor:
        """Local maxima of the density, shape (K, 2) float64, K <= M.

        Found by the mean-shift fixed point ``x <- sum_i r_i(x) mu_i`` (``r`` the
        responsibilities), which ascends the density, started at every mean; coincident results
        are merged. For well-separated components the modes are close to the means.
        """
        x = self.means.clone()
        for _ in range(1000):
            resp = torch.softmax(self._log_components(x), dim=1)
            new = resp @ self.means
            done = (new - x).abs().max() < 1e-12
            x = new
            if done:
                break
        modes: list[Tensor] = []
        for m in x:
            if all((m - o).norm() > 1e-6 * max(1.0, self.std) for o in modes):
                modes.append(m)
        return torch.stack(modes)


def _as_points(points) -> Tensor:
    points = torch.as_tensor(points)
    if not points.is_floating_point():
        points = points.to(torch.float64)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"points must have shape (N, 2), got {tuple(points.shape)}.")
    return points


TOY_DATASETS: tuple[str, ...] = ("gaussians", "moons", "rings")
"""Names accepted by :func:`toy2d`."""

_TOY_NOISE = {"gaussians": 0.2, "moons": 0.05, "rings": 0.05}


def toy2d(name: str, n: int, *, seed: int = 0, noise: float | None = None) -> Tensor:
    """Sample a 2-D toy point cloud.

    Parameters
    ----------
    name
        ``"gaussians"``: :meth:`GaussianMixture2D.circle` (8 components on a circle of radius
        2, ``noise`` = component std, default 0.2); ``"moons"``: scikit-learn ``make_moons``
        (default noise 0.05); ``"rings"``: scikit-learn ``make_circles`` with ``factor=0.5``
        (default noise 0.05).
    n
        Number of points.
    seed
        Random seed; the same seed gives the same points.
    noise
        Dataset-specific noise level (see ``name``); ``None`` for the default.

    Returns
    -------
    Tensor, shape (n, 2), float32
    """
    if name not in TOY_DATASETS:
        raise ValueError(f"Unknown toy dataset {name!r}; known: {', '.join(TOY_DATASETS)}.")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}.")
    noise = _TOY_NOISE[name] if noise is None else float(noise)
    if name == "gaussians":
        return GaussianMixture2D.circle(std=noise).sample(n, seed=seed)
    from sklearn.datasets import make_circles, make_moons

    if name == "moons":
        x, _ = make_moons(n_samples=n, noise=noise, random_state=seed)
    else:
        x, _ = make_circles(n_samples=n, noise=noise, factor=0.5, random_state=seed)
    return torch.as_tensor(x, dtype=torch.float32)
