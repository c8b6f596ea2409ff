"""allocgym.predictors (see SPEC.md)."""
