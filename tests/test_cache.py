"""lvf.cache: the one cache of trained and computed artefacts.

An entry comes back exactly as stored; a truncated file, tampered content, another
configuration or another format version are each rebuilt with a CacheWarning naming the
reason, never silently.
"""

from __future__ import annotations

import pytest
import torch

from lvf.cache import CacheWarning, Entry, checksum

CONTENT = {"state_dict": {"w": torch.arange(6.0).view(2, 3)}, "losses": [0.5, 0.25], "n": 3}


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LVF_CACHE", str(tmp_path))


def _entry(**config):
    return Entry("models", "toy:net/1", {"k": 2, **config}, version=1)


def test_missing_entry_is_none_and_a_stored_one_round_trips():
    e = _entry()
    assert e.load() is None
    e.store(CONTENT)
    got = _entry().load()
    assert torch.equal(got["state_dict"]["w"], CONTENT["state_dict"]["w"])
    assert got["losses"] == [0.5, 0.25] and got["n"] == 3
    assert e.path.name.startswith("toy-net-1-") and e.path.parent.name == "models"


def test_key_depends_on_every_field_and_on_the_version():
    keys = {
        _entry().key,
        _entry(k=3).key,
        _entry(extra=None).key,
        Entry("models", "toy:net/1", {"k": 2}, version=2).key,
    }
    assert len(keys) == 4
    assert _entry().key == Entry("models", "other", {"k": 2}, version=1).key  # name: not keyed


def test_checksum_sees_every_byte_and_every_key():
    base = checksum(CONTENT)
    assert checksum({**CONTENT}) == base
    flipped = {**CONTENT, "state_dict": {"w": CONTENT["state_dict"]["w"].clone()}}
    flipped["state_dict"]["w"][1, 2] += 1e-6
    assert checksum(flipped) != base
    assert checksum({**CONTENT, "n": 4}) != base
    assert checksum({**CONTENT, "m": 3}) != base
    assert checksum({"w": torch.zeros(2, dtype=torch.float64)}) != checksum({"w": torch.zeros(2)})


def test_truncated_entry_is_rebuilt_with_a_warning():
    e = _entry()
    e.store(CONTENT)
    e.path.write_bytes(e.path.read_bytes()[:100])
    with pytest.warns(CacheWarning, match="unreadable, stale or corrupted"):
        assert e.load() is None


def test_tampered_content_is_detected():
    e = _entry()
    e.store(CONTENT)
    payload = torch.load(e.path, weights_only=True)
    payload["content"]["losses"][0] = 0.4
    torch.save(payload, e.path)
    with pytest.warns(CacheWarning, match="sha256"):
        assert e.load() is None


def test_foreign_configuration_or_version_is_detected():
    e = _entry()
    e.store(CONTENT)
    other = _entry(k=3)
    other.path.write_bytes(e.path.read_bytes())
    with pytest.warns(CacheWarning, match="configuration"):
        assert other.load() is None
    newer = Entry("models", "toy:net/1", {"k": 2}, version=2)
    newer.path.write_bytes(e.path.read_bytes())
    with pytest.warns(CacheWarning, match="format 1, expected 2"):
        assert newer.load() is None


def test_a_failed_write_leaves_the_old_entry():
    e = _entry()
    e.store(CONTENT)
    with pytest.raises(Exception, match="pickle"):
        e.store({"bad": lambda: 0})  # torch.save cannot pickle a lambda
    assert e.load()["n"] == 3
    assert [p.name for p in e.path.parent.iterdir()] == [e.path.name]  # no temporary left
