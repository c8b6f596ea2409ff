from __future__ import annotations

import numpy as np
import pytest
import torch

import allocgym
from allocgym.predictors import LSTMConfig
from allocgym.predictors.lstm import LSTMForecaster, LSTMNet
from tests.predictors.conftest import (
    assert_schedule_point_in_time,
    first_assets,
    perturb_after,
)

TINY = LSTMConfig(
    window=10, hidden=8, max_epochs=2, batch_size=64, max_samples=512, train_window=300
)


def test_net_shapes_with_and_without_attention():
    x = torch.zeros(7, 12, 5)
    for attention in (True, False):
        net = LSTMNet(5, hidden=6, num_layers=2, attention=attention, dropout=0.1)
        assert net(x).shape == (7,)


def test_fit_predict_shapes_and_nan_before_window(synthetic_market):
    model = LSTMForecaster(TINY).fit(synthetic_market, until=399)
    out = model.predict(synthetic_market, 400, 450)
    assert out.shape == (50, synthetic_market.n_assets, 1)
    assert np.isfinite(out).all()
    assert model.n_train_ > 0 and model.n_val_ > 0 and 1 <= len(model.history_) <= 2
    with pytest.raises(ValueError, match="out of sample"):
        model.predict(synthetic_market, 399, 450)


def test_deterministic_given_seed(synthetic_market):
    a = LSTMForecaster(TINY, seed=3).fit(synthetic_market, until=399)
    b = LSTMForecaster(TINY, seed=3).fit(synthetic_market, until=399)
    c = LSTMForecaster(TINY, seed=4).fit(synthetic_market, until=399)
    pa, pb = a.predict(synthetic_market, 400, 500), b.predict(synthetic_market, 400, 500)
    np.testing.assert_array_equal(pa, pb)
    assert not np.array_equal(pa, c.predict(synthetic_market, 400, 500))


def test_fit_leaves_global_torch_state_alone(synthetic_market):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    threads = torch.get_num_threads()
    LSTMForecaster(TINY).fit(synthetic_market, until=399)
    np.testing.assert_array_equal(torch.rand(3), expected)
    assert torch.get_num_threads() == threads


def test_save_and_load_weights(synthetic_market, tmp_path):
    model = LSTMForecaster(TINY).fit(synthetic_market, until=399)
    before = model.predict(synthetic_market, 400, 420)
    model.save_weights(tmp_path / "w.pt")
    other = LSTMForecaster(TINY).load_weights(tmp_path / "w.pt")
    np.testing.assert_array_equal(other.predict(synthetic_market, 400, 420), before)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.pt"]  # no temporary left


class _WritesMarker:
    """Unpickling it writes ``marker``: stands for code run by a crafted weights file."""

    def __init__(self, marker) -> None:
        self.marker = marker

    def __reduce__(self):
        return (type(self.marker).write_text, (self.marker, "ran"))


@pytest.mark.parametrize("content", ["payload", "garbage", "empty", "missing", "other_net"])
def test_load_weights_refuses_a_bad_file_naming_it(content, synthetic_market, tmp_path):
    from allocgym.exceptions import DataError

    path, marker = tmp_path / "w.pt", tmp_path / "marker"
    if content == "payload":
        torch.save({"state_dict": _WritesMarker(marker)}, path)
    elif content == "garbage":
        path.write_bytes(b"PK\x03\x04 not a torch file")
    elif content == "empty":
        path.write_bytes(b"")
    elif content == "other_net":
        LSTMForecaster(TINY).fit(synthetic_market, until=399).save_weights(path)
    model = LSTMForecaster(LSTMConfig(window=10, hidden=4))
    with pytest.raises(DataError, match=rf"{tmp_path}.*w\.pt: cannot load LSTM weights"):
        model.load_weights(path)
    assert not marker.exists()
    assert not hasattr(model, "net_")  # nothing half-restored


@pytest.mark.parametrize("which", ["synthetic", "embedded"])
def test_point_in_time(which, synthetic_market, embedded_slice):
    market = first_assets(synthetic_market if which == "synthetic" else embedded_slice)
    t = 520
    base, changed = perturb_after(market, t)

    assert_schedule_point_in_time(lambda: LSTMForecaster(TINY, seed=0), base, changed, t)


@pytest.mark.slow
def test_learns_a_planted_signal():
    syn = allocgym.make_synthetic_market(n_assets=10, n_days=1600, seed=5, signal_strength=1.0)
    cfg = LSTMConfig(window=20, hidden=16, max_epochs=6, max_samples=6000, train_window=1200)
    model = LSTMForecaster(cfg).fit(syn.market, until=1299)
    pred = model.predict(syn.market, 1300, 1599)[:, :, 0]
    truth = syn.truth.expected_returns[1300:1599]
    corr = np.corrcoef(pred.ravel(), truth.ravel())[0, 1]
    assert corr > 0.2
