"""lvf — latent vector fields of autoencoders.

For an autoencoder with encoder ``E`` and decoder ``D``, ``f(z) = E(D(z))`` turns the
latent space into a dynamical system. This package iterates it, finds its attractors and
measures its Jacobians; the book built on it reproduces Fumero et al., *Navigating the
Latent Space Dynamics of Neural Models* (ICLR 2026).

The engine, for your own autoencoder, is at the top of the package::

    f = lvf.LatentMap(model.encode, model.decode)
    res = lvf.iterate(f, z0, tol=1e-6, max_steps=3000)
    att = lvf.find_attractors(res.final[res.converged], cos_threshold=0.99)
    lvf.jacobian.is_stable(f, att.centers)

with fixed-point refinement (:func:`refine_fixed_points`, :mod:`lvf.convergence`), fields on a
plane (:mod:`lvf.field`), potentials of 2-D fields (:mod:`lvf.potential`) and descent on the
residual (:mod:`lvf.residual`). Around it, one folder per purpose:

* :mod:`lvf.models` — every autoencoder the book trains (one registry), the tiny LM, and
  adapters to pretrained models;
* :mod:`lvf.data` — datasets, read offline or downloaded; :mod:`lvf.train` — one trainer and
  one cache (:mod:`lvf.cache`) for everything the book trains;
* :mod:`lvf.measures` — memorization, density, OOD scores, OMP, contraction;
* :mod:`lvf.protocols` — the paper's experiments, one module per section;
* :mod:`lvf.book` — scales, the paper's claims, records and the report, display helpers.

The engine imports nothing from protocols or from the book's machinery.
"""

import time

from lvf._lazy import submodule_loader
from lvf.attractors import Attractors, find_attractors
from lvf.book.scales import configure_threads, current_scale, pick
from lvf.convergence import refine_fixed_points
from lvf.iterate import IterationResult, iterate
from lvf.latent_map import LatentMap

__version__ = "0.1.0"

_STARTED = time.monotonic()  # a chapter's running time counts from here (lvf.book.report)

# Submodules load on first use (``lvf.data`` pulls in torchvision, ``lvf.train`` tqdm):
# ``lvf.jacobian``, ``lvf.measures``, ``lvf.protocols`` … are all reachable as attributes.
_SUBMODULES = (
    "book",
    "cache",
    "convergence",
    "data",
    "field",
    "fixed_point",
    "jacobian",
    "measures",
    "models",
    "potential",
    "protocols",
    "residual",
    "train",
)

__getattr__ = submodule_loader(__name__, _SUBMODULES)


__all__ = [
    "Attractors",
    "IterationResult",
    "LatentMap",
    "configure_threads",
    "current_scale",
    "find_attractors",
    "iterate",
    "pick",
    "refine_fixed_points",
    *_SUBMODULES,
]
