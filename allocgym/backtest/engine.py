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
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from allocgym.backtest.metrics import metrics_table
from allocgym.backtest.results import Results, cluster_tree, trigger_counts
from allocgym.backtest.splitter import WalkForward
from allocgym.backtest.stats import sharpe_tests
from allocgym.data import MarketData, load_market
from allocgym.envs.settings import EnvSettings
from allocgym.envs.track import Track
from allocgym.policy import Policy, PolicyState, observed_features
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
    settings: EnvSettings,
    tick: Callable[[int], Any] = lambda n: None,
) -> list[Track]:
    """Step ``policy`` through the test windows; ``tick(n)`` after every ``n`` folds done.

    The env steps one day (``rebalance_every=1``): every policy is asked at every close
    and keeps its own decision schedule.
    """
    policy.reset()
    features = observed_features(policy, market, features)  # an agent's own subset
    tracks = []
    weights, wealth = None, 1.0
    for group in _segments(folds):
        start = int(folds[group[0]][1][0])
        end = min(int(folds[group[-1]][1][-1]) + 1, market.n_dates - 1)
        if start >= end:
            tick(len(group))
            continue
        kwargs = {
            **settings.env_kwargs(),  # a fresh action map per env
            "rebalance_every": 1,
            "window": min(settings.window, start),
        }
        env = _env_class()(market, features, start=start, end=end, **kwargs)
        options: dict[str, Any] = {"wealth": wealth}
        if weights is not None:
            options["weights"] = weights
        observation, _ = env.reset(options=options)
        _run_segment(policy, env, observation, market, features, [folds[k] for k in group], tick)
        tracks.append(env.track())
        weights, wealth = env.weights, env.wealth
    return tracks


def _run_segment(
    policy: Policy,
    env: Any,
    observation: Any,
    market: MarketData,
    features: FeaturePanel | None,
    folds: list[tuple[np.ndarray, np.ndarray]],
    tick: Callable[[int], Any],
) -> None:
    """One episode over contiguous test windows; ``fit`` on a fold's training part when
    its test window starts, ``tick(1)`` when a fold's test window is done."""
    fit = getattr(policy, "fit", None)
    fold_starts = [int(test[0]) for _, test in folds]
    next_fold = 0
    done = False
    while not done:
        while next_fold < len(folds) and env.t >= fold_starts[next_fold]:
            if next_fold:
                tick(1)
            train = folds[next_fold][0]
            if callable(fit) and train.size:
                sl = slice(int(train[0]), int(train[-1]) + 1)
                fit(market[sl], None if features is None else features[sl])
            next_fold += 1
        state = PolicyState.at(
            market, env.t, env.weights, features, env.wealth, observation=observation
        )
        observation, _, terminated, truncated, _ = env.step_weights(policy.act(state))
        done = terminated or truncated
    tick(len(folds) - max(next_fold - 1, 0))


