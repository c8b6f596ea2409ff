"""Env argument resolution: features, the date range, windows, episodes, impact volatility."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from allocgym.data import MarketData
from allocgym.envs import CostModel, PortfolioEnv
from allocgym.envs._setup import draw_starts, episode_span, prepare, resolve_features
from allocgym.exceptions import AllocgymWarning, DataError
from allocgym.predictors import build_features
from tests.envs.conftest import causal_panel


def _prepare(market, **kwargs):
    """`prepare` with PortfolioEnv's defaults (no feature panel)."""
    args = {
        "features": None, "cost_bps": 10.0, "start": None, "end": None, "window": 30,
        "rebalance_every": 1, "action": "simplex", "norm_window": 252, "time_features": False,
    }  # fmt: skip
    args.update(kwargs)
    return prepare(market, **args)


@pytest.fixture
def tiny_market(synthetic_market: MarketData) -> MarketData:
    """5 synthetic assets, 60 days: too short for any predictor refit (min_train = 504)."""
    return synthetic_market[:60]


# ---------------------------------------------------------------- features
def test_none_means_no_features_and_a_preset_is_named(tiny_market, tmp_path, monkeypatch):
    monkeypatch.setenv("ALLOCGYM_CACHE_DIR", str(tmp_path))
    assert resolve_features(None, tiny_market) is None
    assert PortfolioEnv(tiny_market, window=5).features is None  # the default: no features
    panel = resolve_features("technical", tiny_market)
    reference = build_features(tiny_market, "technical", cache_dir=False, progress=False)
    assert panel.feature_names == reference.feature_names and len(panel.feature_names) > 3
    np.testing.assert_array_equal(panel.values, reference.values)
    for flag in (True, False):  # no boolean convention: None or a preset name
        with pytest.raises(TypeError, match=rf"features={flag} is invalid; expected None"):
            resolve_features(flag, tiny_market)


def test_features_built_for_an_env_show_no_progress_bar(tiny_market, tmp_path, monkeypatch,
                                                         capsys):  # fmt: skip
    # "standard" has predictor stages, whose progress bar would go to stderr
    monkeypatch.setenv("ALLOCGYM_CACHE_DIR", str(tmp_path))
    with pytest.warns(AllocgymWarning, match="no predictor is ever fit"):
        panel = resolve_features("standard", tiny_market)
    assert "garch_vol" in panel.feature_names
    assert capsys.readouterr().err == ""


def test_a_panel_is_aligned_by_date_never_by_position(small_market, synthetic_market):
    longer = causal_panel(synthetic_market[:310])
    panel = resolve_features(longer, small_market)
    assert panel.dates.equals(small_market.dates)
    np.testing.assert_array_equal(panel.values, longer.values[:300])
    # the same number of rows, one day later: not the market's dates, so refused
    shifted = causal_panel(synthetic_market[1:301])
    with pytest.raises(DataError, match="no row for 1 requested dates"):
        resolve_features(shifted, small_market)


# ---------------------------------------------------------------- the date range
def test_default_range_runs_from_the_window_to_the_last_day(small_market):
    data = _prepare(small_market)
    assert (data.lo, data.hi) == (30, 299)
    env = PortfolioEnv(small_market, features=None, start=297)
    env.reset()
    env.step(np.zeros(6))
    *_, truncated, _ = env.step(np.zeros(6))
    assert truncated and env.t == 299 and env.track().dates[-1] == small_market.dates[-1]
    # a window longer than the data is refused, naming it (no zero-padded 1-step episode)
    with pytest.raises(DataError, match=r"window=30 days .* 10 days .* window <= 8"):
        _prepare(small_market[:10])
    assert (_prepare(small_market[:32]).lo, _prepare(small_market[:32]).hi) == (30, 31)
    with pytest.raises(DataError, match=r"window=30 days .* 31 days .* window <= 29"):
        _prepare(small_market[:31])  # one day short of the smallest market that fits
    with pytest.raises(DataError, match=r"window=10000"):
        PortfolioEnv(small_market, features=None, window=10_000)


