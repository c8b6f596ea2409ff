"""What ``allocgym sweep`` executes (the parser is registered in allocgym.cli)."""

from __future__ import annotations

import argparse

from allocgym.sweep.driver import BACKENDS


def sweep(args: argparse.Namespace) -> int:
    from allocgym.sweep.driver import run_sweep

    overrides = {}
    if args.output_dir:
        overrides["output_dir"] = args.output_dir
    if args.name:
        overrides["name"] = args.name
    results = run_sweep(
        args.config, backend=args.backend, address=args.address, fresh=args.fresh, **overrides
    )
    return 0 if results.selected is not None else 1


def add_arguments(p: argparse.ArgumentParser) -> None:
    from allocgym.experiment._cli import PLUGIN_NOTE

    p.epilog = PLUGIN_NOTE
    p.add_argument("config", help="experiment YAML with a sweep: section (experiments/sweep.yaml)")
    p.add_argument("--output-dir", default=None, help="override output_dir of the config")
    p.add_argument("--name", default=None, help="override the experiment name")
    p.add_argument(
        "--address",
        default=None,
        help="join this Ray cluster (e.g. 10.0.0.1:6379 from `ray start --head`) instead of "
        "starting Ray locally on 127.0.0.1",
    )
    p.add_argument(
        "--backend",
        choices=BACKENDS,
        default="auto",
        help="auto (default): Ray Tune if installed, else sequential trials",
    )
    p.add_argument(
        "--fresh",
        action="store_true",
        help="delete the sweep folder (only one allocgym made) and start over",
    )
