import json

import pytest

from lvf.book import report


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


def test_reproduction_joins_records_with_every_paper_claim(tmp_path, monkeypatch):
    from lvf.book.claims import CLAIMS

    monkeypatch.setenv("LVF_CLAIMS", str(tmp_path))
    first = CLAIMS[0]
    for chapter in ("chA", "chB"):  # one claim tested in two chapters: two rows
        report.record(
            first.tested_by[0],
            chapter=chapter,
            paper="p",
            ours=f"o {chapter}",
            verdict="reproduced",
        )
    report.record("not-a-paper-claim", chapter="chA", paper="p", ours="o", verdict="reproduced")
    rows, orphans = report.reproduction()
    assert [o.id for o in orphans] == ["not-a-paper-claim"]
    mine = [r for r in rows if r["claim"] == first.text]
    assert [(r["chapter"], r["ours"]) for r in mine] == [("chA", "o chA"), ("chB", "o chB")]
    # every other paper claim is listed once, untested, with a reason
    others = [r for r in rows if r["claim"] != first.text]
    assert len(others) == len(CLAIMS) - 1
    assert all(r["verdict"] == "not tested" and r["ours"] for r in others)


def test_paper_claims_are_unique_and_name_real_records():
    from pathlib import Path

    from lvf.book.claims import CLAIMS

    ids = [c.id for c in CLAIMS]
    assert len(ids) == len(set(ids))
    book = Path(__file__).resolve().parents[1] / "book"
    sources = "\n".join(p.read_text(encoding="utf-8") for p in book.glob("ch*.md"))
    for c in CLAIMS:
        assert c.tested_by or c.untested, c.id
        for rid in c.tested_by:  # a typo here would silently mark a claim untested
            assert f'"{rid}"' in sources, f"{c.id}: no chapter records {rid!r}"


def test_table_stamps_the_chapter_run(tmp_path, monkeypatch):
    monkeypatch.setenv("LVF_CLAIMS", str(tmp_path))
    monkeypatch.setenv("LVF_SCALE", "tiny")
    report.table("chX")
    (run,) = report.runs()
    assert run["chapter"] == "chX" and run["scale"] == "tiny"
    assert run["seconds"] >= 0 and run["threads"] >= 1
