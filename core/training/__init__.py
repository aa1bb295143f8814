"""Training: BPTT, online rules and feed-forward spiking stacks (import the submodules)."""
