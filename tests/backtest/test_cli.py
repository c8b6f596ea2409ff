"""Subprocess smoke tests of `allocgym backtest` and `allocgym report`."""

from __future__ import annotations

import subprocess
import sys

import pytest

from allocgym.backtest._cli import DEFAULT_POLICIES, make_policies, runnable_policies
from allocgym.baselines import BASELINES, EqualWeight, MeanVariance, MinVariance
from allocgym.exceptions import ConfigError
from allocgym.predictors.config import PRESETS
from tests.helpers import CLI_TIMEOUT


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "allocgym.cli", *args],
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
    )


def test_backtest_then_report(tmp_path) -> None:
    out = tmp_path / "run"
    res = _run(
        "backtest", "--start", "2021-01-01", "--lookback", "63", "--train", "63",
        "--test", "126", "--n-boot", "50", "--out", str(out),
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    # policies are labelled as in a config's results (the registry's labels)
    assert "Min-variance" in res.stdout and "Mean-variance" in res.stdout
    # no features, so no views: Black-Litterman is left out of the default list, saying why
    assert "Black-Litterman" not in res.stdout
    assert "Black-Litterman left out of the default policies" in res.stderr
    assert "--features full" in res.stderr
    for f in ("metrics.csv", "returns.parquet", "weights.parquet", "config.yaml", "report.md"):
        assert (out / f).is_file()
    report = (out / "report.md").read_text()
    assert "| 1/N |" in report and "| Min-variance |" in report
    (out / "report.md").unlink()
    res = _run("report", str(out))
    assert res.returncode == 0, res.stderr
    # the report is rebuilt from the saved results alone: the same text
    assert (out / "report.md").read_text() == report


def test_unknown_policy_is_one_readable_line() -> None:
    res = _run("backtest", "--policies", "1/N,magic")
    assert res.returncode == 1
    assert "magic" in res.stderr and "Traceback" not in res.stderr


def test_policies_takes_the_names_a_config_takes() -> None:
    # issue 11: this failed with "unknown" while the YAML accepted exactly these names
    policies = make_policies("equal_weight,min_variance", lookback=63, rebalance=5)
    assert list(policies) == ["1/N", "Min-variance"]
    ew, mv = policies.values()
    assert type(ew) is EqualWeight and ew.rebalance_every == 5
    assert type(mv) is MinVariance and (mv.lookback, mv.rebalance_every) == (63, 5)
    assert list(make_policies(DEFAULT_POLICIES, 252, 21)) == [
        "1/N", "Min-variance", "Mean-variance", "Black-Litterman"
    ]  # fmt: skip


def test_the_default_list_has_black_litterman_only_with_views() -> None:
    """Default list: policies whose features --features does not make are left out; a
    list the user wrote fails instead, before any feature is built."""
    default = make_policies(DEFAULT_POLICIES, 63, 5)
    for preset in ("technical", "standard"):
        kept = runnable_policies(default, PRESETS[preset], drop=True, source=f"--features {preset}")
        assert list(kept) == ["1/N", "Min-variance", "Mean-variance"]
    assert list(runnable_policies(default, None, drop=True)) == list(kept)
    assert list(runnable_policies(default, PRESETS["full"], drop=True)) == list(default)
    with pytest.raises(
        ConfigError,
        match=r"--policies: BlackLitterman needs .*'lstm_forecast'"
        r".*--features standard has no lstm predictor",
    ):
        runnable_policies(
            make_policies("1/N,black_litterman", 63, 5), PRESETS["standard"], drop=False,
            source="--features standard",
        )  # fmt: skip


def test_policies_keeps_the_old_cli_names() -> None:
    policies = make_policies("1/N, max_sharpe ,buy_and_hold", lookback=63, rebalance=5)
    assert list(policies) == ["1/N", "Max-Sharpe", "Buy & hold"]
    sharpe = policies["Max-Sharpe"]
    assert type(sharpe) is MeanVariance and sharpe.optimizer.objective == "max_sharpe"
    assert (sharpe.lookback, sharpe.rebalance_every) == (63, 5)


def test_every_registered_baseline_is_a_cli_policy() -> None:
    policies = make_policies(",".join(BASELINES), lookback=63, rebalance=5)
    assert list(policies) == [BASELINES.entry(n).label for n in BASELINES]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("1/N,min_varience", r"unknown baseline 'min_varience' \(did you mean 'min_variance'\?\); "
         r"expected one of \['black_litterman', "),
        (" , ", r"empty list; expected a comma-separated list of \['black_litterman'"),
        ("1/N,equal_weight", r"'equal_weight' is listed twice"),
    ],
)  # fmt: skip
def test_bad_policies_name_the_value_and_the_known_names(spec, message) -> None:
    with pytest.raises(ConfigError, match=message):
        make_policies(spec, 63, 5)


