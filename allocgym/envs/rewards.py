"""Pluggable rewards: the :class:`RewardFn` protocol, a registry and the built-in rewards.

A reward is called once per environment step with a :class:`StepRecord` (gross and net
return of the holding period, cost, turnover, weights, wealth, drawdown) and returns a
float. Stateful rewards (differential Sharpe ratio, ...) also have ``reset(mask=None)``,
called at the start of each episode. A reward may expose ``components`` (a mapping of
named parts of its last value); the environment copies it into ``info``.

The native vectorised environment calls the same objects with a record whose fields are
arrays of shape (B,) (weights (B, n_assets + 1)) and expects an array of shape (B,) back;
the built-ins are written with numpy operations so they work on both, and
``reset(mask)`` resets only the portfolios in ``mask``.

Look-up (:func:`get_reward`): a registered name (:func:`list_rewards`), a callable or
class, ``"package.module:function"``, ``"path/to/file.py:function"``, or a mapping
``{spec: weight}`` for a weighted combination.
"""

from __future__ import annotations

import inspect
import math
import warnings
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple, Protocol, runtime_checkable

import numpy as np

from allocgym._typing import BoolArray, FloatArray
from allocgym.envs._imports import load_attribute
from allocgym.exceptions import AllocgymWarning
from allocgym.registry import Registry

__all__ = [
    "REWARDS",
    "BenchmarkExcess",
    "BenchmarkMissingWarning",
    "DifferentialSharpe",
    "DownsideDeviation",
    "DrawdownPenalised",
    "FunctionReward",
    "LogReturn",
    "MeanVariance",
    "RewardFn",
    "StepRecord",
    "TurnoverPenalised",
    "WeightedReward",
    "get_reward",
    "list_rewards",
    "register_reward",
]

Number = Any  # float in the single env, ndarray of shape (B,) in the vectorised env


class StepRecord(NamedTuple):
    """What happened in one environment step (one decision plus its holding period).

    A NamedTuple rather than a frozen dataclass: it is built on every step, and
    constructing it must cost well under a microsecond.

    Attributes
    ----------
    t : int
        Index of the decision date in ``market.dates``.
    n_days : int
        Trading days held after the trade (``rebalance_every``, fewer at the range end).
    gross_return : float
        Simple return of the period before costs: ``sum_i w_i prod_d (1 + r_{d,i}) - 1``.
    net_return : float
        Simple return after costs: ``mu (1 + gross_return) - 1``.
    log_return : float
        ``log(1 + net_return)``.
    cost : float
        ``1 - mu``: what the trade cost, as a fraction of pre-trade wealth.
    turnover : float
        ``sum_{i >= 1} |mu w_i - w'_i|``: value traded as a fraction of pre-trade wealth.
    weights_before : ndarray, shape (n_assets + 1,)
        Drifted weights before the trade (index 0 = cash).
    weights : ndarray, shape (n_assets + 1,)
        Target weights right after the trade.
    wealth : float
        Wealth at the end of the period.
    peak : float
        Highest end-of-step wealth so far in the episode (initial wealth included).
    drawdown : float
        ``1 - wealth / peak``.
    """

    t: Number
    n_days: Number
    gross_return: Number
    net_return: Number
    log_return: Number
    cost: Number
    turnover: Number
    weights_before: FloatArray
    weights: FloatArray
    wealth: Number
    peak: Number
    drawdown: Number


@runtime_checkable
class RewardFn(Protocol):
    """A reward: ``reward(record) -> float``; ``reset(mask=None)`` starts an episode."""

    def __call__(self, record: StepRecord) -> Number: ...

    def reset(self, mask: BoolArray | None = None) -> None: ...


class _Stateful:
    """Helper for rewards that keep exponential moving moments per portfolio."""

    _state_names: tuple[str, ...] = ()

    def reset(self, mask: BoolArray | None = None) -> None:
        if mask is None or getattr(self, "_n", None) is None:
            for name in (*self._state_names, "_n"):
                setattr(self, name, None)
            return
        for name in (*self._state_names, "_n"):
            getattr(self, name)[mask] = 0.0

    def _init_state(self, like: Number) -> None:
        if getattr(self, "_n", None) is None:
            for name in (*self._state_names, "_n"):
                setattr(self, name, np.zeros_like(np.asarray(like, dtype=np.float64)))

    def _guarded(self, eta: float, warmup: int, clip: float) -> None:
        """Validate and set the rate and warm-up guard of the differential ratios."""
        self.eta = _check_positive("eta", eta, 1.0)
        self.warmup = int(warmup)
        self.clip = _check_positive("clip", clip)
        self.reset()

    def _rate(self) -> Number:
        # arithmetic mean over the first 1/eta steps, then an exponential moving average
        return np.maximum(self.eta, 1.0 / (self._n + 1.0))


