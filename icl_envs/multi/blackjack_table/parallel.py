"""The simultaneous (parallel) table: every live hand acts at each step."""

from __future__ import annotations

import gymnasium
from pettingzoo import ParallelEnv

from icl_envs.checks import check_discrete_action
from icl_envs.multi.blackjack_table.base import TableEnvBase


def parallel_env(**kwargs) -> ParallelEnv:
    """The table with simultaneous actions of every live hand."""
    return BlackjackTableParallelEnv(**kwargs)


class BlackjackTableParallelEnv(TableEnvBase, ParallelEnv):
    """Simultaneous table: every live hand acts at each step. See the table's manual (``icl_envs.multi.blackjack_table``)."""

    def reset(self, seed: int | None = None, options: dict | None = None):
        self._deal(seed)
        self.agents = self.possible_agents[:]
        if self.render_mode == "human":
            self.render()
        return self._observations(), self._infos()

    def _observations(self):
        return {
            agent: self.table.observation(self.seats[agent])
            for agent in self.possible_agents
            if agent in self.agents
        }

    def _infos(self):
        return {agent: self.table.info(self.seats[agent]) for agent in self.agents}

    def step(self, actions: dict):
        if self.table is None or not self.agents:
            raise gymnasium.error.ResetNeeded(
                "the round is over (or never started): call reset() before step()"
            )
        if not isinstance(actions, dict):
            raise gymnasium.error.InvalidAction(
                f"actions must be a dict from agent name to action, got {type(actions).__name__}"
            )
        unknown = set(actions) - set(self.agents)
        if unknown:
            raise gymnasium.error.InvalidAction(
                f"actions name agents not at the table: {sorted(unknown)}; agents are {self.agents}"
            )
        rewards = dict.fromkeys(self.agents, 0.0)
        # Validate every live hand's action before applying any, so a bad dict changes nothing.
        live = [agent for agent in self.agents if self.table.is_live(self.seats[agent])]
        missing = [agent for agent in live if agent not in actions]
        if missing:
            raise gymnasium.error.InvalidAction(f"every live hand must act; no action for {missing}")
        chosen = {agent: check_discrete_action(actions[agent], 2) for agent in live}
        for agent, action in chosen.items():
            rewards[agent] = self.table.act(self.seats[agent], action)
        done = self.table.all_done
        if done:
            for agent, reward in zip(self.possible_agents, self.table.settle()):
                rewards[agent] += reward
        observations = self._observations()
        infos = self._infos()
        terminations = dict.fromkeys(self.agents, done)
        truncations = dict.fromkeys(self.agents, False)
        if done:
            self.agents = []
        if self.render_mode == "human":
            self.render()
        return observations, rewards, terminations, truncations, infos
