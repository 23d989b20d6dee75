"""The website: build it, open every page in headless Chromium, check what a reader sees.

The book is built at ``LVF_SCALE=tiny`` with README's flags plus ``-n`` (nitpicky: a broken
cross-reference is a warning, and ``-W`` makes it an error). Then every page of ``_toc.yml``
is opened in headless Chromium (Debian's ``chromium``), which checks that

- every image on the page loads (decoded, non-zero width), and every chapter has figures;
- the interactive widget's state is embedded (chapter 1), so it renders without a kernel;
- every link to another page of the site, and every ``#anchor``, points at something that
  exists;

and keeps a screenshot of each page in ``_build/screenshots/`` (paths printed; CI prints them
too). Without Chromium the test skips, unless ``LVF_REQUIRE_BROWSER=1`` (set by ``.ci/run``).
"""

from __future__ import annotations

import html.parser
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import yaml
from toc import toc_pages

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "_build" / "screenshots"
TINY_CELL_TIMEOUT = 900  # seconds; the slowest tiny cell takes well under a minute
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
# Runs after the page's own scripts: the list of images, whether each decoded, in the DOM.
PROBE = """<script>
window.addEventListener("load", () => {
  const imgs = [...document.images].map(
    i => [i.getAttribute("src"), i.complete && i.naturalWidth > 0]);
  document.body.setAttribute("data-lvf-images", JSON.stringify(imgs));
});
</script>"""


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    return None


class _Links(html.parser.HTMLParser):
    """The ids and the hrefs of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        if tag == "a" and a.get("href"):
            self.hrefs.append(a["href"])


def _parse(path: Path) -> _Links:
    p = _Links()
    p.feed(path.read_text(encoding="utf-8"))
    return p


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The website built at tiny scale; returns its html folder."""
    # the jupyter-book of this interpreter's environment (its bin/ need not be on PATH)
    exe = Path(sys.executable).parent / "jupyter-book"
    exe = str(exe) if exe.is_file() else shutil.which("jupyter-book")
    if exe is None:
        pytest.skip("jupyter-book is not installed (pip install -e '.[test]')")
    out = tmp_path_factory.mktemp("site")
    env = os.environ | {
        "LVF_SCALE": "tiny",
        "LVF_CLAIMS": str(out / "claims"),  # tiny records must not replace the book's
        "LVF_PROGRESS": "0",
        # figures inline, as in a notebook (conftest sets Agg for the tests' own plots)
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
    }
    # Tiny cells take seconds: a short cell timeout turns a frozen kernel into an error
    # instead of holding CI for the book's 5,400 s. One tiny build here froze in ch01 (kernel
    # and client both idle for 40 min); the next build passed. So a build whose only failure
    # is a timed-out cell is run once more: the executed chapters are cached, and a cell that
    # truly never ends times out again and fails the test.
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    config["execute"]["timeout"] = TINY_CELL_TIMEOUT
    (out / "_config.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    cmd = [exe, "build", ".", "-W", "-n", "--keep-going", "--path-output", str(out)]
    cmd += ["--config", str(out / "_config.yml")]
    for attempt in (1, 2):
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        tail = (proc.stdout + proc.stderr)[-6000:]
        reports = (out / "_build" / "html" / "reports").glob("*.log")  # tracebacks
        said = proc.stdout + proc.stderr + "".join(r.read_text(errors="replace") for r in reports)
        if proc.returncode == 0 or "CellTimeoutError" not in said:
            break
        print(f"the website build timed out in a cell (attempt {attempt}):\n{tail}")
    assert proc.returncode == 0, f"the website build failed:\n{tail}"
    return out / "_build" / "html"


@pytest.fixture(scope="module")
def chromium() -> str:
    path = _chromium()
    if path is None:
        if os.environ.get("LVF_REQUIRE_BROWSER") == "1":
            pytest.fail("LVF_REQUIRE_BROWSER=1 but no chromium on PATH (apt install chromium)")
        pytest.skip("no chromium on PATH (apt install chromium); the browser checks need it")
    return path


def _render(chromium: str, page: Path, shot: Path) -> list[tuple[str, bool]]:
    """Open ``page`` in headless Chromium: its images and whether each loaded."""
    probe = page.with_name(page.stem + ".lvf-probe.html")
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"))
    try:
        base = [chromium, *CHROMIUM_FLAGS, "--virtual-time-budget=10000"]
        dom = subprocess.run(
            [*base, "--dump-dom", probe.as_uri()], capture_output=True, text=True, timeout=120
        ).stdout
        subprocess.run(
            [*base, "--window-size=1280,2400", f"--screenshot={shot}", page.as_uri()],
            capture_output=True,
            timeout=120,
        )
    finally:
        probe.unlink()
    marker = 'data-lvf-images="'
    assert marker in dom, f"{page.name}: Chromium did not finish loading the page"
    raw = dom.split(marker, 1)[1].split('"', 1)[0]
    return [tuple(x) for x in json.loads(html.unescape(raw))]


@pytest.mark.slow
def test_every_page_renders_in_a_browser(site: Path, chromium: str):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    problems, shots = [], []
    for page in toc_pages():
        path = site / f"{page}.html"
        assert path.is_file(), f"{page}: no HTML page in the build"
        shot = SCREENSHOTS / f"{Path(page).name}.png"
        images = _render(chromium, path, shot)
        broken = [src for src, ok in images if not ok]
        if broken:
            problems.append(f"{page}: images that did not load: {broken}")
        figures = [src for src, _ in images if "_images/" in (src or "")]
        if re.match(r"ch\d+_", Path(page).name) and not figures:  # a chapter, not "choices"
            problems.append(f"{page}: a chapter without a single figure")
        if shot.is_file() and shot.stat().st_size > 0:
            shots.append(shot)
        else:
            problems.append(f"{page}: no screenshot")
    print("screenshots:\n" + "\n".join(f"  {s}" for s in shots))
    assert not problems, "\n".join(problems)


@pytest.mark.slow
def test_widget_state_is_embedded(site: Path):
    text = (site / "book" / "ch01_dynamical_systems.html").read_text(encoding="utf-8")
    assert "application/vnd.jupyter.widget-state+json" in text
    assert "application/vnd.jupyter.widget-view+json" in text


@pytest.mark.slow
def test_internal_links_resolve(site: Path):
    broken = []
    cache: dict[Path, _Links] = {}
    for page in sorted(site.rglob("*.html")):
        if "_static" in page.parts or "_sources" in page.parts:
            continue
        for href in _parse(page).hrefs:
            parts = urlsplit(href)
            if parts.scheme or parts.netloc or href.startswith(("mailto:", "javascript:")):
                continue  # external
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{page.relative_to(site)}: {href} (no such file)")
                continue
            if parts.fragment and target.suffix == ".html":
                ids = cache.setdefault(target, _parse(target)).ids
                if unquote(parts.fragment) not in ids:
                    broken.append(f"{page.relative_to(site)}: {href} (no such anchor)")
    assert not broken, "broken internal links:\n" + "\n".join(broken[:50])
