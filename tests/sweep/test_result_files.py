"""A damaged trial file stops the sweep's summary naming the file and the trial to redo."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from allocgym.backtest import write_manifest
from allocgym.exceptions import DataError
from allocgym.sweep.summary import _oos_returns
from allocgym.sweep.trial import read_record


def test_a_garbled_trial_record_is_named(tmp_path: Path) -> None:
    (tmp_path / "trial.json").write_text('{"status": "ok", ')
    with pytest.raises(DataError) as err:
        read_record(tmp_path)
    msg = str(err.value)
    assert msg.startswith(f"{tmp_path / 'trial.json'}: unreadable trial record")
    assert f"Delete the folder {tmp_path} and run `allocgym sweep` again" in msg


def _trial(root: Path) -> tuple[dict, Path]:
    trial_dir = root / "trials" / "c000-s0"
    trial_dir.mkdir(parents=True)
    long = pd.DataFrame(
        {"policy": "PPO", "date": pd.bdate_range("2021-01-01", periods=3), "net_return": 0.01}
    )
    long.to_parquet(trial_dir / "returns.parquet", index=False)
    return {"trial_id": "c000-s0", "status": "ok", "label": "PPO"}, trial_dir


def test_oos_returns_of_a_trial_are_checked_and_named(tmp_path: Path) -> None:
    record, trial_dir = _trial(tmp_path)
    assert _oos_returns(tmp_path, record).tolist() == [0.01] * 3
    write_manifest(trial_dir, ["returns.parquet"])
    (trial_dir / "returns.parquet").write_bytes(b"PAR1 garbled")
    with pytest.raises(DataError, match=r"returns\.parquet: \d+ bytes, manifest\.json records"):
        _oos_returns(tmp_path, record)
    (trial_dir / "manifest.json").unlink()
    with pytest.raises(DataError) as err:
        _oos_returns(tmp_path, record)
    assert str(err.value).startswith(f"{trial_dir / 'returns.parquet'}: unreadable")
    assert "re-runs only that trial" in str(err.value)
