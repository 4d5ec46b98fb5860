"""BanditVectorEnv: ``num_envs`` bandit trials stepped together with numpy."""

from __future__ import annotations

from icl_envs.icrl.bandit.env import BanditEnv
from icl_envs.icrl.trial import TrialVectorEnv


class BanditVectorEnv(TrialVectorEnv):
    """``num_envs`` :class:`~icl_envs.icrl.bandit.env.BanditEnv` trials (same arguments), stepped
    with numpy; the same numbers as ``SyncVectorEnv`` for the same seeds, NEXT_STEP autoreset."""

    single_env_class = BanditEnv
