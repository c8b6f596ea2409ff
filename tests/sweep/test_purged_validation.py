"""sweep.cv: purged k-fold validation inside each walk-forward fold's training part."""

from __future__ import annotations

import numpy as np
import pytest

import allocgym.backtest as backtest_module
from allocgym.agents import RLAgent
from allocgym.backtest.metrics import sharpe_ratio
from allocgym.exceptions import ConfigError
from allocgym.experiment import load_config
from allocgym.experiment.sweep_config import CrossValidation, SweepConfig
from allocgym.sweep.space import Trial
from allocgym.sweep.trial import run_trial, validation_pass
from tests.helpers import tiny_experiment

SPACE = {"agents.0.hyperparameters.learning_rate": [0.001]}
PURGED = CrossValidation("purged_kfold", n_splits=3, embargo=5)


def _recorder(patch) -> list[dict]:
    """Every backtest from here on: its name, market dates, returns, turnover, and the
    date ranges of every env an agent trained on before it (one per training block)."""
    calls: list[dict] = [{"envs": []}]  # envs built before the next backtest
    backtest, make_env = backtest_module.backtest, RLAgent.make_env

    def recorded_make_env(self, market, features):
        calls[-1]["envs"].append((market.dates[0], market.dates[-1]))
        return make_env(self, market, features)

    def recorded_backtest(policies, market, *args, name="", **kwargs):
        res = backtest(policies, market, *args, name=name, **kwargs)
        calls[-1].update(name=name, market=market.dates, returns=res.returns.index,
                         mean_return=res.returns.mean(axis=1).to_numpy(),
                         turnover=float(res.metrics["turnover"].iloc[0]))  # fmt: skip
        calls.append({"envs": []})
        return res

    patch.setattr(RLAgent, "make_env", recorded_make_env)
    patch.setattr(backtest_module, "backtest", recorded_backtest)
    return calls


@pytest.fixture(scope="module")
def purged(two_folds):
    """The purged 3-fold validation pass (embargo 5) on both folds, and its backtests."""
    config, market, features, _, folds = two_folds
    reported: list[dict] = []
    with pytest.MonkeyPatch.context() as patch:
        calls = _recorder(patch)
        val = validation_pass(config, market, features, folds, 100, reported.append, PURGED)
    return val, calls[:-1], reported


def test_default_is_the_holdout_and_round_trips():
    default = SweepConfig.from_dict({"space": SPACE})
    assert default.cv == CrossValidation("holdout", 3, 0)
    assert default.to_dict()["cv"] == {"kind": "holdout"}
    assert SweepConfig.from_dict(default.to_dict()) == default
    cfg = SweepConfig.from_dict(
        {"space": SPACE, "cv": {"kind": "purged_kfold", "n_splits": 4, "embargo": 5}}
    )
    assert cfg.cv == CrossValidation("purged_kfold", 4, 5)
    assert cfg.to_dict()["cv"] == {"kind": "purged_kfold", "n_splits": 4, "embargo": 5}
    assert SweepConfig.from_dict(cfg.to_dict()) == cfg
    assert SweepConfig.from_dict({"space": SPACE, "cv": {"kind": "purged_kfold"}}).cv == (
        CrossValidation("purged_kfold", 3, 0)
    )


@pytest.mark.parametrize(
    ("cv", "match"),
    [
        ("kfold", r"sweep\.cv: 'kfold' is invalid; expected a mapping \{kind: KIND"),
        ({"kind": "cpcv"},
         r"sweep\.cv\.kind: 'cpcv' is invalid; expected one of "
         r"\['holdout', 'purged_kfold', 'combinatorial_purged'\]"),
        ({"n_splits": 3}, r"sweep\.cv\.kind: None is invalid; expected one of"),
        ({"kind": "purged_kfold", "n_splits": 1},
         r"sweep\.cv\.n_splits: 1 is invalid; expected an integer >= 2"),
        ({"kind": "purged_kfold", "n_splits": 2.5},
         r"sweep\.cv\.n_splits: 2\.5 is invalid; expected an integer >= 2"),
        ({"kind": "purged_kfold", "embargo": -1},
         r"sweep\.cv\.embargo: -1 is invalid; expected an integer >= 0"),
        ({"kind": "purged_kfold", "embargo": True},
         r"sweep\.cv\.embargo: True is invalid; expected an integer >= 0"),
        ({"kind": "purged_kfold", "embarg": 5},
         r"sweep\.cv\.embarg: unknown key for kind purged_kfold; allowed keys: "
         r"\['kind', 'n_splits', 'embargo'\]"),
        ({"kind": "holdout", "n_splits": 3},
         r"sweep\.cv\.n_splits: unknown key for kind holdout; allowed keys: \['kind'\]"),
    ],
)  # fmt: skip
def test_cv_messages_name_key_value_and_allowed(cv, match):
    with pytest.raises(ConfigError, match=match):
        SweepConfig.from_dict({"space": SPACE, "cv": cv})


