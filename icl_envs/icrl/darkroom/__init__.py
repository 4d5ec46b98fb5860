"""Dark Room: :mod:`.generator` (the hidden goal), :mod:`.env`, :mod:`.vector_env`."""

from icl_envs.icrl.darkroom.env import DarkRoomBatch, DarkRoomEnv
from icl_envs.icrl.darkroom.generator import DarkRoomGenerator, DarkRoomTask
from icl_envs.icrl.darkroom.vector_env import DarkRoomVectorEnv

__all__ = ["DarkRoomBatch", "DarkRoomEnv", "DarkRoomGenerator", "DarkRoomTask", "DarkRoomVectorEnv"]
