"""On-disk cache of feature panels, keyed by the data and the resolved config.

The key is a SHA-256 over the market's dates, asset names, prices and volume, the
canonical JSON of the :class:`FeatureConfig` and a format version, so a change to any
of them misses the cache. Panels are written atomically (temporary file, then
``os.replace``; :func:`allocgym._io.atomic_write`), so an interrupted build never leaves
a corrupt entry behind.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from allocgym._io import atomic_write
from allocgym.data import MarketData
from allocgym.predictors.config import FeatureConfig
from allocgym.predictors.panel import FeaturePanel

__all__ = ["CACHE_ENV_VAR", "cache_key", "default_cache_dir", "load_panel", "save_panel"]

CACHE_ENV_VAR = "ALLOCGYM_CACHE_DIR"
# Bump when the features or the file layout change, so stale panels are not reused.
_FORMAT_VERSION = "2"


def default_cache_dir() -> Path:
    """``$ALLOCGYM_CACHE_DIR`` if set, else ``~/.cache/allocgym/features``."""
    env = os.environ.get(CACHE_ENV_VAR)
    return Path(env) if env else Path.home() / ".cache" / "allocgym" / "features"


def cache_key(market: MarketData, config: FeatureConfig) -> str:
    """Hex digest identifying (data, config, feature code version)."""
    h = hashlib.sha256()
    h.update(f"allocgym-features-v{_FORMAT_VERSION}\n".encode())
    h.update(_dates_ns(market.dates).tobytes())
    h.update("\x1f".join(market.assets).encode())
    h.update(np.ascontiguousarray(market.prices, dtype=np.float64).tobytes())
    if market.volume is not None:
        h.update(b"volume")
        h.update(np.ascontiguousarray(market.volume, dtype=np.float64).tobytes())
    h.update(config.to_json().encode())
    return h.hexdigest()[:32]


def _dates_ns(dates: pd.DatetimeIndex) -> np.ndarray:
    """Dates as int64 nanoseconds, whatever the index's resolution."""
    return np.asarray(dates.values.astype("datetime64[ns]")).view(np.int64)


def _path(cache_dir: Path, key: str) -> Path:
    return cache_dir / f"panel-{key}.npz"


def save_panel(panel: FeaturePanel, cache_dir: Path) -> Path:
    """Write ``panel`` to ``cache_dir`` atomically; returns the file path."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = _path(cache_dir, panel.key)
    meta = {
        "assets": list(panel.assets),
        "feature_names": list(panel.feature_names),
        "market_feature_names": list(panel.market_feature_names),
        "diagnostics": dict(panel.diagnostics),
    }
    arrays = {
        "dates": _dates_ns(panel.dates),
        "values": np.asarray(panel.values),
        "market_values": np.asarray(panel.market_values),
        "available": np.asarray(panel.available),
        "meta": np.array(json.dumps(meta)),
    }

    def write(tmp: str) -> None:
        with open(tmp, "wb") as fh:  # a file object: np.savez would append .npz to a name
            np.savez(fh, **arrays)

    atomic_write(path, write)
    return path


def load_panel(cache_dir: Path, key: str) -> FeaturePanel | None:
    """The cached panel for ``key``, or None if absent or unreadable."""
    path = _path(cache_dir, key)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            return FeaturePanel(
                dates=pd.DatetimeIndex(data["dates"].astype("datetime64[ns]")),
                assets=tuple(meta["assets"]),
                values=data["values"],
                feature_names=tuple(meta["feature_names"]),
                market_values=data["market_values"],
                market_feature_names=tuple(meta["market_feature_names"]),
                available=data["available"],
                key=key,
                diagnostics=meta.get("diagnostics", {}),
            )
    except (OSError, ValueError, KeyError):
        # A corrupt or foreign file is a cache miss, not an error; it is rebuilt.
        return None
