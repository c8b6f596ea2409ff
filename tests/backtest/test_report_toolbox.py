"""The report's toolbox sections: rebalances per trigger, dendrograms and cluster membership."""

from __future__ import annotations

import dataclasses
import json
import re

import numpy as np
import pytest
import yaml
from scipy.cluster.hierarchy import dendrogram

from allocgym.backtest import Results, WalkForward, backtest, write_report
from allocgym.baselines import ClusterAllocation, EqualWeight, HierarchicalRiskParity
from allocgym.cli import main
from allocgym.overlays import DynamicRebalancing
from tests.overlays._helpers import panel

DYNAMIC = {"regime_persistence": 3, "vol_threshold": 0.2, "target_threshold": 0.1,
           "min_gap": 5, "max_gap": 40}  # fmt: skip


@pytest.fixture(scope="module")
def run(synthetic_market, tmp_path_factory):
    """Three yearly-ish folds of 1/N, dynamic 1/N, HRP, a cluster allocation and a dynamic
    HRP, on a panel whose volatility forecast and regime move on known days."""
    mkt = synthetic_market
    vol = np.full(mkt.n_dates, 0.004)  # 1/N forecast ~6 %, below the 20 % threshold
    vol[300:400] = vol[600:650] = 0.05  # ~46 %: two crossings each way
    regimes = np.zeros(mkt.n_dates, dtype=int)
    regimes[450:520] = 1
    policies = {
        "1/N": EqualWeight(),
        "1/N + dynamic": DynamicRebalancing(EqualWeight(rebalance_every=1), **DYNAMIC),
        "HRP": HierarchicalRiskParity(lookback=120),
        "Clusters": ClusterAllocation(n_clusters=2, lookback=120),
        "HRP + dynamic": DynamicRebalancing(HierarchicalRiskParity(lookback=120), **DYNAMIC),
    }
    folder = tmp_path_factory.mktemp("toolbox_run")
    results = backtest(
        policies, mkt, panel(mkt, vol=vol, regimes=regimes),
        splitter=WalkForward(train=200, test=200), n_boot=0, out=folder,
    )  # fmt: skip
    return policies, results, folder, (folder / "report.md").read_text()


def _trigger_rows(report: str) -> dict[str, dict[str, int]]:
    section = report.split("## Dynamic rebalancing: rebalances per trigger")[1].split("\n## ")[0]
    out: dict[str, dict[str, int]] = {}
    for name, cause, n in re.findall(r"^\| ([^|*]+?) \| ([a-z]+) \| (\d+) \|$", section, re.M):
        out.setdefault(name, {})[cause] = int(n)
    return out


def _cluster_block(report: str, name: str) -> str:
    return report.split(f"### {name}\n")[1].split("\n## ")[0].split("\n### ")[0]


def _membership(block: str) -> list[list[str]]:
    rows = re.findall(r"^\| (\d+) \| (.+) \|$", block, re.M)
    return [names.split(", ") for _, names in rows]


def test_report_counts_rebalances_per_trigger_as_the_wrapper_recorded(run):
    policies, results, _, report = run
    rows = _trigger_rows(report)
    assert set(rows) == {"1/N + dynamic", "HRP + dynamic"}  # only the wrapped policies
    for name, counts in rows.items():
        overlay = policies[name]
        assert counts == overlay.triggers_  # summed over the three folds
        assert sum(counts.values()) == overlay.n_rebalances_ == len(overlay.events_)
        assert f"| {name} | **all triggers** | **{overlay.n_rebalances_}** |" in report
    counts = rows["1/N + dynamic"]
    assert counts["initial"] == 1 and counts["volatility"] == 4
    assert counts["regime"] >= 1 and counts["calendar"] >= 1
    # independently: between rebalances 1/N + dynamic holds, so it trades on those days only
    traded = int((results.turnover["1/N + dynamic"] > 0).sum())
    assert traded == sum(counts.values())


def test_triggers_and_clusters_survive_save_load_and_allocgym_report(run):
    _, results, folder, report = run
    loaded = Results.load(folder)
    assert loaded.triggers == results.triggers
    assert loaded.clusters == results.clusters
    assert "triggers" not in loaded.config and "clusters" not in loaded.config
    (folder / "report.md").unlink()
    (folder / "dendrogram_HRP.png").unlink()
    assert main(["report", str(folder)]) == 0
    assert (folder / "report.md").read_text() == report  # rebuilt from the saved folder
    assert (folder / "dendrogram_HRP.png").is_file()


def test_hrp_report_links_a_dendrogram_and_lists_every_asset_once(run, synthetic_market):
    policies, results, folder, report = run
    assets = list(synthetic_market.assets)
    manifest = json.loads((folder / "manifest.json").read_text())
    for name in ("HRP", "Clusters", "HRP + dynamic"):
        block = _cluster_block(report, name)
        (png,) = re.findall(r"!\[Dendrogram: [^]]+\]\(([^)]+)\)", block)
        assert (folder / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert png in str(manifest)
        assert "Clusters of the last fold" in block
        groups = _membership(block)
        assert sorted(a for g in groups for a in g) == sorted(assets)  # each exactly once
    hrp = policies["HRP"]
    assert _membership(_cluster_block(report, "HRP")) == [list(g) for g in hrp.clusters_.values()]
    assert len(_membership(_cluster_block(report, "Clusters"))) == 2  # n_clusters
    assert results.clusters["HRP"]["date"] == str(hrp.tree_date_.date())
    *_, (_, last_test) = WalkForward(train=200, test=200).split(synthetic_market.n_dates)
    assert hrp.tree_date_ >= synthetic_market.dates[last_test[0]]  # in the last fold


def test_hrp_groups_are_the_branches_the_dendrogram_colours(run):
    _, results, _, _ = run
    saved = results.clusters["HRP"]
    drawn = dendrogram(np.asarray(saved["tree"]), no_plot=True)
    colour = dict(zip(drawn["leaves"], drawn["leaves_color_list"], strict=True))
    for group in saved["clusters"]:
        idx = [saved["assets"].index(a) for a in group]
        if len(idx) > 1:  # a coloured branch: one colour, not the above-threshold one
            assert len({colour[i] for i in idx}) == 1 and colour[idx[0]] != "C0"
        else:
            assert colour[idx[0]] == "C0"


def test_runs_without_such_policies_have_no_such_sections(run, tmp_path):
    _, results, _, _ = run
    plain = dataclasses.replace(results, triggers={}, clusters={})
    write_report(plain, tmp_path)
    text = (tmp_path / "report.md").read_text()
    assert "rebalances per trigger" not in text and "## Clusters" not in text
    assert not list(tmp_path.glob("dendrogram_*.png"))
    saved = yaml.safe_load((plain.save(tmp_path / "saved") / "config.yaml").read_text())
    assert "triggers" not in saved and "clusters" not in saved  # files of other runs unchanged
