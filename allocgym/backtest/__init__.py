"""allocgym.backtest (see SPEC.md)."""
