"""The ``lvf`` command: the chapter registry, the plan, training a chapter, submitit jobs."""

from __future__ import annotations

import importlib.metadata

import pytest

from lvf.book.scales import seeds
from lvf.train import TrainConfig, chapter_configs, registry, train_many, trained
from lvf.train.cli import main


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    monkeypatch.setenv("LVF_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("LVF_PROGRESS", "0")
    monkeypatch.setenv("LVF_CHECKPOINTS_URL", "off")
    monkeypatch.setenv("LVF_SCALE", "tiny")


def test_console_script_is_declared():
    (ep,) = [e for e in importlib.metadata.entry_points(group="console_scripts") if e.name == "lvf"]
    assert ep.value == "lvf.train.cli:main"


def test_registry_reads_the_numbers_from_the_chapter():
    S = registry.chapter_settings("ch01", "tiny")["S"]
    configs = chapter_configs("ch01", "tiny")
    assert configs and all(isinstance(c, TrainConfig) for c in configs)
    assert len(set(configs)) == len(configs)
    assert {c.n_train for c in configs} == {S["n_train"]}
    assert {c.epochs for c in configs} == {0, S["epochs"]}  # the untrained model has 0
    assert {c.seed for c in configs} == set(seeds())
    book = registry.chapter_settings("ch01", "book")["S"]
    assert {c.n_train for c in chapter_configs("ch01", "book")} == {book["n_train"]}
    assert chapter_configs("ch03", "tiny") == []  # untrained networks only
    with pytest.raises(ValueError, match="Unknown chapter"):
        chapter_configs("ch13", "tiny")


def test_plan_counts_and_skips_cached_models(capsys):
    configs = chapter_configs("ch01", "tiny")
    assert main(["train", "ch01", "--scale", "tiny", "--plan"]) == 0
    out = capsys.readouterr().out
    assert f"{len(configs)} models: 0 cached, 0 to download, {len(configs)} to train" in out
    assert "Estimated training time" in out and "an estimate" in out
    trained(configs[0], device="cpu", progress=False)
    trained(configs[1], device="cpu", progress=False)
    assert main(["train", "ch01", "--scale", "tiny", "--plan"]) == 0
    out = capsys.readouterr().out
    assert f"{len(configs)} models: 2 cached, 0 to download, {len(configs) - 2} to train" in out
    assert not any(c.cache_path().name in out for c in configs[2:])  # --plan trains nothing
    assert not configs[2].cache_path().exists()


def test_list_shows_chapters_and_counts(capsys):
    assert main(["train", "ch01", "ch03", "--list", "--scale", "tiny"]) == 0
    out = capsys.readouterr().out
    n = len(chapter_configs("ch01", "tiny"))
    assert f"ch01  {n:3d} models,   0 cached" in out
    assert "ch03    0 models" in out


def test_train_a_chapter_then_nothing_is_left_to_train(capsys):
    configs = chapter_configs("ch01", "tiny")
    assert main(["train", "ch01", "--scale", "tiny"]) == 0
    out = capsys.readouterr().out
    assert out.count(": trained (") == len(configs)
    assert out.index("to train.") < out.index(f"[1/{len(configs)}]")  # the plan comes first
    assert all(c.cache_path().is_file() for c in configs)
    assert main(["train", "ch01", "--scale", "tiny"]) == 0
    out = capsys.readouterr().out
    assert f"{len(configs)} models: {len(configs)} cached" in out and "Nothing to train" in out
    assert ": trained (" not in out


def test_submitit_local_executor_trains_in_subprocesses(tmp_path, capsys):
    base = TrainConfig(
        model="mlp",
        model_kwargs={"hidden": [8]},
        dataset="toy:moons",
        n_train=64,
        epochs=2,
        batch_size=32,
    )
    configs = [base, TrainConfig(**{**base.to_dict(), "seed": 1, "lr_step": base.lr_step})]
    results = train_many(
        configs, executor="local", folder=tmp_path / "jobs", parameters={"timeout_min": 5}
    )
    assert [r["status"] for r in results] == ["trained", "trained"]
    assert [r["name"] for r in results] == [c.cache_path().name for c in configs]
    for c in configs:
        assert c.cache_path().is_file()
        assert trained(c, progress=False).from_cache  # the jobs wrote the shared cache
    assert "Submitted 2 jobs to local" in capsys.readouterr().out
    assert list((tmp_path / "jobs").glob("*_result.pkl"))  # they really ran through submitit


def test_budget_cells_run_as_submitit_jobs_and_only_the_missing_ones(tmp_path, monkeypatch, capsys):
    """``lvf budget --executor local`` submits one job per cell not computed yet: seed 0's
    cell, computed here first, is kept as it is; seed 1's is computed in a subprocess with the
    chapter's own protocol (the same fields as seed 0's) and trains into the shared cache. A
    job that fails is reported with its reason and its log, and the others still finish."""
    import json

    from lvf.book import budget
    from lvf.train.cli import budget_cells

    monkeypatch.setenv("LVF_BUDGET", str(tmp_path / "budget"))
    (seed0,) = budget.run("ch04", scale="tiny", multipliers=(1,), seeds=(0,), device="cpu")
    before = seed0.read_bytes()
    n_models = len(list((tmp_path / "cache" / "models").glob("*.pt")))
    assert n_models > 0
    assert budget.to_compute("ch04", scale="tiny", multipliers=(1,), seeds=(0, 1)) == [(1, 1)]
    argv = ["budget", "ch04", "--scale", "tiny", "--multipliers", "1", "--seeds", "0", "1"]
    assert main([*argv, "--executor", "local", "--folder", str(tmp_path / "jobs")]) == 0
    out = capsys.readouterr().out
    assert "1 cell to compute" in out and "Submitted 1 budget cell to local" in out
    assert "[1/1] ch04/x1-seed1.json: done" in out
    assert seed0.read_bytes() == before  # a computed cell is never recomputed
    cell = json.loads((seed0.parent / "x1-seed1.json").read_text())
    assert (cell["chapter"], cell["multiplier"], cell["seed"]) == ("ch04", 1, 1)
    assert set(cell["values"]) == set(json.loads(before)["values"])
    models = sorted((tmp_path / "cache" / "models").glob("*.pt"))
    assert len(models) == 2 * n_models  # the job trained seed 1's models into the shared cache
    assert list((tmp_path / "jobs").glob("*_result.pkl"))  # it really ran through submitit

    results = budget_cells(
        [("ch99", "tiny", 1, 0)], executor="local", folder=tmp_path / "jobs", echo=lambda _: None
    )
    assert results[0]["status"].startswith("failed") and "No budget study" in results[0]["status"]
    assert results[0]["log"].endswith(".err")
    with pytest.raises(ValueError, match="'local' or 'slurm'"):
        budget_cells([("ch04", "tiny", 1, 0)], executor="inline")
