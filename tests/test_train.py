"""Tests of lvf.train: the training loop, TrainConfig keys and the on-disk model cache."""

from __future__ import annotations

import dataclasses
import math
import os
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

import lvf.train
from lvf.data import DatasetNotFoundError, toy2d
from lvf.models import MLPAE
from lvf.train import CacheWarning, TrainConfig, fit, trained, training_data


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    monkeypatch.setenv("LVF_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("LVF_PROGRESS", "0")


def _toy_model(seed: int = 0) -> MLPAE:
    torch.manual_seed(seed)
    return MLPAE(hidden=(32, 32))


def _toy_fit(model, x, seed=0, **kw):
    kw = {"epochs": 3, "batch_size": 32, "lr": 1e-2, "weight_decay": 1e-4, **kw}
    return fit(model, x, seed=seed, **kw)


SMALL = TrainConfig(
    model="mlp",
    model_kwargs={"hidden": [16, 16]},
    dataset="toy:gaussians",
    n_train=200,
    epochs=4,
    batch_size=50,
    lr=1e-2,
    save_epochs=(0, 2),
)

# ---------------------------------------------------------------------------------------------
# fit
# ---------------------------------------------------------------------------------------------


def test_same_seed_gives_identical_weights_and_other_seed_does_not():
    x = toy2d("moons", 256)
    a, b, c = _toy_model(), _toy_model(), _toy_model()
    ha = _toy_fit(a, x, seed=0)
    hb = _toy_fit(b, x, seed=0)
    _toy_fit(c, x, seed=1)  # same init, other mini-batch order
    assert ha["loss"] == hb["loss"]
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)


def test_loss_decreases_and_is_the_mean_squared_error():
    x = toy2d("gaussians", 256)
    model = _toy_model()
    with torch.no_grad():
        initial = F.mse_loss(model(x), x).item()
    # a negligible learning rate leaves the weights as they are: the epoch loss is the MSE
    frozen = fit(_toy_model(), x, epochs=1, batch_size=32, lr=1e-12, weight_decay=0.0)
    assert frozen["loss"][0] == pytest.approx(initial, rel=1e-5)
    history = _toy_fit(model, x, epochs=10)
    assert len(history["loss"]) == len(history["time"]) == 10
    assert history["loss"][-1] < 0.05 * history["loss"][0]
    with torch.no_grad():
        assert F.mse_loss(model(x), x).item() < 0.05 * initial
    assert not model.training


def test_callback_once_per_epoch_and_step_schedule():
    calls = []

    def callback(epoch, model, history):
        calls.append((epoch, len(history["loss"]), model.training))

    history = _toy_fit(
        _toy_model(),
        toy2d("rings", 64),
        epochs=5,
        lr=0.1,
        lr_step=2,
        lr_gamma=0.5,
        callback=callback,
    )
    assert calls == [(e, e, False) for e in range(1, 6)]
    assert history["lr"] == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025])


def test_progress_bar_can_be_silenced(capsys, monkeypatch):
    x = toy2d("moons", 32)
    _toy_fit(_toy_model(), x, epochs=1, progress=True)  # LVF_PROGRESS=0 from the fixture
    monkeypatch.setenv("LVF_PROGRESS", "1")
    _toy_fit(_toy_model(), x, epochs=1, progress=False)
    assert capsys.readouterr().err == ""
    _toy_fit(_toy_model(), x, epochs=1, progress=True)
    assert "epoch" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# TrainConfig
# ---------------------------------------------------------------------------------------------


def test_config_normalises_and_keys_are_stable():
    same = TrainConfig(
        model="mlp",
        model_kwargs=(("hidden", (16, 16)),),
        dataset="toy:gaussians",
        n_train=200,
        epochs=4,
        batch_size=50,
        lr=0.01,
        save_epochs=(2, 0, 2),
    )
    assert same == SMALL and hash(same) == hash(SMALL) and same.key() == SMALL.key()
    assert SMALL.model_kwargs == (("hidden", (16, 16)),)
    assert SMALL.save_epochs == (0, 2) and SMALL.lr_step == 1  # max(1, 4 // 3)
    assert len(SMALL.key()) == 12 and int(SMALL.key(), 16) >= 0
    assert TrainConfig(model="conv", dataset="mnist", epochs=9).lr_step == 3


