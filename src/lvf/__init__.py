"""lvf — latent vector fields of autoencoders.

For an autoencoder with encoder ``E`` and decoder ``D``, ``f(z) = E(D(z))`` turns the
latent space into a dynamical system. This package iterates it, finds its attractors and
measures its Jacobians; the book built on it reproduces Fumero et al., *Navigating the
Latent Space Dynamics of Neural Models* (ICLR 2026).

The core API::

    f = lvf.LatentMap(model.encode, model.decode)
    res = lvf.iterate(f, z0, tol=1e-6, max_steps=3000)
    att = lvf.find_attractors(res.final[res.converged], cos_threshold=0.99)
    lvf.jacobian.is_stable(f, att.centers)
"""

import importlib
import time

from lvf.attractors import Attractors, find_attractors
from lvf.iterate import IterationResult, iterate
from lvf.latent_map import LatentMap
from lvf.scales import configure_threads, current_scale, pick

__version__ = "0.1.0"

_STARTED = time.monotonic()  # a chapter's running time counts from here (lvf.report)

# Submodules load on first use (``lvf.data`` pulls in torchvision, ``lvf.train`` tqdm):
# ``lvf.jacobian``, ``lvf.ood``, ``lvf.contraction`` … are all reachable as attributes.


def __getattr__(name: str):
    if not name.startswith("_"):
        try:
            return importlib.import_module(f"lvf.{name}")
        except ModuleNotFoundError as err:
            if err.name != f"lvf.{name}":
                raise
    raise AttributeError(f"module 'lvf' has no attribute {name!r}")


__all__ = [
    "Attractors",
    "IterationResult",
    "LatentMap",
    "configure_threads",
    "current_scale",
    "data",
    "field",
    "find_attractors",
    "iterate",
    "jacobian",
    "models",
    "pick",
    "train",
]
