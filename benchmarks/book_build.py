"""Time the book's build: the whole website and each chapter, cold or with models cached.

    python benchmarks/book_build.py --label cold                 # fresh model cache
    python benchmarks/book_build.py --label cached --cache DIR   # reuse a model cache
    python benchmarks/book_build.py --collect _build --label cold --total-s 2400

Each run builds the website with README's command (``jupyter-book build . -W --keep-going``)
into its own output folder, so the notebook execution cache starts empty and every chapter
is executed; ``--cache`` points ``LVF_CACHE`` at a folder of trained models (a new, empty one
when omitted: a cold build). The chapter times are read from jupyter-cache's records
(``execution_seconds`` of each notebook); the seconds each chapter spent training its
models, and how many it trained, come from the chapters' own run stamps
(``book/_claims/runs``, :func:`lvf.book.report.runs`), so that one cold build also gives the
chapters' times without training. ``--collect`` reads them from an earlier build's output
folder instead of building. Results are merged into
``benchmarks/results/book-build.json`` under the label, with machine, date and commit;
the instructor page of the book shows that file.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "book-build.json"


def chapter_times(output: Path) -> dict[str, float]:
    """Seconds of each executed notebook, from the jupyter-cache of a build's output folder."""
    from jupyter_cache import get_cache

    cache = get_cache(output / ".jupyter_cache")
    times = {}
    for rec in cache.list_cache_records():
        seconds = (rec.data or {}).get("execution_seconds")
        if seconds is not None:
            times[Path(rec.uri).stem] = round(float(seconds), 1)
    return dict(sorted(times.items()))


def training_times(
    since: float | None = None, runs: Path = ROOT / "book" / "_claims" / "runs"
) -> dict[str, dict[str, float]]:
    """Per chapter, ``{"train_s", "trained", "cached", "fetched"}`` from the run stamps the
    chapters wrote in ``runs`` (only stamps written after ``since``, a ``time.time()``, when
    given; stamps from before the counts existed are skipped)."""
    out = {}
    for f in sorted(runs.glob("*.json")):
        if since is not None and f.stat().st_mtime < since:
            continue
        r = json.loads(f.read_text())
        if "train_seconds" in r:
            out[r["chapter"]] = {
                "train_s": r["train_seconds"],
                "trained": r["models_trained"],
                "cached": r["models_cached"],
                "fetched": r["models_fetched"],
            }
    return out


def machine() -> dict[str, object]:
    load = os.getloadavg()
    return {
        "host": platform.node(),
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "load_average_1_5_15": [round(x, 2) for x in load],
    }


def commit() -> str:
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return out.stdout.strip() or "unknown"


def build(output: Path, cache: Path, scale: str) -> tuple[int, float]:
    env = os.environ | {"LVF_CACHE": str(cache), "LVF_SCALE": scale, "LVF_PROGRESS": "0"}
    cmd = ["jupyter-book", "build", ".", "-W", "--keep-going", "--path-output", str(output)]
    t0 = time.perf_counter()
    rc = subprocess.run(cmd, cwd=ROOT, env=env).returncode
    return rc, time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--label", required=True, help="e.g. cold, cached")
    p.add_argument("--cache", type=Path, help="LVF_CACHE to use (default: a new, empty one)")
    p.add_argument("--scale", default="book")
    p.add_argument("--collect", type=Path, help="read times from this build folder (_build)")
    p.add_argument("--total-s", type=float, help="with --collect: the measured build time")
    p.add_argument("--commit", help="with --collect: the commit that build ran (default: HEAD)")
    p.add_argument("--note", default="", help="free text stored with the result")
    a = p.parse_args()

    before = machine()
    started = time.time()
    if a.collect:  # the load now says nothing about that earlier build
        before["load_average_1_5_15"] = None
        rc, total, times = 0, a.total_s, chapter_times(a.collect)
        started = None
    else:
        cache = a.cache or Path(tempfile.mkdtemp(prefix="lvf-book-cache-"))
        out = Path(tempfile.mkdtemp(prefix="lvf-book-build-"))
        rc, total = build(out, cache, a.scale)
        times = chapter_times(out / "_build")
    entry = {
        "label": a.label,
        "scale": a.scale,
        "returncode": rc,
        "build_s": None if total is None else round(total, 1),
        "chapters_s": times,
        "chapters_total_s": round(sum(times.values()), 1),
        "training": training_times(started),
        "machine": before,
        "load_after": None if a.collect else [round(x, 2) for x in os.getloadavg()],
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": a.commit or commit(),
        "note": a.note,
    }
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results[a.label] = entry
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    tmp = RESULTS.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=2) + "\n")
    tmp.replace(RESULTS)
    print(json.dumps(entry, indent=2))
    raise SystemExit(rc)


if __name__ == "__main__":
    main()
