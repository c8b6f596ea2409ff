"""The Policy protocol, PolicyState and the one validation of target weights."""

from __future__ import annotations

import numpy as np
import pytest

from allocgym.data import MarketData
from allocgym.envs import validate_target_weights
from allocgym.policy import FittablePolicy, Policy, PolicyState
from allocgym.predictors.panel import FeaturePanel


class _Cash:
    def reset(self) -> None:
        pass

    def act(self, state: PolicyState) -> np.ndarray:
        return np.eye(state.n_assets + 1)[0]


class _Fitted(_Cash):
    def fit(self, market, features=None):
        self.seen = market.n_dates
        return self


def test_protocols_are_structural(synthetic_market: MarketData) -> None:
    from allocgym.agents import RLAgent
    from allocgym.baselines import EqualWeight

    assert isinstance(_Cash(), Policy)
    assert not isinstance(_Cash(), FittablePolicy)
    assert isinstance(_Fitted(), FittablePolicy)
    assert not isinstance(object(), Policy)
    assert isinstance(EqualWeight(), Policy) and isinstance(RLAgent(), FittablePolicy)

    class NoReset:
        def act(self, state):
            return state.weights

    assert not isinstance(NoReset(), Policy)
    # and what a conforming policy returns is a valid target for the engine
    state = PolicyState.at(synthetic_market, 10, np.eye(6)[1])
    w = _Cash().act(state)
    tradable = np.concatenate(([1.0], state.available))
    np.testing.assert_array_equal(validate_target_weights(w, tradable), [1, 0, 0, 0, 0, 0])
    assert _Fitted().fit(synthetic_market[:50]).seen == 50


def test_state_holds_only_the_past(synthetic_market: MarketData) -> None:
    w = np.array([0.5, 0.5, 0, 0, 0, 0])
    s = PolicyState.at(synthetic_market, 100, w, wealth=1.3)
    assert s.history.n_dates == 101 and s.date == synthetic_market.dates[100]
    np.testing.assert_array_equal(s.available, synthetic_market.available[100])
    assert s.features is None and s.wealth == 1.3 and s.t == 100 and s.n_assets == 5
    np.testing.assert_array_equal(s.history.prices, synthetic_market.prices[:101])
    with pytest.raises(ValueError, match=r"t=800 is outside the market's 0\.\.799"):
        PolicyState.at(synthetic_market, 800, w)
    with pytest.raises(ValueError, match="read-only"):
        s.weights[0] = 2.0
    w[0] = 9.0  # the state keeps its own copy
    assert s.weights[0] == 0.5


def test_state_slices_are_read_only_views_up_to_t(synthetic_market: MarketData) -> None:
    m = synthetic_market
    values = np.arange(m.n_dates * m.n_assets, dtype=np.float32).reshape(m.n_dates, m.n_assets, 1)
    panel = FeaturePanel(
        dates=m.dates,
        assets=m.assets,
        values=values,
        feature_names=("f",),
        market_values=np.zeros((m.n_dates, 0), dtype=np.float32),
        market_feature_names=(),
        available=m.available,
        key="k",
    )
    s = PolicyState.at(m, 250, np.eye(6)[0], panel)
    assert s.history.dates[-1] == s.date == m.dates[250] and s.features.dates.equals(m.dates[:251])
    np.testing.assert_array_equal(s.features.values, values[:251])
    assert s.features.key == "k" and s.history.source == m.source
    for arr in (s.history.prices, s.history.returns, s.history.available, s.features.values):
        assert arr.shape[0] == 251 and not arr.flags.writeable


def test_validate_target_weights() -> None:
    tradable = np.array([1.0, 1.0, 1.0, 0.0])
    np.testing.assert_array_equal(
        validate_target_weights([0.2, 0.5, 0.3, 0], tradable), [0.2, 0.5, 0.3, 0]
    )
    # within the tolerances: tiny negatives are clipped, weight on an asset without a
    # price at t moves to cash, the rounding of the sum goes to cash: the result sums to 1
    raw = np.array([0.5, 0.5 + 4e-7, -2e-9, 0.1])
    raw[0] -= 0.1
    clean = validate_target_weights(raw, tradable)
    np.testing.assert_allclose(clean, [0.5 - 4e-7, 0.5 + 4e-7, 0, 0], atol=1e-15)
    assert clean.sum() == pytest.approx(1.0, abs=1e-15) and clean is not raw
    assert raw[2] == -2e-9  # the input is not modified
    for bad, match in [
        ([0.5, 0.5], "shape"),
        ([np.nan, 0.5, 0.5, 0], "non-finite"),
        ([-0.1, 0.6, 0.5, 0], r"negative entries \[-0\.1\] at positions \[0\]"),
        ([0.2, 0.2, 0.2, 0], "sum to 0.6"),
    ]:
        with pytest.raises(ValueError, match=match):
            validate_target_weights(bad, tradable)
    # a batch: rows are validated alike and the bad row is named
    batch = np.array([[0.2, 0.5, 0.3, 0.0], [0.2, 0.2, 0.2, 0.0]])
    with pytest.raises(ValueError, match=r"sum to \[0\.6.*\] in rows \[1\]"):
        validate_target_weights(batch, np.tile(tradable, (2, 1)))
    batch[1] = [0.0, 0.5, 0.0, 0.5]
    np.testing.assert_array_equal(
        validate_target_weights(batch, np.tile(tradable, (2, 1))),
        [[0.2, 0.5, 0.3, 0.0], [0.5, 0.5, 0.0, 0.0]],
    )
