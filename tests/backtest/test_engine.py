"""The backtester: one accounting engine, out-of-sample folds, fallbacks, save/load, report."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from allocgym.backtest import Results, WalkForward, backtest
from allocgym.baselines import BlackLitterman, EqualWeight, MeanVariance, MinVariance
from allocgym.data import MarketData
from allocgym.envs import EnvSettings
from allocgym.policy import PolicyState
from tests.baselines.test_policies import make_panel

SPLIT = WalkForward(train=200, test=150)


def four(lookback: int = 60) -> dict:
    kw = {"lookback": lookback, "rebalance_every": 21}
    return {
        "1/N": EqualWeight(),
        "min_variance": MinVariance(**kw),
        "mean_variance": MeanVariance(**kw),
        "black_litterman": BlackLitterman(**kw),
    }


@pytest.fixture(scope="module")
def market(synthetic_market: MarketData) -> MarketData:
    return synthetic_market[:650]


@pytest.fixture(scope="module")
def results(market: MarketData) -> Results:
    return backtest(four(), market, make_panel(market), splitter=SPLIT, n_boot=100)


def test_one_continuous_out_of_sample_track_per_policy(results: Results, market) -> None:
    folds = list(SPLIT.split(market.n_dates))
    first_decision = folds[0][1][0]
    expected = market.dates[first_decision + 1 :]
    pd.testing.assert_index_equal(
        results.returns.index, expected, check_names=False, check_exact=True, check_freq=False
    )
    assert list(results.returns.columns) == [
        "1/N",
        "min_variance",
        "mean_variance",
        "black_litterman",
    ]
    assert results.returns.notna().all().all()
    for w in results.weights.values():
        assert w.shape == (len(expected), market.n_assets + 1)
        np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-9)
    assert results.fallbacks == dict.fromkeys(results.policies, 0)
    assert results.config["n_folds"] == len(folds)
    assert results.metrics.loc["black_litterman", "kind"] == "ML-enhanced"
    assert results.metrics.loc["min_variance", "kind"] == "traditional"
    assert results.config["benchmark"] == "1/N"


GAPPED = WalkForward(train=200, test=100, step=150)
ZERO_COST = EnvSettings(cost_bps=0.0)


def test_gaps_between_test_windows_are_left_out_of_the_track(market) -> None:
    """step > test: only the test windows are traded; wealth and weights cross the gap."""
    # 650 days: folds test on [200, 300), [350, 450), [500, 600). Each fold's first
    # return is dated the day after its first decision, its last the day after its last
    # decision; the 50-day gaps after 300 and 450 are in no track.
    assert [(t[0], t[-1]) for _, t in GAPPED.split(market.n_dates)] == [
        (200, 299), (350, 449), (500, 599),
    ]  # fmt: skip
    rows = np.r_[201:301, 351:451, 501:601]
    res = backtest({"ew": EqualWeight(rebalance_every=1)}, market, splitter=GAPPED, env=ZERO_COST)
    assert len(res.returns) == 300
    pd.testing.assert_index_equal(
        res.returns.index, market.dates[rows], check_names=False, check_exact=True, check_freq=False
    )
    # zero costs, daily 1/N: each day earns the mean asset return, compounded over the
    # test days only (wealth carried across the gaps, nothing earned inside them)
    r = np.asarray(market.returns)[rows].mean(axis=1)
    np.testing.assert_allclose(res.returns["ew"].to_numpy(), r, atol=1e-14)
    np.testing.assert_allclose(res.wealth["ew"].to_numpy(), np.cumprod(1 + r), rtol=1e-12)
    assert res.config["n_folds"] == 3


def test_consecutive_test_windows_are_one_episode_and_a_gap_starts_another(
    market, monkeypatch
) -> None:
    from allocgym.backtest import engine

    episodes = []
    real = engine._env_class()

    class Recorded(real):
        def __init__(self, *args, start, end, **kwargs):
            episodes.append((start, end))
            super().__init__(*args, start=start, end=end, **kwargs)

    monkeypatch.setattr(engine, "_env_class", lambda: Recorded)
    backtest({"ew": EqualWeight()}, market, splitter=SPLIT, n_boot=20)
    # contiguous folds [200, 350), [350, 500), [500, 650): one episode to the last date
    assert episodes == [(200, 649)]
    episodes.clear()
    backtest({"ew": EqualWeight()}, market, splitter=GAPPED, n_boot=20)
    assert episodes == [(200, 300), (350, 450), (500, 600)]


def test_overlapping_test_windows_are_refused(market) -> None:
    overlapping = WalkForward(train=200, test=100, step=50)
    with pytest.raises(ValueError, match=r"step=50 < test=100 makes the test windows overlap"):
        backtest({"ew": EqualWeight()}, market, splitter=overlapping, n_boot=20)
    # step == test (adjacent) and step > test (gaps) are fine: one date, one return
    for step in (100, 130):
        res = backtest(
            {"ew": EqualWeight()}, market, splitter=WalkForward(200, 100, step), n_boot=20
        )
        assert res.returns.index.is_unique and res.returns.index.is_monotonic_increasing


def test_a_bad_bootstrap_size_is_refused_before_any_policy_runs(market) -> None:
    class Counting(EqualWeight):
        calls = 0

        def act(self, state):
            Counting.calls += 1
            return super().act(state)

    with pytest.raises(ValueError, match=r"n_boot=-1; expected an integer >= 0"):
        backtest({"ew": Counting()}, market, splitter=SPLIT, n_boot=-1)
    assert Counting.calls == 0
    res = backtest({"ew": Counting()}, market, splitter=SPLIT, n_boot=0)
    assert Counting.calls > 0 and res.metrics["sharpe_ci_low"].isna().all()


class _WealthSeen(EqualWeight):
    """Daily 1/N that records the wealth and weights its state holds at each decision."""

    def reset(self) -> None:
        super().reset()
        self.seen: dict[pd.Timestamp, tuple[float, np.ndarray]] = {}

    def act(self, state: PolicyState) -> np.ndarray:
        self.seen[state.date] = (state.wealth, np.array(state.weights))
        return super().act(state)


def test_a_gap_restarts_from_the_previous_weights_and_wealth(market) -> None:
    ew = _WealthSeen(rebalance_every=1)
    res = backtest({"ew": ew}, market, splitter=GAPPED, env=EnvSettings(cost_bps=10))
    wealth, turnover = res.wealth["ew"].to_numpy(), res.turnover["ew"].to_numpy()
    weights = res.weights["ew"].to_numpy()
    # day 0: all cash into 1/N (turnover 1); after each gap the trade starts from the
    # drifted 1/N weights of the last test day, a small rebalance, not a fresh start
    assert turnover[0] == pytest.approx(1.0, abs=0.01)
    assert ew.seen[market.dates[200]][0] == 1.0
    for first, decision in ((100, 350), (200, 500)):
        assert 0 < turnover[first] < 0.1
        held, w = ew.seen[market.dates[decision]]
        assert held == pytest.approx(wealth[first - 1], rel=1e-12)
        np.testing.assert_allclose(w, weights[first - 1], atol=1e-12)
    np.testing.assert_allclose(wealth, np.cumprod(1 + res.returns["ew"].to_numpy()), rtol=1e-12)


def test_costs_are_charged_only_when_trading(results: Results) -> None:
    cost = results.costs["min_variance"]
    traded = cost > 0
    assert 0 < traded.sum() <= len(cost) // 21 + 2  # monthly rebalances only
    net, gross = results.returns["min_variance"], results.gross_returns["min_variance"]
    np.testing.assert_allclose(net[~traded], gross[~traded], rtol=0, atol=1e-15)
    assert (net[traded] < gross[traded]).all()


def test_zero_cost_daily_1_over_n_equals_the_compounded_mean_return(market) -> None:
    """SPEC invariant 2 through the backtester: constant mix, no costs."""
    res = backtest({"ew": EqualWeight(rebalance_every=1)}, market, splitter=SPLIT, env=ZERO_COST)
    r = np.asarray(market.returns)[SPLIT.train + 1 :]
    np.testing.assert_allclose(res.returns["ew"].to_numpy(), r.mean(axis=1), atol=1e-14)
    np.testing.assert_allclose(res.wealth["ew"].iloc[-1], np.prod(1 + r.mean(axis=1)), rtol=1e-12)


def test_optimiser_failures_are_counted_and_do_not_stop_the_run(market) -> None:
    bad = MeanVariance("target_return", target_return=50.0, lookback=60)
    res = backtest({"1/N": EqualWeight(), "bad": bad}, market, splitter=SPLIT, n_boot=50)
    assert res.fallbacks["bad"] == res.metrics.loc["bad", "fallbacks"] > 0
    assert (res.weights["bad"]["cash"] == 1.0).all()  # never left cash


class _Spy:
    """Records what fit and act saw."""

    def __init__(self) -> None:
        self.fits: list[tuple[pd.Timestamp, pd.Timestamp]] = []
        self.acts: list[pd.Timestamp] = []

    def reset(self) -> None:
        self.fits, self.acts = [], []

    def fit(self, market, features=None):
        assert features is not None and features.n_dates == market.n_dates
        self.fits.append((market.dates[0], market.dates[-1]))
        return self

    def act(self, state: PolicyState) -> np.ndarray:
        assert state.history.dates[-1] == state.date
        self.acts.append(state.date)
        w = np.zeros(state.n_assets + 1)
        w[0] = 1.0
        return w


def test_fit_sees_only_the_training_part_before_each_fold(market) -> None:
    spy = _Spy()
    backtest({"spy": spy}, market, make_panel(market), splitter=SPLIT, n_boot=20)
    folds = list(SPLIT.split(market.n_dates))
    assert len(spy.fits) == len(folds)
    for (start, end), (train, test) in zip(spy.fits, folds, strict=True):
        assert start == market.dates[train[0]] and end == market.dates[train[-1]]
        assert end < market.dates[test[0]]
    assert spy.acts[0] == market.dates[folds[0][1][0]]


def test_policies_are_fitted_and_asked_only_inside_test_windows(market) -> None:
    spy = _Spy()
    backtest({"spy": spy}, market, make_panel(market), splitter=GAPPED, n_boot=20)
    decisions = np.r_[200:300, 350:450, 500:600]
    assert spy.acts == list(market.dates[decisions])
    assert spy.fits == [
        (market.dates[0], market.dates[199]),
        (market.dates[150], market.dates[349]),
        (market.dates[300], market.dates[499]),
    ]


def test_point_in_time_results_before_a_date_ignore_later_prices(market) -> None:
    cut = 450
    prices = np.array(market.prices)
    prices[cut + 1 :] *= np.random.default_rng(0).uniform(0.8, 1.2, prices[cut + 1 :].shape)
    changed = market.with_prices(prices)
    panel = make_panel(market)  # Black-Litterman takes its views from it
    a = backtest(four(), market, panel, splitter=SPLIT, n_boot=20)
    b = backtest(four(), changed, panel, splitter=SPLIT, n_boot=20)
    upto = a.returns.index <= market.dates[cut]
    pd.testing.assert_frame_equal(a.returns[upto], b.returns[upto])
    for k in a.weights:
        pd.testing.assert_frame_equal(a.weights[k][upto], b.weights[k][upto])
    assert not a.returns.equals(b.returns)


def test_save_load_roundtrip_and_report(results: Results, tmp_path) -> None:
    from allocgym.backtest import write_report

    results.save(tmp_path)
    write_report(results, tmp_path)
    back = Results.load(tmp_path)
    pd.testing.assert_frame_equal(back.returns, results.returns, check_freq=False)
    pd.testing.assert_frame_equal(back.costs, results.costs, check_freq=False)
    for k in results.weights:
        pd.testing.assert_frame_equal(back.weights[k], results.weights[k], check_freq=False)
    pd.testing.assert_frame_equal(back.metrics, results.metrics, check_dtype=False)
    assert back.fallbacks == results.fallbacks
    assert back.config["benchmark"] == "1/N"
    names = {p.name for p in tmp_path.iterdir()}
    assert {"report.md", "equity.png", "drawdowns.png", "rolling_sharpe.png"} <= names
    assert "weights_black_litterman.png" in names
    assert not [n for n in names if n.endswith(".tmp")]
    text = (tmp_path / "report.md").read_text()
    assert "| 1/N |" in text and "DSR" in text
    with pytest.raises(FileNotFoundError, match="missing"):
        Results.load(tmp_path / "nope")


def test_same_inputs_give_identical_results(market, results: Results) -> None:
    again = backtest(four(), market, make_panel(market), splitter=SPLIT, n_boot=100)
    pd.testing.assert_frame_equal(again.metrics, results.metrics)
    pd.testing.assert_frame_equal(again.returns, results.returns)
    pd.testing.assert_frame_equal(again.costs, results.costs)
    for k in results.weights:
        pd.testing.assert_frame_equal(again.weights[k], results.weights[k])


def test_bad_arguments(market) -> None:
    with pytest.raises(ValueError, match="empty"):
        backtest({}, market)
    with pytest.raises(ValueError, match="benchmark='x'"):
        backtest({"ew": EqualWeight()}, market, splitter=SPLIT, benchmark="x")
    with pytest.raises(TypeError, match="act"):
        backtest({"nope": object()}, market)
    with pytest.raises(ValueError, match="two policies"):
        backtest([EqualWeight(), EqualWeight()], market)


def test_a_panel_on_a_longer_history_is_aligned_to_the_market(synthetic_market, market) -> None:
    long_panel = make_panel(synthetic_market)
    a = backtest({"bl": BlackLitterman(lookback=60)}, market, long_panel, splitter=SPLIT, n_boot=20)
    b = backtest(
        {"bl": BlackLitterman(lookback=60)},
        market,
        long_panel[: market.n_dates],
        splitter=SPLIT,
        n_boot=20,
    )
    pd.testing.assert_frame_equal(a.returns, b.returns)


def test_config_with_array_parameters_saves_as_yaml(market, tmp_path) -> None:
    pol = {"bl": BlackLitterman(lookback=60, reference_weights=np.arange(1.0, 6.0), views="none")}
    res = backtest(pol, market, splitter=SPLIT, n_boot=20)
    res.save(tmp_path)
    params = Results.load(tmp_path).config["policies"]["bl"]["params"]
    assert params["reference_weights"] == [1.0, 2.0, 3.0, 4.0, 5.0]


# ------------------------------------------------------------------ small single-fold runs

ONE_FOLD = WalkForward(train=200, test=100)  # on 300 dates: decisions 200..298


@pytest.fixture(scope="module")
def short(synthetic_market: MarketData) -> MarketData:
    return synthetic_market[:300]


class _Cash:
    """A minimal Policy: no ``fit``, ``name``, ``kind``, ``is_benchmark`` or fallbacks."""

    def reset(self) -> None:
        self.observations: list[np.ndarray] = []

    def act(self, state: PolicyState) -> np.ndarray:
        self.observations.append(np.array(state.observation))
        w = np.zeros(state.n_assets + 1)
        w[0] = 1.0
        return w


def test_a_sequence_is_named_by_name_or_class_and_duplicates_are_refused(short) -> None:
    res = backtest([EqualWeight(), _Cash()], short, splitter=ONE_FOLD, n_boot=20)
    assert list(res.returns.columns) == ["EqualWeight", "_Cash"]
    with pytest.raises(ValueError, match="two policies are called '_Cash'"):
        backtest([_Cash(), EqualWeight(), _Cash()], short, splitter=ONE_FOLD)


def test_a_policy_needs_both_act_and_reset(short) -> None:
    class ActOnly:
        def act(self, state):  # pragma: no cover - never called
            return None

    with pytest.raises(TypeError, match=r"policy 'x' \(ActOnly\) has no act\(state\)/reset\(\)"):
        backtest({"x": ActOnly()}, short, splitter=ONE_FOLD)


def test_a_policy_object_reused_for_a_second_backtest_starts_afresh(market) -> None:
    """``reset()`` before every run: nothing recorded in the first run leaks into the second."""
    spy = _Spy()
    panel = make_panel(market)
    backtest({"spy": spy}, market, panel, splitter=GAPPED, n_boot=20)
    backtest({"spy": spy}, market, panel, splitter=GAPPED, n_boot=20)
    assert len(spy.fits) == 3 and len(spy.acts) == 300


def test_a_last_fold_holding_only_the_final_date_adds_no_return(synthetic_market) -> None:
    """On 301 dates, folds test [200, 250) and [300, 301): a decision at the last date
    would earn its return after the data end, so that fold is skipped."""
    data = synthetic_market[:301]
    split = WalkForward(train=200, test=50, step=100)
    assert [(t[0], t[-1]) for _, t in split.split(data.n_dates)] == [(200, 249), (300, 300)]
    res = backtest({"ew": EqualWeight()}, data, splitter=split, n_boot=20)
    pd.testing.assert_index_equal(
        res.returns.index, data.dates[201:251], check_names=False, check_freq=False
    )


def test_without_a_panel_policies_see_the_price_only_observation(short) -> None:
    """No feature panel: the environment is built with ``features=None`` (returns window,
    mask and weights), not with a preset's features."""
    cash = _Cash()
    backtest({"cash": cash}, short, splitter=ONE_FOLD, n_boot=20)
    settings = EnvSettings()  # the backtest's default, stepped one day at a time
    env = settings.make_env(short, None, start=200, end=299, rebalance_every=1)
    first, _ = env.reset()
    assert len(cash.observations) == 99
    np.testing.assert_array_equal(cash.observations[0], first)


