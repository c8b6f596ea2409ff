"""sweep.cv: combinatorial purged cross-validation (CPCV) inside each fold's training part."""

from __future__ import annotations

import re
from math import comb

import numpy as np
import pytest

import allocgym.sweep.trial as trial_module
from allocgym.agents import RLAgent
from allocgym.backtest import CombinatorialPurgedKFold
from allocgym.backtest.metrics import sharpe_ratio
from allocgym.exceptions import ConfigError
from allocgym.experiment import load_config
from allocgym.experiment.sweep_config import CrossValidation, SweepConfig
from allocgym.sweep.space import Trial
from allocgym.sweep.trial import Validation, run_trial, validation_pass
from tests.helpers import tiny_experiment

SPACE = {"agents.0.hyperparameters.learning_rate": [0.001]}
N, K, PURGE, EMBARGO, WINDOW = 4, 2, 10, 5, 5
CPCV = CrossValidation("combinatorial_purged", embargo=EMBARGO, n_groups=N, n_test_groups=K)
GROUP = 75  # 300-day training parts cut into 4 groups of 75 days
STARTS = (0, 200)  # first row of each fold's training part
NAME = re.compile(r"fold (\d+) split (\d+) group (\d+)")


def _spy(patch) -> list[dict]:
    """The splits in the order run: the row ranges of the blocks fitted on (global rows),
    then every test group's backtest (fold, split, group, rows, returns, turnover)."""
    splits: list[dict] = []
    fit_blocks, backtest = RLAgent.fit_blocks, trial_module._validation_backtest

    def spied_fit_blocks(self, blocks):
        rows = [(m.dates[0], m.dates[-1]) for m, _ in blocks]
        splits.append({"blocks": rows, "tests": []})
        return fit_blocks(self, blocks)

    def spied_backtest(config, agents, part, splitter, where):
        res = backtest(config, agents, part, splitter, where)
        fold, split, group = map(int, NAME.fullmatch(where).groups())
        splits[-1]["tests"].append({
            "fold": fold, "split": split, "group": group, "market": part[0].dates,
            "returns": res.returns.index, "mean_return": res.returns.mean(axis=1).to_numpy(),
            "turnover": float(res.metrics["turnover"].mean()),
        })  # fmt: skip
        return res

    patch.setattr(RLAgent, "fit_blocks", spied_fit_blocks)
    patch.setattr(trial_module, "_validation_backtest", spied_backtest)
    return splits


@pytest.fixture(scope="module")
def cpcv(two_folds):
    """The CPCV pass (4 groups, 2 test groups, embargo 5) on both folds, and its splits
    with the global rows of their training blocks."""
    config, market, features, _, folds = two_folds
    reported: list[dict] = []
    with pytest.MonkeyPatch.context() as patch:
        splits = _spy(patch)
        val = validation_pass(config, market, features, folds, 100, reported.append, CPCV)
    for split in splits:
        split["blocks"] = [tuple(map(market.dates.get_loc, b)) for b in split["blocks"]]
    return val, splits, reported


def _path_returns(splits: list[dict], fold: int) -> dict[int, list[tuple[int, np.ndarray]]]:
    """Path p of a fold, assembled here: group g's p-th test (in split order) is on path
    p; the groups of a path in group order, as (group, mean returns)."""
    seen = [0] * N
    paths: dict[int, list[tuple[int, np.ndarray]]] = {}
    for test in (t for s in splits for t in s["tests"] if t["fold"] == fold):
        paths.setdefault(seen[test["group"]], []).append((test["group"], test["mean_return"]))
        seen[test["group"]] += 1
    return {p: sorted(groups, key=lambda x: x[0]) for p, groups in sorted(paths.items())}


# --- configuration ----------------------------------------------------------------------


def test_cpcv_config_round_trips_and_leaves_the_other_kinds_alone():
    data = {"kind": "combinatorial_purged", "n_groups": 5, "n_test_groups": 3, "embargo": 4}
    cfg = SweepConfig.from_dict({"space": SPACE, "cv": data})
    assert cfg.cv == CrossValidation("combinatorial_purged", embargo=4, n_groups=5, n_test_groups=3)
    assert cfg.to_dict()["cv"] == data
    assert SweepConfig.from_dict(cfg.to_dict()) == cfg
    assert CrossValidation.from_yaml(cfg.cv.to_dict(), "sweep.cv") == cfg.cv
    default = CrossValidation.from_yaml({"kind": "combinatorial_purged"}, "sweep.cv")
    assert default.to_dict() == {
        "kind": "combinatorial_purged", "n_groups": 6, "n_test_groups": 2, "embargo": 0,
    }  # fmt: skip
    kfold = CrossValidation.from_yaml({"kind": "purged_kfold", "n_splits": 4}, "sweep.cv")
    assert kfold.to_dict() == {"kind": "purged_kfold", "n_splits": 4, "embargo": 0}
    assert CrossValidation().to_dict() == {"kind": "holdout"}


