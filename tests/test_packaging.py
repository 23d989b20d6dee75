"""Packaging stays consistent: pins, the README's two commands, CI and the book config."""

from __future__ import annotations

import re
import stat
import tomllib
from pathlib import Path

import yaml
from toc import toc_pages

ROOT = Path(__file__).resolve().parents[1]


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _pins(requirements: list[str]) -> dict[str, str]:
    """Map package name (normalised) to version for every ``name==version`` requirement."""
    pins = {}
    for req in requirements:
        m = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)(\[[^\]]*\])?\s*==\s*([^\s;,]+)\s*", req)
        if m:
            pins[re.sub(r"[-_.]+", "-", m.group(1)).lower()] = m.group(3)
    return pins


def _pyproject_requirements() -> list[str]:
    project = _pyproject()["project"]
    reqs = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        reqs.extend(extra)
    return reqs


def _environment() -> tuple[list[str], list[str]]:
    """Return (conda dependencies, pip requirements) of environment.yml."""
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda, pip = [], []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pip.extend(dep.get("pip", []))
        else:
            conda.append(str(dep))
    return conda, pip


def _readme_commands() -> list[str]:
    """Shell commands in README code blocks that start from a fresh virtual environment."""
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```(?:bash|sh|shell|console)?\n(.*?)```", text, flags=re.S)
    lines = [ln.strip() for b in blocks for ln in b.splitlines()]
    return [ln for ln in lines if ln.startswith("python3 -m venv")]


def _test_command() -> str:
    cmds = [c for c in _readme_commands() if re.search(r"(^|&&\s*)pytest\b", c)]
    assert len(cmds) == 1, f"README must hold exactly one test command, found {cmds}"
    return cmds[0]


def _build_command() -> str:
    cmds = [c for c in _readme_commands() if "jupyter-book build" in c]
    assert len(cmds) == 1, f"README must hold exactly one build command, found {cmds}"
    return cmds[0]


def test_pyproject_pins_the_stack():
    pins = _pins(_pyproject_requirements())
    assert pins["torch"] == "2.14.1"
    assert pins["torchvision"] == "0.29.1"
    assert pins["jupyter-book"].startswith("1."), "Jupyter Book 2 is a different tool"


def test_environment_yml_pins_equal_pyproject():
    conda, pip = _environment()
    assert _pins(pip) == _pins(_pyproject_requirements())
    assert "pip" in conda


def test_environment_yml_python_satisfies_requires_python():
    conda, _ = _environment()
    (python,) = [d for d in conda if d.startswith("python")]
    env_version = tuple(int(p) for p in python.split("=")[-1].split("."))
    required = _pyproject()["project"]["requires-python"]
    m = re.fullmatch(r">=\s*(\d+)\.(\d+)", required)
    assert m, f"unexpected requires-python {required!r}"
    assert env_version >= (int(m.group(1)), int(m.group(2)))


def test_environment_yml_installs_the_package_with_the_book_extra():
    _, pip = _environment()
    assert any(re.fullmatch(r"-e\s+\.\[book\]", r.strip()) for r in pip), pip


def test_readme_holds_exactly_two_commands():
    cmds = _readme_commands()
    assert len(cmds) == 2, cmds
    build, test = _build_command(), _test_command()
    assert '".[book]"' in build and "-W" in build and "--keep-going" in build
    assert '".[test]"' in test


def test_ci_runs_readme_test_command_verbatim():
    script = ROOT / ".ci" / "run"
    text = script.read_text()
    assert "set -euo pipefail" in text
    lines = [ln.strip() for ln in text.splitlines()]
    assert _test_command() in lines, "`.ci/run` must run README's test command verbatim"
    assert script.stat().st_mode & stat.S_IXUSR, "`.ci/run` must be executable"
    for var in ("LVF_DATA", "LVF_CACHE", "LVF_PROGRESS"):
        assert var in text


def test_book_config_fails_on_cell_errors():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["execute"]["raise_on_error"] is True
    assert config["execute"]["allow_errors"] is False
    assert config["only_build_toc_files"] is True
    for bib in config["bibtex_bibfiles"]:
        assert (ROOT / bib).is_file(), bib


def test_toc_files_exist():
    files = toc_pages()
    missing = [
        f for f in files if not any((ROOT / f).with_suffix(s).is_file() for s in (".md", ".ipynb"))
    ]
    assert not missing, f"_toc.yml lists missing pages: {missing}"