def _describe(policy: Policy) -> dict[str, Any]:
    params = {
        k: v.to_dict() if isinstance(v, EnvSettings) else v  # an RLAgent's settings
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
    env: EnvSettings | None = None,
    benchmark: str | None = None,
    n_trials: int | None = None,
    n_boot: int = 1000,
    name: str = "backtest",
    out: str | os.PathLike | None = None,
    progress: bool | None = None,
) -> Results:
    """Walk-forward backtest of ``policies`` on ``market``; one out-of-sample track each.

    Parameters
    ----------
    policies : dict of name to Policy, or a sequence of policies (named by ``.name``)
    market : MarketData, optional
        Default: the embedded S&P 500 data.
    features : FeaturePanel, optional
        Point-in-time features aligned with ``market`` (policies see rows <= t);
        None: no features (the observation holds past returns and weights only).
    splitter : WalkForward, optional
        Default ``WalkForward(train=252, test=252)``: yearly folds after a one-year
        warm-up.
    env : EnvSettings, optional
        The environment's settings (default ``EnvSettings()``: 10 bps, log return,
        20-day window, ...), those the RL agents train with, so that their observations
        in the backtest are those they learnt on: an :class:`~allocgym.agents.RLAgent`
        whose settings differ in what it observes (``window``, ``action``, ...) is
        refused. The backtest asks every policy at every close (the environment steps
        one day), and each keeps its own schedule: an RLAgent decides every
        ``rebalance_every`` days of its settings, a baseline on its own
        ``rebalance_every`` (21 days by default), holding in between.
    benchmark : str, optional
        Policy name for the information ratio and the Ledoit–Wolf test; default the
        first policy whose ``is_benchmark`` attribute is true
        (:class:`~allocgym.baselines.EqualWeight`, 1/N), if any.
    n_trials : int, optional
        Configurations tried, for the deflated Sharpe ratio (default: number of
        policies). Each policy is one configuration: every seed of an RL agent and every
        seed ensemble count, as ``allocgym run`` passes; pass more when configurations
        were tried and dropped before this run (a sweep, a discarded variant).
    n_boot : int
        Bootstrap replications of the Sharpe confidence interval; 0 skips it (NaN).
    name : str
        Experiment name written in the config and the report.
    out : path, optional
        If given, save the results there and write the report.
    progress : bool, optional
        A progress bar over policies x folds, with an ETA, on stderr. Default: shown
        when stderr is a terminal.

    Returns
    -------
    Results
        ``config`` records the data, the splitter, the settings (``config["env"]``), the
        benchmark and every policy's parameters.
    """
    named = _named(policies)
    market, features = _check_data(market, features)
    splitter = _check_splitter(splitter)
    env = _check_settings(env, named)
    benchmark = _benchmark(named, benchmark)
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 0:
        raise ValueError(f"n_boot={n_boot!r}; expected an integer >= 0 (0: no interval)")
    folds = list(splitter.split(market.n_dates))
    tracks = {}
    with _progress_bar(len(named) * len(folds), progress) as bar:
        for pname, policy in named.items():
            bar.set_postfix_str(pname, refresh=False)
            tracks[pname] = _run_policy(policy, market, features, folds, env, bar.update)
    frames, weights = _frames(tracks)
    fallbacks = {k: int(getattr(p, "n_fallbacks_", 0)) for k, p in named.items()}
    kinds = {k: _kind(p, features is not None) for k, p in named.items()}
    table = _table(frames, benchmark, fallbacks, kinds, n_trials, n_boot)
    results = Results(
        metrics=table,
        returns=frames["net"],
        gross_returns=frames["gross"],
        costs=frames["cost"],
        turnover=frames["turnover"],
        weights=weights,
        fallbacks=fallbacks,
        config=_config(
            name, market, features, splitter, len(folds), env, benchmark, n_trials, named
        ),
        triggers={k: t for k, p in named.items() if (t := trigger_counts(p)) is not None},
        clusters={k: c for k, p in named.items() if (c := cluster_tree(p)) is not None},
    )
    if out is not None:
        _save(results, out)
    return results


# ---------------------------------------------------------------------- the steps
def _check_data(
    market: MarketData | None, features: FeaturePanel | None
) -> tuple[MarketData, FeaturePanel | None]:
    market = load_market() if market is None else market
    if not isinstance(market, MarketData):
        raise TypeError(f"market must be a MarketData or None; got {type(market).__name__}")
    if features is not None and not isinstance(features, FeaturePanel):
        raise TypeError(
            f"features must be a FeaturePanel or None (no features); got {type(features).__name__}"
        )
    if features is not None and not features.dates.equals(market.dates):
        features = features.align(market.dates)  # a panel built on a longer history
    return market, features


def _check_splitter(splitter: WalkForward | None) -> WalkForward:
    splitter = WalkForward(252, 252) if splitter is None else splitter
    if splitter.stride < splitter.test:
        raise ValueError(
            f"WalkForward step={splitter.stride} < test={splitter.test} makes the test "
            "windows overlap: every shared day would be traded and counted once per fold. "
            "The backtester needs step >= test (step > test leaves gaps between folds)"
        )
    return splitter


