"""The ``lvf`` command: train the models of a chapter ahead of it, or publish checkpoints.

::

    lvf train ch06 --scale paper              # every model ch06 needs, in this process
    lvf train all --scale paper --executor slurm --partition gpu --gpus-per-node 1
    lvf train --list --scale book             # chapters and their model counts
    lvf checkpoints export DIR                # cached models + manifest, to publish
    lvf budget ch06 --multipliers 16 --executor slurm --gpus-per-node 1   # a budget study

``lvf train`` first prints a plan (how many models, how many cached or published, an
estimated training time), then trains what is missing, one model after the other or spread
over a cluster by submitit (``--executor local|slurm``, one job per model). Every training goes
through :func:`lvf.train.trained`, which fetches published checkpoints first and writes the
shared cache atomically, so concurrent jobs never clobber one another. ``lvf budget`` computes
the cells of a budget study (:mod:`lvf.book.budget`) the same way: in this process, or one
submitit job per (budget, seed) cell.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Plan", "budget_cells", "main", "plan", "train_many"]

EXECUTORS = ("inline", "local", "slurm")
_ENV = ("LVF_CACHE", "LVF_DATA", "LVF_OFFLINE", "LVF_CHECKPOINTS_URL", "LVF_THREADS")


def _entry(config: Any):
    from lvf.train.hub import _entry_of

    return _entry_of(config)


def _lm_seconds(config: Any) -> float:
    """Estimated seconds of :func:`lvf.train.trained_lm` (two timed steps, random bytes)."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = config.build()
        opt = torch.optim.AdamW(model.parameters(), lr=config.lr)
        batch = torch.randint(0, 256, (config.batch_size, config.seq_len + 1))
        for i in range(3):
            if i == 1:
                start = time.perf_counter()
            logits = model(input_ids=batch[:, :-1]).logits
            loss = torch.nn.functional.cross_entropy(
                logits.reshape(-1, 256), batch[:, 1:].reshape(-1)
            )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return (time.perf_counter() - start) / 2 * config.steps


def _seconds(config: Any, device: str) -> float:
    from lvf.train.autoencoders import TrainConfig, estimate_seconds

    if isinstance(config, TrainConfig):
        return estimate_seconds(config, device=device)
    return _lm_seconds(config)


@dataclass
class Plan:
    """What ``lvf train`` will do for a list of configurations.

    Attributes
    ----------
    configs
        Every configuration, without duplicates.
    cached, published, to_train
        The configurations whose file is in the cache, those not cached but listed by the
        published manifest (:func:`lvf.train.hub.published`; they will be downloaded), and the
        rest (they will be trained). Together, ``configs``.
    seconds
        Estimated seconds to train ``to_train`` one after the other on ``device``
        (:func:`lvf.train.estimate_seconds`).
    device
        Where the estimate was measured.
    """

    configs: list
    cached: list = field(default_factory=list)
    published: list = field(default_factory=list)
    to_train: list = field(default_factory=list)
    seconds: float = 0.0
    device: str = "cpu"

    def summary(self) -> str:
        """Two lines for people: the counts and the estimated time."""
        from lvf.train.autoencoders import format_seconds

        n = len(self.configs)
        head = (
            f"{n} model{'s' if n != 1 else ''}: {len(self.cached)} cached, "
            f"{len(self.published)} to download, {len(self.to_train)} to train."
        )
        if not self.to_train:
            return head + "\nNothing to train."
        return (
            f"{head}\nEstimated training time: {format_seconds(self.seconds)} one after the "
            f"other on this machine's {self.device} (an estimate, from timing a few optimizer "
            "steps of each kind of model; jobs on a cluster run side by side)."
        )


def plan(configs: Sequence[Any], *, device: str | None = None, estimate: bool = True) -> Plan:
    """Sort ``configs`` into cached, published and to-train, and estimate the training time.

    ``device``: where the estimate is measured (default ``"cuda"`` if available, else
    ``"cpu"``). ``estimate=False`` skips the timing (``seconds`` stays 0).
    """
    import torch

    from lvf.train.hub import published

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    p = Plan(list(dict.fromkeys(configs)), device=device)
    for c in p.configs:
        entry = _entry(c)
        if entry.path.is_file():
            p.cached.append(c)
        elif published(entry):
            p.published.append(c)
        else:
            p.to_train.append(c)
    if estimate:
        p.seconds = sum(_seconds(c, device) for c in p.to_train)
    return p


