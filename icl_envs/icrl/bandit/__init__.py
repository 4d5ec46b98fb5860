"""The K-armed bandit of in-context RL: :mod:`.generator` (tasks), :mod:`.env`, :mod:`.vector_env`."""

from icl_envs.icrl.bandit.env import BanditBatch, BanditEnv
from icl_envs.icrl.bandit.generator import BanditGenerator, BanditTask
from icl_envs.icrl.bandit.vector_env import BanditVectorEnv

__all__ = ["BanditBatch", "BanditEnv", "BanditGenerator", "BanditTask", "BanditVectorEnv"]
