"""The overlays by name: what ``overlays: [{name: ..., params: {...}}]`` in a config accepts.

Each factory takes the policy to wrap first, then keyword parameters:
``OVERLAYS.create("vol_target", policy=EqualWeight(), target=0.10)``. A config lists
overlays under a baseline, innermost first; :func:`apply_overlays` wraps a policy with
such a list and :func:`overlay_label` names the result (``"1/N + vol target"``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from allocgym.exceptions import ConfigError
from allocgym.overlays.bands import ToleranceBands
from allocgym.overlays.cost_aware import CostAwareRebalancing
from allocgym.overlays.dynamic import DynamicRebalancing
from allocgym.overlays.vol_target import RISK_PROFILES, VolatilityTarget, profile_factory
from allocgym.policy import Policy
from allocgym.registry import Registry

__all__ = ["OVERLAYS", "OverlaySpec", "apply_overlays", "overlay_label", "parse_overlay"]

OverlaySpec = str | Mapping[str, Any]
"""A name, or ``{name: NAME, params: {...}}`` (``label`` optional)."""

OVERLAYS = Registry("overlay", default_kind="overlay")
OVERLAYS.register(
    "dynamic",
    DynamicRebalancing,
    label="dynamic",
    kind="rebalancing",
    description="Rebalance on a regime change, a volatility crossing, a target move or a "
    "calendar fallback; hold otherwise",
)
OVERLAYS.register(
    "cost_aware",
    CostAwareRebalancing,
    label="cost-aware",
    kind="rebalancing",
    description="Trade (all or the best part of the way) only when the mean-variance gain "
    "beats the exact transaction cost",
)
OVERLAYS.register(
    "bands",
    ToleranceBands,
    label="bands",
    kind="rebalancing",
    description="Rebalance an asset (or the book) only when it drifts out of an absolute or "
    "relative band",
)
OVERLAYS.register(
    "vol_target",
    VolatilityTarget,
    label="vol target",
    kind="risk",
    description="Scale risky weights to a GARCH-forecast volatility target, the rest in cash "
    "(regime-dependent target, no leverage)",
)
for _profile, _target in RISK_PROFILES.items():
    OVERLAYS.register(
        _profile,
        profile_factory(_profile),
        label=_profile,
        kind="risk profile",
        description=f"Risk profile: vol_target with target {_target:.0%}",
    )

_SPEC_KEYS = ("name", "params", "label")


def parse_overlay(spec: Any, where: str = "overlay") -> tuple[str, dict[str, Any], str]:
    """``(canonical name, params, label)`` of a spec; ConfigError naming ``where``."""
    if isinstance(spec, str):
        spec = {"name": spec}
    if not isinstance(spec, Mapping):
        raise ConfigError(
            f"{where}: {spec!r} is invalid; expected a name or {{name: ..., params: {{...}}}}"
        )
    unknown = [k for k in spec if k not in _SPEC_KEYS]
    if unknown:
        raise ConfigError(f"{where}.{unknown[0]}: unknown key; allowed keys: {list(_SPEC_KEYS)}")
    if "name" not in spec:
        raise ConfigError(f"{where}: has no name; expected one of {OVERLAYS.names()}")
    found = OVERLAYS.find(spec["name"])
    if found is None:
        raise ConfigError(f"{where}.name: {OVERLAYS.unknown_message(spec['name'])}")
    params = spec.get("params") or {}
    if not isinstance(params, Mapping):
        raise ConfigError(f"{where}.params: {params!r} is invalid; expected a mapping")
    if "policy" in params:
        raise ConfigError(f"{where}.params.policy: the wrapped policy is the baseline itself")
    label = spec.get("label") or OVERLAYS.entry(found).label
    return found, dict(params), str(label)


def apply_overlays(policy: Policy, specs: Sequence[OverlaySpec], where: str = "overlays") -> Policy:
    """``policy`` wrapped by each overlay of ``specs`` in turn (the first is innermost).

    Raises
    ------
    ConfigError
        Unknown name, key or parameter, or a value the overlay refuses; the message
        names ``where[i]``, the parameter and the value.
    """
    if isinstance(specs, str | Mapping):
        specs = [specs]
    for i, spec in enumerate(specs):
        name, params, _ = parse_overlay(spec, f"{where}[{i}]")
        try:
            OVERLAYS.check_params(name, params)
        except ConfigError as exc:
            raise ConfigError(f"{where}[{i}].params: {exc}") from None
        try:
            policy = OVERLAYS[name](policy, **params)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"{where}[{i}].params: {exc}") from None
    return policy


def overlay_label(base: str, specs: Sequence[OverlaySpec]) -> str:
    """``"1/N + vol target"``: ``base`` followed by the label of each overlay.

    An invalid spec shows as written (the config check reports it).
    """
    if isinstance(specs, str | Mapping):
        specs = [specs]
    parts = [base]
    for spec in specs:
        try:
            parts.append(parse_overlay(spec)[2])
        except ConfigError:
            parts.append(str(spec.get("name") if isinstance(spec, Mapping) else spec))
    return " + ".join(parts)