def _job(config: Any, env: dict[str, str], device: str | None = None) -> dict[str, Any]:
    """Train (or load, or fetch) one model; runs in this process or in a submitit job."""
    os.environ.update(env)
    from lvf.book.scales import configure_threads
    from lvf.train.autoencoders import TrainConfig, trained
    from lvf.train.lm import trained_lm

    configure_threads()
    start = time.perf_counter()
    if isinstance(config, TrainConfig):
        tm = trained(config, device=device, progress=env.get("LVF_PROGRESS", "1") != "0")
        status = "fetched" if tm.fetched else "cached" if tm.from_cache else "trained"
        path = tm.path
    else:
        lm = trained_lm(config)
        status = "cached" if lm.from_cache else "trained"
        path = _entry(config).path
    return {"name": path.name, "status": status, "seconds": time.perf_counter() - start}


def _executor(kind: str, folder: Path, parameters: dict[str, Any]):
    try:
        import submitit
    except ImportError as err:  # pragma: no cover - depends on the installation
        raise SystemExit(
            f"--executor {kind} needs submitit: pip install 'lvf[cluster]' (or submitit)."
        ) from err
    executor = submitit.AutoExecutor(folder=folder, cluster=kind)
    executor.update_parameters(**{k: v for k, v in parameters.items() if v is not None})
    return executor


def _reason(err: Exception) -> str:
    """The job's own exception, ``"ValueError: ..."``, from submitit's ``FailedJobError``
    (whose text is the job's traceback between two rules, then the paths of its logs)."""
    text = str(err).strip()
    parts = text.split("-" * 22)
    lines = [line for line in (parts[1] if len(parts) > 2 else text).splitlines() if line.strip()]
    return lines[-1].strip() if lines else type(err).__name__


def train_many(
    configs: Sequence[Any],
    *,
    executor: str = "inline",
    folder: str | os.PathLike[str] | None = None,
    parameters: dict[str, Any] | None = None,
    device: str | None = None,
    echo: Callable[[str], None] = print,
) -> list[dict[str, Any]]:
    """Train (or fetch, or load) every configuration; report each as it finishes.

    Parameters
    ----------
    configs
        :class:`~lvf.train.TrainConfig` or :class:`~lvf.models.tinylm.TinyLMConfig` objects.
    executor
        ``"inline"``: one after the other in this process. ``"local"`` or ``"slurm"``: one
        submitit job per model (``submitit.AutoExecutor(folder, cluster=executor)``, submitted
        as one job array), then waits for them all. The jobs get this process's ``LVF_*``
        settings (cache, data, checkpoints URL, threads).
    folder
        submitit's folder for job scripts and logs (default ``cache_dir()/submitit``).
    parameters
        Passed to ``executor.update_parameters``, e.g. ``timeout_min``, ``gpus_per_node``,
        ``slurm_partition``.
    device
        Where to train (default: ``"cuda"`` when available, else ``"cpu"``).
    echo
        Where progress lines go.

    Returns
    -------
    list of dict
        ``{"name", "status", "seconds"}`` per model, in the order of ``configs``; ``status``
        is ``"cached"``, ``"fetched"``, ``"trained"`` or ``"failed: <reason>"``.
    """
    from lvf.cache import cache_dir

    if executor not in EXECUTORS:
        raise ValueError(f"Unknown executor {executor!r}; use one of {', '.join(EXECUTORS)}.")
    configs = list(dict.fromkeys(configs))
    env = {k: os.environ[k] for k in _ENV if k in os.environ}
    env["LVF_CACHE"] = str(cache_dir())
    n = len(configs)
    results: list[dict[str, Any]] = []

    def report(i: int, r: dict[str, Any]) -> None:
        echo(f"[{i}/{n}] {r['name']}: {r['status']} ({r['seconds']:.1f} s)")

    if executor == "inline":
        for i, c in enumerate(configs, 1):
            r = _job(c, env | {"LVF_PROGRESS": os.environ.get("LVF_PROGRESS", "1")}, device)
            results.append(r)
            report(i, r)
        return results

    folder = Path(folder) if folder else cache_dir() / "submitit"
    ex = _executor(executor, folder, dict(parameters or {}))
    env["LVF_PROGRESS"] = "0"
    jobs = ex.map_array(_job, configs, [env] * n, [device] * n)
    echo(f"Submitted {n} job{'s' if n != 1 else ''} to {executor} (logs in {folder}).")
    for i, (c, job) in enumerate(zip(configs, jobs, strict=True), 1):
        try:
            r = job.result()
        except Exception as err:  # noqa: BLE001 - report every failed job, keep waiting
            r = {"name": _entry(c).path.name, "status": f"failed: {_reason(err)}", "seconds": 0.0}
            r["log"] = str(job.paths.stderr)
        results.append(r)
        report(i, r)
    return results