def _scalar_or_array(x: Number) -> Number:
    return float(x) if np.ndim(x) == 0 else x


def _check_positive(name: str, value: float, upper: float = math.inf) -> float:
    if not (isinstance(value, int | float) and 0 < value < upper):
        raise ValueError(f"{name}={value!r} is invalid; expected 0 < {name} < {upper}")
    return float(value)


class LogReturn:
    """Log of the period's net wealth growth, ``log(W_{t+k} / W_t)`` (the default)."""

    name = "log_return"

    def __call__(self, record: StepRecord) -> Number:
        return record.log_return

    def reset(self, mask: BoolArray | None = None) -> None:
        """Stateless."""


class DifferentialSharpe(_Stateful):
    """Differential Sharpe ratio (Moody & Saffell 2001).

    With ``R_t`` the net simple return, ``dA = R_t - A_{t-1}``, ``dB = R_t^2 - B_{t-1}``::

        D_t = (B_{t-1} dA - A_{t-1} dB / 2) / (B_{t-1} - A_{t-1}^2)^{3/2}
        A_t = A_{t-1} + eta dA,   B_t = B_{t-1} + eta dB

    Warm-up guard: the rate is ``max(eta, 1/n)`` (plain averages for the first ``1/eta``
    steps), ``D_t = 0`` for the first ``warmup`` steps or while the variance is at most
    ``1e-12``, and ``D_t`` is clipped to ``[-clip, clip]``.

    References
    ----------
    Moody, J., Saffell, M. (2001). Learning to trade via direct reinforcement. IEEE
    Transactions on Neural Networks 12(4), 875-889.
    """

    name = "differential_sharpe"
    _state_names = ("_a", "_b")

    def __init__(self, eta: float = 0.01, warmup: int = 10, clip: float = 10.0) -> None:
        self._guarded(eta, warmup, clip)

    def __call__(self, record: StepRecord) -> Number:
        r = record.net_return
        self._init_state(r)
        a, b = self._a, self._b
        da, db = r - a, r * r - b
        var = b - a * a
        ok = (self._n >= self.warmup) & (var > 1e-12)
        d = np.where(ok, (b * da - 0.5 * a * db) / np.maximum(var, 1e-12) ** 1.5, 0.0)
        d = np.clip(d, -self.clip, self.clip)
        rate = self._rate()
        self._a = a + rate * da
        self._b = b + rate * db
        self._n = self._n + 1.0
        return _scalar_or_array(d)


class DownsideDeviation(_Stateful):
    """Differential downside deviation ratio, a Sortino-style reward (Moody & Saffell 2001).

    With ``DD_t^2`` an exponential moving average of ``min(R_t, 0)^2``::

        D_t = (R_t - A_{t-1} / 2) / DD_{t-1}                                  if R_t > 0
        D_t = (DD_{t-1}^2 (R_t - A_{t-1}/2) - A_{t-1} R_t^2 / 2) / DD_{t-1}^3   otherwise

    then ``A_t = A_{t-1} + eta (R_t - A_{t-1})``,
    ``DD_t^2 = DD_{t-1}^2 + eta (min(R_t, 0)^2 - DD_{t-1}^2)``. Same warm-up guard and
    clipping as :class:`DifferentialSharpe`.
    """

    name = "downside_deviation"
    _state_names = ("_a", "_dd2")

    def __init__(self, eta: float = 0.01, warmup: int = 10, clip: float = 10.0) -> None:
        self._guarded(eta, warmup, clip)

    def __call__(self, record: StepRecord) -> Number:
        r = record.net_return
        self._init_state(r)
        a, dd2 = self._a, self._dd2
        safe = np.maximum(dd2, 1e-12)
        dd = np.sqrt(safe)
        up = (r - 0.5 * a) / dd
        down = (safe * (r - 0.5 * a) - 0.5 * a * r * r) / (safe * dd)
        ok = (self._n >= self.warmup) & (dd2 > 1e-12)
        d = np.clip(np.where(ok, np.where(r > 0, up, down), 0.0), -self.clip, self.clip)
        rate = self._rate()
        self._a = a + rate * (r - a)
        self._dd2 = dd2 + rate * (np.minimum(r, 0.0) ** 2 - dd2)
        self._n = self._n + 1.0
        return _scalar_or_array(d)


