"""One registry pattern for every kind of thing a config or the command line names.

A :class:`Registry` maps names to factories and keeps, for each, an :class:`Entry` with a
display label, a kind and a one-line description. The package that owns a concept owns
its registry (``allocgym.baselines.BASELINES``, ``allocgym.agents.AGENTS``,
``allocgym.envs.rewards.REWARDS``); the YAML validator, the ``allocgym`` command and the
Python API all resolve names through it, so the three accept exactly the same names, and
``allocgym list`` prints them with their parameters and defaults.

A registry is a read-only mapping ``name -> factory`` (``sorted(BASELINES)`` lists the
names, ``BASELINES["min_variance"]`` is the class); :meth:`Registry.resolve` adds aliases,
case- and dash-insensitive look-up and error messages with a did-you-mean.
"""

from __future__ import annotations

import difflib
import inspect
import textwrap
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from allocgym.exceptions import ConfigError

__all__ = [
    "REQUIRED",
    "Entry",
    "Registry",
    "factory_parameters",
    "format_listing",
    "format_parameters",
]

REQUIRED = inspect.Parameter.empty
"""The default shown for a parameter without one."""


def factory_parameters(factory: Callable[..., Any]) -> dict[str, Any]:
    """Keyword parameters of ``factory`` and their defaults (:data:`REQUIRED` if none).

    Positional-only and ``*args``/``**kwargs`` parameters are left out: a config or the
    command line can only pass named values.
    """
    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError):  # some builtins and C extensions have none
        return {}
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return {n: p.default for n, p in sig.parameters.items() if p.kind in kinds}


def _accepts_any_keyword(factory: Callable[..., Any]) -> bool:
    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return True
    return any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)


def _first_doc_line(obj: object) -> str:
    doc = (inspect.getdoc(obj) or "").strip()
    return doc.splitlines()[0] if doc else ""


def _key(name: str) -> str:
    """Look-up key: case and ``-``/``_`` do not matter (``Min-Variance`` = ``min_variance``)."""
    return name.lower().replace("-", "_")


@dataclass(frozen=True)
class Entry:
    """One registered name.

    Attributes
    ----------
    name : str
        The canonical name, as written in configs and on the command line.
    factory : callable
        Builds the object from keyword parameters (a class, a function, a preset).
    label : str
        Display label in result tables and reports (``"1/N"``, ``"Min-variance"``).
    kind : str
        Category (``"traditional"``, ``"ML-enhanced"``, ``"RL"``, ``"risk-adjusted"``...).
    description : str
        One line for ``allocgym list``.
    aliases : tuple of str
        Other accepted names (``"1/N"`` for ``equal_weight``).
    params : mapping, optional
        Parameter defaults to list instead of the factory's signature (an agent's
        hyperparameter defaults).
    """

    name: str
    factory: Callable[..., Any]
    label: str
    kind: str
    description: str
    aliases: tuple[str, ...] = ()
    params: Mapping[str, Any] | None = field(default=None, repr=False)

    def parameters(self) -> dict[str, Any]:
        """Parameter names and defaults (:data:`REQUIRED` where there is none)."""
        if self.params is not None:
            return dict(self.params)
        return factory_parameters(self.factory)


