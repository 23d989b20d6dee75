"""Tests of lvf.book.scales, lvf.cache and lvf.data (toy densities and the real MNIST files)."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal

from lvf import cache as paths
from lvf import data
from lvf.book import scales
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


def test_threads_from_env_and_restored(monkeypatch):
    import torch

    before = torch.get_num_threads()
    try:
        monkeypatch.setenv("LVF_THREADS", "1")
        assert scales.configure_threads() == 1 == torch.get_num_threads()
        monkeypatch.delenv("LVF_THREADS")
        assert scales.configure_threads() == 1  # unset: whatever torch has stays
    finally:
        torch.set_num_threads(before)


def test_configure_threads_flushes_denormals():
    """After configure_threads a denormal float32 (below 1.2e-38) computes as zero: the
    setting that made the book's CPU training 4x faster (see its docstring)."""
    import torch

    try:
        torch.set_flush_denormal(False)
        tiny = torch.tensor([1e-39], dtype=torch.float32)
        assert (tiny * 1.0).item() != 0.0  # a denormal, kept
        scales.configure_threads()
        assert (tiny * 1.0).item() == 0.0  # flushed
    finally:
        torch.set_flush_denormal(False)  # torch's default, which the other tests assume


@pytest.mark.parametrize("value", ["0", "two", "-1"])
def test_bad_threads_value_is_named(monkeypatch, value):
    monkeypatch.setenv("LVF_THREADS", value)
    with pytest.raises(ValueError, match=f"LVF_THREADS={value!r}"):
        scales.configure_threads()


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
    # a cache folder may hold already-decompressed files, which the tests below must not see
    cache = paths.cache_dir() / "data"
    candidates.sort(key=lambda folder: folder == cache)
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


# ---------------------------------------------------------------------------------------------
# Fashion-MNIST, CIFAR-10 (official files or subsets) and photo crops, on the real files
# ---------------------------------------------------------------------------------------------

FASHION_TEST_FIRST = [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]  # official t10k labels 0-9
FASHION_TRAIN_FIRST = [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]  # official train labels 0-9
CIFAR_TRAIN_FIRST = [6, 9, 9, 4, 1, 1, 2, 7, 8, 3]  # data_batch_1
CIFAR_TEST_FIRST = [3, 8, 8, 0, 6, 6, 1, 6, 3, 1]  # test_batch


def _find_root(*markers: str) -> Path | None:
    """A data folder (LVF_DATA or one of data_dirs()) holding all ``markers``."""
    env = os.environ.get("LVF_DATA")
    candidates = [Path(env)] if env else []
    old = os.environ.pop("LVF_DATA", None)
    try:
        candidates += paths.data_dirs()
    finally:
        if old is not None:
            os.environ["LVF_DATA"] = old
    for folder in candidates:
        if all((folder / m).exists() for m in markers):
            return folder
    return None


def _shared_env(monkeypatch, tmp_path, *markers: str) -> Path:
    root = _find_root(*markers)
    if root is None:
        pytest.skip(f"no data folder with {', '.join(markers)} (set LVF_DATA)")
    monkeypatch.setenv("LVF_DATA", str(root))
    monkeypatch.setenv("LVF_CACHE", str(tmp_path / "cache"))  # fresh: the source is re-resolved
    monkeypatch.setenv("LVF_OFFLINE", "1")
    return root


def _md5(a: np.ndarray) -> str:
    import hashlib

    return hashlib.md5(np.ascontiguousarray(a).tobytes()).hexdigest()


def _to_uint8(x: torch.Tensor) -> np.ndarray:
    return (x * 255).round().to(torch.uint8).numpy()


