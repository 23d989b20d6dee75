"""Training autoencoders, each configuration once (the one cache, :class:`lvf.cache.Entry`).

The recipe is the paper's (App. D): Adam with learning rate 5e-4 and weight decay 1e-4 (L2
added to the gradient, ``torch.optim.Adam(weight_decay=...)``), a step learning-rate schedule
(``StepLR``: the rate is multiplied by ``lr_gamma`` every ``lr_step`` epochs), and the mean
squared reconstruction error. The batch size (128) and the schedule's step are the book's
choices where the paper is silent (the book's page "Where the paper is silent", sections
``choice-batch-size`` and ``choice-lr-schedule``).

:func:`fit` is a plain training loop. :func:`trained` builds, trains and caches a model
described by a :class:`TrainConfig` — a denoising autoencoder when its ``noise_std`` is
positive — or loads it from ``cache_dir()/models`` when it was trained before.
"""

from __future__ import annotations

import copy
import json
import math
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from lvf import data as _data
from lvf.cache import CacheWarning, Entry
from lvf.models import Denoising, build_model, model_class
from lvf.train import _tally

__all__ = [
    "CACHE_VERSION",
    "CacheWarning",
    "TrainConfig",
    "TrainedModel",
    "estimate_seconds",
    "fit",
    "seeded",
    "trained",
    "training_data",
]

CACHE_VERSION = 2
"""Part of every :meth:`TrainConfig.key`. Bump it whenever a change to the models, the data
pipeline or :func:`fit` would change the trained weights, so stale caches are not reused."""

StateDict = dict[str, Tensor]


