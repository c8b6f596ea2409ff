"""`FeaturePanel`: point-in-time features aligned with a `MarketData`."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from allocgym._typing import BoolArray, Float32Array
from allocgym.exceptions import DataError

__all__ = ["FeaturePanel"]


@dataclass(frozen=True, eq=False, repr=False)
class FeaturePanel:
    """Per-asset and market-level features, every value computed from data dated <= t.

    Attributes
    ----------
    dates : pandas.DatetimeIndex, shape (n_dates,)
        The same trading days as the market the panel was built from.
    assets : tuple of str, shape (n_assets,)
    values : ndarray of float32, shape (n_dates, n_assets, n_features)
        Per-asset features known at the close of t; NaN where unknown (before a
        predictor's first fit, before an asset's first price, warm-up of a window).
    feature_names : tuple of str, shape (n_features,)
    market_values : ndarray of float32, shape (n_dates, n_market_features)
        Market-level features known at the close of t (e.g. forward-filtered regime
        probabilities); NaN where unknown.
    market_feature_names : tuple of str, shape (n_market_features,)
    available : ndarray of bool, shape (n_dates, n_assets)
        True where the asset trades at t and all its features are finite.
    key : str
        Cache key derived from the data and the config ('' if not cached).
    diagnostics : mapping of str to JSON-serialisable values
        What happened while building, e.g. ``{"garch_fallbacks": 3, "refits": 31}``.
    """

    dates: pd.DatetimeIndex
    assets: tuple[str, ...]
    values: Float32Array
    feature_names: tuple[str, ...]
    market_values: Float32Array
    market_feature_names: tuple[str, ...]
    available: BoolArray
    key: str = ""
    diagnostics: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n, m, f = len(self.dates), len(self.assets), len(self.feature_names)
        g = len(self.market_feature_names)
        expected = {
            "values": (n, m, f),
            "market_values": (n, g),
            "available": (n, m),
        }
        for name, shape in expected.items():
            arr = getattr(self, name)
            if arr.shape != shape:
                raise DataError(f"FeaturePanel.{name} has shape {arr.shape}; expected {shape}")
            arr = np.asarray(arr)
            if arr.flags.writeable:
                arr = arr.view()
                arr.flags.writeable = False
            object.__setattr__(self, name, arr)

    @property
    def n_dates(self) -> int:
        return len(self.dates)

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    def __len__(self) -> int:
        return self.n_dates

    def __getitem__(self, rows: slice) -> FeaturePanel:
        """Positional slice of the dates; returns views that stay aligned."""
        if not isinstance(rows, slice) or rows.step not in (None, 1):
            raise TypeError(
                f"FeaturePanel supports contiguous slices like panel[10:500]; got {rows!r}"
            )
        return self._rows(rows)

    def _rows(self, rows: slice) -> FeaturePanel:
        """``self[rows]`` built without re-running the shape checks of ``__post_init__``.

        A contiguous slice of a validated panel is valid by construction (every array
        loses the same rows; views of read-only arrays are read-only), and the
        backtester slices ``panel[: t + 1]`` at every step of every policy.
        ``tests/predictors/test_panel.py`` checks that this equals the validated
        ``dataclasses.replace`` slice field by field.
        """
        view = object.__new__(type(self))
        fields = view.__dict__  # frozen: fill the instance dict, as __init__ would
        fields.update({name: self.__dict__[name] for name in self.__dataclass_fields__})
        fields["dates"] = self.dates[rows]
        for name in ("values", "market_values", "available"):
            fields[name] = fields[name][rows]
        return view

    def feature(self, name: str) -> Float32Array:
        """One per-asset feature, shape (n_dates, n_assets)."""
        try:
            return self.values[:, :, self.feature_names.index(name)]
        except ValueError:
            raise KeyError(
                f"feature {name!r} is not in the panel; available: {list(self.feature_names)}"
            ) from None

    def market_feature(self, name: str) -> Float32Array:
        """One market-level feature, shape (n_dates,)."""
        try:
            return self.market_values[:, self.market_feature_names.index(name)]
        except ValueError:
            raise KeyError(
                f"market feature {name!r} is not in the panel; available: "
                f"{list(self.market_feature_names)}"
            ) from None

    def select(self, names: Collection[str]) -> FeaturePanel:
        """The panel with only the per-asset and market features in ``names`` (panel
        order kept; names the panel lacks are an error). ``available`` is kept as it is;
        the selection is not a cached panel (``key=""``)."""
        missing = set(names) - set(self.feature_names) - set(self.market_feature_names)
        if missing:
            raise KeyError(
                f"features {sorted(missing)} are not in the panel; available: "
                f"{list(self.feature_names + self.market_feature_names)}"
            )
        cols = [i for i, n in enumerate(self.feature_names) if n in names]
        mcols = [i for i, n in enumerate(self.market_feature_names) if n in names]
        return replace(
            self,
            values=self.values[:, :, cols],
            feature_names=tuple(self.feature_names[i] for i in cols),
            market_values=self.market_values[:, mcols],
            market_feature_names=tuple(self.market_feature_names[i] for i in mcols),
            key="",
        )

    def align(self, dates: pd.DatetimeIndex) -> FeaturePanel:
        """The rows for ``dates`` (which must all be in the panel)."""
        pos = self.dates.get_indexer(dates)
        if (pos < 0).any():
            missing = dates[pos < 0]
            raise DataError(
                f"FeaturePanel has no row for {len(missing)} requested dates (first "
                f"{missing[0].date()}); panel covers {self.dates[0].date()} to "
                f"{self.dates[-1].date()}"
            )
        if pos.size and (np.diff(pos) == 1).all():
            return self[int(pos[0]) : int(pos[-1]) + 1]
        return replace(
            self,
            dates=self.dates[pos],
            values=self.values[pos],
            market_values=self.market_values[pos],
            available=self.available[pos],
        )

    def __repr__(self) -> str:
        return (
            f"FeaturePanel({self.n_dates} dates x {len(self.assets)} assets x "
            f"{self.n_features} features + {len(self.market_feature_names)} market features)"
        )
