"""Datasets: images for the convolutional autoencoders, natural-photo crops, 2-D toy densities.

Images
------
:func:`load` returns float32 images in ``[0, 1]`` of shape ``(N, C, 32, 32)`` and int64 labels.

========================  ===  ===============================================================
name                      C    training / test images
========================  ===  ===============================================================
``"mnist"``               1    official 60,000 / 10,000
``"fashion-mnist"``       1    official 60,000 / 10,000; or the subset: 100 / 2,000
``"fashion-mnist-2k"``    1    official *test* images 0–1,999 split in two: training = test
                               images 0–1,499 (1,500), test = test images 1,500–1,999 (500)
``"cifar10"``             3    official 50,000 / 10,000; or the subset: 8,000 / 1,000
``"cifar10-gray"``        1    ``"cifar10"`` in gray levels (ITU-R 601 luma,
                               ``0.299 R + 0.587 G + 0.114 B``, as PIL's ``"L"`` mode)
========================  ===  ===============================================================

The 28x28 MNIST and Fashion-MNIST images are zero-padded by 2 pixels on every side so that the
side is divisible by 16, as the paper's Table 4 architecture needs (spec, section 5, default
#3). ``load(..., gray=True)`` turns any dataset into one channel.

Where the files come from
-------------------------
Files are searched in :func:`lvf.cache.data_dirs` (``$LVF_DATA``, the cache, then a
``shared/data`` folder beside the project checkout). Folders outside the cache are only ever
read: when torchvision needs to decompress ``.gz`` files, they are first copied into
``cache_dir()/data``. Decoded official arrays are cached as ``cache_dir()/data/<name>-<split>.pt``
so later loads take a fraction of a second. With no local copy, torchvision downloads the data
unless ``LVF_OFFLINE=1``.

Fashion-MNIST and CIFAR-10 fall back to *partial* copies when their official files are neither
present nor downloadable: ``<data>/fashion-mnist-subset/`` (official test images 0–1,999 and
training images 0–99) and ``<data>/cifar-10-subset/`` (official training images 0–7,999 and test
images 0–999), NumPy arrays in the official order. The choice is made once per process, a
:class:`DataSourceWarning` says when a subset is used, and :func:`source` tells a chapter which
source it got (``print(lvf.data.source("fashion-mnist"))``).

The subset holds only 100 Fashion-MNIST training images. :func:`train_test` picks training and
test sets of requested sizes and says how: with the subset it trains on part of the 2,000 test
images (``"fashion-mnist-2k"``) and evaluates on the rest, and its ``note`` says so.

Photos
------
:func:`photo_crops` cuts random square crops out of the Kodak photographs (``<data>/kodak/``) and
the scikit-image sample photos (``<data>/skimage-samples/``) and shrinks them to 32x32: natural
images for out-of-distribution tests.

Toy data
--------
:func:`toy2d` samples the 2-D point clouds used for the small MLP autoencoders, and
:class:`GaussianMixture2D` is a density whose log-probability, score and modes are known
exactly, to compare learned latent vector fields against.
"""

from __future__ import annotations

import functools
import math
import os
import shutil
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from lvf.cache import atomic_write, cache_dir, data_dirs

__all__ = [
    "DATASETS",
    "PHOTO_SOURCES",
    "TOY_DATASETS",
    "DataSource",
    "DataSourceWarning",
    "DatasetNotFoundError",
    "GaussianMixture2D",
    "TrainTest",
    "load",
    "load_mnist",
    "photo_crops",
    "photo_files",
    "source",
    "to_gray",
    "to_rgb",
    "toy2d",
    "train_test",
]

IMAGE_SIZE = 32
"""Side length of every image returned by :func:`load`."""

_SPLITS = ("train", "test")
_DECODED_FORMAT = 1  # bump to invalidate the decoded-array caches
_README_HINT = (
    "The project's shared/data/README.md says where each dataset comes from and how it is laid out."
)


