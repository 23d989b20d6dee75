"""The benchmark suite's code keeps working (``benchmarks/run.py``; its timings are not tested).

Runs the smallest section (``find_attractors``, section 3) at the ``smoke`` sizes, in-process,
and checks the JSON it writes; and checks the two helpers the other sections rest on against
``lvf.iterate`` on a map with a known fixed point.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch

import lvf

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture
def bench(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))  # run.py imports accel.py beside it
    spec = importlib.util.spec_from_file_location("lvf_benchmarks_run", BENCH / "run.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_smoke_section_writes_its_results(bench, tmp_path):
    bench.run(bench.SMOKE, ["3"], torch.device("cpu"), out_dir=tmp_path)
    (path,) = tmp_path.glob("*-cpu-smoke.json")
    data = json.loads(path.read_text())
    rows = {r["kind"]: r for r in data["results"]["3"]["rows"]}
    assert rows["realistic"]["attractors"] == bench.SMOKE.fa_true
    assert rows["worst"]["attractors"] == bench.SMOKE.fa_worst
    assert all(r["s"] > 0 and r["peak_rss_mib"] > 0 for r in rows.values())
    assert data["meta"]["commit"] and data["meta"]["uptime_before"]
    assert any(name.startswith("3. find_attractors") for name, _, _ in data["summary"])


def test_naive_loop_and_bucketed_map_agree_with_iterate(bench):
    import accel

    A = torch.tensor([[0.5, 0.2], [-0.1, 0.3]])
    b = torch.tensor([1.0, -2.0])

    def f(z):
        return z @ A.T + b

    z0 = torch.randn(37, 2, generator=torch.Generator().manual_seed(0)) * 5
    mapped = accel.BucketedMap(f, buckets=(4, 16))  # pads 37 rows in chunks of 16
    torch.testing.assert_close(mapped(z0), f(z0))
    res = lvf.iterate(mapped, z0, tol=1e-12, batch_size=8)
    zn, steps = bench.naive_iterate(f, z0, tol=1e-12, max_steps=3000, chunk=16)
    assert steps == int(res.steps.max())
    torch.testing.assert_close(zn, res.final, atol=1e-5, rtol=0)
    cmp = bench.compare_finals(res.final, zn)
    assert cmp["attractors_a"] == cmp["attractors_b"] == 1 and cmp["same_partition"]


def test_chunked_evaluation_gives_the_same_iterates(bench):
    """``iterate`` evaluates its pool in chunks (256 rows on the CPU by default; the benchmarks
    measured that as faster): the chunk size must not change any result."""
    g = torch.Generator().manual_seed(3)
    W = torch.randn(6, 6, generator=g) / 6

    def f(z):
        return torch.tanh(z @ W.T + 0.3)

    z0 = torch.randn(300, 6, generator=g) * 3
    whole = lvf.iterate(f, z0, tol=1e-10, batch_size=128, chunk_size=128)
    for chunk in (7, 64):
        part = bench.run_iterate(f, z0, tol=1e-10, max_steps=3000, batch_size=128, chunk=chunk)
        assert torch.equal(part.steps, whole.steps)
        torch.testing.assert_close(part.final, whole.final, rtol=0, atol=1e-6)


def test_book_build_reads_each_chapters_training_from_its_run_stamp(tmp_path):
    """The book-build benchmark splits a chapter's time into training and the rest from the
    stamps the chapters write; stamps older than the build, or from before the counts, are
    not this build's."""
    import os
    import time

    spec = importlib.util.spec_from_file_location("lvf_book_build", BENCH / "book_build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    counts = {"models_trained": 3, "models_cached": 1, "models_fetched": 0}
    stamps = {
        "ch_new": {"chapter": "ch_new", "seconds": 50.0, "train_seconds": 30.5, **counts},
        "ch_counts_missing": {"chapter": "ch_counts_missing", "seconds": 9.0},
        "ch_old": {"chapter": "ch_old", "seconds": 70.0, "train_seconds": 60.0, **counts},
    }
    for name, stamp in stamps.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(stamp))
    start = time.time()
    os.utime(tmp_path / "ch_old.json", (start - 3600, start - 3600))  # before the build
    got = module.training_times(start - 60, runs=tmp_path)
    assert got == {"ch_new": {"train_s": 30.5, "trained": 3, "cached": 1, "fetched": 0}}
    assert set(module.training_times(None, runs=tmp_path)) == {"ch_new", "ch_old"}
