"""Sharpe statistics: DSR published example, PSR/DSR vs skfolio, LW HAC test, bootstrap CI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from allocgym.backtest import stats

FIXTURE = Path(__file__).parents[1] / "fixtures" / "deflated_sharpe.yaml"


def test_deflated_sharpe_matches_bailey_lopez_de_prado_example() -> None:
    d = yaml.safe_load(FIXTURE.read_text())
    ppy = d["periods_per_year"]
    sr = d["annual_sharpe"] / np.sqrt(ppy)
    var = d["annual_sharpe_variance"] / ppy
    sr0 = stats.expected_max_sharpe(d["n_trials"], var)
    assert sr0 == pytest.approx(d["expected_max_sharpe"], abs=d["tolerance"])
    dsr = stats.deflated_sharpe_ratio(sr, d["n_obs"], d["n_trials"], var, d["skew"], d["kurtosis"])
    assert dsr == pytest.approx(d["deflated_sharpe_ratio"], abs=d["tolerance"])


def _returns(seed: int, n: int = 2000, mean: float = 4e-4) -> np.ndarray:
    return np.random.default_rng(seed).standard_t(5, size=n) * 0.01 + mean


def test_psr_and_dsr_agree_with_skfolio() -> None:
    measures = pytest.importorskip("skfolio.measures")
    from scipy import stats as sps

    r = _returns(0)
    sr = r.mean() / r.std(ddof=1)
    skew, kurt = sps.skew(r), sps.kurtosis(r, fisher=False)
    ours = stats.probabilistic_sharpe_ratio(sr, r.size, skew, kurt, sharpe_benchmark=0.01)
    theirs = measures.probabilistic_sharpe_ratio(r, benchmark_sharpe_ratio=0.01)
    assert ours == pytest.approx(theirs, abs=2e-3)
    trials = np.array([0.01, 0.03, -0.02, 0.05, 0.0])
    ours = stats.deflated_sharpe_ratio(sr, r.size, 5, trials.var(ddof=1), skew, kurt)
    theirs = measures.deflated_sharpe_ratio(r, trials)
    assert ours == pytest.approx(theirs, abs=2e-3)


def test_psr_is_one_half_at_the_benchmark_and_monotone() -> None:
    assert stats.probabilistic_sharpe_ratio(0.05, 500, sharpe_benchmark=0.05) == 0.5
    lo = stats.probabilistic_sharpe_ratio(0.02, 500)
    hi = stats.probabilistic_sharpe_ratio(0.08, 500)
    assert 0.5 < lo < hi < 1
    assert stats.expected_max_sharpe(1, 0.1) == 0.0


def test_ledoit_wolf_standard_error_matches_the_iid_formula() -> None:
    """For iid normal, independent series: Var(SR_a - SR_b) = sum (1 + SR^2/2) / T."""
    rng = np.random.default_rng(3)
    t = 20000
    a = rng.normal(5e-4, 0.01, t)
    b = rng.normal(2e-4, 0.012, t)
    res = stats.ledoit_wolf_test(a, b, bandwidth=0.0)
    sa, sb = a.mean() / a.std(), b.mean() / b.std()
    iid = np.sqrt((2 + sa**2 / 2 + sb**2 / 2) / t)
    assert res.std_error == pytest.approx(iid, rel=0.03)
    assert res.difference == pytest.approx(sa - sb, rel=1e-10)
    auto = stats.ledoit_wolf_test(a, b)  # automatic bandwidth, little autocorrelation
    assert auto.std_error == pytest.approx(iid, rel=0.1)


def test_ledoit_wolf_detects_a_real_difference_and_not_a_fake_one() -> None:
    rng = np.random.default_rng(5)
    common = rng.normal(0, 0.01, 3000)
    a = common + rng.normal(0, 0.003, 3000) + 1e-3
    b = common + rng.normal(0, 0.003, 3000)
    assert stats.ledoit_wolf_test(a, b).p_value < 0.01
    same = stats.ledoit_wolf_test(a, a.copy())
    assert same.p_value == 1.0


def test_ledoit_wolf_hac_widens_the_interval_under_autocorrelation() -> None:
    rng = np.random.default_rng(7)
    e = rng.normal(0, 0.01, (4000, 2))
    x = np.empty_like(e)
    x[0] = e[0]
    for i in range(1, len(e)):  # AR(1) with rho 0.5
        x[i] = 0.5 * x[i - 1] + e[i]
    iid = stats.ledoit_wolf_test(x[:, 0] + 5e-4, x[:, 1], bandwidth=0.0)
    hac = stats.ledoit_wolf_test(x[:, 0] + 5e-4, x[:, 1])
    assert hac.bandwidth > 1
    assert hac.std_error > 1.3 * iid.std_error


def test_bootstrap_ci_is_reproducible_and_covers_the_estimate() -> None:
    r = _returns(11, 1500)
    sr = r.mean() / r.std(ddof=1) * np.sqrt(252)
    lo, hi = stats.sharpe_bootstrap_ci(r, n_boot=400, seed=1)
    assert lo < sr < hi
    assert (lo, hi) == stats.sharpe_bootstrap_ci(r, n_boot=400, seed=1)
    lo2, hi2 = stats.sharpe_bootstrap_ci(np.tile(r, 4), n_boot=400, seed=1)
    assert hi2 - lo2 < hi - lo
    with pytest.raises(ValueError, match="block"):
        stats.sharpe_bootstrap_ci(r, block=0)


def test_sharpe_tests_table() -> None:
    df = pd.DataFrame({"1/N": _returns(1), "x": _returns(2, mean=8e-4)})
    t = stats.sharpe_tests(df, "1/N", n_boot=200)
    assert list(t.index) == ["1/N", "x"]
    assert np.isnan(t.loc["1/N", "lw_p_value"]) and 0 <= t.loc["x", "lw_p_value"] <= 1
    assert (t["dsr"] <= t["psr"] + 1e-12).all()
    assert (t["sharpe_ci_low"] < t["sharpe_ci_high"]).all()


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="same length"):
        stats.ledoit_wolf_test(np.zeros(20), np.zeros(21))
    with pytest.raises(ValueError, match="n_trials"):
        stats.expected_max_sharpe(0, 0.1)
