import json

import pytest

from lvf.book import report
from lvf.book.verdicts import judge, not_tested

YES = judge([0.9, 0.8, 1.0], smallest=0.5, measure="ρ")
NO = judge([-0.2, 0.0, 0.1], smallest=0.5, measure="ρ")
PART = judge([0.2, 0.25, 0.3], smallest=0.5, measure="ρ")


def test_records_are_written_replaced_and_loaded(tmp_path, monkeypatch):
    monkeypatch.setenv("LVF_CLAIMS", str(tmp_path))
    monkeypatch.setenv("LVF_SCALE", "tiny")
    report.record(
        "a", chapter="ch", paper="p", ours="o1", verdict=YES, model="paper", numbers={"x": 1}
    )
    report.record("b", chapter="ch", paper="p", ours="o", verdict=NO, model="stand-in")
    report.record("a", chapter="ch", paper="p", ours="o2", verdict=PART, model="paper")
    claims = report.load("ch")
    assert [(c.id, c.ours, c.verdict) for c in claims] == [
        ("a", "o2", "partly reproduced"),
        ("b", "o", "not reproduced"),
    ]
    assert claims[0].scale == "tiny"
    assert json.loads((tmp_path / "ch.json").read_text())[1]["id"] == "b"
    assert claims[0].judged.effects == (0.2, 0.25, 0.3) and claims[0].judged.seeds == 3
    md = report.table("ch").data
    assert "| a | p | o2 *(tiny scale)* | the paper's model" in md
    assert "**partly reproduced** +0.25 [+0.126, +0.374], 3 seeds |" in md
    assert "**analog: not reproduced** -0.0333" in md  # a stand-in's verdict is an analog


def test_typed_verdicts_and_unknown_models_are_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("LVF_CLAIMS", str(tmp_path))
    with pytest.raises(TypeError, match="never typed"):
        report.record("a", chapter="ch", paper="p", ours="o", verdict="reproduced", model="paper")
    with pytest.raises(ValueError, match="model must be one of"):
        report.record("a", chapter="ch", paper="p", ours="o", verdict=YES, model="mine")


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
            verdict=YES,
            model="paper",
        )
    report.record("not-a-paper-claim", chapter="chA", paper="p", ours="o", verdict=YES, model="any")
    rows, orphans = report.reproduction()
    assert [o.id for o in orphans] == ["not-a-paper-claim"]
    mine = [r for r in rows if r["claim"] == first.text]
    assert [(r["chapter"], r["ours"]) for r in mine] == [("chA", "o chA"), ("chB", "o chB")]
    # every other paper claim is listed once, untested, with a reason
    others = [r for r in rows if r["claim"] != first.text]
    assert len(others) == len(CLAIMS) - 1
    assert all(r["verdict"] == "not tested" and r["ours"] for r in others)
    assert all(r["model"] == "untested" for r in others)
    assert mine[0]["interval"] == YES.interval() and mine[0]["shown"] == "reproduced"


def test_not_tested_records_carry_their_reason(tmp_path, monkeypatch):
    monkeypatch.setenv("LVF_CLAIMS", str(tmp_path))
    v = not_tested("no weights here")
    report.record("a", chapter="ch", paper="p", ours="o", verdict=v, model="paper")
    (c,) = report.load("ch")
    assert c.verdict == "not tested" and c.judged.reason == "no weights here"
    assert c.judged.interval() == ""


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


def test_the_run_stamp_counts_the_chapters_models_and_its_training_time(tmp_path, monkeypatch):
    """A chapter's stamp says which models it trained and which it loaded, and how long the
    training took: what separates a cold run from one with a warm cache."""
    from lvf.train import TrainConfig, _tally, trained

    monkeypatch.setenv("LVF_CLAIMS", str(tmp_path / "claims"))
    monkeypatch.setenv("LVF_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("LVF_OFFLINE", "1")
    a = TrainConfig(model="mlp", dataset="toy:gaussians", n_train=64, epochs=2, batch_size=32)
    b = TrainConfig(model="mlp", dataset="toy:gaussians", n_train=64, epochs=3, batch_size=32)
    _tally.reset()
    try:
        first = trained(a, device="cpu", progress=False)
        trained(a, device="cpu", progress=False)  # asked again: still one model, trained
        report.table("cold")
        _tally.reset()  # a new kernel: a is in the cache now, b is not
        trained(a, device="cpu", progress=False)
        second = trained(b, device="cpu", progress=False)
        report.table("warm")
    finally:
        _tally.reset()
    cold, warm = sorted(report.runs(), key=lambda r: r["chapter"])
    assert (cold["models_trained"], cold["models_cached"], cold["models_fetched"]) == (1, 0, 0)
    assert first.history["train_seconds"][0] > 0  # four steps: the stamp may round it to 0.0
    assert cold["train_seconds"] == round(first.history["train_seconds"][0], 1)
    assert (warm["models_trained"], warm["models_cached"]) == (1, 1)
    assert warm["train_seconds"] == round(second.history["train_seconds"][0], 1)

    table = report.run_table(report.runs())
    assert list(table.index) == ["cold", "warm", "all chapters"]
    row = table.loc["cold"]
    assert row["without training s"] == pytest.approx(cold["seconds"] - cold["train_seconds"])
    assert table.loc["all chapters", "trained"] == 2
    assert table.loc["all chapters", "seconds"] == pytest.approx(cold["seconds"] + warm["seconds"])
    # a stamp from before the counts leaves the sums empty instead of leaving it out
    old = {k: v for k, v in cold.items() if not k.startswith(("models_", "train_"))}
    mixed = report.run_table([old, warm])
    assert mixed["training s"].isna()["all chapters"]
    assert mixed.loc["all chapters", "seconds"] == pytest.approx(old["seconds"] + warm["seconds"])


def test_summary_counts_verdicts_by_model_kind_and_the_figure_draws_them(tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    from lvf.book.claims import CLAIMS

    monkeypatch.setenv("LVF_CLAIMS", str(tmp_path))
    ids = [c.tested_by[0] for c in CLAIMS if c.tested_by][:3]
    report.record(ids[0], chapter="ch01_x", paper="p", ours="o", verdict=YES, model="paper")
    report.record(ids[1], chapter="ch01_x", paper="p", ours="o", verdict=NO, model="stand-in")
    report.record(ids[2], chapter="ch02_y", paper="p", ours="o", verdict=PART, model="any")
    rows, _ = report.reproduction()
    table = report.summary(rows)
    assert table.loc["reproduced", "on the paper's models"] == 1
    assert table.loc["not reproduced", "on stand-ins (analogs)"] == 1
    assert table.loc["partly reproduced", "on statements about any model"] == 1
    untested = len([c for c in CLAIMS if not set(c.tested_by) & set(ids)])
    assert table.loc["not tested", "not tested"] == untested
    assert table.loc["total", "total"] == 3 + untested
    fig = report.figure(rows)
    direct, analog = fig.axes[:2]
    assert [t.get_text() for t in direct.get_yticklabels()][-1] == "none"
    assert sum(p.get_width() for p in analog.patches) == 1  # the stand-in record only