class MeanVariance(_Stateful):
    """Mean-variance utility of the period: ``R_t - (lambda / 2) (R_t - A_{t-1})^2``.

    ``A`` is a moving average of net returns (rate ``eta``, plain average during the first
    ``1/eta`` steps), so the penalty estimates the variance around the running mean.
    Components: ``return`` and ``risk_penalty``.
    """

    name = "mean_variance"
    _state_names = ("_a",)

    def __init__(self, risk_aversion: float = 10.0, eta: float = 0.01) -> None:
        self.risk_aversion = _check_positive("risk_aversion", risk_aversion)
        self.eta = _check_positive("eta", eta, 1.0)
        self.components: dict[str, Number] = {}

    def __call__(self, record: StepRecord) -> Number:
        r = record.net_return
        self._init_state(r)
        penalty = 0.5 * self.risk_aversion * (r - self._a) ** 2
        self._a = self._a + self._rate() * (r - self._a)
        self._n = self._n + 1.0
        self.components = {"return": r, "risk_penalty": _scalar_or_array(-penalty)}
        return _scalar_or_array(r - penalty)


class _PenalisedLogReturn:
    """Log return minus ``penalty`` times one field of the step record (stateless)."""

    name = ""
    field = ""
    default_penalty = 0.0

    def __init__(self, penalty: float | None = None) -> None:
        value = self.default_penalty if penalty is None else penalty
        self.penalty = _check_positive("penalty", value)
        self.components: dict[str, Number] = {}

    def __call__(self, record: StepRecord) -> Number:
        pen = -self.penalty * getattr(record, self.field)
        self.components = {"log_return": record.log_return, f"{self.field}_penalty": pen}
        return record.log_return + pen

    def reset(self, mask: BoolArray | None = None) -> None:
        """Stateless (the penalised quantity comes with the record)."""


class DrawdownPenalised(_PenalisedLogReturn):
    """Log return minus a penalty on the current drawdown: ``log_return - c * drawdown``.

    ``penalty`` c defaults to 0.01.
    """

    name = "drawdown_penalised"
    field = "drawdown"
    default_penalty = 0.01


class TurnoverPenalised(_PenalisedLogReturn):
    """Log return minus a penalty per unit of turnover: ``log_return - c * turnover``.

    On top of the transaction costs already in the log return; discourages churning.
    ``penalty`` c defaults to 0.001.
    """

    name = "turnover_penalised"
    field = "turnover"
    default_penalty = 0.001


class BenchmarkMissingWarning(AllocgymWarning):
    """``benchmark_excess`` was built without a benchmark: its excess is over cash at 0 %."""


class BenchmarkExcess:
    """Log return in excess of a market benchmark's over the same period, net of costs.

    ``reward = log(W_{t+k} / W_t) - log(B_{t+k} / B_t)`` with ``W`` the policy's wealth
    (after costs) and ``B`` the benchmark's level, for the holding period from decision
    row ``t`` to ``t + k`` (``k = n_days``).

    Parameters
    ----------
    benchmark : array-like or Series of shape (n_dates,), optional
        Benchmark levels on exactly the env's market dates, row for row, e.g.
        ``allocgym.data.load_benchmark(market=market)`` (the embedded S&P 500 index
        for the embedded market). The env passes the reward a row index, not a date,
        so the alignment is the caller's: a Series with another index is refused only
        if its length cannot cover the rows the env reaches. Without a benchmark the
        excess is over cash at 0 %, i.e. the plain log return, with a
        :class:`BenchmarkMissingWarning`.

    Components: ``log_return`` and ``benchmark`` (minus the benchmark's log return).
    """

    name = "benchmark_excess"

    def __init__(self, benchmark: Any = None) -> None:
        self.components: dict[str, Number] = {}
        if benchmark is None:
            warnings.warn(
                "reward 'benchmark_excess' without a benchmark: the excess is over cash at "
                "0 %, i.e. the plain log return; pass reward_kwargs={'benchmark': "
                "allocgym.data.load_benchmark(market=market)}",
                BenchmarkMissingWarning,
                stacklevel=2,
            )
            self._log_level = None
            return
        levels = np.asarray(benchmark, dtype=np.float64)
        if levels.ndim != 1 or levels.size < 2:
            raise ValueError(
                f"benchmark has shape {levels.shape}; expected levels of shape (n_dates,), "
                "one per market date"
            )
        bad = ~(np.isfinite(levels) & (levels > 0))
        if bad.any():
            pos = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"benchmark level {float(levels[pos])!r} at row {pos} is not a positive number; "
                "expected a level on every market date (align it with "
                "allocgym.data.load_benchmark(market=market))"
            )
        self._log_level = np.log(levels)

    def __call__(self, record: StepRecord) -> Number:
        if self._log_level is None:
            self.components = {"log_return": record.log_return, "benchmark": 0.0 * record.t}
            return record.log_return
        end = record.t + record.n_days
        if np.max(end) >= self._log_level.size:
            raise ValueError(
                f"benchmark has {self._log_level.size} levels but the env reached row "
                f"{int(np.max(end))}; expected one level per market date"
            )
        bench = _scalar_or_array(self._log_level[end] - self._log_level[record.t])
        self.components = {"log_return": record.log_return, "benchmark": -bench}
        return record.log_return - bench

    def reset(self, mask: BoolArray | None = None) -> None:
        """Stateless (the benchmark is fixed)."""


