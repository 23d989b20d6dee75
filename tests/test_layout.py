"""The package's layout: the engine stands alone, and the public API is what it says.

The engine (the modules at the top of ``lvf``) is what a researcher imports for their own
autoencoder; it must not depend on the book's protocols, models, data or machinery.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import lvf

SRC = Path(lvf.__file__).resolve().parent
ENGINE = {
    "attractors", "convergence", "field", "fixed_point", "iterate", "jacobian", "latent_map",
    "potential", "residual", "_batching", "_lazy",
}  # fmt: skip


def _lvf_imports(path: Path) -> set[str]:
    """Every ``lvf.*`` module a file imports, at any depth of the code."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("lvf"):
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names if node.module == "lvf")
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("lvf"))
    return found


@pytest.mark.parametrize("name", sorted(ENGINE))
def test_engine_imports_only_the_engine(name):
    imported = _lvf_imports(SRC / f"{name}.py")
    outside = {m for m in imported if m.split(".")[1] not in ENGINE}
    assert not outside, f"lvf/{name}.py imports {sorted(outside)}, outside the engine"


def test_every_top_level_module_is_engine_or_named_infrastructure():
    top = {p.stem for p in SRC.glob("*.py")} - {"__init__"}
    assert top - ENGINE == {"cache", "data"}, "a new top-level module: is it engine?"


def test_public_api_resolves_and_engine_names_stay():
    for name in lvf.__all__:
        assert getattr(lvf, name) is not None, name
    assert lvf.iterate.__module__ == "lvf.iterate"
    assert lvf.jacobian.jacobian.__module__ == "lvf.jacobian"
    assert {"LatentMap", "iterate", "find_attractors", "jacobian"} <= set(lvf.__all__)
    with pytest.raises(AttributeError, match="no attribute 'probe'"):
        lvf.probe  # noqa: B018 - the old flat module names are gone


@pytest.mark.parametrize("package", ["models", "measures", "protocols", "book", "train"])
def test_each_room_says_what_it_holds(package):
    module = getattr(lvf, package)
    assert module.__doc__ and len(module.__doc__.strip().splitlines()) >= 3
    for name in module.__all__:
        assert getattr(module, name) is not None, f"lvf.{package}.{name}"
