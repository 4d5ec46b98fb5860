"""AssociativeRecallEnv: recall the value of each queried key from the key-value pairs in context."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.error import ResetNeeded

from icl_envs.bounds import EpisodeBounds
from icl_envs.checks import check_choice, check_discrete_action, check_reset_options, describe
from icl_envs.recall.generator import DEFAULT_POWER_A, RecallGenerator, RecallTask, check_recall_task


def recall_observation_space(vocab_size: int, seq_len: int) -> spaces.Dict:
    """``Dict(tokens=Box(0, V-1, (seq_len,), int64), length=Discrete(seq_len+1), query=Discrete(V))``.

    The tokens are a ``Box`` of integers rather than ``MultiDiscrete``: RL libraries one-hot encode
    ``MultiDiscrete`` observations, which would make ``seq_len * vocab_size`` inputs (half a million
    at the defaults)."""
    return spaces.Dict(
        {
            "tokens": spaces.Box(0, vocab_size - 1, shape=(seq_len,), dtype=np.int64),
            "length": spaces.Discrete(seq_len + 1),
            "query": spaces.Discrete(vocab_size),
        }
    )


def check_recall_generator(generator: Any) -> None:
    if not callable(getattr(generator, "sample", None)):
        raise ValueError(
            f"generator must have a sample(rng) method returning a RecallTask, got {describe(generator)}"
        )


class AssociativeRecallEnv(gym.Env[dict, np.int64]):
    """Multi-query associative recall (MQAR): answer each queried key with its value from context.

    ## Description
    Each episode is a fresh sequence of Zoology's MQAR (Arora et al. 2023): ``num_pairs`` key-value
    pairs ``k_1 v_1 ... k_D v_D`` over a vocabulary of ``vocab_size`` tokens (keys from the lower
    half, values from the upper), then every key asked once at a later position, with filler
    between (see ``icl_envs/recall/generator.py`` for the exact distribution). At step t the agent
    sees the tokens before the t-th query and the queried key, and names the key's value. A lookup
    table over the pairs in context answers every query; a model must do the same in context.

    ## Action Space
    ``Discrete(vocab_size)``: the predicted value token.

    ## Observation Space
    ``Dict(tokens=Box(0, vocab_size-1, (seq_len,), int64), length=Discrete(seq_len+1),
    query=Discrete(vocab_size))``: ``tokens[:length]`` are the sequence before the queried key
    (pairs, earlier queries, filler), entries from ``length`` on are 0; ``query`` is the key asked
    (it stands at position ``length`` of the sequence). The final observation shows the whole
    sequence (``length = seq_len``) and ``query = 0``.

    ## Rewards
    1 for the right value, 0 otherwise. ``info["answer"]`` holds the right value in the info of the
    step that scored it, never earlier.

    ## Starting State
    A sequence drawn from the generator with ``self.np_random``; the first query.

    ## Episode End
    Terminates after ``num_pairs`` queries (every key asked once); never truncates.

    ## Arguments
        vocab_size: tokens 0..vocab_size-1, 4..2^20 (Zoology's 8192 by default); keys come from
            1..vocab_size//2-1 and values from vocab_size//2..vocab_size-1.
        num_pairs: key-value pairs (= queries) per sequence, 1..vocab_size//2-1 (default 8).
        seq_len: tokens per sequence, 4..65536, at least 4 * num_pairs (default 64).
        placement: "power_law" (query slot g with weight (g+1)^(power_a-1), Zoology's default) or
            "uniform".
        power_a: the exponent a of "power_law", in (0, 1] (default 0.01; 1 is uniform).
        filler: "random" (filler tokens uniform over the vocabulary, Zoology's default) or "zero".
        generator: any object with ``sample(rng) -> RecallTask``; when given it defines the sequences
            (its tasks are checked against the sizes above at every episode).
        render_mode: only ``None`` (no rendering).
    A bad argument raises ``ValueError`` naming it; ``reset`` takes no options (any key is refused).

    ## Vector env
    ``gym.make_vec(id, num_envs)`` builds the native numpy vector env of ``vector_env.py`` (next-step
    autoreset); it gives the same numbers as ``SyncVectorEnv`` over this env for the same seeds.
    ``num_envs`` <= 65536, and all sub-envs' sequences together must fit in about 1 GiB.

    ## Version History
    - v0: initial version.
    """

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(
        self,
        vocab_size: int = 8192,
        num_pairs: int = 8,
        seq_len: int = 64,
        placement: str = "power_law",
        power_a: float = DEFAULT_POWER_A,
        filler: str = "random",
        generator: Any = None,
        render_mode: str | None = None,
    ):
        own = RecallGenerator(vocab_size, num_pairs, seq_len, placement, power_a, filler)
        if generator is not None:
            check_recall_generator(generator)
        self.generator = own if generator is None else generator
        self.vocab_size, self.num_pairs, self.seq_len = own.vocab_size, own.num_pairs, own.seq_len
        self.render_mode = check_choice("render_mode", render_mode, (None,))
        self.observation_space = recall_observation_space(self.vocab_size, self.seq_len)
        self.action_space = spaces.Discrete(self.vocab_size)
        self.task: RecallTask | None = None
        self._t = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        check_reset_options(options, (), "a sequence cannot be chosen at reset: pass generator= to the env")
        super().reset(seed=seed)
        task = self.generator.sample(self.np_random)
        if not isinstance(self.generator, RecallGenerator):
            check_recall_task(task, self.generator, self.vocab_size, self.num_pairs, self.seq_len)
        self.task, self._t = task, 0
        return self._observation(), {}

    def step(self, action: Any):
        if self.task is None or self._t >= self.num_pairs:
            raise ResetNeeded("call reset() before step(): the episode has ended (or never started)")
        action = check_discrete_action(action, self.vocab_size)
        answer = int(self.task.answers[self._t])
        self._t += 1
        reward = 1.0 if action == answer else 0.0
        return self._observation(), reward, self._t == self.num_pairs, False, {"answer": answer}

    def _observation(self) -> dict[str, Any]:
        if self._t < self.num_pairs:
            length = int(self.task.query_positions[self._t])
            query = self.task.tokens[length]
        else:
            length, query = self.seq_len, 0
        tokens = np.zeros(self.seq_len, dtype=np.int64)
        tokens[:length] = self.task.tokens[:length]
        return {"tokens": tokens, "length": np.int64(length), "query": np.int64(query)}

    def episode_bounds(self) -> EpisodeBounds:
        """Exactly ``num_pairs`` steps paying 0 or 1: a return from 0 to ``num_pairs``."""
        d = self.num_pairs
        return EpisodeBounds(0.0, float(d), d, d, step_rewards=(0.0, 1.0))
