"""Where lvf keeps its files, how it writes them safely, and the one cache of artefacts.

Everything the library trains or computes once and reuses (the book's autoencoders at every
scale, denoising ones included, the tiny language model, the gains of randomly initialised
backbones) is an :class:`Entry` of one cache: keyed by its full configuration, written
atomically with :func:`atomic_write`, checksummed, and rebuilt with a :class:`CacheWarning`
that says why when it is unreadable, stale or corrupted — never silently.

Environment variables
---------------------
``LVF_CACHE``
    Cache folder (trained models, decoded datasets). Default ``~/.cache/lvf``.
``LVF_DATA``
    A folder holding datasets in torchvision's layout (e.g. ``MNIST/raw/*.gz``). When set, it is
    the *only* place searched.
``LVF_CHECKPOINTS_URL``
    Base URL of published checkpoints (:mod:`lvf.train.hub`): a model missing from the cache is
    fetched from ``<URL>/<cache file name>``, verified against ``<URL>/checkpoints.json``,
    before it is trained. Default: the release ``checkpoints-v<CACHE_VERSION>`` of the
    repository on GitHub; empty or ``off`` turns fetching off, and so does ``LVF_OFFLINE=1``.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

__all__ = [
    "CacheWarning",
    "Entry",
    "atomic_write",
    "cache_dir",
    "checksum",
    "data_dirs",
    "project_roots",
]

_ROOT_MARKERS = ("pyproject.toml", "_toc.yml")


def cache_dir() -> Path:
    """Return the cache folder, creating it if needed.

    Returns
    -------
    pathlib.Path
        ``$LVF_CACHE`` if set, else ``~/.cache/lvf``.
    """
    env = os.environ.get("LVF_CACHE")
    path = Path(env).expanduser() if env else Path.home() / ".cache" / "lvf"
    path.mkdir(parents=True, exist_ok=True)
    return path


def project_roots() -> list[Path]:
    """Return the enclosing project folders of the working directory and of this package.

    A project folder is any ancestor (or the folder itself) that holds ``pyproject.toml`` or
    ``_toc.yml``. Both the current working directory and the location of this file are walked
    up, so an editable install and a notebook run from inside the checkout both find it.

    Returns
    -------
    list of pathlib.Path
        Distinct folders, nearest first, working-directory ancestors before package ancestors.
    """
    roots: list[Path] = []
    for start in (Path.cwd(), Path(__file__).resolve().parent):
        for folder in (start, *start.parents):
            if any((folder / m).is_file() for m in _ROOT_MARKERS) and folder not in roots:
                roots.append(folder)
    return roots


def data_dirs() -> list[Path]:
    """Return the folders searched for datasets, in order.

    The search order is how CI and development machines find the offline dataset copies
    without network access:

    1. If ``LVF_DATA`` is set, only that folder (whether or not it exists).
    2. Otherwise ``<cache_dir()>/data`` (i.e. ``$LVF_CACHE/data`` or ``~/.cache/lvf/data``),
       where downloads and writable copies go;
    3. then a ``shared/data`` folder beside or inside the enclosing project checkout: for each
       folder found by :func:`project_roots` (an ancestor of the working directory or of this
       file holding ``pyproject.toml`` or ``_toc.yml``), ``<root>/../shared/data`` and
       ``<root>/shared/data``, when they exist.

    Returns
    -------
    list of pathlib.Path
        Folders in search order, without duplicates. Folders in step 3 are listed only if they
        exist; the cache folder is always listed.
    """
    env = os.environ.get("LVF_DATA")
    if env:
        return [Path(env).expanduser()]
    dirs = [cache_dir() / "data"]
    for root in project_roots():
        for candidate in (root.parent / "shared" / "data", root / "shared" / "data"):
            candidate = candidate.resolve()
            if candidate.is_dir() and candidate not in dirs:
                dirs.append(candidate)
    return dirs


def atomic_write(path: str | os.PathLike[str], write_fn: Callable[[IO[bytes]], Any]) -> Path:
    """Write a file so that readers see either the old content or the complete new one.

    ``write_fn`` writes into a temporary file in the same folder; the file is flushed and
    fsynced, then moved over ``path`` with :func:`os.replace` (atomic on POSIX and Windows).
    If ``write_fn`` raises, the temporary file is removed and ``path`` is untouched.

    Parameters
    ----------
    path
        Destination file. Its parent folder is created if needed.
    write_fn
        Called once with a binary file object open for writing, e.g.
        ``lambda f: torch.save(obj, f)``.

    Returns
    -------
    pathlib.Path
        The destination path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write_fn(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:  # persist the rename itself; not possible on every platform
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return path
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)
    return path


