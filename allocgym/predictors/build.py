"""`build_features`: the cached, point-in-time feature panel of a market."""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from allocgym.data import MarketData
from allocgym.exceptions import AllocgymWarning
from allocgym.predictors.cache import (
    cache_key,
    default_cache_dir,
    load_panel,
    open_cache_dir,
    save_panel,
)
from allocgym.predictors.config import DEFAULT_PRESET, FeatureConfig, resolve_config
from allocgym.predictors.panel import FeaturePanel
from allocgym.predictors.schedule import Predictor, check_n_jobs, refit_dates, walk_forward
from allocgym.predictors.technical import TechnicalFeatures

__all__ = ["build_features"]


def _stages(config: FeatureConfig, n_jobs: int) -> list[tuple[str, Callable[[], Predictor], int]]:
    """(name, factory, walk-forward n_jobs) of each predictor the config asks for.

    GARCH fits its assets in ``n_jobs`` processes at each refit (many small, even
    tasks, and only one asset's returns sent to each); the others, one model per
    refit, run their refits in ``n_jobs`` processes.
    """
    stages: list[tuple[str, Callable[[], Predictor], int]] = []
    if config.garch is not None:
        from allocgym.predictors.garch import GarchVolatility

        g = config.garch
        stages.append(("garch", lambda: GarchVolatility(g, n_jobs=n_jobs), 1))
    if config.regime is not None:
        rc, seed = config.regime, config.seed
        if rc.model == "gmm":
            from allocgym.predictors.regime_gmm import RegimeGMM

            stages.append(("regime", lambda: RegimeGMM(rc, seed=seed), n_jobs))
        else:
            from allocgym.predictors.regimes import RegimeHMM

            stages.append(("regime", lambda: RegimeHMM(rc, seed=seed), n_jobs))
    if config.lstm is not None:
        from allocgym.predictors.lstm import LSTMForecaster

        lc, seed, vol = config.lstm, config.seed, config.volume
        stages.append(("lstm", lambda: LSTMForecaster(lc, seed=seed, volume=vol), n_jobs))
    return stages


def _compute(
    market: MarketData, config: FeatureConfig, progress: bool, n_jobs: int = 1
) -> FeaturePanel:
    technical = TechnicalFeatures(volume=config.volume)
    asset_blocks = [technical.transform(market)]
    asset_names = list(technical.feature_names_for(market))
    market_blocks: list[np.ndarray] = []
    market_names: list[str] = []
    stages = _stages(config, n_jobs)
    n_refits = len(refit_dates(market.n_dates, config.min_train, config.refit_every))
    if stages and n_refits == 0:
        warnings.warn(
            f"{market.source}: {market.n_dates} rows, not more than min_train="
            f"{config.min_train}: no predictor is ever fit and their features are all NaN; "
            "supply more history or lower min_train",
            AllocgymWarning,
            stacklevel=3,
        )
    diagnostics: dict[str, Any] = {"seconds": {}, "refits": n_refits} if stages else {}
    bar = tqdm(
        total=max(1, n_refits * len(stages)),
        desc="features",
        unit="fit",
        disable=not progress or not stages,
        leave=False,
    )
    fallbacks = 0

    def tick(predictor: Predictor) -> None:
        nonlocal fallbacks
        fallbacks += int(getattr(predictor, "n_fallbacks_", 0))
        bar.update(1)

    try:
        for name, make, stage_jobs in stages:
            bar.set_description(f"features: {name}")
            t0 = time.perf_counter()
            out = walk_forward(
                make,
                market,
                min_train=config.min_train,
                refit_every=config.refit_every,
                train_window=config.train_window,
                on_refit=tick,
                n_jobs=stage_jobs,
            )
            diagnostics["seconds"][name] = round(time.perf_counter() - t0, 3)
            names = make().feature_names_for(market)
            if out.ndim == 3:
                asset_blocks.append(out)
                asset_names += names
            else:
                market_blocks.append(out)
                market_names += names
    finally:
        bar.close()
    if config.garch is not None:
        diagnostics["garch_fallbacks"] = fallbacks

    values = np.concatenate(asset_blocks, axis=-1).astype(np.float32)
    values[~np.asarray(market.available)] = np.nan
    if market_blocks:
        market_values = np.concatenate(market_blocks, axis=-1).astype(np.float32)
    else:
        market_values = np.empty((market.n_dates, 0), dtype=np.float32)
    available = np.asarray(market.available) & np.isfinite(values).all(axis=-1)
    return FeaturePanel(
        dates=market.dates,
        assets=market.assets,
        values=values,
        feature_names=tuple(asset_names),
        market_values=market_values,
        market_feature_names=tuple(market_names),
        available=available,
        diagnostics=diagnostics,
    )