class WeightedReward:
    """A weighted sum of rewards: ``sum_j weight_j * reward_j(record)``.

    Parameters
    ----------
    terms : mapping of reward spec to weight
        Specs as accepted by :func:`get_reward` (names, ``"module:function"``, ...), e.g.
        ``{"log_return": 1.0, "differential_sharpe": 0.1}``.

    Components: each term's weighted value under its spec name.
    """

    name = "combination"

    def __init__(self, terms: Mapping[str, float] | None = None) -> None:
        if not terms:
            raise ValueError(
                f"terms={terms!r}: a combination needs at least one (reward, weight) pair, "
                "e.g. {'log_return': 1.0, 'differential_sharpe': 0.1}"
            )
        self.terms = [(str(spec), float(w), get_reward(spec)) for spec, w in terms.items()]
        self.components: dict[str, Number] = {}

    def __call__(self, record: StepRecord) -> Number:
        parts = {spec: w * fn(record) for spec, w, fn in self.terms}
        self.components = parts
        return sum(parts.values())

    def reset(self, mask: BoolArray | None = None) -> None:
        for _, _, fn in self.terms:
            fn.reset(mask)


class FunctionReward:
    """Wraps a plain function ``f(record) -> float`` as a :class:`RewardFn`."""

    def __init__(self, fn: Callable[[StepRecord], Number], name: str | None = None) -> None:
        self.fn = fn
        self.name = name or getattr(fn, "__name__", "reward")

    def __call__(self, record: StepRecord) -> Number:
        return self.fn(record)

    def reset(self, mask: BoolArray | None = None) -> None:
        """Plain functions are stateless."""

    def __repr__(self) -> str:
        return f"FunctionReward({self.name})"


class _ExternalReward:
    """A reward loaded from ``"module:attr"`` or ``"file.py:attr"``; pickles as its spec."""

    def __init__(self, spec: str, kwargs: dict[str, Any]) -> None:
        self.spec, self.kwargs = spec, kwargs
        self.inner = _as_reward(load_attribute(spec), kwargs, spec)
        self.name = spec

    def __call__(self, record: StepRecord) -> Number:
        return self.inner(record)

    def reset(self, mask: BoolArray | None = None) -> None:
        self.inner.reset(mask)

    @property
    def components(self) -> Mapping[str, Number] | None:
        return getattr(self.inner, "components", None)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_ExternalReward, (self.spec, self.kwargs))

    def __repr__(self) -> str:
        return f"reward {self.spec!r}"


REWARDS = Registry("reward", default_kind="custom")
"""Reward names to reward classes or functions (:func:`register_reward` adds to it)."""


