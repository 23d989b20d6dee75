import json

import pytest

from lvf import report


def test_records_are_written_replaced_and_loaded(tmp_path, monkeypatch):
    monkeypatch.setenv("LVF_CLAIMS", str(tmp_path))
    monkeypatch.setenv("LVF_SCALE", "tiny")
    report.record("a", chapter="ch", paper="p", ours="o1", verdict="reproduced", numbers={"x": 1})
    report.record("b", chapter="ch", paper="p", ours="o", verdict="not reproduced")
    report.record("a", chapter="ch", paper="p", ours="o2", verdict="partly reproduced")
    claims = report.load("ch")
    assert [(c.id, c.ours, c.verdict) for c in claims] == [
        ("a", "o2", "partly reproduced"),
        ("b", "o", "not reproduced"),
    ]
    assert claims[0].scale == "tiny"
    assert json.loads((tmp_path / "ch.json").read_text())[1]["id"] == "b"
    md = report.table("ch").data
    assert "| a | p | o2 *(tiny scale)* | **partly reproduced** |" in md


def test_unknown_verdict_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("LVF_CLAIMS", str(tmp_path))
    with pytest.raises(ValueError, match="verdict must be one of"):
        report.record("a", chapter="ch", paper="p", ours="o", verdict="sort of")
