"""Which models each chapter of the book trains, at each scale.

:func:`chapter_configs` lists the configurations a chapter passes to :func:`lvf.train.trained`
(and :func:`lvf.train.trained_lm`) at a scale, so that ``lvf train ch06 --scale paper`` can
train them ahead of the chapter, on a cluster if need be, and the chapter then reads them
from the cache.

How exact it is: the *numbers* (epochs, sizes, bottlenecks, seeds, the constants such as
``K`` or ``NOISE``) are read from the chapter's own source — the ``S = lvf.pick(...)`` cell
and its upper-case constants, evaluated at the requested scale — so they cannot drift from
the chapter. The *structure* (which variants a chapter trains: ch01's roles, ch04's DAEs,
linear and tied models, ch06's extra CIFAR-10 model...) is written out below, mirroring the
chapters' code cells; a chapter that adds a model must add it here too. A model the registry
misses is simply trained by the chapter itself, through the same cache.
"""

from __future__ import annotations

import ast
import contextlib
import math
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from lvf.train.autoencoders import TrainConfig, seeded

__all__ = ["CHAPTERS", "book_configs", "chapter_configs", "chapter_file", "training_status"]

CHAPTERS: tuple[str, ...] = tuple(f"ch{i:02d}" for i in range(1, 13))
"""Chapter names accepted by :func:`chapter_configs` and ``lvf train``."""

# Calls allowed while evaluating a chapter's settings: cheap and without side effects.
_SAFE_CALLS = {"pick", "seeds", "dict", "list", "tuple", "range", "max", "min", "len", "int"}


@contextlib.contextmanager
def _at_scale(scale: str) -> Iterator[None]:
    """Set ``LVF_SCALE`` for the duration (``lvf.pick`` and ``seeds`` read it)."""
    from lvf.book.scales import SCALES

    if scale not in SCALES:
        raise ValueError(f"Unknown scale {scale!r}; use one of {', '.join(SCALES)}.")
    old = os.environ.get("LVF_SCALE")
    os.environ["LVF_SCALE"] = scale
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("LVF_SCALE", None)
        else:
            os.environ["LVF_SCALE"] = old


def chapter_file(chapter: str) -> Path:
    """The MyST source ``book/<chapter>_*.md`` of ``chapter`` (e.g. ``"ch06"``).

    Raises
    ------
    FileNotFoundError
        Outside a checkout of the repository (the chapters are not installed with ``lvf``).
    """
    if chapter not in CHAPTERS:
        raise ValueError(f"Unknown chapter {chapter!r}; use one of {', '.join(CHAPTERS)}.")
    from lvf.cache import project_roots

    for root in project_roots():
        found = sorted((root / "book").glob(f"{chapter}_*.md"))
        if found:
            return found[0]
    raise FileNotFoundError(
        f"No book/{chapter}_*.md found above {Path.cwd()} or the lvf package: the list of a "
        "chapter's models is read from its source. Run this from a checkout of the repository."
    )


def _code_cells(text: str) -> Iterator[str]:
    for m in re.finditer(r"^```\{code-cell\}[^\n]*\n(.*?)^```", text, re.M | re.S):
        lines = [ln for ln in m.group(1).splitlines() if not ln.startswith(":")]
        yield "\n".join(lines)


def _is_setting(stmt: ast.stmt) -> bool:
    """``NAME = <cheap expression>`` with an upper-case name, or ``S[...] = ...``."""
    if not isinstance(stmt, ast.Assign) or len(stmt.targets) != 1:
        return False
    target = stmt.targets[0]
    if isinstance(target, ast.Subscript):
        ok = isinstance(target.value, ast.Name) and target.value.id == "S"
    else:
        ok = isinstance(target, ast.Name) and target.id.isupper()
    if not ok:
        return False
    for node in ast.walk(stmt.value):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", None)
            if name not in _SAFE_CALLS:
                return False
    return True


