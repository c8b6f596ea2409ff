"""Domain errors and warnings raised by allocgym.

Every error message names the offending thing (file, column, key), the bad value
and what was expected, so that a user can act on it without reading a traceback.
"""

from __future__ import annotations

__all__ = [
    "AllocgymWarning",
    "ConfigError",
    "DataError",
    "DataRepairWarning",
    "OptimizationError",
]


class DataError(ValueError):
    """Input data that allocgym cannot use (bad file, bad column, bad value)."""


class ConfigError(ValueError):
    """An invalid configuration key or value."""


class OptimizationError(RuntimeError):
    """An optimiser failed (infeasible, solver error, non-finite solution)."""


class AllocgymWarning(UserWarning):
    """Base class of allocgym warnings: suspicious but legal input."""


class DataRepairWarning(AllocgymWarning):
    """Input data was repaired (sorted, forward-filled); the repair is also recorded."""
