"""Published checkpoints: fetch a missing model by its configuration key, or publish them.

A model missing from the cache is looked up, before it is trained, at
``<base URL>/<cache file name>`` (the name the cache uses, ``<model>-<dataset>-<key>.pt``).
The base URL is ``LVF_CHECKPOINTS_URL`` (default :data:`DEFAULT_URL`: the release assets of
the repository, release :func:`release_tag`). Every download is checked twice:

1. against the manifest ``<base URL>/checkpoints.json`` (:data:`MANIFEST`), which maps each
   file name to its sha256, size, format version and configuration: the file is streamed to a
   temporary file beside the cache entry, hashed on the way, and moved into place
   (:func:`os.replace`) only when the configuration and the sha256 match;
2. then by the cache's own checked load (:meth:`lvf.cache.Entry.load`: format, configuration,
   sha256 of the weights).

With no reachable manifest, for a file that is not published, or on any mismatch,
:func:`fetch` warns with a :class:`~lvf.cache.CacheWarning` saying which and why, keeps no bad
file, and returns ``False``: the caller trains the model instead. ``LVF_OFFLINE=1`` and
``LVF_CHECKPOINTS_URL=off`` (or empty) turn fetching off, without a warning: the reader asked
for it.

:func:`export` writes such a folder (files + manifest) from the cache; ``lvf checkpoints
export DIR`` runs it, and the Pages workflow uploads the folder as release assets.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from lvf.cache import CacheWarning, Entry, atomic_write, cache_dir, checksum

__all__ = [
    "DEFAULT_URL",
    "MANIFEST",
    "REPOSITORY",
    "TIMEOUT",
    "checkpoints_url",
    "export",
    "fetch",
    "load_or_fetch",
    "published",
    "release_tag",
]

REPOSITORY = "latent-vector-fields/lvf"
"""``owner/name`` of the repository on GitHub (``_config.yml``'s ``repository.url``)."""

MANIFEST = "checkpoints.json"
"""File name of the manifest beside the checkpoints."""

TIMEOUT = 10.0
"""Seconds to wait for the server (each connection and each read), not for the whole file."""

_OFF = ("", "0", "off", "no", "none", "false")
_MEMO: dict[str, Any] = {}  # base URL -> manifest dict or the reason it is unavailable
_WARNED: set[str] = set()  # one warning per process for "no manifest" and "offline"


def release_tag() -> str:
    """Name of the release holding the checkpoints of this :data:`~lvf.train.CACHE_VERSION`,
    e.g. ``"checkpoints-v2"``: a change of the version (new weights) gets a new release."""
    from lvf.train.autoencoders import CACHE_VERSION

    return f"checkpoints-v{CACHE_VERSION}"


def _default_url() -> str:
    return f"https://github.com/{REPOSITORY}/releases/download/{release_tag()}/"


DEFAULT_URL = _default_url()
"""Where :func:`fetch` looks when ``LVF_CHECKPOINTS_URL`` is unset."""


def checkpoints_url() -> str | None:
    """The base URL of published checkpoints, ending in ``/``, or ``None`` when fetching is off
    (``LVF_CHECKPOINTS_URL`` empty or ``off``, or ``LVF_OFFLINE=1``)."""
    if os.environ.get("LVF_OFFLINE", "") not in ("", "0"):
        return None
    url = os.environ.get("LVF_CHECKPOINTS_URL")
    if url is None:
        return DEFAULT_URL
    url = url.strip()
    if url.lower() in _OFF:
        return None
    return url if url.endswith("/") else url + "/"


def _warn_once(key: str, message: str) -> None:
    if key not in _WARNED:
        _WARNED.add(key)
        warnings.warn(message, CacheWarning, stacklevel=4)


def _forget() -> None:
    """Forget the manifests read and the warnings given in this process (for tests)."""
    _MEMO.clear()
    _WARNED.clear()


def _manifest(url: str) -> dict[str, Any] | None:
    """The manifest at ``url``, read once per process; ``None`` (and one warning) if absent."""
    if url not in _MEMO:
        try:
            with urllib.request.urlopen(url + MANIFEST, timeout=TIMEOUT) as r:
                manifest = json.loads(r.read().decode("utf-8"))
            if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
                raise ValueError("it has no 'files' mapping")
            _MEMO[url] = manifest
        except (OSError, ValueError) as err:  # URLError, HTTPError, timeouts, bad JSON
            _MEMO[url] = f"{type(err).__name__}: {err}"
    found = _MEMO[url]
    if isinstance(found, str):
        _warn_once(
            f"manifest {url}",
            f"No checkpoints available at {url}{MANIFEST} ({found}); models missing from the "
            "cache are trained here. Set LVF_CHECKPOINTS_URL to another server, or to 'off' to "
            "skip this check.",
        )
        return None
    return found


def _expected(entry: Entry) -> dict[str, Any]:
    return {"config": json.loads(entry.config), "version": entry.version}


def published(entry: Entry) -> bool:
    """Whether the manifest lists ``entry`` with its configuration (nothing is downloaded)."""
    url = checkpoints_url()
    manifest = _manifest(url) if url else None
    if manifest is None:
        return False
    item = manifest["files"].get(entry.path.name)
    return bool(item) and {k: item.get(k) for k in ("config", "version")} == _expected(entry)


def fetch(entry: Entry, *, progress: bool = True) -> bool:
    """Download the published file of ``entry`` into the cache, verified; ``True`` if done.

    Returns ``False`` at once when fetching is off (``LVF_OFFLINE=1``,
    ``LVF_CHECKPOINTS_URL=off``), and after a :class:`~lvf.cache.CacheWarning` that says why
    when the manifest cannot be read, the file is not published or is published for another
    configuration, the download fails, or its sha256 differs from the manifest's. Nothing is
    left in the cache then.
    """
    url = checkpoints_url()
    name = entry.path.name
    if url is None:  # asked for (LVF_OFFLINE=1 or LVF_CHECKPOINTS_URL=off): no warning
        return False
    manifest = _manifest(url)
    if manifest is None:
        return False
    item = manifest["files"].get(name)
    if not item:
        warnings.warn(
            f"{name} is not published at {url} (not in its {MANIFEST}); training it here.",
            CacheWarning,
            stacklevel=3,
        )
        return False
    got = {k: item.get(k) for k in ("config", "version")}
    if got != _expected(entry):
        warnings.warn(
            f"{name} at {url} was published for another configuration or format version than "
            f"the one requested (configuration mismatch); not using it, training it here.",
            CacheWarning,
            stacklevel=3,
        )
        return False
    entry.path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".download", dir=entry.path.parent)
    h = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as f, urllib.request.urlopen(url + name, timeout=TIMEOUT) as r:
            from tqdm.auto import tqdm

            from lvf.train.autoencoders import _progress_enabled

            total = int(r.headers.get("Content-Length") or 0) or None
            with tqdm(
                total=total,
                desc=f"downloading {name}",
                unit="B",
                unit_scale=True,
                leave=False,
                disable=not _progress_enabled(progress),
            ) as bar:
                while chunk := r.read(1 << 20):
                    f.write(chunk)
                    h.update(chunk)
                    bar.update(len(chunk))
            f.flush()
            os.fsync(f.fileno())
        if h.hexdigest() != item.get("sha256"):
            raise ValueError(
                f"sha256 mismatch: the download has {h.hexdigest()[:16]}..., the manifest says "
                f"{str(item.get('sha256'))[:16]}..."
            )
        os.replace(tmp, entry.path)
    except (OSError, ValueError) as err:
        Path(tmp).unlink(missing_ok=True)
        warnings.warn(
            f"Could not fetch {url}{name} ({type(err).__name__}: {err}); the download was "
            "discarded and the model is trained here.",
            CacheWarning,
            stacklevel=3,
        )
        return False
    return True


