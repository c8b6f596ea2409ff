"""Cost curves in the number of assets N: features, environments, PPO, baselines, backtest.

On synthetic markets (``make_synthetic_market``, seed 0) of N assets and ``--days`` days
(default N = 20, 100, 500 and 2,520 days, ten years), each stage is timed and the
exponent of its cost in N is fitted (least-squares slope of log cost on log N: 1 is
linear, 2 quadratic):

- features: ``build_features`` cold (``cache_dir=False``), presets "technical" and
  "full" with ``n_jobs=1`` and ``n_jobs=-1``, seconds per build and per refit and per
  stage. "standard" is technical + GARCH + HMM, so its figure is the "full" build
  less its LSTM stage (the same computation, not run twice). The libraries are
  imported and the worker processes started (printed) before the first build;
- env: ``PortfolioEnv.step`` (steps/s) and ``PortfolioVecEnv.step`` with 256 portfolios
  (portfolio-steps/s), random actions, technical features;
- ppo: ``RLAgent("ppo").fit`` on the vectorised env (256 portfolios, the default)
  with the default MLP and with the asset-equivariant encoder
  (``network="equivariant"``), steps/s end to end and the peak resident memory of a
  fresh process that does only that (technical features, torch on ``--torch-threads``);
- baselines: one rebalance (``act`` on a fresh policy) of every registered baseline
  (``BASELINES``; Black-Litterman with ``views="none"``: its views need the LSTM);
- walkforward: ``backtest`` of monthly min-variance (the defaults: Ledoit-Wolf, 252-day
  lookback, yearly folds), seconds.

The issue's targets are printed as measured vs target: the full panel of 500 assets x
8,300 days cold in <= 10 minutes (``--target-panel``, that build alone: it is long);
PPO with the asset-equivariant encoder at N = 500 >= 2,000 steps/s; the monthly
min-variance walk-forward over 8,300 days at N = 500 <= 60 s (run by the walkforward
stage unless ``--quick``); the env step cost no worse than linear in N (exponent <= 1).

``--quick``: N = 10, 20, 40 x 600 days, the standard preset serially, PPO in this
process on 1,024 steps. Medians of ``--repeats`` rounds for the fast stages (env,
baselines); the feature builds, PPO and the walk-forward run once per size. The
machine and its load are printed first: figures from a busy machine are upper bounds.

Run::

    python benchmarks/bench_scale.py                    # all stages, N = 20, 100, 500
    python benchmarks/bench_scale.py --quick            # smoke run, about a minute
    python benchmarks/bench_scale.py --stages env,baselines --sizes 20,100,500
    python benchmarks/bench_scale.py --target-panel     # full panel, 500 x 8,300 days
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import resource
import statistics
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import numpy as np

import allocgym
from allocgym.data import MarketData
from allocgym.predictors import FeaturePanel, build_features

STAGES = ("features", "env", "ppo", "baselines", "walkforward")
TARGET_PANEL = (500, 8300, 600.0)  # assets, days, seconds
TARGET_PPO = (500, 2000.0)  # assets, steps/s with the equivariant encoder
TARGET_WALK_FORWARD = (500, 8300, 60.0)  # assets, days, seconds


@dataclass
class Row:
    """One measured cost: ``seconds`` per ``unit`` of ``stage``/``variant`` at N assets."""

    stage: str
    variant: str
    n: int
    seconds: float
    unit: str
    note: str = ""
    extra: dict[str, float] = field(default_factory=dict)


def _market(n_assets: int, n_days: int) -> MarketData:
    return allocgym.make_synthetic_market(n_assets=n_assets, n_days=n_days, seed=0).market


def _technical(market: MarketData) -> FeaturePanel:
    return build_features(market, "technical", cache_dir=False, progress=False)


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MB: ``VmHWM`` (Linux), which a fresh
    process starts from zero; ``ru_maxrss`` elsewhere, which on Linux would carry the
    parent's peak over the fork and exec of a spawned process."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    """CPU seconds (user + system) of this process and its live descendants (the joblib
    workers), from ``/proc`` (Linux; this process only elsewhere). On a shared machine
    the wall time of a parallel build depends on the share of the cores it gets; the
    CPU time shows what the build costs."""
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    total, todo = 0.0, [os.getpid()]
    while todo:
        pid = todo.pop()
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except OSError:
            if pid == os.getpid():
                return time.process_time()
    return total


def _median_seconds(fn: Callable[[], int], repeats: int) -> float:
    """Median seconds per unit of work (``fn`` returns how many units it did)."""
    fn()  # warm-up
    per_unit = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        n = fn()
        per_unit.append((time.perf_counter() - t0) / n)
    return statistics.median(per_unit)


# ---------------------------------------------------------------------- stages
def _build(
    market: MarketData, preset: str, n_jobs: int, progress: bool = False
) -> tuple[float, float, FeaturePanel]:
    """Wall seconds, CPU seconds (workers included) and the panel of a cold build."""
    from allocgym.predictors.garch import GarchFallbackWarning

    t0, c0 = time.perf_counter(), cpu_seconds()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GarchFallbackWarning)  # counted in diagnostics
        panel = build_features(market, preset, cache_dir=False, progress=progress, n_jobs=n_jobs)
    return time.perf_counter() - t0, cpu_seconds() - c0, panel


def _warm_up(n_jobs: int) -> float:
    """Import the predictors' libraries here and, for ``n_jobs`` other than 1, start the
    joblib worker processes and import them there too (a tiny full build): seconds."""
    from allocgym.predictors import FeatureConfig, LSTMConfig, RegimeConfig

    tiny = FeatureConfig(
        regime=RegimeConfig(n_restarts=1, n_iter=5),
        lstm=LSTMConfig(window=5, hidden=4, max_epochs=1, batch_size=64, max_samples=256),
        min_train=300,
        refit_every=25,
    )
    t0 = time.perf_counter()
    build_features(_market(4, 400), tiny, cache_dir=False, progress=False, n_jobs=n_jobs)
    return time.perf_counter() - t0


def stage_features(markets: dict[int, MarketData], args: argparse.Namespace) -> list[Row]:
    rows: list[Row] = []
    # --quick: the standard preset in this process only (no LSTM, no worker start-up)
    preset, all_jobs = ("standard", (1,)) if args.quick else ("full", (1, -1))
    for n_jobs in all_jobs:
        print(f"  warm-up, n_jobs={n_jobs} (imports; workers started): {_warm_up(n_jobs):.1f} s")
    for n, market in markets.items():
        seconds, _, _ = _build(market, "technical", 1)
        rows.append(Row("features", "technical", n, seconds, "build"))
        for n_jobs in all_jobs:
            seconds, cpu, panel = _build(market, preset, n_jobs)
            stage = dict(panel.diagnostics["seconds"])
            refits = max(1, int(panel.diagnostics["refits"]))
            note = f"{refits} refits"
            per_stage = {f"{k}/refit": v / refits for k, v in stage.items()}
            if preset == "full":  # standard = the technical, GARCH and HMM part of it
                standard = seconds - stage["lstm"]
                rows.append(Row("features", f"standard n_jobs={n_jobs}", n, standard, "build",
                                note, {"per_refit": standard / refits}))  # fmt: skip
            extra = {"per_refit": seconds / refits, "cpu_s": cpu, **per_stage}
            rows.append(Row("features", f"{preset} n_jobs={n_jobs}", n, seconds, "build", note,
                            extra))  # fmt: skip
            load = os.getloadavg()[0]
            print(f"  N={n:4d} {preset} n_jobs={n_jobs:2d}: {seconds:8.1f} s wall, {cpu:8.1f} s "
                  f"CPU  stages {stage}  (load {load:.1f})")  # fmt: skip
    return rows


def stage_env(markets: dict[int, MarketData], args: argparse.Namespace) -> list[Row]:
    from allocgym.envs import PortfolioEnv
    from allocgym.envs.vector import PortfolioVecEnv

    rows: list[Row] = []
    rng = np.random.default_rng(0)
    for n, market in markets.items():
        panel = _technical(market)
        env = PortfolioEnv(market, features=panel)
        steps = min(args.env_steps, market.n_dates - env.t - 1)
        actions = rng.uniform(-1, 1, size=(steps, n + 1)).astype(np.float32)

        def single(env=env, actions=actions) -> int:
            env.reset(seed=0)
            for a in actions:
                _, _, terminated, truncated, _ = env.step(a)
                if terminated or truncated:
                    env.reset()
            return len(actions)

        venv = PortfolioVecEnv(market, features=panel, n_envs=256, random_start=True, seed=0)
        vec_actions = rng.uniform(-1, 1, size=(20, 256, n + 1)).astype(np.float32)

        def vector(venv=venv, acts=vec_actions) -> int:
            venv.reset()
            for a in acts:
                venv.step(a)
            return acts.shape[0] * acts.shape[1]

        rows.append(Row("env", "PortfolioEnv.step", n, _median_seconds(single, args.repeats),
                        "step"))  # fmt: skip
        rows.append(Row("env", "PortfolioVecEnv B=256", n,
                        _median_seconds(vector, args.repeats), "portfolio-step"))  # fmt: skip
        venv.close()
    return rows


def _ppo_child(n: int, days: int, network: str, timesteps: int, threads: int) -> dict:
    """In a fresh process: PPO steps/s of ``RLAgent.fit`` and the process's peak RSS."""
    import torch

    from allocgym.agents import RLAgent

    torch.set_num_threads(threads)
    market = _market(n, days)
    panel = _technical(market)
    agent = RLAgent("ppo", timesteps, seed=0, network=network)
    t0 = time.perf_counter()
    agent.fit(market, panel)
    seconds = time.perf_counter() - t0
    return {
        "seconds": seconds,
        "steps": agent.policy_.model.num_timesteps,
        "n_envs": agent.n_envs,
        "peak_mb": peak_rss_mb(),
    }


