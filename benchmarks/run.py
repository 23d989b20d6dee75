"""The lvf benchmark suite: the iteration engine against baselines and against the hardware.

One command runs it and prints a table of ratios, all measured in the same run::

    python benchmarks/run.py                  # full suite (about an hour on 2 CPU cores)
    python benchmarks/run.py --quick          # smoke run, about 2 minutes
    python benchmarks/run.py --sections 1,3   # some sections only
    python benchmarks/run.py --device cuda --cuda-graphs --compile   # on a GPU

Results go to ``benchmarks/results/<host>-<device>[-quick].json``. Sections:

1. ``lvf.iterate`` (per-point early exit) against a naive loop that iterates the whole batch
   until its slowest point converges, on trained Table-4 conv AEs (k = 2, 16, 128), from
   encoded training images, at the paper's tolerance 1e-6 and cap 3,000 steps. The naive
   cost is (steps of the slowest point) x (time of one whole-batch step), the step timed
   over ``probe_steps`` steps; the naive loop is also run to the end on a subset of starts,
   and both attractor sets are compared.
2. ``lvf.iterate`` against the physical limit of the workload: the point-steps it needed
   divided by the best batched throughput of ``f`` (batch sizes swept). Then the PyTorch
   options (inference mode, channels-last, ``torch.compile``, bf16 autocast, threads, pool
   size, CUDA graphs on a GPU), each measured.
3. ``lvf.find_attractors`` at 10k, 100k and 1M points (k = 16, 128): time and peak memory,
   each size in its own process.
4. Jacobian spectral norms (power iteration against the exact Jacobian), and the training
   throughput of ``lvf.train.fit`` against a plain PyTorch loop.
5. An estimate of the paper-scale small-AE suite (Figs. 2, 3 and 14) from throughputs
   measured in this run.

Benchmarks are not tests: nothing here passes or fails. Timings on a shared machine move
with the load; the JSON records ``uptime`` before and after.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import inspect
import json
import math
import os
import platform
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

os.environ.setdefault("LVF_PROGRESS", "0")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from accel import DEFAULT_BUCKETS, CudaGraphMap, compiled_map, plain_map  # noqa: E402

import lvf  # noqa: E402
from lvf.train import TrainConfig, fit, trained, training_data  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

# --------------------------------------------------------------------------------------------
# sizes
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sizes:
    """Every size of the suite; ``FULL``, ``QUICK`` and ``SMOKE`` below."""

    name: str
    ks: tuple[int, ...]  # bottlenecks of the benchmark models
    n_train: int  # MNIST training images of each benchmark model
    epochs: int  # its training epochs (Adam 5e-4, weight decay 1e-4: the paper's recipe)
    batch: int  # training batch (32: at 128 a few epochs stay on the mean-image plateau)
    lr_step: int  # StepLR step in epochs (halving)
    n_starts: int  # section 1: starts (encoded training images)
    n_naive: int  # section 1: starts of the naive loop run to the end
    probe_steps: int  # section 1: whole-batch steps timed for the naive estimate
    tol: float
    max_steps: int
    sweep: tuple[int, ...]  # section 2: batch sizes of the throughput sweep
    variant_batches: tuple[int, ...]  # section 2: batch sizes at which variants are compared
    n_variant_starts: int  # section 2: starts of the iterate runs per variant
    pools: tuple[int, ...]  # section 2: iterate pool sizes tried
    compile: bool  # section 2: include torch.compile variants
    fa_sizes: tuple[int, ...]  # section 3
    fa_dims: tuple[int, ...]
    fa_true: int  # attractors in the realistic case
    fa_worst: int  # points of the worst case (all distinct)
    fa_subprocess: bool  # each size in a fresh process (peak memory per size)
    n_jac: int  # section 4: points for the exact spectral norms (Jacobian + SVD)
    jac_chunk: int
    n_power: int  # section 4: points for the power iteration (a subset: it is much slower)
    power_chunk: int  # its chunk (memory: about 2 GB per 64 points with torch 2.14 on CPU)
    n_fit: int  # section 4: images per timed training epoch
    rounds: int  # repetitions of interleaved timings


FULL = Sizes(
    name="full",
    ks=(2, 16, 128),
    n_train=10_000,
    epochs=3,
    batch=32,
    lr_step=2,
    n_starts=5000,
    n_naive=256,
    probe_steps=30,
    tol=1e-6,
    max_steps=3000,
    sweep=(16, 64, 256, 1024, 4096, 8192),
    variant_batches=(64, 512, 4096),
    n_variant_starts=1000,
    pools=(64, 256, 1024, 4096),
    compile=True,
    fa_sizes=(10_000, 100_000, 1_000_000),
    fa_dims=(16, 128),
    fa_true=300,
    fa_worst=10_000,
    fa_subprocess=True,
    n_jac=10_000,
    jac_chunk=256,
    n_power=256,
    power_chunk=64,
    n_fit=4096,
    rounds=3,
)
# the k = 16 model of the full suite (trained on the first run, about 2 CPU-minutes, then cached)
QUICK = replace(
    FULL,
    name="quick",
    ks=(16,),
    n_starts=512,
    n_naive=64,
    probe_steps=30,
    sweep=(16, 256, 1024),
    variant_batches=(256,),
    n_variant_starts=128,
    pools=(64, 512),
    compile=False,
    fa_sizes=(10_000, 100_000),
    fa_dims=(16,),
    fa_worst=2000,
    n_jac=256,
    jac_chunk=256,
    n_power=64,
    power_chunk=64,
    n_fit=512,
    rounds=2,
)
# the test suite's run: section 3 in-process (a fresh interpreter costs seconds to import torch)
SMOKE = replace(QUICK, name="smoke", fa_sizes=(2000,), fa_worst=500, fa_subprocess=False, rounds=1)
SIZES = {s.name: s for s in (FULL, QUICK, SMOKE)}

# --------------------------------------------------------------------------------------------
# timing helpers
# --------------------------------------------------------------------------------------------


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Clock:
    """The clock every timing reads: ``wall`` (``time.perf_counter``, the default) or ``cpu``
    (``time.process_time``: this process's CPU seconds, all threads). On a machine shared
    with other work, ``cpu`` with one thread approximates what a quiet machine would show;
    on a GPU only ``wall`` is meaningful."""

    name = "wall"
    now = staticmethod(time.perf_counter)

    @classmethod
    def use(cls, name: str) -> None:
        if name not in ("wall", "cpu"):
            raise ValueError(f"clock must be 'wall' or 'cpu', got {name!r}")
        cls.name = name
        cls.now = staticmethod(time.perf_counter if name == "wall" else time.process_time)


def timed(fn: Callable[[], object], device: torch.device) -> tuple[float, float, object]:
    """Run ``fn`` once: (seconds on :class:`Clock`, wall seconds, result)."""
    sync(device)
    t0, w0 = Clock.now(), time.perf_counter()
    out = fn()
    sync(device)
    return Clock.now() - t0, time.perf_counter() - w0, out


def seconds_per_call(
    fn: Callable[[], object], device: torch.device, *, min_time: float = 0.5, min_reps: int = 2
) -> list[float]:
    """Seconds (:class:`Clock`) of each of at least ``min_reps`` calls that together last
    ``min_time`` wall seconds, after one warm-up call."""
    fn()
    sync(device)
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < min_reps or time.perf_counter() - start < min_time:
        times.append(timed(fn, device)[0])
    return times


def median(xs: list[float]) -> float:
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])


def interleaved(
    fns: dict[str, Callable[[], object]], device: torch.device, *, rounds: int, min_time: float
) -> dict[str, float]:
    """Median wall seconds per call of each function, measured in alternating rounds so
    that a change of machine load hits every function alike."""
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for fn in fns.values():  # warm-up (and compilation) outside the timings
        fn()
    for _ in range(rounds):
        for name, fn in fns.items():
            samples[name] += seconds_per_call(fn, device, min_time=min_time, min_reps=1)
    return {name: median(ts) for name, ts in samples.items()}


class CallLog:
    """Wrap a map and record (batch size, wall seconds) of every call."""

    def __init__(self, fn: Callable[[torch.Tensor], torch.Tensor], device: torch.device):
        self.fn, self.device = fn, device
        self.calls: list[tuple[int, float]] = []

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        t0 = Clock.now()
        out = self.fn(z)
        sync(self.device)
        self.calls.append((z.shape[0], Clock.now() - t0))
        return out


def profile_table(fn: Callable[[], object], device: torch.device, row_limit: int = 12) -> str:
    """torch.profiler's table of the top operators of one call of ``fn``."""
    from torch.profiler import ProfilerActivity, profile

    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=acts) as prof:
        fn()
        sync(device)
    key = "self_device_time_total" if device.type == "cuda" else "self_cpu_time_total"
    return prof.key_averages().table(sort_by=key, row_limit=row_limit)


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "load average: " + " ".join(f"{x:.2f}" for x in os.getloadavg())


