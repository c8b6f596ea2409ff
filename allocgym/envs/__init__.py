"""allocgym.envs (see SPEC.md)."""
