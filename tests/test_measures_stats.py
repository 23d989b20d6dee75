import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from lvf.measures.stats import spearman


def test_perfect_monotone_is_one():
    x = np.arange(10.0)
    assert spearman(x, np.exp(x)) == pytest.approx(1.0)


def test_reversed_order_is_minus_one():
    assert spearman([1, 2, 3, 4, 5], [50, 40, 30, 20, 10]) == pytest.approx(-1.0)


def test_hand_computed_case():
    # ranks of y: 2, 1, 4, 3, 5 against 1..5; d = (1, -1, 1, -1, 0), sum d² = 4,
    # rho = 1 - 6 · 4 / (5 · 24) = 0.8
    assert spearman([1, 2, 3, 4, 5], [20, 10, 40, 30, 50]) == pytest.approx(0.8)


def test_ties_get_average_ranks():
    # ranks of y: 1.5, 1.5, 3; Pearson of (1, 2, 3) with (1.5, 1.5, 3) = sqrt(3) / 2
    assert spearman([1, 2, 3], [7, 7, 9]) == pytest.approx(math.sqrt(3) / 2)


@pytest.mark.parametrize(
    ("x", "y"),
    [([1, 2, 3], [4, 4, 4]), ([2, 2, 2], [1, 2, 3]), ([5, 5], [5, 5]), ([1.0], [2.0])],
)
def test_constant_input_is_nan_without_a_warning(x, y):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert math.isnan(spearman(x, y))


def test_matches_scipy_on_random_data():
    rng = np.random.default_rng(0)
    for n in (3, 10, 200):
        x = rng.normal(size=n)
        y = x + rng.normal(size=n)
        y[: n // 3] = y[0]  # some ties
        assert spearman(x, y) == pytest.approx(spearmanr(x, y).statistic, abs=1e-12)


def test_takes_pandas_and_returns_a_float():
    s = pd.Series([3.0, 1.0, 2.0], index=[10, 20, 30])
    rho = spearman(s.index, s)
    assert isinstance(rho, float)
    assert rho == pytest.approx(-0.5)


def test_unpaired_samples_are_an_error():
    with pytest.raises(ValueError, match="paired"):
        spearman([1, 2, 3], [1, 2])
