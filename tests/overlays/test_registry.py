"""OVERLAYS, apply_overlays and the ``overlays:`` field of a baseline in a config."""

from __future__ import annotations

import pytest

from allocgym.backtest import backtest
from allocgym.baselines import EqualWeight, MinVariance
from allocgym.envs import EnvSettings
from allocgym.exceptions import ConfigError
from allocgym.experiment.config import BaselineConfig, load_config
from allocgym.overlays import (
    OVERLAYS,
    CostAwareRebalancing,
    ToleranceBands,
    VolatilityTarget,
    apply_overlays,
    overlay_label,
)
from allocgym.registry import format_listing

NAMES = ["aggressive", "balanced", "bands", "conservative", "cost_aware", "dynamic", "vol_target"]


def test_names_labels_and_listing():
    assert OVERLAYS.names() == NAMES
    assert OVERLAYS.entry("vol_target").label == "vol target"
    assert OVERLAYS.find("Vol-Target") == "vol_target"
    assert "target=0.15" in format_listing(OVERLAYS)


def test_apply_wraps_innermost_first():
    p = apply_overlays(MinVariance(), [{"name": "vol_target", "params": {"target": 0.1}},
                                       "cost_aware", {"name": "bands"}])  # fmt: skip
    assert isinstance(p, ToleranceBands)
    assert isinstance(p.policy, CostAwareRebalancing)
    assert isinstance(p.policy.policy, VolatilityTarget) and p.policy.policy.target == 0.1
    assert p.name == "MinVariance + vol target + cost-aware + bands"
    assert overlay_label("1/N", ["vol_target", {"name": "bands", "label": "5% bands"}]) == (
        "1/N + vol target + 5% bands"
    )


@pytest.mark.parametrize(
    ("specs", "match"),
    [
        (
            ["vol_targt"],
            r"overlays\[0\]\.name: unknown overlay 'vol_targt' \(did you mean "
            r"'vol_target'\?\)",
        ),
        (
            [{"name": "bands", "params": {"bnd": 0.1}}],
            r"overlays\[0\]\.params: .*'bnd' "
            r"\(did you mean 'band'\?\)",
        ),
        ([{"name": "bands", "params": {"band": 1.5}}], r"overlays\[0\]\.params: band=1.5"),
        ([{"name": "vol_target", "params": {"target": 0}}], r"target=0 is invalid"),
        ([{"name": "bands", "parms": {}}], r"overlays\[0\]\.parms: unknown key"),
        ([{"params": {}}], r"overlays\[0\]: has no name"),
        ([{"name": "bands", "params": {"policy": 1}}], r"params\.policy"),
        ([3], r"overlays\[0\]: 3 is invalid"),
    ],
)
def test_errors_name_the_spec(specs, match):
    with pytest.raises(ConfigError, match=match):
        apply_overlays(EqualWeight(), specs)


def _config(overlays, **extra):
    return {"name": "x", "baselines": [{"name": "equal_weight", "overlays": overlays}], **extra}


def test_config_builds_and_labels_the_wrapped_baseline():
    cfg = load_config(_config([{"name": "vol_target", "params": {"target": 0.10}}]))
    (base,) = cfg.baselines
    assert base.display == "1/N + vol target"
    policy = base.build()
    assert isinstance(policy, VolatilityTarget) and policy.target == 0.10
    assert type(base.build_base()) is EqualWeight
    assert cfg.to_dict()["baselines"][0]["overlays"] == [
        {"name": "vol_target", "params": {"target": 0.10}}
    ]
    assert BaselineConfig().overlays == () and BaselineConfig().display == "1/N"


def test_config_errors_name_the_key():
    with pytest.raises(ConfigError, match=r"baselines\[0\]\.overlays\[0\]\.params: target=-1"):
        load_config(_config([{"name": "vol_target", "params": {"target": -1}}]))
    with pytest.raises(ConfigError, match=r"baselines\[0\]\.overlays: .*type list"):
        load_config(_config("bands"))
    with pytest.raises(ConfigError, match=r"baselines\[0\]: .*garch_vol.*'technical'"):
        load_config(_config(["vol_target"], features={"preset": "technical"}))
    load_config(_config(["bands", "cost_aware"], features={"preset": "technical"}))


def test_an_overlay_shows_the_wrapped_agent_settings_to_the_backtester():
    class Agent(EqualWeight):
        env = EnvSettings(window=7)

    wrapped = apply_overlays(Agent(), ["bands"])
    assert wrapped.env is Agent.env
    with pytest.raises(ValueError, match=r"env\.window=7"):
        backtest({"x": wrapped}, n_boot=10)
