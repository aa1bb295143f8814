"""Cognitive tasks that networks are trained on (import the submodules)."""