def test_default_validation_is_the_unchanged_holdout(two_folds, monkeypatch):
    """No cv, or cv holdout: one backtest per fold, trained on [a, b - 110) in one env,
    validated on [b - 100, b), the same numbers both ways."""
    config, market, features, _, folds = two_folds
    dates = market.dates
    calls = _recorder(monkeypatch)
    default = validation_pass(config, market, features, folds, 100)
    holdout = validation_pass(config, market, features, folds, 100, cv=CrossValidation())
    assert default == holdout
    calls = calls[:-1]
    assert [c["name"] for c in calls] == [f"tiny validation fold {k}" for k in (0, 1)] * 2
    assert [c["envs"] for c in calls[:2]] == [
        [(dates[0], dates[189])], [(dates[200], dates[389])],
    ]  # fmt: skip
    assert [(c["returns"][0], c["returns"][-1]) for c in calls[:2]] == [
        (dates[201], dates[299]), (dates[401], dates[499]),
    ]  # fmt: skip
    first, second = (c["mean_return"] for c in calls[:2])
    assert default.sharpe == [sharpe_ratio(first), sharpe_ratio(np.concatenate([first, second]))]
    assert default.turnover == [calls[0]["turnover"], calls[1]["turnover"]]


def test_each_split_trains_on_purged_embargoed_blocks_in_envs_of_their_own(purged, two_folds):
    """Part [a, a + 300) in blocks [0, 100), [100, 200), [200, 300); horizon = purge + 1
    = 11 drops the 10 days before a test block, the embargo 5 more after its purge."""
    _, market, _, _, _ = two_folds
    dates = market.dates
    _, calls, _ = purged
    assert [c["name"] for c in calls] == [
        f"tiny validation fold {k} split {j}" for k in (0, 1) for j in (0, 1, 2)
    ]
    expected = []
    for a in (0, 200):
        expected += [
            [(dates[a + 115], dates[a + 299])],  # 99 + 10 purged + 5 embargoed, + 1
            [(dates[a], dates[a + 89]), (dates[a + 215], dates[a + 299])],  # two envs
            [(dates[a], dates[a + 189])],
        ]
    assert [c["envs"] for c in calls] == expected


def test_each_split_is_backtested_on_its_test_block_only(purged, two_folds):
    """Returns dated the day after each decision, inside the block; the first block keeps
    its first window = 5 days as history; the part is cut after the block."""
    _, market, _, _, folds = two_folds
    dates = market.dates
    _, calls, _ = purged
    blocks = [(a + s, a + e) for a in (0, 200) for s, e in ((6, 99), (101, 199), (201, 299))]
    assert [(c["returns"][0], c["returns"][-1]) for c in calls] == [
        (dates[s], dates[e]) for s, e in blocks
    ]
    assert [len(c["returns"]) for c in calls] == [e - s + 1 for s, e in blocks]
    assert [(c["market"][0], c["market"][-1]) for c in calls] == [
        (dates[a], dates[a + e]) for a in (0, 200) for e in (99, 199, 299)
    ]
    for call in calls:  # no training day falls in the block nor in its purge/embargo
        lo = dates.get_loc(call["returns"][0]) - 1
        hi = dates.get_loc(call["returns"][-1])
        for first, last in call["envs"]:
            assert dates.get_loc(last) <= lo - 11 or dates.get_loc(first) >= hi + 16
    # nothing from a walk-forward test window: every date seen precedes it
    for k, (_, test) in enumerate(folds):
        for call in calls[3 * k : 3 * k + 3]:
            assert call["market"][-1] < dates[test[0]]
            assert all(last < dates[test[0]] for _, last in call["envs"])


