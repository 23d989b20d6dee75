"""The paper's experiments, one module each, for any model with an encoder and a decoder.

* :mod:`~lvf.protocols.memorization` — Sec. 3.3 (Figs. 2, 3, 13, 14): attractors of training
  latents, memorization and generalization; chapters 6, 7 and 8;
* :mod:`~lvf.protocols.dictionary` — Sec. 4.1 (Figs. 4, 15-17, Table 2): attractors from
  orthogonal starts as a data-free dictionary; chapter 10;
* :mod:`~lvf.protocols.ood` — Sec. 4.2 (Fig. 5, Table 1): OOD detection from latent
  trajectories; chapters 9 and 11;
* :mod:`~lvf.protocols.norms` — App. B.8 (Figs. 19, 20): norms along iterations of
  foundation models; chapters 11 and 12;
* :mod:`~lvf.protocols.backbones` — App. B.1 (Fig. 6): contraction of randomly initialised
  classifiers; chapter 3.

Protocols use the engine (:func:`lvf.iterate`, :func:`lvf.find_attractors`, ...) and the
measures of :mod:`lvf.measures`; the engine never imports them.
"""

from lvf._lazy import submodule_loader

__all__ = ["backbones", "dictionary", "memorization", "norms", "ood"]
__getattr__ = submodule_loader(__name__, __all__)
