"""On-disk cache of feature panels, keyed by the data and the resolved config.

The key is a SHA-256 over the market's dates, asset names, prices and volume, the
canonical JSON of the :class:`FeatureConfig` and a format version, so a change to any
of them misses the cache. Panels are written atomically (temporary file, then
``os.replace``; :func:`allocgym._io.atomic_write`), so an interrupted build never leaves
a half-written entry behind, only a hidden temporary file, which a later run removes.

A cache is a speed-up and never the reason a build fails: an entry that cannot be read
or does not match what was asked for (truncated, garbled, empty, another key, other
dates or assets) is reported with an :class:`~allocgym.exceptions.AllocgymWarning`
naming the file, deleted and rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import warnings
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from allocgym._io import atomic_write
from allocgym.data import MarketData
from allocgym.exceptions import AllocgymWarning
from allocgym.predictors.config import FeatureConfig
from allocgym.predictors.panel import FeaturePanel

__all__ = [
    "CACHE_ENV_VAR",
    "cache_key",
    "default_cache_dir",
    "load_panel",
    "open_cache_dir",
    "save_panel",
]

CACHE_ENV_VAR = "ALLOCGYM_CACHE_DIR"
# Bump when the features or the file layout change, so stale panels are not reused.
# v3: the key is stored in the file and checked on load.
_FORMAT_VERSION = "3"
# A temporary file of atomic_write older than this is left by a killed build. Writing a
# panel takes seconds and refreshes the file's mtime as it goes, so a live writer is
# never this far behind; were one to be (a process suspended mid-write), it loses only
# its cache write: build_features warns and still returns the panel.
_STALE_TMP_SECONDS = 3600.0
_TMP_GLOB = ".panel-*.npz.*.tmp"  # atomic_write's ".<name>.<random>.tmp"
# Everything reading a damaged or foreign npz can raise; MemoryError and bugs propagate.
_READ_ERRORS = (
    OSError,
    EOFError,  # an empty file
    ValueError,  # json, pickle refused, bad header, wrong shape (DataError)
    KeyError,  # a missing array or meta field
    TypeError,
    AttributeError,
    zipfile.BadZipFile,  # truncated, or a bad CRC-32 found while an array is read
    zlib.error,
)
_DTYPES = {
    "dates": np.dtype(np.int64),
    "values": np.dtype(np.float32),
    "market_values": np.dtype(np.float32),
    "available": np.dtype(np.bool_),
}


class _Mismatch(ValueError):
    """A readable entry that is not the panel asked for."""


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


def open_cache_dir(cache_dir: str | os.PathLike) -> Path | None:
    """``cache_dir`` created if missing and swept of stale temporary files; None if unusable.

    A path that is not a folder, or a folder that cannot be created, warns and returns
    None: the caller builds without a cache. A folder that exists but is read-only is
    returned, so that its entries can still be read; writing to it then fails.
    """
    path = Path(cache_dir)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        warnings.warn(
            f"feature cache folder {str(path)!r} cannot be used ({exc}); building without a cache",
            AllocgymWarning,
            stacklevel=3,
        )
        return None
    _remove_stale_temps(path)
    return path


def _remove_stale_temps(cache_dir: Path) -> None:
    """Delete temporary panel files older than ``_STALE_TMP_SECONDS``."""
    now = time.time()
    for tmp in cache_dir.glob(_TMP_GLOB):
        try:
            if now - tmp.stat().st_mtime > _STALE_TMP_SECONDS:
                tmp.unlink()
        except OSError:  # gone already (another process swept it), or not ours to delete
            continue


def save_panel(panel: FeaturePanel, cache_dir: Path) -> Path:
    """Write ``panel`` to ``cache_dir`` atomically; returns the file path.

    Raises ``OSError`` if the file cannot be written.
    """
    cache_dir.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(cache_dir)
    path = _path(cache_dir, panel.key)
    meta = {
        "key": panel.key,
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


def load_panel(cache_dir: Path, key: str, market: MarketData | None = None) -> FeaturePanel | None:
    """The cached panel for ``key``, or None if absent.

    An entry that cannot be read, was stored under another key, or (given ``market``)
    has other dates or assets than ``market`` warns, naming the file, and is deleted;
    None is returned so that the caller rebuilds it.
    """
    path = _path(cache_dir, key)
    try:
        before = path.stat()
    except OSError:
        return None
    try:
        return _read(path, key, market)
    except _READ_ERRORS as exc:
        removed = _remove_if_unchanged(path, before)
        reason = str(exc) if isinstance(exc, _Mismatch) else f"{type(exc).__name__}: {exc}"
        warnings.warn(
            f"feature cache entry {str(path)!r} is unusable ({reason}); "
            + ("it was deleted and will be rebuilt" if removed else "rebuilding it"),
            AllocgymWarning,
            stacklevel=3,
        )
        return None


def _read(path: Path, key: str, market: MarketData | None) -> FeaturePanel:
    with open(path, "rb") as fh:  # else np.load's message suggests allow_pickle=True
        magic = fh.read(4)
    if magic != b"PK\x03\x04":
        raise _Mismatch("not an npz file" if magic else "empty file")
    # Every array is read inside the `with`: np.load is lazy and a bad CRC-32 is only
    # found when the damaged member is read.
    with np.load(path, allow_pickle=False) as data:
        arrays = {name: data[name] for name in _DTYPES}
        meta: dict[str, Any] = json.loads(str(data["meta"][()]))
    for name, dtype in _DTYPES.items():
        if arrays[name].dtype != dtype:
            raise _Mismatch(f"{name} has dtype {arrays[name].dtype}; expected {dtype}")
    if arrays["dates"].ndim != 1:
        raise _Mismatch(f"dates has shape {arrays['dates'].shape}; expected (n_dates,)")
    if meta["key"] != key:
        raise _Mismatch(f"stored key {meta['key']!r} is not the requested key {key!r}")
    dates = pd.DatetimeIndex(arrays["dates"].astype("datetime64[ns]"))
    assets = _names(meta, "assets")
    if market is not None:
        if not np.array_equal(arrays["dates"], _dates_ns(market.dates)):
            raise _Mismatch("its dates differ from the market's")
        if assets != market.assets:
            raise _Mismatch(f"its assets {assets} differ from the market's {market.assets}")
        dates = market.dates  # equal instants; keeps the market's index as a fresh build does
    diagnostics = meta.get("diagnostics", {})
    if not isinstance(diagnostics, dict):
        raise _Mismatch(f"diagnostics is a {type(diagnostics).__name__}; expected a dict")
    return FeaturePanel(
        dates=dates,
        assets=assets,
        values=arrays["values"],
        feature_names=_names(meta, "feature_names"),
        market_values=arrays["market_values"],
        market_feature_names=_names(meta, "market_feature_names"),
        available=arrays["available"],
        key=key,
        diagnostics=diagnostics,
    )


def _names(meta: dict[str, Any], field: str) -> tuple[str, ...]:
    names = meta[field]
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise _Mismatch(f"meta[{field!r}] is not a list of names")
    return tuple(names)


def _remove_if_unchanged(path: Path, before: os.stat_result) -> bool:
    """Delete ``path`` unless another process has replaced it since it was read."""
    try:
        now = path.stat()
        if (now.st_ino, now.st_mtime_ns, now.st_size) != (
            before.st_ino,
            before.st_mtime_ns,
            before.st_size,
        ):
            return False
        path.unlink()
    except OSError:
        return False
    return True