def _parser() -> argparse.ArgumentParser:
    from lvf.book.scales import SCALES
    from lvf.train.registry import CHAPTERS

    top = argparse.ArgumentParser(prog="lvf", description=__doc__.split("\n")[0])
    sub = top.add_subparsers(dest="command", required=True)

    t = sub.add_parser(
        "train",
        help="train every model of chapters at a scale (skipping cached ones)",
        description="Train every model the chapters need at a scale; cached models are "
        "skipped and published ones downloaded (LVF_CHECKPOINTS_URL).",
    )
    t.add_argument("chapters", nargs="*", metavar="CHAPTER", help=f"{CHAPTERS[0]}...: or 'all'")
    t.add_argument("--scale", choices=SCALES, default=None, help="default: $LVF_SCALE or book")
    t.add_argument("--list", action="store_true", help="list chapters and their model counts")
    t.add_argument("--plan", action="store_true", help="print the plan only, train nothing")
    _cluster_arguments(t, "model")

    c = sub.add_parser("checkpoints", help="publish cached models")
    csub = c.add_subparsers(dest="action", required=True)
    e = csub.add_parser(
        "export",
        help="copy cached models into DIR with a manifest (checkpoints.json)",
        description="Copy cached models into DIR and write the manifest with their sha256 "
        "and configuration. Default: every model file of the current format in the cache; "
        "with --scale, exactly the models the book's chapters train at that scale.",
    )
    e.add_argument("dir", type=Path)
    e.add_argument("--scale", choices=SCALES, default=None)

    b = sub.add_parser(
        "budget",
        help="run a chapter's budget study (lvf.book.budget)",
        description="Repeat a chapter's experiment at several multiples of its optimizer "
        "steps on every seed, and write one result file per (budget, seed) under "
        "book/data/budget (or $LVF_BUDGET); cells that exist are kept.",
    )
    b.add_argument("chapter", help="a chapter with a study (lvf.book.budget.STUDIES), or 'all'")
    b.add_argument("--scale", choices=SCALES, default=None, help="default: $LVF_SCALE or book")
    b.add_argument("--multipliers", type=int, nargs="+", default=None, help="default: 1 4 16")
    b.add_argument("--seeds", type=int, nargs="+", default=None, help="default: the chapter's")
    b.add_argument("--force", action="store_true", help="recompute cells that exist")
    b.add_argument("--table", action="store_true", help="print the trends, compute nothing")
    _cluster_arguments(b, "cell (budget, seed)")
    return top


def _cluster_arguments(p: argparse.ArgumentParser, unit: str) -> None:
    """Where the work runs: ``--executor`` and submitit's settings, and ``--device``."""
    p.add_argument(
        "--executor",
        choices=EXECUTORS,
        default="inline",
        help=f"inline: one after the other in this process; local or slurm: one submitit job "
        f"per {unit}, side by side (default: inline)",
    )
    p.add_argument("--folder", type=Path, help="submitit folder (default: <cache>/submitit)")
    p.add_argument("--partition", help="SLURM partition")
    p.add_argument("--gpus-per-node", type=int)
    p.add_argument("--cpus-per-task", type=int)
    p.add_argument("--timeout-min", type=int, default=24 * 60, help="per job (default 1440)")
    p.add_argument("--device", help="cpu or cuda (default: cuda when available)")


