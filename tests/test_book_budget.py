"""Budget studies (lvf.book.budget): scaling a configuration, the trend rule against known
answers, the cell files (atomic, skipped when present, refused when corrupt), the summary and
the report's column, on a synthetic study and on one real ch08 cell at tiny scale."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest

from lvf.book import budget
from lvf.train import TrainConfig


def test_scaled_adds_images_then_epochs():
    c = TrainConfig(model="conv", dataset="mnist", n_train=2000, epochs=30, batch_size=32)
    assert budget.scaled(c, 1) is c
    four = budget.scaled(c, 4)
    assert (four.n_train, four.epochs) == (8000, 30)
    # beyond the 60,000 images of MNIST the epochs grow: 2000 * 30 * 64 image passes
    big = budget.scaled(c, 64)
    assert (big.n_train, big.epochs) == (60_000, 64)
    assert big.n_train * big.epochs == pytest.approx(2000 * 30 * 64, rel=0.01)
    same = budget.scaled(c, 16, data=False)
    assert (same.n_train, same.epochs) == (2000, 480)
    toy = TrainConfig(model="mlp", dataset="toy:gaussians", n_train=500, epochs=10)
    more = budget.scaled(toy, 64)  # a toy density can be sampled without end: samples
    assert (more.n_train, more.epochs) == (32_000, 10)
    assert budget.scaled(toy, 4, data=False).epochs == 40
    for bad in (0, -1, 2.5):
        with pytest.raises(ValueError, match="positive integer"):
            budget.scaled(c, bad)


def test_scaled_keeps_the_shape_of_the_learning_rate_schedule():
    """More epochs stretch the step schedule with them: the rate is halved at the same
    fractions of the run, so a 4x run ends at the 1x run's final rate instead of decaying to
    almost nothing a quarter of the way in (the defect the ch06/ch07 studies had)."""
    import torch

    c = TrainConfig(model="conv", dataset="mnist", n_train=2000, epochs=16, batch_size=32)
    assert c.lr_step == 5  # epochs // 3: halved after epochs 5, 10 and 15
    four = budget.scaled(c, 4, data=False)
    assert (four.epochs, four.lr_step) == (64, 20)
    assert budget.scaled(c, 4).lr_step == 5  # more images, same epochs: the same schedule

    def final_rate(cfg):
        opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
        sched = torch.optim.lr_scheduler.StepLR(opt, cfg.lr_step, cfg.lr_gamma)
        for _ in range(cfg.epochs - 1):
            sched.step()
        return opt.param_groups[0]["lr"]

    assert final_rate(four) == final_rate(c) == 0.125
    # a chapter's own lr_step is stretched too, to the nearest epoch
    odd = TrainConfig(model="conv", dataset="mnist", n_train=10_000, epochs=8, lr_step=8)
    assert budget.scaled(odd, 16).epochs == 21 and budget.scaled(odd, 16).lr_step == 21


def test_trend_rule_known_answers():
    m = [1, 1, 1, 4, 4, 4, 16, 16, 16]
    up = [0.0, 0.1, -0.1, 0.4, 0.5, 0.3, 0.8, 0.9, 0.7]
    t = budget.trend_of(m, up)
    # slope per doubling: the effect gains 0.4 per factor 4 = 0.2 per factor 2
    assert t["slope"] == pytest.approx(0.2, abs=1e-9)
    assert t["low"] > 0 and t["trend"] == "toward the paper"
    assert budget.trend_of(m, [-v for v in up])["trend"] == "away from the paper"
    flat = [0.1, -0.1, 0.0, 0.1, -0.1, 0.0, 0.1, -0.1, 0.0]
    assert budget.trend_of(m, flat)["trend"] == "no clear trend"
    # undefined effects are dropped; one budget left is no trend at all
    assert budget.trend_of(m, [math.nan] * 6 + [1, 1, 1])["trend"] == "undefined"
    assert budget.trend_of([1, 1], [0.5, 0.7])["trend"] == "undefined"
    # two budgets, one seed each: no interval, so no trend can be claimed
    assert budget.trend_of([1, 4], [0.0, 1.0])["trend"] == "no clear trend"


def _fake_measure(ns, multiplier, seed, device):
    """A synthetic study: one part grows with the budget, one falls, one is noise."""
    k = math.log2(multiplier)
    noise = (-0.05, 0.0, 0.05)[seed]
    return {
        "grows": 0.2 + 0.15 * k + noise,
        "falls": -(0.2 + 0.15 * k + noise),  # the paper says it falls: toward the paper
        "flat": noise,
        "loss_drop_last_quarter": 0.1 / multiplier,
        "final_loss": 0.01,
        "norm@a": float(k + seed),  # a per-setting diagnostic, as ch05's prod_W@<weight decay>
        "norm@b": -float(k),
    }


@pytest.fixture
def fake_study(monkeypatch, tmp_path):
    monkeypatch.setenv("LVF_BUDGET", str(tmp_path))
    study = budget.Study(
        chapter="ch08",
        budget="synthetic",
        parts=(
            budget.Part("fig3b-memorize-then-generalize", "grows", "grows", +1, 0.5),
            budget.Part("fig3b-memorize-then-generalize", "falls", "falls", -1, 0.5),
            budget.Part("fig3d-chamfer-increases", "flat", "flat", +1, 0.5),
        ),
        measure=_fake_measure,
    )
    monkeypatch.setitem(budget.STUDIES, "ch08", study)
    return study


def test_run_writes_cells_and_skips_existing(fake_study, tmp_path, monkeypatch):
    paths = budget.run("ch08", scale="book", seeds=(0, 1, 2), device="cpu")
    assert len(paths) == 9 and all(p.is_file() for p in paths)
    cell = json.loads((tmp_path / "ch08" / "x16-seed2.json").read_text())
    assert cell["values"]["grows"] == pytest.approx(0.2 + 0.15 * 4 + 0.05)
    assert (cell["multiplier"], cell["seed"], cell["scale"]) == (16, 2, "book")

    # computed cells are kept: a second run measures nothing
    def boom(*a):
        raise AssertionError("an existing cell was recomputed")

    monkeypatch.setitem(budget.STUDIES, "ch08", dataclasses.replace(fake_study, measure=boom))
    budget.run("ch08", scale="book", seeds=(0, 1, 2))
    with pytest.raises(AssertionError, match="recomputed"):
        budget.run("ch08", scale="book", seeds=(0,), multipliers=(1,), force=True)

    df = budget.table("ch08")
    assert len(df) == 9 and sorted(set(df.multiplier)) == [1, 4, 16]
    trends = budget.trend("ch08")
    assert trends["fig3b-memorize-then-generalize", "grows"]["trend"] == "toward the paper"
    assert trends["fig3b-memorize-then-generalize", "falls"]["trend"] == "toward the paper"
    assert trends["fig3d-chamfer-increases", "flat"]["trend"] == "no clear trend"
    judged = budget.verdicts("ch08")
    assert judged["fig3b-memorize-then-generalize", "grows"][1].label == "partly reproduced"
    assert judged["fig3b-memorize-then-generalize", "grows"][16].label == "reproduced"
    text = budget.sentence("ch08")
    assert "toward the paper (2 of 3): grows; falls" in text
    assert "grows (partly reproduced → reproduced)" in text
    table = budget.summary("ch08")
    assert list(table.columns) == ["1×", "4×", "16×", "trend", "slope per 2×", "seeds"]
    assert table.loc[("fig3d-chamfer-increases", "flat"), "seeds"] == "3/3/3"
    line = budget.claim_trends()["ch08", "fig3b-memorize-then-generalize"]
    assert line == "grows: toward the paper (1×/4×/16×); falls: toward the paper (1×/4×/16×)"
    fig = budget.figure("ch08")
    assert len([a for a in fig.axes if a.get_visible()]) == 3


def test_by_setting_averages_each_settings_values_over_the_seeds(fake_study):
    empty = budget.by_setting("ch08", ["norm"])
    assert empty.empty and list(empty.columns) == ["norm"]
    budget.run("ch08", scale="book", seeds=(0, 1, 2), device="cpu")
    df = budget.by_setting("ch08", ["norm", "final_loss"])  # final_loss has no settings
    assert list(df.index.names) == ["multiplier", "setting"]
    assert list(df.index) == [(m, s) for m in (1, 4, 16) for s in ("a", "b")]
    # k = log2(multiplier); seeds 0, 1, 2 average to 1
    assert df.loc[(16, "a"), "norm"] == pytest.approx(4 + 1)
    assert df.loc[(4, "b"), "norm"] == pytest.approx(-2)
    assert df.final_loss.isna().all()


def test_report_rows_carry_the_trend(fake_study, tmp_path, monkeypatch):
    from lvf.book import report

    budget.run("ch08", scale="book", seeds=(0, 1, 2))
    monkeypatch.setenv("LVF_CLAIMS", str(tmp_path / "claims"))
    from lvf.book.verdicts import judge

    for rid in ("fig3d-chamfer-increases", "fig3d-fpr95-decreases"):
        report.record(
            rid,
            chapter="ch08_training_dynamics",
            paper="p",
            ours="o",
            verdict=judge([-0.9, -0.8, -0.85], smallest=0.5, measure="m"),
            model="paper",
        )
    # the same claim tested by another chapter, which has no study: ch08's trend is not its
    report.record(
        "fig3d-chamfer-increases",
        chapter="ch06_bottleneck_memorization",
        paper="p",
        ours="o",
        verdict=judge([-0.9, -0.8, -0.85], smallest=0.5, measure="m"),
        model="paper",
    )
    rows, _ = report.reproduction()
    by = {(r["chapter"], r["record"]): r["trend"] for r in rows if r["record"]}
    chamfer = "fig3d-chamfer-increases"
    assert by["ch08_training_dynamics", chamfer] == "flat: no clear trend (1×/4×/16×)"
    assert by["ch06_bottleneck_memorization", chamfer] == "not studied"
    # not reproduced, and no study covers it
    assert by["ch08_training_dynamics", "fig3d-fpr95-decreases"] == "not studied"
    assert {r["trend"] for r in rows if not r["record"]} == {"—"}


def test_corrupt_cell_is_refused_with_a_remedy(fake_study, tmp_path):
    budget.run("ch08", scale="book", seeds=(0,), multipliers=(1,))
    (tmp_path / "ch08" / "x1-seed0.json").write_text("{not json")
    with pytest.raises(ValueError, match="lvf budget ch08"):
        budget.table("ch08")


def test_unknown_study_says_which_exist():
    with pytest.raises(ValueError, match="studies are: ch08"):
        budget.run("ch99")


def test_cli_budget(fake_study, capsys):
    from lvf.train.cli import main

    assert main(["budget", "ch08", "--scale", "book", "--seeds", "0", "1", "2"]) == 0
    out = capsys.readouterr().out
    assert "fig3b-memorize-then-generalize" in out and "toward the paper" in out
    assert main(["budget", "ch99"]) == 2


def test_ch08_cell_at_tiny_scale(tmp_path, monkeypatch):
    """A real cell: the chapter's model at tiny scale and twice its steps, measured by the
    chapter's protocol; the 1× cell trains exactly the chapter's configuration."""
    from lvf.train import seeded
    from lvf.train.registry import _mnist_dynamics, chapter_settings

    monkeypatch.setenv("LVF_BUDGET", str(tmp_path / "budget"))
    monkeypatch.setenv("LVF_CACHE", str(tmp_path / "cache"))
    budget.run("ch08", scale="tiny", multipliers=(1, 2), seeds=(0,), device="cpu")
    df = budget.table("ch08", "tiny")
    assert list(df.multiplier) == [1, 2]
    S = chapter_settings("ch08", "tiny")["S"]
    assert list(df.n_train) == [S["n_train"], 2 * S["n_train"]]
    assert list(df.epochs) == [S["epochs"], S["epochs"]]
    for p in budget.STUDIES["ch08"].parts:
        assert p.column in df
    assert ((df.converged_train_last >= 0) & (df.converged_train_last <= 1)).all()
    assert seeded(_mnist_dynamics(S, 128), 0).cache_path().is_file()


def test_ch09_cell_shares_the_ch08_model_and_reads_the_chapters_gaps(tmp_path, monkeypatch):
    """ch09's cell measures the ch08 network (the same cache file) with chapter 9's protocol:
    one AUROC gap per claim and OOD set; "above chance" is the trajectory AUROC minus 50."""
    from lvf.protocols import ood
    from lvf.train import seeded, trained, training_data
    from lvf.train.registry import _mnist_dynamics, chapter_settings

    monkeypatch.setenv("LVF_BUDGET", str(tmp_path / "budget"))
    monkeypatch.setenv("LVF_CACHE", str(tmp_path / "cache"))
    budget.run("ch09", scale="tiny", multipliers=(1,), seeds=(0,), device="cpu")
    cell = budget.table("ch09", "tiny").iloc[0]
    ns = chapter_settings("ch09", "tiny")
    S = ns["S"]
    config = seeded(_mnist_dynamics(S, 128), 0)
    assert config == seeded(_mnist_dynamics(chapter_settings("ch08", "tiny")["S"], 128), 0)
    run = trained(config, device="cpu")
    assert run.from_cache  # the cell trained it; nothing new
    x_ref = training_data(config)[: S["n_ref"]]
    out = ood.run(
        run.model.encode, run.model.decode, x_ref, ood.mnist_sets(S["n_eval"], 0, x_ref),
        knn_k=(ns["K_PAPER"], S["k_small"]), tol=ns["TOL"], max_steps=S["max_steps"],
        n_attractor_starts=S["n_att"], device="cpu",
    )  # fmt: skip
    for name, per in out.metrics().items():
        column = f"sec42-trajectory-score-detects-ood@{name}"
        assert cell[column] == pytest.approx(per["trajectory"]["AUROC"] - 50, nan_ok=True)
    assert len(budget.STUDIES["ch09"].parts) == 3 * len(ood.MNIST_OOD_SETS)
    for p in budget.STUDIES["ch09"].parts:
        assert p.column in cell.index


def _tiny_study(chapter, tmp_path, monkeypatch):
    """A chapter's study at tiny scale, 1x and 2x on seed 0, in fresh folders; checks that 2x
    doubles the images at the same epochs. Returns the cells and the chapter's settings."""
    from lvf.train.registry import chapter_settings

    monkeypatch.setenv("LVF_BUDGET", str(tmp_path / "budget"))
    monkeypatch.setenv("LVF_CACHE", str(tmp_path / "cache"))
    budget.run(chapter, scale="tiny", multipliers=(1, 2), seeds=(0,), device="cpu")
    df = budget.table(chapter, "tiny")
    ns = chapter_settings(chapter, "tiny")
    S = ns["S"]
    assert list(df.n_train) == [S["n_train"], 2 * S["n_train"]]
    assert list(df.epochs) == [S["epochs"], S["epochs"]]
    return df, ns


