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
    "SettingError",
    "TrainingFailed",
]


class DataError(ValueError):
    """Input data that allocgym cannot use (bad file, bad column, bad value)."""


class ConfigError(ValueError):
    """An invalid configuration key or value."""


class SettingError(ConfigError):
    """An invalid field of a settings object, e.g. :class:`~allocgym.envs.EnvSettings`.

    Carries ``field``, ``value`` and ``expected`` so that a config loader can name the
    key where the value came from (``env.window: 0 is invalid; expected ...``).
    """

    def __init__(self, field: str, value: object, expected: str) -> None:
        self.field, self.value, self.expected = field, value, expected
        super().__init__(f"{field}={value!r} is invalid; expected {expected}")


class OptimizationError(RuntimeError):
    """An optimiser failed (infeasible, solver error, non-finite solution)."""


class TrainingFailed(RuntimeError):
    """Some (agent, seed, fold) trainings of a distributed run failed; the others are saved."""


class AllocgymWarning(UserWarning):
    """Base class of allocgym warnings: suspicious but legal input."""


class DataRepairWarning(AllocgymWarning):
    """Input data was repaired (sorted, forward-filled); the repair is also recorded."""