def chapter_settings(chapter: str, scale: str) -> dict[str, Any]:
    """The chapter's ``S`` and upper-case constants (``SEEDS``, ``K``, ...) at ``scale``.

    Only top-level assignments of cheap expressions are evaluated (``lvf.pick``, ``seeds``,
    literals, ``max``/``min``); anything else in the chapter is not run.
    """
    import lvf
    from lvf.book.scales import pick, seeds

    ns: dict[str, Any] = {"lvf": lvf, "pick": pick, "seeds": seeds, "math": math}
    text = chapter_file(chapter).read_text(encoding="utf-8")
    with _at_scale(scale):
        for cell in _code_cells(text):
            try:
                tree = ast.parse(cell)
            except SyntaxError:  # IPython magics
                continue
            for stmt in tree.body:
                if _is_setting(stmt):
                    try:
                        exec(compile(ast.Module([stmt], []), chapter, "exec"), ns)  # noqa: S102
                    except Exception:  # noqa: BLE001 - a setting we cannot evaluate is skipped
                        pass
        ns.setdefault("SEEDS", seeds())
    return ns


# --- the chapters' models, mirroring their code cells ------------------------------------


def _ch01_config(
    S: dict,
    *,
    k: int = 2,
    sigma: float = 0.3,
    weight_decay: float = 1e-4,
    seed: int = 0,
    epochs: int | None = None,
) -> TrainConfig:
    """Chapter 1's denoising MLP autoencoder of the eight Gaussian blobs (``train_toy_ae``):
    the main model with the defaults, its roles with one argument changed. ``epochs`` is
    replaced after construction, as the chapter does, so the learning-rate step stays the
    one of ``S["epochs"]`` (it is part of the cache key)."""
    base = TrainConfig(
        model="mlp",
        model_kwargs=dict(in_dim=2, k=k, hidden=(128, 128), activation="silu"),
        dataset="toy:gaussians",
        n_train=S["n_train"],
        epochs=S["epochs"],
        batch_size=256,
        lr=2e-3,
        weight_decay=weight_decay,
        noise_std=sigma,
    )
    return seeded(base if epochs is None else replace(base, epochs=epochs), seed)


def _ch01(ns: dict[str, Any]) -> list:
    S = ns["S"]

    def toy(**kw):
        return _ch01_config(S, **kw)

    roles = [{}, dict(epochs=0), dict(sigma=0.0), dict(weight_decay=0.0), dict(weight_decay=1e-2)]
    out = [toy(), toy(epochs=0), toy(weight_decay=0.0), toy(weight_decay=1e-2)]
    out += [toy(sigma=0.0), toy(k=1)]
    out += [toy(seed=s, **kw) for s in ns["SEEDS"] for kw in roles]
    return out + [toy(sigma=0.1), toy(sigma=0.8)]


def _mnist_2d_config(S: dict) -> TrainConfig:
    """Chapter 2's model: the Table-4 conv autoencoder with ``k = 2`` on MNIST."""
    return TrainConfig(
        model="conv",
        model_kwargs={"in_channels": 1, "k": 2},
        dataset="mnist",
        epochs=S["epochs"],
        n_train=S["n_train"],
        batch_size=S["batch"],
        lr_step=S["lr_step"],
    )


def _ch02(ns: dict[str, Any]) -> list:
    config = _mnist_2d_config(ns["S"])
    trial = replace(config, batch_size=128, epochs=ns["S"]["trial_epochs"], lr_step=1)
    return [seeded(config, s) for s in ns["SEEDS"]] + [trial]


def _toy_config(S: dict, dataset: str, hidden: tuple | None = None, k: int = 2) -> TrainConfig:
    """Chapter 4's MLP autoencoder of a toy density (``noise_std`` set: its DAE)."""
    return TrainConfig(
        model="mlp",
        dataset=f"toy:{dataset}",
        n_train=S["n_train"],
        epochs=S["epochs"],
        lr=2e-3,
        model_kwargs=dict(in_dim=2, k=k, hidden=S["hidden"] if hidden is None else hidden,
                          activation="relu"),
    )  # fmt: skip


def _ch04(ns: dict[str, Any]) -> list:
    S, seeds_ = ns["S"], ns["SEEDS"]

    def config(dataset, hidden=None, k=2):
        return _toy_config(S, dataset, hidden, k)

    def shallow(tied, s, noise=0.2):
        cfg = TrainConfig(
            model="tied",
            model_kwargs=dict(in_dim=2, hidden=S["tied_hidden"], activation="tanh", tied=tied),
            dataset="toy:three-gaussians",
            n_train=S["n_train"],
            epochs=S["tied_epochs"],
            lr=3e-3,
            noise_std=noise,
        )
        return seeded(cfg, s)

    names = ns.get("DATASETS", ("gaussians", "moons", "rings"))
    out = [seeded(replace(config(n), noise_std=ns["NOISE"]), s) for s in seeds_ for n in names]
    out.append(config("gaussians"))
    out += [seeded(config("gaussians", hidden=(), k=k), s) for s in seeds_ for k in (2, 1)]
    return out + [shallow(True, s) for s in seeds_] + [shallow(False, seeds_[0])]


