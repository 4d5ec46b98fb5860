"""Baselines: agents that act on icl-envs, from exact solvers to in-context transformers."""
