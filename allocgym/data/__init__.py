"""Market data: the `MarketData` container, loaders, validation, a synthetic market, benchmarks."""

from allocgym.data.benchmark import (
    EMBEDDED_BENCHMARK,
    BenchmarkCoverageWarning,
    align_benchmark,
    benchmark_returns,
    load_benchmark,
)
from allocgym.data.loaders import EMBEDDED_SOURCE, load_market, read_table
from allocgym.data.market import MarketData
from allocgym.data.synthetic import SyntheticMarket, SyntheticTruth, make_synthetic_market
from allocgym.data.validation import DEFAULT_MAX_FILL, validate_prices

__all__ = [
    "DEFAULT_MAX_FILL",
    "EMBEDDED_BENCHMARK",
    "EMBEDDED_SOURCE",
    "BenchmarkCoverageWarning",
    "MarketData",
    "SyntheticMarket",
    "SyntheticTruth",
    "align_benchmark",
    "benchmark_returns",
    "load_benchmark",
    "load_market",
    "make_synthetic_market",
    "read_table",
    "validate_prices",
]
