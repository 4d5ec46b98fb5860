"""In-context policy evaluation: Markov reward processes with features (``icl/MRPValue-v0``)."""

from icl_envs.mrp.env import MRPValueEnv
from icl_envs.mrp.generators import MRPTask, MRPTasks, stationary_distribution
from icl_envs.mrp.vector_env import MRPValueVectorEnv

__all__ = ["MRPTask", "MRPTasks", "MRPValueEnv", "MRPValueVectorEnv", "stationary_distribution"]
