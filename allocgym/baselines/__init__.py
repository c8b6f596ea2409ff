"""allocgym.baselines (see SPEC.md)."""