# --------------------------------------------------------------------------------------------
# the models and their starts
# --------------------------------------------------------------------------------------------


@dataclass
class Bench:
    """One run: settings, shared models, and the results of each section."""

    sizes: Sizes
    device: torch.device
    cuda_graphs: bool = False
    compile: bool | None = None  # None: the sizes decide
    variants: bool = True  # section 2's PyTorch variants
    results: dict = field(default_factory=dict)
    log: list[str] = field(default_factory=list)
    _models: dict = field(default_factory=dict)

    def say(self, text: str = "") -> None:
        print(text, flush=True)
        self.log.append(text)

    def model(self, k: int):
        """(trained model, starts z0 (n_starts, k), config, training seconds or None)."""
        if k not in self._models:
            s = self.sizes
            cfg = TrainConfig(
                model="conv",
                dataset="mnist",
                epochs=s.epochs,
                n_train=s.n_train,
                batch_size=s.batch,
                lr_step=s.lr_step,
                model_kwargs={"k": k},
            )
            w, _, tm = timed(lambda: trained(cfg, device=self.device, progress=False), self.device)
            x = training_data(cfg)[: s.n_starts]
            with torch.no_grad():
                z0 = torch.cat([tm.model.encode(c.to(self.device)) for c in x.split(1024)])
            note = "from cache" if tm.from_cache else f"trained now in {w:.0f} s"
            self.say(
                f"  model k={k}: conv AE (Table 4, d=32), MNIST {s.n_train} images x "
                f"{s.epochs} epochs (batch {s.batch}, lr halved every {s.lr_step}), final loss "
                f"{tm.history['loss'][-1]:.4f} ({note})"
            )
            self._models[k] = (tm.model, z0, cfg, None if tm.from_cache else w)
        return self._models[k]


def _iterate_chunking() -> bool:
    return "chunk_size" in inspect.signature(lvf.iterate).parameters


def default_chunk(device: torch.device, pool: int) -> int:
    """Rows per call of ``f`` that ``lvf.iterate`` uses by default (the whole pool before
    it learnt ``chunk_size``)."""
    if not _iterate_chunking():
        return pool
    from lvf.iterate import CPU_CHUNK

    return CPU_CHUNK if device.type == "cpu" else pool


def run_iterate(f, z0, *, tol, max_steps, batch_size=None, chunk=None):
    """``lvf.iterate`` with ``chunk`` rows per call of ``f`` (``None``: its default)."""
    if chunk is None:
        return lvf.iterate(f, z0, tol=tol, max_steps=max_steps, batch_size=batch_size)
    if _iterate_chunking():
        return lvf.iterate(
            f, z0, tol=tol, max_steps=max_steps, batch_size=batch_size, chunk_size=chunk
        )

    def chunked(z):
        return f(z) if z.shape[0] <= chunk else torch.cat([f(c) for c in z.split(chunk)])

    return lvf.iterate(chunked, z0, tol=tol, max_steps=max_steps, batch_size=batch_size)


def naive_iterate(
    f: Callable[[torch.Tensor], torch.Tensor],
    z0: torch.Tensor,
    *,
    tol: float,
    max_steps: int,
    chunk: int,
    fixed_steps: int | None = None,
) -> tuple[torch.Tensor, int]:
    """The baseline: step the whole batch (in chunks of ``chunk`` rows) until every point's
    squared step is below ``tol`` at once, or ``max_steps``; ``fixed_steps`` runs exactly
    that many steps (for timing). Returns (final iterates, steps taken)."""
    z = z0.clone()
    n = z.shape[0]
    last = fixed_steps if fixed_steps is not None else max_steps
    t = 0
    while t < last:
        t += 1
        z_new = torch.cat([f(c) for c in z.split(chunk)]) if n > chunk else f(z)
        step_sq = (z_new - z).reshape(n, -1).square().sum(dim=1)
        z = z_new
        if fixed_steps is None and bool((step_sq < tol).all()):
            break
    return z, t


def compare_finals(a: torch.Tensor, b: torch.Tensor, cos: float = 0.99) -> dict:
    """Attractors of two sets of final iterates of the same starts: counts, matching of
    centers (cosine > ``cos`` both ways), and per-point agreement."""
    att_a, att_b = lvf.find_attractors(a), lvf.find_attractors(b)
    ca = F.normalize(att_a.centers.flatten(1).double(), dim=1)
    cb = F.normalize(att_b.centers.flatten(1).double(), dim=1)
    sim = ca @ cb.T
    per_point = F.cosine_similarity(a.flatten(1).double(), b.flatten(1).double(), dim=1)
    # the same partition of the starts: labels agree up to renaming
    pair = att_a.labels * len(att_b) + att_b.labels
    same_partition = len(torch.unique(pair)) == len(att_a) == len(att_b)
    return {
        "attractors_a": len(att_a),
        "attractors_b": len(att_b),
        "centers_a_matched": float((sim.max(dim=1).values > cos).double().mean()),
        "centers_b_matched": float((sim.max(dim=0).values > cos).double().mean()),
        "points_agree": float((per_point > cos).double().mean()),
        "max_point_distance": float((a - b).flatten(1).norm(dim=1).max()),
        "same_partition": bool(same_partition),
    }