def load_or_fetch(entry: Entry, *, progress: bool = True) -> tuple[dict[str, Any] | None, bool]:
    """``(content, fetched)``: the cached content of ``entry``, fetched first if missing.

    ``content`` is ``None`` when the entry is neither cached nor fetchable (the caller builds
    it); a fetched file that fails the cache's checked load is deleted (it warned).
    """
    content = entry.load()
    if content is not None:
        return content, False
    if not fetch(entry, progress=progress):
        return None, False
    content = entry.load()
    if content is None:
        entry.path.unlink(missing_ok=True)
        return None, False
    return content, True


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _entry_of(config: Any) -> Entry:
    from lvf.train.autoencoders import TrainConfig

    if isinstance(config, TrainConfig):
        return config._entry()
    from lvf.train.lm import _FORMAT

    return Entry("models", f"tinylm-{config.arch}", config.to_dict(), version=_FORMAT)


def _current_version(name: str) -> int:
    from lvf.train.autoencoders import CACHE_VERSION
    from lvf.train.lm import _FORMAT

    return _FORMAT if name.startswith("tinylm-") else CACHE_VERSION


def _checked_file(path: Path) -> dict[str, Any]:
    """The manifest item of a cache file, after checking it as :meth:`Entry.load` would."""
    import torch

    payload = torch.load(path, map_location="cpu", weights_only=True)
    stem, _, key = path.stem.rpartition("-")
    config = json.loads(payload["config"])
    version = payload["version"]
    if version != _current_version(stem):
        raise ValueError(f"format {version}, current {_current_version(stem)}")
    if Entry("models", stem, config, version=version).key != key:
        raise ValueError("its configuration does not give the key in its name")
    if checksum(payload["content"]) != payload.get("sha256"):
        raise ValueError("the sha256 of its content does not match")
    return {"config": config, "version": version}


