"""DarkRoomVectorEnv: ``num_envs`` Dark Room trials stepped together with numpy."""

from __future__ import annotations

from icl_envs.icrl.darkroom.env import DarkRoomEnv
from icl_envs.icrl.trial import TrialVectorEnv


class DarkRoomVectorEnv(TrialVectorEnv):
    """``num_envs`` :class:`~icl_envs.icrl.darkroom.env.DarkRoomEnv` trials (same arguments), stepped
    with numpy; the same numbers as ``SyncVectorEnv`` for the same seeds, NEXT_STEP autoreset."""

    single_env_class = DarkRoomEnv
