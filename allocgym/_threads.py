"""PyTorch's intra-op threads for a block of work, restored afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from allocgym.exceptions import ConfigError


def check_threads(value: Any, name: str = "threads") -> int:
    """``value`` as a positive int, else a :class:`ConfigError` that names it."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name}={value!r} is invalid; expected a whole number >= 1")
    return value


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run the block on ``n`` torch intra-op threads (``None``: leave them as they are).

    How torch splits a sum between threads changes its last digits, so a network trained
    from a seed is reproducible only at a fixed thread count: one thread gives the same
    numbers on every machine, backend and core count (and, for allocgym's small
    networks, is as fast as more on an idle machine and several times faster on a busy
    one).
    """
    if n is None:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(check_threads(n))
    try:
        yield
    finally:
        torch.set_num_threads(before)
