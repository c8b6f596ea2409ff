"""Predictor selection by purged CV: GARCH family, LSTM settings, grid, errors, point in time."""

from __future__ import annotations

import numpy as np
import pytest

from allocgym.backtest import CombinatorialPurgedKFold, PurgedKFold
from allocgym.predictors import LSTMConfig
from allocgym.predictors.lstm import LSTMForecaster
from allocgym.predictors.selection import (
    CVCandidate,
    GarchCandidate,
    LSTMCandidate,
    select_by_purged_cv,
)
from tests.predictors.conftest import first_assets, perturb_after

TINY_LSTM = {"hidden": 4, "window": 5, "max_epochs": 1, "max_samples": 256, "batch_size": 64}


class ConstantVariance:
    """A user candidate: the training mean square as every day's variance forecast."""

    horizon = 1

    def fit(self, market, rows):
        r = np.asarray(market.returns)[rows[rows + 1 < market.n_dates] + 1] * 100
        self.level_ = np.nanmean(r**2, axis=0)
        return self

    def score(self, market, rows):
        rows = rows[rows + 1 < market.n_dates]
        r2 = (np.asarray(market.returns)[rows + 1] * 100) ** 2
        return float(np.median(np.nanmean(r2 / self.level_ + np.log(self.level_), axis=0)))


def _constant(**params):
    return ConstantVariance()


@pytest.fixture(scope="module")
def small(synthetic_market):
    return first_assets(synthetic_market, 3)


def test_garch_family_selection(small):
    cv = PurgedKFold(n_splits=3, horizon=1, embargo=5)
    result = select_by_purged_cv(GarchCandidate, {"kind": ["garch", "gjr", "egarch"]}, small, cv=cv)
    assert result.n_candidates == 3
    assert list(result.table.columns) == ["fold_0", "fold_1", "fold_2", "mean", "se"]
    assert list(result.table.index) == ["kind='garch'", "kind='gjr'", "kind='egarch'"]
    assert np.isfinite(result.table.to_numpy()).all()
    assert result.best_score == result.table["mean"].min()
    assert result.table["mean"].idxmin() == f"kind={result.best_params['kind']!r}"
    # on a market with GARCH volatility clustering GARCH beats a constant variance
    both = select_by_purged_cv(
        lambda which: GarchCandidate() if which == "garch" else ConstantVariance(),
        [{"which": "garch"}, {"which": "constant"}],
        small,
        cv=cv,
    )
    assert isinstance(ConstantVariance(), CVCandidate)
    assert both.best_params == {"which": "garch"}
    assert (both.table.loc["which='garch'"] < both.table.loc["which='constant'"]).iloc[:3].all()


def test_garch_scores_use_the_predictor_recursion(small):
    # with the parameters of a fit, the 1-day forecasts follow GarchVolatility's filter
    rows = np.arange(0, 500)
    cand = GarchCandidate(kind="gjr").fit(small, rows)
    h = cand.variance_forecasts(small)
    assert np.isfinite(h[1:]).all() and (h[1:] > 0).all()
    assert np.isnan(h[0]).all()  # row 0 has no return yet
    p = {k: v[0] for k, v in cand.params_.items()}
    r = np.asarray(small.returns)[:, 0] * 100
    s2 = cand.mean_square_[0]
    for t in range(1, 40):
        e = r[t] - p["mu"]
        s2 = p["omega"] + (p["alpha"] + p["gamma"] * (e < 0)) * e**2 + p["beta"] * s2
        s2 = max(s2, 0.01 * cand.mean_square_[0])
        np.testing.assert_allclose(h[t, 0], s2, rtol=1e-12)


def test_selection_uses_only_the_slice_it_is_given(synthetic_market):
    market = first_assets(synthetic_market, 2)
    t = 499
    base, changed = perturb_after(market, t)
    cv = PurgedKFold(n_splits=3, horizon=1, embargo=2)

    def run(m):
        return select_by_purged_cv(GarchCandidate, {"kind": ["garch", "gjr"]}, m[: t + 1], cv=cv)

    a, b = run(base), run(changed)
    np.testing.assert_array_equal(a.table.to_numpy(), b.table.to_numpy())
    assert a.best_params == b.best_params


def test_lstm_selection_over_horizon_and_size(small):
    grid = [{**TINY_LSTM, "horizon": 1, "hidden": 2}, {**TINY_LSTM, "horizon": 3, "hidden": 4}]
    cv = CombinatorialPurgedKFold(n_groups=3, n_test_groups=1, horizon=3, embargo=3)
    result = select_by_purged_cv(LSTMCandidate, grid, small, cv=cv)
    assert result.n_candidates == 2 and result.table.shape == (2, 5)
    assert np.isfinite(result.table["mean"]).all() and (result.table["mean"] > 0).all()
    assert result.best_params in grid


def test_purge_must_cover_the_label_horizon(small):
    with pytest.raises(ValueError, match=r"cv\.horizon=1 is shorter than the label horizon 5"):
        select_by_purged_cv(
            LSTMCandidate, [{**TINY_LSTM, "horizon": 5}], small, cv=PurgedKFold(3, horizon=1)
        )


def test_lstm_trains_on_the_given_rows_only(small):
    cfg = LSTMConfig(**TINY_LSTM)
    rows = np.arange(300, 600)
    model = LSTMForecaster(cfg).fit(small, until=small.n_dates - 1, rows=rows)
    # samples: 3 assets per row, those rows only (minus the early-stopping tail)
    assert model.n_train_ + model.n_val_ <= 3 * len(rows)
    # forecast_at is predict without the out-of-sample guard
    plain = LSTMForecaster(cfg).fit(small, until=599)
    np.testing.assert_array_equal(
        plain.forecast_at(small[:700], np.arange(600, 700)), plain.predict(small, 600, 700)[..., 0]
    )


def test_grid_forms_and_errors(small):
    cv = PurgedKFold(2)
    a = select_by_purged_cv(_constant, {"a": [1, 2], "b": ["x"]}, small, cv=cv)
    assert list(a.table.index) == ["a=1, b='x'", "a=2, b='x'"]
    with pytest.raises(ValueError, match="grid is empty"):
        select_by_purged_cv(_constant, [], small, cv=cv)
    with pytest.raises(TypeError, match=r"grid\['a'\]='xy'"):
        select_by_purged_cv(_constant, {"a": "xy"}, small, cv=cv)