def test_backtest_flags_make_one_env_settings_checked_before_any_data(monkeypatch) -> None:
    import argparse

    from allocgym.backtest._cli import env_settings, run_backtest
    from allocgym.cli import build_parser
    from allocgym.envs import EnvSettings

    args = build_parser().parse_args(["backtest", "--cost-bps", "5"])
    assert env_settings(args) == EnvSettings(cost_bps=5.0)

    def never(*a, **k):
        raise AssertionError("data was loaded for an invalid --cost-bps")

    monkeypatch.setattr("allocgym.data.load_market", never)
    bad = argparse.Namespace(**{**vars(args), "cost_bps": -1.0})
    with pytest.raises(ConfigError, match=r"--cost-bps -1\.0 is invalid; expected a number"):
        run_backtest(bad)


def test_policies_wrap_a_baseline_in_overlays_as_a_config_does(tmp_path) -> None:
    """``NAME+OVERLAY+...``: the overlays of a config's ``overlays: [...]`` under that
    baseline (defaults, innermost first), with the same label."""
    from allocgym.experiment import load_config
    from allocgym.overlays import CostAwareRebalancing, DynamicRebalancing, VolatilityTarget

    spec = "equal_weight+vol_target, min_variance + cost_aware + dynamic ,1/N"
    policies = make_policies(spec, lookback=63, rebalance=5)
    assert list(policies) == ["1/N + vol target", "Min-variance + cost-aware + dynamic", "1/N"]
    vt, dyn, _ = policies.values()
    assert type(vt) is VolatilityTarget and type(vt.policy) is EqualWeight
    assert type(dyn) is DynamicRebalancing and type(dyn.policy) is CostAwareRebalancing
    assert type(dyn.policy.policy) is MinVariance and dyn.policy.policy.lookback == 63
    config = load_config({
        "name": "x", "output_dir": str(tmp_path),
        "baselines": [{"name": "equal_weight", "overlays": ["vol_target"]},
                      {"name": "min_variance", "overlays": ["cost_aware", "dynamic"]}],
    })  # fmt: skip
    assert [b.display for b in config.baselines] == list(policies)[:2]


@pytest.mark.parametrize(
    ("spec", "message"),
    [("1/N+vol_targt", r"unknown overlay 'vol_targt' \(did you mean 'vol_target'\?\)"),
     ("1/N+vol_target,equal_weight+vol_target", r"'equal_weight\+vol_target' is listed twice")],
)  # fmt: skip
def test_bad_overlays_name_the_value(spec, message) -> None:
    with pytest.raises(ConfigError, match=message):
        make_policies(spec, 63, 5)


def test_backtest_runs_an_overlaid_baseline_end_to_end(tmp_path) -> None:
    from allocgym.backtest import Results
    from allocgym.cli import main

    out = tmp_path / "run"
    assert main(["backtest", "--policies", "equal_weight+bands,1/N", "--start", "2021-01-01",
                 "--lookback", "63", "--train", "63", "--test", "126", "--n-boot", "20",
                 "--out", str(out)]) == 0  # fmt: skip
    results = Results.load(out)
    assert list(results.metrics.index) == ["1/N + bands", "1/N"]
    assert "| 1/N + bands |" in (out / "report.md").read_text()
    banded, plain = (results.metrics.loc[k, "turnover"] for k in results.metrics.index)
    assert banded < plain  # the no-trade band trades less than 1/N rebalanced in full


def test_a_volatility_target_without_its_forecast_names_the_preset_that_makes_it() -> None:
    policies = make_policies("equal_weight+vol_target", 63, 5)
    with pytest.raises(ConfigError, match=r"'garch_vol_21d' \(GARCH 21-day volatility forecast\)"
                       r".*--features none gives no feature panel.*'standard'"):  # fmt: skip
        runnable_policies(policies, None, drop=False)
