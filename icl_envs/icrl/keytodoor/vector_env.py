"""KeyToDoorVectorEnv: ``num_envs`` Key-to-Door trials stepped together with numpy."""

from __future__ import annotations

from icl_envs.icrl.keytodoor.env import KeyToDoorEnv
from icl_envs.icrl.trial import TrialVectorEnv


class KeyToDoorVectorEnv(TrialVectorEnv):
    """``num_envs`` :class:`~icl_envs.icrl.keytodoor.env.KeyToDoorEnv` trials (same arguments),
    stepped with numpy; the same numbers as ``SyncVectorEnv`` for the same seeds, NEXT_STEP autoreset."""

    single_env_class = KeyToDoorEnv