def test_kind_benchmark_and_fallbacks_of_policies_without_those_attributes(short) -> None:
    """A policy with no ``kind`` is "custom", with no ``is_benchmark`` is not the default
    benchmark (even listed first) and with no ``n_fallbacks_`` has 0 fallbacks; an
    ML-enhanced policy is reported as traditional when no panel is given."""
    panel = make_panel(short)

    def run(features):
        views = "absolute" if features is not None else "none"  # no panel: the prior only
        bl = BlackLitterman(lookback=60, views=views)
        pols = {"cash": _Cash(), "1/N": EqualWeight(), "bl": bl}
        return backtest(pols, short, features, splitter=ONE_FOLD, n_boot=20)

    with_panel, without = run(panel), run(None)
    assert with_panel.metrics.columns[0] == "kind"
    assert with_panel.metrics["kind"].to_dict() == {
        "cash": "custom",
        "1/N": "traditional",
        "bl": "ML-enhanced",
    }
    assert without.metrics["kind"].to_dict() == {
        "cash": "custom",
        "1/N": "traditional",
        "bl": "traditional",
    }
    assert with_panel.config["benchmark"] == "1/N"
    assert with_panel.fallbacks["cash"] == with_panel.metrics.loc["cash", "fallbacks"] == 0
    no_bench = backtest({"cash": _Cash()}, short, splitter=ONE_FOLD, n_boot=20)
    assert no_bench.config["benchmark"] is None


