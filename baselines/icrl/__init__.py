"""Learned in-context RL baselines: Algorithm Distillation and the Decision-Pretrained Transformer."""
