"""A baseline that needs predictor features refuses to run without them (no silent 1/N).

Black-Litterman without its views used to hold exactly 1/N while labelled ML-enhanced;
now fit, act and the config validator name the missing feature and the preset that
makes it, and ``views="none"`` is the explicit, traditional, prior-only policy.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from allocgym.backtest import WalkForward, backtest
from allocgym.baselines import (
    BlackLitterman,
    EqualWeight,
    MeanVariance,
    MinVariance,
    check_features,
)
from allocgym.data import MarketData
from allocgym.exceptions import ConfigError
from allocgym.experiment import load_config
from allocgym.policy import PolicyState
from allocgym.predictors.config import PRESETS
from tests.baselines.test_policies import LB, make_panel

NO_VIEWS = r"BlackLitterman needs the per-asset feature 'lstm_forecast' \(LSTM return forecast\)"


def _without(panel, name: str):
    """The panel with the feature ``name`` dropped (as the "standard" preset builds it)."""
    keep = [i for i, f in enumerate(panel.feature_names) if f != name]
    return dataclasses.replace(
        panel,
        values=np.ascontiguousarray(panel.values[:, :, keep]),
        feature_names=tuple(panel.feature_names[i] for i in keep),
    )


def test_black_litterman_without_a_panel_fails_at_fit_and_act(synthetic_market) -> None:
    policy = BlackLitterman(lookback=LB)
    with pytest.raises(ConfigError, match=NO_VIEWS + r".*no feature panel was given"):
        policy.fit(synthetic_market, None)
    with pytest.raises(ConfigError, match=r"preset 'full'.*views='none'"):
        policy.act(PolicyState.at(synthetic_market, 300, np.eye(6)[0]))
    assert policy.n_fallbacks_ == 0  # an error, not an optimiser failure to fall back from


def test_black_litterman_on_a_panel_without_the_forecast_fails(synthetic_market) -> None:
    """The "standard" preset: GARCH and regimes, no LSTM forecast."""
    panel = _without(make_panel(synthetic_market), "lstm_forecast")
    policy = BlackLitterman(lookback=LB)
    with pytest.raises(ConfigError, match=NO_VIEWS + r".*has only \['garch_vol'\]"):
        policy.fit(synthetic_market, panel)
    state = PolicyState.at(synthetic_market, 300, np.eye(6)[0], panel)
    with pytest.raises(ConfigError, match=NO_VIEWS):
        policy.act(state)
    with pytest.raises(ConfigError, match=NO_VIEWS):
        policy.posterior(state)


def test_a_backtest_of_black_litterman_without_views_stops_with_the_reason(
    synthetic_market: MarketData,
) -> None:
    market = synthetic_market[:400]
    with pytest.raises(ConfigError, match=NO_VIEWS):
        backtest(
            {"1/N": EqualWeight(), "bl": BlackLitterman(lookback=LB)},
            market,
            splitter=WalkForward(train=200, test=199),
            n_boot=20,
        )


def test_prior_only_black_litterman_is_explicit_and_not_ml_enhanced(synthetic_market) -> None:
    """views="none": no feature needed, kind traditional, labelled as the prior; it holds
    the reference portfolio even when the panel has forecasts."""
    policy = BlackLitterman(lookback=LB, views="none")
    assert policy.required_features == {}
    assert policy.kind == "traditional"
    assert policy.label == "Black-Litterman prior (no views)"
    assert BlackLitterman().label == "Black-Litterman" and BlackLitterman().kind == "ML-enhanced"
    assert policy.fit(synthetic_market, None) is policy
    state = PolicyState.at(synthetic_market, 300, np.eye(6)[0], make_panel(synthetic_market))
    np.testing.assert_allclose(policy.act(state)[1:], 0.2, atol=1e-4)


def test_nan_forecasts_before_the_first_fit_still_mean_no_views(synthetic_market) -> None:
    """The feature exists but is NaN (the forecaster is not fit yet): the prior, no error."""
    panel = make_panel(synthetic_market)
    values = np.array(panel.values)
    values[:, :, 0] = np.nan
    panel = dataclasses.replace(panel, values=values)
    policy = BlackLitterman(lookback=LB).fit(synthetic_market, panel)
    w = policy.act(PolicyState.at(synthetic_market, 300, np.eye(6)[0], panel))
    np.testing.assert_allclose(w[1:], 0.2, atol=1e-4)


@pytest.mark.parametrize(
    ("policy", "feature", "instead"),
    [
        (MeanVariance(expected_returns="forecast"), "lstm_forecast", "expected_returns='histor"),
        (MinVariance(covariance="garch"), "garch_vol", "such as 'ledoit_wolf'"),
        (BlackLitterman(views="none", covariance="garch"), "garch_vol", "'ledoit_wolf'"),
    ],
)
def test_other_ml_enhanced_baselines_name_their_missing_feature(
    synthetic_market, policy, feature: str, instead: str
) -> None:
    assert feature in policy.required_features
    with pytest.raises(ConfigError, match=rf"needs the per-asset feature '{feature}'.*{instead}"):
        policy.fit(synthetic_market, None)
    with pytest.raises(ConfigError, match=feature):
        policy.act(PolicyState.at(synthetic_market, 300, np.eye(6)[0]))
    panel = make_panel(synthetic_market)
    assert policy.fit(synthetic_market, panel) is policy  # the full panel has both


def test_check_features_against_the_presets() -> None:
    """What each preset makes: GARCH from "standard" on, the LSTM forecast in "full" only."""
    bl, garch = BlackLitterman(), MinVariance(covariance="garch")
    for preset, bl_ok, garch_ok in [
        ("technical", False, False),
        ("standard", False, True),
        ("full", True, True),
    ]:
        for policy, ok in ((bl, bl_ok), (garch, garch_ok)):
            if ok:
                check_features(policy, PRESETS[preset])
            else:
                with pytest.raises(ConfigError, match=r"has no (lstm|garch) predictor"):
                    check_features(policy, PRESETS[preset], source=f"--features {preset}")
    check_features(EqualWeight(), None)  # needs nothing
    # a custom view feature: a configuration cannot tell, a panel can
    custom = BlackLitterman(view_feature="my_forecast")
    check_features(custom, PRESETS["technical"])
    with pytest.raises(ConfigError, match=r"'my_forecast' \(a custom feature\).*Add it"):
        check_features(custom, None)


# ---------------------------------------------------------------- the YAML validator


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (
            {"baselines": [{"name": "black_litterman"}]},  # the default preset: standard
            r"baselines\[0\]: " + NO_VIEWS + r".*features\.preset 'standard' has no lstm "
            r"predictor.*features: \{preset: full\}.*views='none'",
        ),
        (
            {"features": {"preset": "full", "overrides": {"lstm": None}},
             "baselines": [{"name": "equal_weight"}, {"name": "black_litterman"}]},
            r"baselines\[1\]: .*'full' with its overrides has no lstm predictor",
        ),
        (
            {"features": {"preset": "technical"},
             "baselines": [{"name": "mean_variance", "params": {"covariance": "garch"}}]},
            r"baselines\[0\]: MeanVariance needs the per-asset feature 'garch_vol'",
        ),
        (
            {"features": {"preset": "full"},
             "baselines": [{"name": "min_variance", "params": {"cost_bps": 10}}]},
            r"baselines\[0\]\.params\.cost_bps: was renamed 'cost_penalty_bps': it is a "
            r"turnover penalty .*not the transaction cost the environment charges \(env\.cost_bps",
        ),
    ],
)  # fmt: skip
def test_the_config_refuses_baselines_its_features_cannot_feed(data, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        load_config(data)


def test_the_config_accepts_black_litterman_with_views_or_explicitly_without() -> None:
    full = load_config({"features": {"preset": "full"}, "baselines": [{"name": "black_litterman"}]})
    assert [b.display for b in full.baselines] == ["Black-Litterman"]
    added = load_config(
        {
            "features": {"preset": "standard", "overrides": {"lstm": {}}},
            "baselines": [{"name": "black_litterman"}],
        }
    )
    assert added.baselines[0].display == "Black-Litterman"
    prior = load_config(
        {
            "features": {"preset": "technical"},
            "baselines": [
                {"name": "black_litterman", "params": {"views": "none"}},
                {"name": "mean_variance", "params": {"cost_penalty_bps": 10}},
            ],
        }
    )
    assert [b.display for b in prior.baselines] == [
        "Black-Litterman prior (no views)",
        "Mean-variance",
    ]
    assert prior.baselines[0].build().kind == "traditional"
    assert prior.baselines[1].build().cost_penalty_bps == 10.0