def _parameters(args) -> dict[str, Any]:
    """submitit's ``update_parameters`` from the command line."""
    parameters = dict(timeout_min=args.timeout_min, gpus_per_node=args.gpus_per_node)
    return parameters | dict(cpus_per_task=args.cpus_per_task, slurm_partition=args.partition)


def _cell_job(
    chapter: str, scale: str, multiplier: int, seed: int, env: dict[str, str], device: str | None
) -> dict[str, Any]:
    """Compute one cell of a budget study; runs in a submitit job."""
    os.environ.update(env)
    from lvf.book import budget

    start = time.perf_counter()
    (path,) = budget.run(
        chapter, scale=scale, multipliers=[multiplier], seeds=[seed], device=device, force=True
    )
    return {"name": f"{chapter}/{path.name}", "seconds": time.perf_counter() - start}


def budget_cells(
    cells: Sequence[tuple[str, str, int, int]],
    *,
    executor: str,
    folder: str | os.PathLike[str] | None = None,
    parameters: dict[str, Any] | None = None,
    device: str | None = None,
    echo: Callable[[str], None] = print,
) -> list[dict[str, Any]]:
    """Compute budget-study cells as submitit jobs, one per cell, side by side.

    Parameters
    ----------
    cells
        ``(chapter, scale, multiplier, seed)`` per cell (:func:`lvf.book.budget.to_compute`).
        Each job computes its cell with :func:`lvf.book.budget.run` and writes the cell file
        atomically; the models go to the shared cache (written atomically too). Cells that
        need the same model (ch10 probes ch11's networks) may each train it once: run such
        chapters one after the other to avoid the duplicate work.
    executor
        ``"local"`` (subprocesses of this machine) or ``"slurm"``.
    folder, parameters, device, echo
        As for :func:`train_many`.

    Returns
    -------
    list of dict
        ``{"name", "seconds"}`` per cell, in the order of ``cells``, with ``"status"``
        ``"done"`` or ``"failed: <reason>"`` (and ``"log"``, the job's stderr, on failure).
    """
    from lvf.book.budget import results_dir
    from lvf.cache import cache_dir

    if executor not in EXECUTORS[1:]:
        raise ValueError(
            f"budget_cells runs submitit jobs: executor 'local' or 'slurm', got "
            f"{executor!r} (for 'inline' call lvf.book.budget.run)."
        )
    env = {k: os.environ[k] for k in _ENV if k in os.environ}
    env |= {"LVF_CACHE": str(cache_dir()), "LVF_BUDGET": str(results_dir()), "LVF_PROGRESS": "0"}
    folder = Path(folder) if folder else cache_dir() / "submitit"
    n = len(cells)
    if not n:
        return []
    ex = _executor(executor, folder, dict(parameters or {}))
    chapters, scales, ms, seeds = (list(col) for col in zip(*cells, strict=True))
    jobs = ex.map_array(_cell_job, chapters, scales, ms, seeds, [env] * n, [device] * n)
    echo(f"Submitted {n} budget cell{'s' if n != 1 else ''} to {executor} (logs in {folder}).")
    results = []
    for i, ((chapter, _, m, s), job) in enumerate(zip(cells, jobs, strict=True), 1):
        try:
            r = job.result() | {"status": "done"}
        except Exception as err:  # noqa: BLE001 - report every failed job, keep waiting
            r = {"name": f"{chapter}/x{m}-seed{s}.json", "status": f"failed: {_reason(err)}"}
            r |= {"seconds": 0.0, "log": str(job.paths.stderr)}
        results.append(r)
        echo(f"[{i}/{n}] {r['name']}: {r['status']} ({r['seconds']:.0f} s)")
    return results


