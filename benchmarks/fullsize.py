"""Every real-weight path of the book at the paper's model sizes, and what a paper run costs.

One command::

    python benchmarks/fullsize.py                  # all seven models (about 25 min on 2 cores)
    python benchmarks/fullsize.py --models stabilityai/sd-vae-ft-mse --no-e2e
    python benchmarks/fullsize.py --table          # print the table of benchmarks/README.md

For each of the paper's foundation models (``lvf.models.fullsize.PAPER_CONFIGS``), in a fresh
process of its own (so that its memory is its own):

1. **Same architecture, real size.** The network is built from its published configuration
   with random weights and written with ``save_pretrained`` to ``<weights>/<hub id>``
   (``--weights``, default ``$LVF_WEIGHTS`` or ``~/.cache/lvf/weights``; kept between runs;
   a folder there that holds other weights, e.g. the real checkpoint, is measured as it is),
   then loaded back **by hub id** through ``lvf.models.adapters.load`` with ``LVF_WEIGHTS``
   pointing there: the loading code a reader runs with the real weights.
2. **Cost of one evaluation of f** on this CPU, at batch 1 and 2: wall time (best of
   ``--repeats``), the peak resident memory above the loaded model (a sampling thread reads
   the process's RSS every 5 ms), and FLOPs (``torch.utils.flop_counter``; a multiply-add
   counts 2).
3. **Half precision.** From the same starts, the iteration to the paper's rule
   (``‖f(z_{t+1}) − f(z_t)‖² < tol``) in float32 and in bfloat16 (the half-precision type CPUs
   run; on a GPU float16 behaves alike at this level of rounding), for at most ``--dtype-steps``
   steps: steps taken, whether the rule was met, and how far the
   bfloat16 end point lies from the float32 one (relative to its norm).
4. **The protocol end to end** (``--no-e2e`` skips it) through the same library call as the
   chapter, with the chapter's shapes, dtypes, scaling factors and batch sizes, and with the
   number of starts, images and steps cut to minutes: Sec. 4.1 probing
   (``probe_adapter``; 16 orthogonal starts in the scaled latent space, 2 steps, one Kodak
   crop and one upsampled CIFAR-10 image at 256 px, OMP at all nine levels), Sec. 4.2
   (``ood.run``; ViT-MAE at 224 px, 4 training images, 4 test images per set, 5 steps), App.
   B.8 (``norms.track_norms``; 2 images or 2 sequences of 64 tokens, 3 iterations).

The projection (``lvf.book.costs.project``, which the chapters read too): the paper's run
(``PaperRun``: inputs × cap on steps, plus its extra decodes) times the measured cost per
evaluation, on this CPU and on two GPUs at an **assumed** sustained throughput
(``lvf.book.costs.GPUS``; nothing here was measured on a GPU). Results go to
``benchmarks/results/fullsize.json``. Weights are random: the numbers are costs, not results.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import statistics
import threading
import time
import warnings
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "fullsize.json"


class _PeakRSS:
    """Peak resident memory of this process while the block runs (sampled every 5 ms)."""

    def __init__(self) -> None:
        import psutil

        self._proc = psutil.Process()
        self.peak = 0

    def __enter__(self) -> _PeakRSS:
        self.start = self._proc.memory_info().rss
        self.peak = self.start
        self._stop = threading.Event()

        def sample() -> None:
            while not self._stop.is_set():
                self.peak = max(self.peak, self._proc.memory_info().rss)
                time.sleep(0.005)

        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._proc.memory_info().rss)

    @property
    def above_start_mib(self) -> float:
        return (self.peak - self.start) / 2**20


def _images(model, n: int):
    """``n`` crops of the Kodak photographs at the model's input size, in ``[0, 1]``."""
    import lvf

    return lvf.data.photo_crops(n, model.input[-1], crop=256, source="kodak").clamp(0, 1)


def _starts(adapter, model, n: int):
    """``n`` starts of the iteration, batch first: orthogonal noise in the scaled latent
    space (Sec. 4.1), encoded images (Sec. 4.2, B.8.1) or token embeddings of Python source
    tokenized by the folder's tokenizer (B.8.2)."""
    import torch

    import lvf

    if model.kind == "causal_lm":
        from lvf.models.tinylm import stdlib_text

        text = stdlib_text(200_000).decode("utf-8", "ignore")
        ids = adapter.tokenizer(text, return_tensors="pt").input_ids[0]
        t = model.input[0]
        return adapter.embed(ids[: n * t].view(n, t))
    if model.kind == "autoencoder_kl":
        with torch.no_grad():  # the latent shape, from one image
            shape = adapter.encode(adapter.preprocess(_images(model, 1))).shape[1:]
        return lvf.protocols.dictionary.orthogonal_starts(
            shape, n=n, std=1.0 / adapter.latent_scale, mean=adapter.latent_shift
        )
    with torch.no_grad():
        return adapter.encode(adapter.preprocess(_images(model, n)))


