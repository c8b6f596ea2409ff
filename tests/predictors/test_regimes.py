from __future__ import annotations

import numpy as np
import pytest
from hmmlearn.hmm import GaussianHMM

import allocgym
from allocgym.exceptions import DataError
from allocgym.predictors import RegimeConfig, walk_forward
from allocgym.predictors.regimes import RegimeHMM, forward_filter, regime_inputs
from tests.predictors.conftest import assert_identical_until, perturb_after

FAST = RegimeConfig(n_restarts=2, n_iter=50)


@pytest.fixture(scope="module")
def separated():
    """A clearly separated 3-regime market (20 assets)."""
    return allocgym.make_synthetic_market(
        n_assets=20, n_days=1500, n_regimes=3, seed=3, separation=3.0
    )


def _hmmlearn_model(fitted: RegimeHMM) -> GaussianHMM:
    k = len(fitted.means_)
    model = GaussianHMM(n_components=k, covariance_type="full")
    model.startprob_, model.transmat_ = fitted.startprob_, fitted.transmat_
    model.means_, model.covars_ = fitted.means_, fitted.covars_
    return model


def test_forward_filter_equals_last_row_of_smoothing_on_the_past():
    # p(s_t | x_1..t) is the last row of the smoothed posterior of the sequence x_1..x_t.
    rng = np.random.default_rng(0)
    a = np.array([[0.9, 0.1], [0.2, 0.8]])
    pi = np.array([2 / 3, 1 / 3])  # stationary: pi @ a == pi
    model = GaussianHMM(n_components=2, covariance_type="full")
    model.startprob_, model.transmat_ = pi, a
    model.means_ = np.array([[0.0], [2.0]])
    model.covars_ = np.array([[[1.0]], [[1.0]]])
    x = rng.normal(0, 1.5, size=(40, 1))
    log_b = np.column_stack([-0.5 * (x[:, 0] - m) ** 2 for m in (0.0, 2.0)])
    filtered = forward_filter(log_b, np.log(a), np.log(pi))
    for t in (0, 5, 17, 39):
        np.testing.assert_allclose(filtered[t], model.predict_proba(x[: t + 1])[-1], atol=1e-10)


def test_filtered_probabilities_differ_from_smoothed(separated):
    market = separated.market
    model = RegimeHMM(FAST).fit(market, until=999)
    filtered = model.predict(market, 1000, 1500)
    z = (regime_inputs(market)[1000:1500] - model.input_mean_) / model.input_scale_
    smoothed = _hmmlearn_model(model).predict_proba(z)  # uses observations after t
    gap = np.abs(filtered - smoothed).max(axis=1)
    assert gap.max() > 0.3  # smoothing looks ahead around regime switches
    # ... while our value at t equals what the past alone implies.
    t = 1200
    assert_identical_until(filtered, model.predict(market[: t + 1], 1000, t + 1), t - 1000)


def test_states_ordered_by_volatility_and_labels_stable_across_refits(separated):
    market, truth = separated.market, separated.truth.regimes
    fits: list[RegimeHMM] = []
    out = walk_forward(
        lambda: RegimeHMM(RegimeConfig()),
        market,
        min_train=500,
        refit_every=250,
        train_window=750,
        on_refit=fits.append,
    )
    assert len(fits) == 4
    for r, fit in zip(range(500, 1500, 250), fits, strict=True):
        assert np.all(np.diff(fit.means_[:, 1]) > 0)  # state 0 = calmest
        block = slice(r, r + 250)
        # The same label means the same true regime in every refit block.
        assert (out[block].argmax(axis=1) == truth[block]).mean() > 0.8
    np.testing.assert_allclose(out[500:].sum(axis=1), 1.0)
    assert np.isnan(out[:500]).all()


@pytest.mark.parametrize("which", ["synthetic", "embedded"])
def test_point_in_time(which, synthetic_market, embedded_slice):
    market = synthetic_market if which == "synthetic" else embedded_slice
    t = 470
    base, changed = perturb_after(market, t)

    def run(m):
        return walk_forward(
            lambda: RegimeHMM(FAST, seed=1), m, min_train=300, refit_every=150, train_window=400
        )

    a, b = run(base), run(changed)
    assert_identical_until(a, b, t)
    assert not np.allclose(a[t + 1 :], b[t + 1 :])


def test_too_little_data_raises(synthetic_market):
    with pytest.raises(DataError, match="at least 30 rows"):
        RegimeHMM(RegimeConfig()).fit(synthetic_market, until=20)


@pytest.mark.parametrize("n_states", [2, 4])
def test_other_state_counts(synthetic_market, n_states):
    model = RegimeHMM(RegimeConfig(n_states=n_states, n_restarts=1, n_iter=30))
    model.fit(synthetic_market, until=599)
    probs = model.predict(synthetic_market, 600, 800)
    assert probs.shape == (200, n_states)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    assert np.all(np.diff(model.means_[:, 1]) > 0)
    assert model.feature_names_for(synthetic_market)[-1] == f"regime_p{n_states - 1}"