def test_metric_is_the_sharpe_of_the_concatenated_out_of_fold_returns(purged):
    val, calls, reported = purged
    means = [c["mean_return"] for c in calls]
    assert val.sharpe == [
        sharpe_ratio(np.concatenate(means[:3])),
        sharpe_ratio(np.concatenate(means)),
    ]
    assert np.isfinite(val.sharpe).all() and val.sharpe[0] != val.sharpe[1]
    assert reported == [{"val_sharpe": val.sharpe[0], "fold": 1}]
    assert val.turnover == [c["turnover"] for c in calls]  # per (fold, split)
    assert len(set(val.turnover)) == 6
    assert val.mean_turnover == pytest.approx(np.mean(val.turnover), rel=1e-15)


def test_a_split_leaving_a_too_short_block_is_refused_before_training(two_folds, monkeypatch):
    """Embargo 80: split 1 keeps [0, 90) and [290, 300), 10 days < 5 + 5 + 1."""
    config, market, features, _, folds = two_folds
    calls = _recorder(monkeypatch)
    cv = CrossValidation("purged_kfold", 3, 80)
    match = (
        r"sweep\.cv: \{'kind': 'purged_kfold', 'n_splits': 3, 'embargo': 80\} is invalid; "
        r"split 1 of the 300-day training part of fold 0 trains on blocks of \[90, 10\] days "
        r"and tests on rows 100\.\.199, expected blocks of at least window \+ "
        r"rebalance_every \+ 1 = 11 days"
    )
    with pytest.raises(ConfigError, match=match):
        validation_pass(config, market, features, folds, 100, cv=cv)
    assert calls == [{"envs": []}]


def test_a_trial_validates_with_the_sweeps_cv(synthetic_market, tmp_path, monkeypatch, capsys):
    """run_trial takes cv from the base config's sweep section: 3 backtests on one fold."""
    sweep = {"space": SPACE, "cv": {"kind": "purged_kfold", "n_splits": 3, "embargo": 5}}
    cfg = tiny_experiment(tmp_path, synthetic_market, 500, sweep=sweep)
    calls = _recorder(monkeypatch)
    record = run_trial(load_config(cfg), Trial("c000", {}, 0), tmp_path / "sweep", 100, None, 1)
    assert record["status"] == "ok", record.get("error")
    val = [c for c in calls if "validation" in c.get("name", "")]
    assert [c["name"] for c in val] == [f"c000-s0 validation fold 0 split {j}" for j in range(3)]
    assert record["val_turnover_folds"] == [c["turnover"] for c in val]
    means = np.concatenate([c["mean_return"] for c in val])
    assert record["val_sharpe"] == sharpe_ratio(means)
    assert capsys.readouterr() == ("", "")  # no progress bar from the splits' backtests


@pytest.mark.parametrize(
    ("days", "start", "stop", "refused"),
    [
        ([11, 40], 10, 12, False),  # blocks of exactly window + rebalance_every + 1 = 11
        ([10, 40], 10, 12, True),  # one day short
        ([40], 10, 12, False),  # a test block past the window: returns at 11 and 12 - 1
        ([40], 10, 11, True),  # one row: no return inside the block
        ([40], 0, 7, False),  # the first block: decisions from row window = 5 on
        ([40], 0, 6, True),
    ],
)
def test_split_checks_at_their_boundaries(days, start, stop, refused):
    """_check_split with window 5, rebalance_every 5: training blocks need 11 days; a
    test block [start, stop) needs 2 rows from max(start, window) on."""
    from types import SimpleNamespace

    from allocgym.sweep.trial import _check_split

    env = SimpleNamespace(window=5, rebalance_every=5)
    if refused:
        with pytest.raises(ConfigError, match=r"sweep\.cv: .* expected blocks of at least"):
            _check_split(env, PURGED, days, start, stop, "split 0")
    else:
        _check_split(env, PURGED, days, start, stop, "split 0")