@pytest.mark.parametrize(
    "change",
    [
        {"epochs": 5},
        {"seed": 1},
        {"data_seed": 1},
        {"lr": 2e-2},
        {"weight_decay": 0.0},
        {"n_train": 201},
        {"model_kwargs": {"hidden": [16, 16], "activation": "relu"}},
        {"dataset": "toy:moons"},
        {"save_epochs": (0,)},
    ],
)
def test_any_change_gives_another_key(change):
    assert dataclasses.replace(SMALL, **change).key() != SMALL.key()


def test_key_does_not_depend_on_the_process():
    code = (
        "from lvf.train import TrainConfig;"
        "print(TrainConfig(model='mlp', model_kwargs={'hidden': [16, 16]}, dataset='toy:gaussians',"
        " n_train=200, epochs=4, batch_size=50, lr=1e-2, save_epochs=(0, 2)).key())"
    )
    env = {**os.environ, "PYTHONHASHSEED": "123"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == SMALL.key()


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="conv, mlp"):
        TrainConfig(model="vae", dataset="mnist", epochs=1)
    with pytest.raises(ValueError, match="toy:moons"):
        TrainConfig(model="mlp", dataset="toy:spiral", epochs=1, n_train=10)
    with pytest.raises(ValueError, match="mnist"):
        TrainConfig(model="conv", dataset="svhn", epochs=1)
    with pytest.raises(ValueError, match="needs n_train"):
        TrainConfig(model="mlp", dataset="toy:moons", epochs=1)
    with pytest.raises(ValueError, match=r"\[5\]"):
        TrainConfig(model="conv", dataset="mnist", epochs=4, save_epochs=(0, 5))


# ---------------------------------------------------------------------------------------------
# trained(): cache
# ---------------------------------------------------------------------------------------------


def _weights_equal(a, b) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_trained_caches_and_second_call_does_not_train(monkeypatch):
    rng_before = torch.random.get_rng_state()
    first = trained(SMALL, device="cpu")
    assert torch.equal(torch.random.get_rng_state(), rng_before)  # caller's RNG untouched
    assert not first.from_cache and first.path.is_file()
    assert first.path.name == f"mlp-toy-gaussians-{SMALL.key()}.pt"
    assert not first.model.training and len(first.history["loss"]) == 4

    def no_training(*args, **kwargs):
        raise AssertionError("trained() retrained a cached model")

    monkeypatch.setattr(lvf.train, "fit", no_training)
    second = trained(SMALL, device="cpu")
    assert second.from_cache and _weights_equal(first.model, second.model)
    assert second.history == first.history and sorted(second.checkpoints) == [0, 2]


def test_checkpoints_hold_the_weights_of_their_epoch():
    result = trained(SMALL, device="cpu")
    with torch.random.fork_rng():
        torch.manual_seed(SMALL.seed)
        init = SMALL.build()
    assert _weights_equal(result.load_epoch(0), init)
    # epoch 2 of the same run, retrained by hand
    model = SMALL.build()
    model.load_state_dict(init.state_dict())
    fit(model, training_data(SMALL), epochs=2, batch_size=50, lr=1e-2, lr_step=1, seed=0)
    assert _weights_equal(result.load_epoch(2), model)
    assert _weights_equal(result.load_epoch(4), result.model)
    with pytest.raises(KeyError, match="save_epochs"):
        result.load_epoch(3)


def test_truncated_cache_is_retrained_with_a_warning():
    first = trained(SMALL, device="cpu")
    first.path.write_bytes(first.path.read_bytes()[:500])
    with pytest.warns(CacheWarning, match="corrupt"):
        again = trained(SMALL, device="cpu")
    assert not again.from_cache and _weights_equal(first.model, again.model)
    assert trained(SMALL, device="cpu").from_cache  # the rewritten entry is valid