@pytest.fixture
def fashion_subset(monkeypatch, tmp_path):
    root = _shared_env(monkeypatch, tmp_path, "fashion-mnist-subset/test_images.npy")
    if (root / "FashionMNIST" / "raw" / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip("the official Fashion-MNIST images are present: the subset is not used")
    return root


def test_fashion_subset_is_used_and_announced(fashion_subset):
    before = _snapshot(fashion_subset)
    with pytest.warns(data.DataSourceWarning, match=r"Fashion-MNIST: subset, 100 training"):
        x, y = load("fashion-mnist", "test")
    assert x.shape == (2000, 1, 32, 32) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert y[:10].tolist() == FASHION_TEST_FIRST
    assert torch.bincount(y).tolist() == [200, 203, 214, 190, 219, 195, 197, 200, 194, 188]
    border = torch.ones(32, 32, dtype=torch.bool)
    border[2:30, 2:30] = False
    assert (x[:, 0, border] == 0).all() and x.max().item() == 1.0
    # the decoded 28x28 pixels are those of the README's file (md5 1f30915173e72aa54b8559430b4cdf2d)
    assert _md5(_to_uint8(x[:, 0, 2:30, 2:30])) == "c2966db507694f43ec3513c9e1f623a8"
    xt, yt = load("fashion-mnist", "train")
    assert xt.shape == (100, 1, 32, 32) and yt[:10].tolist() == FASHION_TRAIN_FIRST
    src = data.source("Fashion-MNIST")
    assert (src.kind, src.n_train, src.n_test) == ("subset", 100, 2000)
    assert str(src).startswith("Fashion-MNIST: subset, 100 training and 2,000 test images")
    assert "fashion-mnist-subset" in str(src) and "FashionMNIST" in src.reason
    assert _snapshot(fashion_subset) == before, "loading wrote into the data folder"


def test_fashion_subset_labels_match_official_label_file(fashion_subset):
    import gzip

    raw = fashion_subset / "FashionMNIST" / "raw" / "t10k-labels-idx1-ubyte.gz"
    if not raw.is_file():
        pytest.skip("no official Fashion-MNIST label file")
    official = np.frombuffer(gzip.decompress(raw.read_bytes())[8:], dtype=np.uint8)
    with pytest.warns(data.DataSourceWarning):
        _, y = load("fashion-mnist", "test")
    assert len(official) == 10_000 and np.array_equal(y.numpy(), official[:2000])


def test_source_is_resolved_once_per_process(fashion_subset, monkeypatch):
    calls = []

    def official(split):
        calls.append(split)
        raise DatasetNotFoundError("no official files", ["nowhere (test)"])

    monkeypatch.setitem(data._READERS, "fashion-mnist", official)
    with pytest.warns(data.DataSourceWarning):
        load("fashion-mnist", "test", n=5)
    load("fashion-mnist", "train", n=5)
    load("fashion-mnist-2k", "test", n=5)
    assert calls == ["test"] and data.source("fashion-mnist").reason == "nowhere (test)"


def test_official_files_win_over_the_subset(fashion_subset, monkeypatch):
    fake = torch.full((7, 1, 28, 28), 255, dtype=torch.uint8), torch.arange(7)
    monkeypatch.setitem(data._READERS, "fashion-mnist", lambda split: fake)
    x, y = load("fashion-mnist", "test")  # no DataSourceWarning
    assert x.shape == (7, 1, 32, 32) and y.tolist() == list(range(7))
    src = data.source("fashion-mnist")
    assert src.kind == "official" and str(src).startswith("Fashion-MNIST: official files")


def test_train_test_resplits_the_fashion_subset(fashion_subset):
    tt = data.train_test("fashion-mnist", 1000, 400, seed=3)
    assert (tt.dataset, tt.n_train, tt.n_test, tt.seed) == ("fashion-mnist-2k", 1000, 400, 3)
    assert "0–1,499" in tt.note and "1,500–1,999" in tt.note and "only 100 training" in tt.note
    (xtr, ytr), (xte, _) = tt.train(), tt.test()
    assert xtr.shape == (1000, 1, 32, 32) and xte.shape == (400, 1, 32, 32)
    full, labels = load("fashion-mnist", "test")
    idx = torch.randperm(1500, generator=torch.Generator().manual_seed(3))[:1000].sort().values
    assert torch.equal(xtr, full[idx]) and torch.equal(ytr, labels[idx])
    idx = torch.randperm(500, generator=torch.Generator().manual_seed(3))[:400].sort().values
    assert torch.equal(xte, full[1500 + idx])
    # small requests stay on the official training split; too large ones are reduced
    assert data.train_test("fashion-mnist", 50).dataset == "fashion-mnist"
    big = data.train_test("fashion-mnist", 5000, 9999)
    assert (big.n_train, big.n_test) == (1500, 500) and "5,000 asked for" in big.note
    # the re-split is a valid training dataset
    from lvf.train import TrainConfig, training_data

    cfg = TrainConfig(model="conv", dataset=tt.dataset, epochs=0, n_train=20, data_seed=3)
    assert training_data(cfg).shape == (20, 1, 32, 32)


@pytest.fixture
def cifar_env(monkeypatch, tmp_path):
    root = _shared_env(monkeypatch, tmp_path, "cifar-10-subset/train_images.npy")
    if (root / "cifar-10-batches-py").is_dir():
        pytest.skip("the official CIFAR-10 batches are present: the subset is not used")
    return root


def test_cifar10_subset(cifar_env):
    with pytest.warns(data.DataSourceWarning, match="CIFAR-10: subset, 8,000 training"):
        x, y = load("cifar10", "train")
    assert x.shape == (8000, 3, 32, 32) and y[:10].tolist() == CIFAR_TRAIN_FIRST
    assert _to_uint8(x[0, :, 0, 0]).tolist() == [59, 62, 63]  # Keras docs, train[0][0, 0]
    xt, yt = load("CIFAR10", "test")
    assert xt.shape == (1000, 3, 32, 32) and yt[:10].tolist() == CIFAR_TEST_FIRST
    first_row = [[158, 112, 49], [159, 111, 47], [165, 116, 51]]  # torchvision's test data[0]
    assert _to_uint8(xt[0, :, 0, :3]).T.tolist() == first_row
    assert _md5(_to_uint8(xt)) == _md5(np.load(cifar_env / "cifar-10-subset/test_images.npy"))
    src = data.source("cifar10")
    assert (src.kind, src.n_train, src.n_test) == ("subset", 8000, 1000)
    tt = data.train_test("cifar10", 10_000, 100)
    assert (tt.dataset, tt.n_train, tt.n_test) == ("cifar10", 8000, 100)
    assert "10,000 asked for, only 8,000 available" in tt.note


def test_cifar10_gray(cifar_env):
    with pytest.warns(data.DataSourceWarning):
        rgb, y = load("cifar10", "test", n=50, seed=1)
    gray, y2 = load("cifar10-gray", "test", n=50, seed=1)
    assert gray.shape == (50, 1, 32, 32) and torch.equal(y, y2)
    expected = 0.299 * rgb[:, 0] + 0.587 * rgb[:, 1] + 0.114 * rgb[:, 2]
    torch.testing.assert_close(gray[:, 0], expected)
    assert torch.equal(load("cifar10", "test", n=50, seed=1, gray=True)[0], gray)
    # PIL's "L" conversion of the same pixels agrees to within rounding
    from PIL import Image

    pil = np.asarray(Image.fromarray(_to_uint8(rgb[0]).transpose(1, 2, 0)).convert("L"))
    assert np.abs(pil.astype(float) - gray[0, 0].numpy() * 255).max() <= 0.51


def test_missing_fashion_names_both_sources(monkeypatch, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("LVF_DATA", str(empty))
    monkeypatch.setenv("LVF_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("LVF_OFFLINE", "1")
    for name, official, subset in [
        ("fashion-mnist", "FashionMNIST/raw", "fashion-mnist-subset"),
        ("cifar10-gray", "cifar-10-batches-py", "cifar-10-subset"),
    ]:
        with pytest.raises(DatasetNotFoundError) as info:
            load(name, "test")
        message = str(info.value)
        assert str(empty / official) in message and str(empty / subset) in message
        assert "LVF_DATA" in message and "README" in message
    assert list(empty.iterdir()) == []


def test_unknown_dataset_lists_the_known_ones():
    with pytest.raises(ValueError) as info:
        load("svhn")
    assert all(name in str(info.value) for name in data.DATASETS)


KODIM01_PIXELS_MD5 = "f17f539336e1fe71bd28ba90157b91b3"  # shared/data/README.md
KODIM04_PIXELS_MD5 = "1b587d34ecf0213a3fa7357660b70152"


def test_kodak_pixels_match_readme(monkeypatch, tmp_path):
    root = _shared_env(monkeypatch, tmp_path, "kodak/kodim01.png", "skimage-samples")
    files = data.photo_files("kodak")
    assert [f.name for f in files] == [f"kodim{i:02d}.png" for i in range(1, 25)]
    assert len(data.photo_files("all")) == 24 + len(data.photo_files("skimage"))
    im1, im4 = data._photo(str(files[0])), data._photo(str(files[3]))
    assert im1.shape == (512, 768, 3) and im4.shape == (768, 512, 3)  # landscape, portrait
    assert _md5(im1) == KODIM01_PIXELS_MD5 and _md5(im4) == KODIM04_PIXELS_MD5
    assert root.is_dir()


def test_photo_crops_on_real_photos(monkeypatch, tmp_path):
    _shared_env(monkeypatch, tmp_path, "kodak/kodim01.png", "skimage-samples")
    x, names = data.photo_crops(40, seed=5, return_files=True)
    assert x.shape == (40, 3, 32, 32) and x.dtype == torch.float32 and len(names) == 40
    assert 0 <= x.min().item() and x.max().item() <= 1
    assert torch.equal(x, data.photo_crops(40, seed=5))
    assert torch.equal(x[:30], data.photo_crops(30, seed=5))  # prefix-stable
    assert not torch.equal(x, data.photo_crops(40, seed=6))
    g = data.photo_crops(40, seed=5, gray=True)
    assert g.shape == (40, 1, 32, 32) and torch.allclose(g, data.to_gray(x))
    k = data.photo_crops(20, 16, source="kodak", return_files=True)[1]
    assert all(n.startswith("kodim") for n in k)
    s = data.photo_crops(20, crop=64, source="skimage", return_files=True)[1]
    assert not any(n.startswith("kodim") for n in s)


def test_photo_crops_known_answer(monkeypatch, tmp_path):
    """A synthetic photo whose red channel is 4·column and green 4·row: crops are ramps."""
    from PIL import Image

    (tmp_path / "kodak").mkdir()
    cols, rows = np.meshgrid(np.arange(64), np.arange(48))
    rgb = np.stack([4 * cols, 4 * rows, np.full_like(cols, 100)], axis=-1).astype(np.uint8)
    Image.fromarray(rgb).save(tmp_path / "kodak" / "ramp.png")
    monkeypatch.setenv("LVF_DATA", str(tmp_path))
    raw = data.photo_crops(6, 8, crop=None, source="kodak") * 255  # plain 8x8 slices
    dx, dy = raw[:, 0].diff(dim=2), raw[:, 1].diff(dim=1)
    assert torch.allclose(dx, torch.full_like(dx, 4.0), atol=1e-3)
    assert torch.allclose(dy, torch.full_like(dy, 4.0), atol=1e-3)
    assert torch.allclose(raw[:, 2], torch.full_like(raw[:, 2], 100.0), atol=1e-3)
    # crop 16 -> 8 averages 2x2 blocks: steps of 8, each value 4·(two columns) = 2 mod 4
    small = data.photo_crops(6, 8, crop=16, source="kodak") * 255
    d = small[:, 0].diff(dim=2)
    assert torch.allclose(d, torch.full_like(d, 8.0), atol=1e-3)
    assert torch.allclose(small[:, 0] % 4, torch.full_like(small[:, 0], 2.0), atol=1e-3)
    # a crop larger than the photo is cut to its shorter side (48): every crop spans all rows
    whole = data.photo_crops(5, 4, crop=500, source="kodak") * 255
    rows_mean = 4 * (np.arange(4) * 12 + 5.5)  # means of 4·row over blocks of 12 rows
    expected = torch.tensor(rows_mean, dtype=torch.float32)[:, None].expand(4, 4)
    assert all(torch.allclose(w[1], expected, atol=1e-3) for w in whole)
    d = whole[:, 0].diff(dim=2)
    assert torch.allclose(d, torch.full_like(d, 48.0), atol=1e-3)


def test_missing_photos_name_folder_and_fix(monkeypatch, tmp_path):
    monkeypatch.setenv("LVF_DATA", str(tmp_path))
    with pytest.raises(DatasetNotFoundError, match="skimage-samples") as info:
        data.photo_crops(3, source="skimage")
    assert "LVF_DATA" in str(info.value)
    with pytest.raises(ValueError, match="kodak"):
        data.photo_crops(3, source="flickr")