def test_ch05_cell_is_the_chapters_protocol_at_1x(tmp_path, monkeypatch):
    """ch05's 1× cell trains exactly the chapter's four models of the seed (the registry's
    list), and its effects are the chapter's three parts: Spearman of the weight decay with
    the last epoch's bound and Jacobian norm, and the useful contraction (0 or 1). At 2× the
    models see twice the images at the same epochs, so the saved epochs stay valid."""
    import torch.nn.functional as F

    import lvf.data
    from lvf.book.verdicts import trend_effect
    from lvf.protocols import weight_decay
    from lvf.train import trained, training_data
    from lvf.train.registry import _weight_decay_config, chapter_configs

    df, ns = _tiny_study("ch05", tmp_path, monkeypatch)
    S = ns["S"]
    ours = [c for c in chapter_configs("ch05", "tiny") if c.seed == 0]
    assert len(ours) == len(S["wds"])
    runs = [trained(c, device="cpu") for c in ours]
    assert all(r.from_cache for r in runs)  # the 1x cell trained the chapter's own models
    x_probe = {0: training_data(ours[0])[: S["n_probe"]]}
    x_test = lvf.data.load("mnist", "test", S["n_probe"], seed=0)[0]
    table = weight_decay.sweep(
        [(0, c.weight_decay, r) for c, r in zip(ours, runs, strict=True)],
        x_probe, x_test, epochs=S["save"],
    )  # fmt: skip
    last = table[table.epoch == table.epoch.max()]
    cell = df[df.multiplier == 1].iloc[0]
    assert cell.bound_trend == pytest.approx(trend_effect(last.weight_decay, last.prod_W))
    assert cell.jacobian_trend == pytest.approx(trend_effect(last.weight_decay, last.jac_max))
    # the chapter's yardstick: the mean of its unseeded wd = 0 model's training images
    mean_image = training_data(_weight_decay_config(S, ns["K"], 0.0)).mean(0)
    mse = float(F.mse_loss(mean_image.expand_as(x_test), x_test))
    assert cell.mean_image_mse == pytest.approx(mse, rel=1e-5)
    useful = weight_decay.useful_contraction(table, mse).iloc[0]
    assert cell.useful == useful and useful in (0.0, 1.0)
    assert [p.column for p in budget.STUDIES["ch05"].parts] == [
        "bound_trend", "jacobian_trend", "useful"
    ]  # fmt: skip


