"""ToleranceBands: trade only what drifted out of its band."""

from __future__ import annotations

import numpy as np
import pytest

from allocgym.baselines import EqualWeight
from allocgym.overlays import ToleranceBands, band_trade
from tests.overlays._helpers import drive, market

TARGET = np.array([0.0, 0.25, 0.25, 0.5])


def test_nothing_out_of_band_holds():
    w = np.array([0.0, 0.28, 0.24, 0.48])
    new, out = band_trade(w, TARGET, 0.05, None)
    np.testing.assert_array_equal(new, w)
    assert not out.any()


def test_asset_scope_trades_the_breach_and_rescales_the_rest():
    w = np.array([0.0, 0.35, 0.22, 0.43])  # asset 1 is 10 points out, asset 3 only 7 > 5
    new, out = band_trade(w, TARGET, 0.08, None)
    np.testing.assert_array_equal(out, [False, True, False, False])
    # asset 1 back to 0.25; the others share the freed 0.10 in proportion: x (0.75 / 0.65)
    np.testing.assert_allclose(new, [0.0, 0.25, 0.22 * 0.75 / 0.65, 0.43 * 0.75 / 0.65])
    assert new.sum() == pytest.approx(1.0, abs=1e-15)


def test_relative_band_is_a_fraction_of_the_target_weight():
    w = np.array([0.0, 0.30, 0.22, 0.48])  # asset 1: 0.05 > 0.1 * 0.25; asset 3: 0.02 < 0.05
    _, out = band_trade(w, TARGET, None, 0.1)
    np.testing.assert_array_equal(out, [False, True, True, False])  # asset 2: 0.03 > 0.025


def test_book_scope_trades_everything():
    w = np.array([0.0, 0.35, 0.22, 0.43])
    new, _ = band_trade(w, TARGET, 0.08, None, scope="book")
    np.testing.assert_array_equal(new, TARGET)


def test_weights_stay_a_long_only_allocation():
    rng = np.random.default_rng(0)
    for _ in range(200):
        w, t = rng.dirichlet(np.ones(6)), rng.dirichlet(np.ones(6))
        new, out = band_trade(w, t, 0.05, 0.3)
        assert new.sum() == pytest.approx(1.0, abs=1e-12) and (new >= 0).all()
        np.testing.assert_array_equal(new[out], t[out])


def test_in_a_run_trades_only_on_a_breach():
    mkt = market(400, n_assets=3, seed=1, vol=0.02)
    ov = ToleranceBands(EqualWeight(rebalance_every=1), band=0.05)
    held, targets = drive(ov, mkt, None, 30)
    traded = [i for i, (h, w) in enumerate(zip(held, targets, strict=True))
              if not np.array_equal(h, w)]  # fmt: skip
    assert traded[0] == 0 and len(traded) == ov.n_rebalances_ >= 2
    equal = np.array([0.0, 1 / 3, 1 / 3, 1 / 3])
    drift = [np.abs(h - equal).max() for h in held]
    assert all(drift[i] > 0.05 for i in traded[1:])
    assert all(drift[i] <= 0.05 for i in range(1, len(held)) if i not in traded)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"band": 0.0}, "band=0.0"),
        ({"band": 1.0}, "band=1.0"),
        ({"band": 1.5}, "band=1.5"),
        ({"relative": -0.1}, "relative=-0.1"),
        ({"band": None}, "band=None and relative=None"),
        ({"scope": "all"}, "scope='all'"),
    ],
)
def test_errors_name_the_parameter(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ToleranceBands(EqualWeight(), **kwargs)
