"""Offline RL baselines on the suite's games: datasets and the models trained on them."""
