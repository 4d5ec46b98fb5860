"""AssociativeRecallVectorEnv: ``num_envs`` MQAR envs stepped together with numpy."""

from __future__ import annotations

from typing import Any

import numpy as np

from icl_envs.checks import check_discrete_actions
from icl_envs.recall.env import AssociativeRecallEnv
from icl_envs.recall.generator import RecallGenerator, check_recall_task
from icl_envs.vector_base import SeededVectorEnv


class AssociativeRecallVectorEnv(SeededVectorEnv):
    """``num_envs`` copies of :class:`~icl_envs.recall.env.AssociativeRecallEnv` stepped as arrays.

    Takes the single env's arguments. Env ``i`` draws its sequences from its own generator (seeded
    with ``seed + i`` by ``reset(seed=seed)``) exactly as the single env draws them, so the numbers
    equal ``SyncVectorEnv`` over the single env. Every episode lasts ``num_pairs`` steps; autoreset
    is NEXT_STEP: the step after an episode ends starts the next one (action ignored, reward 0).
    """

    single_env_class = AssociativeRecallEnv
    reset_hint = "pass generator= to the env to choose the sequences"

    def __init__(self, num_envs: int, **kwargs: Any):
        template = self._setup_from_single_env(num_envs, kwargs)
        self.generator = template.generator
        self.vocab_size, self.num_pairs, self.seq_len = (
            template.vocab_size,
            template.num_pairs,
            template.seq_len,
        )
        count = self.num_envs
        self._tokens = np.zeros((count, self.seq_len), dtype=np.int64)
        self._positions = np.zeros((count, self.num_pairs), dtype=np.int64)
        self._answers = np.zeros((count, self.num_pairs), dtype=np.int64)
        self._t = np.zeros(count, dtype=np.int64)
        self._all = np.arange(count)
        self._columns = np.arange(self.seq_len)

    def _bytes_per_env(self, template: AssociativeRecallEnv) -> int:
        """The sequence, its queries and answers, and an observation's copy of the tokens (int64)."""
        return 8 * (2 * template.seq_len + 2 * template.num_pairs)

    def _new_tasks(self, envs: np.ndarray) -> None:
        own = isinstance(self.generator, RecallGenerator)
        for i in envs:
            task = self.generator.sample(self.rngs[i])
            if not own:  # as the single env checks a plugged-in generator's tasks
                check_recall_task(task, self.generator, self.vocab_size, self.num_pairs, self.seq_len)
            self._tokens[i], self._positions[i], self._answers[i] = (
                task.tokens,
                task.query_positions,
                task.answers,
            )
        self._t[envs] = 0

    def step(self, actions: Any):
        self._check_started()
        actions = check_discrete_actions(actions, self.num_envs, self.vocab_size)
        stepping = ~self.needs_reset
        envs = np.flatnonzero(stepping)
        answers = self._answers[envs, self._t[envs]]
        rewards = np.zeros(self.num_envs)
        rewards[envs] = (actions[envs] == answers).astype(np.float64)
        self._t[envs] += 1
        terminated = np.zeros(self.num_envs, dtype=bool)
        terminated[envs] = self._t[envs] == self.num_pairs
        self._new_tasks(np.flatnonzero(self.needs_reset))
        self.needs_reset = terminated
        # As SyncVectorEnv aggregates the single envs' infos: an "answer" array and its "_answer"
        # mask, absent when no env stepped (every env was reset).
        info: dict[str, Any] = {}
        if len(envs):
            answer_info = np.zeros(self.num_envs, dtype=np.int64)
            answer_info[envs] = answers
            info = {"answer": answer_info, "_answer": stepping}
        return self._observation(), rewards, terminated.copy(), np.zeros(self.num_envs, dtype=bool), info

    def _observation(self) -> dict[str, np.ndarray]:
        asking = self._t < self.num_pairs
        step = np.minimum(self._t, self.num_pairs - 1)
        length = np.where(asking, self._positions[self._all, step], self.seq_len)
        query = np.where(asking, self._tokens[self._all, np.minimum(length, self.seq_len - 1)], 0)
        tokens = np.where(self._columns < length[:, None], self._tokens, 0)
        return {"tokens": tokens, "length": length, "query": query}
