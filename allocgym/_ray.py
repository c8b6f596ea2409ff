"""Ray for ``allocgym run --backend ray`` and ``allocgym sweep``: one way to start it.

Ray is optional (``pip install "allocgym[ray]"``); nothing here imports it until asked.
"""

from __future__ import annotations

import importlib.util
import os

__all__ = ["INSTALL_RAY", "ray_available", "start_ray"]

INSTALL_RAY = 'pip install "allocgym[ray]"'


def ray_available() -> bool:
    """Whether Ray Tune can be imported (the ``ray`` extra is installed)."""
    return importlib.util.find_spec("ray") is not None


def start_ray(num_cpus: int | None = None, address: str | None = None) -> None:
    """Start a local Ray instance bound to loopback, or join the cluster at ``address``.

    Locally nothing listens beyond 127.0.0.1: Ray's own loopback mode (what it does on
    macOS and Windows) is switched on for this process and the Ray processes it starts,
    and the dashboard is off.
    """
    if address is None:
        os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    import ray

    if ray.is_initialized():
        return
    if address is not None:
        ray.init(address=address, log_to_driver=False)
        return
    from ray._private import ray_constants  # read at import time, so also set here

    ray_constants.ENABLE_RAY_CLUSTER = False
    ray.init(
        address="local",
        num_cpus=num_cpus or os.cpu_count(),
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        log_to_driver=False,
        configure_logging=False,
    )
