"""Where lvf keeps its caches and looks for datasets, and how it writes files safely.

Environment variables
---------------------
``LVF_CACHE``
    Cache folder (trained models, decoded datasets). Default ``~/.cache/lvf``.
``LVF_DATA``
    A folder holding datasets in torchvision's layout (e.g. ``MNIST/raw/*.gz``). When set, it is
    the *only* place searched.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_write", "cache_dir", "data_dirs", "project_roots"]

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
