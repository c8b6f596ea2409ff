"""What ``allocgym run`` and ``allocgym train`` execute (the parsers live in allocgym.cli)."""

from __future__ import annotations

import argparse


def _config(args: argparse.Namespace):
    from allocgym.experiment.config import load_config

    overrides = {}
    if args.output_dir:
        overrides["output_dir"] = args.output_dir
    if args.name:
        overrides["name"] = args.name
    return load_config(args.config, **overrides)


def run(args: argparse.Namespace) -> int:
    from allocgym.experiment.runner import run_experiment

    run_experiment(
        _config(args), fresh=args.fresh, progress=not args.no_progress,
        backend=args.backend, address=args.address, threads=args.threads,
    )  # fmt: skip
    return 0


def train(args: argparse.Namespace) -> int:
    from allocgym.experiment.runner import train_agents

    saved = train_agents(
        _config(args), fresh=args.fresh, progress=not args.no_progress,
        backend=args.backend, address=args.address, threads=args.threads,
    )  # fmt: skip
    for path in saved:
        print(f"saved {path}")
    return 0


PLUGIN_NOTE = (
    "A reward written as 'module:function' or 'file.py:function' is imported, so that "
    "module's code runs, like any Python import; it is imported only after the rest of "
    "the config is valid. See docs/security.md."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.epilog = PLUGIN_NOTE
    p.add_argument("config", help="experiment YAML file (see experiments/quickstart.yaml)")
    p.add_argument("--output-dir", default=None, help="override output_dir of the config")
    p.add_argument("--name", default=None, help="override the experiment name")
    p.add_argument(
        "--fresh",
        action="store_true",
        help="delete the run folder (only one allocgym made: it holds .allocgym-run) and "
        "start over instead of resuming",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument(
        "--backend",
        choices=["local", "ray"],
        default="local",
        help="where the (agent, seed, fold) trainings run: one after the other in this "
        "process (local, default) or as Ray tasks, in parallel (ray: a Ray instance on "
        "127.0.0.1 with this machine's CPUs, or the cluster of --address); the run folder "
        "is the same either way (docs/agents.md)",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="PyTorch threads of each training (local), or CPUs of each Ray task "
        "(default 1: the same models on every machine and backend, and the fastest on a "
        "shared machine)",
    )
    p.add_argument(
        "--address",
        default=None,
        help="with --backend ray: join this Ray cluster (what `ray start --head` prints)",
    )
