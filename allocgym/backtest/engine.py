"""`backtest`: walk-forward evaluation of policies through the one accounting engine.

For every policy and every walk-forward fold the backtester calls
``policy.fit(market[train], features[train])`` (when the policy has ``fit``), then
steps :class:`~allocgym.envs.PortfolioEnv` over the fold's test dates with
``env.step_weights(policy.act(state))``. Costs, drift and timing therefore come from
the environment's code only (SPEC invariant 2): an RL agent and a baseline face the
same accounting. Consecutive test windows form one continuous episode (wealth and
weights carry over from one fold to the next); a gap between test windows (``step >
test``) starts a new episode from the previous weights and wealth.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from allocgym.backtest.metrics import metrics_table
from allocgym.backtest.results import Results
from allocgym.backtest.splitter import WalkForward
from allocgym.backtest.stats import sharpe_tests
from allocgym.data import MarketData, load_market
from allocgym.envs.track import Track
from allocgym.policy import Policy, PolicyState
from allocgym.predictors.panel import FeaturePanel

__all__ = ["backtest"]


def _env_class():  # imported lazily: allocgym.envs registers with gymnasium on import
    from allocgym.envs.portfolio import PortfolioEnv

    return PortfolioEnv


def _named(policies: Mapping[str, Policy] | Sequence[Policy]) -> dict[str, Policy]:
    if isinstance(policies, Mapping):
        named = dict(policies)
    else:
        named = {}
        for p in policies:
            name = getattr(p, "name", type(p).__name__)
            if name in named:
                raise ValueError(
                    f"two policies are called {name!r}; pass a dict {{name: policy}} instead"
                )
            named[name] = p
    if not named:
        raise ValueError("policies is empty; expected at least one policy")
    for name, p in named.items():
        if not (callable(getattr(p, "act", None)) and callable(getattr(p, "reset", None))):
            raise TypeError(
                f"policy {name!r} ({type(p).__name__}) has no act(state)/reset(); expected an "
                "allocgym.policy.Policy"
            )
    return named


def _segments(folds: list[tuple[np.ndarray, np.ndarray]]) -> list[list[int]]:
    """Group fold numbers whose test windows are contiguous."""
    groups: list[list[int]] = [[0]]
    for k in range(1, len(folds)):
        if folds[k][1][0] == folds[k - 1][1][-1] + 1:
            groups[-1].append(k)
        else:
            groups.append([k])
    return groups


def _run_policy(
    policy: Policy,
    market: MarketData,
    features: FeaturePanel | None,
    folds: list[tuple[np.ndarray, np.ndarray]],
    env_kwargs: dict[str, Any],
) -> list[Track]:
    policy.reset()
    fit = getattr(policy, "fit", None)
    tracks = []
    weights, wealth = None, 1.0
    last = market.n_dates - 1
    for group in _segments(folds):
        start = int(folds[group[0]][1][0])
        end = min(int(folds[group[-1]][1][-1]) + 1, last)
        if start >= end:
            continue
        kwargs = {**env_kwargs, "window": min(env_kwargs["window"], start)}
        env = _env_class()(
            market, features if features is not None else False, start=start, end=end,
            **kwargs,
        )  # fmt: skip
        options: dict[str, Any] = {"wealth": wealth}
        if weights is not None:
            options["weights"] = weights
        observation, _ = env.reset(options=options)
        fold_starts = [int(folds[k][1][0]) for k in group]
        next_fold = 0
        done = False
        while not done:
            while next_fold < len(group) and env.t >= fold_starts[next_fold]:
                train = folds[group[next_fold]][0]
                if callable(fit) and train.size:
                    sl = slice(int(train[0]), int(train[-1]) + 1)
                    fit(market[sl], None if features is None else features[sl])
                next_fold += 1
            state = PolicyState.at(
                market, env.t, env.weights, features, env.wealth, observation=observation
            )
            observation, _, terminated, truncated, _ = env.step_weights(policy.act(state))
            done = terminated or truncated
        tracks.append(env.track())
        weights, wealth = env.weights, env.wealth
    return tracks


def _describe(policy: Policy) -> dict[str, Any]:
    params = {
        k: v
        for k, v in vars(policy).items()
        if not k.startswith("_") and not k.endswith("_") and k != "optimizer"
    }
    opt = getattr(policy, "optimizer", None)
    if opt is not None:
        params["optimizer"] = {
            k: v for k, v in vars(opt).items() if not k.startswith("_")
        }  # fmt: skip
    return {"class": f"{type(policy).__module__}.{type(policy).__qualname__}", "params": params}


def _kind(policy: Policy, has_features: bool) -> str:
    """The policy's ``kind`` attribute (``"custom"`` when it has none).

    ``"ML-enhanced"`` means the predictors' features feed the policy; in a backtest
    without a feature panel it runs on prices only and is reported as ``"traditional"``.
    """
    kind = str(getattr(policy, "kind", None) or "custom")
    return "traditional" if kind == "ML-enhanced" and not has_features else kind


def _default_benchmark(named: Mapping[str, Policy]) -> str | None:
    """The first policy that declares itself the naive benchmark (``is_benchmark``: 1/N)."""
    return next((k for k, p in named.items() if getattr(p, "is_benchmark", False)), None)


def backtest(
    policies: Mapping[str, Policy] | Sequence[Policy],
    market: MarketData | None = None,
    features: FeaturePanel | None = None,
    *,
    splitter: WalkForward | None = None,
    cost_bps: float = 10.0,
    reward: Any = "log_return",
    rebalance_every: int = 1,
    window: int = 30,
    env_kwargs: dict[str, Any] | None = None,
    benchmark: str | None = None,
    n_trials: int | None = None,
    n_boot: int = 1000,
    name: str = "backtest",
    out: str | os.PathLike | None = None,
) -> Results:
    """Walk-forward backtest of ``policies`` on ``market``; one out-of-sample track each.

    Parameters
    ----------
    policies : dict of name to Policy, or a sequence of policies (named by ``.name``)
    market : MarketData, optional
        Default: the embedded S&P 500 data.
    features : FeaturePanel, optional
        Point-in-time features aligned with ``market`` (policies see rows <= t).
    splitter : WalkForward, optional
        Default ``WalkForward(train=252, test=252)``: yearly folds after a one-year
        warm-up; baselines still rebalance on their own (monthly) schedule.
    cost_bps : float
        Proportional cost per unit of turnover (10 bps); passed to the environment.
    reward : str or callable
        The environment's reward (does not change the accounting; RL agents train on it).
    rebalance_every : int
        Environment days per decision (1: policies are asked every close).
    window : int
        Observation window of the environment (for RL agents).
    env_kwargs : dict, optional
        Further :class:`~allocgym.envs.PortfolioEnv` settings (``action``,
        ``reward_kwargs``, ``norm_window``, ...), the same as the RL agents trained with,
        so that their observations in the backtest are those they learnt on.
    benchmark : str, optional
        Policy name for the information ratio and the Ledoit–Wolf test; default the
        first policy whose ``is_benchmark`` attribute is true
        (:class:`~allocgym.baselines.EqualWeight`, 1/N), if any.
    n_trials : int, optional
        Configurations tried, for the deflated Sharpe ratio (default: number of policies).
    n_boot : int
        Bootstrap replications of the Sharpe confidence interval.
    name : str
        Experiment name written in the config and the report.
    out : path, optional
        If given, save the results there and write the report.

    Returns
    -------
    Results
    """
    named = _named(policies)
    market = load_market() if market is None else market
    if not isinstance(market, MarketData):
        raise TypeError(f"market must be a MarketData or None; got {type(market).__name__}")
    if features is not None and not isinstance(features, FeaturePanel):
        raise TypeError(f"features must be a FeaturePanel or None; got {type(features).__name__}")
    if features is not None and not features.dates.equals(market.dates):
        features = features.align(market.dates)  # a panel built on a longer history
    splitter = WalkForward(252, 252) if splitter is None else splitter
    if splitter.stride < splitter.test:
        raise ValueError(
            f"WalkForward step={splitter.stride} < test={splitter.test} makes the test "
            "windows overlap: every shared day would be traded and counted once per fold. "
            "The backtester needs step >= test (step > test leaves gaps between folds)"
        )
    folds = list(splitter.split(market.n_dates))
    if benchmark is None:
        benchmark = _default_benchmark(named)
    elif benchmark not in named:
        raise ValueError(f"benchmark={benchmark!r} is not a policy name; have {list(named)}")
    env_kwargs = {
        **(env_kwargs or {}),
        "cost_bps": cost_bps,
        "reward": reward,
        "window": int(window),
        "rebalance_every": int(rebalance_every),
    }

    cols: dict[str, dict[str, pd.Series]] = {
        k: {} for k in ("net", "gross", "cost", "turnover")
    }  # fmt: skip
    weights, fallbacks = {}, {}
    for pname, policy in named.items():
        tracks = _run_policy(policy, market, features, folds, env_kwargs)
        dates = pd.DatetimeIndex(np.concatenate([tr.dates.values for tr in tracks]))
        for key, attr in (
            ("net", "net_returns"),
            ("gross", "gross_returns"),
            ("cost", "costs"),
            ("turnover", "turnover"),
        ):
            cols[key][pname] = pd.Series(
                np.concatenate([getattr(tr, attr) for tr in tracks]), index=dates
            )
        weights[pname] = pd.concat([tr.weights_frame() for tr in tracks]).rename_axis("date")
        fallbacks[pname] = int(getattr(policy, "n_fallbacks_", 0))

    frames = {k: pd.DataFrame(v).rename_axis("date") for k, v in cols.items()}
    returns = frames["net"]
    table = metrics_table(
        returns, benchmark=benchmark, turnover=frames["turnover"], costs=frames["cost"]
    )
    table["fallbacks"] = pd.Series(fallbacks)
    tests = sharpe_tests(returns, benchmark, n_trials=n_trials, n_boot=n_boot)
    table = table.join(tests)
    table.insert(0, "kind", [_kind(named[k], features is not None) for k in table.index])
    config = {
        "name": name,
        "data": {
            "source": market.source,
            "assets": list(market.assets),
            "start": str(market.dates[0].date()),
            "end": str(market.dates[-1].date()),
            "features": None if features is None else list(features.feature_names),
        },
        "splitter": dataclasses.asdict(splitter),
        "n_folds": len(folds),
        "cost_bps": cost_bps,
        "reward": reward if isinstance(reward, str) else repr(reward),
        "rebalance_every": int(rebalance_every),
        "window": int(window),
        "benchmark": benchmark,
        "n_trials": len(named) if n_trials is None else int(n_trials),
        "policies": {k: _describe(p) for k, p in named.items()},
    }
    results = Results(
        metrics=table,
        returns=returns,
        gross_returns=frames["gross"],
        costs=frames["cost"],
        turnover=frames["turnover"],
        weights=weights,
        fallbacks=fallbacks,
        config=config,
    )
    if out is not None:
        from allocgym.backtest.report import write_report

        results.save(out)
        write_report(results, out)
    return results
