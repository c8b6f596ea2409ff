"""Market data: the `MarketData` container, loaders, validation and a synthetic market."""

from allocgym.data.loaders import EMBEDDED_SOURCE, load_market, read_table
from allocgym.data.market import MarketData
from allocgym.data.synthetic import SyntheticMarket, SyntheticTruth, make_synthetic_market
from allocgym.data.validation import DEFAULT_MAX_FILL, validate_prices

__all__ = [
    "DEFAULT_MAX_FILL",
    "EMBEDDED_SOURCE",
    "MarketData",
    "SyntheticMarket",
    "SyntheticTruth",
    "load_market",
    "make_synthetic_market",
    "read_table",
    "validate_prices",
]
