"""The feature cache: a damaged, foreign or half-written entry is rebuilt, never fatal."""

from __future__ import annotations

import os
import shutil
import struct
import time
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import allocgym.predictors.build as build_module
import allocgym.predictors.cache as cache_module
from allocgym.data import MarketData
from allocgym.exceptions import AllocgymWarning
from allocgym.predictors import FeaturePanel, build_features, cache_key, resolve_config
from allocgym.predictors.cache import load_panel, open_cache_dir, save_panel

TECH = resolve_config("technical")


def _build(market: MarketData, cache_dir: Path | bool) -> FeaturePanel:
    return build_features(market, TECH, cache_dir=cache_dir, progress=False)


@pytest.fixture
def entry(synthetic_market, tmp_path) -> tuple[FeaturePanel, Path]:
    """A freshly cached panel and its file."""
    panel = _build(synthetic_market, tmp_path)
    path = tmp_path / f"panel-{panel.key}.npz"
    assert path.is_file()
    return panel, path


def _rewrite(path: Path, **changes: np.ndarray | None) -> None:
    """Rewrite the npz at ``path`` with arrays replaced (or dropped, for None)."""
    with np.load(path) as data:
        arrays = {name: data[name] for name in data.files}
    for name, value in changes.items():
        if value is None:
            del arrays[name]
        else:
            arrays[name] = value
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)


def _meta(path: Path) -> str:
    with np.load(path) as data:
        return str(data["meta"][()])


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _garble_values(path: Path) -> None:
    """Flip bytes inside the data of ``values.npy``: the zip stays valid, its CRC does not."""
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("values.npy")
    raw = bytearray(path.read_bytes())
    name_len, extra_len = struct.unpack(
        "<HH", raw[info.header_offset + 26 : info.header_offset + 30]
    )
    start = info.header_offset + 30 + name_len + extra_len + 256  # past the .npy header
    raw[start : start + 64] = bytes(b ^ 0xFF for b in raw[start : start + 64])
    path.write_bytes(bytes(raw))
    # np.load opens it fine: the damage only shows when the array is read
    with np.load(path) as data, pytest.raises(zipfile.BadZipFile, match="CRC"):
        data["values"]


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _drop_available(path: Path) -> None:
    _rewrite(path, available=None)


def _values_as_float64(path: Path) -> None:
    with np.load(path) as data:
        values = data["values"].astype(np.float64)
    _rewrite(path, values=values)


def _meta_not_json(path: Path) -> None:
    _rewrite(path, meta=np.array("{not json"))


def _meta_without_assets(path: Path) -> None:
    _rewrite(path, meta=np.array(_meta(path).replace('"assets"', '"stocks"')))


def _wrong_shape(path: Path) -> None:
    with np.load(path) as data:
        values = data["values"][:-1]
    _rewrite(path, values=values)


def _not_a_zip(path: Path) -> None:
    path.write_bytes(b"not a zip file at all")


CORRUPTIONS: dict[str, Callable[[Path], None]] = {
    "truncated": _truncate,
    "garbled-crc": _garble_values,
    "empty": _empty,
    "missing-array": _drop_available,
    "wrong-dtype": _values_as_float64,
    "meta-not-json": _meta_not_json,
    "meta-missing-field": _meta_without_assets,
    "wrong-shape": _wrong_shape,
    "not-a-zip": _not_a_zip,
}


@pytest.mark.parametrize("corrupt", CORRUPTIONS.values(), ids=CORRUPTIONS.keys())
def test_unreadable_entry_warns_with_path_is_deleted_and_missed(entry, corrupt):
    panel, path = entry
    corrupt(path)
    with pytest.warns(AllocgymWarning, match="will be rebuilt") as record:
        assert load_panel(path.parent, panel.key) is None
    assert str(path) in str(record[0].message)
    assert not path.exists()


@pytest.mark.parametrize("name", ["truncated", "garbled-crc", "empty", "missing-array"], ids=str)
def test_build_features_rebuilds_a_corrupt_entry(synthetic_market, entry, name):
    panel, path = entry
    CORRUPTIONS[name](path)
    with pytest.warns(AllocgymWarning, match=r"feature cache entry .*panel-.*\.npz") as record:
        again = _build(synthetic_market, path.parent)
    assert record[0].filename == __file__  # stacklevel points at the caller
    np.testing.assert_array_equal(again.values, panel.values)
    assert again.key == panel.key
    reloaded = load_panel(path.parent, panel.key, synthetic_market)  # rewritten, valid
    assert reloaded is not None
    np.testing.assert_array_equal(reloaded.values, panel.values)


