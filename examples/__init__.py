"""Worked examples of apps gated by the harness (see README, "Gate your own app")."""
