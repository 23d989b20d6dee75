"""Write the summary of benchmark results into benchmarks/README.md.

    python benchmarks/table.py benchmarks/results/vm-cpu.json [more.json ...]

Each results file written by ``run.py`` becomes a table (measure, value, goal) headed by its
machine, device, clock, threads, date and commit, between the markers
``<!-- results:start -->`` and ``<!-- results:end -->`` of the README.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

README = Path(__file__).resolve().parent / "README.md"
START, END = "<!-- results:start -->", "<!-- results:end -->"


def table(path: Path) -> str:
    data = json.loads(path.read_text())
    m = data["meta"]
    where = m["gpu"] or f"{m['cpu']}, {m['cores']} cores"
    head = (
        f"**{path.name}** — {where}; torch {m['torch']}, {m['torch_threads']} thread(s), "
        f"{m['clock']} clock; {m['sizes']['name']} sizes; {m['date']}; commit `{m['commit']}`; "
        f"suite {m['wall_s'] / 60:.0f} min; load before/after: "
        f"{m['uptime_before'].split('load average:')[-1].strip()} / "
        f"{m['uptime_after'].split('load average:')[-1].strip()}"
    )
    rows = ["| measure | value | goal |", "|---|---|---|"]
    rows += [f"| {a} | {b} | {c} |" for a, b, c in data["summary"]]
    return head + "\n\n" + "\n".join(rows)


def main(paths: list[str]) -> None:
    text = README.read_text()
    if START not in text or END not in text:
        raise SystemExit(f"{README} lacks the markers {START} and {END}")
    body = "\n\n".join(table(Path(p)) for p in paths)
    before, rest = text.split(START, 1)
    after = rest.split(END, 1)[1]
    README.write_text(f"{before}{START}\n{body}\n{END}{after}")
    print(body)


if __name__ == "__main__":
    main(sys.argv[1:])
