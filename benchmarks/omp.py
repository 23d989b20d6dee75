"""Speed of lvf.measures.omp against scikit-learn's orthogonal_mp at the paper's size (Sec. 4.1).

The paper's dictionary experiment codes 500 test latents of the Stable Diffusion VAE
(4,096 dimensions) over 4,096 atoms; 5 % of the atoms is 205 non-zeros. One command::

    python benchmarks/omp.py                      # CPU, the issue's size
    python benchmarks/omp.py --device cuda        # GPU, where one is present

scikit-learn codes one signal at a time (about 20 s per signal at this size with its default
``precompute=False`` on a 2-core machine), so by default it runs on ``--sk-signals`` signals
at two batch sizes; its time for all signals is extrapolated with a fitted
``fixed + per-signal`` cost (exact for a per-signal loop: the signals are independent). Pass
``--sk-signals 500`` to time it on all of them. The script also checks that both give the same
supports and residuals on the signals scikit-learn coded, and prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import warnings

import numpy as np
import torch
from sklearn.linear_model import orthogonal_mp

from lvf.measures.omp import omp


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _time_sklearn(
    d: np.ndarray, x: np.ndarray, k: int, precompute: bool
) -> tuple[float, np.ndarray]:
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        coef = orthogonal_mp(d.T, x.T, n_nonzero_coefs=k, precompute=precompute)
    return time.perf_counter() - start, np.atleast_2d(coef.T)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--signals", type=int, default=500)
    p.add_argument("--dim", type=int, default=4096)
    p.add_argument("--atoms", type=int, default=4096)
    p.add_argument("--nonzero", type=int, default=205)
    p.add_argument("--sk-signals", type=int, default=8, help="signals scikit-learn codes")
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    device = torch.device(a.device)
    dtype = getattr(torch, a.dtype)

    g = torch.Generator().manual_seed(a.seed)
    d = torch.randn(a.atoms, a.dim, generator=g, dtype=torch.float64)
    d /= d.norm(dim=1, keepdim=True)
    x = torch.randn(a.signals, a.dim, generator=g, dtype=torch.float64)

    d_dev, x_dev = d.to(device, dtype), x.to(device, dtype)
    omp(d_dev[:64], x_dev[:4], 2)  # warm-up (kernels, allocator)
    _sync(device)
    start = time.perf_counter()
    coef, support = omp(d_dev, x_dev, a.nonzero, return_support=True)
    _sync(device)
    t_ours = time.perf_counter() - start

    # scikit-learn (float64, NumPy), default precompute=False and the Gram variant
    n_sk = min(a.sk_signals, a.signals)
    dn, xn = d.numpy(), x.numpy()
    rows: dict[str, float] = {}
    ref = None
    for pre in (False, True):
        sizes = sorted({max(1, n_sk // 4), n_sk})
        times = []
        for m in sizes:
            t, c = _time_sklearn(dn, xn[:m], a.nonzero, pre)
            times.append(t)
            if not pre and m == n_sk:
                ref = c
        if len(sizes) == 2:
            per = (times[1] - times[0]) / (sizes[1] - sizes[0])
            fixed = max(0.0, times[1] - per * sizes[1])
        else:
            per, fixed = times[0] / sizes[0], 0.0
        rows["precompute=True" if pre else "precompute=False"] = fixed + per * a.signals
        rows[("gram" if pre else "default") + "_measured_signals"] = n_sk

    ours_sup = [set(s[s >= 0].tolist()) for s in support[:n_sk].cpu()]
    ref_sup = [set(np.flatnonzero(r).tolist()) for r in ref]
    same_support = sum(a_ == b_ for a_, b_ in zip(ours_sup, ref_sup, strict=True))
    res_ours = (x_dev[:n_sk] - coef[:n_sk] @ d_dev).double().cpu().numpy()
    res_ref = xn[:n_sk] - ref @ dn
    max_res_diff = float(np.abs(res_ours - res_ref).max())

    out = {
        "signals": a.signals,
        "dim": a.dim,
        "atoms": a.atoms,
        "nonzero": a.nonzero,
        "device": str(device)
        if device.type != "cuda"
        else f"cuda ({torch.cuda.get_device_name(device)})",
        "dtype": a.dtype,
        "torch_threads": torch.get_num_threads(),
        "cpu": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "load_average": os.getloadavg()[0],
        "lvf_seconds": round(t_ours, 2),
        "sklearn_seconds_precompute_false": round(rows["precompute=False"], 1),
        "sklearn_seconds_precompute_true": round(rows["precompute=True"], 1),
        "sklearn_signals_timed": n_sk,
        "speedup_vs_default": round(rows["precompute=False"] / t_ours, 1),
        "speedup_vs_gram": round(rows["precompute=True"] / t_ours, 1),
        "same_support": f"{same_support}/{n_sk}",
        "max_residual_difference": max_res_diff,
    }
    print(
        f"lvf.measures.omp ({a.dtype}, {out['device']}, {out['torch_threads']} threads): "
        f"{t_ours:.1f} s for {a.signals} signals\n"
        f"sklearn orthogonal_mp (float64): {rows['precompute=False']:.0f} s "
        f"(precompute=False), {rows['precompute=True']:.0f} s (precompute=True)"
        f"{' [extrapolated from ' + str(n_sk) + ' signals]' if n_sk < a.signals else ''}\n"
        f"speed-up: x{out['speedup_vs_default']} (default), x{out['speedup_vs_gram']} (Gram)\n"
        f"agreement on {n_sk} signals: same support {same_support}/{n_sk}, "
        f"max |residual difference| {max_res_diff:.2e}"
    )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