def test_documented_defaults_of_backtest(synthetic_market) -> None:
    """Yearly folds after a one-year warm-up, the default EnvSettings (10 bps, window 20),
    1000 bootstrap draws."""
    from tests.backtest.test_stats import _cube_root_ceiling, _plain_circular_block_bootstrap

    data = synthetic_market[:400]
    res = backtest({"ew": EqualWeight(rebalance_every=1)}, data)
    assert res.config["splitter"] == {
        "train": 252,
        "test": 252,
        "step": None,
        "expanding": False,
        "purge": 0,
    }
    assert res.config["n_folds"] == 1 and res.returns.index[0] == data.dates[253]
    assert res.config["env"] == EnvSettings().to_dict()
    assert res.config["env"]["cost_bps"] == 10.0 and res.config["env"]["window"] == 20
    assert res.costs["ew"].iloc[0] == pytest.approx(1e-3, rel=1e-9)  # all cash into 1/N
    assert res.config["data"]["start"] == str(data.dates[0].date())
    assert res.config["data"]["end"] == str(data.dates[-1].date())
    r = res.returns["ew"].to_numpy()
    lo, hi = _plain_circular_block_bootstrap(r, _cube_root_ceiling(r.size), 1000, 0.95, 252, 0)
    assert res.metrics.loc["ew", "sharpe_ci_low"] == pytest.approx(lo, rel=1e-10)
    assert res.metrics.loc["ew", "sharpe_ci_high"] == pytest.approx(hi, rel=1e-10)


