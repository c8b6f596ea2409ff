"""VaR/ES forecasts: formulas, fast path against the reference, point in time, errors."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from allocgym.risk import VAR_METHODS, VaRConfig, forecast_var
from allocgym.risk.var import _historical_reference

FAST = VaRConfig(window=300, min_obs=250, refit_every=100, n_sims=2000)


@pytest.fixture(scope="module")
def returns() -> pd.Series:
    """600 days of fat-tailed returns with a volatility step, dated."""
    rng = np.random.default_rng(7)
    r = rng.standard_t(5, 600) * np.r_[np.full(400, 0.008), np.full(200, 0.016)]
    return pd.Series(r, index=pd.bdate_range("2020-01-01", periods=600))


def test_historical_by_hand():
    # the past of row 100 is -0.001, ..., -0.100 in some order: k = ceil(0.05 * 100) = 5
    past = -np.random.default_rng(0).permutation(np.arange(1, 101)) / 1000
    r = np.r_[past, 0.0]
    f = forecast_var(r, "historical", VaRConfig(window=100, min_obs=100))
    assert f.var[0.95].iloc[100] == pytest.approx(0.096)
    assert f.es[0.95].iloc[100] == pytest.approx(np.mean([0.100, 0.099, 0.098, 0.097, 0.096]))
    assert f.var[0.99].iloc[100] == pytest.approx(0.100)  # k = 1
    assert f.var.iloc[:100].isna().all().all()


@pytest.mark.parametrize("window", [None, 120, 300])
def test_historical_fast_path_equals_the_plain_loop(returns, window):
    cfg = VaRConfig(levels=(0.9, 0.95, 0.975, 0.99), window=window, min_obs=100)
    f = forecast_var(returns, "historical", cfg)
    var, es = _historical_reference(returns.to_numpy(), cfg)
    np.testing.assert_allclose(f.var.to_numpy(), var, rtol=1e-12, atol=0)
    np.testing.assert_allclose(f.es.to_numpy(), es, rtol=1e-12, atol=0)


def test_gaussian_closed_form(returns):
    f = forecast_var(returns, "gaussian", FAST)
    past = returns.to_numpy()[500 - 300 : 500]
    m, s = past.mean(), past.std(ddof=1)
    assert f.var[0.99].iloc[500] == pytest.approx(-(m + s * stats.norm.ppf(0.01)), rel=1e-10)
    es = -integrate.quad(
        lambda x: x * stats.norm.pdf(x, m, s), -np.inf, m + s * stats.norm.ppf(0.01)
    )[0]
    assert f.es[0.99].iloc[500] == pytest.approx(es / 0.01, rel=1e-7)


def test_expanding_gaussian_uses_all_the_past(returns):
    f = forecast_var(returns, "gaussian", VaRConfig(window=None, min_obs=250))
    past = returns.to_numpy()[:450]
    m, s = past.mean(), past.std(ddof=1)
    assert f.var[0.95].iloc[450] == pytest.approx(-(m + s * stats.norm.ppf(0.05)), rel=1e-9)


def test_student_t_es_against_numerical_integration(returns):
    f = forecast_var(returns, "student_t", FAST)
    past = returns.to_numpy()[250 - 250 : 250]  # the first refit (row 250) sees rows 0..249
    nu, loc, scale = stats.t.fit((past - past.mean()) / past.std(ddof=1))
    t = 260
    window = returns.to_numpy()[t - 260 : t]
    m, s = window.mean(), window.std(ddof=1)
    dist = stats.t(nu, m + s * loc, s * scale)
    q = dist.ppf(0.01)
    assert f.var[0.99].iloc[t] == pytest.approx(-q, rel=1e-8)
    tail = integrate.quad(lambda x: x * dist.pdf(x), -np.inf, q, limit=200)[0] / 0.01
    assert f.es[0.99].iloc[t] == pytest.approx(-tail, rel=1e-6)


def test_es_exceeds_var_and_99_exceeds_95(returns):
    for method in VAR_METHODS:
        f = forecast_var(returns, method, FAST)
        ok = f.var[0.95].notna()
        assert ok.sum() == 350, method
        assert (f.es[ok] >= f.var[ok] - 1e-15).all().all(), method
        assert (f.var[0.99][ok] > f.var[0.95][ok]).all(), method


@pytest.mark.parametrize("method", VAR_METHODS)
@pytest.mark.parametrize("window", [None, 300])
def test_point_in_time(returns, method, window):
    # changing the returns after row t changes no forecast at rows <= t + 1
    cfg = VaRConfig(window=window, min_obs=250, refit_every=100, n_sims=500)
    t = 420
    changed = returns.copy()
    changed.iloc[t + 1 :] = np.random.default_rng(99).normal(0, 0.05, len(returns) - t - 1)
    a, b = forecast_var(returns, method, cfg), forecast_var(changed, method, cfg)
    for field in ("var", "es"):
        left, right = getattr(a, field).to_numpy(), getattr(b, field).to_numpy()
        np.testing.assert_array_equal(left[: t + 2], right[: t + 2])
        assert not np.array_equal(left[t + 2 :], right[t + 2 :])
    np.testing.assert_array_equal(a.scale.to_numpy()[: t + 2], b.scale.to_numpy()[: t + 2])


def test_monte_carlo_is_seeded_and_agrees_with_filtered_historical(returns):
    mc = forecast_var(returns, "monte_carlo", FAST)
    again = forecast_var(returns, "monte_carlo", FAST)
    np.testing.assert_array_equal(mc.var.to_numpy(), again.var.to_numpy())
    other = forecast_var(returns, "monte_carlo", VaRConfig(**{**FAST.__dict__, "seed": 1}))
    assert not np.array_equal(mc.var.to_numpy()[250:], other.var.to_numpy()[250:])
    # 1 day ahead, simulation from the GARCH with bootstrapped residuals is the filtered
    # historical simulation up to sampling error (2,000 draws of 300 residuals: the
    # simulated 5 % quantile lands on a neighbouring residual about half the time)
    fhs = forecast_var(returns, "filtered_historical", FAST)
    ratio = (mc.var / fhs.var).iloc[250:]
    for level in (0.95, 0.99):
        assert abs(ratio[level].median() - 1) < 0.02 and abs(ratio[level].mean() - 1) < 0.04
        assert np.abs(np.log(ratio[level])).mean() < 0.06


def test_monte_carlo_multi_day_horizon_grows(returns):
    one = forecast_var(returns, "monte_carlo", FAST)
    ten = forecast_var(returns, "monte_carlo", VaRConfig(**{**FAST.__dict__, "horizon": 10}))
    ratio = (ten.var[0.99] / one.var[0.99]).iloc[250:]
    assert ten.horizon == 10
    assert 2.0 < ratio.median() < 4.5  # about sqrt(10) for a persistent volatility


def test_filtered_historical_follows_volatility():
    # GARCH(1,1) data: the filtered volatility tracks the true one
    rng = np.random.default_rng(5)
    n, omega, alpha, beta = 1500, 1e-6, 0.08, 0.9
    s2, r, true_vol = omega / (1 - alpha - beta), np.empty(n), np.empty(n)
    for t in range(n):
        true_vol[t] = np.sqrt(s2)
        r[t] = true_vol[t] * rng.standard_normal()
        s2 = omega + alpha * r[t] ** 2 + beta * s2
    f = forecast_var(r, "filtered_historical", VaRConfig(window=1000, min_obs=1000))
    corr = np.corrcoef(f.scale.to_numpy()[1000:], true_vol[1000:])[0, 1]
    assert corr > 0.9
    rate = f.violations[0.95].iloc[1000:].mean()
    assert 0.03 < rate < 0.07


def test_a_failed_garch_fit_falls_back_to_ewma_with_a_warning(monkeypatch):
    from allocgym.predictors import GarchFallbackWarning
    from allocgym.risk import var_garch

    def broken(*args, **kwargs):
        raise RuntimeError("no convergence")

    monkeypatch.setattr("arch.arch_model", broken)
    r = np.random.default_rng(0).normal(0, 0.01, 400)
    with pytest.warns(GarchFallbackWarning, match="EWMA"):
        f = forecast_var(r, "filtered_historical", VaRConfig(window=300, min_obs=300))
    assert np.isfinite(f.var.iloc[300:].to_numpy()).all()
    assert var_garch.fit_garch(r).fallback


def test_violations_are_returns_below_minus_var(returns):
    f = forecast_var(returns, "gaussian", FAST)
    expected = returns.to_numpy() < -f.var[0.99].to_numpy()
    np.testing.assert_array_equal(f.violations[0.99].to_numpy(), expected)
    assert not f.violations.iloc[:250].any().any()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"levels": (0.0,)}, "confidence level in"),
        ({"levels": (1.0,)}, "confidence level in"),
        ({"levels": (0.95, 1.2)}, "confidence level in"),
        ({"levels": ()}, "empty"),
        ({"window": 0}, "window=0"),
        ({"window": -5}, "window=-5"),
        ({"horizon": 0}, "horizon=0"),
        ({"min_obs": 0}, "min_obs=0"),
        ({"n_sims": 0}, "n_sims=0"),
        ({"refit_every": 0}, "refit_every=0"),
        ({"window": 100, "min_obs": 200}, "min_obs=200 exceeds window=100"),
    ],
)
def test_bad_config_is_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        VaRConfig(**kwargs)


def test_bad_calls_are_refused(returns):
    with pytest.raises(ValueError, match="not a VaR method"):
        forecast_var(returns, "historic")
    with pytest.raises(ValueError, match="only 'monte_carlo'"):
        forecast_var(returns, "historical", VaRConfig(horizon=5))
    with pytest.raises(ValueError, match="non-finite value"):
        forecast_var(pd.Series([0.01, np.nan, 0.02]), "historical")
    with pytest.raises(TypeError, match="DataFrame"):
        forecast_var(returns.to_frame(), "historical")
    with pytest.raises(TypeError, match="number in"):
        VaRConfig(levels=("0.99",))


def test_short_series_gives_no_forecast_rather_than_an_error():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        f = forecast_var(np.zeros(100) + 0.001, "historical")  # min_obs = 250 > 100
    assert f.var.isna().all().all()