def _freeze(value: Any) -> Any:
    """Lists -> tuples, recursively, so configuration values are hashable."""
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), _freeze(v)) for k, v in value.items()))
    return value


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """Everything that determines a trained model; hashable, with a stable :meth:`key`.

    Parameters
    ----------
    model
        Model name for :func:`lvf.models.build_model` (``"conv"`` or ``"mlp"``).
    dataset
        An image dataset of :data:`lvf.data.DATASETS` (e.g. ``"mnist"``) or ``"toy:<name>"``
        with a name of :data:`lvf.data.TOY_DATASETS` (e.g. ``"toy:gaussians"``).
    epochs
        Number of training epochs (0 = keep the initialisation).
    model_kwargs
        Constructor arguments of the model, as a mapping or as ``(key, value)`` pairs; stored as
        a sorted tuple of pairs (lists become tuples).
    n_train
        Size of the random training subset (``None``: the whole training split). Required for
        toy datasets, where it is the number of sampled points.
    batch_size, lr, weight_decay
        Mini-batch size and Adam's learning rate and weight decay (paper: 5e-4 and 1e-4).
    lr_step, lr_gamma
        ``StepLR`` schedule: multiply the rate by ``lr_gamma`` every ``lr_step`` epochs.
        ``lr_step=None`` means ``max(1, epochs // 3)``.
    seed
        Seed of the weight initialisation and of the mini-batch order.
    data_seed
        Seed of the training subset (image data) or of the sampled points (toy data); kept
        apart from ``seed`` so that several initialisations share the same data.
    save_epochs
        Epochs whose weights are kept in :attr:`TrainedModel.checkpoints` (0 = at
        initialisation), e.g. for training-dynamics plots.
    noise_std
        Standard deviation ``s`` of the Gaussian corruption of the inputs while training
        (the paper's Eq. 2): a positive value trains a denoising autoencoder
        (:class:`lvf.models.Denoising`), ``0`` a plain one. The noise is drawn from torch's
        generator seeded with ``seed``, after the initialisation.

    Examples
    --------
    >>> cfg = TrainConfig(model="conv", model_kwargs={"k": 2}, dataset="mnist", epochs=10)
    >>> cfg.lr_step
    3
    """

    model: str
    dataset: str
    epochs: int
    model_kwargs: tuple[tuple[str, Any], ...] = ()
    n_train: int | None = None
    batch_size: int = 128
    lr: float = 5e-4
    weight_decay: float = 1e-4
    lr_step: int | None = None
    lr_gamma: float = 0.5
    seed: int = 0
    data_seed: int = 0
    save_epochs: tuple[int, ...] = field(default=())
    noise_std: float = 0.0

    def __post_init__(self) -> None:
        def set_(name: str, value: Any) -> None:
            object.__setattr__(self, name, value)

        kwargs = self.model_kwargs
        set_("model_kwargs", _freeze(dict(kwargs) if not isinstance(kwargs, Mapping) else kwargs))
        model_class(self.model)  # validates the name
        _dataset_kind(self.dataset)  # validates the name
        for name in ("epochs", "batch_size", "seed", "data_seed"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int, got {value!r}.")
        if self.epochs < 0 or self.batch_size < 1:
            raise ValueError(
                f"Need epochs >= 0 and batch_size >= 1, got {self.epochs} and {self.batch_size}."
            )
        if self.n_train is not None and (isinstance(self.n_train, bool) or self.n_train < 1):
            raise ValueError(f"n_train must be None or a positive int, got {self.n_train!r}.")
        if self.n_train is None and self.dataset.startswith("toy:"):
            raise ValueError(f"dataset {self.dataset!r} needs n_train (the number of points).")
        for name in ("lr", "weight_decay", "lr_gamma", "noise_std"):
            set_(name, float(getattr(self, name)))
        if not self.noise_std >= 0:
            raise ValueError(f"noise_std must be >= 0, got {self.noise_std!r}.")
        if not (self.lr > 0 and self.weight_decay >= 0 and 0 < self.lr_gamma <= 1):
            raise ValueError(
                f"Need lr > 0, weight_decay >= 0 and 0 < lr_gamma <= 1; got lr={self.lr}, "
                f"weight_decay={self.weight_decay}, lr_gamma={self.lr_gamma}."
            )
        if self.lr_step is None:
            set_("lr_step", max(1, self.epochs // 3))
        elif (
            isinstance(self.lr_step, bool) or not isinstance(self.lr_step, int) or self.lr_step < 1
        ):
            raise ValueError(f"lr_step must be None or a positive int, got {self.lr_step!r}.")
        save = tuple(sorted(set(int(e) for e in self.save_epochs)))
        bad = [e for e in save if not 0 <= e <= self.epochs]
        if bad:
            raise ValueError(f"save_epochs {bad} are outside 0..epochs={self.epochs}.")
        set_("save_epochs", save)

    def to_dict(self) -> dict[str, Any]:
        """The configuration as plain JSON-compatible data."""
        return json.loads(self.to_json())

    def to_json(self) -> str:
        """Canonical JSON text of the configuration (sorted keys)."""
        return json.dumps(asdict(self), sort_keys=True)

    def key(self) -> str:
        """A short hash of the full configuration and :data:`CACHE_VERSION`.

        Stable across processes and machines; any change of a field gives another key.
        """
        return self._entry().key

    def _entry(self) -> Entry:
        prefix = "dae-" if self.noise_std > 0 else ""
        name = f"{prefix}{self.model}-{self.dataset}"
        return Entry("models", name, self.to_dict(), version=CACHE_VERSION)

    def build(self) -> nn.Module:
        """A freshly initialised model, ``build_model(model, **model_kwargs)``."""
        return build_model(self.model, **dict(self.model_kwargs))

    def fit_kwargs(self) -> dict[str, Any]:
        """The settings :func:`fit` takes from this configuration (schedule, optimiser, seed)."""
        return dict(
            epochs=self.epochs,
            batch_size=self.batch_size,
            lr=self.lr,
            weight_decay=self.weight_decay,
            lr_step=self.lr_step,
            lr_gamma=self.lr_gamma,
            seed=self.seed,
        )

    def cache_path(self) -> Path:
        """Where :func:`trained` caches this configuration."""
        return self._entry().path


def _dataset_kind(dataset: str) -> str:
    if dataset.startswith("toy:"):
        if dataset[4:] not in _data.TOY_DATASETS:
            raise ValueError(
                f"Unknown toy dataset {dataset!r}; use one of "
                + ", ".join(f"'toy:{n}'" for n in _data.TOY_DATASETS)
                + "."
            )
        return "toy"
    if dataset.lower() not in _data.DATASETS:
        raise ValueError(
            f"Unknown dataset {dataset!r}; use one of {', '.join(_data.DATASETS)} "
            f"or 'toy:<name>' with a name in {', '.join(_data.TOY_DATASETS)}."
        )
    return "image"


def seeded(config: TrainConfig, seed: int) -> TrainConfig:
    """``config`` repeated with another seed: ``seed`` sets both the initialisation and
    mini-batch order (:attr:`TrainConfig.seed`) and the draw of the training data
    (:attr:`TrainConfig.data_seed`). Seed 0 is ``config`` itself when both seeds are 0.

    >>> seeded(TrainConfig(model="conv", dataset="mnist", epochs=1), 2).data_seed
    2
    """
    return replace(config, seed=seed, data_seed=seed)


def training_data(config: TrainConfig) -> Tensor:
    """The training inputs of ``config``, exactly as :func:`trained` uses them.

    Returns
    -------
    Tensor
        ``(n_train, C, 32, 32)`` images for image datasets, ``(n_train, 2)`` points for toy
        datasets; float32, on the CPU.
    """
    if _dataset_kind(config.dataset) == "toy":
        return _data.toy2d(config.dataset[4:], config.n_train, seed=config.data_seed)
    images, _ = _data.load(config.dataset, "train", config.n_train, seed=config.data_seed)
    return images


def _progress_enabled(progress: bool) -> bool:
    return progress and os.environ.get("LVF_PROGRESS", "1").strip() not in ("0", "false", "no")


def fit(
    model: nn.Module,
    x_train: Tensor,
    *,
    epochs: int,
    batch_size: int = 128,
    lr: float = 5e-4,
    weight_decay: float = 1e-4,
    lr_step: int | None = None,
    lr_gamma: float = 0.5,
    seed: int = 0,
    callback: Callable[[int, nn.Module, dict[str, list[float]]], None] | None = None,
    progress: bool = True,
) -> dict[str, list[float]]:
    """Train an autoencoder to reconstruct ``x_train`` (mean squared error).

    Adam with L2 weight decay, ``StepLR`` stepped once per epoch, and a reshuffle of the data
    every epoch from a ``torch.Generator`` seeded with ``seed``. On the CPU the same inputs,
    initial weights and seed give bit-identical weights; on a GPU results can differ in the
    last bits from run to run (non-deterministic kernels).

    Parameters
    ----------
    model
        Module mapping a batch ``(B, *x_shape)`` to its reconstruction of the same shape.
        Trained in place, on the device of its parameters.
    x_train : Tensor, shape (N, *x_shape)
        Training inputs; moved to the model's device once.
    epochs
        Number of passes over the data.
    batch_size, lr, weight_decay, lr_step, lr_gamma, seed
        See :class:`TrainConfig`. ``lr_step=None`` means ``max(1, epochs // 3)``.
    callback
        Called as ``callback(epoch, model, history)`` after every epoch, ``epoch`` counting from
        1, with ``history`` already holding that epoch's values.
    progress
        Show a tqdm progress bar over epochs (also turned off by ``LVF_PROGRESS=0``).

    Returns
    -------
    dict
        ``"loss"``: mean training loss of each epoch (average over the epoch's mini-batches,
        weighted by batch size); ``"lr"``: the learning rate used in each epoch; ``"time"``:
        wall-clock seconds of each epoch. Each a list of length ``epochs``.
        The model is left in eval mode.
    """
    if x_train.ndim < 2 or len(x_train) == 0:
        raise ValueError(
            f"x_train must have shape (N, ...) with N >= 1, got {tuple(x_train.shape)}."
        )
    if lr_step is None:
        lr_step = max(1, epochs // 3)
    params = list(model.parameters())
    device = params[0].device if params else x_train.device
    x = x_train.to(device)
    n = len(x)
    opt = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=lr_step, gamma=lr_gamma)
    gen = torch.Generator().manual_seed(seed)
    history: dict[str, list[float]] = {"loss": [], "lr": [], "time": []}

    bar = tqdm(
        range(1, epochs + 1),
        desc="training",
        unit="epoch",
        leave=False,
        disable=not _progress_enabled(progress),
    )
    model.train()
    for epoch in bar:
        start = time.perf_counter()
        order = torch.randperm(n, generator=gen).to(device)
        total = torch.zeros((), device=device)
        for i in range(0, n, batch_size):
            batch = x[order[i : i + batch_size]]
            loss = F.mse_loss(model(batch), batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.detach() * len(batch)
        history["lr"].append(opt.param_groups[0]["lr"])
        sched.step()
        history["loss"].append(total.item() / n)
        history["time"].append(time.perf_counter() - start)
        bar.set_postfix(loss=f"{history['loss'][-1]:.4g}")
        if callback is not None:
            model.eval()
            callback(epoch, model, history)
            model.train()
    bar.close()
    model.eval()
    return history


@dataclass
class TrainedModel:
    """A trained model with its configuration, training history and saved checkpoints.

    Attributes
    ----------
    model : torch.nn.Module
        The model after the last epoch, in eval mode.
    config : TrainConfig
    history : dict
        ``"loss"``, ``"lr"``, ``"time"`` per epoch (see :func:`fit`), and ``"train_seconds"``
        (a one-element list, the total training time).
    checkpoints : dict of int to state dict
        Weights (on the CPU) at each epoch of ``config.save_epochs``.
    path : pathlib.Path
        The cache file.
    from_cache : bool
        Whether the model was loaded from the cache rather than trained in this call.
    fetched : bool
        Whether it was downloaded in this call from the published checkpoints
        (:mod:`lvf.train.hub`); then ``from_cache`` is true as well.
    """

    model: nn.Module
    config: TrainConfig
    history: dict[str, list[float]]
    checkpoints: dict[int, StateDict]
    path: Path
    from_cache: bool = False
    fetched: bool = False

    def load_epoch(self, epoch: int) -> nn.Module:
        """A new model holding the weights saved at ``epoch``, in eval mode, on the device of
        :attr:`model`. ``epoch == config.epochs`` (the final weights) is always available."""
        if epoch not in self.checkpoints:
            if epoch == self.config.epochs:
                return copy.deepcopy(self.model).eval()
            raise KeyError(
                f"No checkpoint for epoch {epoch}; saved epochs are {sorted(self.checkpoints)}. "
                "Add it to TrainConfig.save_epochs to keep it."
            )
        model = self.config.build()
        model.load_state_dict(self.checkpoints[epoch])
        device = next(self.model.parameters()).device
        return model.to(device).eval()


def _cpu_state(model: nn.Module) -> StateDict:
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


def n_steps(config: TrainConfig) -> int:
    """Optimizer steps of training ``config``: ``epochs * ceil(n_train / batch_size)``
    (``n_train=None``: the size of the dataset's training split here)."""
    n = config.n_train
    if n is None:
        n = _data._sizes(config.dataset)[0]
    return config.epochs * math.ceil(n / config.batch_size)


PLATEAU = 0.05
"""The book's plateau rule: training has reached a plateau when its loss fell by less than
this fraction over the last quarter of the run (:func:`loss_drop`)."""


def loss_drop(losses: Sequence[float], window: int = 1) -> float:
    """How much the training loss still fell over the last quarter of a run, relative to its
    end: ``(L(3/4) - L(end)) / L(end)``, each ``L`` the mean of ``window`` consecutive values
    (1 for a per-epoch history; more for a noisy per-step one).

    0.12 means the loss at three quarters of the run was still 12 % above its final value;
    below :data:`PLATEAU` the run counts as having reached a plateau. NaN for an empty
    history or a final loss of 0.

    >>> round(loss_drop([4.0, 2.0, 1.2, 1.0]), 6)
    0.2
    >>> loss_drop([2.0, 1.0, 1.0, 1.0])  # flat over the last quarter: a plateau
    0.0
    """
    values = [float(v) for v in losses]
    if not values:
        return math.nan
    w = max(1, int(window))
    q = max(w, (3 * len(values)) // 4)
    at_q = sum(values[q - w : q]) / w
    end = sum(values[-w:]) / w
    return (at_q - end) / end if end > 0 else math.nan


def _input_shape(config: TrainConfig) -> tuple[int, ...]:
    if _dataset_kind(config.dataset) == "toy":
        return (2,)
    spec = _data._spec(config.dataset)
    return (1 if spec.gray or spec.base in ("mnist", "fashion-mnist") else 3, 32, 32)


_STEP_TIMES: dict[tuple, float] = {}


def estimate_seconds(
    config: TrainConfig, *, device: str | torch.device = "cpu", timed_steps: int = 3
) -> float:
    """An estimate of the seconds :func:`trained` needs to train ``config`` on ``device``.

    Times ``timed_steps`` optimizer steps (after one warm-up step) of a throwaway copy of the
    model on random inputs of the right shape, and multiplies by :func:`n_steps`. The time of a
    step is remembered per model, width, batch size and device, so estimating many
    configurations of one kind times it once. Data loading and per-epoch overhead are not
    counted: it is an estimate, typically within a factor of two. The caller's random state is
    left untouched.
    """
    steps = n_steps(config)
    if steps == 0:
        return 0.0
    device = torch.device(device)
    shape = _input_shape(config)
    kind = (config.model, config.model_kwargs, config.batch_size, shape, config.noise_std > 0)
    kind += (str(device),)
    if kind not in _STEP_TIMES:
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(0)
            model = config.build().to(device)
            learner = Denoising(model, config.noise_std) if config.noise_std > 0 else model
            opt = torch.optim.Adam(model.parameters(), lr=config.lr)
            batch = torch.rand(min(config.batch_size, 4096), *shape, device=device)
            learner.train()
            for i in range(timed_steps + 1):
                if i == 1:
                    if device.type == "cuda":
                        torch.cuda.synchronize(device)
                    start = time.perf_counter()
                loss = F.mse_loss(learner(batch), batch)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
        _STEP_TIMES[kind] = (time.perf_counter() - start) / timed_steps
    return steps * _STEP_TIMES[kind]


def format_seconds(seconds: float) -> str:
    """``"4 s"``, ``"3 min 20 s"``, ``"2 h 05 min"``: a duration for people."""
    s = round(seconds)
    if s < 60:
        return f"{max(s, 1)} s" if seconds > 0 else "0 s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def _from_cache(config: TrainConfig, content: dict, device: torch.device) -> TrainedModel:
    with torch.random.fork_rng(devices=[]):  # building must not move the caller's RNG
        model = config.build()
    model.load_state_dict(content["state_dict"])
    return TrainedModel(
        model=model.to(device).eval(),
        config=config,
        history=content["history"],
        checkpoints=content["checkpoints"],
        path=config.cache_path(),
        from_cache=True,
    )


def trained(
    config: TrainConfig, *, device: str | torch.device | None = None, progress: bool = True
) -> TrainedModel:
    """Return the model described by ``config``, training it only if it is not cached.

    The cache entry is ``cache_dir()/models/<model>-<dataset>-<key>.pt``, written atomically.
    It stores the configuration, the final weights, the checkpoints, the history and a
    sha256 of all weights. An entry that cannot be read, or whose configuration or hash does
    not match, is reported with a :class:`CacheWarning` and the model is retrained and
    rewritten.

    A missing entry is first fetched from the published checkpoints (:mod:`lvf.train.hub`,
    ``LVF_CHECKPOINTS_URL``), verified against their manifest and by the checked load above;
    only when that fails (with a :class:`CacheWarning` saying why) is it trained, after a
    printed estimate of the time it will take (:func:`estimate_seconds`; printed with the
    progress bar, to stderr).

    The weights are initialised under ``torch.manual_seed(config.seed)`` inside
    :func:`torch.random.fork_rng`, so the caller's global random state is left untouched.

    Parameters
    ----------
    config
        What to train.
    device
        Where to train and return the model; default ``"cuda"`` if available, else ``"cpu"``.
    progress
        Show a progress bar while training (also turned off by ``LVF_PROGRESS=0``).

    Returns
    -------
    TrainedModel
    """
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    from lvf.train.hub import load_or_fetch

    entry = config._entry()
    content, fetched = load_or_fetch(entry, progress=progress)
    if content is not None:
        _tally.note(entry.path.name, "fetched" if fetched else "cached")
        return replace(_from_cache(config, content, device), fetched=fetched)

    x_train = training_data(config)
    if _progress_enabled(progress) and config.epochs > 0:
        seconds = estimate_seconds(config, device=device)
        print(
            f"lvf: {entry.path.name} is not cached; training it ({n_steps(config):,} optimizer "
            f"steps on {device.type}), estimated time {format_seconds(seconds)} (an estimate, "
            "from timing a few steps).",
            file=sys.stderr,
            flush=True,
        )
    checkpoints: dict[int, StateDict] = {}

    def keep(epoch: int, m: nn.Module, history: dict[str, list[float]]) -> None:
        if epoch in config.save_epochs:
            checkpoints[epoch] = _cpu_state(m)

    # Initialisation and input noise come from torch's generator seeded with config.seed;
    # the caller's random state is left untouched.
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(config.seed)
        model = config.build().to(device)
        if 0 in config.save_epochs:
            checkpoints[0] = _cpu_state(model)
        learner = Denoising(model, config.noise_std) if config.noise_std > 0 else model
        start = time.perf_counter()
        history = fit(learner, x_train, **config.fit_kwargs(), callback=keep, progress=progress)
    history["train_seconds"] = [time.perf_counter() - start]
    _tally.note(entry.path.name, "trained", history["train_seconds"][0])
    entry.store(
        {
            "state_dict": _cpu_state(model),
            "checkpoints": checkpoints,
            "history": history,
            "device": str(device),
        }
    )
    return TrainedModel(model.eval(), config, history, checkpoints, entry.path, from_cache=False)