def test_integer_start_and_end_count_from_the_front_and_negative_ones_from_the_back(
    small_market,
):
    data = _prepare(small_market, start=0, end=-1)
    assert (data.lo, data.hi) == (0, 299)
    env = PortfolioEnv(small_market, features=None, start=0)
    assert env.reset()[1]["date"] == small_market.dates[0]
    data = _prepare(small_market, start=-60, end=-50)
    assert (data.lo, data.hi) == (240, 250)


def test_dates_snap_to_trading_days_inside_the_range(small_market):
    # 2000-01-08 and 2000-03-04 are Saturdays
    data = _prepare(small_market, start="2000-01-08", end="2000-03-04")
    assert small_market.dates[data.lo] == pd.Timestamp("2000-01-10")  # first on or after
    assert small_market.dates[data.hi] == pd.Timestamp("2000-03-03")  # last on or before
    data = _prepare(small_market, start="2000-01-10", end="2000-03-03")
    assert (small_market.dates[data.lo], small_market.dates[data.hi]) == (
        pd.Timestamp("2000-01-10"), pd.Timestamp("2000-03-03"),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("start", "end"),
    [(100, 100), (101, 100), (0, 300), (-1, None), ("2030-01-01", None), (None, "1999-01-01")],
)
def test_the_range_must_hold_a_step_inside_the_market(small_market, start, end):
    with pytest.raises(DataError, match="leave no step to take"):
        _prepare(small_market, start=start, end=end)


def test_one_step_range_at_the_end_of_the_market(small_market):
    data = _prepare(small_market, start=298, end=299)
    assert (data.lo, data.hi) == (298, 299)


# ---------------------------------------------------------------- windows
def test_window_and_norm_window_lower_bounds(small_market, small_panel):
    env = PortfolioEnv(small_market, features=None, window=1)
    assert env.observation_layout.shapes["returns"] == (5, 1)
    with pytest.raises(ValueError, match=r"window=0 is invalid; expected an integer >= 1"):
        _prepare(small_market, window=0)
    for norm_window in (2, None):  # None: expanding standardisation
        _prepare(small_market, features=small_panel, norm_window=norm_window)
    with pytest.raises(ValueError, match=r"norm_window=1 is invalid; expected an integer >= 2"):
        _prepare(small_market, norm_window=1)


# ---------------------------------------------------------------- episodes
def test_episode_length_must_fit_the_range(small_market):
    data = _prepare(small_market, start=40, end=50)
    assert episode_span(None, data) is None
    assert episode_span(1, data) == 1
    assert episode_span(10, data) == 10  # exactly the range
    for bad in (11, 0, -1, 2.0, True):
        with pytest.raises(DataError, match=f"episode_length={bad!r} decisions of 1 days"):
            episode_span(bad, data)
    held = _prepare(small_market, start=40, end=50, rebalance_every=3)
    assert episode_span(3, held) == 9
    with pytest.raises(DataError, match="episode_length=4 decisions of 3 days"):
        episode_span(4, held)


def test_random_starts_cover_exactly_the_starts_where_an_episode_fits(small_market):
    data = _prepare(small_market, start=40, end=50)
    rng = np.random.default_rng(0)
    assert set(draw_starts(rng, data, 3, size=2000).tolist()) == set(range(40, 48))
    assert set(draw_starts(rng, data, None, size=2000).tolist()) == set(range(40, 50))
    assert set(draw_starts(rng, data, 10, size=50).tolist()) == {40}
    assert 40 <= draw_starts(rng, data, 3) <= 47


# ---------------------------------------------------------------- impact volatility
def test_impact_volatility_is_the_trailing_21_day_rms_return(late_market):
    # row t: sqrt(mean of r^2 over days t-20..t, fewer at the start), missing returns as 0;
    # dated <= t only (a look-ahead of even one day would change every row)
    data = _prepare(late_market, cost_bps=CostModel(10.0, impact=1.0))
    r2 = pd.DataFrame(np.nan_to_num(np.asarray(late_market.returns)) ** 2)
    reference = np.sqrt(r2.rolling(21, min_periods=1).mean().to_numpy())
    np.testing.assert_allclose(data.sigma, reference, rtol=1e-10, atol=1e-15)
    assert data.sigma.shape == (300, 5) and data.sigma[130:, 2].min() > 0.0
    assert _prepare(late_market).sigma is None  # no impact, no volatility