def _weight_decay_config(S: dict, k: int, weight_decay: float) -> TrainConfig:
    """ch05: the narrow Table-4 conv AE on MNIST at one weight decay, checkpoints saved."""
    return TrainConfig(
        model="conv",
        dataset="mnist",
        epochs=S["epochs"],
        n_train=S["n_train"],
        model_kwargs=dict(k=k, width=S["width"]),
        batch_size=S["batch_size"],
        weight_decay=weight_decay,
        save_epochs=S["save"],
    )


def _ch05(ns: dict[str, Any]) -> list:
    S = ns["S"]
    return [seeded(_weight_decay_config(S, ns["K"], wd), s) for s in ns["SEEDS"] for wd in S["wds"]]


def _memorization_config(S: dict, tt: Any, k: int) -> TrainConfig:
    """ch06/ch07: the same number of optimizer steps on every training set."""
    epochs = S["epochs"] or max(1, round(S["steps"] / math.ceil(tt.n_train / S["batch"])))
    return TrainConfig(
        model="conv",
        dataset=tt.dataset,
        n_train=tt.n_train,
        epochs=epochs,
        batch_size=S["batch"],
        lr=S["lr"],
        weight_decay=S["cifar_wd"] if tt.dataset.startswith("cifar10") else 1e-4,
        model_kwargs=dict(in_channels=_channels(tt.dataset), k=k),
    )


def _ch06(ns: dict[str, Any]) -> list:
    from lvf import data

    S = ns["S"]
    names = ns.get("DATASETS", ["mnist", "fashion-mnist", "cifar10"])
    splits = {n: data.train_test(n, S["n_train"], S["n_test"]) for n in names}
    out = [
        seeded(_memorization_config(S, splits[n], k), s)
        for n in names
        for k in S["ks"]
        for s in ns["SEEDS"]
    ]
    if "cifar10" in splits:
        out.append(replace(_memorization_config(S, splits["cifar10"], 32), weight_decay=1e-4))
    return out


def _ch07(ns: dict[str, Any]) -> list:
    from lvf import data

    S = ns["S"]
    largest = None if None in S["sizes"] else max(S["sizes"])
    out = []
    for name in ns.get("DATASETS", ["mnist", "fashion-mnist", "cifar10"]):
        source = data.train_test(name, largest, S["n_test"]).dataset
        sets = {}
        for n in S["sizes"]:
            tt = data.train_test(source, n, S["n_test"])
            sets[tt.n_train] = tt
        for tt in sets.values():
            cfg = _memorization_config(S, tt, ns["K"])
            out += [seeded(cfg, s) for s in ns["SEEDS"]]
    return out


def _mnist_dynamics(S: dict, k: int) -> TrainConfig:
    return TrainConfig(
        model="conv",
        dataset="mnist",
        epochs=S["epochs"],
        model_kwargs=dict(k=k, width=S["width"]),
        n_train=S["n_train"],
        batch_size=S["batch_size"],
        save_epochs=S["save"],
    )


def _ch08(ns: dict[str, Any]) -> list:
    return [seeded(_mnist_dynamics(ns["S"], k), s) for k in (128, 2) for s in ns["SEEDS"]]


def _ch09(ns: dict[str, Any]) -> list:
    return [seeded(_mnist_dynamics(ns["S"], 128), s) for s in ns["SEEDS"]]


def _standins(ns: dict[str, Any]) -> list:
    from lvf.book.standins import book_autoencoder

    return [seeded(book_autoencoder(), s) for s in ns["SEEDS"]]


def _ch12(ns: dict[str, Any]) -> list:
    from lvf.models.tinylm import TinyLMConfig

    lms = [
        TinyLMConfig(arch=arch, steps=ns["S"]["lm_steps"], seed=s)
        for s in ns["SEEDS"]
        for arch in ("qwen3", "llama")
    ]
    return lms + _standins(ns)