def _budget(args) -> int:
    from lvf.book import budget

    chapters = list(budget.STUDIES) if args.chapter == "all" else [args.chapter]
    if any(ch not in budget.STUDIES for ch in chapters):
        print(
            f"lvf budget: no study for {args.chapter!r}; studies: {', '.join(budget.STUDIES)} "
            "(or 'all').",
            file=sys.stderr,
        )
        return 2
    from lvf.book.scales import current_scale

    scale = args.scale or current_scale()
    multipliers = args.multipliers or budget.MULTIPLIERS
    if not args.table and args.executor != "inline":
        cells = []
        for chapter in chapters:
            todo = budget.to_compute(
                chapter, scale=scale, multipliers=multipliers, seeds=args.seeds, force=args.force
            )
            cells += [(chapter, scale, m, s) for m, s in todo]
        noun = "cell" if len(cells) == 1 else "cells"
        print(f"lvf budget {args.chapter} at scale {scale}: {len(cells)} {noun} to compute.")
        results = budget_cells(
            cells,
            executor=args.executor,
            folder=args.folder,
            parameters=_parameters(args),
            device=args.device,
            echo=lambda line: print(line, flush=True),
        )
        failed = [r for r in results if r["status"] != "done"]
        if failed:
            print(
                f"lvf budget: {len(failed)} of {len(results)} cells failed (e.g. "
                f"{failed[0]['name']}; log {failed[0]['log']}); run the command again to "
                "compute them.",
                file=sys.stderr,
            )
            return 1
    for chapter in chapters:
        if not args.table and args.executor == "inline":
            budget.run(
                chapter,
                scale=scale,
                multipliers=multipliers,
                seeds=args.seeds,
                device=args.device,
                force=args.force,
            )
        for (claim, label), t in budget.trend(chapter, scale).items():
            print(f"{chapter}  {claim:38s} {label:34s} {t['trend']:20s} slope {t['slope']:+.3f}")
    return 0


def _chapters(names: Sequence[str]) -> list[str]:
    from lvf.train.registry import CHAPTERS

    if not names or "all" in names:
        return list(CHAPTERS)
    bad = [n for n in names if n not in CHAPTERS]
    if bad:
        raise SystemExit(f"lvf train: unknown chapter {bad[0]!r}; use ch01...ch12 or 'all'.")
    return list(dict.fromkeys(names))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``lvf`` command with ``argv`` (default ``sys.argv[1:]``); the exit status."""
    from lvf.book.scales import configure_threads, current_scale
    from lvf.train import registry

    args = _parser().parse_args(argv)
    configure_threads()  # LVF_THREADS, and denormals flushed (training is 4x faster on CPUs)
    if args.command == "budget":
        return _budget(args)
    if args.command == "checkpoints":
        from lvf.train.hub import export

        configs = None
        if args.scale:
            configs = [c for cs in registry.book_configs(args.scale).values() for c in cs]
        out = export(args.dir, configs)
        import json

        n = len(json.loads(out.read_text(encoding="utf-8"))["files"])
        print(f"{out}: {n} checkpoints listed.")
        return 0

    scale = args.scale or current_scale()
    if args.list:
        total: list = []
        print(f"scale {scale}:")
        for ch in _chapters(args.chapters):
            cs = registry.chapter_configs(ch, scale)
            cached = sum(_entry(c).path.is_file() for c in cs)
            total += cs
            print(f"  {ch}  {len(cs):3d} models, {cached:3d} cached")
        print(f"  all   {len(dict.fromkeys(total)):3d} distinct models")
        return 0
    if not args.chapters:
        print("lvf train: name chapters (ch01...ch12 or 'all'), or use --list.", file=sys.stderr)
        return 2
    chapters = _chapters(args.chapters)
    configs = [c for ch in chapters for c in registry.chapter_configs(ch, scale)]
    p = plan(configs, device=args.device)
    print(f"lvf train {' '.join(args.chapters)} at scale {scale}: {p.summary()}", flush=True)
    if args.plan or not (p.to_train or p.published):
        return 0
    results = train_many(
        p.published + p.to_train,
        executor=args.executor,
        folder=args.folder,
        parameters=_parameters(args),
        device=args.device,
        echo=lambda line: print(line, flush=True),
    )
    failed = [r for r in results if r["status"].startswith("failed")]
    if failed:
        print(
            f"lvf train: {len(failed)} of {len(results)} models failed (e.g. {failed[0]['name']}"
            f"; log {failed[0].get('log', '-')}); run the command again to retry them.",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