def test_tampered_weights_or_foreign_config_are_detected():
    first = trained(SMALL, device="cpu")
    payload = torch.load(first.path, weights_only=True)
    name = next(iter(payload["content"]["state_dict"]))
    payload["content"]["state_dict"][name] = payload["content"]["state_dict"][name] + 1.0
    torch.save(payload, first.path)
    with pytest.warns(CacheWarning, match="sha256"):
        assert not trained(SMALL, device="cpu").from_cache

    other = dataclasses.replace(SMALL, seed=1)
    other.cache_path().write_bytes(first.path.read_bytes())  # entry of another configuration
    with pytest.warns(CacheWarning, match="configuration"):
        result = trained(other, device="cpu")
    assert not result.from_cache and not _weights_equal(result.model, first.model)


def test_trained_on_mnist_subset(monkeypatch):
    monkeypatch.setenv("LVF_OFFLINE", "1")
    config = TrainConfig(
        model="conv", model_kwargs={"k": 2, "width": 4}, dataset="mnist", n_train=64, epochs=1
    )
    try:
        x = training_data(config)
    except DatasetNotFoundError as err:
        pytest.skip(f"no offline MNIST copy: {err}")
    assert x.shape == (64, 1, 32, 32)
    result = trained(config, device="cpu")
    assert result.path.name.startswith("conv-mnist-")
    with torch.no_grad():
        assert result.model.encode(x).shape == (64, 2)


def test_loss_drop_known_answers():
    # (L at 3/4 of the run - final L) / final L, with the value at 3/4 = index len*3//4 - 1
    assert lvf.train.loss_drop([4.0, 2.0, 1.2, 1.0]) == pytest.approx(0.2)
    assert lvf.train.loss_drop([2.0, 1.0, 1.0, 1.0]) == 0.0
    rising = lvf.train.loss_drop([1.0, 1.0, 1.0, 1.5])  # the loss rose at the end: negative
    assert rising == pytest.approx(-1 / 3)
    # windows average neighbours: 8 values, q = 6, mean(v[4:6]) = 3 vs mean(v[6:8]) = 1.5
    assert lvf.train.loss_drop([9, 9, 9, 9, 4, 2, 2, 1], window=2) == pytest.approx(1.0)
    assert math.isnan(lvf.train.loss_drop([]))
    assert lvf.train.PLATEAU == 0.05


def test_training_status_reads_the_cache_and_never_trains(monkeypatch):
    from lvf.train import registry

    other = dataclasses.replace(SMALL, seed=1)
    monkeypatch.setattr(registry, "chapter_configs", lambda ch, scale=None: [SMALL, other])
    run = trained(SMALL, device="cpu")  # `other` is never trained
    monkeypatch.setattr(lvf.train, "fit", lambda *a, **k: pytest.fail("it trained"))
    df = registry.training_status("tiny", chapters=("ch05",))
    assert list(df.model) == [run.path.stem]  # the missing model is left out, not trained
    row = df.iloc[0]
    assert row.loss_drop == pytest.approx(lvf.train.loss_drop(run.history["loss"]))
    assert row.final_loss == pytest.approx(run.history["loss"][-1])
    assert row.plateau == (row.loss_drop < lvf.train.PLATEAU)
    assert row.steps == lvf.train.autoencoders.n_steps(SMALL)


def test_training_sentence_counts_shared_models_once_and_names_the_learning_chapters():
    import pandas as pd

    from lvf.book.report import training_sentence

    status = pd.DataFrame(
        {
            "chapter": ["ch01", "ch08", "ch09", "ch08"],
            "model": ["a", "b", "b", "c"],  # b is shared by ch08 and ch09
            "loss_drop": [0.01, 0.20, 0.20, 0.10],
            "plateau": [True, False, False, False],
        }
    )
    text = training_sentence(status=status)
    assert text.startswith("Of the 3 models found in the cache, 1 (33%) have reached a plateau")
    assert "still learning in ch09 (20%), ch08 (15%);" in text  # largest median first
    assert "ch01" not in text
    settled = status.assign(loss_drop=0.01, plateau=True)
    assert training_sentence(status=settled).endswith("the median model is on a plateau.")
    assert "nothing can be said" in training_sentence(status=status.iloc[:0])