def stage_ppo(markets: dict[int, MarketData], args: argparse.Namespace) -> list[Row]:
    rows: list[Row] = []
    spawn = multiprocessing.get_context("spawn")
    for n, market in markets.items():
        for network in ("mlp", "equivariant"):
            job = (n, market.n_dates, network, args.ppo_timesteps, args.torch_threads)
            if args.quick:  # no process start-up (a few seconds each); peak is this process's
                out = _ppo_child(*job)
            else:
                with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
                    out = pool.submit(_ppo_child, *job).result()
            per_step = out["seconds"] / out["steps"]
            rows.append(Row("ppo", network, n, per_step, "step",
                            f"{out['steps']} steps, {out['n_envs']} envs",
                            {"peak_MB": out["peak_mb"]}))  # fmt: skip
            print(f"  N={n:4d} {network:11s}: {1 / per_step:8.0f} steps/s, "
                  f"peak RSS {out['peak_mb']:.0f} MB")  # fmt: skip
    return rows


def _policy(name: str):
    from allocgym.baselines import BASELINES

    return BASELINES.create(name, views="none") if name == "black_litterman" else (
        BASELINES.create(name))  # fmt: skip


def stage_baselines(markets: dict[int, MarketData], args: argparse.Namespace) -> list[Row]:
    from allocgym.baselines import BASELINES
    from allocgym.policy import PolicyState

    rows: list[Row] = []
    for n, market in markets.items():
        panel = _technical(market)
        cash = np.eye(n + 1)[0]
        state = PolicyState.at(market, market.n_dates - 1, cash, features=panel)
        for name in BASELINES.names():

            def rebalance(name=name, state=state) -> int:
                _policy(name).act(state)
                return 1

            rows.append(Row("baselines", name, n, _median_seconds(rebalance, args.repeats),
                            "rebalance"))  # fmt: skip
    return rows