class Registry(Mapping[str, Callable[..., Any]]):
    """Names to factories for one kind of thing (baselines, agents, rewards).

    Parameters
    ----------
    what : str
        What is registered, singular (``"baseline"``): used in error messages.
    default_kind : str
        Kind of an entry registered without one.

    Examples
    --------
    >>> widgets = Registry("widget")
    >>> _ = widgets.register("box", dict, label="Box", description="A plain dict.")
    >>> widgets.create("box", size=2)
    {'size': 2}
    """

    def __init__(self, what: str, *, default_kind: str = "custom") -> None:
        self.what = what
        self.default_kind = default_kind
        self._entries: dict[str, Entry] = {}
        self._lookup: dict[str, str] = {}  # _key(name or alias) -> canonical name

    # ------------------------------------------------------------ Mapping
    def __getitem__(self, name: str) -> Callable[..., Any]:
        return self._entries[name].factory

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.what!r}: {list(self._entries)})"

    # ------------------------------------------------------------ registering
    def register(
        self,
        name: str,
        factory: Callable[..., Any] | None = None,
        *,
        label: str | None = None,
        kind: str | None = None,
        description: str | None = None,
        aliases: tuple[str, ...] = (),
        params: Mapping[str, Any] | None = None,
        overwrite: bool = False,
    ) -> Any:
        """Register ``factory`` under ``name``; without ``factory``, a decorator.

        ``label`` defaults to ``name``, ``kind`` to the registry's ``default_kind`` and
        ``description`` to the first line of the factory's docstring.

        Raises
        ------
        ValueError
            ``name`` or an alias is empty or already taken (and ``overwrite`` is False).
        TypeError
            ``factory`` is not callable.
        """
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"{self.what} name={name!r} is invalid; expected a non-empty str")

        def add(obj: Callable[..., Any]) -> Callable[..., Any]:
            if not callable(obj):
                raise TypeError(f"{self.what} {name!r} must be callable; got {type(obj).__name__}")
            if name in self._entries and not overwrite:
                raise ValueError(
                    f"a {self.what} named {name!r} is already registered; pass "
                    "overwrite=True to replace it"
                )
            clash = [n for n in (name, *aliases) if self._lookup.get(_key(n), name) != name]
            if clash:
                raise ValueError(
                    f"{self.what} name {clash[0]!r} is already taken by "
                    f"{self._lookup[_key(clash[0])]!r}"
                )
            self._forget(name)
            self._entries[name] = Entry(
                name=name,
                factory=obj,
                label=label or name,
                kind=kind or self.default_kind,
                description=description or _first_doc_line(obj),
                aliases=tuple(aliases),
                params=params,
            )
            for n in (name, *aliases):
                self._lookup[_key(n)] = name
            return obj

        return add if factory is None else add(factory)

    def _forget(self, name: str) -> None:
        old = self._entries.pop(name, None)
        for n in () if old is None else (old.name, *old.aliases):
            self._lookup.pop(_key(n), None)

    # ------------------------------------------------------------ looking up
    def find(self, name: str) -> str | None:
        """The canonical name for ``name`` (aliases, case, ``-``/``_``), or None."""
        if not isinstance(name, str):
            return None
        return name if name in self._entries else self._lookup.get(_key(name))

    def did_you_mean(self, name: Any) -> str:
        """`` (did you mean 'y'?)`` for the closest registered name, or ``""``."""
        close = difflib.get_close_matches(_key(str(name)), self._lookup, n=1)
        return f" (did you mean {self._lookup[close[0]]!r}?)" if close else ""

    def unknown_message(self, name: Any) -> str:
        """``unknown <what> 'x' (did you mean 'y'?); expected one of [...]``."""
        hint = self.did_you_mean(name)
        return f"unknown {self.what} {name!r}{hint}; expected one of {self.names()}"

    def resolve(self, name: str) -> str:
        """The canonical name for ``name``.

        Raises
        ------
        ConfigError
            Unknown name; the message lists the known names and the closest one.
        """
        found = self.find(name)
        if found is None:
            raise ConfigError(self.unknown_message(name))
        return found

    def entry(self, name: str) -> Entry:
        """The :class:`Entry` of ``name`` (resolved as in :meth:`resolve`)."""
        return self._entries[self.resolve(name)]

    def entries(self) -> list[Entry]:
        """Every entry, sorted by name."""
        return [self._entries[n] for n in self.names()]

    def names(self) -> list[str]:
        """The canonical names, sorted."""
        return sorted(self._entries)

    def describe(self) -> dict[str, str]:
        """Names and their one-line descriptions, sorted by name."""
        return {e.name: e.description for e in self.entries()}

    # ------------------------------------------------------------ building
    def check_params(self, name: str, params: Mapping[str, Any]) -> None:
        """Refuse parameter names the factory of ``name`` does not take.

        Raises
        ------
        ConfigError
            Unknown name, or unknown parameters (with did-you-mean and the accepted ones).
        """
        entry = self.entry(name)
        if _accepts_any_keyword(entry.factory):
            return
        accepted = factory_parameters(entry.factory)
        unknown = [str(k) for k in params if k not in accepted]
        if unknown:
            detail = ", ".join(
                f"{u!r}" + "".join(f" (did you mean {c!r}?)" for c in _close(u, accepted))
                for u in unknown
            )
            raise ConfigError(
                f"unknown parameter {detail} for {self.what} {entry.name!r}; accepted: "
                f"{sorted(accepted)}"
            )

    def create(self, name: str, /, **params: Any) -> Any:
        """Build ``name`` with ``params``, names checked first (see :meth:`check_params`).

        Invalid values raise the factory's own ``ValueError``/``TypeError``.
        """
        self.check_params(name, params)
        return self.entry(name).factory(**params)

    def create_with(self, name: str, /, shared: Mapping[str, Any]) -> Any:
        """Build ``name`` with those of the ``shared`` settings its factory takes.

        For settings that apply to some entries only (the command line's ``--lookback``
        means nothing to 1/N).
        """
        entry = self.entry(name)
        if _accepts_any_keyword(entry.factory):
            return entry.factory(**shared)
        accepted = factory_parameters(entry.factory)
        return entry.factory(**{k: v for k, v in shared.items() if k in accepted})


def _close(word: str, options: Mapping[str, Any]) -> list[str]:
    return difflib.get_close_matches(word, list(options), n=1)


def format_parameters(params: Mapping[str, Any]) -> str:
    """``name=default, ...`` (a parameter without a default shows its name only)."""
    return ", ".join(n if d is REQUIRED else f"{n}={d!r}" for n, d in params.items())


def format_listing(registry: Registry, width: int = 100) -> str:
    """A registry as text: one line per name (label, kind, description), then its parameters.

    What ``allocgym list`` prints.
    """
    entries = registry.entries()
    if not entries:
        return f"(no {registry.what} registered)"
    wn = max(len(e.name) for e in entries)
    wl = max(len(e.label) for e in entries)
    wk = max(len(e.kind) for e in entries)
    indent = " " * (wn + 2)
    lines = []
    for e in entries:
        also = f" (also: {', '.join(e.aliases)})" if e.aliases else ""
        description = e.description.replace("``", "")
        lines.append(f"{e.name:<{wn}}  {e.label:<{wl}}  {e.kind:<{wk}}  {description}{also}")
        params = format_parameters(e.parameters())
        lines += textwrap.wrap(
            params, width, initial_indent=indent, subsequent_indent=indent + "  ",
            break_long_words=False, break_on_hyphens=False,
        )  # fmt: skip
    return "\n".join(lines)