_BUILDERS: dict[str, Callable[[dict[str, Any]], list] | None] = {
    "ch01": _ch01,
    "ch02": _ch02,
    "ch03": None,  # untrained networks only
    "ch04": _ch04,
    "ch05": _ch05,
    "ch06": _ch06,
    "ch07": _ch07,
    "ch08": _ch08,
    "ch09": _ch09,
    "ch10": _standins,
    "ch11": _standins,
    "ch12": _ch12,
}


def _channels(dataset: str) -> int:
    from lvf import data

    spec = data._spec(dataset)
    return 1 if spec.gray or spec.base in ("mnist", "fashion-mnist") else 3


def _unique(configs: list) -> list:
    seen: set = set()
    out = []
    for c in configs:
        if c not in seen:
            seen.add(c)
            out.append(c)
    return out


def chapter_configs(chapter: str, scale: str | None = None) -> list:
    """The configurations ``chapter`` trains at ``scale``, without duplicates, in order.

    Parameters
    ----------
    chapter
        ``"ch01"`` ... ``"ch12"`` (:data:`CHAPTERS`).
    scale
        ``"tiny"``, ``"book"`` or ``"paper"``; ``None``: the current ``LVF_SCALE``.

    Returns
    -------
    list
        :class:`~lvf.train.TrainConfig` (for :func:`~lvf.train.trained`) and, for ch12,
        :class:`~lvf.models.tinylm.TinyLMConfig` (for :func:`~lvf.train.trained_lm`). Chapters
        that share models (ch08 and ch09; ch10, ch11 and ch12) list them each.
    """
    from lvf.book.scales import current_scale

    scale = scale or current_scale()
    chapter_file(chapter)  # validates the name, needs the checkout
    builder = _BUILDERS[chapter]
    if builder is None:
        return []
    ns = chapter_settings(chapter, scale)
    with _at_scale(scale):
        return _unique(builder(ns))


def book_configs(scale: str | None = None) -> dict[str, list]:
    """``{chapter: chapter_configs(chapter, scale)}`` for every chapter of :data:`CHAPTERS`."""
    return {ch: chapter_configs(ch, scale) for ch in CHAPTERS}


def training_status(scale: str | None = None, chapters: tuple[str, ...] = CHAPTERS):
    """Has each model the book trains reached a plateau? Read from the cache, never trained.

    For every configuration of :func:`chapter_configs` whose model is in the cache, the
    plateau measure :func:`lvf.train.loss_drop` of its training loss (per epoch for the
    autoencoders; for the tiny language models, per step averaged over windows of a
    twentieth of the run, since single steps are noisy).

    Returns
    -------
    pandas.DataFrame
        One row per (chapter, model): ``chapter``, ``model`` (the cache file's name),
        ``steps``, ``final_loss``, ``loss_drop``, ``plateau`` (``loss_drop`` below
        :data:`lvf.train.PLATEAU`). Models missing from the cache are left out.
    """
    import pandas as pd

    from lvf.train.autoencoders import PLATEAU, loss_drop, n_steps

    rows = []
    for chapter in chapters:
        for config in chapter_configs(chapter, scale):
            if isinstance(config, TrainConfig):
                entry = config._entry()
                content = entry.load()
                if content is None:
                    continue
                losses, window, steps = content["history"]["loss"], 1, n_steps(config)
            else:  # a tiny language model: one loss per optimizer step
                from lvf.train.lm import _entry

                entry = _entry(config)
                content = entry.load()
                if content is None:
                    continue
                losses = content["losses"]
                window, steps = max(1, len(losses) // 20), len(losses)
            if not len(losses):  # an untrained reference (0 epochs): nothing to judge
                continue
            drop = loss_drop(losses, window)
            rows.append(
                {
                    "chapter": chapter,
                    "model": entry.path.stem,
                    "steps": steps,
                    "final_loss": float(losses[-1]) if len(losses) else math.nan,
                    "loss_drop": drop,
                    "plateau": bool(drop < PLATEAU),
                }
            )
    columns = ["chapter", "model", "steps", "final_loss", "loss_drop", "plateau"]
    return pd.DataFrame(rows, columns=columns)
