"""Training: one trainer and one cache for everything the book trains.

* :func:`trained` — an autoencoder described by a :class:`TrainConfig` (any registered
  model, any dataset of :mod:`lvf.data`, plain or denoising), trained once and cached;
* :func:`seeded` — the same configuration with another seed (initialisation and data);
* :func:`fit` — the plain training loop it uses (Adam, step schedule, MSE), for your own model;
* :func:`trained_lm` — the tiny byte-level language model of :mod:`lvf.models.tinylm`;
* :func:`estimate_seconds` — how long :func:`trained` will take, printed before it trains;
* :func:`loss_drop` and :data:`PLATEAU` — has a run's training loss reached a plateau?
* :mod:`lvf.train.hub` — published checkpoints: :func:`trained` fetches a missing model by its
  configuration key (``LVF_CHECKPOINTS_URL``), verified; :func:`export_checkpoints` publishes;
* :mod:`lvf.train.registry` — :func:`chapter_configs`, the models each chapter trains;
* :mod:`lvf.train.cli` — the ``lvf`` command (``lvf train ch06 --scale paper``),
  :func:`train_many` (in this process or through submitit).

Every artefact goes to the one cache of :mod:`lvf.cache`, keyed by its full configuration.
"""

from lvf.cache import CacheWarning
from lvf.train.autoencoders import (
    CACHE_VERSION,
    PLATEAU,
    TrainConfig,
    TrainedModel,
    estimate_seconds,
    fit,
    loss_drop,
    seeded,
    trained,
    training_data,
)
from lvf.train.cli import train_many
from lvf.train.hub import export as export_checkpoints
from lvf.train.lm import TrainedLM, trained_lm
from lvf.train.registry import chapter_configs

__all__ = [
    "CACHE_VERSION",
    "CacheWarning",
    "PLATEAU",
    "TrainConfig",
    "TrainedLM",
    "TrainedModel",
    "chapter_configs",
    "estimate_seconds",
    "export_checkpoints",
    "fit",
    "loss_drop",
    "seeded",
    "trained",
    "train_many",
    "trained_lm",
    "training_data",
]