def step_stats(steps: torch.Tensor) -> dict:
    s = steps.double().cpu()
    q = torch.quantile(s, torch.tensor([0.5, 0.9, 0.99], dtype=torch.double)).tolist()
    return {
        "sum": int(s.sum()),
        "mean": float(s.mean()),
        "median": q[0],
        "p90": q[1],
        "p99": q[2],
        "max": int(s.max()),
    }


# --------------------------------------------------------------------------------------------
# section 1: iterate against the naive loop
# --------------------------------------------------------------------------------------------


def section1(b: Bench) -> dict:
    s = b.sizes
    b.say(f"\n== 1. lvf.iterate vs the naive whole-batch loop (tol {s.tol:g}, cap {s.max_steps})")
    return {k: _iterate_vs_naive(b, k) for k in s.ks}


def _iterate_vs_naive(b: Bench, k: int) -> dict:
    s, dev = b.sizes, b.device
    model, z0, _, _ = b.model(k)
    f = model.latent_map()
    n = z0.shape[0]
    pool = min(n, 4096)  # iterate's default pool
    chunk = default_chunk(dev, pool)  # rows per call of f: the naive loop uses the same
    log = CallLog(f, dev)
    w, wall, res = timed(lambda: lvf.iterate(log, z0, tol=s.tol, max_steps=s.max_steps), dev)
    st = step_stats(res.steps)
    # the naive cost: (steps of the slowest point) x (one whole-batch step)
    pw, _, _ = timed(
        lambda: naive_iterate(
            f, z0, tol=s.tol, max_steps=s.max_steps, chunk=chunk, fixed_steps=s.probe_steps
        ),
        dev,
    )
    per_step = pw / s.probe_steps
    naive_est = st["max"] * per_step
    # the naive loop to the end on a subset, and the same attractors?
    zs = z0[: s.n_naive]
    ws, _, res_s = timed(lambda: lvf.iterate(f, zs, tol=s.tol, max_steps=s.max_steps), dev)
    wn, _, (zn, tn) = timed(
        lambda: naive_iterate(f, zs, tol=s.tol, max_steps=s.max_steps, chunk=chunk), dev
    )
    cmp = compare_finals(res_s.final, zn)
    row = {
        "n_starts": n,
        "pool": pool,
        "chunk": chunk,
        "iterate_s": w,
        "iterate_wall_s": wall,
        "converged": float(res.converged.double().mean()),
        "diverged": int(res.diverged.sum()),
        "steps": st,
        "point_steps_per_s": st["sum"] / w,
        "naive_step_s": per_step,
        "naive_probe_steps": s.probe_steps,
        "naive_est_s": naive_est,
        "speedup_est": naive_est / w,
        "work_ratio": n * st["max"] / st["sum"],
        "subset": {
            "n": zs.shape[0],
            "iterate_s": ws,
            "naive_s": wn,
            "naive_steps": tn,
            "iterate_max_steps": int(res_s.steps.max()),
            "speedup_measured": wn / ws,
            **cmp,
        },
        "calls": log.calls,
    }
    b.say(
        f"  k={k:<4} {n} starts (pool {pool}, f on {chunk} rows at a time): iterate {w:.1f} s "
        f"({row['point_steps_per_s']:.0f} "
        f"point-steps/s), steps median {st['median']:.0f} / p90 {st['p90']:.0f} / max "
        f"{st['max']}, converged {row['converged']:.1%}"
    )
    b.say(
        f"         naive = {st['max']} steps x {per_step:.3f} s/step (timed over "
        f"{s.probe_steps} whole-batch steps) = {naive_est:.0f} s  ->  {row['speedup_est']:.1f}x"
        f"  (work ratio N*max/sum = {row['work_ratio']:.1f})"
    )
    sub = row["subset"]
    b.say(
        f"         subset of {sub['n']}: naive run to the end {wn:.1f} s ({tn} steps) vs "
        f"iterate {ws:.1f} s -> {sub['speedup_measured']:.1f}x; attractors "
        f"{cmp['attractors_a']} (iterate) vs {cmp['attractors_b']} (naive), centers matched "
        f"{cmp['centers_a_matched']:.0%}/{cmp['centers_b_matched']:.0%}, points agreeing "
        f"{cmp['points_agree']:.1%}, same partition: {cmp['same_partition']}"
    )
    return row


# --------------------------------------------------------------------------------------------
# section 2: iterate against the physical limit, and what PyTorch offers
# --------------------------------------------------------------------------------------------


def _rows_of(z0: torch.Tensor, n: int) -> torch.Tensor:
    return z0[torch.arange(n, device=z0.device) % z0.shape[0]].contiguous()


def throughput_sweep(f, z0, batches, device, min_time=1.0) -> dict[int, float]:
    """Point-evaluations of ``f`` per second at each batch size (median over calls)."""
    out = {}
    for bs in batches:
        zb = _rows_of(z0, bs)
        out[bs] = bs / median(seconds_per_call(lambda zb=zb: f(zb), device, min_time=min_time))
    return out


def _time_breakdown(calls, wall: float, best_rate: float, chunk: int) -> dict:
    """Where iterate's time went: f on full chunks (``chunk`` rows), f on partial chunks
    (the pool's tail, remainders), and the bookkeeping between calls; each f share against
    the best throughput."""
    full = [(n, t) for n, t in calls if n >= chunk]
    part = [(n, t) for n, t in calls if n < chunk]
    f_time = sum(t for _, t in calls)
    out = {"f_s": f_time, "overhead_s": wall - f_time}
    for name, group in (("full_chunks", full), ("partial_chunks", part)):
        pts = sum(n for n, _ in group)
        tt = sum(t for _, t in group)
        out[name] = {"calls": len(group), "points": pts, "s": tt, "loss_s": tt - pts / best_rate}
    return out


