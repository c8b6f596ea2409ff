"""Overlays: wrappers around any :class:`~allocgym.policy.Policy` (RL agents included).

An overlay asks the wrapped policy for its target at every close and decides whether,
when and how far to trade towards it, from point-in-time data only:

- :class:`DynamicRebalancing`: trade when the filtered HMM regime changes (and persists),
  the GARCH portfolio-volatility forecast crosses a threshold, the target moves, or a
  calendar fallback says so;
- :class:`CostAwareRebalancing`: trade only when the mean–variance utility gain beats the
  exact transaction cost of the environment's cost model (optionally part of the way);
- :class:`ToleranceBands`: trade an asset (or the book) only when it leaves its band;
- :class:`VolatilityTarget`: scale the risky weights to a forecast volatility target, the
  rest in cash; :func:`risk_profile` and :data:`RISK_PROFILES` are its presets.

:data:`OVERLAYS` holds them by name for configs (``overlays:`` under a baseline) and
:func:`apply_overlays` wraps a policy with a list of them. See ``docs/overlays.md``.
"""

from allocgym.overlays._base import Overlay
from allocgym.overlays.bands import ToleranceBands, band_trade
from allocgym.overlays.cost_aware import CostAwareRebalancing, best_fraction, move_value
from allocgym.overlays.dynamic import TRIGGERS, DynamicRebalancing
from allocgym.overlays.registry import OVERLAYS, apply_overlays, overlay_label, parse_overlay
from allocgym.overlays.vol_target import RISK_PROFILES, VolatilityTarget, risk_profile

__all__ = [
    "OVERLAYS",
    "RISK_PROFILES",
    "TRIGGERS",
    "CostAwareRebalancing",
    "DynamicRebalancing",
    "Overlay",
    "ToleranceBands",
    "VolatilityTarget",
    "apply_overlays",
    "band_trade",
    "best_fraction",
    "move_value",
    "overlay_label",
    "parse_overlay",
    "risk_profile",
]