def _walk_forward(market: MarketData) -> float:
    from allocgym.backtest import backtest
    from allocgym.baselines import MinVariance

    t0 = time.perf_counter()
    backtest({"min_variance": MinVariance()}, market, progress=False)
    return time.perf_counter() - t0


def stage_walkforward(markets: dict[int, MarketData], args: argparse.Namespace) -> list[Row]:
    variant = "min-variance monthly"
    rows = [
        Row("walkforward", variant, n, _walk_forward(m), "backtest", f"{m.n_dates} days")
        for n, m in markets.items()
    ]
    if not args.quick:
        n, days, _ = TARGET_WALK_FORWARD
        seconds = _walk_forward(_market(n, days))
        rows.append(Row("walkforward", f"target {days} days", n, seconds, "backtest"))
    return rows


# ---------------------------------------------------------------------- report
def exponent(sizes: list[int], costs: list[float]) -> float:
    """Least-squares slope of log cost on log N."""
    return float(np.polyfit(np.log(sizes), np.log(costs), 1)[0])


def print_table(rows: list[Row]) -> dict[tuple[str, str], float]:
    """One line per stage/variant: cost per unit at each N, extras, fitted exponent."""
    sizes = sorted({r.n for r in rows})
    groups: dict[tuple[str, str], list[Row]] = {}
    for r in rows:
        groups.setdefault((r.stage, r.variant), []).append(r)
    slopes: dict[tuple[str, str], float] = {}
    head = "".join(f"{'N=' + str(n):>13s}" for n in sizes)
    print(f"\n{'stage':11s} {'variant':24s} {'unit':15s}{head}  exponent")
    for (stage, variant), group in groups.items():
        by_n = {r.n: r for r in group}
        cells = "".join(f"{_fmt(by_n[n].seconds) if n in by_n else '-':>13s}" for n in sizes)
        slope = ""
        if len(by_n) >= 2:
            slopes[stage, variant] = exponent(list(by_n), [r.seconds for r in by_n.values()])
            slope = f"{slopes[stage, variant]:6.2f}"
        print(f"{stage:11s} {variant:24s} {'s/' + group[0].unit:15s}{cells}  {slope}")
        rate_unit = {"step": "steps/s", "portfolio-step": "p-steps/s"}.get(group[0].unit)
        if rate_unit:
            rates = "".join(f"{_fmt_rate(by_n[n].seconds) if n in by_n else '-':>13s}"
                            for n in sizes)  # fmt: skip
            print(f"{'':11s} {'':24s} {rate_unit:15s}{rates}")
        for key in sorted({k for r in group for k in r.extra}):
            vals = "".join(
                f"{_fmt(by_n[n].extra[key]) if n in by_n and key in by_n[n].extra else '-':>13s}"
                for n in sizes
            )
            print(f"{'':11s} {'':24s} {key:15s}{vals}")
        notes = sorted({r.note for r in group if r.note})
        if notes:
            print(f"{'':11s} {'':24s} ({'; '.join(notes)})")
    return slopes