class DatasetNotFoundError(FileNotFoundError):
    """No usable local copy of a dataset was found and it could not be downloaded.

    ``searched`` lists, one line per place, what was tried and why it failed.
    """

    def __init__(self, message: str, searched: list[str] | None = None) -> None:
        super().__init__(message)
        self.searched: list[str] = list(searched or [])


class DataSourceWarning(UserWarning):
    """A dataset is read from a partial subset instead of its complete official files."""


def _offline() -> bool:
    return os.environ.get("LVF_OFFLINE", "") not in ("", "0")


# --------------------------------------------------------------------------------------------
# torchvision-backed readers of the official files
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

    found = _download(cls, train, _checked, scratch / class_name / "raw", searched)
    if found is not None:
        return found
    files = ", ".join(name for name, _ in cls.resources)
    raise _not_found(
        class_name,
        split,
        searched,
        f"set LVF_DATA to a folder holding {class_name}/raw/ with the files {files} "
        "(e.g. LVF_DATA=/path/to/shared/data), or allow the download by giving network access "
        "and unsetting LVF_OFFLINE.",
    )


def _download(cls, train: bool, checked, where: Path, searched: list[str]):
    """Let torchvision download ``cls`` into the cache (unless ``LVF_OFFLINE``); the checked
    ``(images, labels)``, or ``None`` with the reason appended to ``searched``."""
    if _offline():
        searched.append(f"download skipped because LVF_OFFLINE={os.environ['LVF_OFFLINE']}")
        return None
    try:
        ds = cls(root=str(cache_dir() / "data"), train=train, download=True)
        return checked(ds.data, ds.targets)
    except Exception as err:  # no network, server down, ...
        searched.append(f"download into {where} failed: {err}")
        return None


def _not_found(name: str, split: str, searched: list[str], fix: str) -> DatasetNotFoundError:
    return DatasetNotFoundError(
        f"Dataset {name} ({split} split) not found. Searched:\n  "
        + "\n  ".join(searched)
        + f"\nTo fix: {fix}",
        searched,
    )


def _read_cifar10(split: str) -> tuple[Tensor, Tensor]:
    """Read the official CIFAR-10 python batches with torchvision; uint8 ``(N, 3, 32, 32)``."""
    cls = _torchvision_class("CIFAR10")
    train = split == "train"
    scratch = cache_dir() / "data"
    searched: list[str] = []
    for folder in data_dirs():
        batches = folder / cls.base_folder
        if not batches.is_dir():
            searched.append(f"{batches} (missing)")
            continue
        try:  # download=False: torchvision checks the md5s and only reads
            ds = cls(root=str(folder), train=train, download=False)
            return _checked_hwc(ds.data, ds.targets)
        except Exception as err:
            searched.append(f"{batches} (unreadable: {type(err).__name__}: {err})")
    found = _download(cls, train, _checked_hwc, scratch / cls.base_folder, searched)
    if found is not None:
        return found
    raise _not_found(
        "CIFAR10",
        split,
        searched,
        f"set LVF_DATA to a folder holding {cls.base_folder}/ (data_batch_1..5, "
        "test_batch, batches.meta), or allow the download by giving network access and unsetting "
        "LVF_OFFLINE.",
    )


def _checked(images, labels, *, channels_last: bool = False) -> tuple[Tensor, Tensor]:
    """uint8 images ``(N, H, W)`` -> ``(N, 1, H, W)``, or with ``channels_last``
    ``(N, H, W, C)`` (torchvision's CIFAR layout) -> ``(N, C, H, W)``; labels -> int64."""
    images, labels = torch.as_tensor(images), torch.as_tensor(labels)
    ndim = 4 if channels_last else 3
    if images.dtype != torch.uint8 or images.ndim != ndim or labels.shape != images.shape[:1]:
        raise ValueError(
            f"decoded arrays look wrong: images {tuple(images.shape)} {images.dtype}, "
            f"labels {tuple(labels.shape)}"
        )
    images = images.permute(0, 3, 1, 2) if channels_last else images.unsqueeze(1)
    return images.contiguous(), labels.to(torch.int64)


