"""The paper's experiments, one module each, for any model with an encoder and a decoder.

* :mod:`~lvf.protocols.plane` — Fig. 1, Def. 2, App. A.3, App. B.4 (Fig. 11): autoencoders with a
  two-dimensional latent space, their attractors, stability and density; chapters 1 and 2;
* :mod:`~lvf.protocols.density` — Sec. 3.1, App. A.1, A.4, Props. 3.1 and 3.2: theory checked
  on two-dimensional toy autoencoders; chapter 4;
* :mod:`~lvf.protocols.weight_decay` — App. C: weight decay and the layer-wise Jacobian
  bound; chapter 5;
* :mod:`~lvf.protocols.memorization` — Sec. 3.3 (Figs. 2, 3, 13, 14): attractors of training
  latents, memorization and generalization; chapters 6, 7 and 8;
* :mod:`~lvf.protocols.dynamics` — Sec. 3.4 (Fig. 3a–d, Fig. 13 right): attractors across
  training checkpoints and seeds; chapter 8;
* :mod:`~lvf.protocols.dictionary` — Sec. 4.1 (Figs. 4, 7-9, 15, 18, Table 2): attractors from
  orthogonal starts as a data-free dictionary; chapter 10;
* :mod:`~lvf.protocols.ood` — Sec. 4.2 (Fig. 5, Table 1): OOD detection from latent
  trajectories; chapters 9 and 11;
* :mod:`~lvf.protocols.norms` — App. B.8 (Figs. 12, 16, 17): norms along iterations of
  foundation models; chapters 11 and 12;
* :mod:`~lvf.protocols.backbones` — App. B.1 (Fig. 6) and Fig. 3a/3c at epoch 0: contraction
  of randomly initialised classifiers and of the untrained Table-4 autoencoder; chapter 3.

Protocols use the engine (:func:`lvf.iterate`, :func:`lvf.find_attractors`, ...) and the
measures of :mod:`lvf.measures`; the engine never imports them.
"""

from lvf._lazy import submodule_loader

__all__ = [
    "backbones",
    "density",
    "dictionary",
    "dynamics",
    "memorization",
    "norms",
    "ood",
    "plane",
    "weight_decay",
]
__getattr__ = submodule_loader(__name__, __all__)