@pytest.mark.parametrize("chapter, base", [("ch08", 2000), ("ch01", 4000)])
def test_reference_keeps_the_studys_budgets_when_the_book_moves(chapter, base):
    """ch08's and ch01's book scales moved to their studies' 4×: each study still starts from
    the old budget, so its committed cells stay valid, and the chapter sits at 4× on the
    study's axis."""
    from lvf.train.registry import chapter_settings

    study = budget.STUDIES[chapter]
    ns = chapter_settings(chapter, "book")
    assert study.settings(ns, "book")["S"]["n_train"] == base
    assert study.book_multiplier(ns) == ns["S"]["n_train"] / base == 4
    tiny = chapter_settings(chapter, "tiny")
    assert study.settings(tiny, "tiny") is tiny  # the reference is for book scale only
    assert study.book_multiplier(tiny, "tiny") == 1.0


def test_budget_with_one_seed_waits(fake_study):
    budget.run("ch08", scale="book", seeds=(0, 1, 2), multipliers=(1,))
    budget.run("ch08", scale="book", seeds=(0,), multipliers=(4,))
    judged = budget.verdicts("ch08")
    assert set(judged["fig3b-memorize-then-generalize", "grows"]) == {1}
    assert budget.summary("ch08").loc[("fig3d-chamfer-increases", "flat"), "seeds"] == "3/1"


