"""Compute scales: one switch that sizes every experiment in the book.

The book runs at three scales, chosen with the environment variable ``LVF_SCALE``:

``"tiny"``
    Seconds per chapter. Used by the test-suite and CI smoke runs; numbers are not meaningful.
``"book"`` (default)
    Minutes per chapter on a laptop CPU. What the published book is built with.
``"paper"``
    The paper's settings (e.g. 500 epochs, full datasets). Needs a GPU and hours.

A chapter states its sizes once, for all three scales::

    cfg = lvf.pick(tiny=dict(epochs=1), book=dict(epochs=20), paper=dict(epochs=500))

The number of CPU threads torch uses is the second switch, ``LVF_THREADS`` (see
:func:`configure_threads`); every chapter calls it once.
"""

from __future__ import annotations

import os
from typing import TypeVar

__all__ = ["SCALES", "configure_threads", "current_scale", "pick", "seeds"]

SCALES: tuple[str, ...] = ("tiny", "book", "paper")
"""The valid values of ``LVF_SCALE``, smallest first."""

_DEFAULT = "book"

T = TypeVar("T")


def current_scale() -> str:
    """Return the scale selected by the environment variable ``LVF_SCALE``.

    Returns
    -------
    str
        One of :data:`SCALES`; ``"book"`` when ``LVF_SCALE`` is unset or empty.

    Raises
    ------
    ValueError
        If ``LVF_SCALE`` holds anything else.
    """
    value = os.environ.get("LVF_SCALE", "").strip().lower() or _DEFAULT
    if value not in SCALES:
        raise ValueError(
            f"LVF_SCALE={os.environ.get('LVF_SCALE')!r} is not a valid scale; "
            f"set it to one of {', '.join(SCALES)} (or unset it for {_DEFAULT!r})."
        )
    return value


def pick(*, tiny: T, book: T, paper: T) -> T:
    """Return the argument that belongs to the current scale.

    Parameters
    ----------
    tiny, book, paper
        The value to use at each scale (any object, typically a ``dict`` of settings).

    Returns
    -------
    The value passed for :func:`current_scale`.

    Examples
    --------
    >>> n_train = pick(tiny=512, book=10_000, paper=None)  # doctest: +SKIP
    """
    return {"tiny": tiny, "book": book, "paper": paper}[current_scale()]


def seeds() -> list[int]:
    """The seeds every experiment on a trained network repeats over: 3 at ``book`` and
    ``paper`` scale, 2 at ``tiny`` (the fewest a verdict's interval needs,
    :func:`lvf.book.verdicts.judge`). A seed ``s`` sets both the initialisation and the draw of
    the training data (:func:`lvf.train.seeded`)."""
    return list(range(pick(tiny=2, book=3, paper=3)))


def configure_threads() -> int:
    """Set torch's CPU thread count from ``LVF_THREADS``, flush denormal numbers to zero, and
    return the thread count in use.

    Flushing denormals (``torch.set_flush_denormal(True)``, x86 CPUs with SSE3) matters on a
    CPU: after a few thousand optimizer steps the book's ReLU autoencoders carry weights and
    activations below 1e-38, and arithmetic on such numbers is slow in hardware. We measured
    a training step of the ch08 model 4.5x faster with flushing (0.26 s → 0.058 s on one
    thread); it changes values only below 1e-38.

    Unset or empty, torch's own default stays (one thread per physical core): the fastest
    choice on a machine that runs nothing else (on 2 cores, two threads train the Table-4
    autoencoder about 1.6x faster than one). On a machine shared with other busy processes,
    ``LVF_THREADS=1`` is much faster: torch's threads spin-wait for each other, and with the
    cores taken we measured two threads 5-50x slower than one on the book's small convolutions.

    Raises
    ------
    ValueError
        If ``LVF_THREADS`` is not a positive integer.
    """
    import torch

    value = os.environ.get("LVF_THREADS", "").strip()
    if value:
        if not value.isdigit() or int(value) < 1:
            raise ValueError(
                f"LVF_THREADS={value!r} is not a positive integer; set it to the number of "
                "CPU threads torch may use (e.g. 1 on a busy shared machine), or unset it."
            )
        torch.set_num_threads(int(value))
    torch.set_flush_denormal(True)
    return torch.get_num_threads()
