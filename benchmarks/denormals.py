"""Flushing denormal numbers to zero (``torch.set_flush_denormal``, which
``lvf.configure_threads`` turns on) against leaving them, on the book's trained networks.

One command (the networks come from the model cache, trained at book scale if missing)::

    python benchmarks/denormals.py

For chapter 8's network (Table-4 conv AE, d = 16, k = 128, 30 epochs on 2,000 MNIST images)
and chapter 6's MNIST network with k = 128, in the same process and with the same weights and
inputs, it times training steps (Adam, batch 32) and evaluations of f, with flushing off and
on, alternating the two three times; reports the median seconds of each and their ratio (off /
on: how many times faster flushing is), and how many weights of the trained network are
denormal. One torch thread. Results go to ``benchmarks/results/denormals.json``.
"""

from __future__ import annotations

import copy
import json
import platform
import statistics
import time
from pathlib import Path

import torch

from lvf.train import seeded, trained, training_data
from lvf.train.registry import _memorization_config, _mnist_dynamics, chapter_settings

RESULTS = Path(__file__).resolve().parent / "results" / "denormals.json"


def _networks():
    from lvf import data

    s8 = chapter_settings("ch08", "book")["S"]
    yield "ch08: conv AE d=16, k=128, MNIST", seeded(_mnist_dynamics(s8, 128), 0)
    s6 = chapter_settings("ch06", "book")["S"]
    tt = data.train_test("mnist", s6["n_train"], s6["n_test"])
    yield "ch06: conv AE d=32, k=128, MNIST", _memorization_config(s6, tt, 128)


def _time(fn, n: int) -> float:
    fn()  # warm-up
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n


def measure(config, *, steps: int = 20, evals: int = 50, repeats: int = 3) -> dict:
    """Median seconds per training step and per evaluation of f, flushing off and on."""
    run = trained(config)
    x = training_data(config)[:32]
    denormal = sum(int(((p.abs() < 1.18e-38) & (p != 0)).sum()) for p in run.model.parameters())
    z = run.model.encode(x).detach()
    out: dict[str, list[float]] = {"step_off": [], "step_on": [], "f_off": [], "f_on": []}
    for _ in range(repeats):
        for flush in (False, True):
            torch.set_flush_denormal(flush)
            model = copy.deepcopy(run.model).train()  # the same weights each time
            opt = torch.optim.Adam(model.parameters(), lr=config.lr)

            def step(model=model, opt=opt):
                opt.zero_grad(set_to_none=True)
                torch.nn.functional.mse_loss(model(x), x).backward()
                opt.step()

            def f(model=model):
                with torch.no_grad():
                    model.eval().encode(model.decode(z))

            tag = "on" if flush else "off"
            out[f"step_{tag}"].append(_time(step, steps))
            out[f"f_{tag}"].append(_time(f, evals))
    torch.set_flush_denormal(True)
    med = {k: statistics.median(v) for k, v in out.items()}
    return med | {
        "step_ratio": med["step_off"] / med["step_on"],
        "f_ratio": med["f_off"] / med["f_on"],
        "denormal_weights": denormal,
        "weights": sum(p.numel() for p in run.model.parameters()),
    }


def main() -> None:
    torch.set_num_threads(1)
    results = {
        "machine": {"cpu": platform.processor() or platform.machine(), "threads": 1},
        "torch": torch.__version__,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "networks": {},
    }
    for name, config in _networks():
        r = measure(config)
        results["networks"][name] = r
        print(
            f"{name}: training step {r['step_off'] * 1e3:.1f} ms → {r['step_on'] * 1e3:.1f} ms "
            f"({r['step_ratio']:.1f}x), f {r['f_off'] * 1e3:.2f} ms → {r['f_on'] * 1e3:.2f} ms "
            f"({r['f_ratio']:.1f}x); {r['denormal_weights']} denormal weights of {r['weights']:,}",
            flush=True,
        )
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
