"""Leaderboard: the suite protocol, the evaluation harness, scoring, results store and the CLI.

Importing this package is cheap: heavy modules (SQLAlchemy, scipy, matplotlib) load on use.
"""