def _fmt(x: float) -> str:
    return f"{x:.3g}" if x >= 1e-3 else f"{x:.2e}"


def _fmt_rate(seconds: float) -> str:
    return f"{1 / seconds:,.0f}"


def print_targets(rows: list[Row], slopes: dict[tuple[str, str], float]) -> None:
    print("\ntargets (measured vs target):")
    found = False
    for r in rows:
        if r.stage == "ppo" and r.variant == "equivariant" and r.n == TARGET_PPO[0]:
            rate, target = 1 / r.seconds, TARGET_PPO[1]
            print(f"  PPO equivariant, N={r.n}, vectorised: {rate:,.0f} steps/s vs >= "
                  f"{target:,.0f}: {'met' if rate >= target else 'MISSED'} "
                  f"({rate / target:.2f}x)")  # fmt: skip
            found = True
        if r.stage == "walkforward" and r.variant.startswith("target"):
            target = TARGET_WALK_FORWARD[2]
            days = r.variant.removeprefix("target ")
            print(f"  min-variance walk-forward, N={r.n}, {days}: {r.seconds:.1f} s vs <= "
                  f"{target:.0f} s: {'met' if r.seconds <= target else 'MISSED'} "
                  f"({r.seconds / target:.2f}x)")  # fmt: skip
            found = True
    for variant in ("PortfolioEnv.step", "PortfolioVecEnv B=256"):
        if ("env", variant) in slopes:
            s = slopes["env", variant]
            print(f"  {variant} cost exponent in N: {s:.2f} vs <= 1: "
                  f"{'met' if s <= 1 else 'MISSED'}")  # fmt: skip
            found = True
    if not found:
        print("  (none of the targets' stages or sizes were run)")