_checked_hwc = partial(_checked, channels_last=True)


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


# Base dataset -> reader(split) of its complete official files, returning uint8 images
# (N, C, h, w) and int64 labels (N,). Adding a dataset is one entry here (plus its reader if
# torchvision has no class for it) and one in _NAMES.
_READERS: dict[str, Callable[[str], tuple[Tensor, Tensor]]] = {
    "mnist": lambda split: _read_torchvision("MNIST", split),
    "fashion-mnist": lambda split: _read_torchvision("FashionMNIST", split),
    "cifar10": _read_cifar10,
}

_TITLES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST", "cifar10": "CIFAR-10"}
_OFFICIAL_SIZES = {"mnist": (60_000, 10_000), "fashion-mnist": (60_000, 10_000)}
_OFFICIAL_SIZES["cifar10"] = (50_000, 10_000)


def _decoded(name: str, split: str) -> tuple[Tensor, Tensor]:
    """uint8 images and labels of a whole official split, through an on-disk cache."""
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


# --------------------------------------------------------------------------------------------
# partial copies (subsets) used when the official files are missing
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Subset:
    folder: str
    files: dict[str, tuple[str, str]]  # split -> (images .npy, labels .npy)
    holds: str  # which official images, in words


_SUBSETS: dict[str, _Subset] = {
    "fashion-mnist": _Subset(
        "fashion-mnist-subset",
        {
            "train": ("train_images_first100.npy", "train_labels_first100.npy"),
            "test": ("test_images.npy", "test_labels.npy"),
        },
        "official training images 0–99 and test images 0–1,999",
    ),
    "cifar10": _Subset(
        "cifar-10-subset",
        {
            "train": ("train_images.npy", "train_labels.npy"),
            "test": ("test_images.npy", "test_labels.npy"),
        },
        "official training images 0–7,999 and test images 0–999",
    ),
}


def _subset_folder(base: str) -> tuple[Path | None, list[str]]:
    """First data folder holding all files of ``base``'s subset, and what was searched."""
    spec = _SUBSETS[base]
    names = [f for pair in spec.files.values() for f in pair]
    searched = []
    for folder in data_dirs():
        sub = folder / spec.folder
        missing = [f for f in names if not (sub / f).is_file()]
        if not missing:
            return sub, searched
        searched.append(f"{sub} ({'missing' if not sub.is_dir() else 'lacks ' + missing[0]})")
    return None, searched


def _read_subset(folder: Path, base: str, split: str) -> tuple[Tensor, Tensor]:
    img_file, lab_file = _SUBSETS[base].files[split]
    images = np.load(folder / img_file, allow_pickle=False)
    labels = np.load(folder / lab_file, allow_pickle=False)
    if images.ndim == 3:
        images = images[:, None]
    if images.dtype != np.uint8 or images.ndim != 4 or labels.shape != images.shape[:1]:
        raise ValueError(
            f"{folder / img_file}: expected uint8 (N, [C,] H, W) images and (N,) labels, got "
            f"{images.dtype} {images.shape} and {labels.shape}"
        )
    return torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64))


# --------------------------------------------------------------------------------------------
# which source a dataset comes from
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DataSource:
    """Where the images of a dataset come from in this process.

    Attributes
    ----------
    dataset
        The base dataset: ``"mnist"``, ``"fashion-mnist"`` or ``"cifar10"``.
    kind
        ``"official"`` (complete official files, through torchvision) or ``"subset"``.
    n_train, n_test
        Number of images in the training and test splits of that source.
    location
        The subset's folder, or ``"torchvision"`` for the official files.
    reason
        For a subset: why the official files were not used.
    """

    dataset: str
    kind: str
    n_train: int
    n_test: int
    location: str = "torchvision"
    reason: str = ""

    @property
    def title(self) -> str:
        return _TITLES[self.dataset]

    def __str__(self) -> str:
        sizes = f"{self.n_train:,} training and {self.n_test:,} test images"
        if self.kind == "official":
            return f"{self.title}: official files, {sizes}"
        return f"{self.title}: subset, {sizes} ({_SUBSETS[self.dataset].holds}), {self.location}"