def build_features(
    market: MarketData,
    config: FeatureConfig | str | dict[str, Any] = DEFAULT_PRESET,
    *,
    cache_dir: str | os.PathLike | bool | None = None,
    progress: bool = True,
    n_jobs: int = 1,
) -> FeaturePanel:
    """The point-in-time feature panel of ``market``, loaded from the cache when possible.

    Parameters
    ----------
    market : MarketData
    config : FeatureConfig, str or dict, default :data:`DEFAULT_PRESET` (``"standard"``)
        A preset name, ``"technical"``, ``"standard"`` or ``"full"``; a dict of
        :class:`FeatureConfig` fields; or a FeatureConfig. (``None``, "no features" for
        the environments and the backtester, is refused here.)
    cache_dir : path, bool or None
        Where panels are cached. ``None`` or ``True``: ``$ALLOCGYM_CACHE_DIR`` or
        ``~/.cache/allocgym/features``; ``False``: no cache. The cache never fails a
        build: a path that is not a usable folder, an entry that cannot be read (which
        is deleted and rebuilt) or a write that fails each warn with an
        :class:`~allocgym.exceptions.AllocgymWarning` naming the path.
    progress : bool
        Show a progress bar over the refits.
    n_jobs : int, default 1
        Processes (joblib) building the panel: 1 builds it in this process, -1 uses
        every core. GARCH fits its assets in parallel at each refit; the regime model
        and the LSTM run their refits in parallel. Every fit is single-threaded and
        seeded, so the panel is bit-identical for every ``n_jobs`` and ``n_jobs`` is
        not part of the cache key. Memory grows with the workers: each holds a copy
        of the market up to its refit (and, for the LSTM, its training samples).

    Returns
    -------
    FeaturePanel
        Raw (not standardised) features: per-asset ``values`` (technical features,
        ``garch_vol``, ``garch_vol_{h}d``, ``lstm_forecast``) and market-level
        ``regime_p0..regime_p{K-1}``. Every value at row t is computed from data at
        rows <= t; predictor features are NaN before the first refit
        (row ``config.min_train``).
    """
    if not isinstance(market, MarketData):
        raise TypeError(
            f"market must be a MarketData (see allocgym.load_market); got {type(market).__name__}"
        )
    n_jobs = check_n_jobs(n_jobs)
    config = resolve_config(config)
    key = cache_key(market, config)
    directory: Path | None = None
    if cache_dir is None or cache_dir is True:
        directory = open_cache_dir(default_cache_dir())
    elif cache_dir is not False:
        directory = open_cache_dir(cache_dir)
    if directory is not None:
        cached = load_panel(directory, key, market)
        if cached is not None:
            return cached
    panel = _compute(market, config, progress, n_jobs)
    panel = replace(panel, key=key)
    if directory is not None:
        try:
            save_panel(panel, directory)
        except OSError as exc:  # read-only folder, full disk: the panel is still good
            warnings.warn(
                f"could not write the feature cache in {str(directory)!r} ({exc}); "
                "the panel is returned but not cached",
                AllocgymWarning,
                stacklevel=2,
            )
    return panel
