"""What the paper's foundation-model experiments cost: measured at full size, projected.

``benchmarks/fullsize.py`` builds each of the paper's models at its published size
(:mod:`lvf.models.fullsize`), loads it through the adapters, runs its protocol end to end on a
cut input and measures one evaluation of ``f`` on the CPU: seconds, FLOPs, memory. It writes
``benchmarks/results/fullsize.json``. This module reads that file for the chapters and turns it
into what a reader needs before a run:

* :func:`project` — the paper's run (:class:`lvf.models.fullsize.PaperRun`: inputs × the cap on
  steps, plus its decodes, i.e. the time bound when no input stops early) on this CPU and on
  the GPUs of :data:`GPUS`, at an **assumed** sustained throughput (nothing was measured on a
  GPU), and the batch size that fits in each GPU's memory;
* :func:`run_defaults` — batch size and dtype for a run with the real weights on the device at
  hand, chosen from those measurements;
* :func:`table` and :func:`glue` — the numbers for a chapter's page.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

__all__ = ["GPUS", "HALF_AGREEMENT", "glue", "load", "project", "run_defaults", "table"]

GPUS: dict[str, dict[str, Any]] = {
    "RTX 3080 Ti": {
        "memory_gib": 12,
        "peak_tflops": 34.1,
        "assumed_tflops": 13.6,
        "note": "the paper's GPU; FP32 peak 34.1 TFLOPS, assumed sustained 40 %",
    },
    "A100 80GB": {
        "memory_gib": 80,
        "peak_tflops": 156.0,
        "assumed_tflops": 62.0,
        "note": "TF32 tensor cores, peak 156 TFLOPS, assumed sustained 40 %",
    },
}
"""GPUs the projection names, with the sustained throughput it assumes (not measured)."""

HALF_AGREEMENT = 1e-3
"""Half precision is chosen only if its end points lie within this relative distance of the
float32 ones and it meets the stopping rule wherever float32 does (:func:`run_defaults`)."""

_FILE = Path("benchmarks") / "results" / "fullsize.json"


@cache
def load() -> dict[str, Any]:
    """The measurements of ``benchmarks/fullsize.py`` (found in the checkout), by hub id:
    ``{"machine": ..., "models": {hub_id: {...}}}``."""
    from lvf.cache import project_roots

    for root in project_roots():
        path = root / _FILE
        if path.is_file():
            raw = json.loads(path.read_text(encoding="utf-8"))
            return {**raw, "models": {m["hub_id"]: m for m in raw["models"]}}
    raise FileNotFoundError(
        f"No {_FILE} above {Path.cwd()}: run `python benchmarks/fullsize.py` in a checkout "
        "of the repository to measure the full-size models."
    )


def _per_input_mib(m: dict[str, Any]) -> float:
    """Memory one more input takes during an evaluation of ``f`` (MiB): the growth from batch
    1 to batch 2, or half the peak at batch 2 if that is larger (conservative)."""
    cpu = m["cpu"]
    peak1, peak2 = cpu["1"]["peak_mib"], cpu["2"]["peak_mib"]
    return max(peak2 - peak1, peak2 / 2, 1e-3)


def _batch_fitting(m: dict[str, Any], memory_gib: float, cap: int = 1024) -> int:
    """Largest power of two of inputs whose evaluation of ``f`` fits in 80 % of the memory."""
    budget = memory_gib * 1024 * 0.8 - m["weights_mib"]
    fits = int(max(budget, 0) // _per_input_mib(m))
    batch = 1
    while batch * 2 <= min(fits, cap):
        batch *= 2
    return batch


def project(m: dict[str, Any]) -> dict[str, Any]:
    """The paper's run of the model measured in ``m`` (one entry of :func:`load`'s models):
    evaluations, decodes, FLOPs, hours on this CPU and on each GPU of :data:`GPUS`, with the
    batch size that fits there. An upper bound: every input runs to the cap."""
    from lvf.models.fullsize import PAPER_CONFIGS

    run = PAPER_CONFIGS[m["hub_id"]].run
    evals = run.max_evaluations
    decodes = run.inputs * run.steps * run.decodes_per_step + run.extra_decodes
    gflop = evals * m["gflop_per_eval"] + decodes * m.get("gflop_per_decode", 0.0)
    cpu_seconds = gflop / m["gflop_per_eval"] * m["cpu_seconds_per_eval"]
    out: dict[str, Any] = {
        "experiment": run.experiment,
        "evaluations": evals,
        "decodes": decodes,
        "pflop": gflop / 1e6,
        "cpu_hours": cpu_seconds / 3600,
    }
    for name, gpu in GPUS.items():
        out[name] = {
            "hours": gflop / (gpu["assumed_tflops"] * 1e3) / 3600,
            "batch_size": _batch_fitting(m, gpu["memory_gib"]),
        }
    return out


def _half_is_safe(m: dict[str, Any]) -> bool:
    d = m.get("dtype")
    if not d:
        return False
    agree = max(d["relative_end_point_distance"]) <= HALF_AGREEMENT
    pairs = zip(d["float32"]["converged"], d["bfloat16"]["converged"], strict=True)
    same_rule = all(half or not single for single, half in pairs)
    return agree and same_rule


def _dtype_sentence(m: dict[str, Any]) -> str:
    d = m.get("dtype")
    if not d:
        return "float32 (half precision was not measured on this model)"
    distance = max(d["relative_end_point_distance"])
    conv32, conv16 = sum(d["float32"]["converged"]), sum(d["bfloat16"]["converged"])
    n = len(d["float32"]["converged"])
    return (
        f"{'bfloat16' if _half_is_safe(m) else 'float32'}, because after "
        f"{d['max_steps']} steps from the same {f'{n} starts' if n > 1 else 'start'} the bfloat16 "
        f"end point{'s lie' if n > 1 else ' lies'} {distance:.1e} (relative) from the float32 "
        f"one{'s' if n > 1 else ''}, {'within' if _half_is_safe(m) else 'beyond'} the "
        f"{HALF_AGREEMENT:g} we accept (the stopping rule was met by {conv16} of {n} in "
        f"bfloat16, {conv32} of {n} in float32)"
    )


def run_defaults(hub_id: str, device: Any = None) -> dict[str, Any]:
    """Batch size and dtype for a run of ``hub_id``'s protocol on ``device`` (default: the
    first GPU if there is one, else the CPU).

    ``batch_size``: the largest power of two whose evaluation of ``f`` fits in 80 % of the
    device's memory (a GPU's total memory; the CPU's available memory), from the memory per
    input measured at full size. ``dtype``: ``torch.bfloat16`` only where the measurement
    found that half precision ends the iteration where float32 does
    (:data:`HALF_AGREEMENT`), else ``torch.float32``. ``why`` says so in words.
    """
    import psutil
    import torch

    m = load()["models"][hub_id]
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type == "cuda":
        memory = torch.cuda.get_device_properties(device).total_memory / 2**30
    else:
        memory = psutil.virtual_memory().available / 2**30
    half = _half_is_safe(m)
    d = m.get("dtype", {})
    distance = max(d.get("relative_end_point_distance", [float("nan")]))
    return {
        "batch_size": _batch_fitting(m, memory),
        "dtype": torch.bfloat16 if half else torch.float32,
        "why": (
            f"batch: {_per_input_mib(m):.0f} MiB per input and {m['weights_mib']:.0f} MiB of "
            f"weights in 80 % of {memory:.0f} GiB; dtype: bfloat16 ends "
            f"{distance:.1e} (relative) from float32 after {d.get('max_steps', 0)} steps, "
            f"{'within' if half else 'beyond'} {HALF_AGREEMENT:g}"
        ),
    }


def table(hub_ids: list[str] | None = None):
    """A :class:`pandas.DataFrame`: one row per model, the measured cost and the projection."""
    import pandas as pd

    models = load()["models"]
    rows = []
    for hub_id in hub_ids or list(models):
        m = models[hub_id]
        p = project(m)
        gpu = next(iter(GPUS))
        rows.append(
            {
                "model": hub_id,
                "latent": "×".join(map(str, m["latent_shape"])),
                "parameters (M)": round(m["parameters"] / 1e6),
                "memory per input (MiB)": round(_per_input_mib(m)),
                "s per f (this CPU)": round(m["cpu_seconds_per_eval"], 2),
                "GFLOP per f": round(m["gflop_per_eval"]),
                "experiment": p["experiment"],
                "evaluations (bound)": p["evaluations"],
                "CPU days": round(p["cpu_hours"] / 24, 1),
                f"{gpu} hours": round(p[gpu]["hours"], 1),
                f"batch on {gpu}": p[gpu]["batch_size"],
            }
        )
    return pd.DataFrame(rows).set_index("model")


def glue(hub_id: str, name: str) -> dict[str, Any]:
    """Glue the cost of ``hub_id`` for a chapter's prose as ``cost.<name>.<key>``: ``s_per_f``,
    ``gflop``, ``evals``, ``cpu_days``, ``gpu_hours``, ``gpu`` (the GPU's name), ``batch``,
    ``dtype`` and ``dtype_why`` (the measurement behind it, a sentence); returns the values."""
    from lvf.book.report import glue as _glue

    m = load()["models"][hub_id]
    p = project(m)
    gpu = next(iter(GPUS))
    values = {
        "s_per_f": f"{m['cpu_seconds_per_eval']:.2f}",
        "gflop": f"{m['gflop_per_eval']:,.0f}",
        "evals": f"{p['evaluations']:,}",
        "cpu_days": f"{p['cpu_hours'] / 24:,.0f}",
        "gpu_hours": f"{p[gpu]['hours']:,.1f}",
        "gpu": gpu,
        "batch": f"{p[gpu]['batch_size']}",
        "dtype": "bfloat16" if _half_is_safe(m) else "float32",
        "dtype_why": _dtype_sentence(m),
    }
    for key, value in values.items():
        _glue(f"cost.{name}.{key}", value)
    return values
