"""VaR/ES backtests against hand-computed statistics and published tables."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from allocgym.risk import (
    VaRConfig,
    acerbi_szekely_z2,
    backtest_var,
    christoffersen_test,
    conditional_coverage_test,
    forecast_var,
    kupiec_test,
    traffic_light,
    transition_counts,
    z2_test,
)


def chi2_1_sf(x: float) -> float:
    """P(chi2(1) > x) = erfc(sqrt(x / 2)), by hand rather than through scipy."""
    return math.erfc(math.sqrt(x / 2.0))


# ----------------------------------------------------------------------- Kupiec
def test_kupiec_on_a_known_count():
    # T = 250 days, x = 5 violations of a 99 % VaR: pi = 0.02
    lr = -2 * (245 * math.log(0.99) + 5 * math.log(0.01)) + 2 * (
        245 * math.log(0.98) + 5 * math.log(0.02)
    )
    test = kupiec_test(5, 250, 0.99)
    assert test.statistic == pytest.approx(lr, rel=1e-12)
    assert test.statistic == pytest.approx(1.9568, abs=1e-4)
    assert test.p_value == pytest.approx(chi2_1_sf(lr), rel=1e-10)
    assert test.dof == 1


def test_kupiec_zero_and_all_violations_use_0_log_0():
    # x = 0: LR = -2 T ln(1 - p); x = T: LR = -2 T ln(p)
    assert kupiec_test(0, 250, 0.99).statistic == pytest.approx(-2 * 250 * math.log(0.99))
    assert kupiec_test(0, 250, 0.99).statistic == pytest.approx(5.0252, abs=1e-4)
    assert kupiec_test(10, 10, 0.95).statistic == pytest.approx(-2 * 10 * math.log(0.05))
    assert kupiec_test(3, 300, 0.99).statistic == pytest.approx(0.0, abs=1e-12)  # x = pT


@pytest.mark.parametrize(
    ("p", "table"),
    [
        # Kupiec (1995) non-rejection regions at 5 % test size, as tabulated in Jorion,
        # Value at Risk (3rd ed., 2007), Table 6-3: lowest and highest accepted N
        (0.05, {255: (7, 20), 510: (17, 35), 1000: (38, 64)}),
        (0.025, {255: (3, 11), 510: (7, 20), 1000: (16, 35)}),
        (0.01, {510: (2, 10), 1000: (5, 16)}),
    ],
)
def test_kupiec_non_rejection_regions_match_the_published_table(p, table):
    for n, (lo, hi) in table.items():
        accepted = [x for x in range(n + 1) if kupiec_test(x, n, 1 - p).p_value > 0.05]
        assert (accepted[0], accepted[-1]) == (lo, hi)
        assert accepted == list(range(lo, hi + 1))
    # T = 255 at 99 %: "N < 7" in the table
    assert kupiec_test(6, 255, 0.99).p_value > 0.05 > kupiec_test(7, 255, 0.99).p_value


def test_traffic_light_zones_for_250_days_at_99():
    zones = [traffic_light(x, 250, 0.99) for x in range(15)]
    assert zones == ["green"] * 5 + ["yellow"] * 5 + ["red"] * 5


def test_traffic_light_cumulative_probabilities_match_basel_table():
    # Basel Committee (1996), backtesting framework, Table 2: cumulative probability (%)
    # of at most x exceptions in 250 days at 99 % coverage
    from scipy import stats

    basel = [8.11, 28.58, 54.32, 75.81, 89.22, 95.88, 98.63, 99.60, 99.89, 99.97, 99.99]
    cum = [round(100 * stats.binom.cdf(x, 250, 0.01), 2) for x in range(11)]
    assert cum == basel


# ----------------------------------------------------------------------- Christoffersen
HITS = [0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 1, 0]
# pairs: 00 00 01 11 11 10 00 00 00 01 10 -> n00 = 5, n01 = 2, n10 = 2, n11 = 2


def test_transition_counts_by_hand():
    assert transition_counts(HITS) == (5, 2, 2, 2)
    assert transition_counts(np.array(HITS, dtype=bool)) == (5, 2, 2, 2)


def test_christoffersen_independence_by_hand():
    ln = math.log
    restricted = 7 * ln(7 / 11) + 4 * ln(4 / 11)  # pi = 4 / 11
    markov = 5 * ln(5 / 7) + 2 * ln(2 / 7) + 2 * ln(0.5) + 2 * ln(0.5)
    lr = -2 * (restricted - markov)
    test = christoffersen_test(HITS)
    assert test.statistic == pytest.approx(lr, rel=1e-12)
    assert test.p_value == pytest.approx(chi2_1_sf(lr), rel=1e-10)


def test_conditional_coverage_by_hand_and_as_a_sum():
    ln = math.log
    p = 0.1  # level 0.90
    markov = 5 * ln(5 / 7) + 2 * ln(2 / 7) + 2 * ln(0.5) + 2 * ln(0.5)
    lr = -2 * (7 * ln(1 - p) + 4 * ln(p) - markov)
    test = conditional_coverage_test(HITS, 0.90)
    assert test.statistic == pytest.approx(lr, rel=1e-12)
    assert test.dof == 2
    assert test.p_value == pytest.approx(math.exp(-lr / 2), rel=1e-10)  # chi2(2) survival
    # Christoffersen (1998): LR_cc = LR_uc (days 2..T) + LR_ind
    uc = kupiec_test(sum(HITS[1:]), len(HITS) - 1, 0.90).statistic
    assert test.statistic == pytest.approx(uc + christoffersen_test(HITS).statistic, rel=1e-12)


def test_independence_edge_cases():
    assert math.isnan(christoffersen_test([1]).statistic)  # no consecutive pair
    assert math.isnan(christoffersen_test([]).statistic)
    assert math.isnan(conditional_coverage_test([0], 0.99).statistic)
    assert christoffersen_test([0] * 50).statistic == pytest.approx(0.0)
    # a violation only on the last day: no transition out of state 1 (0 log 0 = 0)
    lr = christoffersen_test([0, 0, 0, 1])
    assert np.isfinite(lr.statistic) and lr.statistic == pytest.approx(0.0, abs=1e-12)
    # clustered violations are dependent
    clustered = [0] * 40 + [1] * 5 + [0] * 40 + [1] * 5
    assert christoffersen_test(clustered).p_value < 1e-4


# ----------------------------------------------------------------------- Acerbi-Szekely
def test_z2_by_hand():
    r = np.array([-0.03, 0.01, -0.05, 0.0])
    var = np.array([0.02, 0.02, 0.04, 0.02])
    es = np.array([0.025, 0.03, 0.05, 0.03])
    # hits on days 1 and 3: Z2 = (-0.03 / 0.025 - 0.05 / 0.05) / (4 * 0.05) + 1
    expected = (-0.03 / 0.025 - 0.05 / 0.05) / (4 * 0.05) + 1
    assert acerbi_szekely_z2(r, var, es, 0.95) == pytest.approx(expected, rel=1e-12)


def test_z2_accepts_a_right_model_and_rejects_one_that_misses_a_volatility_jump():
    rng = np.random.default_rng(3)
    cfg = VaRConfig(levels=(0.975,), window=500, min_obs=500)
    normal = pd.Series(rng.normal(0, 0.01, 2500))
    z, p = z2_test(forecast_var(normal, "gaussian", cfg), 0.975, n_sims=400, seed=0)
    assert abs(z) < 0.2 and p > 0.1
    # volatility triples for 500 days: a 500-day window underestimates ES there
    jump = pd.Series(np.r_[rng.normal(0, 0.01, 1500), rng.normal(0, 0.03, 500)])
    z, p = z2_test(forecast_var(jump, "gaussian", cfg), 0.975, n_sims=400, seed=0)
    assert z < -0.5 and p < 0.01
    assert p >= 1 / 401  # the smallest simulated p-value, (1 + 0) / (1 + n_sims)


def test_backtest_table_counts_and_columns():
    r = pd.Series(np.random.default_rng(1).normal(0, 0.01, 800))
    f = forecast_var(r, "historical", VaRConfig(window=250, min_obs=250))
    table = backtest_var(f, n_sims=50)
    assert list(table.index) == [0.95, 0.99]
    hits = f.violations.iloc[250:]
    assert table.loc[0.99, "n_obs"] == 550
    assert table.loc[0.99, "violations"] == hits[0.99].sum()
    assert table.loc[0.95, "expected"] == pytest.approx(550 * 0.05)
    x = int(table.loc[0.95, "violations"])
    assert table.loc[0.95, "lr_uc"] == pytest.approx(kupiec_test(x, 550, 0.95).statistic)
    n = table.loc[0.95, ["n00", "n01", "n10", "n11"]].sum()
    assert n == 549
    assert set(table["zone"]) <= {"green", "yellow", "red"}


def test_zero_violations_in_a_backtest_are_finite():
    r = pd.Series(np.r_[np.random.default_rng(2).normal(0, 0.02, 300), np.full(200, 0.001)])
    table = backtest_var(
        forecast_var(r, "historical", VaRConfig(window=300, min_obs=300)), n_sims=20
    )
    row = table.loc[0.99]
    assert row["violations"] == 0
    assert row["lr_uc"] == pytest.approx(-2 * 200 * math.log(0.99))
    assert row["lr_ind"] == 0.0 and np.isfinite(row["p_cc"])


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: kupiec_test(1, 250, 1.0), "confidence level in"),
        (lambda: kupiec_test(1, 250, 0.0), "confidence level in"),
        (lambda: kupiec_test(1, 0, 0.99), "n=0"),
        (lambda: kupiec_test(300, 250, 0.99), "violations=300"),
        (lambda: christoffersen_test([0, 2, 1]), "0/1"),
        (lambda: traffic_light(3, 250, 99), "confidence level in"),
        (lambda: conditional_coverage_test([0, 1], -0.5), "confidence level in"),
    ],
)
def test_bad_input_is_refused(call, match):
    with pytest.raises(ValueError, match=match):
        call()