def test_a_budget_with_fewer_seeds_than_the_others_waits(fake_study):
    """Two of three seeds would give a verdict, but on a wider interval than its neighbours':
    the budget waits, the summary and the sentence say so, and its seeds enter the trend."""
    budget.run("ch08", scale="book", seeds=(0, 1, 2), multipliers=(1,))
    budget.run("ch08", scale="book", seeds=(0, 1), multipliers=(4,))
    assert budget.waiting("ch08") == {4: (2, 3)}
    judged = budget.verdicts("ch08")
    assert set(judged["fig3b-memorize-then-generalize", "grows"]) == {1}
    assert budget.summary("ch08").loc[("fig3d-chamfer-increases", "flat"), "4×"] == (
        "waits (2 of 3 seeds)"
    )
    said = budget.sentence("ch08")
    assert "The 4× budget has 2 of its 3 seeds so far and is not judged yet" in said
    assert "From 1× to 4×" in said and "No verdict changes" not in said
    # the fake loss drop is 10 % at 1x, 2.5 % at 4x: 4x with 2 seeds does not make a plateau
    flat = budget.plateau_sentence("ch08")
    assert flat.startswith("No budget up to 1× brings training to a plateau")
    assert flat.endswith("The 4× budget has 2 of its 3 seeds so far and is left out.")
    budget.run("ch08", scale="book", seeds=(2,), multipliers=(4,))
    assert budget.waiting("ch08") == {}
    assert set(budget.verdicts("ch08")["fig3b-memorize-then-generalize", "grows"]) == {1, 4}


