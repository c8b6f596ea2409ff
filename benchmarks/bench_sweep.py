"""The same 4-trial sweep run sequentially and on Ray Tune with 2 workers, in one run.

2 configurations (PPO learning rate) x 2 seeds on 500 days of the synthetic market
(technical features, one walk-forward fold; each trial trains PPO twice: the validation
pass on the training part's tail, then the out-of-sample run). Sequential: the trials
one after the other in this process (torch uses every core). Ray: a local instance
bound to 127.0.0.1 with ``num_cpus`` CPUs and 1 CPU per trial, its start-up included
in the time. Prints both wall times, their ratio and whether the two backends found
the same validation Sharpe ratios (they run the same trial function).

Run: ``python benchmarks/bench_sweep.py [--timesteps 1024] [--num-cpus 2]``
(needs ``pip install "allocgym[ray]"``).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from allocgym.data import make_synthetic_market
from allocgym.experiment import load_config
from allocgym.sweep import run_sweep


def _config(root: Path, timesteps: int, num_cpus: int) -> dict:
    data = root / "prices.csv"
    market = make_synthetic_market().market
    market[:500].to_frame().rename_axis("date").to_csv(data)
    return {
        "name": "bench",
        "data": {"source": str(data)},
        "features": {"preset": "technical", "cache": False},
        "env": {"window": 10, "rebalance_every": 1, "episode_length": 64},
        "walk_forward": {"train": 300, "test": 200},
        "agents": [
            {"name": "ppo", "label": "PPO", "timesteps": timesteps,
             "hyperparameters": {"n_steps": 128, "batch_size": 64, "n_epochs": 4}},
        ],
        "baselines": [{"name": "equal_weight"}],
        "report": {"n_boot": 100},
        "sweep": {
            "space": {"agents.0.hyperparameters.learning_rate": [0.001, 0.0003]},
            "seeds": [0, 1],
            "validation": 100,
            "num_cpus": num_cpus,
            "resources": {"cpu": 1},
        },
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--timesteps", type=int, default=1024, help="PPO steps per training")
    parser.add_argument("--num-cpus", type=int, default=2, help="CPUs of the Ray instance")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        base = _config(root, args.timesteps, args.num_cpus)
        times, found, per_trial = {}, {}, {}
        for backend in ("sequential", "ray"):
            config = load_config(base, output_dir=str(root / backend))
            start = time.perf_counter()
            results = run_sweep(config, backend=backend, verbose=False)
            times[backend] = time.perf_counter() - start
            found[backend] = results.trials["val_sharpe"].to_numpy()
            per_trial[backend] = results.trials["elapsed_s"].mean()
            assert results.n_failed == 0, results.trials["error"]
    import ray

    ray.shutdown()
    same = np.allclose(found["sequential"], found["ray"], rtol=1e-6)
    print(f"4 trials (2 configs x 2 seeds), PPO {args.timesteps} steps x 2 trainings each")
    print(f"sequential            {times['sequential']:8.1f} s   mean trial "
          f"{per_trial['sequential']:.1f} s")  # fmt: skip
    print(f"ray, {args.num_cpus} workers         {times['ray']:8.1f} s   mean trial "
          f"{per_trial['ray']:.1f} s (Ray start-up included in the total)")  # fmt: skip
    print(f"speed-up seq / ray    {times['sequential'] / times['ray']:8.2f} x")
    print(f"same validation Sharpe ratios on both backends: {same}")


if __name__ == "__main__":
    main()