def _e2e(adapter, model) -> dict:
    """The chapter's library call on a cut input; returns what it produced, in brief."""
    import torch

    import lvf
    from lvf.protocols import dictionary, norms, ood

    run = model.run
    t0 = time.perf_counter()
    if model.kind == "autoencoder_kl":
        x_cifar = lvf.data.load("cifar10", "test", 1, seed=0)[0]
        data = {
            "Kodak crops (256 px)": lvf.data.photo_crops(1, 256, crop=256, source="kodak"),
            "CIFAR-10 (upsampled)": torch.nn.functional.interpolate(
                x_cifar, size=256, mode="bicubic"
            ).clamp(0, 1),
        }
        levels = [32, 64, 128, 205, 256, 512, 1024, 2048, 4096]
        res = dictionary.probe_adapter(
            adapter, data, levels, seeds=[0], n_starts=run.batch_size, device="cpu",
            batch_size=run.batch_size, tol=run.tol, max_steps=2,
        )  # fmt: skip
        table = dictionary.gap_table(res)
        out = {
            "call": "lvf.protocols.dictionary.probe_adapter",
            "cut": f"{run.batch_size} starts, 2 steps, 1 image per dataset, 9 OMP levels",
            "rows": len(table),
            "finite": bool(table[["orthogonal", "attractors"]].notna().all().all()),
        }
    elif model.kind == "vit_mae":

        def load(name, n, seed):
            x = lvf.data.load(name, "test", n, seed=seed)[0]
            x = x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x
            return torch.nn.functional.interpolate(x, size=224, mode="bicubic").clamp(0, 1)

        train = torch.nn.functional.interpolate(
            lvf.data.load("cifar10", "train", 4, seed=1)[0], size=224, mode="bicubic"
        ).clamp(0, 1)
        tests = {
            "CIFAR-10 (ID)": load("cifar10", 4, 0),
            "Fashion-MNIST": load("fashion-mnist", 4, 0),
            "MNIST": load("mnist", 4, 0),
        }
        res = ood.run(
            adapter.encode, adapter.decode, train, tests, preprocess=adapter.preprocess,
            device="cpu", batch_size=run.batch_size, knn_k=(2000, 50), tol=run.tol, max_steps=5,
        )  # fmt: skip
        finite = {
            method: all(bool(torch.isfinite(torch.as_tensor(per_set[method])).all())
                        for per_set in res.scores.values())
            for method in next(iter(res.scores.values()))
        }  # fmt: skip
        out = {
            "call": "lvf.protocols.ood.run",
            "cut": "4 training images, 4 test images per set, 5 steps",
            "rows": sum(len(per_set) for per_set in res.scores.values()),
            "finite": all(finite.values()),
            "finite_by_score": finite,
        }
    else:
        z0 = _starts(adapter, model, 2)
        kw = {"decode": adapter.decode} if run.decodes_per_step else {}
        trace = norms.track_norms(adapter.latent_map(), z0, 3, batch_size=run.batch_size, **kw)
        out = {
            "call": "lvf.protocols.norms.track_norms",
            "cut": "2 inputs, 3 iterations",
            "rows": int(trace.latent_residual.shape[0]),
            "finite": bool(torch.isfinite(trace.latent_residual).all()),
        }
    out["seconds"] = time.perf_counter() - t0
    return out


def _dtype_check(adapter, model, steps: int, n_starts: int) -> dict:
    """Iterate from the same starts in float32 and bfloat16 to the paper's rule."""
    import torch

    import lvf

    z0 = _starts(adapter, model, n_starts).double().float()
    tol = model.run.tol or 1e-5
    f = adapter.latent_map()
    ends, info = {}, {}
    for dtype in (torch.float32, torch.bfloat16):
        t0 = time.perf_counter()
        with torch.no_grad():
            res = lvf.iterate(f, z0.to(dtype), max_steps=steps, tol=tol, batch_size=n_starts)
        z = res.final.float()
        ends[dtype] = z
        info[str(dtype).removeprefix("torch.")] = {
            "steps": [int(s) for s in res.steps],
            "converged": [bool(c) for c in res.converged],
            "seconds_per_eval": (time.perf_counter() - t0) / max(1, int(res.steps.sum())),
        }
    a, b = ends[torch.float32], ends[torch.bfloat16]
    rel = ((b - a).flatten(1).norm(dim=1) / a.flatten(1).norm(dim=1)).tolist()
    adapter.to(dtype=torch.float32)
    return {"max_steps": steps, "tol": tol, "relative_end_point_distance": rel, **info}


