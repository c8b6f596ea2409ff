"""Risk: historical stress windows, Monte Carlo scenarios, VaR/ES and their backtests."""

from allocgym.risk.scenario_risk import ScenarioRisk, evaluate_scenarios
from allocgym.risk.scenarios import ScenarioModel, Scenarios
from allocgym.risk.stress import (
    CRISIS_WINDOWS,
    StressTable,
    Window,
    historical_stress,
    latest_weights,
    load_windows,
    replay,
)
from allocgym.risk.stress_report import StressReport, run_stress, write_stress
from allocgym.risk.var import VAR_METHODS, VaRForecast, forecast_var
from allocgym.risk.var_backtest import (
    LRTest,
    acerbi_szekely_z2,
    backtest_var,
    christoffersen_test,
    conditional_coverage_test,
    kupiec_test,
    traffic_light,
    transition_counts,
    z2_test,
)
from allocgym.risk.var_config import VaRConfig
from allocgym.risk.var_report import plot_var_exceedances, var_backtest_table

__all__ = [
    "CRISIS_WINDOWS",
    "VAR_METHODS",
    "LRTest",
    "ScenarioModel",
    "ScenarioRisk",
    "Scenarios",
    "StressReport",
    "StressTable",
    "VaRConfig",
    "VaRForecast",
    "Window",
    "acerbi_szekely_z2",
    "backtest_var",
    "christoffersen_test",
    "conditional_coverage_test",
    "evaluate_scenarios",
    "forecast_var",
    "historical_stress",
    "kupiec_test",
    "latest_weights",
    "load_windows",
    "plot_var_exceedances",
    "replay",
    "run_stress",
    "traffic_light",
    "transition_counts",
    "var_backtest_table",
    "write_stress",
    "z2_test",
]
