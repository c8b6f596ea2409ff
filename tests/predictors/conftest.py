"""Helpers for the point-in-time tests of the predictors."""

from __future__ import annotations

import numpy as np

from allocgym.data import MarketData


def perturb_after(market: MarketData, t: int, seed: int = 1) -> tuple[MarketData, MarketData]:
    """(base, changed): copies of ``market``, the second with every price after row t changed.

    Both are rebuilt from their prices the same way, so derived arrays (returns) go
    through identical arithmetic; a slice of a bigger market may differ from a rebuilt
    copy in the last bit because vectorised ``log`` depends on the array layout.
    """
    base = market.with_prices(np.array(market.prices, copy=True))
    rng = np.random.default_rng(seed)
    prices = np.array(market.prices, copy=True)
    shock = np.exp(np.cumsum(rng.normal(0.0, 0.03, size=prices[t + 1 :].shape), axis=0))
    prices[t + 1 :] = prices[t + 1 :] * shock * 1.7
    changed = market.with_prices(prices)
    assert not np.allclose(changed.prices[t + 1 :], market.prices[t + 1 :], equal_nan=True)
    return base, changed


def first_assets(market: MarketData, n: int = 4) -> MarketData:
    """The first n assets of ``market`` (keeps the slow tests fast)."""
    return MarketData.from_prices(market.prices[:, :n], market.dates, market.assets[:n])


def assert_identical_until(a: np.ndarray, b: np.ndarray, t: int) -> None:
    """Rows 0..t of a and b are bit-identical (NaN where NaN)."""
    a, b = np.asarray(a)[: t + 1], np.asarray(b)[: t + 1]
    assert a.shape == b.shape
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    assert same.all(), (
        f"{(~same).sum()} values at rows <= {t} changed; first at {np.argwhere(~same)[0]}"
    )


def assert_schedule_point_in_time(factory, base: MarketData, changed: MarketData, t: int) -> None:
    """Walk-forward predictions of ``factory`` (refit every 150 rows from row 300 on a
    400-row window) are identical at rows <= t on both markets, differ after, and are
    absent before the first fit."""
    from allocgym.predictors.schedule import walk_forward

    def run(m: MarketData) -> np.ndarray:
        return walk_forward(factory, m, min_train=300, refit_every=150, train_window=400)

    a, b = run(base), run(changed)
    assert np.isfinite(a[300:]).all() and np.isnan(a[:300]).all()
    assert_identical_until(a, b, t)
    assert not np.allclose(a[t + 1 :], b[t + 1 :])