def test_a_panel_starting_before_the_market_is_aligned_before_fit_sees_it(
    synthetic_market,
) -> None:
    """``fit`` gets the panel rows of the training dates, not the panel's first rows."""
    data = synthetic_market[100:400]
    spy = _Spy()
    spy.fit = lambda market, features=None: spy.fits.append(  # type: ignore[method-assign]
        (features.dates[0], features.dates[-1])
    )
    backtest({"spy": spy}, data, make_panel(synthetic_market[:400]), splitter=ONE_FOLD)
    assert spy.fits == [(data.dates[0], data.dates[199])]


def test_config_describes_each_policy_and_its_optimizer(short) -> None:
    """Public constructor parameters only: no fitted (``x_``) or private (``_x``) state,
    the optimiser's settings as a nested mapping without its compiled-problem cache."""
    res = backtest({"mv": MeanVariance(lookback=60)}, short, splitter=ONE_FOLD, n_boot=20)
    desc = res.config["policies"]["mv"]
    assert desc["class"] == "allocgym.baselines.policies.MeanVariance"
    params = dict(desc["params"])
    assert type(params.pop("covariance")).__name__ == "LedoitWolfCovariance"
    assert params == {
        "rebalance_every": 21,
        "lookback": 60,
        "expected_returns": "historical",
        "periods_per_year": 252,
        "cost_penalty_bps": 0.0,
        "optimizer": {
            "objective": "utility",
            "risk_aversion": 2.5,
            "target_volatility": None,
            "target_return": None,
            "max_weight": 1.0,
            "turnover_penalty": 0.0,
            "turnover_cap": None,
            "cost_rate": 0.0,
            "solver": "CLARABEL",
        },
    }


