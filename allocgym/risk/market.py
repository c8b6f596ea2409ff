"""Which market index a run is compared with: ``report.market`` and ``--market``.

A market spec is one of

- ``auto`` (the default; ``null`` in YAML): the embedded S&P 500 index for a run on the
  embedded stocks, no market comparison for any other data;
- ``sp500``: the embedded S&P 500 price index (1990-2022, no dividends);
- ``none``: no market comparison;
- a CSV/Parquet file of index levels (a date column and one or more level columns):
  ``FILE`` or ``FILE:COLUMN`` on the command line, or ``{source: FILE, column: COLUMN}``
  in YAML (``column`` may be left out when the file has one value column).

:meth:`MarketSpec.parse` checks the spelling, that the file exists and that the column
is in it; :meth:`MarketSpec.returns` checks that the index has dates in common with the
run's, and gives the index's daily simple returns on exactly the run's dates.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from allocgym.exceptions import ConfigError, DataError

__all__ = ["EMBEDDED_INDEX", "MARKET_KINDS", "MarketSpec", "run_market_spec"]

MARKET_KINDS = ("auto", "sp500", "none")
EMBEDDED_INDEX = "the S&P 500 index (price index)"
_FILE_KEYS = ("source", "column")
_EXPECTED = (
    "'sp500', 'none', 'auto' (null), a file 'FILE[:COLUMN]', or a mapping "
    "{source: FILE, column: COLUMN} of index levels"
)


@dataclass(frozen=True)
class MarketSpec:
    """A parsed market spec: ``kind`` is ``auto``, ``sp500``, ``none`` or ``file``."""

    kind: str
    source: str | None = None
    column: str | None = None

    # ---------------------------------------------------------------- parsing
    @classmethod
    def parse(cls, value: Any, where: str = "market") -> MarketSpec:
        """The spec of a YAML value or a ``--market`` string; a file is checked to exist
        and to hold ``column`` (its levels are read and validated).

        Raises
        ------
        ConfigError
            Naming ``where``, the offending value and what is expected.
        """
        spec = cls._spelling(value, where)
        if spec.kind == "file":
            spec.levels(where)
        return spec

    @classmethod
    def _spelling(cls, value: Any, where: str) -> MarketSpec:
        if value is None:
            return cls("auto")
        if isinstance(value, dict):
            unknown = sorted(str(k) for k in value if k not in _FILE_KEYS)
            if unknown:
                raise ConfigError(
                    f"{where}: unknown key(s) {unknown}; allowed keys: {list(_FILE_KEYS)}"
                )
            source, column = value.get("source"), value.get("column")
            if not isinstance(source, str | os.PathLike) or not str(source).strip():
                raise ConfigError(
                    f"{where}.source: {source!r} is invalid; expected the path of a "
                    "CSV/Parquet file of index levels"
                )
            if column is not None and not isinstance(column, str):
                raise ConfigError(
                    f"{where}.column: {column!r} is invalid; expected a column name (a string)"
                )
            return cls("file", str(source), column)
        if not isinstance(value, str | os.PathLike) or not str(value).strip():
            raise ConfigError(f"{where}: {value!r} is invalid; expected {_EXPECTED}")
        text = str(value).strip()
        if text.lower() in MARKET_KINDS:
            return cls(text.lower())
        # FILE:COLUMN, unless the whole text names a file (a Windows drive, a colon in a name)
        if ":" in text and not Path(text).exists():
            source, column = text.rsplit(":", 1)
            if source and column:
                return cls("file", source, column)
        return cls("file", text, None)

    def resolve(self, data_source: str | None) -> MarketSpec:
        """``auto`` made concrete: ``sp500`` for the embedded stocks, else ``none``."""
        if self.kind != "auto":
            return self
        from allocgym.data import EMBEDDED_SOURCE

        embedded = str(data_source or "").startswith(EMBEDDED_SOURCE.split(" (")[0])
        return MarketSpec("sp500" if embedded else "none")

    # ---------------------------------------------------------------- data
    @property
    def name(self) -> str:
        """How the report names the index ("the S&P 500 index (price index)", "SPX (index.csv)")."""
        if self.kind == "sp500":
            return EMBEDDED_INDEX
        if self.kind == "file":
            label = self.column or Path(str(self.source)).stem
            return f"{label} ({Path(str(self.source)).name})"
        return "the market"

    def to_text(self) -> str:
        """The spec as ``--market`` spells it."""
        if self.kind != "file":
            return self.kind
        return str(self.source) + (f":{self.column}" if self.column else "")

    def levels(self, where: str = "market") -> pd.Series | None:
        """The index levels by date (``None`` for ``none``; ``auto`` must be resolved)."""
        from allocgym.data.benchmark import load_benchmark

        if self.kind == "none":
            return None
        if self.kind == "auto":
            raise ValueError("resolve() an 'auto' market spec against the run's data first")
        if self.kind == "sp500":
            return load_benchmark()
        path = Path(str(self.source))
        if not path.is_file():
            raise ConfigError(
                f"{where}: file {str(self.source)!r} not found; expected a CSV/Parquet file "
                "of index levels (a date column and the levels), or 'sp500' / 'none'"
            )
        try:
            return load_benchmark(path, column=self.column)
        except DataError as exc:
            raise ConfigError(f"{where} {self.to_text()!r}: {exc}") from None

    def returns(self, dates: pd.DatetimeIndex, where: str = "market") -> pd.Series | None:
        """The index's daily simple returns on exactly ``dates`` (``None`` for ``none``).

        The levels are aligned to ``dates`` (:func:`~allocgym.data.align_benchmark`:
        holidays forward-filled, dates outside the index NaN with a warning); the return
        on ``dates[0]`` is taken from the index's last level before it, if any.

        Raises
        ------
        ConfigError
            The index has no date in common with ``dates`` (both ranges shown), or a gap
            inside it.
        """
        from allocgym.data.benchmark import align_benchmark, benchmark_returns

        levels = self.levels(where)
        if levels is None:
            return None
        dates = pd.DatetimeIndex(dates)
        before = levels.index[levels.index < dates[0]] if len(dates) else levels.index[:0]
        grid = dates.union(before[-1:])
        try:
            aligned = align_benchmark(levels, grid)
        except DataError as exc:
            raise ConfigError(f"{where} {self.to_text()!r}: {exc}") from None
        return benchmark_returns(aligned).reindex(dates)


def run_market_spec(results: Any, override: Any = None, where: str = "--market") -> MarketSpec:
    """The concrete market spec of a run: ``override`` (a ``--market`` value), else the
    run's ``report.market`` (saved in its experiment config), else ``auto``; ``auto`` is
    resolved against the run's data source."""
    config = results.config or {}
    if override is None:
        report = (config.get("experiment") or {}).get("report") or {}
        override, where = report.get("market"), "report.market"
    source = (config.get("data") or {}).get("source")
    return MarketSpec.parse(override, where).resolve(source)