def omp_cost(threads: int, n_images: int = 2) -> dict:
    """Seconds of the Sec. 4.1 sparse coding at full size: OMP of ``n_images`` latents over a
    4,096-atom dictionary of 4,096-dimensional atoms at every level up to 4,096 (float64, as
    ``lvf.protocols.dictionary.sparse_code_errors`` runs it), random data of that shape."""
    import torch

    from lvf.measures.omp import omp, random_orthogonal_basis

    torch.set_num_threads(threads)
    k = 4096
    levels = [32, 64, 128, 205, 256, 512, 1024, 2048, 4096]
    g = torch.Generator().manual_seed(0)
    atoms = random_orthogonal_basis(k, generator=g, dtype=torch.float64)
    x = torch.randn(n_images, k, generator=g, dtype=torch.float64)
    t0 = time.perf_counter()
    omp(atoms, x, levels)
    seconds = (time.perf_counter() - t0) / n_images
    images = 6 * 500 * 2  # six datasets of 500 images, over two dictionaries
    return {"atoms": k, "levels": levels, "seconds_per_image": seconds,
            "paper_codings": images, "paper_cpu_hours": seconds * images / 3600}  # fmt: skip


def measure(hub_id: str, weights: str, args: dict) -> dict:
    """Everything about one model, in this (fresh) process."""
    os.environ["LVF_WEIGHTS"] = weights
    warnings.filterwarnings("ignore")
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from lvf.models import adapters, fullsize

    torch.set_num_threads(args["threads"])
    model = fullsize.PAPER_CONFIGS[hub_id]
    out: dict = {"hub_id": hub_id, "kind": model.kind, "library_class": model.library_class}
    t0 = time.perf_counter()
    folder = Path(weights) / hub_id
    if not folder.is_dir() or fullsize.is_random(folder):
        folder = fullsize.save(hub_id, weights)  # else: the real checkpoint, measured as is
    out["save_seconds"] = time.perf_counter() - t0
    out["disk_mib"] = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20
    with _PeakRSS() as mem:
        t0 = time.perf_counter()
        adapter = adapters.load(hub_id, local_files_only=True)  # by hub id, via LVF_WEIGHTS
        out["load_seconds"] = time.perf_counter() - t0
    out["loaded_from"] = str(adapters.resolve(hub_id))
    out["random_weights"] = adapter.random_weights
    out["parameters"] = fullsize.n_parameters(adapter.model)
    out["weights_mib"] = out["parameters"] * 4 / 2**20
    out["load_rss_mib"] = mem.above_start_mib
    f = adapter.latent_map()
    per_batch = {}
    with torch.no_grad():
        f(_starts(adapter, model, 2))  # warm-up: the first call sets up kernels and caches
    for b in (1, 2):
        z = _starts(adapter, model, b)
        with torch.no_grad():
            with _PeakRSS() as mem:
                f(z)  # the memory one call takes
            times = []
            for _ in range(args["repeats"]):
                t0 = time.perf_counter()
                f(z)
                times.append(time.perf_counter() - t0)
        per_batch[str(b)] = {"seconds": min(times), "median": statistics.median(times),
                        "peak_mib": mem.above_start_mib}  # fmt: skip
        if b == 1:
            out["latent_shape"] = list(z.shape[1:])
            with torch.no_grad(), FlopCounterMode(display=False) as fc:
                f(z)
            out["gflop_per_eval"] = fc.get_total_flops() / 1e9
            if model.run.decodes_per_step or model.run.extra_decodes:
                with torch.no_grad(), FlopCounterMode(display=False) as fc:
                    adapter.decode(z)
                out["gflop_per_decode"] = fc.get_total_flops() / 1e9
    out["cpu"] = per_batch
    out["cpu_seconds_per_eval"] = per_batch["2"]["seconds"] / 2
    if args["dtype_steps"]:
        slow = out["cpu_seconds_per_eval"] > 1.0  # one start, half the steps
        out["dtype"] = _dtype_check(
            adapter, model, args["dtype_steps"] // (2 if slow else 1), 1 if slow else 2
        )
    if args["e2e"]:
        out["e2e"] = _e2e(adapter, model)
    return out


