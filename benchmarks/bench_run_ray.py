"""One small experiment run locally (serial trainings) and on Ray, in one process.

PPO with ``--seeds`` seeds on the synthetic market (technical features, ``--folds``
walk-forward folds, ``--timesteps`` steps per (seed, fold)), beside 1/N. Local: the
trainings one after the other in this process (PyTorch on one thread, the default). Ray: a
local instance bound to 127.0.0.1 with ``--num-cpus`` CPUs, one task per (seed, fold);
Ray's start-up and the workers' imports are inside its time. Both build the features
first (not timed: the same work). Prints the two wall times, their ratio, and the
largest difference between the two runs' daily returns (0: both train every model on
one thread, so they train the same models).

Run: ``python benchmarks/bench_run_ray.py [--timesteps 20000] [--seeds 2] [--num-cpus 2]``
(needs ``pip install "allocgym[ray]"``).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from allocgym.experiment import load_config, run_experiment


def _config(root: Path, args: argparse.Namespace, name: str) -> dict:
    train, test = 504, 252
    return {
        "name": name,
        "output_dir": str(root),
        "data": {"synthetic": {"n_assets": 10, "n_days": train + test * args.folds + 1}},
        "features": {"preset": "technical", "cache": True},
        "env": {"window": 20, "rebalance_every": 5, "episode_length": 50},
        "walk_forward": {"train": train, "test": test},
        "agents": [
            {"name": "ppo", "label": "PPO", "timesteps": args.timesteps,
             "seeds": list(range(args.seeds))},
        ],
        "baselines": [{"name": "equal_weight"}],
        "report": {"n_boot": 100},
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--timesteps", type=int, default=20_000, help="PPO steps per fold")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--folds", type=int, default=2)
    parser.add_argument("--num-cpus", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    from allocgym._ray import start_ray

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        local = load_config(_config(root, args, "local"))
        remote = load_config(_config(root, args, "ray"))
        # the feature panel into the cache first: both runs then read it
        from allocgym.experiment.runner import prepare_run

        with prepare_run(local, progress=False, verbose=False):
            pass
        t0 = time.perf_counter()
        a = run_experiment(local, progress=False, verbose=False)
        t_local = time.perf_counter() - t0
        t0 = time.perf_counter()
        start_ray(args.num_cpus)
        t_start = time.perf_counter() - t0
        b = run_experiment(remote, progress=False, verbose=False, backend="ray")
        t_ray = time.perf_counter() - t0
    n = args.seeds * args.folds
    diff = float(np.max(np.abs(a.returns.to_numpy() - b.returns.to_numpy())))
    print(
        f"{n} trainings ({args.seeds} seeds x {args.folds} folds) of {args.timesteps:,} "
        f"PPO steps, 10 assets; {os.cpu_count()} CPUs, Ray with {args.num_cpus}"
    )
    print(f"local (serial):   {t_local:8.1f} s")
    print(f"ray:              {t_ray:8.1f} s (Ray start-up {t_start:.1f} s included)")
    print(f"ratio local/ray:  {t_local / t_ray:8.2f}x")
    print(f"largest difference of a daily return between the runs: {diff:.1e}")


if __name__ == "__main__":
    main()
