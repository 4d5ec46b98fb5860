"""The one base of every native vector env: per-env generators, seeded and masked ``reset``.

Each native vector env must give the numbers ``SyncVectorEnv`` gives over its single env for the
same seeds. That rests on three rules, which live here and nowhere else:

- env ``i`` has its own ``np.random.Generator``; ``reset(seed=s)`` gives it the seed ``s + i`` (a
  list gives each env its own seed, None keeps the streams going), as ``SyncVectorEnv`` seeds its
  copies; until the first seeded reset the generators start from fresh entropy;
- ``reset(options={"reset_mask": mask})`` resets only the envs ``mask`` marks, the others keep their
  episode and their pending autoreset; the first reset must reset every env (``ResetNeeded``), and
  any other option key is refused, since a vector env has no per-env task options;
- autoreset is ``NEXT_STEP``: ``needs_reset[i]`` is set when env ``i``'s episode ends and the next
  ``step`` starts its new task instead of stepping it (its action is ignored, reward 0).

A subclass calls ``_setup_vector(num_envs, single_observation_space, single_action_space)`` in its
``__init__``, or ``_setup_from_single_env(num_envs, kwargs)``: that builds one single env of
``single_env_class`` from the vector env's kwargs and returns it, so the single env's argument
checks, spaces and generator serve the vector env too and nothing is checked twice. It implements
``_new_tasks(envs)`` (draw a new task for each env index in ``envs`` from ``self.rngs[i]`` and
start its episode) and ``_observation()``. It may override ``_reseeded(i)`` (drop what it drew
ahead from env ``i``'s old generator), ``_reset_info(mask)`` (the info ``reset`` returns; empty by
default), ``reset_hint`` (what to do instead of passing other reset options) and
``_bytes_per_env(template)`` (what one sub-env's arrays take: ``num_envs`` is bounded by
``MAX_NUM_ENVS`` and by the sub-envs' arrays together fitting in ``MAX_ENV_BYTES``, about 1 GiB).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.error import ResetNeeded
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from icl_envs.checks import (
    MAX_ENV_BYTES,
    MAX_NUM_ENVS,
    check_int,
    check_memory,
    check_reset_options,
    describe,
    vector_reset_mask,
    vector_seeds,
)

#: What one sub-env's random generator and bookkeeping take (measured: about 2.5 kB), rounded up.
GENERATOR_BYTES = 4096


class SeededVectorEnv(VectorEnv):
    """A numpy vector env whose env ``i`` draws its tasks from its own seeded generator."""

    metadata: dict[str, Any] = {"render_modes": [], "autoreset_mode": AutoresetMode.NEXT_STEP}
    #: Appended to the error for a reset option other than ``reset_mask``.
    reset_hint = "reset a single env (gym.make) to set its task"

    #: The single env this vector env batches (for ``_setup_from_single_env``).
    single_env_class: type[gym.Env]
    rngs: list[np.random.Generator]
    needs_reset: np.ndarray
    _started: bool

    def _setup_vector(
        self, num_envs: Any, single_observation_space: spaces.Space, single_action_space: spaces.Space
    ) -> None:
        """Check ``num_envs``, set the spaces, and give every env an unseeded generator."""
        self.num_envs = check_int("num_envs", num_envs, minimum=1, maximum=MAX_NUM_ENVS)
        self.single_observation_space = single_observation_space
        self.single_action_space = single_action_space
        self.observation_space = batch_space(single_observation_space, self.num_envs)
        self.action_space = batch_space(single_action_space, self.num_envs)
        self.rngs = [seeding.np_random()[0] for _ in range(self.num_envs)]
        self.needs_reset = np.zeros(self.num_envs, dtype=bool)
        self._started = False

    def _setup_from_single_env(self, num_envs: Any, kwargs: dict[str, Any]) -> gym.Env:
        """``_setup_vector`` with the spaces of one ``single_env_class(**kwargs)``, which is returned:
        the vector env takes its validated arguments and generator from it instead of checking its
        kwargs a second time. ``render_mode`` must be one of this vector env's own render modes.
        The sub-envs' arrays together must fit in ``MAX_ENV_BYTES`` (see ``_bytes_per_env``): that
        is checked here, before anything of size ``num_envs`` is allocated."""
        num_envs = check_int("num_envs", num_envs, minimum=1, maximum=MAX_NUM_ENVS)  # named first
        kwargs = dict(kwargs)
        render_mode = kwargs.pop("render_mode", None)
        template = self.single_env_class(**kwargs)
        allowed = [None, *self.metadata["render_modes"]]
        if render_mode not in allowed:
            no_rendering = "" if len(allowed) > 1 else " (no rendering)"
            raise ValueError(
                f"render_mode must be {' or '.join(map(repr, allowed))} for the vector env{no_rendering}, "
                f"got {describe(render_mode)}"
            )
        self.render_mode = render_mode
        per_env = GENERATOR_BYTES + self._bytes_per_env(template)
        check_memory(
            num_envs * per_env,
            f"num_envs={num_envs} (at most {MAX_ENV_BYTES // per_env} with these arguments)",
        )
        self._setup_vector(num_envs, template.observation_space, template.action_space)
        return template

    def _bytes_per_env(self, template: gym.Env) -> int:
        """About how many bytes one sub-env's arrays take (beyond its generator), for the memory check
        of ``_setup_from_single_env``; ``template`` is the validated single env."""
        return 0

    # -- what a subclass supplies ---------------------------------------------------------------
    def _new_tasks(self, envs: np.ndarray) -> None:  # pragma: no cover - every env overrides
        raise NotImplementedError

    def _observation(self) -> Any:  # pragma: no cover - every env overrides
        raise NotImplementedError

    def _reseeded(self, i: int) -> None:
        """Env ``i`` got a new generator: forget anything drawn ahead from the old one."""

    def _reset_info(self, mask: np.ndarray) -> dict[str, Any]:
        """The info of ``reset``; ``mask`` marks the envs that were reset."""
        return {}

    # -- the Gymnasium API ----------------------------------------------------------------------
    def reset(self, *, seed: int | Sequence[int | None] | None = None, options: dict[str, Any] | None = None):
        seeds = vector_seeds(seed, self.num_envs)
        options = check_reset_options(
            options, ("reset_mask",), f"a vector env takes no task options: {self.reset_hint}"
        )
        mask = vector_reset_mask(options, self.num_envs)
        if mask is None:
            mask = np.ones(self.num_envs, dtype=bool)
        elif not self._started and not mask.all():
            raise ResetNeeded("the first reset must reset every env (no reset_mask)")
        envs = np.flatnonzero(mask)
        for i in envs:
            if seeds[i] is not None:
                self.rngs[i] = seeding.np_random(seeds[i])[0]
                self._reseeded(int(i))
        if seeds[0] is not None:
            self._np_random, self._np_random_seed = seeding.np_random(seeds[0])
        self._new_tasks(envs)
        self.needs_reset[envs] = False
        self._started = True
        return self._observation(), self._reset_info(mask)

    def _check_started(self) -> None:
        """``step`` and ``render`` call this first."""
        if not self._started:
            raise ResetNeeded("call reset() before step()")