_RESOLVED: dict[tuple, DataSource] = {}


def _resolution_key(base: str) -> tuple:
    return (base, tuple(map(str, data_dirs())), _offline(), str(cache_dir()))


def _uint8(base: str, split: str) -> tuple[Tensor, Tensor]:
    """uint8 images and labels of ``base``'s split from its official files or its subset."""
    key = _resolution_key(base)
    known = _RESOLVED.get(key)
    if known is None or known.kind == "official":
        try:
            out = _decoded(base, split)
        except DatasetNotFoundError as err:
            if base not in _SUBSETS:
                raise
            official_error = err
        else:
            if known is None:
                n_train, n_test = _OFFICIAL_SIZES[base]
                _RESOLVED[key] = DataSource(base, "official", n_train, n_test)
            return out
    else:
        official_error = DatasetNotFoundError("official files not tried again in this process")
    folder, searched = _subset_folder(base)
    if folder is None:
        spec = _SUBSETS[base]
        raise DatasetNotFoundError(
            f"{official_error}\nNo partial copy either: searched\n  "
            + "\n  ".join(searched)
            + f"\nA partial copy is a folder {spec.folder}/ holding "
            + ", ".join(f for pair in spec.files.values() for f in pair)
            + f" ({spec.holds}). {_README_HINT}"
        ) from official_error
    images, labels = _read_subset(folder, base, split)
    if known is None:
        sizes = {s: _npy_rows(folder / _SUBSETS[base].files[s][0]) for s in _SPLITS}
        reason = "; ".join(" ".join(r.split()) for r in official_error.searched)
        known = DataSource(base, "subset", sizes["train"], sizes["test"], str(folder), reason)
        _RESOLVED[key] = known
        warnings.warn(
            f"{known}. The complete official files are missing and could not be downloaded "
            f"(details: lvf.data.source({base!r}).reason).",
            DataSourceWarning,
            stacklevel=4,
        )
    return images, labels


def _npy_rows(path: Path) -> int:
    return int(np.load(path, mmap_mode="r", allow_pickle=False).shape[0])


# --------------------------------------------------------------------------------------------
# public loading API
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Name:
    base: str
    gray: bool = False
    resplit: tuple[int, int] | None = None  # (rows of the base test split, training rows)


_NAMES: dict[str, _Name] = {
    "mnist": _Name("mnist"),
    "fashion-mnist": _Name("fashion-mnist"),
    "fashion-mnist-2k": _Name("fashion-mnist", resplit=(2000, 1500)),
    "cifar10": _Name("cifar10"),
    "cifar10-gray": _Name("cifar10", gray=True),
}
DATASETS: tuple[str, ...] = tuple(_NAMES)
"""Names accepted by :func:`load` (and by :class:`lvf.train.TrainConfig`)."""


def _spec(name: str) -> _Name:
    key = name.lower() if isinstance(name, str) else name
    if key not in _NAMES:
        raise ValueError(f"Unknown dataset {name!r}; known datasets: {', '.join(DATASETS)}.")
    return _NAMES[key]


def _split_uint8(spec: _Name, split: str) -> tuple[Tensor, Tensor]:
    if spec.resplit is None:
        return _uint8(spec.base, split)
    rows, n_train = spec.resplit
    images, labels = _uint8(spec.base, "test")
    if len(labels) < rows:
        raise DatasetNotFoundError(f"{spec.base} has only {len(labels)} test images, need {rows}")
    part = slice(0, n_train) if split == "train" else slice(n_train, rows)
    return images[part], labels[part]


