"""Accelerated end points (lvf.fixed_point.end_points) against plain lvf.iterate, on the book's
networks, to the paper's tolerance (‖z_{t+1} − z_t‖² < 1e-6 within 3,000 steps).

One command (the networks come from the model cache, trained at book scale if missing)::

    python benchmarks/fixed_point.py                 # all networks, 256 training starts each
    python benchmarks/fixed_point.py --quick         # 64 starts, MNIST k = 2 and 32 only

Per network, both methods run from the same starts (encoded training images) in the same
process, one after the other; the script reports evaluations of ``f`` (plain: the sum of the
steps; accelerated: Anderson steps, the verification step and any plain fallback, plus the
Jacobian–vector products of the stability test counted separately), wall time, and the share
of starts that end at the same attractor as plain iteration (cosine > 0.99; and the Euclidean
distance between the two end points). Results go to ``benchmarks/results/fixed-point.json``;
``--table`` prints them as the Markdown table of ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import time
from pathlib import Path

import torch

import lvf
from lvf.book.standins import book_autoencoder
from lvf.fixed_point import end_points
from lvf.train import TrainConfig, trained

RESULTS = Path(__file__).resolve().parent / "results" / "fixed-point.json"


def ch06_config(dataset: str, k: int) -> TrainConfig:
    """The book-scale network of chapter 6 for ``dataset`` and bottleneck ``k``: 2,000
    training images, 1,000 optimizer steps of batch 32, learning rate 2e-3."""
    tt = lvf.data.train_test(dataset, 2000, 1000)
    epochs = max(1, round(1000 / math.ceil(tt.n_train / 32)))
    channels = 3 if dataset.startswith("cifar10") else 1
    return TrainConfig(
        model="conv", dataset=tt.dataset, n_train=tt.n_train, epochs=epochs, batch_size=32,
        lr=2e-3, weight_decay=1e-5 if dataset.startswith("cifar10") else 1e-4,
        model_kwargs=dict(in_channels=channels, k=k),
    )  # fmt: skip


def networks(quick: bool) -> list[tuple[str, TrainConfig]]:
    if quick:
        return [(f"MNIST conv k={k}", ch06_config("mnist", k)) for k in (2, 32)]
    with_env = os.environ.get("LVF_SCALE")
    os.environ["LVF_SCALE"] = "book"  # the spatial autoencoder of chapter 10 at book scale
    try:
        spatial = book_autoencoder()
    finally:
        if with_env is None:
            os.environ.pop("LVF_SCALE")
        else:
            os.environ["LVF_SCALE"] = with_env
    return [
        *((f"MNIST conv k={k}", ch06_config("mnist", k)) for k in (2, 32, 128, 512)),
        ("CIFAR-10 conv k=128", ch06_config("cifar10", 128)),
        ("CIFAR-10 spatial 4x8x8 (ch10)", spatial),
    ]


def measure(name: str, config: TrainConfig, n: int, tol: float, cap: int) -> dict:
    model = trained(config, device="cpu", progress=False).model.eval()
    f = model.latent_map()
    x = lvf.train.training_data(config)[:n]
    with torch.no_grad():
        z0 = model.encode(x)
    t0 = time.perf_counter()
    plain = lvf.iterate(f, z0, tol=tol, max_steps=cap)
    t_plain = time.perf_counter() - t0
    t0 = time.perf_counter()
    fast = end_points(f, z0, tol=tol, max_steps=cap)
    t_fast = time.perf_counter() - t0
    a, b = plain.final.flatten(1), fast.final.flatten(1)
    cos = torch.nn.functional.cosine_similarity(a, b, dim=1)
    dist = (a - b).norm(dim=1)
    both = plain.converged & fast.attractor
    evals_plain = int(plain.steps.sum())
    evals_fast = int(fast.evaluations.sum())
    return dict(
        network=name,
        latent=list(z0.shape[1:]),
        starts=n,
        plain_converged=float(plain.converged.float().mean()),
        fast_attractors=float(fast.attractor.float().mean()),
        accelerated=float(fast.accelerated.float().mean()),
        evals_plain=evals_plain,
        evals_fast=evals_fast,
        jvps=int(fast.jvps.sum()),
        eval_ratio=evals_plain / max(1, evals_fast),
        seconds_plain=t_plain,
        seconds_fast=t_fast,
        time_ratio=t_plain / t_fast,
        same_attractor=float((cos > 0.99).float().mean()),
        same_attractor_converged=float((cos[both] > 0.99).float().mean()) if both.any() else None,
        distance_median=float(dist.median()),
        distance_max=float(dist.max()),
        plain_latent_norm_median=float(a.norm(dim=1).median()),
    )


def table(data: dict) -> str:
    head = (
        "| network | latent | plain converged | attractors (accel.) | accelerated | evals "
        "plain / fast | ratio | JVPs | time ratio | same attractor (cos > 0.99) | distance "
        "median / max (‖z‖ median) |\n|---|---|---|---|---|---|---|---|---|---|---|"
    )
    rows = [
        f"| {r['network']} | {'x'.join(map(str, r['latent']))} | "
        f"{100 * r['plain_converged']:.0f} % | {100 * r['fast_attractors']:.0f} % | "
        f"{100 * r['accelerated']:.0f} % | {r['evals_plain']:,} / {r['evals_fast']:,} | "
        f"{r['eval_ratio']:.1f}x | {r['jvps']:,} | {r['time_ratio']:.2f}x | "
        f"{100 * r['same_attractor']:.1f} % | {r['distance_median']:.3g} / "
        f"{r['distance_max']:.3g} ({r['plain_latent_norm_median']:.3g}) |"
        for r in data["rows"]
    ]
    return "\n".join([head, *rows])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--starts", type=int, default=None)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--tol", type=float, default=1e-6)
    p.add_argument("--cap", type=int, default=3000)
    p.add_argument("--table", action="store_true", help="print the saved results as Markdown")
    a = p.parse_args()
    if a.table:
        print(table(json.loads(RESULTS.read_text())))
        return
    lvf.configure_threads()
    n = a.starts or (64 if a.quick else 256)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    data = dict(
        machine=f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads",
        commit=commit,
        date=time.strftime("%Y-%m-%d"),
        tol=a.tol,
        cap=a.cap,
        rows=[],
    )
    for name, config in networks(a.quick):
        row = measure(name, config, n, a.tol, a.cap)
        data["rows"].append(row)
        print(json.dumps(row), flush=True)
    if not a.quick:
        RESULTS.write_text(json.dumps(data, indent=1))
    print(table(data))


if __name__ == "__main__":
    main()