def test_entry_stored_under_another_key_is_rejected(entry):
    panel, path = entry
    other = "0" * 32
    shutil.copy(path, path.parent / f"panel-{other}.npz")
    with pytest.warns(AllocgymWarning, match="stored key"):
        assert load_panel(path.parent, other) is None
    assert load_panel(path.parent, panel.key) is not None  # the genuine entry is kept


def test_entry_for_other_dates_or_assets_is_rejected(synthetic_market, entry, tmp_path):
    panel, _ = entry
    renamed = MarketData.from_prices(
        synthetic_market.prices, synthetic_market.dates, [f"X{i}" for i in range(5)]
    )
    key = cache_key(renamed, TECH)
    save_panel(replace(panel, key=key), tmp_path)  # stored key matches, content does not
    with pytest.warns(AllocgymWarning, match="assets"):
        assert load_panel(tmp_path, key, renamed) is None
    shorter = synthetic_market[1:]
    key = cache_key(shorter, TECH)
    save_panel(replace(panel, key=key), tmp_path)
    with pytest.warns(AllocgymWarning, match="dates"):
        assert load_panel(tmp_path, key, shorter) is None


def test_valid_entry_loads_silently_with_the_market_dates(synthetic_market, entry):
    panel, path = entry
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cached = load_panel(path.parent, panel.key, synthetic_market)
    assert cached is not None and cached.dates is synthetic_market.dates
    assert cached.assets == panel.assets and cached.diagnostics == panel.diagnostics


def test_entry_replaced_by_another_process_is_not_deleted(entry, monkeypatch):
    panel, path = entry
    good = path.read_bytes()
    _truncate(path)

    def read_then_rebuilt_elsewhere(*args):
        path.unlink()
        path.write_bytes(good)  # another process wrote a fresh entry meanwhile
        raise zipfile.BadZipFile("truncated")

    monkeypatch.setattr(cache_module, "_read", read_then_rebuilt_elsewhere)
    with pytest.warns(AllocgymWarning, match="rebuilding it"):
        assert load_panel(path.parent, panel.key) is None
    assert path.read_bytes() == good


def _temp(folder: Path, age_s: float, name: str = ".panel-abc.npz.k3j2x9.tmp") -> Path:
    tmp = folder / name
    tmp.write_bytes(b"half a panel")
    then = time.time() - age_s
    os.utime(tmp, (then, then))
    return tmp


def test_stale_temp_file_is_removed_when_the_cache_is_opened(tmp_path):
    stale = _temp(tmp_path, age_s=2 * 3600)
    assert open_cache_dir(tmp_path) == tmp_path
    assert not stale.exists()


def test_fresh_temp_file_and_other_files_are_kept(tmp_path):
    fresh = _temp(tmp_path, age_s=60)  # another process may be writing it now
    unrelated = _temp(tmp_path, age_s=2 * 3600, name="notes.tmp")
    open_cache_dir(tmp_path)
    assert fresh.exists() and unrelated.exists()


def test_stale_temp_file_is_removed_by_a_build(synthetic_market, tmp_path):
    stale = _temp(tmp_path, age_s=2 * 3600)
    fresh = _temp(tmp_path, age_s=10, name=".panel-def.npz.a8b7c6.tmp")
    _build(synthetic_market, tmp_path)
    assert not stale.exists()
    assert list(tmp_path.glob(".panel-*.tmp")) == [fresh]  # and the build left none of its own


def test_cache_dir_that_is_a_file_warns_and_builds_uncached(synthetic_market, tmp_path):
    not_a_folder = tmp_path / "cache"
    not_a_folder.write_text("")
    with pytest.warns(AllocgymWarning, match=r"feature cache folder .*cache.* cannot be used"):
        panel = _build(synthetic_market, not_a_folder)
    assert panel.n_dates == synthetic_market.n_dates
    assert not_a_folder.read_text() == ""


def test_failed_cache_write_warns_and_returns_the_panel(synthetic_market, tmp_path, monkeypatch):
    def read_only(panel, cache_dir):
        raise PermissionError(13, "Permission denied", str(cache_dir))

    monkeypatch.setattr(build_module, "save_panel", read_only)
    with pytest.warns(AllocgymWarning, match="could not write the feature cache"):
        panel = _build(synthetic_market, tmp_path)
    assert panel.key and not list(tmp_path.glob("panel-*.npz"))
