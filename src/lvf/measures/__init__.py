"""Measures and scores computed on attractors, latents and networks.

* :mod:`~lvf.measures.memorization` — memorization coefficient, rank-90, Chamfer similarity
  (Sec. 3.3);
* :mod:`~lvf.measures.density` — kernel density estimates and their modes (Sec. 3.1);
* :mod:`~lvf.measures.ood` — OOD scores (trajectory, KNN, Mahalanobis) and AUROC / FPR95
  (Secs. 3.4, 4.2);
* :mod:`~lvf.measures.omp` — orthogonal matching pursuit on large dictionaries (Sec. 4.1);
* :mod:`~lvf.measures.contraction` — output/input spread and Lipschitz bounds (App. B.1, C);
* :mod:`~lvf.measures.stats` — Spearman's rank correlation, one rule for constant input.
"""

from lvf._lazy import submodule_loader

__all__ = ["contraction", "density", "memorization", "omp", "ood", "stats"]
__getattr__ = submodule_loader(__name__, __all__)