def target_panel(n_jobs: int) -> None:
    n, days, target = TARGET_PANEL
    market = _market(n, days)
    print(f"full panel, {market!r}, n_jobs={n_jobs}, cold")
    seconds, cpu, panel = _build(market, "full", n_jobs, progress=True)  # a bar: it is long
    print(f"  stages (s): {panel.diagnostics['seconds']}, refits {panel.diagnostics['refits']}, "
          f"CPU {cpu:.0f} s")  # fmt: skip
    print(f"  full panel {n} x {days} cold: {seconds:.0f} s vs <= {target:.0f} s: "
          f"{'met' if seconds <= target else 'MISSED'} ({seconds / target:.2f}x)")  # fmt: skip


def _machine() -> str:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"load average {load}; Python {platform.python_version()}, numpy "
            f"{np.__version__}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="20,100,500", help="asset counts, comma-separated")
    parser.add_argument("--days", type=int, default=2520, help="days of each market")
    parser.add_argument("--stages", default=",".join(STAGES), help=f"subset of {STAGES}")
    parser.add_argument("--repeats", type=int, default=3, help="rounds of the fast stages")
    parser.add_argument("--env-steps", type=int, default=2000, help="single-env steps a round")
    parser.add_argument("--ppo-timesteps", type=int, default=16384, help="PPO steps per fit")
    parser.add_argument("--torch-threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="N = 10, 20, 40 x 600 days")
    parser.add_argument("--target-panel", action="store_true",
                        help="only the full panel of 500 assets x 8,300 days, cold")  # fmt: skip
    parser.add_argument("--n-jobs", type=int, default=-1, help="n_jobs of --target-panel")
    args = parser.parse_args()
    print(f"machine: {_machine()}")
    if args.target_panel:
        target_panel(args.n_jobs)
        return
    stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    unknown = sorted(set(stages) - set(STAGES))
    if unknown:
        parser.error(f"--stages {unknown} unknown; expected a subset of {list(STAGES)}")
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.quick:
        sizes, args.days, args.repeats = [10, 20, 40], 600, 1
        args.env_steps, args.ppo_timesteps = 300, 1024
    markets = {n: _market(n, args.days) for n in sizes}
    print(f"markets: N = {sizes}, {args.days} days, synthetic seed 0")
    rows: list[Row] = []
    runners = {"features": stage_features, "env": stage_env, "ppo": stage_ppo,
               "baselines": stage_baselines, "walkforward": stage_walkforward}  # fmt: skip
    for stage in stages:
        t0 = time.perf_counter()
        print(f"\n[{stage}]")
        rows += runners[stage](markets, args)
        print(f"  ({stage}: {time.perf_counter() - t0:.0f} s wall)")
    slopes = print_table(rows)
    print_targets(rows, slopes)
    print(f"\npeak RSS of this process: {peak_rss_mb():.0f} MB (PPO runs in its own processes "
          "unless --quick)")  # fmt: skip


if __name__ == "__main__":
    main()
