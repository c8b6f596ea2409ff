"""allocgym.agents (see SPEC.md)."""