def table(results: dict) -> str:
    """The Markdown table of ``benchmarks/README.md``."""
    from lvf.book.costs import GPUS, _per_input_mib, project

    gpu = next(iter(GPUS))
    lines = [
        "| model | latent | parameters | memory: weights + per input (MiB) "
        "| s per f on this CPU | GFLOP per f | paper run: evaluations "
        f"| projected: CPU | projected: {gpu} | batch on {gpu} |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for m in results["models"]:
        p = project(m)
        lines.append(
            f"| {m['hub_id']} | {'×'.join(map(str, m['latent_shape']))} "
            f"| {m['parameters'] / 1e6:.0f} M | {m['weights_mib']:.0f} + "
            f"{_per_input_mib(m):.0f} "
            f"| {m['cpu_seconds_per_eval']:.2f} | {m['gflop_per_eval']:.0f} "
            f"| {p['evaluations']:,} | {p['cpu_hours'] / 24:.0f} days "
            f"| {p[gpu]['hours']:.1f} h | {p[gpu]['batch_size']} |"
        )
    return "\n".join(lines)


def main() -> None:
    from lvf.book import costs
    from lvf.models import fullsize

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="*", default=list(fullsize.PAPER_CONFIGS))
    ap.add_argument("--weights", default=os.environ.get("LVF_WEIGHTS")
                    or str(Path.home() / ".cache" / "lvf" / "weights"))  # fmt: skip
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--dtype-steps", type=int, default=8)
    ap.add_argument("--no-e2e", dest="e2e", action="store_false")
    ap.add_argument("--no-omp", dest="omp", action="store_false")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--table", action="store_true", help="print the table of --out and stop")
    args = ap.parse_args()
    if args.table:
        print(table(json.loads(args.out.read_text())))
        return
    unknown = [h for h in args.models if h not in fullsize.PAPER_CONFIGS]
    if unknown:
        ap.error(f"unknown model(s) {unknown}; choose among {list(fullsize.PAPER_CONFIGS)}")
    import torch

    old = json.loads(args.out.read_text()) if args.out.exists() else {"models": []}
    done = {m["hub_id"]: m for m in old.get("models", [])}
    # glibc: serve every allocation above 128 KiB with mmap, returned to the OS when freed,
    # so that the resident memory of the child follows the tensors alive (read at start-up)
    os.environ.setdefault("MALLOC_MMAP_THRESHOLD_", str(128 * 1024))
    ctx = mp.get_context("spawn")
    opts = {"threads": args.threads, "repeats": args.repeats,
            "dtype_steps": args.dtype_steps, "e2e": args.e2e}  # fmt: skip

    omp = old.get("omp")
    if args.omp:
        with ctx.Pool(1) as pool:
            omp = pool.apply(omp_cost, (args.threads,))
        print(f"OMP at 4,096 atoms: {omp['seconds_per_image']:.1f} s per image", flush=True)

    def write() -> dict:
        results = {
            "machine": {
                "cpu": platform.processor() or platform.machine(),
                "cores": os.cpu_count(),
                "threads": args.threads,
                "torch": torch.__version__,
                "python": platform.python_version(),
                "date": time.strftime("%Y-%m-%d"),
            },
            "gpus_assumed": costs.GPUS,
            "omp": omp,
            "models": [done[h] for h in fullsize.PAPER_CONFIGS if h in done],
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.out.with_suffix(".tmp")
        tmp.write_text(json.dumps(results, indent=1))
        os.replace(tmp, args.out)  # after every model: a crash later loses nothing
        return results

    for hub_id in args.models:
        t0 = time.perf_counter()
        with ctx.Pool(1) as pool:
            m = pool.apply(measure, (hub_id, args.weights, opts))
        m["projection"] = costs.project(m)
        m["benchmark_seconds"] = time.perf_counter() - t0
        done[hub_id] = m
        print(
            f"{hub_id}: {m['cpu_seconds_per_eval']:.2f} s per f, "
            f"{m['gflop_per_eval']:.0f} GFLOP, {m['benchmark_seconds']:.0f} s",
            flush=True,
        )
        results = write()
    print(table(results))


if __name__ == "__main__":
    main()
