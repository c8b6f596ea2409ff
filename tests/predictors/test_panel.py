"""FeaturePanel: shape checks, read-only arrays, aligned slicing."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from allocgym.exceptions import DataError
from allocgym.predictors.panel import FeaturePanel


@pytest.fixture
def panel() -> FeaturePanel:
    rng = np.random.default_rng(0)
    n, m = 60, 3
    values = rng.normal(size=(n, m, 2)).astype(np.float32)
    values[:5] = np.nan  # warm-up
    return FeaturePanel(
        dates=pd.bdate_range("2020-01-01", periods=n),
        assets=("A", "B", "C"),
        values=values,
        feature_names=("momentum", "garch_vol"),
        market_values=rng.uniform(size=(n, 1)).astype(np.float32),
        market_feature_names=("p_bull",),
        available=np.isfinite(values).all(axis=2),
        key="abc123",
        diagnostics={"garch_fallbacks": 1, "refits": 2},
    )


def _validated_slice(panel: FeaturePanel, rows: slice) -> FeaturePanel:
    """The reference: a slice that goes through every check of ``__post_init__``."""
    return dataclasses.replace(
        panel,
        dates=panel.dates[rows],
        values=panel.values[rows],
        market_values=panel.market_values[rows],
        available=panel.available[rows],
    )


def test_arrays_are_read_only_and_shapes_checked(panel: FeaturePanel) -> None:
    with pytest.raises(ValueError, match="read-only"):
        panel.values[0, 0, 0] = 1.0
    with pytest.raises(DataError, match=r"FeaturePanel.available has shape \(60, 2\)"):
        dataclasses.replace(panel, available=panel.available[:, :2])


@pytest.mark.parametrize("rows", [slice(None, 31), slice(4, 60), slice(0, 1), slice(9, 9)])
def test_fast_slice_equals_the_validated_slice(panel: FeaturePanel, rows: slice) -> None:
    fast, ref = panel[rows], _validated_slice(panel, rows)
    assert type(fast) is FeaturePanel
    for f in dataclasses.fields(FeaturePanel):
        a, b = getattr(fast, f.name), getattr(ref, f.name)
        if isinstance(a, np.ndarray):
            np.testing.assert_array_equal(a, b, err_msg=f.name)
            assert a.dtype == b.dtype and not a.flags.writeable, f.name
            assert np.shares_memory(a, getattr(panel, f.name)) or a.size == 0, f.name
        elif isinstance(a, pd.DatetimeIndex):
            assert a.equals(b), f.name
        else:
            assert a == b, f.name
    assert set(vars(fast)) == set(vars(ref))
    with pytest.raises(ValueError, match="read-only"):
        fast.values[...] = 0.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.key = "x"


def test_refuses_steps_and_align_picks_rows(panel: FeaturePanel) -> None:
    with pytest.raises(TypeError, match=r"panel\[10:500\]"):
        panel[::2]
    contiguous = panel.align(panel.dates[10:20])
    np.testing.assert_array_equal(contiguous.values, panel.values[10:20])
    picked = panel.align(panel.dates[[3, 7, 8]])  # fancy rows: copies, still read-only
    np.testing.assert_array_equal(picked.market_values, panel.market_values[[3, 7, 8]])
    assert not picked.values.flags.writeable
    with pytest.raises(DataError, match="no row for 1 requested dates"):
        panel.align(pd.DatetimeIndex(["1999-01-01"]))