def _subset_indices(total: int, n: int | None, seed: int) -> Tensor | None:
    if n is None:
        return None
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= total:
        raise ValueError(f"n={n!r} must be None (all) or an integer between 1 and {total}.")
    g = torch.Generator().manual_seed(seed)
    return torch.randperm(total, generator=g)[:n].sort().values


def to_gray(images: Tensor) -> Tensor:
    """RGB images ``(N, 3, H, W)`` to gray levels ``(N, 1, H, W)``; one channel is kept.

    ITU-R 601-2 luma, ``0.299 R + 0.587 G + 0.114 B`` (the weights of PIL's ``"L"`` mode),
    computed in floating point without rounding.
    """
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"expected (N, 1 or 3, H, W) images, got {tuple(images.shape)}")
    if images.shape[1] == 1:
        return images
    w = torch.tensor([0.299, 0.587, 0.114], dtype=images.dtype, device=images.device)
    return (images * w.view(1, 3, 1, 1)).sum(dim=1, keepdim=True)


def to_rgb(images: Tensor) -> Tensor:
    """Gray images ``(N, 1, H, W)`` as three equal channels ``(N, 3, H, W)`` (a view, no copy),
    so that a colour model can read them; RGB images are returned as they are. The inverse
    direction is :func:`to_gray`.

    >>> to_rgb(torch.zeros(2, 1, 4, 4)).shape
    torch.Size([2, 3, 4, 4])
    """
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"expected (N, 1 or 3, H, W) images, got {tuple(images.shape)}")
    return images.expand(-1, 3, -1, -1)


def load(
    name: str, split: str = "train", n: int | None = None, *, seed: int = 0, gray: bool = False
) -> tuple[Tensor, Tensor]:
    """Load an image dataset as float tensors.

    Parameters
    ----------
    name
        Dataset name, one of :data:`DATASETS` (case-insensitive); see the module docstring.
    split
        ``"train"`` or ``"test"``.
    n
        ``None`` for the whole split, else the size of a random subset. The subset depends only
        on ``seed`` and ``n``; it keeps the official order, and the subset of size ``n`` is a
        subset of the one of size ``n + 1`` for the same seed.
    seed
        Seed of the subset.
    gray
        Convert colour images to one gray channel (:func:`to_gray`).

    Returns
    -------
    images : Tensor, shape (N, C, 32, 32), float32 in [0, 1]
        Zero-padded to 32x32 (MNIST, Fashion-MNIST: 2 pixels on every side).
    labels : Tensor, shape (N,), int64

    Raises
    ------
    ValueError
        Unknown ``name`` or ``split``, or invalid ``n``.
    DatasetNotFoundError
        No local copy (official or subset) and no download possible.

    Warns
    -----
    DataSourceWarning
        The first time in a process that a dataset is read from its subset.
    """
    spec = _spec(name)
    if split not in _SPLITS:
        raise ValueError(f"split={split!r} is not valid; use one of {', '.join(_SPLITS)}.")
    images, labels = _split_uint8(spec, split)
    idx = _subset_indices(len(labels), n, seed)
    if idx is not None:
        images, labels = images[idx], labels[idx]
    h, w = images.shape[-2:]
    top, left = (IMAGE_SIZE - h) // 2, (IMAGE_SIZE - w) // 2
    x = images.to(torch.float32).div_(255.0)
    x = F.pad(x, (left, IMAGE_SIZE - w - left, top, IMAGE_SIZE - h - top))
    if spec.gray or gray:
        x = to_gray(x)
    return x, labels.clone()


def load_mnist(
    split: str = "train", n: int | None = None, *, seed: int = 0
) -> tuple[Tensor, Tensor]:
    """Load MNIST as ``(N, 1, 32, 32)`` float32 images in [0, 1] and ``(N,)`` int64 labels.

    The 28x28 digits are zero-padded by 2 pixels on every side. See :func:`load` for the
    parameters, the search path and the errors.
    """
    return load("mnist", split, n, seed=seed)