@pytest.mark.parametrize(
    ("cv", "match"),
    [
        ({"kind": "combinatorial_purged", "n_groups": 4, "n_test_groups": 4},
         r"sweep\.cv\.n_test_groups: 4 is invalid; expected an integer >= 1 and below "
         r"n_groups = 4"),
        ({"kind": "combinatorial_purged", "n_groups": 3, "n_test_groups": 5},
         r"sweep\.cv\.n_test_groups: 5 is invalid; expected an integer >= 1 and below "
         r"n_groups = 3"),
        ({"kind": "combinatorial_purged", "n_groups": 2},  # the default 2 test groups
         r"sweep\.cv\.n_test_groups: 2 is invalid; expected an integer >= 1 and below "
         r"n_groups = 2"),
        ({"kind": "combinatorial_purged", "n_test_groups": 0},
         r"sweep\.cv\.n_test_groups: 0 is invalid; expected an integer >= 1$"),
        ({"kind": "combinatorial_purged", "n_groups": 1},
         r"sweep\.cv\.n_groups: 1 is invalid; expected an integer >= 2"),
        ({"kind": "combinatorial_purged", "n_groups": 6.0},
         r"sweep\.cv\.n_groups: 6\.0 is invalid; expected an integer >= 2"),
        ({"kind": "combinatorial_purged", "embargo": -3},
         r"sweep\.cv\.embargo: -3 is invalid; expected an integer >= 0"),
        ({"kind": "combinatorial_purged", "n_splits": 3},
         r"sweep\.cv\.n_splits: unknown key for kind combinatorial_purged; allowed keys: "
         r"\['kind', 'n_groups', 'n_test_groups', 'embargo'\]"),
        ({"kind": "purged_kfold", "n_groups": 3},
         r"sweep\.cv\.n_groups: unknown key for kind purged_kfold; allowed keys: "
         r"\['kind', 'n_splits', 'embargo'\]"),
    ],
)  # fmt: skip
def test_cpcv_messages_name_key_value_and_allowed(cv, match):
    with pytest.raises(ConfigError, match=match):
        SweepConfig.from_dict({"space": SPACE, "cv": cv})


# --- purging and embargo ----------------------------------------------------------------


def test_every_split_fits_once_then_backtests_each_of_its_test_groups(cpcv):
    """C(4, 2) = 6 trainings per fold, each followed by its k = 2 groups' backtests, in
    the splitter's order."""
    _, splits, _ = cpcv
    chosen = CombinatorialPurgedKFold(N, K).test_groups()
    assert len(splits) == len(STARTS) * comb(N, K) == 12
    assert [[(t["fold"], t["split"], t["group"]) for t in s["tests"]] for s in splits] == [
        [(k, i, g) for g in groups] for k in range(len(STARTS)) for i, groups in enumerate(chosen)
    ]
    for k in range(len(STARTS)):
        tests = [t for s in splits for t in s["tests"] if t["fold"] == k]
        assert len(tests) == comb(N, K) * K == 12


def test_training_rows_are_the_part_minus_test_groups_purge_and_embargo(cpcv):
    """Exactly the rows of the part outside [s - purge, e + purge + embargo] of every
    contiguous run [s, e] of test groups; nothing of a test group nor of its purge or
    embargo, and the test rows are the splitter's."""
    _, splits, _ = cpcv
    splitter = CombinatorialPurgedKFold(N, K, PURGE + 1, EMBARGO)
    for split, (_, test) in zip(splits, list(splitter.split(300)) * 2, strict=True):
        a = STARTS[split["tests"][0]["fold"]]
        trained = np.concatenate([np.arange(lo, hi + 1) for lo, hi in split["blocks"]])
        assert (np.diff(trained) > 0).all()  # blocks in time order, disjoint
        groups = [split_test["group"] for split_test in split["tests"]]
        rows = np.concatenate([np.arange(a + GROUP * g, a + GROUP * (g + 1)) for g in groups])
        np.testing.assert_array_equal(rows, a + test)
        forbidden = np.zeros(300, dtype=bool)
        for g in groups:  # adjacent groups: the gap between them is test rows anyway
            s, e = GROUP * g, GROUP * (g + 1) - 1
            forbidden[max(0, s - PURGE) : e + PURGE + EMBARGO + 1] = True
        np.testing.assert_array_equal(trained, a + np.flatnonzero(~forbidden))
        for s_row in rows:
            assert s_row not in trained
        gaps = np.diff(trained)[np.diff(trained) > 1]  # one env per contiguous run
        assert len(split["blocks"]) == len(gaps) + 1


def test_each_test_group_is_backtested_alone_on_the_part_cut_after_it(cpcv, two_folds):
    """Returns dated max(s, window) + 1..e of the group [s, e]; the part ends at e; no
    row of the walk-forward test window is seen."""
    _, market, _, _, folds = two_folds
    dates = market.dates
    _, splits, _ = cpcv
    for test in (t for s in splits for t in s["tests"]):
        a = STARTS[test["fold"]]
        s, e = a + GROUP * test["group"], a + GROUP * (test["group"] + 1) - 1
        first = max(s, a + WINDOW) + 1
        assert list(test["returns"]) == list(dates[first : e + 1])
        assert (test["market"][0], test["market"][-1]) == (dates[a], dates[e])
        assert test["market"][-1] < dates[folds[test["fold"]][1][0]]
    for split in splits:
        fold_test = folds[split["tests"][0]["fold"]][1]
        assert all(hi < fold_test[0] for _, hi in split["blocks"])


