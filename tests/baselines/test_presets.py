"""Composition: the named baselines are presets of one optimiser policy, settings written once."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from allocgym.baselines import (
    BASELINES,
    BlackLitterman,
    LedoitWolfCovariance,
    MeanRiskOptimizer,
    MeanRiskPolicy,
    MeanVariance,
    MinVariance,
    SampleCovariance,
)
from allocgym.data import MarketData
from tests.baselines.test_policies import LB, make_panel, run


def _defaults(factory) -> dict:
    return {n: p.default for n, p in inspect.signature(factory).parameters.items()}


@pytest.mark.parametrize(
    ("preset", "generic"),
    [
        (
            lambda: MinVariance(lookback=LB, rebalance_every=5, max_weight=0.4),
            lambda: MeanRiskPolicy(
                MeanRiskOptimizer("min_variance", max_weight=0.4), lookback=LB, rebalance_every=5
            ),
        ),
        (
            lambda: MeanVariance(lookback=LB, rebalance_every=5, risk_aversion=8.0),
            lambda: MeanRiskPolicy(
                MeanRiskOptimizer("utility", risk_aversion=8.0), lookback=LB, rebalance_every=5
            ),
        ),
        (
            lambda: MeanVariance("max_sharpe", lookback=LB, rebalance_every=5, covariance="sample"),
            lambda: MeanRiskPolicy(
                MeanRiskOptimizer("max_sharpe"),
                lookback=LB,
                rebalance_every=5,
                covariance=SampleCovariance(),
            ),
        ),
        (
            lambda: MinVariance(lookback=LB, rebalance_every=5, cost_penalty_bps=10.0),
            lambda: MeanRiskPolicy(
                MeanRiskOptimizer("min_variance", cost_rate=10.0 * 1e-4 * 252 / 5),
                lookback=LB,
                rebalance_every=5,
            ),
        ),
        (
            lambda: BlackLitterman(lookback=LB, rebalance_every=5, max_weight=0.5),
            lambda: BlackLitterman(
                lookback=LB,
                rebalance_every=5,
                optimizer=MeanRiskOptimizer("utility", risk_aversion=2.5 / 1.05, max_weight=0.5),
            ),
        ),
    ],
)
def test_a_preset_is_the_generic_policy_with_its_optimiser(
    synthetic_market: MarketData, preset, generic
) -> None:
    """MinVariance() == MeanRiskPolicy(MeanRiskOptimizer("min_variance")), and so on:
    the same optimiser settings, the same weights at every decision."""
    market = synthetic_market[:330]
    panel = make_panel(market)
    a, b = preset(), generic()
    assert a.optimizer.get_params() == b.optimizer.get_params()
    np.testing.assert_array_equal(run(a, market, panel, 150, 330), run(b, market, panel, 150, 330))


def test_the_generic_policy_defaults_to_minimum_variance() -> None:
    policy = MeanRiskPolicy()
    assert policy.optimizer.get_params() == MinVariance().optimizer.get_params()
    assert isinstance(policy.covariance, LedoitWolfCovariance)
    assert (policy.lookback, policy.rebalance_every, policy.cost_penalty_bps) == (252, 21, 0.0)


@pytest.mark.parametrize("name", ["min_variance", "mean_variance", "max_sharpe", "black_litterman"])
def test_preset_keywords_and_defaults_come_from_the_constructors_they_feed(name: str) -> None:
    """Every keyword a preset shows (``allocgym list``, YAML params) that is a setting of
    MeanRiskOptimizer or MeanRiskPolicy has that constructor's default (the presets'
    utility objective aside), and the built optimiser holds it."""
    params = BASELINES.entry(name).parameters()
    optimizer, policy = _defaults(MeanRiskOptimizer), _defaults(MeanRiskPolicy)
    for key, default in params.items():
        if key == "objective":
            assert default == "utility", name
        elif key in optimizer:
            assert default == optimizer[key], (name, key)
        elif key in policy:
            assert default == policy[key], (name, key)
        else:  # Black-Litterman's own model parameters
            assert name == "black_litterman" and key in _defaults(BlackLitterman.__init__), key
    built = BASELINES.create(name)
    for key in set(params) & set(optimizer) - {"objective", "risk_aversion"}:
        assert getattr(built.optimizer, key) == params[key], (name, key)


def test_min_variance_takes_only_the_settings_that_mean_something_to_it() -> None:
    params = BASELINES.entry("min_variance").parameters()
    assert "cost_penalty_bps" in params and "max_weight" in params
    for key in ("objective", "risk_aversion", "target_return", "expected_returns", "cost_rate"):
        assert key not in params
    with pytest.raises(TypeError, match="unexpected keyword argument 'risk_aversion'"):
        MinVariance(risk_aversion=3.0)


def test_cost_penalty_bps_is_the_amortised_cost_rate_and_zero_by_default() -> None:
    assert MinVariance().optimizer.cost_rate == 0.0
    assert BlackLitterman().optimizer.cost_rate == 0.0
    policy = MeanVariance(cost_penalty_bps=10.0, rebalance_every=21)
    assert policy.optimizer.cost_rate == pytest.approx(10.0 * 1e-4 * 252 / 21)
    bl = BlackLitterman(cost_penalty_bps=4.0, rebalance_every=10)
    assert bl.optimizer.cost_rate == pytest.approx(4.0 * 1e-4 * 252 / 10)
    given = MeanRiskOptimizer("min_variance")
    penalised = MeanRiskPolicy(given, cost_penalty_bps=5.0)
    assert given.cost_rate == 0.0 and penalised.optimizer is not given  # not mutated
    with pytest.raises(ValueError, match="both set"):
        MeanRiskPolicy(MeanRiskOptimizer(cost_rate=0.01), cost_penalty_bps=5.0)
    with pytest.raises(ValueError, match="cost_penalty_bps=-1"):
        MinVariance(cost_penalty_bps=-1)


@pytest.mark.parametrize("factory", [MinVariance, MeanVariance, BlackLitterman])
def test_the_old_cost_bps_fails_pointing_to_the_new_name(factory) -> None:
    with pytest.raises(
        TypeError, match=r"'cost_bps' was renamed 'cost_penalty_bps'.*env\.cost_bps"
    ):
        factory(cost_bps=10.0)


def test_black_litterman_takes_an_optimiser_or_its_settings_not_both() -> None:
    with pytest.raises(ValueError, match="pass one or the other"):
        BlackLitterman(optimizer=MeanRiskOptimizer("utility"), max_weight=0.3)
    with pytest.raises(TypeError, match=r"'max_wieght' \(did you mean 'max_weight'\?\)"):
        BlackLitterman(max_wieght=0.3)
    assert BlackLitterman(objective="max_sharpe").optimizer.objective == "max_sharpe"


def test_unknown_optimizer_objects_are_refused() -> None:
    with pytest.raises(TypeError, match="solve"):
        MeanRiskPolicy("min_variance")  # type: ignore[arg-type]
