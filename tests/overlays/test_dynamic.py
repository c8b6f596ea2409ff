"""DynamicRebalancing: each trigger fires where the synthetic market says, and is counted."""

from __future__ import annotations

import numpy as np
import pytest

from allocgym.baselines import EqualWeight
from allocgym.exceptions import ConfigError
from allocgym.overlays import DynamicRebalancing
from tests.overlays._helpers import Scripted, drive, market, panel

OFF = {"regime_persistence": None, "vol_threshold": None, "target_threshold": None,
       "max_gap": None, "min_gap": 1}  # fmt: skip
START = 30


@pytest.fixture(scope="module")
def mkt():
    return market(300)


def _dates(mkt, overlay):
    return [(mkt.dates.get_loc(d), cause) for d, cause in overlay.events_]


def test_regime_trigger_needs_k_days_of_persistence(mkt):
    labels = np.zeros(mkt.n_dates, dtype=int)
    labels[120:122] = 1  # two-day flicker: no trade with k = 5
    labels[150:200] = 1  # persists: fires on day 154 (argmax 1 on 150..154)
    labels[200:] = 0  # back: fires on day 204
    labels[:10] = -1  # warm-up without probabilities
    ov = DynamicRebalancing(EqualWeight(rebalance_every=1), **{**OFF, "regime_persistence": 5})
    drive(ov, mkt, panel(mkt, regimes=labels), START)
    assert _dates(mkt, ov) == [(START, "initial"), (154, "regime"), (204, "regime")]
    assert ov.triggers_ == {"initial": 1, "regime": 2, "volatility": 0, "target": 0, "calendar": 0}
    assert ov.n_rebalances_ == 3


def test_regime_trigger_with_k_1_trades_the_flicker(mkt):
    labels = np.zeros(mkt.n_dates, dtype=int)
    labels[120:122] = 1
    ov = DynamicRebalancing(EqualWeight(rebalance_every=1), **{**OFF, "regime_persistence": 1})
    drive(ov, mkt, panel(mkt, regimes=labels), START)
    assert _dates(mkt, ov)[1:] == [(120, "regime"), (122, "regime")]


def test_volatility_trigger_fires_on_each_crossing(mkt):
    vol = np.full(mkt.n_dates, 0.004)  # 1/N forecast <= 0.004 * sqrt(252) = 6 % < 20 %
    vol[100:200] = 0.05  # >= 0.05 * sqrt(252 / 3) = 46 % with non-negative correlations
    ov = DynamicRebalancing(EqualWeight(rebalance_every=1), **{**OFF, "vol_threshold": 0.2})
    drive(ov, mkt, panel(mkt, vol=vol), START)
    assert _dates(mkt, ov) == [(START, "initial"), (100, "volatility"), (200, "volatility")]
    assert ov.triggers_["volatility"] == ov.signals_["volatility"] == 2


def test_target_trigger_fires_when_the_target_moves_more_than_the_threshold(mkt):
    a, b, c = [0, 0.5, 0.5, 0], [0, 0.45, 0.55, 0], [0, 0, 0.5, 0.5]
    inner = Scripted(lambda t: a if t < 100 else b if t < 150 else c)  # L1 0.1, then 1.0
    ov = DynamicRebalancing(inner, **{**OFF, "target_threshold": 0.15})
    held, _ = drive(ov, mkt, None, START)
    assert _dates(mkt, ov) == [(START, "initial"), (150, "target")]
    np.testing.assert_allclose(held[151 - START], c, atol=0.02)  # traded to c, drifted a day


def test_calendar_fallback_every_max_gap_days(mkt):
    ov = DynamicRebalancing(EqualWeight(rebalance_every=1), **{**OFF, "max_gap": 20})
    drive(ov, mkt, None, START, end=START + 101)
    assert _dates(mkt, ov) == [(START + 20 * k, "initial" if k == 0 else "calendar")
                               for k in range(6)]  # fmt: skip
    assert ov.triggers_["calendar"] == 5


def test_min_gap_defers_a_trigger_and_attributes_it(mkt):
    labels = np.zeros(mkt.n_dates, dtype=int)
    labels[100:] = 1  # the regime fires on day 101 (k = 2)
    settings = {**OFF, "regime_persistence": 2, "max_gap": 70, "min_gap": 10}
    ov = DynamicRebalancing(EqualWeight(rebalance_every=1), **settings)
    drive(ov, mkt, panel(mkt, regimes=labels), START, end=START + 120)
    # calendar at 100 (70 days after 30); the regime fires at 101 and waits until 110
    assert _dates(mkt, ov) == [(START, "initial"), (100, "calendar"), (110, "regime")]
    assert ov.signals_["regime"] == 1


def test_holds_drifted_weights_between_rebalances(mkt):
    ov = DynamicRebalancing(EqualWeight(rebalance_every=1), **{**OFF, "max_gap": 50})
    held, targets = drive(ov, mkt, None, START, end=START + 40)
    for h, w in zip(held[1:], targets[1:], strict=True):
        np.testing.assert_array_equal(h, w)  # no trade: the target is what is held


def test_counts_reset_and_missing_regime_features_are_refused(mkt):
    ov = DynamicRebalancing(EqualWeight(rebalance_every=1))
    with pytest.raises(ConfigError, match="regime_p0"):
        ov.fit(mkt, panel(mkt, vol=0.01))
    with pytest.raises(ConfigError, match="garch_vol"):
        ov.fit(mkt, panel(mkt, regimes=np.zeros(mkt.n_dates, dtype=int)))
    assert ov.kind == "ML-enhanced"
    assert DynamicRebalancing(EqualWeight(), **OFF).kind == "traditional"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"regime_persistence": 0}, "regime_persistence=0"),
        ({"vol_threshold": 0.0}, "vol_threshold=0.0"),
        ({"target_threshold": -0.1}, "target_threshold=-0.1"),
        ({"min_gap": 0}, "min_gap=0"),
        ({"min_gap": 30, "max_gap": 20}, "min_gap=30 > max_gap=20"),
        ({"lookback": 1}, "lookback=1"),
    ],
)
def test_errors_name_the_parameter(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DynamicRebalancing(EqualWeight(), **kwargs)


def test_wrapping_a_non_policy_is_refused():
    with pytest.raises(TypeError, match="act"):
        DynamicRebalancing(object())