def source(name: str) -> DataSource:
    """Which files the dataset ``name`` is read from in this process (official or subset).

    Resolves the source as :func:`load` does (reading the test split once if needed).
    ``print(source("fashion-mnist"))`` gives e.g. ``"Fashion-MNIST: subset, 100 training and
    2,000 test images (official training images 0–99 and test images 0–1,999), <folder>"``.
    """
    spec = _spec(name)
    key = _resolution_key(spec.base)
    if key not in _RESOLVED:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DataSourceWarning)
            _uint8(spec.base, "test")
    return _RESOLVED[key]


def _sizes(name: str) -> tuple[int, int]:
    spec = _spec(name)
    if spec.resplit is not None:
        rows, n_train = spec.resplit
        return n_train, rows - n_train
    src = source(name)
    return src.n_train, src.n_test


@dataclass(frozen=True)
class TrainTest:
    """Training and test sets chosen by :func:`train_test`.

    Attributes
    ----------
    dataset
        The dataset name to load both from, and to give :class:`lvf.train.TrainConfig`
        (``TrainConfig(dataset=tt.dataset, n_train=tt.n_train, data_seed=tt.seed, ...)``).
    n_train, n_test
        Sizes of the two sets (seeded nested subsets of the two splits of ``dataset``).
    seed
        The subsets' seed.
    note
        One or two sentences saying which data and how many images; print it in a chapter.
    """

    dataset: str
    n_train: int
    n_test: int
    seed: int
    note: str

    def train(self) -> tuple[Tensor, Tensor]:
        """The training images ``(n_train, C, 32, 32)`` and labels."""
        return load(self.dataset, "train", self.n_train, seed=self.seed)

    def test(self) -> tuple[Tensor, Tensor]:
        """The test images ``(n_test, C, 32, 32)`` and labels, disjoint from the training ones."""
        return load(self.dataset, "test", self.n_test, seed=self.seed)

    def __str__(self) -> str:
        return self.note


def train_test(
    name: str, n_train: int | None = None, n_test: int | None = None, *, seed: int = 0
) -> TrainTest:
    """Pick disjoint training and test sets of (at most) the requested sizes, and say how.

    With the official files this is the official training and test split. When Fashion-MNIST
    comes from its subset (100 training images) and more than 100 training images are asked
    for, the sets are drawn from the 2,000 official *test* images instead: training from test
    images 0–1,499, evaluation on test images 1,500–1,999 (dataset ``"fashion-mnist-2k"``).
    A request larger than what is available is reduced to all of it. :attr:`TrainTest.note`
    says all of this in words.

    Parameters
    ----------
    name
        One of :data:`DATASETS`.
    n_train, n_test
        Requested sizes; ``None`` for all available images.
    seed
        Seed of the random subsets.
    """
    spec = _spec(name)
    src = source(name)
    dataset = name.lower()
    desc = f"{src.title} ({'official files' if src.kind == 'official' else 'subset'})"
    if spec.gray:
        desc += " in gray levels"
    avail_train, avail_test = _sizes(dataset)
    if (
        dataset == "fashion-mnist"
        and src.kind == "subset"
        and (n_train is None or n_train > avail_train)
    ):
        dataset = "fashion-mnist-2k"
        avail_train, avail_test = _sizes(dataset)
    extra = ""
    if _spec(dataset).resplit is not None:
        where = (
            f"official test images: 0–{avail_train - 1:,} for training and the disjoint "
            f"{avail_train:,}–{avail_train + avail_test - 1:,} for evaluation"
        )
        if src.kind == "subset":
            extra = (
                f" The subset has only {src.n_train} training images, so both sets come from "
                f"the {where}."
            )
        else:
            extra = f" Both sets come from the {where}."
    parts = []
    for what, asked, avail in (("training", n_train, avail_train), ("test", n_test, avail_test)):
        if asked is not None and (isinstance(asked, bool) or not isinstance(asked, int)):
            raise ValueError(f"n_{what[:5]} must be None or a positive int, got {asked!r}")
        if asked is not None and asked < 1:
            raise ValueError(f"n_{what[:5]} must be positive, got {asked}")
        got = avail if asked is None else min(asked, avail)
        text = f"{got:,} {what} images" + (f" (of {avail:,})" if got < avail else "")
        if asked is not None and asked > avail:
            text += f" ({asked:,} asked for, only {avail:,} available)"
        parts.append((got, text))
    (got_train, t_train), (got_test, t_test) = parts
    note = f"{desc}: {t_train}, {t_test}.{extra}"
    return TrainTest(dataset, got_train, got_test, seed, note)


