"""Observation table: causal standardisation, the parts of a row, the observation space."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from allocgym.envs.observation import ObservationTable, causal_standardise


def reference_standardise(x, window, *, demean, min_periods, clip):
    """Plain loop: statistics of the finite values among the last ``window`` rows <= t."""
    out = np.zeros(x.shape)
    for t in range(x.shape[0]):
        start = 0 if window is None else max(0, t - window + 1)
        for j in range(x.shape[1]):
            past = x[start : t + 1, j]
            past = past[np.isfinite(past)]
            if not np.isfinite(x[t, j]) or len(past) < min_periods:
                continue
            mean = past.mean() if demean else 0.0
            std = math.sqrt(np.mean((past - mean) ** 2))
            if std > 0.0:
                out[t, j] = np.clip((x[t, j] - mean) / std, -clip, clip)
    return out


def messy_columns(n: int, seed: int = 0) -> np.ndarray:
    """Leading and interior NaN, a level of 1e8 (precision), and a 40-sigma spike (clip)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    x[:7, 0] = np.nan
    x[n // 2 : n // 2 + 3, 0] = np.nan
    x[:, 1] += 1e8
    x[n - 5, 2] = 40.0
    return x


@pytest.mark.parametrize("window", [None, 10])
@pytest.mark.parametrize("demean", [True, False])
def test_causal_standardise_matches_a_plain_loop(window, demean):
    x = messy_columns(60)
    if not demean:
        x[:, 1] -= 1e8  # scaling by the root mean square of a level would be a constant
    got = causal_standardise(x, window, demean=demean, min_periods=5, clip=2.0)
    want = reference_standardise(x, window, demean=demean, min_periods=5, clip=2.0)
    # atol: the loop itself loses ~1e-8 at the level 1e8
    np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-7)
    assert np.abs(got).max() == 2.0  # the spike is clipped
    assert (got[:11, 0] == 0).all() and (got[11:30, 0] != 0).all()  # 5 values needed


def test_causal_standardise_defaults():
    # window 252, demeaned, 20 values needed, clipped to +-5 (the documented defaults)
    x = messy_columns(300, seed=1)
    want = reference_standardise(x, 252, demean=True, min_periods=20, clip=5.0)
    np.testing.assert_allclose(
        causal_standardise(x), want, rtol=1e-7, atol=1e-7
    )  # the loop loses ~1e-8 at level 1e8
    assert causal_standardise(x)[295, 2] == 5.0


def test_causal_standardise_uses_no_future_rows():
    x = messy_columns(80, seed=2)
    full = causal_standardise(x, 15, min_periods=5)
    for t in (10, 40, 79):
        np.testing.assert_array_equal(
            causal_standardise(x[: t + 1], 15, min_periods=5), full[: t + 1]
        )


def test_constant_and_unknown_columns_give_zeros():
    # a column constant over the window (here after a jump: the running statistics are shifted
    # by the first value), an all-NaN column and a NaN row are 0, never NaN
    x = np.zeros((40, 3))
    x[:, 0] = 3.0
    x[5:, 0] = 8.0
    x[:, 1] = np.nan
    x[:, 2] = np.arange(40.0)
    x[25, 2] = np.nan
    z = causal_standardise(x, 5, min_periods=3)
    assert np.isfinite(z).all()
    assert (z[10:, 0] == 0).all() and (z[:, 1] == 0).all() and z[25, 2] == 0
    np.testing.assert_allclose(
        z[30, 2], 2 / math.sqrt(2), rtol=1e-12
    )  # 26..30: mean 28, std sqrt(2)


def test_zero_variance_guard_is_1e_minus_12():
    # the guard is std > 1e-12 (1 + |mean|): +-1.5e-12 around 0 is data, +-1e-12 (a standard
    # deviation of exactly 1e-12 in several windows) counts as no variation
    x = np.tile([1.5e-12, -1.5e-12], 20)[:, None]
    z = causal_standardise(x, 10, min_periods=4)
    np.testing.assert_allclose(z[10:, 0], np.tile([1.0, -1.0], 15), rtol=1e-9)
    x = np.concatenate([[0.0], np.tile([1e-12, -1e-12], 20)])[:, None]
    assert (causal_standardise(x, 4, min_periods=4) == 0).all()


