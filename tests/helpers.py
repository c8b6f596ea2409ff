"""Test helpers shared across test packages (plain functions, not fixtures)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from allocgym.data import MarketData

# Wall-clock limit of every CLI subprocess test. The commands take seconds to a minute,
# but CI and development machines are shared and can be many times slower; the limit
# only exists so that a hung command (a deadlocked thread pool, a Ray start waiting for
# a cluster) fails with a message instead of stalling the suite forever.
CLI_TIMEOUT = 1800


def tiny_experiment(root: Path, market: MarketData, n_days: int, **overrides: Any) -> dict:
    """An experiment config on the first ``n_days`` of ``market``, written as a CSV.

    Technical features, PPO with 64 steps, 1/N; ``overrides`` replace top-level keys.
    """
    data = root / "prices.csv"
    market[:n_days].to_frame().rename_axis("date").to_csv(data)
    config = {
        "name": "tiny",
        "output_dir": str(root / "runs"),
        "data": {"source": str(data)},
        "features": {"preset": "technical", "cache": False},
        "env": {"window": 5, "rebalance_every": 5, "episode_length": 10},
        "walk_forward": {"train": 300, "test": 200},
        "agents": [
            {"name": "ppo", "label": "PPO", "timesteps": 64,
             "hyperparameters": {"n_steps": 32, "batch_size": 16, "n_epochs": 1}},
        ],
        "baselines": [{"name": "equal_weight"}],
        "report": {"n_boot": 20},
    }  # fmt: skip
    config.update(overrides)
    return config


def regime_panel(market: MarketData, probs: Any, prefix: str = "regime_p") -> Any:
    """A feature panel of ``market`` holding only the market features ``{prefix}0..``:
    the regime probabilities ``probs`` (n_dates, n_regimes), every asset available."""
    import numpy as np

    from allocgym.predictors import FeaturePanel

    n, m = market.n_dates, market.n_assets
    probs = np.asarray(probs, dtype=np.float32)
    return FeaturePanel(
        dates=market.dates,
        assets=market.assets,
        values=np.zeros((n, m, 0), dtype=np.float32),
        feature_names=(),
        market_values=probs,
        market_feature_names=tuple(f"{prefix}{k}" for k in range(probs.shape[1])),
        available=np.ones((n, m), dtype=bool),
    )


def record_built_policies(monkeypatch: Any) -> dict:
    """The policies every later ``build_policies`` of the experiment runner builds, by
    label (the dict fills as runs build them): to read an agent's counters afterwards."""
    from allocgym.experiment import runner

    built: dict = {}
    build = runner.build_policies

    def keep(*args: Any, **kwargs: Any) -> dict:
        built.update(build(*args, **kwargs))
        return built

    monkeypatch.setattr(runner, "build_policies", keep)
    return built