# --------------------------------------------------------------------------------------------
# crops of natural photographs
# --------------------------------------------------------------------------------------------

PHOTO_SOURCES: tuple[str, ...] = ("kodak", "skimage", "all")
"""Values of ``source`` accepted by :func:`photo_crops`."""

_PHOTO_FOLDERS = {"kodak": "kodak", "skimage": "skimage-samples"}
_PHOTO_SUFFIXES = (".png", ".jpg", ".jpeg")


def photo_files(source: str = "all") -> list[Path]:
    """The photo files of ``source`` (``"kodak"``, ``"skimage"`` or ``"all"``), sorted by name.

    Each folder (``kodak/``, ``skimage-samples/``) is taken from the first data folder
    (:func:`lvf.cache.data_dirs`) that holds it with at least one image.
    """
    if source not in PHOTO_SOURCES:
        raise ValueError(f"source={source!r} is not valid; use one of {', '.join(PHOTO_SOURCES)}.")
    keys = list(_PHOTO_FOLDERS) if source == "all" else [source]
    files: list[Path] = []
    for key in keys:
        searched = []
        for folder in data_dirs():
            sub = folder / _PHOTO_FOLDERS[key]
            found = sorted(p for p in sub.glob("*") if p.suffix.lower() in _PHOTO_SUFFIXES)
            if found:
                files += found
                break
            searched.append(str(sub))
        else:
            raise DatasetNotFoundError(
                f"No photos for source {key!r}: no image files (.png, .jpg) in\n  "
                + "\n  ".join(searched)
                + f"\nTo fix: set LVF_DATA to a folder holding {_PHOTO_FOLDERS[key]}/ "
                f"(e.g. the project's shared/data). {_README_HINT}"
            )
    return files


@functools.lru_cache(maxsize=64)
def _photo(path: str) -> np.ndarray:
    """A photo as a read-only uint8 RGB array ``(H, W, 3)`` (gray files get three channels)."""
    from PIL import Image

    with Image.open(path) as im:
        rgb = np.asarray(im.convert("RGB"))
    rgb.flags.writeable = False
    return rgb