def test_a_claim_of_many_parts_is_grouped_by_trend_in_the_report():
    from lvf.book.budget import _claim_line

    few = [("grows", "toward the paper", "1×/4×"), ("falls", "no clear trend", "1×/4×")]
    assert _claim_line(few) == "grows: toward the paper (1×/4×); falls: no clear trend (1×/4×)"
    sets = ["Fashion-MNIST", "CIFAR-10", "Kodak", "noise"]
    trends = ["toward the paper", "no clear trend", "no clear trend", "away from the paper"]
    many = [(f"beats KNN, {s}", t, "1×/4×/16×") for s, t in zip(sets, trends, strict=True)]
    assert _claim_line(many) == (
        "toward the paper on 1 of 4 parts (beats KNN, Fashion-MNIST); "
        "no clear trend on 2 of 4 parts; "
        "away from the paper on 1 of 4 parts (beats KNN, noise) (1×/4×/16×)"
    )


def test_ch02_cell_is_the_chapters_protocol_at_1x(tmp_path, monkeypatch):
    """ch02's 1× cell is the chapter's seed-0 model (the registry's config, read from the
    cache) measured as the chapter measures it: the images the chapter encodes (its draw of
    MNIST), its uniform starts over the model's own window, Fig. 11's steps. At 2× the model
    sees twice the images at the same epochs, and its learning rate is never halved (the
    chapter's schedule below 50 epochs)."""
    import torch

    import lvf.data
    from lvf.protocols import plane
    from lvf.train import trained
    from lvf.train.registry import chapter_configs

    df, ns = _tiny_study("ch02", tmp_path, monkeypatch)
    S = ns["S"]
    assert budget._ch02_config(S, 0, 2).lr_step == S["epochs"]
    ours = next(c for c in chapter_configs("ch02", "tiny") if c.seed == 0 and c.batch_size == 32)
    run = trained(ours, device="cpu")
    assert run.from_cache  # the 1x cell trained the chapter's own model
    x, _ = lvf.data.load_mnist("train", S["n_train"], seed=0)  # the chapter's draw
    model = run.model.eval()
    with torch.no_grad():
        codes = model.encode(x[plane.shown(len(x), S["n_show"])])
    s = plane.survey(model, codes, plane.unit_starts(S["starts"]), starts=S["starts"])
    density = plane.attractor_density(codes, s.attractors, starts=s.z_uniform)
    want = plane.mnist_effects(s, density, plane.convergence_steps(s))
    cell = df[df.multiplier == 1].iloc[0]
    for col, value in want.items():
        assert cell[col] == pytest.approx(value, nan_ok=True), col
    assert [p.column for p in budget.STUDIES["ch02"].parts] == [
        "density", "pearson", "spearman", "pearson gain", "spearman gain"
    ]  # fmt: skip


def test_ch04_cell_is_the_chapters_protocol_at_1x(tmp_path, monkeypatch):
    """ch04's 1× cell studies the chapter's three DAEs of the seed (the registry's configs,
    read from the cache) as the chapter does, on the chapter's samples; at 2× each DAE sees
    twice the samples of its toy density at the same epochs, and is studied on the first
    ``n_train`` of them."""
    from dataclasses import replace

    from lvf.protocols import density
    from lvf.train import seeded, trained, training_data
    from lvf.train.registry import _toy_config, chapter_configs

    df, ns = _tiny_study("ch04", tmp_path, monkeypatch)
    S = ns["S"]
    chapter = {c.key() for c in chapter_configs("ch04", "tiny")}
    studies = {}
    for name in ns["DATASETS"]:
        cfg = seeded(replace(_toy_config(S, name), noise_std=ns["NOISE"]), 0)
        assert cfg.key() in chapter
        run = trained(cfg, device="cpu")
        assert run.from_cache  # the 1x cell trained the chapter's own model
        x = training_data(seeded(_toy_config(S, name), 0))  # the chapter's samples
        studies[name] = density.study(
            run.model.eval(), x, grid_n=S["grid"], tol=ns["TOL"], max_steps=S["max_steps"]
        )
    cell = df[df.multiplier == 1].iloc[0]
    blobs = studies["gaussians"]
    want = density.mode_match(blobs["centers"], blobs["modes"], density.mode_radius(blobs["modes"]))
    assert cell["modes"] == pytest.approx(want)
    for name, st in studies.items():
        assert cell[f"cos {name}"] == pytest.approx(float(density.on_data_cos(st).mean()))
    assert {p.claim for p in budget.STUDIES["ch04"].parts} == {
        "thm1-attractors-at-density-modes", "thm1-field-along-score"
    }  # fmt: skip


def test_ch01_cell_is_the_chapters_protocol_at_1x(tmp_path, monkeypatch):
    """ch01's 1× cell measures the chapter's main model of the seed (the registry's config,
    read from the cache) with the chapter's own effect function (``plane.toy_effects``) on the
    chapter's points; at 2× the model sees twice the samples at the same epochs."""
    import lvf.data
    from lvf.protocols import plane
    from lvf.train import trained
    from lvf.train.registry import _ch01_config, chapter_configs

    df, ns = _tiny_study("ch01", tmp_path, monkeypatch)
    S = ns["S"]
    cfg = _ch01_config(S, seed=0)
    assert cfg.key() in {c.key() for c in chapter_configs("ch01", "tiny")}
    run = trained(cfg, device="cpu", progress=False)
    assert run.from_cache  # the 1x cell trained the chapter's own main model
    x = lvf.data.toy2d("gaussians", S["n_train"], seed=0)  # the chapter's x_s of seed 0
    main = plane.summarize(run.model, x, n_starts=S["starts"], seed=0)
    mixture = lvf.data.GaussianMixture2D.circle(n_modes=8, radius=2.0, std=0.2)
    want = plane.toy_effects(
        main, untrained=main, no_noise=main, no_decay=main, strong_decay=main,
        log_density=mixture.log_prob,
    )  # fmt: skip
    cell = df[df.multiplier == 1].iloc[0]
    assert cell["contraction"] == pytest.approx(want["contraction"])
    assert cell["density"] == pytest.approx(want["density"])
    assert cell["attractors"] == int(main.major.sum()) >= 1
    assert [p.claim for p in budget.STUDIES["ch01"].parts] == ["a3-local-contraction"]