def test_out_saves_the_results_and_writes_the_report(short, tmp_path) -> None:
    res = backtest({"ew": EqualWeight()}, short, splitter=ONE_FOLD, n_boot=20, out=tmp_path)
    back = Results.load(tmp_path)
    pd.testing.assert_frame_equal(back.returns, res.returns, check_freq=False)
    assert "| ew |" in (tmp_path / "report.md").read_text()


def test_progress_is_one_bar_over_policies_times_folds(market, capsys) -> None:
    """``progress=True``: one bar on stderr counting every (policy, fold), gaps included;
    off with ``progress=False`` and, by default, when stderr is not a terminal."""
    pols = lambda: {"a": EqualWeight(), "b": EqualWeight()}  # noqa: E731
    for splitter in (SPLIT, GAPPED):  # 3 contiguous folds; 3 folds with gaps between
        backtest(pols(), market, splitter=splitter, n_boot=20, progress=True)
        err = capsys.readouterr().err
        final = err.strip().split("\r")[-1]  # the bar as it was left: every tick counted
        assert final.startswith("backtest") and " 6/6 " in final and final.endswith(", b]")
    backtest(pols(), market, splitter=SPLIT, n_boot=20, progress=False)
    backtest(pols(), market, splitter=SPLIT, n_boot=20)  # captured stderr is no terminal
    assert capsys.readouterr().err == ""