def photo_crops(
    n: int,
    size: int = 32,
    *,
    crop: int | None = 128,
    gray: bool = False,
    seed: int = 0,
    source: str = "all",
    return_files: bool = False,
) -> Tensor | tuple[Tensor, list[str]]:
    """Random square crops of natural photographs, shrunk to ``size x size``.

    Each crop picks a photo uniformly among :func:`photo_files` of ``source`` and a uniformly
    random position of a ``crop x crop`` square in it (``crop`` is reduced to the photo's
    shorter side if that is smaller), then shrinks the square to ``size x size`` by area
    averaging (``F.interpolate(mode="area")``). The default ``crop = 128`` makes a 32x32 crop
    cover a sixth of a Kodak photo's height — object-sized content, like CIFAR-10 — rather
    than the nearly flat texture a raw 32-pixel patch would show; ``crop=None`` means
    ``crop = size`` (no resampling).

    Parameters
    ----------
    n
        Number of crops.
    size
        Side of the returned crops.
    crop
        Side of the square cut from the photo before shrinking.
    gray
        One gray channel (:func:`to_gray`) instead of RGB.
    seed
        The same seed gives the same crops; the first ``n`` crops of a larger ``n`` are the
        same.
    source
        ``"kodak"`` (24 photos), ``"skimage"`` (10 scikit-image samples) or ``"all"``.
    return_files
        Also return, for each crop, the file name of its photo.

    Returns
    -------
    Tensor, shape (n, 3 or 1, size, size), float32 in [0, 1]
        And, with ``return_files``, a list of ``n`` file names.
    """
    for label, value in (("n", n), ("size", size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{label} must be a positive integer, got {value!r}.")
    crop = size if crop is None else crop
    if isinstance(crop, bool) or not isinstance(crop, int) or crop < 1:
        raise ValueError(f"crop must be None or a positive integer, got {crop!r}.")
    files = photo_files(source)
    u = np.random.default_rng(seed).random((n, 3))  # rows are prefix-stable in n
    which = np.minimum((u[:, 0] * len(files)).astype(np.int64), len(files) - 1)
    patches: dict[int, list[tuple[int, np.ndarray]]] = {}  # crop side -> (row, patch)
    for i in range(n):
        img = _photo(str(files[which[i]]))
        h, w = img.shape[:2]
        c = min(crop, h, w)
        top = min(int(u[i, 1] * (h - c + 1)), h - c)
        left = min(int(u[i, 2] * (w - c + 1)), w - c)
        patches.setdefault(c, []).append((i, img[top : top + c, left : left + c]))
    out = torch.empty(n, 3, size, size)
    for c, group in patches.items():
        for s in range(0, len(group), 256):  # bounded memory for large n
            rows = [i for i, _ in group[s : s + 256]]
            batch = np.stack([p for _, p in group[s : s + 256]])  # (B, c, c, 3) uint8
            x = torch.from_numpy(batch).permute(0, 3, 1, 2).float().div_(255.0)
            if c != size:
                x = F.interpolate(x, size=(size, size), mode="area")
            out[rows] = x
    out = out.clamp_(0.0, 1.0)
    if gray:
        out = to_gray(out)
    if return_files:
        return out, [files[j].name for j in which]
    return out


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

    @classmethod
    def three(cls, std: float = 0.3) -> GaussianMixture2D:
        """Three components of unequal weights 0.5, 0.3, 0.2 at (-2, -1), (2, -1), (0, 2): a
        density whose modes differ in height (the ``"three-gaussians"`` toy dataset)."""
        return cls([[-2.0, -1.0], [2.0, -1.0], [0.0, 2.0]], std, weights=[0.5, 0.3, 0.2])

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
        """Score ``grad_x log p(x)`` at ``points`` ``(N, 2)``, in closed form: ``(N, 2)``."""
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


TOY_DATASETS: tuple[str, ...] = ("gaussians", "moons", "rings", "three-gaussians")
"""Names accepted by :func:`toy2d`."""

_TOY_NOISE = {"gaussians": 0.2, "moons": 0.05, "rings": 0.05, "three-gaussians": 0.3}


def toy2d(name: str, n: int, *, seed: int = 0, noise: float | None = None) -> Tensor:
    """Sample a 2-D toy point cloud.

    Parameters
    ----------
    name
        ``"gaussians"``: :meth:`GaussianMixture2D.circle` (8 components on a circle of radius
        2, ``noise`` = component std, default 0.2); ``"three-gaussians"``:
        :meth:`GaussianMixture2D.three` (unequal weights, std 0.3); ``"moons"``: scikit-learn
        ``make_moons``
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
    if name == "three-gaussians":
        return GaussianMixture2D.three(std=noise).sample(n, seed=seed)
    from sklearn.datasets import make_circles, make_moons

    if name == "moons":
        x, _ = make_moons(n_samples=n, noise=noise, random_state=seed)
    else:
        x, _ = make_circles(n_samples=n, noise=noise, factor=0.5, random_state=seed)
    return torch.as_tensor(x, dtype=torch.float32)
