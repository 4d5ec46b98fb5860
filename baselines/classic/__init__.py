"""Exact and classic solvers: regression and TD estimators computed from the context, game solvers."""
