"""The book's machinery: scales, the paper's claims, records and the report, display helpers.

* :mod:`~lvf.book.scales` — ``LVF_SCALE`` (``tiny`` / ``book`` / ``paper``) and threads;
* :mod:`~lvf.book.claims` — the paper's claims, each with the records that test it;
* :mod:`~lvf.book.verdicts` — the one rule that turns per-seed effects into a verdict;
* :mod:`~lvf.book.report` — per-chapter claim records and the reproduction report;
* :mod:`~lvf.book.standins` — the models the book trains where the paper uses a foundation
  model;
* :mod:`~lvf.book.display` — notices and plots that chapters share.

Nothing in the engine (:mod:`lvf.iterate`, :mod:`lvf.attractors`, ...) imports from here.
"""

from lvf._lazy import submodule_loader

__all__ = ["claims", "display", "report", "scales", "standins", "verdicts"]
__getattr__ = submodule_loader(__name__, __all__)