def section2(b: Bench) -> dict:
    s, dev = b.sizes, b.device
    b.say("\n== 2. lvf.iterate vs the physical limit (point-steps / best throughput of f)")
    out: dict = {"models": {}}
    s1 = b.results.get("1") or section1(b)
    for k in s.ks:
        model, z0, _, _ = b.model(k)
        f = model.latent_map()
        batches = s.sweep + ((16384, 32768) if dev.type == "cuda" else ())
        sweep = throughput_sweep(f, z0, batches, dev)
        best_bs = max(sweep, key=sweep.get)
        r1 = s1[k]
        ideal = r1["steps"]["sum"] / sweep[best_bs]
        eff = ideal / r1["iterate_s"]
        brk = _time_breakdown(r1["calls"], r1["iterate_s"], sweep[best_bs], r1["chunk"])
        # the same ratio against f's own rate on full chunks during the run: what iterate
        # loses to its bookkeeping and partial chunks, free of load changes between runs
        full = brk["full_chunks"]
        rate_in_run = full["points"] / full["s"] if full["s"] > 0 else sweep[best_bs]
        eff_in_run = r1["steps"]["sum"] / rate_in_run / r1["iterate_s"]
        out["models"][k] = {
            "efficiency_in_run": eff_in_run,
            "f_rate_in_run": rate_in_run,
            "sweep": sweep,
            "best_batch": best_bs,
            "best_rate": sweep[best_bs],
            "ideal_s": ideal,
            "iterate_s": r1["iterate_s"],
            "efficiency": eff,
            "breakdown": brk,
        }
        sw = ", ".join(f"{bs}: {r:.0f}" for bs, r in sweep.items())
        b.say(f"  k={k:<4} throughput of f (points/s) by batch: {sw}")
        b.say(
            f"         limit {r1['steps']['sum']} point-steps / {sweep[best_bs]:.0f}/s = "
            f"{ideal:.1f} s; iterate {r1['iterate_s']:.1f} s -> {eff:.0%} of the limit"
        )
        part = brk["partial_chunks"]
        b.say(
            f"         against f's own rate in this run ({rate_in_run:.0f} points/s on "
            f"{r1['chunk']}-row calls): {eff_in_run:.0%}"
        )
        b.say(
            f"         where the time went: f on {full['calls']} calls of {r1['chunk']} rows "
            f"{full['s']:.1f} s (+{full['loss_s']:.1f} s over the limit), f on "
            f"{part['calls']} smaller calls (pool tail, remainders) {part['s']:.1f} s "
            f"(+{part['loss_s']:.1f} s), bookkeeping {brk['overhead_s']:.1f} s"
        )
    if b.variants:
        out["variants"] = _variants(b)
    worst = min(out["models"].values(), key=lambda r: r["efficiency"])
    if worst["efficiency"] < 0.9:
        k = min(out["models"], key=lambda k: out["models"][k]["efficiency"])
        model, z0, _, _ = b.model(k)
        zp = z0[: min(256, z0.shape[0])]
        table = profile_table(
            lambda: lvf.iterate(model.latent_map(), zp, tol=s.tol, max_steps=20), dev
        )
        what = f"iterate, {zp.shape[0]} starts, 20 steps"
        out["profile"] = {"k": k, "what": what, "table": table}
        b.say(f"  below 90 %: profile of iterate (k={k}, {zp.shape[0]} starts, 20 steps):")
        b.say(table)
    return out


def _variants(b: Bench) -> dict:
    """Each PyTorch option for f, on the k = 16 model (or the only one): throughput at a few
    batch sizes (interleaved rounds), then full iterate runs of the promising ones."""
    s, dev = b.sizes, b.device
    k = 16 if 16 in s.ks else s.ks[0]
    model, z0, _, _ = b.model(k)
    do_compile = s.compile if b.compile is None else b.compile
    bf16 = torch.bfloat16
    maps: dict[str, Callable] = {
        "no_grad (LatentMap)": model.latent_map(),
        "inference_mode": plain_map(model, mode="inference_mode"),
        "channels_last": plain_map(copy.deepcopy(model), channels_last=True),
        "bf16 autocast": plain_map(model, mode="inference_mode", autocast=bf16),
    }
    if dev.type == "cpu":
        n_threads = torch.get_num_threads()
        if n_threads > 1:
            maps["1 thread"] = _with_threads(maps["inference_mode"], 1, n_threads)
    compile_s: dict[str, float] = {}
    if do_compile:
        for name, dyn in (("compile dynamic", True), ("compile static+buckets", False)):
            fn = compiled_map(plain_map(model, mode="no_grad"), dynamic=dyn)
            # compilation of every shape iterate will meet, timed apart (wall: gcc runs in
            # subprocesses)
            _, w, _ = timed(lambda fn=fn: [fn(_rows_of(z0, n)) for n in DEFAULT_BUCKETS], dev)
            compile_s[name] = w
            maps[name] = fn
        fn = compiled_map(plain_map(model, mode="no_grad", autocast=bf16), dynamic=True)
        _, w, _ = timed(lambda: [fn(_rows_of(z0, n)) for n in DEFAULT_BUCKETS], dev)
        compile_s["compile dynamic, bf16"] = w
        maps["compile dynamic, bf16"] = fn
        if dev.type == "cuda":  # inductor's own CUDA graphs, one per bucket
            fn = compiled_map(plain_map(model), dynamic=False, mode="reduce-overhead")
            _, w, _ = timed(lambda: [fn(_rows_of(z0, n)) for n in DEFAULT_BUCKETS], dev)
            compile_s["compile reduce-overhead+buckets"] = w
            maps["compile reduce-overhead+buckets"] = fn
    if dev.type == "cuda" and b.cuda_graphs:
        for name, base in (
            ("cuda graphs", plain_map(model)),
            ("cuda graphs, bf16", plain_map(model, autocast=bf16)),
        ):
            _, w, fn = timed(lambda base=base: CudaGraphMap(base, (k,), device=dev), dev)
            compile_s[name] = w
            maps[name] = fn

    b.say(f"  variants of f (k={k}), points/s at batch {', '.join(map(str, s.variant_batches))}:")
    rates: dict[str, dict[int, float]] = {name: {} for name in maps}
    for bs in s.variant_batches:
        zb = _rows_of(z0, bs)
        fns = {name: (lambda fn=fn, zb=zb: fn(zb)) for name, fn in maps.items()}
        per_call = interleaved(fns, dev, rounds=s.rounds, min_time=0.3)
        for name, t in per_call.items():
            rates[name][bs] = bs / t
    base = rates["no_grad (LatentMap)"]
    for name, r in rates.items():
        rel = " ".join(f"{r[bs]:8.0f} ({r[bs] / base[bs]:.2f}x)" for bs in s.variant_batches)
        extra = f"   [compile/capture {compile_s[name]:.0f} s wall]" if name in compile_s else ""
        b.say(f"    {name:<30} {rel}{extra}")

    # iterate runs: pool sizes with the plain map, then the fastest variants
    zs = z0[: s.n_variant_starts]
    runs: dict[str, dict] = {}
    ref = None

    def run(label: str, fn, pool: int | None, chunk: int | None = None):
        nonlocal ref
        w, _, res = timed(
            lambda: run_iterate(
                fn, zs, tol=s.tol, max_steps=s.max_steps, batch_size=pool, chunk=chunk
            ),
            dev,
        )
        p = pool or min(zs.shape[0], 4096)
        c = chunk or default_chunk(dev, p)
        row = {"s": w, "pool": p, "chunk": min(c, p), **step_stats(res.steps)}
        row["converged"] = float(res.converged.double().mean())
        if ref is None:
            ref = res
        else:
            row["vs_fp32_reference"] = compare_finals(ref.final, res.final)
            row["steps_changed"] = float((res.steps != ref.steps).double().mean())
        runs[label] = row
        b.say(
            f"    iterate [{label}] pool {row['pool']}, chunk {row['chunk']}: {w:.1f} s, "
            f"{row['sum']} point-steps, "
            f"converged {row['converged']:.1%}"
            + (
                f"; vs fp32: attractors {row['vs_fp32_reference']['attractors_b']} vs "
                f"{row['vs_fp32_reference']['attractors_a']}, points agreeing "
                f"{row['vs_fp32_reference']['points_agree']:.1%}, same partition "
                f"{row['vs_fp32_reference']['same_partition']}"
                if "vs_fp32_reference" in row
                else ""
            )
        )

    b.say(
        f"  iterate from {zs.shape[0]} starts with each pool and chunk size and the fastest "
        "variants (reference: the first run):"
    )
    plain = maps["no_grad (LatentMap)"]
    run("no_grad, defaults", plain, None)
    run("no_grad, f on the whole pool", plain, None, chunk=min(zs.shape[0], 4096))
    for pool in s.pools:
        if pool < zs.shape[0]:
            run(f"no_grad, pool {pool}", plain, pool, chunk=pool)
    ranked = sorted(
        (name for name in maps if name != "no_grad (LatentMap)"),
        key=lambda name: -median([rates[name][bs] / base[bs] for bs in s.variant_batches]),
    )
    for name in ranked:  # every variant faster than the plain map, fastest first
        if median([rates[name][bs] / base[bs] for bs in s.variant_batches]) > 1.05:
            run(name, maps[name], None)
    return {"k": k, "rates": rates, "compile_s": compile_s, "iterate_runs": runs}