def test_cost_hours_adds_the_training_of_models_found_in_the_cache(fake_study, monkeypatch):
    budget.run("ch08", scale="book", seeds=(0,), multipliers=(1,))
    measured = budget.table("ch08").seconds.sum()
    assert budget.cost_hours("ch08") == pytest.approx(measured / 3600)  # trained in the cell

    def cached(ns, multiplier, seed, device):  # its model came from the cache: 1 h of training
        return _fake_measure(ns, multiplier, seed, device) | {"train_seconds_cached": 3600.0}

    monkeypatch.setitem(budget.STUDIES, "ch08", dataclasses.replace(fake_study, measure=cached))
    budget.run("ch08", scale="book", seeds=(1,), multipliers=(1,))
    seconds = budget.table("ch08").seconds.sum()
    assert budget.cost_hours("ch08") == pytest.approx(seconds / 3600 + 1)


def test_by_budget_averages_seeds_and_keeps_the_worst_plateau():
    import pandas as pd

    cells = pd.DataFrame(
        {
            "multiplier": [1, 1, 4, 4],
            "seed": [0, 1, 0, 1],
            "attractors": [7, 8, 8, 8],
            "loss_drop_last_quarter": [0.10, 0.02, 0.03, -0.01],
        }
    )
    got = budget.by_budget(cells, ["attractors", "missing"])
    assert list(got.index) == [1, 4] and got.index.name == "budget"
    assert got.attractors.tolist() == [7.5, 8.0]
    assert got.loss_drop_last_quarter.tolist() == [0.10, 0.03]  # the worst seed
    assert got.missing.isna().all()


def test_ch11_cell_is_the_chapters_protocol_at_1x(tmp_path, monkeypatch):
    """ch11's 1× cell runs chapter 11's protocol on the chapter's own stand-in (the same cache
    file): its trajectory − KNN gap per OOD set is the chapter's, and its Fig. 12 effect is
    the log10 shrink of the median residual. The book has every CIFAR-10 image it holds
    already, so 2× doubles the epochs on the same images, schedule stretched."""
    import numpy as np
    import torch

    from lvf.book.standins import book_autoencoder
    from lvf.protocols import ood
    from lvf.protocols.norms import track_norms
    from lvf.train import seeded, trained
    from lvf.train.registry import _at_scale, chapter_settings

    monkeypatch.setenv("LVF_BUDGET", str(tmp_path / "budget"))
    monkeypatch.setenv("LVF_CACHE", str(tmp_path / "cache"))
    budget.run("ch11", scale="tiny", multipliers=(1, 2), seeds=(0,), device="cpu")
    df = budget.table("ch11", "tiny")
    ns = chapter_settings("ch11", "tiny")
    S = ns["S"]
    with _at_scale("tiny"):
        config = seeded(book_autoencoder(), 0)
    assert list(df.epochs) == [config.epochs, 2 * config.epochs]
    assert list(df.n_train) == [config.n_train, config.n_train]
    run = trained(config, device="cpu", progress=False)
    assert run.from_cache  # the 1x cell trained the chapter's own model
    model = run.model.eval()
    ref, sets = ood.cifar_sets(S["n_ref"], S["n_test"], 0)
    assert list(sets) == ["CIFAR-10 (ID)", *ood.CIFAR_OOD_SETS]
    out = ood.run(
        model.encode, model.decode, ref, sets, knn_k=S["knn"], tol=ns["TOL"],
        max_steps=S["max_steps"], n_attractor_starts=S["n_att"], device="cpu",
    )  # fmt: skip
    cell = df[df.multiplier == 1].iloc[0]
    for name, per in out.metrics().items():
        want = per["trajectory"]["AUROC"] - per[out.knn_paper]["AUROC"]
        assert cell[f"fig5-trajectory-beats-knn@{name}"] == pytest.approx(want, nan_ok=True)
    with torch.no_grad():
        z0 = model.encode(sets["CIFAR-10 (ID)"][: S["track_n"]])
    summ = track_norms(model.latent_map(), z0, S["track_steps"]).summary()
    shrink = np.log10(summ["residual_first"] / summ["residual_last"])
    assert cell["fig12-trajectories-contractive"] == pytest.approx(shrink)
    assert len(budget.STUDIES["ch11"].parts) == 2 * len(ood.CIFAR_OOD_SETS) + 1
    for p in budget.STUDIES["ch11"].parts:
        assert p.column in cell.index


