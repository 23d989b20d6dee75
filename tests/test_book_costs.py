"""What a paper run costs (lvf.book.costs) from full-size measurements, and the measurements
themselves (benchmarks/fullsize.py and its committed results)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import torch

from lvf.book import costs
from lvf.models.fullsize import PAPER_CONFIGS

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def measurement(**kw):
    m = {
        "hub_id": "stabilityai/sd-vae-ft-mse",
        "weights_mib": 320.0,
        "gflop_per_eval": 1000.0,
        "gflop_per_decode": 500.0,
        "cpu_seconds_per_eval": 4.0,
        "cpu": {"1": {"peak_mib": 600.0}, "2": {"peak_mib": 1000.0}},
        "latent_shape": [4, 32, 32],
        "parameters": 83_653_863,
        "dtype": {
            "max_steps": 4,
            "relative_end_point_distance": [2e-2],
            "float32": {"converged": [True]},
            "bfloat16": {"converged": [False]},
        },
    }
    m.update(kw)
    return m


def test_projection_of_the_probing_run_by_hand():
    p = costs.project(measurement())
    run = PAPER_CONFIGS["stabilityai/sd-vae-ft-mse"].run
    assert p["evaluations"] == 4096 * 500 == run.max_evaluations
    assert p["decodes"] == 6 * 500 * 9 * 2  # every OMP reconstruction is decoded
    gflop = 4096 * 500 * 1000.0 + 54_000 * 500.0
    assert p["pflop"] == pytest.approx(gflop / 1e6)
    assert p["cpu_hours"] == pytest.approx(gflop / 1000.0 * 4.0 / 3600)
    gpu = costs.GPUS["RTX 3080 Ti"]
    assert p["RTX 3080 Ti"]["hours"] == pytest.approx(gflop / (gpu["assumed_tflops"] * 1e3) / 3600)
    # 500 MiB per input (half the peak at batch 2 > its growth of 400), 320 MiB of weights,
    # 80 % of 12 GiB: (9830 - 320) / 500 = 19 inputs -> batch 16
    assert p["RTX 3080 Ti"]["batch_size"] == 16


def test_half_precision_only_where_it_ends_where_float32_does(monkeypatch):
    far = measurement()
    near = measurement(dtype={**far["dtype"], "relative_end_point_distance": [1e-4],
                              "bfloat16": {"converged": [True]}})  # fmt: skip
    stalls = measurement(dtype={**near["dtype"], "bfloat16": {"converged": [False]}})
    for m, want in [(far, torch.float32), (near, torch.bfloat16), (stalls, torch.float32)]:
        monkeypatch.setattr(costs, "load", lambda m=m: {"models": {m["hub_id"]: m}})
        got = costs.run_defaults(m["hub_id"], "cpu")
        assert got["dtype"] == want and got["batch_size"] >= 1
    assert costs._dtype_sentence(far).startswith(
        "float32, because after 4 steps from the same start"
    )
    assert "beyond the 0.001 we accept" in costs._dtype_sentence(far)
    assert "within the 0.001 we accept" in costs._dtype_sentence(near)


def test_the_committed_measurements_cover_every_paper_model_end_to_end():
    """benchmarks/results/fullsize.json: each model saved, loaded by hub id from LVF_WEIGHTS
    (random weights), measured, and its protocol run end to end without error."""
    data = costs.load()
    assert set(data["models"]) == set(PAPER_CONFIGS)
    for hub_id, m in data["models"].items():
        assert m["random_weights"] and Path(m["loaded_from"]).parts[-2:] == tuple(hub_id.split("/"))
        assert m["cpu_seconds_per_eval"] > 0 and m["gflop_per_eval"] > 0
        assert m["e2e"]["call"].startswith("lvf.protocols.") and m["e2e"]["rows"] > 0
        assert m["dtype"]["float32"]["steps"]
    table = costs.table()
    assert len(table) == len(PAPER_CONFIGS) and (table["GFLOP per f"] > 0).all()


@pytest.mark.slow
def test_the_benchmark_drives_a_full_size_model_end_to_end(tmp_path, monkeypatch):
    """benchmarks/fullsize.py's measurement of the ViT-MAE base, in this process: saved,
    loaded by hub id, timed, both dtypes iterated, Sec. 4.2 run on a few images."""
    spec = importlib.util.spec_from_file_location("lvf_bench_fullsize", BENCH / "fullsize.py")
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, bench)
    spec.loader.exec_module(bench)
    monkeypatch.setenv("LVF_WEIGHTS", str(tmp_path))
    opts = {"threads": torch.get_num_threads(), "repeats": 1, "dtype_steps": 2, "e2e": True}
    m = bench.measure("facebook/vit-mae-base", str(tmp_path), opts)
    assert m["random_weights"] and m["latent_shape"] == [197, 768]
    assert m["parameters"] == 111_907_840
    assert 40 < m["gflop_per_eval"] < 50  # 2 x 12 encoder and 8 decoder layers at 197 tokens
    assert m["e2e"]["rows"] == 12  # 3 test sets x 4 scores
    assert {k for k, ok in m["e2e"]["finite_by_score"].items() if ok} >= {
        "Mahalanobis",
        "reconstruction",
    }
    # The benchmark halves its dtype check on a slow CPU (> 1 s per f: one start, half the
    # steps); which branch ran depends on the machine and its load, the result must follow it.
    slow = m["cpu_seconds_per_eval"] > 1.0
    assert m["dtype"]["float32"]["steps"] == ([1] if slow else [2, 2])
    p = costs.project(m)
    assert p["evaluations"] == 12_000 * 500