def _with_threads(fn, n: int, restore: int):
    def g(z):
        torch.set_num_threads(n)
        try:
            return fn(z)
        finally:
            torch.set_num_threads(restore)

    return g


# --------------------------------------------------------------------------------------------
# section 3: find_attractors, each size in its own process
# --------------------------------------------------------------------------------------------


def _rss_kib(field_name: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    return -1


def fa_worker(
    n: int,
    dim: int,
    kind: str,
    n_true: int = 300,
    seed: int = 0,
    profile: bool = False,
    clock: str = "wall",
    device: str = "cpu",
) -> dict:
    """Runs in a subprocess: make the points, then time ``find_attractors`` and read the
    process's peak resident memory during the call (VmHWM, reset just before it), and on a
    GPU the peak of its allocated memory."""
    dev = torch.device(device)
    g = torch.Generator().manual_seed(seed)
    if kind == "realistic":  # a few hundred attractors, each point one of them + small noise
        centers = torch.randn(n_true, dim, generator=g) * 3
        points = torch.empty(n, dim)
        for s in range(0, n, 65536):
            m = min(n, s + 65536) - s
            lab = torch.randint(n_true, (m,), generator=g)
            points[s : s + m] = centers[lab] + 1e-3 * torch.randn(m, dim, generator=g)
    else:  # worst case: every point its own attractor
        points = torch.randn(n, dim, generator=g)
    points = points.to(dev)
    lvf.find_attractors(points[:2000])  # warm-up (thread pools, allocator, kernels)
    sync(dev)
    before = _rss_kib("VmRSS")
    try:
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
        reset = True
    except OSError:
        reset = False
    if dev.type == "cuda":
        gpu_before = torch.cuda.memory_allocated(dev)
        torch.cuda.reset_peak_memory_stats(dev)
    w0, c0 = time.perf_counter(), time.process_time()
    att = lvf.find_attractors(points)
    sync(dev)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    out = {
        "n": n,
        "dim": dim,
        "kind": kind,
        "device": str(dev),
        "s": cpu if clock == "cpu" else wall,
        "wall_s": wall,
        "cpu_s": cpu,
        "attractors": len(att),
        "rss_before_mib": before / 1024,
        "peak_rss_mib": _rss_kib("VmHWM") / 1024,
        "peak_extra_mib": (_rss_kib("VmHWM") - before) / 1024 if reset else None,
        "data_mib": points.numel() * 4 / 2**20,
    }
    if dev.type == "cuda":
        out["gpu_peak_extra_mib"] = (torch.cuda.max_memory_allocated(dev) - gpu_before) / 2**20
    if profile:
        out["profile"] = profile_table(lambda: lvf.find_attractors(points), dev)
    return out


def _run_worker(job: dict, in_subprocess: bool = True) -> dict:
    """``fa_worker(**job)`` in a fresh interpreter (threads and clock as in this one)."""
    job = {**job, "clock": Clock.name}
    if not in_subprocess:
        return fa_worker(**job)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(job)]
    cmd += ["--threads", str(torch.get_num_threads())]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"worker {job} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def section3(b: Bench) -> dict:
    s = b.sizes
    b.say("\n== 3. lvf.find_attractors (cosine > 0.99), one process per size")
    rows = []
    cases = [(n, d, "realistic") for d in s.fa_dims for n in s.fa_sizes]
    cases += [(s.fa_worst, d, "worst") for d in s.fa_dims]
    for n, d, kind in cases:
        job = {"n": n, "dim": d, "kind": kind, "n_true": s.fa_true, "device": str(b.device)}
        r = _run_worker(job, s.fa_subprocess)
        rows.append(r)
        extra = f"+{r['peak_extra_mib']:.0f}" if r["peak_extra_mib"] is not None else "?"
        b.say(
            f"  {kind:<9} N={n:>9,} k={d:<4} {r['s']:7.2f} s  attractors {r['attractors']:>6}  "
            f"peak RSS {r['peak_rss_mib']:7.0f} MiB ({extra} MiB in the call; data "
            f"{r['data_mib']:.0f} MiB)"
            + (f", GPU +{r['gpu_peak_extra_mib']:.0f} MiB" if "gpu_peak_extra_mib" in r else "")
        )
    growth = {}
    for d in s.fa_dims:
        real = sorted((r for r in rows if r["dim"] == d and r["kind"] == "realistic"), key=_n)
        for a, c in zip(real[:-1], real[1:], strict=True):
            ratio = math.log(c["n"] / a["n"])
            key = f"k={d} {a['n']}->{c['n']}"
            growth[key] = {
                "time_exponent": math.log(c["s"] / a["s"]) / ratio,
                "memory_exponent": (
                    math.log(c["peak_extra_mib"] / a["peak_extra_mib"]) / ratio
                    if a["peak_extra_mib"] and c["peak_extra_mib"]
                    else None
                ),
            }
            g = growth[key]
            mem = f"{g['memory_exponent']:.2f}" if g["memory_exponent"] is not None else "?"
            b.say(f"  growth {key}: time ~ N^{g['time_exponent']:.2f}, memory ~ N^{mem}")
    out = {"rows": rows, "growth": growth}
    slow = [r for r in rows if r["n"] == 100_000 and r["s"] >= 2.0]
    if slow:
        r = slow[0]
        job = {"n": r["n"], "dim": r["dim"], "kind": r["kind"], "n_true": s.fa_true}
        prof = _run_worker({**job, "profile": True, "device": str(b.device)}, s.fa_subprocess)
        out["profile"] = {"case": f"{r['kind']} N={r['n']} k={r['dim']}", "table": prof["profile"]}
        b.say(f"  100k above 2 s: profile of find_attractors ({out['profile']['case']}):")
        b.say(prof["profile"])
    return out


def _n(r: dict) -> int:
    return r["n"]


