"""Multi-query associative recall, Zoology's MQAR (``icl/AssociativeRecall-v0``)."""

from icl_envs.recall.env import AssociativeRecallEnv, recall_observation_space
from icl_envs.recall.generator import FILLERS, PLACEMENTS, RecallGenerator, RecallTask, gap_weights
from icl_envs.recall.vector_env import AssociativeRecallVectorEnv

__all__ = [
    "FILLERS",
    "PLACEMENTS",
    "AssociativeRecallEnv",
    "AssociativeRecallVectorEnv",
    "RecallGenerator",
    "RecallTask",
    "gap_weights",
    "recall_observation_space",
]
