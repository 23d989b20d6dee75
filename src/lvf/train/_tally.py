"""What this process's calls of :func:`~lvf.train.trained` and :func:`~lvf.train.trained_lm`
did: which models were loaded from the cache, fetched from the published checkpoints or
trained, and the seconds spent training.

A chapter runs in its own kernel, so at its closing table (:func:`lvf.book.report.table`)
this is what the chapter did; the table stamps it on the chapter's run. A build can then say
how much of each chapter's time was training, i.e. what the chapter costs with a warm cache
or published checkpoints. Nothing here changes what is trained; it only counts.
"""

from __future__ import annotations

_STATUS: dict[str, str] = {}  # cache file name -> "cached" | "fetched" | "trained" (first wins)
_seconds = 0.0  # training seconds of the models trained in this process


def note(name: str, status: str, seconds: float = 0.0) -> None:
    """Count one call: model ``name`` (its cache file name) was ``status``; a trained model adds
    its training ``seconds``. A model asked for again keeps the status of its first call."""
    global _seconds
    if status not in ("cached", "fetched", "trained"):
        raise ValueError(f"status must be 'cached', 'fetched' or 'trained', got {status!r}")
    if name not in _STATUS:
        _STATUS[name] = status
        if status == "trained":
            _seconds += float(seconds)


def snapshot() -> dict[str, float | int]:
    """``{"models_cached", "models_fetched", "models_trained", "train_seconds"}`` so far in this
    process (distinct models)."""
    counts = {s: sum(v == s for v in _STATUS.values()) for s in ("cached", "fetched", "trained")}
    return {f"models_{s}": n for s, n in counts.items()} | {"train_seconds": round(_seconds, 1)}


def reset() -> None:
    """Forget everything counted (for tests)."""
    global _seconds
    _STATUS.clear()
    _seconds = 0.0
