"""Submodules that load on first use, so ``import lvf`` stays light (torchvision, tqdm,
scikit-learn and transformers are imported only by the parts that need them)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from types import ModuleType


def submodule_loader(package: str, names: Iterable[str]) -> Callable[[str], ModuleType]:
    """A module-level ``__getattr__`` for ``package`` that imports ``package.<name>`` on first
    access for each of ``names``, and raises :class:`AttributeError` for anything else."""
    known = frozenset(names)

    def __getattr__(name: str) -> ModuleType:
        if name in known:
            return importlib.import_module(f"{package}.{name}")
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
