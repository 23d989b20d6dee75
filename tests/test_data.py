"""Tests of lvf.scales, lvf.paths and lvf.data (toy densities and the real MNIST files)."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal

from lvf import data, paths, scales
from lvf.data import DatasetNotFoundError, GaussianMixture2D, load, load_mnist, toy2d

MNIST_FILES = [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
]

# ---------------------------------------------------------------------------------------------
# scales
# ---------------------------------------------------------------------------------------------


def test_scale_defaults_to_book(monkeypatch):
    monkeypatch.delenv("LVF_SCALE", raising=False)
    assert scales.current_scale() == "book"
    assert scales.pick(tiny=1, book=2, paper=3) == 2


@pytest.mark.parametrize(("value", "expected"), [("tiny", 1), ("paper", 3), (" Tiny ", 1)])
def test_scale_from_env(monkeypatch, value, expected):
    monkeypatch.setenv("LVF_SCALE", value)
    assert scales.pick(tiny=1, book=2, paper=3) == expected


def test_bad_scale_names_value_and_choices(monkeypatch):
    monkeypatch.setenv("LVF_SCALE", "huge")
    with pytest.raises(ValueError, match="'huge'") as info:
        scales.current_scale()
    assert all(s in str(info.value) for s in scales.SCALES)


# ---------------------------------------------------------------------------------------------
# paths
# ---------------------------------------------------------------------------------------------


def test_cache_dir_from_env_is_created(monkeypatch, tmp_path):
    target = tmp_path / "a" / "b"
    monkeypatch.setenv("LVF_CACHE", str(target))
    assert paths.cache_dir() == target and target.is_dir()


def test_lvf_data_is_the_only_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("LVF_DATA", str(tmp_path))
    assert paths.data_dirs() == [tmp_path]


def test_data_dirs_find_shared_data_beside_project(monkeypatch, tmp_path):
    project, shared = tmp_path / "checkout", tmp_path / "shared" / "data"
    (project / "book").mkdir(parents=True)
    shared.mkdir(parents=True)
    (project / "pyproject.toml").write_text("")
    monkeypatch.delenv("LVF_DATA", raising=False)
    monkeypatch.setenv("LVF_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(project / "book")
    dirs = paths.data_dirs()
    assert dirs[0] == tmp_path / "cache" / "data"
    assert shared.resolve() in dirs


def test_atomic_write_replaces_or_leaves_untouched(tmp_path):
    target = tmp_path / "sub" / "file.bin"
    paths.atomic_write(target, lambda f: f.write(b"first"))
    assert target.read_bytes() == b"first"

    def failing(f):
        f.write(b"half")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        paths.atomic_write(target, failing)
    assert target.read_bytes() == b"first"
    assert sorted(p.name for p in target.parent.iterdir()) == ["file.bin"]  # no temp left


# ---------------------------------------------------------------------------------------------
# toy data
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", data.TOY_DATASETS)
def test_toy2d_shape_and_determinism(name):
    a = toy2d(name, 300, seed=1)
    assert a.shape == (300, 2) and a.dtype == torch.float32
    assert torch.equal(a, toy2d(name, 300, seed=1))
    assert not torch.equal(a, toy2d(name, 300, seed=2))


def test_toy2d_geometry():
    rings = toy2d("rings", 2000, noise=0.0)
    radii = rings.norm(dim=1)
    assert torch.allclose(radii[radii > 0.75], torch.tensor(1.0), atol=1e-5)
    assert torch.allclose(radii[radii <= 0.75], torch.tensor(0.5), atol=1e-5)
    gauss = toy2d("gaussians", 4000, noise=0.05)
    assert torch.allclose(gauss.norm(dim=1).mean(), torch.tensor(2.0), atol=0.01)


def test_toy2d_rejects_unknown_name():
    with pytest.raises(ValueError, match="moons"):
        toy2d("spirals", 10)


def _hand_mixture_log_prob(means, std, weights, x):
    dens = sum(
        w * multivariate_normal(mean=m, cov=std**2 * np.eye(2)).pdf(x)
        for m, w in zip(means, weights, strict=True)
    )
    return np.log(dens)


def test_mixture_log_prob_matches_scipy():
    means = [[0.0, 0.0], [3.0, 1.0], [-1.0, 2.0]]
    weights = [0.2, 0.5, 0.3]
    gm = GaussianMixture2D(means, std=0.7, weights=[2.0, 5.0, 3.0])  # normalised internally
    x = np.random.default_rng(0).normal(size=(50, 2)) * 2
    expected = _hand_mixture_log_prob(np.array(means), 0.7, weights, x)
    got = gm.log_prob(torch.tensor(x))
    assert got.shape == (50,) and got.dtype == torch.float64
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-10)
    # single component at the origin: log N(0; 0, s^2 I) = -log(2 pi s^2)
    one = GaussianMixture2D([[0.0, 0.0]], std=0.5)
    assert one.log_prob(torch.zeros(1, 2)).item() == pytest.approx(-math.log(2 * math.pi * 0.25))


def test_mixture_score_is_gradient_of_log_prob():
    gm = GaussianMixture2D.circle(n_modes=5, radius=1.0, std=0.4)
    x = torch.randn(20, 2, dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(gm.log_prob(x).sum(), x)
    torch.testing.assert_close(gm.score(x.detach()), grad)


def test_mixture_modes_and_sampling():
    gm = GaussianMixture2D.circle()
    assert torch.allclose(gm.modes, gm.means, atol=1e-6)
    assert torch.allclose(gm.score(gm.modes), torch.zeros(8, 2, dtype=torch.float64), atol=1e-6)
    # two heavily overlapping components have a single mode, halfway between them
    merged = GaussianMixture2D([[-0.5, 0.0], [0.5, 0.0]], std=1.0)
    assert merged.modes.shape == (1, 2)
    assert torch.allclose(merged.modes, torch.zeros(1, 2, dtype=torch.float64), atol=1e-6)
    # weights: samples fall into the components in proportion
    gm = GaussianMixture2D([[-5.0, 0.0], [5.0, 0.0]], std=0.5, weights=[0.25, 0.75])
    s = gm.sample(8000, seed=3)
    assert s.shape == (8000, 2) and s.dtype == torch.float32
    assert (s[:, 0] > 0).float().mean().item() == pytest.approx(0.75, abs=0.02)
    assert s[s[:, 0] > 0].std(dim=0).numpy() == pytest.approx([0.5, 0.5], abs=0.03)
    assert torch.equal(s, gm.sample(8000, seed=3))


def test_mixture_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"\(M, 2\)"):
        GaussianMixture2D([1.0, 2.0], std=1.0)
    with pytest.raises(ValueError, match="std"):
        GaussianMixture2D([[0.0, 0.0]], std=0.0)
    with pytest.raises(ValueError, match="weights"):
        GaussianMixture2D([[0.0, 0.0], [1.0, 1.0]], std=1.0, weights=[1.0, -1.0])


# ---------------------------------------------------------------------------------------------
# MNIST on the real files
# ---------------------------------------------------------------------------------------------


def _find_mnist_root() -> Path | None:
    env = os.environ.get("LVF_DATA")
    candidates = [Path(env)] if env else []
    old = os.environ.pop("LVF_DATA", None)
    try:
        candidates += paths.data_dirs()
    finally:
        if old is not None:
            os.environ["LVF_DATA"] = old
    for folder in candidates:
        if all((folder / "MNIST" / "raw" / f).is_file() for f in MNIST_FILES):
            return folder
    return None


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in folder.rglob("*")
    }


@pytest.fixture(scope="module")
def mnist_env(tmp_path_factory):
    """LVF_DATA -> the offline MNIST copy, LVF_CACHE -> a fresh folder, for the whole module."""
    root = _find_mnist_root()
    if root is None:
        pytest.skip("no offline MNIST copy found (set LVF_DATA to a folder with MNIST/raw/*.gz)")
    cache = tmp_path_factory.mktemp("lvf-cache")
    before = _snapshot(root)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LVF_DATA", str(root))
        mp.setenv("LVF_CACHE", str(cache))
        mp.setenv("LVF_OFFLINE", "1")
        yield root, cache
    assert _snapshot(root) == before, "loading MNIST wrote into the data folder"


def test_mnist_test_split(mnist_env):
    x, y = load_mnist("test")
    assert x.shape == (10_000, 1, 32, 32) and x.dtype == torch.float32
    assert y.shape == (10_000,) and y.dtype == torch.int64
    assert y[0].item() == 7
    assert x.min().item() == 0.0 and x.max().item() == 1.0
    border = torch.ones(32, 32, dtype=torch.bool)
    border[2:30, 2:30] = False
    assert (x[:, 0, border] == 0).all(), "the 2-pixel padding must be zero"
    assert (x[:, :, 2:30, 2:30].flatten(1).amax(1) > 0.5).all()  # every digit has ink
    assert torch.bincount(y).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_mnist_train_split(mnist_env):
    x, y = load("MNIST", "train")
    assert x.shape == (60_000, 1, 32, 32)
    assert y[0].item() == 5
    assert torch.bincount(y).tolist() == [
        5923,
        6742,
        5958,
        6131,
        5842,
        5421,
        5918,
        6265,
        5851,
        5949,
    ]


def test_mnist_subsets_are_seeded_rows_of_the_full_split(mnist_env):
    full_x, full_y = load_mnist("test")
    a_x, a_y = load_mnist("test", n=50, seed=1)
    b_x, _ = load_mnist("test", n=50, seed=1)
    c_x, _ = load_mnist("test", n=50, seed=2)
    assert a_x.shape == (50, 1, 32, 32) and torch.equal(a_x, b_x) and not torch.equal(a_x, c_x)
    idx = torch.randperm(10_000, generator=torch.Generator().manual_seed(1))[:50].sort().values
    assert torch.equal(a_x, full_x[idx]) and torch.equal(a_y, full_y[idx])
    bigger, _ = load_mnist("test", n=51, seed=1)
    assert all((bigger == row).all(dim=(1, 2, 3)).any() for row in a_x)


def test_mnist_second_load_uses_decoded_cache(mnist_env, monkeypatch):
    _, cache = mnist_env
    load_mnist("test", n=5)
    assert (cache / "data" / "mnist-test.pt").is_file()

    def no_decoding(split):
        raise AssertionError("decoded the raw files again")

    monkeypatch.setitem(data._READERS, "mnist", no_decoding)
    assert load_mnist("test", n=5)[0].shape == (5, 1, 32, 32)


def test_corrupt_decoded_cache_is_rebuilt(mnist_env):
    _, cache = mnist_env
    load_mnist("test", n=3)
    path = cache / "data" / "mnist-test.pt"
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.warns(UserWarning, match="unreadable dataset cache"):
        x, y = load_mnist("test")
    assert y[0].item() == 7 and x.shape[0] == 10_000
    assert load_mnist("test", n=3)[0].shape == (3, 1, 32, 32)  # the rewritten cache reads back


def test_truncated_decompressed_copy_is_rebuilt(mnist_env):
    _, cache = mnist_env
    load_mnist("test", n=3)
    (cache / "data" / "mnist-test.pt").unlink()
    labels = cache / "data" / "MNIST" / "raw" / "t10k-labels-idx1-ubyte"
    labels.write_bytes(labels.read_bytes()[:100])  # an interrupted gunzip
    x, y = load_mnist("test")
    assert y[0].item() == 7 and len(y) == 10_000 and labels.stat().st_size == 10_008


def test_bad_arguments(mnist_env):
    with pytest.raises(ValueError, match="mnist"):
        load("imagenet")
    with pytest.raises(ValueError, match="'valid'"):
        load_mnist("valid")
    with pytest.raises(ValueError, match="10000"):
        load_mnist("test", n=10_001)


def test_missing_dataset_names_folder_and_fix(monkeypatch, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("LVF_DATA", str(empty))
    monkeypatch.setenv("LVF_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("LVF_OFFLINE", "1")
    with pytest.raises(DatasetNotFoundError) as info:
        load_mnist("test")
    message = str(info.value)
    assert isinstance(info.value, FileNotFoundError)
    assert "MNIST" in message and str(empty / "MNIST" / "raw") in message
    assert "LVF_DATA" in message and "LVF_OFFLINE" in message
    assert list(empty.iterdir()) == []