def test_row_parts_are_the_standardised_inputs_up_to_t(small_market, small_panel):
    # each part of row t - lo, asset-major, from the columns' own causal standardisation
    table = ObservationTable(small_market, small_panel, 5, 2, 299, norm_window=50)
    lo, sl = 2, table.layout.slices
    rows = table.to_dict(table.table)
    values = np.asarray(small_panel.values, dtype=np.float64)
    for i in range(small_market.n_assets):
        for k in range(small_panel.n_features):
            z = causal_standardise(values[:, i, k : k + 1], 50)[lo:, 0]
            np.testing.assert_allclose(rows["features"][:, i, k], z, rtol=1e-6, atol=1e-6)
    z = causal_standardise(np.asarray(small_panel.market_values), 50)[lo:]
    np.testing.assert_allclose(rows["market"], z, rtol=1e-6, atol=1e-6)
    # returns: the last 5 log returns scaled by their causal RMS (not demeaned), 0 before day 0
    zr = causal_standardise(np.asarray(small_market.log_returns), 50, demean=False)
    padded = np.vstack([np.zeros((4, small_market.n_assets)), zr])
    for t in (2, 3, 100, 299):
        want = padded[t : t + 5].T  # rows t-4 .. t of zr, per asset
        np.testing.assert_allclose(rows["returns"][t - lo], want, rtol=1e-6, atol=1e-6)
    assert (rows["returns"][0][:, :2] == 0).all()  # days -2 and -1 do not exist
    assert np.abs(zr).max() > 1.0  # not a table of zeros
    # the mask: the asset trades and its features are known
    available = np.asarray(small_market.available) & np.asarray(small_panel.available)
    np.testing.assert_array_equal(table.available, available)
    np.testing.assert_array_equal(rows["mask"], available[lo:])
    assert not available[lo:20].all() and available[100].all()  # vol_10 needs 10 days
    assert "time" not in sl and (table.table[:, sl["weights"]] == 0).all()


def test_time_features_are_weekday_and_day_of_year_cycles(small_market):
    obs = ObservationTable(small_market, None, 3, 0, 299, time_features=True)
    dates = pd.DatetimeIndex(small_market.dates)
    a = 2 * np.pi * dates.day_of_week.to_numpy() / 5.0  # Monday = 0
    b = 2 * np.pi * (dates.day_of_year.to_numpy() - 1) / 365.25  # 1 January = 0
    want = np.stack([np.sin(a), np.cos(a), np.sin(b), np.cos(b)], axis=1)
    np.testing.assert_allclose(obs.to_dict(obs.table)["time"], want, atol=1e-6)
    assert len(set(dates.day_of_week)) == 5 and dates.day_of_year.max() >= 360


@pytest.mark.parametrize(
    ("kwargs", "bound"),
    [({}, 1.0), ({"long_only": False}, 20.0), ({"long_only": False, "max_leverage": 2.5}, 35.0)],
)
def test_observation_space_bounds(small_market, small_panel, kwargs, bound):
    # standardised parts within +-clip, mask in [0, 1], calendar in [-1, 1], weights in
    # [0, 1] long only or +-10 (1 + max_leverage) long/short; every row lies in the space
    obs = ObservationTable(small_market, small_panel, 4, 10, 299, time_features=True, **kwargs)
    space, sl = obs.flat_space(), obs.layout.slices
    assert obs.weight_bound == bound
    expected = {"features": (-5, 5), "market": (-5, 5), "returns": (-5, 5), "mask": (0, 1),
                "time": (-1, 1), "weights": (0 if bound == 1.0 else -bound, bound)}  # fmt: skip
    assert set(sl) == set(expected)
    for key, (low, high) in expected.items():
        assert (space.low[sl[key]] == low).all() and (space.high[sl[key]] == high).all(), key
        part = obs.dict_space()[key]
        assert part.shape == obs.layout.shapes[key]
        assert (part.low == low).all() and (part.high == high).all(), key
    assert all(space.contains(row) for row in obs.table)


def test_observation_table_defaults(small_market, small_panel):
    # norm_window 252, no calendar features, long only (max_leverage 1), clip 5
    default = ObservationTable(small_market, small_panel, 5, 250, 299)
    explicit = ObservationTable(
        small_market, small_panel, 5, 250, 299, norm_window=252, time_features=False,
        long_only=True, max_leverage=1.0, clip=5.0,
    )  # fmt: skip
    np.testing.assert_array_equal(default.table, explicit.table)
    assert default.layout == explicit.layout and "time" not in default.layout.slices
    assert default.flat_space() == explicit.flat_space()
    other = ObservationTable(small_market, small_panel, 5, 250, 299, norm_window=253)
    assert not np.array_equal(default.table, other.table)  # the window matters at day 252+
    assert ObservationTable(small_market, None, 5, 250, 299, long_only=False).weight_bound == 20.0