def test_a_short_training_block_is_refused_naming_split_and_group_before_training(
    two_folds, monkeypatch
):
    """Embargo 60: split 1 (groups 0 and 2) keeps only rows 295..299, 5 < 11 days."""
    config, market, features, _, folds = two_folds
    splits = _spy(monkeypatch)
    cv = CrossValidation("combinatorial_purged", embargo=60, n_groups=N, n_test_groups=K)
    match = (
        r"sweep\.cv: \{'kind': 'combinatorial_purged', 'n_groups': 4, 'n_test_groups': 2, "
        r"'embargo': 60\} is invalid; split 1 group 0 of the 300-day training part of fold "
        r"0 trains on blocks of \[5\] days and tests on rows 0\.\.74"
    )
    with pytest.raises(ConfigError, match=match):
        validation_pass(config, market, features, folds, 100, cv=cv)
    assert splits == []  # split 0 is valid, but nothing was trained


# --- paths and the metric ---------------------------------------------------------------


def test_each_path_strings_every_group_once_in_time_order(cpcv):
    _, splits, _ = cpcv
    n_paths = comb(N - 1, K - 1)
    for k in range(len(STARTS)):
        paths = _path_returns(splits, k)
        assert list(paths) == list(range(n_paths))
        for groups in paths.values():
            assert [g for g, _ in groups] == list(range(N))


def test_metric_is_the_mean_over_paths_of_each_paths_sharpe_over_the_folds(cpcv):
    val, splits, reported = cpcv
    per_fold = [_path_returns(splits, k) for k in range(len(STARTS))]
    path_sharpe = []
    for k in range(len(STARTS)):
        path_sharpe.append([
            sharpe_ratio(np.concatenate([r for fold in per_fold[: k + 1] for _, r in fold[p]]))
            for p in per_fold[0]
        ])  # fmt: skip
    assert val.sharpe == [pytest.approx(np.mean(s), rel=1e-12) for s in path_sharpe]
    assert val.path_sharpe == path_sharpe[-1]
    assert len(val.path_sharpe) == comb(N - 1, K - 1) == 3
    assert len(set(val.path_sharpe)) == 3 and np.isfinite(val.path_sharpe).all()
    everything = np.concatenate([t["mean_return"] for s in splits for t in s["tests"]])
    assert val.sharpe[-1] != pytest.approx(sharpe_ratio(everything), rel=1e-9)
    assert reported == [{"val_sharpe": val.sharpe[0], "fold": 1}]


def test_turnover_has_one_entry_per_backtest_in_fold_split_group_order(cpcv):
    val, splits, _ = cpcv
    tests = [t for s in splits for t in s["tests"]]
    assert val.turnover == [t["turnover"] for t in tests]
    assert len(val.turnover) == 24
    assert val.mean_turnover == pytest.approx(np.mean(val.turnover), rel=1e-15)


def test_path_sharpe_is_empty_unless_cpcv():
    assert Validation([1.0], [0.5]).path_sharpe == []


def test_a_trial_records_the_path_sharpe_ratios(synthetic_market, tmp_path, monkeypatch):
    """run_trial with 3 groups, 2 test groups on one fold: 3 trainings, 6 backtests, 2
    paths; the record holds both paths' Sharpe ratios and their mean as val_sharpe."""
    cv = {"kind": "combinatorial_purged", "n_groups": 3, "n_test_groups": 2, "embargo": 5}
    cfg = tiny_experiment(tmp_path, synthetic_market, 500, sweep={"space": SPACE, "cv": cv})
    splits = _spy(monkeypatch)
    record = run_trial(load_config(cfg), Trial("c000", {}, 0), tmp_path / "sweep", 100, None, 1)
    assert record["status"] == "ok", record.get("error")
    tests = [t for s in splits for t in s["tests"]]
    assert len(tests) == 6 and len(record["val_turnover_folds"]) == 6
    assert len(record["val_sharpe_paths"]) == 2
    assert record["val_sharpe"] == pytest.approx(np.mean(record["val_sharpe_paths"]), rel=1e-12)


def test_the_summary_states_the_paths_averaged():
    from allocgym.sweep.summary import _validated

    cv = {"kind": "combinatorial_purged", "n_groups": 6, "n_test_groups": 2, "embargo": 5}
    assert _validated(SweepConfig.from_dict({"space": SPACE, "cv": cv})) == (
        "averaged over the 5 backtest paths of combinatorial purged cross-validation "
        "(6 groups, 2 tested per split, embargo 5 days) inside each fold's training part"
    )
