"""Training: one trainer and one cache for everything the book trains.

* :func:`trained` — an autoencoder described by a :class:`TrainConfig` (any registered
  model, any dataset of :mod:`lvf.data`, plain or denoising), trained once and cached;
* :func:`seeded` — the same configuration with another seed (initialisation and data);
* :func:`fit` — the plain training loop it uses (Adam, step schedule, MSE), for your own model;
* :func:`trained_lm` — the tiny byte-level language model of :mod:`lvf.models.tinylm`.

Every artefact goes to the one cache of :mod:`lvf.cache`, keyed by its full configuration.
"""

from lvf.cache import CacheWarning
from lvf.train.autoencoders import (
    CACHE_VERSION,
    TrainConfig,
    TrainedModel,
    fit,
    seeded,
    trained,
    training_data,
)
from lvf.train.lm import TrainedLM, trained_lm

__all__ = [
    "CACHE_VERSION",
    "CacheWarning",
    "TrainConfig",
    "TrainedLM",
    "TrainedModel",
    "fit",
    "seeded",
    "trained",
    "trained_lm",
    "training_data",
]
