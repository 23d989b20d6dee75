"""Published checkpoints (lvf.train.hub), against a real HTTP server on 127.0.0.1.

A tiny model is trained, exported into a folder the server serves, and removed from the cache;
:func:`lvf.train.trained` must then download it (and not train), verified against the
manifest. A corrupted download, a configuration mismatch, a missing file, a server that is
down and ``LVF_OFFLINE`` must each warn, keep no bad file, and train instead. Training prints
an estimate of its duration before it starts.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import socket
import threading
from pathlib import Path

import pytest
import torch

import lvf.train.autoencoders as ae
from lvf.train import CacheWarning, TrainConfig, estimate_seconds, export_checkpoints, hub, trained

TINY = TrainConfig(
    model="mlp",
    model_kwargs={"hidden": [8]},
    dataset="toy:gaussians",
    n_train=64,
    epochs=2,
    batch_size=32,
    lr=1e-2,
)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # no request log on stderr
        pass


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    monkeypatch.setenv("LVF_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("LVF_PROGRESS", "0")
    monkeypatch.delenv("LVF_OFFLINE", raising=False)
    monkeypatch.setenv("LVF_CHECKPOINTS_URL", "off")
    hub._forget()
    yield
    hub._forget()


@pytest.fixture
def server(tmp_path):
    """A folder served over HTTP on an ephemeral port: ``(folder, base URL)``."""
    folder = tmp_path / "served"
    folder.mkdir()
    handler = functools.partial(_Quiet, directory=str(folder))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield folder, f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def _no_training(*args, **kwargs):
    raise AssertionError("fit() was called: the model was trained instead of fetched")


@pytest.fixture
def published(server, monkeypatch):
    """TINY trained once, exported to the server, removed from the cache; fetching on."""
    folder, url = server
    first = trained(TINY, device="cpu", progress=False)
    manifest = export_checkpoints(folder, [TINY])
    TINY.cache_path().unlink()
    monkeypatch.setenv("LVF_CHECKPOINTS_URL", url)
    return folder, url, first, json.loads(manifest.read_text())


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _leftovers() -> list[str]:
    return [p.name for p in TINY.cache_path().parent.iterdir() if p.name.startswith(".")]


def test_a_missing_model_is_downloaded_and_verified_not_trained(published, monkeypatch):
    folder, url, first, manifest = published
    name = TINY.cache_path().name
    assert set(manifest["files"]) == {name}
    item = manifest["files"][name]
    assert item["config"] == TINY.to_dict() and item["version"] == ae.CACHE_VERSION
    assert item["sha256"] == _sha256(folder / name)

    monkeypatch.setattr(ae, "fit", _no_training)
    got = trained(TINY, device="cpu", progress=False)
    assert got.fetched and got.from_cache
    assert got.history == first.history  # the published run's history, not a new one
    assert _sha256(TINY.cache_path()) == item["sha256"]
    a, b = got.model.state_dict(), first.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert _leftovers() == []
    again = trained(TINY, device="cpu", progress=False)  # now a plain cache hit
    assert again.from_cache and not again.fetched


def test_a_corrupted_download_is_discarded_and_the_model_trained(published):
    folder, url, first, _ = published
    served = folder / TINY.cache_path().name
    data = bytearray(served.read_bytes())
    for i in range(len(data) // 2, len(data) // 2 + 16):
        data[i] ^= 0xFF
    served.write_bytes(bytes(data))

    with pytest.warns(CacheWarning, match="sha256 mismatch") as record:
        got = trained(TINY, device="cpu", progress=False)
    assert TINY.cache_path().name in str(record[0].message)
    assert not got.from_cache and not got.fetched
    assert _leftovers() == []  # the bad download is not kept
    assert _sha256(TINY.cache_path()) != _sha256(served)
    assert got.history["loss"] == first.history["loss"]  # trained again, same result on CPU


def test_a_download_that_fails_the_checked_load_is_deleted(published):
    """The server's manifest agrees with a broken file: the cache's own check catches it."""
    folder, url, _, manifest = published
    name = TINY.cache_path().name
    (folder / name).write_bytes(b"not a torch file")
    manifest["files"][name]["sha256"] = hashlib.sha256(b"not a torch file").hexdigest()
    (folder / hub.MANIFEST).write_text(json.dumps(manifest))

    with pytest.warns(CacheWarning, match="unreadable, stale or corrupted"):
        got = trained(TINY, device="cpu", progress=False)
    assert not got.fetched and not got.from_cache
    assert torch.load(TINY.cache_path(), weights_only=True)["config"] == TINY._entry().config


def test_a_configuration_mismatch_is_not_used(published):
    folder, url, _, manifest = published
    name = TINY.cache_path().name
    manifest["files"][name]["config"]["epochs"] = 3
    (folder / hub.MANIFEST).write_text(json.dumps(manifest))
    with pytest.warns(CacheWarning, match="configuration mismatch"):
        got = trained(TINY, device="cpu", progress=False)
    assert not got.fetched and not got.from_cache


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


@pytest.mark.parametrize("case", ["404", "unpublished", "server down"])
def test_without_a_usable_checkpoint_the_model_is_trained_with_a_warning(
    published, monkeypatch, case
):
    folder, url, first, manifest = published
    if case == "404":
        (folder / TINY.cache_path().name).unlink()
        match = "HTTP Error 404"
    elif case == "unpublished":
        (folder / hub.MANIFEST).write_text(json.dumps({**manifest, "files": {}}))
        match = "is not published"
    elif case == "server down":
        monkeypatch.setenv("LVF_CHECKPOINTS_URL", _closed_port_url())
        match = "No checkpoints available"
    with pytest.warns(CacheWarning, match=match):
        got = trained(TINY, device="cpu", progress=False)
    assert not got.from_cache and not got.fetched
    assert got.history["loss"] == first.history["loss"]
    assert TINY.cache_path().is_file() and _leftovers() == []


@pytest.mark.parametrize("how", ["LVF_CHECKPOINTS_URL=off", "LVF_OFFLINE=1"])
def test_fetching_off_is_silent(published, monkeypatch, recwarn, how):
    """Asked-for offline work trains without a warning, even where checkpoints are served."""
    name, value = how.split("=")
    monkeypatch.setenv(name, value)
    got = trained(TINY, device="cpu", progress=False)
    assert not got.from_cache and not got.fetched
    assert not [w for w in recwarn if issubclass(w.category, CacheWarning)]
    assert hub.checkpoints_url() is None


def test_the_time_estimate_is_printed_before_training(monkeypatch, capsys):
    monkeypatch.setenv("LVF_PROGRESS", "1")
    trained(TINY, device="cpu")
    err = capsys.readouterr().err
    assert "estimated time" in err and "an estimate" in err
    assert f"{ae.n_steps(TINY)} optimizer steps" in err
    assert err.index("estimated time") < err.index("training:")  # the progress bar comes after
    trained(TINY, device="cpu")  # cached: no estimate, no training
    assert "estimated time" not in capsys.readouterr().err


def test_estimate_scales_with_the_number_of_steps():
    double = TrainConfig(**{**TINY.to_dict(), "epochs": 4, "lr_step": TINY.lr_step})
    assert ae.n_steps(TINY) == 2 * 2 and ae.n_steps(double) == 4 * 2
    one, two = estimate_seconds(TINY), estimate_seconds(double)
    assert one > 0 and two == pytest.approx(2 * one)
    assert estimate_seconds(TrainConfig(**{**TINY.to_dict(), "epochs": 0, "lr_step": 1})) == 0


def test_export_needs_the_models_and_skips_stale_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="not cached"):
        export_checkpoints(tmp_path / "out", [TINY])
    trained(TINY, device="cpu", progress=False)
    stale = TINY.cache_path().with_name("mlp-toy:gaussians-000000000000.pt")
    stale.write_bytes(b"junk")
    with pytest.warns(CacheWarning, match="Not exporting"):
        manifest = json.loads(export_checkpoints(tmp_path / "out").read_text())
    assert list(manifest["files"]) == [TINY.cache_path().name]
    assert manifest["release"] == hub.release_tag()


def test_default_url_is_the_repository_release(monkeypatch):
    monkeypatch.delenv("LVF_CHECKPOINTS_URL")
    url = hub.checkpoints_url()
    assert url == hub.DEFAULT_URL
    assert url.startswith("https://github.com/latent-vector-fields/lvf/releases/download/")
    assert url.endswith(f"/checkpoints-v{ae.CACHE_VERSION}/")
    monkeypatch.setenv("LVF_CHECKPOINTS_URL", "")
    assert hub.checkpoints_url() is None
