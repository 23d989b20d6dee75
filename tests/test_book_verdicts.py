"""Known answers of the one verdict rule (lvf.book.verdicts)."""

import math

import pytest
from scipy import stats

from lvf.book.verdicts import Verdict, combine, judge, not_tested


def test_interval_is_students_t_of_the_mean():
    v = judge([1.0, 2.0, 3.0], smallest=0.5, measure="m")
    half = stats.t.ppf(0.975, 2) * 1.0 / math.sqrt(3)  # sd of (1, 2, 3) is 1
    assert v.estimate == pytest.approx(2.0)
    assert (v.low, v.high) == pytest.approx((2 - half, 2 + half))
    assert v.seeds == 3 and v.label == "inconclusive"  # 2 − 2.48 < 0


@pytest.mark.parametrize(
    ("effects", "label"),
    [
        ([0.9, 0.8, 1.0], "reproduced"),  # interval above 0, mean ≥ 0.5
        ([0.2, 0.25, 0.3], "partly reproduced"),  # above 0 but smaller than what counts
        ([-0.2, 0.0, 0.1], "not reproduced"),  # interval below 0.5 and reaching 0
        ([-0.9, -0.8, -1.0], "not reproduced"),  # reversed
        ([0.1, -0.6, 0.9], "inconclusive"),  # holds 0 and effects that count
        ([0.7, 0.7, 0.7], "reproduced"),  # no spread: the interval is the point
    ],
)
def test_labels(effects, label):
    assert judge(effects, smallest=0.5, measure="m").label == label


def test_direction_flips_the_effects():
    v = judge([-0.9, -0.8, -1.0], smallest=0.5, measure="m", direction=-1)
    assert v.label == "reproduced" and v.effects == (0.9, 0.8, 1.0)


def test_nan_seeds_are_dropped_and_bad_input_refused():
    assert judge([0.9, float("nan"), 0.8], smallest=0.5, measure="m").label == "reproduced"
    assert judge([0.9, float("nan")], smallest=0.5, measure="m").label == "inconclusive"
    with pytest.raises(ValueError, match="at least 2 seeds"):
        judge([0.9], smallest=0.5, measure="m")
    with pytest.raises(ValueError, match="positive"):
        judge([0.9, 1.0], smallest=0.0, measure="m")
    with pytest.raises(ValueError, match="direction"):
        judge([0.9, 1.0], smallest=0.5, measure="m", direction=2)
    with pytest.raises(ValueError, match="label"):
        Verdict("sort of")


def test_combine():
    yes = judge([0.9, 0.8, 1.0], smallest=0.5, measure="m")
    no = judge([-0.9, -0.8, -1.0], smallest=0.5, measure="m")
    maybe = judge([0.1, -0.6, 0.9], smallest=0.5, measure="m")
    assert combine({"a": yes, "b": yes}).label == "reproduced"
    assert combine({"a": yes, "b": no}).label == "partly reproduced"
    assert combine({"a": maybe, "b": no}).label == "inconclusive"
    assert combine({"a": no, "b": no}).label == "not reproduced"
    both = combine({"MNIST": yes, "CIFAR-10": no})
    assert both.seeds == 3 and both.interval().startswith("MNIST: +0.9 [")


def test_round_trip_and_not_tested():
    v = combine({"a": judge([0.9, 0.8, 1.0], smallest=0.5, measure="m")})
    assert Verdict.from_dict(v.as_dict()) == v
    nt = not_tested("no GPU")
    assert nt.label == "not tested" and nt.interval() == "" and nt.seeds == 0
    with pytest.raises(ValueError, match="why"):
        not_tested("")


def test_trend_per_seed_and_group():
    import pandas as pd

    from lvf.book.verdicts import trend

    rows = []
    for seed in range(3):
        for k in (2, 8, 32, 128):
            rows.append(dict(seed=seed, dataset="falls", k=k, mem=1 / k + 0.001 * seed))
            rows.append(dict(seed=seed, dataset="flat", k=k, mem=[0.5, 0.4, 0.6, 0.5][seed]))
    df = pd.DataFrame(rows)
    v = trend(df[df.dataset == "falls"], x="k", y="mem", direction=-1)
    assert v.label == "reproduced" and v.effects == (1.0, 1.0, 1.0)
    both = trend(df, x="k", y="mem", direction=-1, by="dataset")
    # the flat group is constant within each seed: no trend (effect 0) → not reproduced
    assert both.parts["flat"].effects == (0.0, 0.0, 0.0)
    assert both.parts["flat"].label == "not reproduced"
    assert both.label == "partly reproduced" and list(both.parts) == ["falls", "flat"]
    # float round-off is no trend either; a NaN leaves the seed's correlation undefined
    df.loc[(df.dataset == "flat") & (df.k == 2), "mem"] += 1e-9
    assert trend(df[df.dataset == "flat"], x="k", y="mem", direction=1).effects == (0, 0, 0)
    df.loc[df.k == 2, "mem"] = float("nan")
    assert trend(df[df.dataset == "flat"], x="k", y="mem", direction=1).label == "inconclusive"


def test_undefined_effects_say_so():
    v = judge([float("nan"), float("nan")], smallest=0.5, measure="m")
    assert v.label == "inconclusive" and v.interval() == "undefined on every seed (2 seeds)"