def _check_settings(env: EnvSettings | None, named: Mapping[str, Policy]) -> EnvSettings:
    """The settings, checked against those of every policy that carries its own (RLAgent)."""
    env = EnvSettings() if env is None else env
    if not isinstance(env, EnvSettings):
        raise TypeError(
            f"env must be an allocgym.envs.EnvSettings or None; got {type(env).__name__}"
        )
    for pname, policy in named.items():
        own = getattr(policy, "env", None)
        diff = env.differences(own) if isinstance(own, EnvSettings) else {}
        if diff:
            field, (ours, theirs) = next(iter(diff.items()))
            raise ValueError(
                f"policy {pname!r} trains with env.{field}={theirs!r} but the backtest "
                f"steps env.{field}={ours!r}; an agent must act on the observations it "
                "learnt on: pass backtest(..., env=<the agent's EnvSettings>)"
            )
    return env


def _benchmark(named: Mapping[str, Policy], benchmark: str | None) -> str | None:
    if benchmark is None:
        return _default_benchmark(named)
    if benchmark not in named:
        raise ValueError(f"benchmark={benchmark!r} is not a policy name; have {list(named)}")
    return benchmark


def _progress_bar(total: int, progress: bool | None) -> Any:
    """One bar over policies x folds on stderr; by default only on a terminal."""
    from tqdm.auto import tqdm

    stream = sys.stderr
    if progress is None:
        isatty = getattr(stream, "isatty", None)
        progress = bool(callable(isatty) and isatty())
    return tqdm(
        total=total, desc="backtest", unit="fold", disable=not progress, file=stream,
        dynamic_ncols=True,
    )  # fmt: skip


_COLUMNS = (("net", "net_returns"), ("gross", "gross_returns"), ("cost", "costs"),
            ("turnover", "turnover"))  # fmt: skip


def _frames(
    tracks: Mapping[str, list[Track]],
) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
    """Daily net/gross returns, costs and turnover (one column per policy), and weights."""
    cols: dict[str, dict[str, pd.Series]] = {key: {} for key, _ in _COLUMNS}
    weights = {}
    for pname, parts in tracks.items():
        dates = pd.DatetimeIndex(np.concatenate([tr.dates.values for tr in parts]))
        for key, attr in _COLUMNS:
            values = np.concatenate([getattr(tr, attr) for tr in parts])
            cols[key][pname] = pd.Series(values, index=dates)
        weights[pname] = pd.concat([tr.weights_frame() for tr in parts]).rename_axis("date")
    frames = {k: pd.DataFrame(v).rename_axis("date") for k, v in cols.items()}
    return frames, weights


def _table(
    frames: Mapping[str, pd.DataFrame],
    benchmark: str | None,
    fallbacks: Mapping[str, int],
    kinds: Mapping[str, str],
    n_trials: int | None,
    n_boot: int,
) -> pd.DataFrame:
    """Metrics, fallbacks and the Sharpe tests per policy, its kind first."""
    returns = frames["net"]
    table = metrics_table(
        returns, benchmark=benchmark, turnover=frames["turnover"], costs=frames["cost"]
    )
    table["fallbacks"] = pd.Series(fallbacks)
    table = table.join(sharpe_tests(returns, benchmark, n_trials=n_trials, n_boot=n_boot))
    table.insert(0, "kind", [kinds[k] for k in table.index])
    return table


def _config(
    name: str,
    market: MarketData,
    features: FeaturePanel | None,
    splitter: WalkForward,
    n_folds: int,
    env: EnvSettings,
    benchmark: str | None,
    n_trials: int | None,
    named: Mapping[str, Policy],
) -> dict[str, Any]:
    """The resolved configuration of the run, as saved in ``config.yaml``."""
    return {
        "name": name,
        "data": {
            "source": market.source,
            "assets": list(market.assets),
            "start": str(market.dates[0].date()),
            "end": str(market.dates[-1].date()),
            "features": None if features is None else list(features.feature_names),
        },
        "splitter": dataclasses.asdict(splitter),
        "n_folds": n_folds,
        "env": env.to_dict(),
        "benchmark": benchmark,
        "n_trials": len(named) if n_trials is None else int(n_trials),
        "policies": {k: _describe(p) for k, p in named.items()},
    }


def _save(results: Results, out: str | os.PathLike) -> None:
    from allocgym.backtest.report import write_report  # report imports matplotlib

    results.save(out)
    write_report(results, out)