def test_progress_counts_a_last_fold_with_no_day_to_trade(synthetic_market, capsys) -> None:
    # gapped folds over 651 dates: the last test window holds the last date only, so its
    # episode has no day to trade; the bar still counts it
    splitter = WalkForward(train=200, test=100, step=150)
    assert [te[0] for _, te in splitter.split(651)] == [200, 350, 500, 650]
    backtest({"a": EqualWeight()}, synthetic_market[:651], splitter=splitter, n_boot=20,
             progress=True)  # fmt: skip
    final = capsys.readouterr().err.strip().split("\r")[-1]
    assert " 4/4 " in final


def test_results_config_records_the_settings(short, tmp_path) -> None:
    settings = EnvSettings(cost_bps=5, reward="differential_sharpe", window=10, norm_window=63)
    res = backtest({"ew": EqualWeight()}, short, splitter=ONE_FOLD, n_boot=20, env=settings)
    assert res.config["env"] == settings.to_dict()
    assert "cost_bps" not in res.config and "window" not in res.config  # one place only
    res.save(tmp_path)
    assert EnvSettings(**Results.load(tmp_path).config["env"]) == settings
    with pytest.raises(TypeError, match=r"env must be an allocgym\.envs\.EnvSettings"):
        backtest({"ew": EqualWeight()}, short, splitter=ONE_FOLD, env={"cost_bps": 5})


def test_the_settings_costs_are_the_costs_every_policy_pays(short) -> None:
    """All cash into 1/N on the first decision: cost_bps of the settings, nothing else."""
    for bps in (0.0, 25.0):
        res = backtest(
            {"ew": EqualWeight()}, short, splitter=ONE_FOLD, n_boot=20,
            env=EnvSettings(cost_bps=bps),
        )  # fmt: skip
        assert res.costs["ew"].iloc[0] == pytest.approx(bps * 1e-4, rel=1e-9)