# --------------------------------------------------------------------------------------------
# section 4: Jacobian spectral norms; training throughput
# --------------------------------------------------------------------------------------------


def section4(b: Bench) -> dict:
    s, dev = b.sizes, b.device
    b.say("\n== 4. Jacobian spectral norms; training throughput of lvf.train.fit")
    k = 16 if 16 in s.ks else s.ks[0]
    model, _, cfg, _ = b.model(k)
    f = model.latent_map()
    x = training_data(cfg)
    n = min(s.n_jac, x.shape[0])
    with torch.no_grad():
        z = torch.cat([model.encode(c.to(dev)) for c in x[:n].split(1024)])
    we, _, exact = timed(
        lambda: torch.cat(
            [
                torch.linalg.matrix_norm(lvf.jacobian.jacobian(f, c), ord=2)
                for c in z.split(s.jac_chunk)
            ]
        ),
        dev,
    )
    # power iteration (jvp/vjp) on the first n_power points only, time scaled to all n
    n_pow = min(s.n_power, n)
    wp, _, sig = timed(
        lambda: torch.cat(
            [lvf.jacobian.spectral_norm(f, c) for c in z[:n_pow].split(s.power_chunk)]
        ),
        dev,
    )
    rel = ((sig - exact[:n_pow]).abs() / exact[:n_pow]).cpu()
    wp_all = wp * n / n_pow
    jac = {
        "k": k,
        "n": n,
        "chunk": s.jac_chunk,
        "n_power": n_pow,
        "power_chunk": s.power_chunk,
        "exact_s": we,
        "power_s": wp,
        "power_s_scaled_to_n": wp_all,
        "power_over_exact_time": wp_all / we,
        "rel_err_median": float(rel.median()),
        "rel_err_max": float(rel.max()),
        "sigma_median": float(exact.median()),
    }
    b.say(
        f"  spectral norm, k={k}: exact (Jacobian by vmap(jacrev) + SVD) at {n} points in chunks "
        f"of {s.jac_chunk}: {we:.1f} s; power iteration (lvf.jacobian.spectral_norm) at the "
        f"first {n_pow} in chunks of {s.power_chunk}: {wp:.1f} s, i.e. {wp_all:.0f} s for {n} "
        f"(scaled) -> power/exact time {wp_all / we:.1f}; relative difference median "
        f"{jac['rel_err_median']:.1e}, max {jac['rel_err_max']:.1e}"
    )

    # training: lvf.train.fit against a plain loop, same model, data and batch size
    out_train = {}
    for channels in (1, 3):
        if channels == 1:
            xt = x[: s.n_fit].to(dev)
        else:  # CIFAR-shaped inputs for the estimate of section 5 (throughput only)
            xt = torch.rand(s.n_fit, 3, 32, 32, generator=torch.Generator().manual_seed(0)).to(dev)
        base = lvf.models.ConvAE(in_channels=channels, k=k).to(dev)
        fns = {
            "lvf.train.fit": lambda base=base, xt=xt: fit(
                copy.deepcopy(base), xt, epochs=1, progress=False
            ),
            "plain loop": lambda base=base, xt=xt: _plain_epoch(copy.deepcopy(base), xt),
        }
        per = interleaved(fns, dev, rounds=s.rounds, min_time=0.0)
        row = {name: xt.shape[0] / t for name, t in per.items()}
        row["ratio"] = row["lvf.train.fit"] / row["plain loop"]
        out_train[channels] = row
        b.say(
            f"  training, {channels}x32x32 inputs, batch 128, {xt.shape[0]} images/epoch: "
            f"fit {row['lvf.train.fit']:.0f} img/s, plain loop {row['plain loop']:.0f} img/s "
            f"-> ratio {row['ratio']:.3f}"
        )
    out = {"jacobian": jac, "training": out_train}
    if abs(out_train[1]["ratio"] - 1) > 0.05:
        xt = x[:512].to(dev)
        base = lvf.models.ConvAE(in_channels=1, k=k).to(dev)
        out["profile"] = {
            "fit": profile_table(
                lambda: fit(copy.deepcopy(base), xt, epochs=1, progress=False), dev
            ),
            "plain": profile_table(lambda: _plain_epoch(copy.deepcopy(base), xt), dev),
        }
        b.say("  fit/plain ratio off by more than 5 %: profiles of one epoch on 512 images")
        b.say(out["profile"]["fit"])
        b.say(out["profile"]["plain"])
    return out