def register_reward(
    name: str,
    reward: Callable[..., Any] | None = None,
    *,
    description: str | None = None,
    label: str | None = None,
    kind: str | None = None,
    params: Mapping[str, Any] | None = None,
    overwrite: bool = False,
) -> Any:
    """Register a reward class or function under ``name``; usable as a decorator.

    Parameters
    ----------
    name : str
        The name to use in ``PortfolioEnv(reward=name)`` and configs.
    reward : class or function
        A class (instantiated with the keyword arguments given to :func:`get_reward`)
        or a function ``f(record) -> float``.
    description : str, optional
        One line for ``allocgym list rewards``; defaults to the first docstring line.
    label : str, optional
        Display label; defaults to ``name``.
    kind : str, optional
        Category shown by ``allocgym list`` (default ``"custom"``).
    params : mapping, optional
        Parameter defaults for ``allocgym list`` when the signature does not show them;
        default: a class's ``__init__`` parameters, none for a function.
    overwrite : bool, default False
        Replace an existing registration instead of raising.

    Examples
    --------
    >>> @register_reward("sharpe_like", overwrite=True)
    ... def sharpe_like(record):
    ...     return record.net_return / 0.01
    """
    if not isinstance(name, str) or not name or ":" in name:
        raise ValueError(f"name={name!r} is invalid; expected a non-empty str without ':'")

    def add(obj: Callable[..., Any]) -> Callable[..., Any]:
        if not callable(obj):
            raise TypeError(f"reward for {name!r} must be callable; got {type(obj).__name__}")
        # a function reward takes the record, not parameters; a class takes its __init__'s
        listed = params if params is not None or inspect.isclass(obj) else {}
        return REWARDS.register(
            name, obj, label=label, kind=kind, description=description, params=listed,
            overwrite=overwrite,
        )  # fmt: skip

    return add if reward is None else add(reward)


def list_rewards() -> dict[str, str]:
    """Registered reward names and their one-line descriptions, sorted by name."""
    return REWARDS.describe()


def _as_reward(obj: Any, kwargs: dict[str, Any], label: str) -> RewardFn:
    if inspect.isclass(obj):
        obj = obj(**kwargs)
    elif kwargs:
        raise TypeError(f"reward {label!r} is a function; it takes no keyword arguments {kwargs}")
    if not callable(obj):
        raise TypeError(f"reward {label!r} is a {type(obj).__name__}, which is not callable")
    if isinstance(obj, RewardFn):
        return obj
    return FunctionReward(obj, getattr(obj, "__name__", label))


def get_reward(spec: Any = "log_return", **kwargs: Any) -> RewardFn:
    """A fresh :class:`RewardFn` from a spec.

    Parameters
    ----------
    spec : str, callable, class or mapping
        A registered name (see :func:`list_rewards`); ``"package.module:function"`` or
        ``"path/to/file.py:function"`` (a function, a class or a RewardFn instance);
        a callable or class; or ``{spec: weight, ...}`` for a :class:`WeightedReward`.
    **kwargs
        Passed to the reward class (e.g. ``eta=0.05`` for ``"differential_sharpe"``).

    Raises
    ------
    ValueError
        Unknown name or unimportable ``module:function`` (the message lists the names).
    """
    if isinstance(spec, Mapping):
        return WeightedReward(spec)
    if isinstance(spec, str):
        name = REWARDS.find(spec)
        if name is not None:
            return _as_reward(REWARDS[name], kwargs, name)
        if ":" in spec:
            return _ExternalReward(spec, kwargs)
        raise ValueError(
            f"reward={spec!r} is not a registered reward{REWARDS.did_you_mean(spec)}; expected "
            f"one of {REWARDS.names()}, a 'module:function' string or a callable"
        )
    if callable(spec):
        return _as_reward(spec, kwargs, getattr(spec, "__name__", repr(spec)))
    raise TypeError(
        f"reward must be a name, 'module:function', a callable or a mapping; got "
        f"{type(spec).__name__}"
    )


for _cls, _label, _kind in (
    (LogReturn, "Log return", "return"),
    (DifferentialSharpe, "Differential Sharpe", "risk-adjusted"),
    (MeanVariance, "Mean-variance utility", "risk-adjusted"),
    (DrawdownPenalised, "Drawdown-penalised", "penalised"),
    (DownsideDeviation, "Downside deviation", "risk-adjusted"),
    (TurnoverPenalised, "Turnover-penalised", "penalised"),
    (BenchmarkExcess, "Excess over benchmark", "return"),
    (WeightedReward, "Combination", "combination"),
):
    _penalty = getattr(_cls, "default_penalty", None)
    _params = None if _penalty is None else {"penalty": _penalty}
    register_reward(_cls.name, _cls, label=_label, kind=_kind, params=_params)
