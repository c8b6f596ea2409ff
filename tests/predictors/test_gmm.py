"""RegimeGMM: point in time, volatility-ordered, stable labels, selectable in the config."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.mixture import GaussianMixture

import allocgym
from allocgym.exceptions import ConfigError, DataError
from allocgym.predictors import FeatureConfig, RegimeConfig, build_features, walk_forward
from allocgym.predictors.cache import cache_key
from allocgym.predictors.evaluate import regime_accuracy
from allocgym.predictors.regime_gmm import RegimeGMM
from allocgym.predictors.regimes import regime_inputs
from tests.predictors.conftest import assert_schedule_point_in_time, perturb_after

FAST = RegimeConfig(n_restarts=2, n_iter=50, model="gmm")


@pytest.fixture(scope="module")
def separated():
    """A clearly separated 3-regime market (20 assets), as in test_regimes."""
    return allocgym.make_synthetic_market(
        n_assets=20, n_days=1500, n_regimes=3, seed=3, separation=3.0
    )


@pytest.mark.parametrize("which", ["synthetic", "embedded"])
def test_point_in_time(which, synthetic_market, embedded_slice):
    market = synthetic_market if which == "synthetic" else embedded_slice
    t = 470
    base, changed = perturb_after(market, t)
    assert_schedule_point_in_time(lambda: RegimeGMM(FAST, seed=1), base, changed, t)


def test_probability_at_t_is_the_posterior_of_the_inputs_at_t(separated):
    market = separated.market
    model = RegimeGMM(FAST).fit(market, until=999)
    probs = model.predict(market, 1000, 1500)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    # the same numbers as sklearn's predict_proba with the (reordered) fitted parameters
    gm = GaussianMixture(n_components=3, covariance_type="full")
    gm.weights_, gm.means_, gm.covariances_ = model.weights_, model.means_, model.covars_
    gm.precisions_cholesky_ = np.linalg.cholesky(np.linalg.inv(model.covars_))
    z = (regime_inputs(market)[1000:1500] - model.input_mean_) / model.input_scale_
    np.testing.assert_allclose(probs, gm.predict_proba(z), atol=1e-8)
    # no dynamics: a row depends on its own inputs only, whatever came before (alone or
    # in a batch, numpy's vectorised sums may differ in the last bit; a filter carrying
    # yesterday's posterior would move these probabilities by orders of magnitude more)
    alone = model.predict(market, 1200, 1201)
    np.testing.assert_allclose(alone, probs[200:201], rtol=1e-12, atol=1e-300)


def test_states_ordered_by_volatility_and_labels_stable_across_refits(separated):
    market, truth = separated.market, separated.truth.regimes
    fits: list[RegimeGMM] = []
    out = walk_forward(
        lambda: RegimeGMM(RegimeConfig(model="gmm")),
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
        # the same label means the same true regime in every refit block
        assert (out[block].argmax(axis=1) == truth[block]).mean() > 0.7
    assert regime_accuracy(out, truth) > 0.75
    assert np.isnan(out[:500]).all()


def test_missing_inputs_get_the_mixture_weights(synthetic_market):
    model = RegimeGMM(FAST).fit(synthetic_market, until=399)
    x = np.array([[np.nan, np.nan], [0.0, -4.0]])
    p = model.posterior(x)
    np.testing.assert_allclose(p[0], model.weights_)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)


def test_too_little_data_raises(synthetic_market):
    with pytest.raises(DataError, match="at least 30 rows"):
        RegimeGMM(RegimeConfig(model="gmm")).fit(synthetic_market, until=20)


def test_selectable_in_the_feature_config(synthetic_market):
    cfg = FeatureConfig.from_dict(
        {
            "garch": None,
            "lstm": None,
            "regime": {"model": "gmm", "n_states": 2, "n_restarts": 1},
            "min_train": 300,
            "refit_every": 250,
        }
    )
    panel = build_features(synthetic_market, cfg, cache_dir=False, progress=False)
    assert panel.market_feature_names == ("regime_p0", "regime_p1")
    direct = walk_forward(
        lambda: RegimeGMM(cfg.regime, seed=cfg.seed),
        synthetic_market,
        min_train=300,
        refit_every=250,
        train_window=cfg.train_window,
    )
    np.testing.assert_array_equal(panel.market_values, direct.astype(np.float32))
    with pytest.raises(ConfigError, match=r"regime\.model='markov'"):
        RegimeConfig(model="markov")


def test_default_model_leaves_the_cache_key_unchanged(synthetic_market):
    # the JSON of a default config is that of the config before `model` existed
    for cfg in (
        FeatureConfig(),
        FeatureConfig(regime=RegimeConfig(n_states=2)),
        FeatureConfig(regime=None),
    ):
        old = cfg.to_dict()
        if old["regime"] is not None:
            assert old["regime"].pop("model") == "hmm"
        assert cfg.to_json() == json.dumps(old, sort_keys=True)
    gmm = FeatureConfig(regime=RegimeConfig(model="gmm"))
    assert '"model": "gmm"' in gmm.to_json()
    assert cache_key(synthetic_market, gmm) != cache_key(synthetic_market, FeatureConfig())
    assert FeatureConfig.from_dict(gmm.to_dict()) == gmm