def _plain_epoch(model: torch.nn.Module, x: torch.Tensor, batch_size: int = 128) -> None:
    """The plain PyTorch loop that fit must not be slower than: one epoch, Adam, MSE."""
    opt = torch.optim.Adam(model.parameters(), lr=5e-4, weight_decay=1e-4)
    model.train()
    order = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(0))
    for i in range(0, x.shape[0], batch_size):
        batch = x[order[i : i + batch_size].to(x.device)]
        loss = F.mse_loss(model(batch), batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    sync(x.device)


# --------------------------------------------------------------------------------------------
# section 5: the paper-scale small-AE suite, estimated
# --------------------------------------------------------------------------------------------

# Counted from the paper's settings and the book's choices where it is silent (book page
# "Where the paper is silent": choice-bottleneck-grid, -starts, -checkpoint-epochs, -subset-sizes).
PAPER_EPOCHS = 500
PAPER_TRAIN = {"mnist": (1, 60_000), "fashion-mnist": (1, 60_000), "cifar-10": (3, 50_000)}
PAPER_KS = (2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)  # "k from 2 to 512", 30 = 3 x 10
FIG3_CHECKPOINTS = 10  # epochs 0, 1, 2, 5, 10, 20, 50, 100, 200, 500
FIG3_STARTS = 3 * 5000  # train, test and N(0, I) starts at each checkpoint
FIG14_SUBSETS = (100, 500, 1000, 5000, 10_000)  # + "full", which is the Fig. 2 k=128 model
FIG2_STARTS = 1000


def paper_suite_counts() -> dict:
    """Models, training image-passes and iteration starts of Figs. 2, 3 and 14."""
    models = []  # (figure, dataset, k, channels, training images x epochs, starts)
    for name, (ch, n) in PAPER_TRAIN.items():
        for k in PAPER_KS:
            models.append(("Fig. 2", name, k, ch, n * PAPER_EPOCHS, FIG2_STARTS))
        for m in FIG14_SUBSETS:
            models.append(("Fig. 14", name, 128, ch, m * PAPER_EPOCHS, min(m, FIG2_STARTS)))
    # Fig. 3 trains nothing new (the MNIST k=128 and k=2 models of Fig. 2, with checkpoints)
    # but iterates 15,000 starts at each of 10 checkpoints of the k=128 model.
    extra_starts = {128: FIG3_CHECKPOINTS * FIG3_STARTS}
    return {"models": models, "fig3_extra_starts": extra_starts}


def model_flops() -> dict[int, dict[str, float]]:
    """FLOPs of the Table-4 conv AE (d = 32, k = 16) per training image (forward and
    backward of the MSE loss) and per evaluation of f, for 1 and 3 input channels, counted by
    ``torch.utils.flop_counter`` (convolutions and matrix products)."""
    from torch.utils.flop_counter import FlopCounterMode

    out = {}
    for ch in (1, 3):
        m = lvf.models.ConvAE(in_channels=ch, k=16)
        x = torch.rand(4, ch, 32, 32)
        with FlopCounterMode(display=False) as fc:
            F.mse_loss(m(x), x).backward()
        train = fc.get_total_flops() / 4
        with FlopCounterMode(display=False) as fc, torch.no_grad():
            m.encode(m.decode(torch.randn(4, 16)))
        out[ch] = {"train": train, "f": fc.get_total_flops() / 4}
    return out


def section5(b: Bench) -> dict:
    s, dev = b.sizes, b.device
    b.say("\n== 5. Paper-scale small-AE suite (Figs. 2, 3, 14): ESTIMATE from measured throughputs")
    # measured inputs: training img/s (section 4), f throughput and steps per start per k
    r4 = b.results.get("4")
    if r4 is None:
        r4 = {"training": {}}
        for ch in (1, 3):
            xt = torch.rand(max(s.n_fit, 256), ch, 32, 32).to(dev)
            base = lvf.models.ConvAE(in_channels=ch, k=16).to(dev)
            w, _, _ = timed(lambda base=base, xt=xt: _plain_epoch(base, xt), dev)
            r4["training"][ch] = {"plain loop": xt.shape[0] / w}
    img_s = {ch: r4["training"][ch]["plain loop"] for ch in (1, 3)}
    r2 = b.results.get("2", {}).get("models", {})
    r1 = b.results.get("1", {})
    rate, steps = {}, {}
    for k in s.ks:
        if k in r2:
            rate[k] = r2[k]["best_rate"]
        else:
            model, z0, _, _ = b.model(k)
            sweep = throughput_sweep(model.latent_map(), z0, (256, 1024), dev, min_time=0.5)
            rate[k] = max(sweep.values())
        if k in r1:
            steps[k] = r1[k]["steps"]["mean"]
    measured_ks = sorted(rate)

    def nearest(k: int) -> int:
        return min(measured_ks, key=lambda m: abs(math.log(m / k)))

    counts = paper_suite_counts()
    train_s = sum(p / img_s[ch] for _, _, _, ch, p, _ in counts["models"])
    starts_by_k: dict[int, int] = {}
    for _, _, k, _, _, n0 in counts["models"]:
        starts_by_k[k] = starts_by_k.get(k, 0) + n0
    for k, n0 in counts["fig3_extra_starts"].items():
        starts_by_k[k] += n0
    default_steps = max(steps.values()) if steps else s.max_steps
    iter_s = iter_cap_s = 0.0
    for k, n0 in starts_by_k.items():
        iter_s += n0 * steps.get(nearest(k), default_steps) / rate[nearest(k)]
        iter_cap_s += n0 * 3000 / rate[nearest(k)]
    n_models = len(counts["models"])
    passes = sum(p for *_, p, _ in counts["models"])
    flops = model_flops()
    train_flop = sum(p * flops[ch]["train"] for _, _, _, ch, p, _ in counts["models"])
    out = {
        "label": "ESTIMATE, not an end-to-end measurement",
        "device": str(dev),
        "models": n_models,
        "training_image_passes": passes,
        "train_img_per_s": img_s,
        "f_rate_by_k": rate,
        "mean_steps_by_k": steps,
        "starts": sum(starts_by_k.values()),
        "training_h": train_s / 3600,
        "iteration_h": iter_s / 3600,
        "iteration_cap_h": iter_cap_s / 3600,
        "total_h": (train_s + iter_s) / 3600,
        "flop_per_image": flops,
        "training_flop": train_flop,
        "train_img_per_s_for_1h": passes / 3600,
        "train_tflops_for_1h": train_flop / 3600 / 1e12,
        "measured_train_gflops": {ch: img_s[ch] * flops[ch]["train"] / 1e9 for ch in (1, 3)},
    }
    b.say(
        f"  {n_models} models to train (Fig. 2: 30; Fig. 14: 15 more; Fig. 3 reuses Fig. 2's "
        f"MNIST k=128 with {FIG3_CHECKPOINTS} checkpoints), {passes / 1e6:.0f} M training "
        f"image-passes at {PAPER_EPOCHS} epochs; {out['starts']:,} iteration starts"
    )
    b.say(
        f"  measured here ({dev}): training {img_s[1]:.0f} img/s (1 channel), {img_s[3]:.0f} "
        f"img/s (3 channels); f {', '.join(f'k={k}: {r:.0f}/s' for k, r in rate.items())}; "
        f"mean steps/start {', '.join(f'k={k}: {v:.0f}' for k, v in steps.items()) or 'n/a'}"
    )
    b.say(
        f"  work: {flops[1]['train'] / 1e6:.1f} MFLOP per training image (forward + backward), "
        f"{flops[1]['f'] / 1e6:.1f} MFLOP per evaluation of f; {train_flop / 1e15:.1f} PFLOP "
        f"of training in all. This device trains at "
        f"{out['measured_train_gflops'][1]:.0f} GFLOP/s; one hour needs "
        f"{out['train_img_per_s_for_1h']:,.0f} img/s = {out['train_tflops_for_1h']:.1f} TFLOP/s "
        "sustained"
    )
    b.say(
        f"  ESTIMATE on this device: training {out['training_h']:.1f} h + iteration "
        f"{out['iteration_h']:.2f} h (at most {out['iteration_cap_h']:.1f} h if every start "
        f"took 3,000 steps) = {out['total_h']:.1f} h"
    )
    return out


# --------------------------------------------------------------------------------------------
# the run, the table, the JSON
# --------------------------------------------------------------------------------------------

SECTIONS = {"1": section1, "2": section2, "3": section3, "4": section4, "5": section5}


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _commit() -> str:
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src", "benchmarks"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
        return rev + ("+dirty" if dirty else "")
    except OSError:
        return "unknown"


def summary(results: dict) -> list[tuple[str, str, str]]:
    """(measure, value, goal) rows of the closing table."""
    rows = []
    for k, r in results.get("1", {}).items():
        sub = r["subset"]
        rows.append(
            (
                f"1. iterate vs naive, k={k}, {r['n_starts']} starts",
                f"{r['speedup_est']:.1f}x (subset of {sub['n']} run to the end: "
                f"{sub['speedup_measured']:.1f}x; attractors {sub['attractors_a']} vs "
                f"{sub['attractors_b']}, points agreeing {sub['points_agree']:.0%})",
                ">= 5x",
            )
        )
    r2 = results.get("2", {})
    for k, r in r2.get("models", {}).items():
        rows.append(
            (
                f"2. iterate / physical limit, k={k}",
                f"{r['efficiency']:.0%} (best batch {r['best_batch']}, "
                f"{r['best_rate']:.0f} pts/s); {r['efficiency_in_run']:.0%} of f's rate in the run",
                ">= 90 %",
            )
        )
    if "variants" in r2:
        v = r2["variants"]
        base = v["rates"]["no_grad (LatentMap)"]
        for name, rr in v["rates"].items():
            if name == "no_grad (LatentMap)":
                continue
            ratio = median([rr[bs] / base[bs] for bs in rr])
            rows.append((f"2. f variant: {name} (k={v['k']})", f"{ratio:.2f}x throughput", "-"))
        runs = list(v["iterate_runs"].items())
        if runs:
            ref_name, ref = runs[0]
            for name, r in runs[1:]:
                acc = r.get("vs_fp32_reference", {})
                rows.append(
                    (
                        f"2. iterate [{name}] vs [{ref_name}]",
                        f"{ref['s'] / r['s']:.2f}x speed (pool {r['pool']}, chunk {r['chunk']}; "
                        f"converged {r['converged']:.0%}, attractors "
                        f"{acc.get('attractors_b', '?')} vs {acc.get('attractors_a', '?')})",
                        "-",
                    )
                )
    for r in results.get("3", {}).get("rows", []):
        rows.append(
            (
                f"3. find_attractors {r['kind']} N={r['n']:,} k={r['dim']}",
                f"{r['s']:.2f} s, peak RSS {r['peak_rss_mib']:.0f} MiB",
                "< 2 s" if r["n"] == 100_000 else "-",
            )
        )
    r4 = results.get("4")
    if r4:
        j = r4["jacobian"]
        rows.append(
            (
                f"4. spectral norm, {j['n']} points k={j['k']}: exact / power",
                f"{j['exact_s']:.1f} s / {j['power_s_scaled_to_n']:.0f} s (scaled from "
                f"{j['n_power']}) = power {j['power_over_exact_time']:.1f}x slower; max rel. "
                f"diff {j['rel_err_max']:.1e}",
                "-",
            )
        )
        for ch, t in r4["training"].items():
            rows.append(
                (
                    f"4. training fit / plain loop ({ch} channel{'s' if ch > 1 else ''})",
                    f"{t['ratio']:.3f} ({t['lvf.train.fit']:.0f} vs {t['plain loop']:.0f} img/s)",
                    "~ 1",
                )
            )
    r5 = results.get("5")
    if r5:
        rows.append(
            (
                f"5. paper small-AE suite on {r5['device']} (ESTIMATE)",
                f"{r5['total_h']:.1f} h ({r5['training_h']:.1f} h training); 1 h needs "
                f"{r5['train_img_per_s_for_1h']:,.0f} training img/s "
                f"({r5['train_tflops_for_1h']:.1f} TFLOP/s)",
                "<= 1 h on one H100",
            )
        )
    return rows


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def run(
    sizes: Sizes,
    sections: list[str],
    device: torch.device,
    *,
    out_dir: Path = HERE / "results",
    cuda_graphs: bool = False,
    compile: bool | None = None,
    variants: bool = True,
    tag: str = "",
) -> dict:
    """Run the chosen sections; print the table; write the JSON. Returns the JSON's dict."""
    b = Bench(
        sizes=sizes,
        device=device,
        cuda_graphs=cuda_graphs,
        compile=compile,
        variants=variants,
    )
    meta = {
        "host": socket.gethostname(),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "clock": Clock.name,
        "device": str(device),
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "commit": _commit(),
        "sizes": asdict(sizes),
        "uptime_before": uptime(),
    }
    b.say(f"lvf benchmarks ({sizes.name}) on {meta['cpu']}, {meta['cores']} cores, {device}")
    b.say(
        f"  torch {meta['torch']}, {meta['torch_threads']} threads, {Clock.name} clock; "
        f"commit {meta['commit']}"
    )
    b.say(f"  load before: {meta['uptime_before']}")
    wall0 = time.perf_counter()
    for sec in sections:
        b.results[sec] = SECTIONS[sec](b)
    meta["uptime_after"] = uptime()
    meta["wall_s"] = time.perf_counter() - wall0
    rows = summary(b.results)
    b.say(f"\n== Summary ({sizes.name}, {device}); load after: {meta['uptime_after']}")
    w1 = max((len(r[0]) for r in rows), default=10)
    w2 = max((len(r[1]) for r in rows), default=10)
    b.say(f"  {'measure':<{w1}}  {'value':<{w2}}  goal")
    for name, value, goal in rows:
        b.say(f"  {name:<{w1}}  {value:<{w2}}  {goal}")
    b.say(f"  suite wall time {meta['wall_s']:.0f} s")
    payload = {"meta": meta, "results": b.results, "summary": rows, "log": b.log}
    for r in payload["results"].get("1", {}).values():
        r.pop("calls", None)  # per-call timings: summarised in section 2
    out_dir.mkdir(parents=True, exist_ok=True)
    suffix = ("" if sizes.name == "full" else f"-{sizes.name}") + (f"-{tag}" if tag else "")
    path = out_dir / f"{meta['host']}-{device.type}{suffix}.json"
    path.write_text(json.dumps(_jsonable(payload), indent=1))
    b.say(f"  wrote {path}")
    return payload


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--worker":
        _, job, _, threads = argv  # from _run_worker
        torch.set_num_threads(int(threads))
        print(json.dumps(fa_worker(**json.loads(job))))
        return
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="smoke run (~2 min on 2 cores)")
    p.add_argument("--sizes", choices=sorted(SIZES), help="full | quick | smoke")
    p.add_argument("--sections", default="1,2,3,4,5", help="comma-separated, e.g. 1,3")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--threads", type=int, help="torch.set_num_threads for the run")
    p.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="wall time (default), or process CPU time (a loaded machine, one thread)",
    )
    p.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--cuda-graphs", action="store_true", help="CUDA-graph variants (GPU)")
    p.add_argument("--ks", help="bottlenecks of the models, e.g. 16 or 2,128 (default: all)")
    p.add_argument(
        "--variants", action=argparse.BooleanOptionalAction, default=True, help="section 2's"
    )
    p.add_argument("--tag", default="", help="added to the JSON's file name")
    p.add_argument("--out", type=Path, default=HERE / "results")
    a = p.parse_args(argv)
    sizes = SIZES[a.sizes] if a.sizes else (QUICK if a.quick else FULL)
    if a.ks:
        sizes = replace(sizes, ks=tuple(int(k) for k in a.ks.split(",")))
    device = torch.device(a.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda but torch.cuda.is_available() is False")
    if a.threads:
        torch.set_num_threads(a.threads)
    if a.clock == "cpu" and device.type == "cuda":
        p.error("--clock cpu cannot time GPU work; use the wall clock on cuda")
    Clock.use(a.clock)
    sections = [x.strip() for x in a.sections.split(",") if x.strip()]
    unknown = [x for x in sections if x not in SECTIONS]
    if unknown:
        p.error(f"unknown sections {unknown}; choose from {', '.join(SECTIONS)}")
    run(
        sizes,
        sections,
        device,
        out_dir=a.out,
        cuda_graphs=a.cuda_graphs,
        compile=a.compile,
        variants=a.variants,
        tag=a.tag,
    )


if __name__ == "__main__":
    main()
