"""The turn-based (AEC) table: seats act in order, each until it stands or busts."""

from __future__ import annotations

import numpy as np
from pettingzoo import AECEnv
from pettingzoo.utils import wrappers

from icl_envs.checks import check_discrete_action
from icl_envs.multi.blackjack_table.base import TableEnvBase


def env(**kwargs) -> AECEnv:
    """The AEC table, wrapped as PettingZoo recommends.

    Only ``OrderEnforcingWrapper`` is used: the raw env validates actions itself and raises
    ``gymnasium.error.InvalidAction`` naming the allowed values, where ``AssertOutOfBoundsWrapper``
    would raise a bare ``AssertionError`` (and vanish under ``python -O``).
    """
    return wrappers.OrderEnforcingWrapper(raw_env(**kwargs))


class raw_env(TableEnvBase, AECEnv):  # noqa: N801 (PettingZoo's naming for the unwrapped AEC env)
    """Turn-based table: seats act in order, each until it stands or busts. See the table's manual (``icl_envs.multi.blackjack_table``)."""

    def reset(self, seed: int | None = None, options: dict | None = None) -> None:
        self._deal(seed)
        self.agents = self.possible_agents[:]
        self.rewards = dict.fromkeys(self.agents, 0.0)
        self._cumulative_rewards = dict.fromkeys(self.agents, 0.0)
        self.terminations = dict.fromkeys(self.agents, False)
        self.truncations = dict.fromkeys(self.agents, False)
        self.infos = {agent: self.table.info(self.seats[agent]) for agent in self.agents}
        self.agent_selection = self.agents[0]
        if self.render_mode == "human":
            self.render()

    def observe(self, agent: str) -> dict[str, np.ndarray]:
        return self.table.observation(self.seats[agent])

    def _current_seat(self) -> int | None:
        if self.table is None or self.table.settled:
            return None
        return self.seats[self.agent_selection]

    def step(self, action) -> None:
        agent = self.agent_selection
        if self.terminations[agent] or self.truncations[agent]:
            self._was_dead_step(action)
            return
        action = check_discrete_action(action, 2)
        seat = self.seats[agent]
        self._cumulative_rewards[agent] = 0.0
        self.rewards = dict.fromkeys(self.agents, 0.0)
        self.rewards[agent] = self.table.act(seat, action)
        if self.table.is_live(seat):
            pass  # the same seat acts again
        elif (next_seat := self._next_live_seat(seat)) is not None:
            self.agent_selection = self.possible_agents[next_seat]
        else:
            for other, reward in zip(self.possible_agents, self.table.settle()):
                self.rewards[other] += reward
            self.terminations = dict.fromkeys(self.agents, True)
            self.agent_selection = self.agents[0]
        self.infos = {other: self.table.info(self.seats[other]) for other in self.agents}
        self._accumulate_rewards()
        if self.render_mode == "human":
            self.render()

    def _next_live_seat(self, seat: int) -> int | None:
        return next((s for s in range(seat + 1, self.num_players) if self.table.is_live(s)), None)
