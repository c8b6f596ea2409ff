"""Historical stress windows and the crisis replay, checked against plain computations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from allocgym.backtest import WalkForward, backtest
from allocgym.baselines import BuyAndHold, EqualWeight
from allocgym.exceptions import ConfigError, DataError
from allocgym.risk import CRISIS_WINDOWS, historical_stress, load_windows, replay
from allocgym.risk.stress import equal_weight_policy, latest_weights, resolve_windows

COVID = {"covid": ("2020-02-19", "2020-03-23")}


@pytest.fixture(scope="module")
def results(embedded_slice):
    """1/N and buy-and-hold out of sample from 2019 (2018 is the warm-up)."""
    return backtest(
        {"1/N": EqualWeight(), "BH": BuyAndHold()}, embedded_slice,
        splitter=WalkForward(252, 252), n_boot=10, progress=False,
    )  # fmt: skip


def _plain_stats(r: list[float]) -> tuple[float, float, float]:
    """Compound return, max drawdown and worst day with a plain loop."""
    wealth, peak, mdd = 1.0, 1.0, 0.0
    for x in r:
        wealth *= 1.0 + x
        peak = max(peak, wealth)
        mdd = min(mdd, wealth / peak - 1.0)
    return wealth - 1.0, mdd, min(r)


def test_one_over_n_equals_an_independent_computation(results):
    table = historical_stress(results, COVID).table
    r1n = results.returns["1/N"]
    inside = r1n[(r1n.index > "2020-02-19") & (r1n.index <= "2020-03-23")]
    ret, mdd, worst = _plain_stats(list(inside))
    row = table.loc[("covid", "1/N")]
    assert row["days"] == len(inside) == 23
    np.testing.assert_allclose([row["return"], row["max_drawdown"], row["worst_day"]],
                               [ret, mdd, worst], rtol=0, atol=1e-12)  # fmt: skip
    assert row["worst_day_date"] == inside.idxmin().date()
    # days to recover: from the trough to the first day wealth is back at the prior peak
    after = r1n[r1n.index > "2020-02-19"]
    wealth = (1 + after).cumprod().to_numpy()
    trough = int(np.argmin(wealth[: len(inside)]))
    peak = max(1.0, wealth[: trough + 1].max())
    back = next(i for i in range(trough + 1, len(wealth)) if wealth[i] >= peak)
    assert row["days_to_recover"] == back - trough
    assert row["vs_1N"] == 0.0
    bh = table.loc[("covid", "BH")]
    assert bh["vs_1N"] == pytest.approx(bh["return"] - ret, abs=1e-12)


def test_not_recovered_is_nan(results):
    # a window that ends at the run's last date: a loss in it has no time to recover
    end = str(results.returns.index[-1].date())
    table = historical_stress(results, {"end": ("2022-01-03", end)}).table
    for name in results.policies:
        r = results.returns[name]
        wealth = (1 + r[r.index > "2022-01-03"]).cumprod().to_numpy()
        trough = int(np.argmin(wealth / np.maximum.accumulate(np.r_[1.0, wealth])[1:]))
        recovered = (wealth[trough:] >= max(1.0, wealth[: trough + 1].max())).any()
        assert np.isnan(table.loc[("end", name), "days_to_recover"]) == (not recovered)
    assert table["days_to_recover"].isna().any()  # buy and hold has not recovered


def test_benchmark_series_and_policy(results):
    idx = results.returns.index
    flat = pd.Series(0.0, index=idx, name="cash")
    table = historical_stress(results, COVID, benchmark=flat).table
    np.testing.assert_allclose(table["vs_cash"], table["return"])
    table = historical_stress(results, COVID, benchmark="BH").table
    assert table.loc[("covid", "BH"), "vs_BH"] == 0.0
    with pytest.raises(ValueError, match="benchmark='nope' is not a policy"):
        historical_stress(results, COVID, benchmark="nope")


def test_default_windows_outside_the_run_are_skipped_with_a_note(results):
    st = historical_stress(results)
    assert set(st.table.index.get_level_values("window")) == {"2020 COVID", "2022 rate shock"}
    assert any("2008-09 GFC" in n and "skipped" in n for n in st.notes)


def test_given_windows_outside_or_partly_outside_are_errors(results):
    with pytest.raises(DataError, match=r"'old'.*outside the data \(2019"):
        historical_stress(results, {"old": ("1998-07-31", "1998-10-30")})
    with pytest.raises(DataError, match="only partly inside"):
        historical_stress(results, {"edge": ("2018-06-01", "2019-03-01")})
    st = historical_stress(results, {"edge": ("2018-06-01", "2019-03-01")}, skip_outside=True)
    assert st.table.empty and "skipped" in st.notes[0]


@pytest.mark.parametrize(
    ("spec", "match"),
    [({"x": ("2020-03-01", "2020-02-01")}, "must be before"),
     ({"x": ("not a date", "2020-02-01")}, "not a date"),
     ({"x": "2020-01-01"}, "not a .start, end. pair"),
     ({"x": {"start": "2020-01-01"}}, "missing"),
     ({}, "empty")],
)  # fmt: skip
def test_bad_windows(spec, match):
    with pytest.raises(ValueError, match=match):
        resolve_windows(spec)


def test_default_windows_have_exact_dates():
    windows = resolve_windows()
    assert [w.name for w in windows] == list(CRISIS_WINDOWS)
    covid = windows[4]
    assert (str(covid.start.date()), str(covid.end.date())) == ("2020-02-19", "2020-03-23")


def test_windows_from_yaml(tmp_path):
    path = tmp_path / "w.yaml"
    path.write_text(
        "windows:\n  a: {start: 2020-02-19, end: 2020-03-23}\n  b: [2018-09-20, 2018-12-24]\n"
    )
    windows = resolve_windows(load_windows(path))
    assert [(w.name, str(w.end.date())) for w in windows] == [
        ("a", "2020-03-23"),
        ("b", "2018-12-24"),
    ]
    path.write_text("a: [2020-03-23, 2020-02-19]\n")
    with pytest.raises(ConfigError, match=r"w.yaml: window 'a'.*must be before"):
        load_windows(path)
    path.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match=r"w.yaml: the stress windows is not a mapping \(a list"):
        load_windows(path)
    path.write_text("windows: [1, 2]\n")
    with pytest.raises(ConfigError, match="expected a mapping name -> \\[start, end\\]"):
        load_windows(path)


def test_replay_equals_a_hand_computation(results, embedded):
    table = replay(results, embedded, COVID).table
    dates = embedded.dates
    rows = (dates > "2020-02-19") & (dates <= "2020-03-23")
    r = np.asarray(embedded.returns)[rows]
    for name in results.policies:
        w = results.weights[name].iloc[-1]
        assets = w.drop("cash")
        values = [w["cash"] + float((assets.to_numpy() * np.prod(1 + r[: d + 1], axis=0)).sum())
                  for d in range(len(r))]  # fmt: skip
        daily = np.diff([1.0, *values]) / np.array([1.0, *values[:-1]])
        ret, mdd, worst = _plain_stats(list(daily))
        row = table.loc[("covid", name)]
        np.testing.assert_allclose([row["return"], row["max_drawdown"], row["worst_day"]],
                                   [ret, mdd, worst], rtol=0, atol=1e-12)  # fmt: skip
    assert table.loc[("covid", "BH"), "vs_1N"] == pytest.approx(
        table.loc[("covid", "BH"), "return"] - table.loc[("covid", "1/N"), "return"]
    )


def test_replay_weights_of_a_date_and_errors(results, embedded):
    w = latest_weights(results, embedded.assets, "2020-06-30")
    np.testing.assert_allclose(w.loc["1/N"].to_numpy(), results.weights["1/N"].loc["2020-06-30"])
    with pytest.raises(DataError, match="before the first weights"):
        latest_weights(results, embedded.assets, "2000-01-03")
    with pytest.raises(DataError, match="outside the data"):
        replay(
            results,
            embedded.between("2019-01-01", "2022-12-31"),
            {"old": ("1998-07-31", "1998-10-30")},
        )


def test_equal_weight_policy_is_found(results):
    assert equal_weight_policy(results) == "1/N"
