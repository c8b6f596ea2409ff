"""Shared fixtures: a small synthetic market and a slice of the embedded data."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

import allocgym
from allocgym.data import MarketData, SyntheticMarket

# Property tests: a few examples in CI, many on demand (HYPOTHESIS_PROFILE=thorough).
settings.register_profile(
    "ci", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "thorough", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session", autouse=True)
def _feature_cache_in_tmp(tmp_path_factory):
    """Feature panels built with the default cache go to a temporary folder, not ~/.cache."""
    mp = pytest.MonkeyPatch()
    mp.setenv("ALLOCGYM_CACHE_DIR", str(tmp_path_factory.mktemp("feature_cache")))
    yield
    mp.undo()


@pytest.fixture(scope="session")
def synthetic() -> SyntheticMarket:
    """5 assets, 800 business days, 3 regimes, a planted signal; seed 0."""
    return allocgym.make_synthetic_market(
        n_assets=5, n_days=800, n_regimes=3, seed=0, signal_strength=0.1
    )


@pytest.fixture(scope="session")
def synthetic_market(synthetic: SyntheticMarket) -> MarketData:
    return synthetic.market


@pytest.fixture(scope="session")
def embedded() -> MarketData:
    """The whole embedded default data set (20 assets, 1990-2022)."""
    return allocgym.load_market()


@pytest.fixture(scope="session")
def embedded_slice(embedded: MarketData) -> MarketData:
    """The embedded data, 2018-2022 (about 1,250 days, 20 assets)."""
    return embedded.between("2018-01-01", "2022-12-31")
