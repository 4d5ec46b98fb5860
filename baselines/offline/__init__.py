"""Offline datasets of the games (Minari) and the return-conditioned models trained on them."""