def export(dest: str | os.PathLike[str], configs: Iterable[Any] | None = None) -> Path:
    """Copy cached models into ``dest`` with a manifest, ready to publish; return the manifest.

    Parameters
    ----------
    dest
        Output folder (created). Files already there stay; the manifest lists the union of
        what it listed before and what is exported now.
    configs
        The models to export (:class:`~lvf.train.TrainConfig` or
        :class:`~lvf.models.tinylm.TinyLMConfig`), e.g. from
        :func:`lvf.train.registry.book_configs`; each must be cached. ``None``: every model
        file in ``cache_dir()/models`` of the current format versions whose checked load
        succeeds (stale or corrupted files are skipped with a warning).

    Returns
    -------
    pathlib.Path
        ``dest/checkpoints.json``: ``{"format": 1, "release": ..., "files": {name: {"sha256",
        "bytes", "version", "config"}}}``.

    Raises
    ------
    FileNotFoundError
        When a requested configuration is not cached (train it first: ``lvf train``).
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    if configs is None:
        paths = sorted((cache_dir() / "models").glob("*.pt"))
    else:
        paths = [_entry_of(c).path for c in configs]
        missing = [p.name for p in paths if not p.is_file()]
        if missing:
            raise FileNotFoundError(
                f"{len(missing)} of the {len(paths)} models to export are not cached (e.g. "
                f"{missing[0]}); train them first, e.g. with `lvf train all --scale ...`."
            )
    out = dest / MANIFEST
    files: dict[str, Any] = {}
    if out.is_file():
        files = json.loads(out.read_text(encoding="utf-8")).get("files", {})
    for path in dict.fromkeys(paths):
        try:
            item = _checked_file(path)
        except Exception as err:  # noqa: BLE001 - a bad cache file is not published
            if configs is not None:
                raise ValueError(f"The cached model {path} cannot be exported: {err}") from err
            warnings.warn(f"Not exporting {path.name}: {err}.", CacheWarning, stacklevel=2)
            continue
        shutil.copyfile(path, dest / path.name)
        sha = _sha256_file(dest / path.name)
        files[path.name] = {"sha256": sha, "bytes": path.stat().st_size, **item}
    manifest = {"format": 1, "release": release_tag(), "files": dict(sorted(files.items()))}
    text = json.dumps(manifest, indent=1, sort_keys=True).encode("utf-8")
    return atomic_write(out, lambda f: f.write(text))
