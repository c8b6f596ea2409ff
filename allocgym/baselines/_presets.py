"""Flat keyword settings for the preset baselines, written once in the constructors they feed.

A preset such as ``MinVariance(lookback=126, max_weight=0.3)`` takes the settings of
:class:`~allocgym.baselines.MeanRiskPolicy` and of
:class:`~allocgym.baselines.MeanRiskOptimizer` as flat keywords (what a YAML config's
``params:`` and ``allocgym list baselines`` show). Rather than re-listing them, a preset
declares ``**settings`` and :func:`preset_signature` gives its ``__init__`` the
signature made of those constructors' parameters, so ``inspect.signature``, the
registry's parameter check and ``help()`` see every name and default, and
:func:`bind_settings` checks the names a caller passes against it.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

__all__ = ["RENAMED_PARAMETERS", "bind_settings", "keyword_parameters", "preset_signature"]

T = TypeVar("T", bound=type)

RENAMED_PARAMETERS: dict[str, tuple[str, str]] = {
    "cost_bps": (
        "cost_penalty_bps",
        "it is a turnover penalty inside the baseline's optimiser (default 0), not the "
        "transaction cost the environment charges (env.cost_bps in a config, --cost-bps on "
        "the command line, backtest(cost_bps=...) in Python)",
    ),
}
"""Old baseline parameter name -> (new name, why), for an error that points to the new name."""

_NAMED = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def keyword_parameters(
    func: Callable[..., Any],
    *,
    omit: Iterable[str] = (),
    defaults: Mapping[str, Any] | None = None,
) -> list[inspect.Parameter]:
    """The named parameters of ``func`` but ``self`` and ``omit``, as keyword-only ones.

    ``defaults`` replaces the default of some of them (a preset's own default).
    """
    skip, defaults = {"self", *omit}, dict(defaults or {})
    return [
        p.replace(kind=inspect.Parameter.KEYWORD_ONLY, default=defaults.get(p.name, p.default))
        for p in inspect.signature(func).parameters.values()
        if p.kind in _NAMED and p.name not in skip
    ]


def preset_signature(*groups: list[inspect.Parameter]) -> Callable[[T], T]:
    """Class decorator: ``cls.__init__`` gets its own named parameters followed by ``groups``.

    Its ``**settings`` are then the parameters of ``groups`` (a name listed twice is a
    ``ValueError`` here, at import).
    """

    def decorate(cls: T) -> T:
        init = cls.__init__  # type: ignore[misc]
        own = [p for p in inspect.signature(init).parameters.values() if p.kind in _NAMED]
        init.__signature__ = inspect.Signature([*own, *(p for g in groups for p in g)])
        return cls

    return decorate


def bind_settings(
    cls: type, settings: Mapping[str, Any], *, only: Iterable[str] | None = None
) -> dict[str, Any]:
    """``settings`` checked against ``cls``'s preset signature, with its defaults filled in.

    Returns every parameter of the signature (those in ``only``, if given) but ``self``,
    valued from ``settings`` or by its default.

    Raises
    ------
    TypeError
        A renamed parameter (naming the new one) or a name the signature does not have.
    """
    params = inspect.signature(cls.__init__).parameters  # type: ignore[misc]
    accepted = [n for n in params if n != "self"]
    for key in settings:
        if key in RENAMED_PARAMETERS:
            new, why = RENAMED_PARAMETERS[key]
            raise TypeError(f"{cls.__name__}(): {key!r} was renamed {new!r}: {why}")
        if key not in accepted:
            close = difflib.get_close_matches(str(key), accepted, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise TypeError(
                f"{cls.__name__}() got an unexpected keyword argument {key!r}{hint}; "
                f"accepted: {sorted(accepted)}"
            )
    names = [n for n in accepted if only is None or n in only]
    return {n: settings[n] if n in settings else params[n].default for n in names}