def test_ch10_cell_is_the_chapters_protocol_on_the_ch11_networks(tmp_path, monkeypatch):
    """ch10's cells probe the very networks of ch11's study (the same cache files: ch10
    trains nothing ch11 has trained) with chapter 10's protocol: the relative OMP gap per
    test set, averaged over the numbers of atoms below k (Fig. 4b) and at 5 % of them
    (Fig. 4a)."""
    from lvf.book.standins import book_autoencoder
    from lvf.protocols import dictionary
    from lvf.train import seeded
    from lvf.train.registry import _at_scale, chapter_settings

    monkeypatch.setenv("LVF_BUDGET", str(tmp_path / "budget"))
    monkeypatch.setenv("LVF_CACHE", str(tmp_path / "cache"))
    with _at_scale("tiny"):
        config = book_autoencoder()
    twice = budget.scaled(seeded(config, 0), 2, data=False)
    assert twice == seeded(budget.scaled(config, 2, data=False), 0)  # ch11's and ch10's order
    budget.run("ch10", scale="tiny", multipliers=(1, 2), seeds=(0,), device="cpu")
    assert seeded(config, 0).cache_path().is_file() and twice.cache_path().is_file()
    df = budget.table("ch10", "tiny")
    assert list(df.epochs) == [config.epochs, 2 * config.epochs]
    assert (df.train_seconds_cached == 0).all()  # both trained by the cells themselves
    ns = chapter_settings("ch10", "tiny")
    S = ns["S"]
    with _at_scale("tiny"):
        probes = dictionary.probe_trained(
            config, dictionary.test_sets(S["n_test"]), S["levels"], seeds=[0], tol=ns["TOL"],
            max_steps=S["max_steps"],
        )  # fmt: skip
    table = dictionary.gap_table(probes)
    k = probes[0].model.k
    cell = df[df.multiplier == 1].iloc[0]
    below = dictionary.gap_effects(table, [a for a in S["levels"] if a < k])
    five = dictionary.gap_effects(table, [round(0.05 * k)])
    assert list(below) == ["CIFAR-10", "Kodak crops", "Fashion-MNIST", "MNIST"]
    for name in below:
        assert cell[f"fig4-attractors-beat-orthogonal@{name}"] == pytest.approx(below[name][0])
        assert cell[f"fig4a-five-percent-atoms@{name}"] == pytest.approx(five[name][0])
    for p in budget.STUDIES["ch10"].parts:
        assert p.column in cell.index


def test_ch12_cell_is_the_chapters_fig17_measurement(tmp_path, monkeypatch):
    """ch12's 1× cell trains the chapter's two tiny language models of the seed (the same
    cache files) and reads Fig. 17's effects from the chapter's traces; 2× doubles the
    optimizer steps."""
    from lvf.models.tinylm import TinyLMConfig
    from lvf.protocols.norms import residual_stream_traces
    from lvf.train import trained_lm
    from lvf.train.registry import chapter_configs, chapter_settings

    monkeypatch.setenv("LVF_BUDGET", str(tmp_path / "budget"))
    monkeypatch.setenv("LVF_CACHE", str(tmp_path / "cache"))
    budget.run("ch12", scale="tiny", multipliers=(1, 2), seeds=(0,), device="cpu")
    df = budget.table("ch12", "tiny")
    S = chapter_settings("ch12", "tiny")["S"]
    assert list(df.steps) == [S["lm_steps"], 2 * S["lm_steps"]]
    cell = df[df.multiplier == 1].iloc[0]
    ours = [c for c in chapter_configs("ch12", "tiny") if isinstance(c, TinyLMConfig)]
    for arch in ("qwen3", "llama"):
        config = next(c for c in ours if c.arch == arch and c.seed == 0)
        lm = trained_lm(config)
        assert lm.from_cache  # the 1x cell trained the chapter's own model
        for variant, tr in residual_stream_traces(lm, S["n_seq"], S["iters"]).items():
            for effect in ("latent residual falls", "norm bounded"):
                assert cell[f"{variant}: {effect}"] == pytest.approx(tr.effects()[effect])
    assert len(budget.STUDIES["ch12"].parts) == 8
    for p in budget.STUDIES["ch12"].parts:
        assert p.column in cell.index


def test_plateau_sentence_names_the_first_budget_on_a_plateau(fake_study, monkeypatch):
    assert "has a measure of the plateau yet" in budget.plateau_sentence("ch08")
    # the fake loss drop is 0.1 / multiplier: 10 % at 1x, 2.5 % at 4x, 0.6 % at 16x
    budget.run("ch08", scale="book", seeds=(0, 1, 2), device="cpu")
    text = budget.plateau_sentence("ch08")
    assert text.startswith("Training is on a plateau (a fall of the training loss under 5%")
    assert "from 4× on" in text
    assert "fell by at most 2.5% over its last quarter" in text

    def still_falling(ns, multiplier, seed, device):
        # 1x on a plateau by chance, 4x and 16x not: the sentence looks at the largest budget
        drop = {1: 0.01, 4: 0.3, 16: 0.2 + 0.1 * seed}[multiplier]
        return _fake_measure(ns, multiplier, seed, device) | {"loss_drop_last_quarter": drop}

    monkeypatch.setitem(budget.STUDIES, "ch08",
                        dataclasses.replace(fake_study, measure=still_falling))  # fmt: skip
    budget.run("ch08", scale="book", seeds=(0, 1, 2), force=True)
    text = budget.plateau_sentence("ch08")
    assert text.startswith("No budget up to 16× brings training to a plateau")
    assert text.endswith(
        "at 16× every seed still has a run whose loss fell by at least 20% over its last quarter."
    )
    assert "has a measure" in budget.plateau_sentence("ch08", column="absent")


