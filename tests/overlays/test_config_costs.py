"""Configs: a cost-aware overlay priced like the env."""

from __future__ import annotations

import pytest


def test_a_cost_aware_overlay_at_another_rate_than_the_env_warns():
    import warnings

    from allocgym.exceptions import AllocgymWarning
    from allocgym.experiment import load_config

    base = {"baselines": [{"name": "equal_weight", "overlays": ["cost_aware"]}]}
    with pytest.warns(AllocgymWarning, match=r"cost_bps=10.0 but env.cost_bps=20"):
        load_config({**base, "env": {"cost_bps": 20}})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # same rate, or set explicitly: no warning
        load_config({**base, "env": {"cost_bps": 10}})
        overlay = [{"name": "cost_aware", "params": {"cost_bps": 20}}]
        load_config({"baselines": [{"name": "equal_weight", "overlays": overlay}],
                     "env": {"cost_bps": 20}})  # fmt: skip
