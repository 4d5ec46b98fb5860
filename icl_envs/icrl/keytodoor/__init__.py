"""Key-to-Door: :mod:`.generator` (the hidden key and door), :mod:`.env`, :mod:`.vector_env`."""

from icl_envs.icrl.keytodoor.env import KeyToDoorBatch, KeyToDoorEnv
from icl_envs.icrl.keytodoor.generator import KeyToDoorGenerator, KeyToDoorTask
from icl_envs.icrl.keytodoor.vector_env import KeyToDoorVectorEnv

__all__ = ["KeyToDoorBatch", "KeyToDoorEnv", "KeyToDoorGenerator", "KeyToDoorTask", "KeyToDoorVectorEnv"]