def test_ch07_cell_counts_the_training_of_the_models_it_found(tmp_path, monkeypatch):
    """A memorization cell reports its models' training seconds, and those it found in the
    cache apart (a cell whose models were trained ahead, or by ch07 for ch06, costs its
    training all the same: ``cost_hours`` adds them)."""
    monkeypatch.setenv("LVF_BUDGET", str(tmp_path / "budget"))
    monkeypatch.setenv("LVF_CACHE", str(tmp_path / "cache"))
    budget.run("ch07", scale="tiny", multipliers=(1,), seeds=(0,), device="cpu")
    first = budget.table("ch07", "tiny").iloc[0]
    assert first.train_seconds > 0 and first.train_seconds_cached == 0
    budget.run("ch07", scale="tiny", multipliers=(1,), seeds=(0,), device="cpu", force=True)
    again = budget.table("ch07", "tiny").iloc[0]
    assert again.train_seconds_cached == pytest.approx(first.train_seconds)
    assert budget.cost_hours("ch07", "tiny") == pytest.approx(
        (again.seconds + first.train_seconds) / 3600
    )


def test_settled_and_convergence_name_the_budget_from_which_nothing_changes(
    fake_study, monkeypatch
):
    """The verdicts settle from the smallest budget whose verdicts every larger budget repeats;
    a study whose two largest budgets disagree has not seen them settle. The book's budget is
    converged when it reaches both that budget and the plateau's."""
    assert budget.convergence().empty  # no study has results here

    def settling(ns, multiplier, seed, device):
        # 'grows' and 'falls' jump to the paper's effect from 4x on; 'flat' never moves
        effect = (0.0 if multiplier == 1 else 0.9) + (-0.05, 0.0, 0.05)[seed]
        return _fake_measure(ns, multiplier, seed, device) | {"grows": effect, "falls": -effect}

    monkeypatch.setitem(budget.STUDIES, "ch08", dataclasses.replace(fake_study, measure=settling))
    budget.run("ch08", scale="book", seeds=(0, 1, 2), device="cpu")
    judged = budget.verdicts("ch08")
    assert judged["fig3b-memorize-then-generalize", "grows"][1].label != "reproduced"
    assert {judged["fig3b-memorize-then-generalize", "grows"][m].label for m in (4, 16)} == {
        "reproduced"
    }
    assert budget.settled("ch08") == 4
    row = budget.convergence().loc["ch08"]
    # the fake loss drop is 0.1 / multiplier: on a plateau (under 5 %) from 4x
    assert (row.budgets, row.book, row["verdicts settle from"], row["plateau from"]) == (
        "1×/4×/16×",
        1.0,
        4,
        4,
    )
    assert not row.converged
    said = budget.convergence_sentence()
    assert said.startswith("0 of the 1 budget studies find the book's budget converged")
    assert "In ch08 both are reached, at a budget above the book's." in said

    # the book trained at 4x (its n_train four times the study's reference): converged
    study = dataclasses.replace(fake_study, measure=settling, reference={"n_train": 2000})
    monkeypatch.setitem(budget.STUDIES, "ch08", study)
    monkeypatch.setattr(
        "lvf.train.registry.chapter_settings", lambda ch, scale: {"S": {"n_train": 8000}}
    )
    assert budget.convergence().loc["ch08"].converged
    assert budget.convergence_sentence().startswith("1 of the 1 budget studies finds")

    # a verdict that changes between the two largest budgets: nothing settles
    def late(ns, multiplier, seed, device):
        return settling(ns, multiplier, seed, device) | {"flat": 0.9 * (multiplier == 16)}

    monkeypatch.setitem(budget.STUDIES, "ch08", dataclasses.replace(study, measure=late))
    budget.run("ch08", scale="book", seeds=(0, 1, 2), force=True)
    assert budget.settled("ch08") is None
    assert math.isnan(budget.convergence().loc["ch08", "verdicts settle from"])
    assert "In ch08 some verdict still changes between the two largest budgets" in (
        budget.convergence_sentence()
    )


def test_the_plateau_of_a_sweep_cell_is_its_model_whose_loss_fell_most():
    import pandas as pd

    from lvf.book.budget import _plateau_budgets, _plateau_from

    cells = pd.DataFrame({
        "multiplier": [1, 1, 4, 4],
        "loss_drop_last_quarter_max@mnist": [0.30, 0.02, 0.01, 0.03],
        "loss_drop_last_quarter_max@fashion-mnist": [0.01, 0.20, 0.04, 0.02],
    })  # fmt: skip
    worst, least = _plateau_budgets(cells)
    assert worst.to_dict() == {1: 0.30, 4: 0.04} and least.to_dict() == {1: 0.20, 4: 0.03}
    assert _plateau_from(worst) == 4
    assert _plateau_from(pd.Series({1: 0.01, 4: 0.2})) is None
    assert _plateau_budgets(cells[["multiplier"]]) is None
