"""The Policy protocol, PolicyState and validate_weights."""

from __future__ import annotations

import numpy as np
import pytest

from allocgym.data import MarketData
from allocgym.policy import FittablePolicy, Policy, PolicyState, validate_weights


class _Cash:
    def reset(self) -> None:
        pass

    def act(self, state: PolicyState) -> np.ndarray:
        return np.eye(state.n_assets + 1)[0]


def test_protocols_are_structural() -> None:
    assert isinstance(_Cash(), Policy)
    assert not isinstance(_Cash(), FittablePolicy)
    assert not isinstance(object(), Policy)


def test_state_holds_only_the_past(synthetic_market: MarketData) -> None:
    w = np.array([0.5, 0.5, 0, 0, 0, 0])
    s = PolicyState.at(synthetic_market, 100, w, wealth=1.3)
    assert s.history.n_dates == 101 and s.date == synthetic_market.dates[100]
    np.testing.assert_array_equal(s.available, synthetic_market.available[100])
    assert s.features is None and s.wealth == 1.3
    with pytest.raises(ValueError, match="read-only"):
        s.weights[0] = 2.0
    w[0] = 9.0  # the state keeps its own copy
    assert s.weights[0] == 0.5


def test_validate_weights() -> None:
    avail = np.array([True, True, False])
    np.testing.assert_allclose(validate_weights([0.2, 0.5, 0.3, 0], avail), [0.2, 0.5, 0.3, 0])
    for bad, match in [
        ([0.5, 0.5], "shape"),
        ([np.nan, 0.5, 0.5, 0], "non-finite"),
        ([-0.1, 0.6, 0.5, 0], "negative"),
        ([0.2, 0.2, 0.2, 0], "summing"),
        ([0.2, 0.2, 0.2, 0.4], "without a price"),
    ]:
        with pytest.raises(ValueError, match=match):
            validate_weights(bad, avail)