class CacheWarning(UserWarning):
    """A cache entry was unreadable, stale or corrupted and is being rebuilt."""


def checksum(content: Any) -> str:
    """sha256 of a nested payload: dicts, lists, tuples, tensors, strings, numbers, ``None``.

    Tensors count with their dtype, shape and bytes (on the CPU); dict keys in sorted order.
    Two payloads that :func:`torch.save` would store identically have the same checksum.
    """
    import torch

    h = hashlib.sha256()

    def walk(x: Any, where: str) -> None:
        if isinstance(x, torch.Tensor):
            t = x.detach().cpu().contiguous()
            h.update(f"{where}:tensor/{t.dtype}/{tuple(t.shape)}".encode())
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
        elif isinstance(x, Mapping):
            h.update(f"{where}:dict/{len(x)}".encode())
            for k in sorted(x, key=str):
                walk(x[k], f"{where}/{k}")
        elif isinstance(x, list | tuple):
            h.update(f"{where}:list/{len(x)}".encode())
            for i, v in enumerate(x):
                walk(v, f"{where}/{i}")
        else:
            h.update(f"{where}:{type(x).__name__}={x!r}".encode())

    walk(content, "")
    return h.hexdigest()


class Entry:
    """One artefact of the cache: ``cache_dir()/<kind>/<name>-<key>.pt``.

    Parameters
    ----------
    kind
        Sub-folder, e.g. ``"models"`` or ``"contraction"``.
    name
        Readable prefix of the file name, e.g. ``"conv-mnist"``.
    config
        JSON-compatible mapping of *everything* that determines the artefact; the key is a hash
        of it and of ``version``, and it is stored in the file and compared on load.
    version
        Format version of this kind of artefact; bump it when the code that builds it changes
        its result, so stale entries are rebuilt.

    Examples
    --------
    >>> entry = Entry("models", "conv-mnist", {"k": 2}, version=1)  # doctest: +SKIP
    >>> content = entry.load()  # None when missing; warns and returns None when broken
    >>> if content is None:
    ...     content = entry.store({"state_dict": model.state_dict()})
    """

    def __init__(self, kind: str, name: str, config: Mapping[str, Any], *, version: int):
        self.config = json.dumps(config, sort_keys=True)
        self.version = int(version)
        text = json.dumps({"version": self.version, "config": self.config})
        self.key = hashlib.sha256(text.encode()).hexdigest()[:12]
        safe = name.replace(":", "-").replace("/", "-")
        self.path = cache_dir() / kind / f"{safe}-{self.key}.pt"

    def load(self) -> dict[str, Any] | None:
        """The stored content, or ``None`` when there is no entry or it cannot be trusted.

        An entry that exists but cannot be read, holds another configuration or version, or
        whose checksum does not match its content, is reported with a :class:`CacheWarning`
        (naming the file and the reason) and ``None`` is returned, so the caller rebuilds it.
        """
        if not self.path.exists():
            return None
        import torch

        try:
            payload = torch.load(self.path, map_location="cpu", weights_only=True)
            if payload.get("version") != self.version:
                raise ValueError(f"format {payload.get('version')!r}, expected {self.version}")
            if payload.get("config") != self.config:
                raise ValueError("the stored configuration differs from the requested one")
            if checksum(payload["content"]) != payload.get("sha256"):
                raise ValueError("the sha256 of the stored content does not match")
        except Exception as err:  # noqa: BLE001 - any unreadable entry is rebuilt, loudly
            warnings.warn(
                f"The cache entry {self.path} is unreadable, stale or corrupted "
                f"({type(err).__name__}: {err}); rebuilding it.",
                CacheWarning,
                stacklevel=3,
            )
            return None
        return payload["content"]

    def store(self, content: dict[str, Any]) -> dict[str, Any]:
        """Write ``content`` atomically with its configuration and checksum; return it."""
        import torch

        payload = {
            "version": self.version,
            "config": self.config,
            "content": content,
            "sha256": checksum(content),
            "torch_version": str(torch.__version__),
        }
        atomic_write(self.path, lambda f: torch.save(payload, f))
        return content
