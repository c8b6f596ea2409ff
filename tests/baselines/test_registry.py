"""The baselines' registry entries and the attributes the backtester reads (kind, benchmark)."""

from __future__ import annotations

import numpy as np
import pytest

from allocgym.backtest import WalkForward, backtest
from allocgym.baselines import (
    BASELINES,
    BlackLitterman,
    BuyAndHold,
    EqualWeight,
    MeanVariance,
    MinVariance,
)
from allocgym.data import MarketData
from tests.baselines.test_policies import make_panel


def test_the_names_configs_and_the_cli_used_before_are_all_registered() -> None:
    # YAML names of earlier versions, the CLI's max_sharpe and its 1/N
    for name in (*BASELINES.names(), "1/N"):
        assert BASELINES.find(name) is not None
    assert set(BASELINES) == {
        "equal_weight", "buy_and_hold", "min_variance", "mean_variance", "max_sharpe",
        "black_litterman", "risk_parity", "hrp", "cluster", "sparse_max_sharpe",
    }  # fmt: skip
    assert BASELINES.resolve("1/N") == "equal_weight"


def test_presets_build_what_their_name_says() -> None:
    assert type(BASELINES.create("equal_weight")) is EqualWeight
    assert type(BASELINES.create("buy_and_hold")) is BuyAndHold
    assert type(BASELINES.create("min_variance")) is MinVariance
    assert BASELINES.create("mean_variance").optimizer.objective == "utility"
    sharpe = BASELINES.create("max_sharpe", lookback=63)
    assert sharpe.optimizer.objective == "max_sharpe" and sharpe.lookback == 63
    assert type(BASELINES.create("black_litterman")) is BlackLitterman
    assert "objective" not in BASELINES.entry("max_sharpe").parameters()


@pytest.mark.parametrize(
    ("policy", "kind"),
    [
        (EqualWeight(), "traditional"),
        (BuyAndHold(), "traditional"),
        (MinVariance(), "traditional"),
        (MeanVariance(), "traditional"),
        (MeanVariance(expected_returns="forecast"), "ML-enhanced"),
        (MeanVariance(covariance="garch"), "ML-enhanced"),
        (MinVariance(covariance="garch"), "ML-enhanced"),
        (BlackLitterman(), "ML-enhanced"),
        (BlackLitterman(views="none"), "traditional"),
        (BlackLitterman(views="none", covariance="garch"), "ML-enhanced"),
    ],
)
def test_every_baseline_carries_its_kind(policy, kind) -> None:
    assert policy.kind == kind


def test_only_one_over_n_is_the_default_benchmark() -> None:
    assert [n for n in BASELINES if getattr(BASELINES.create(n), "is_benchmark", False)] == [
        "equal_weight"
    ]


class _Custom:
    """A user's policy: no kind, no benchmark flag."""

    def reset(self) -> None:
        pass

    def act(self, state) -> np.ndarray:
        w = np.zeros(state.n_assets + 1)
        w[0] = 1.0
        return w


class _MyBenchmark(_Custom):
    is_benchmark = True
    kind = "ML-enhanced"


class _MyForecaster(_Custom):
    """A user's policy that says it is ML-enhanced and requires no particular feature."""

    kind = "ML-enhanced"


@pytest.fixture(scope="module")
def market(synthetic_market: MarketData) -> MarketData:
    return synthetic_market[:300]


def test_the_backtester_reads_kind_and_benchmark_attributes(market) -> None:
    split = WalkForward(train=150, test=149)
    policies = {
        "cash": _Custom(),
        "naive": EqualWeight(),
        "mine": _MyForecaster(),
        "prior": BlackLitterman(lookback=60, views="none"),
    }
    res = backtest(policies, market, splitter=split, n_boot=20)
    assert res.config["benchmark"] == "naive"  # found by attribute, whatever its label
    # ML-enhanced without a feature panel runs on prices only; BL without views is
    # traditional (BL with views refuses to run without them: test_requirements.py)
    assert res.metrics["kind"].to_dict() == {
        "cash": "custom", "naive": "traditional", "mine": "traditional", "prior": "traditional"
    }  # fmt: skip
    res = backtest(
        {"mine": _MyBenchmark(), "naive": EqualWeight(), "bl": BlackLitterman(lookback=60)},
        market,
        make_panel(market),
        splitter=split,
        n_boot=20,
    )
    assert res.config["benchmark"] == "mine"
    assert res.metrics["kind"].to_dict() == {
        "mine": "ML-enhanced", "naive": "traditional", "bl": "ML-enhanced"
    }  # fmt: skip
