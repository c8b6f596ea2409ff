"""Feature groups and panel selection: what an agent observes in the predictor ablation."""

from __future__ import annotations

import numpy as np
import pytest

from allocgym.predictors import FEATURE_GROUPS, feature_groups, select_features
from allocgym.predictors.panel import FeaturePanel

PER_ASSET = ("rsi_14", "garch_vol", "mom_5", "lstm_forecast", "custom", "garch_vol_21d")
MARKET = ("regime_p0", "regime_p1")


@pytest.fixture
def panel(synthetic_market) -> FeaturePanel:
    m = synthetic_market
    rng = np.random.default_rng(0)
    values = rng.standard_normal((m.n_dates, m.n_assets, len(PER_ASSET))).astype(np.float32)
    market = rng.standard_normal((m.n_dates, len(MARKET))).astype(np.float32)
    available = np.asarray(m.available).copy()
    available[:30] = False  # e.g. the LSTM has not been fitted yet
    return FeaturePanel(m.dates, m.assets, values, PER_ASSET, market, MARKET, available, "k")


def test_groups_follow_the_predictor_that_made_each_feature(panel, synthetic_market):
    assert feature_groups(panel, synthetic_market) == {
        "technical": ("rsi_14", "mom_5"),
        "garch": ("garch_vol", "garch_vol_21d"),
        "lstm": ("lstm_forecast",),
        "custom": ("custom",),
        "regime": ("regime_p0", "regime_p1"),
    }
    assert feature_groups(None, synthetic_market) == {}
    assert FEATURE_GROUPS == ("technical", "garch", "regime", "lstm")


def test_selection_keeps_the_chosen_columns_and_the_mask(panel, synthetic_market):
    sub = select_features(panel, synthetic_market, ["technical", "regime", "custom"])
    assert sub.feature_names == ("rsi_14", "mom_5", "custom")
    assert sub.market_feature_names == MARKET
    for name in sub.feature_names:
        np.testing.assert_array_equal(sub.feature(name), panel.feature(name))
    np.testing.assert_array_equal(sub.market_values, panel.market_values)
    # same assets on the same days: variants differ in what they see only
    np.testing.assert_array_equal(sub.available, panel.available)
    assert sub.key == "" and panel.key == "k"  # a selection is not the cached panel
    # selecting again is the same selection (the backtester and fit may both select)
    again = select_features(sub, synthetic_market, ["technical", "regime", "custom"])
    assert again.feature_names == sub.feature_names
    only = select_features(panel, synthetic_market, ["garch_vol_21d"])
    assert only.feature_names == ("garch_vol_21d",) and only.market_feature_names == ()
    assert only.market_values.shape == (panel.n_dates, 0)


def test_selection_names_what_it_cannot_find(panel, synthetic_market):
    technical_only = select_features(panel, synthetic_market, ["technical"])
    with pytest.raises(ValueError, match=r"observe names 'lstm'.*no such features.*preset"):
        select_features(technical_only, synthetic_market, ["lstm"])
    with pytest.raises(ValueError, match=r"'garch_vol_5d', which is not in the feature panel"):
        select_features(panel, synthetic_market, ["garch_vol_5d"])
    with pytest.raises(KeyError, match=r"\['nope'\] are not in the panel"):
        panel.select({"rsi_14", "nope"})
