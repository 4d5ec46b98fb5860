"""In-context policy evaluation: Markov reward processes with features (``icl/MRPValue-v0``)."""

from icl_envs.mrp.env import MRPValueEnv, episode_arrays
from icl_envs.mrp.generators import MRPTask, MRPTasks, stack_tasks, stationary_distribution
from icl_envs.mrp.vector_env import MRPValueVectorEnv

__all__ = [
    "MRPTask",
    "MRPTasks",
    "MRPValueEnv",
    "MRPValueVectorEnv",
    "episode_arrays",
    "stack_tasks",
    "stationary_distribution",
]
