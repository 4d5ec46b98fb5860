"""What the AEC and the parallel table share: arguments, spaces, seeding, the deal and rendering."""

from __future__ import annotations

import gymnasium
import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding

from icl_envs.checks import check_bool, check_choice, check_int
from icl_envs.multi.blackjack_table.game import MAX_PLAYERS, BlackjackTable, TableDeal
from icl_envs.multi.blackjack_table.viewer import RENDER_FPS, TableRenderer, rules_line

RENDER_MODES = ("human", "rgb_array")
METADATA = {
    "name": "blackjack_table_v0",
    "render_modes": list(RENDER_MODES),
    "render_fps": RENDER_FPS,
    "is_parallelizable": False,
}


def _observation_space() -> spaces.Dict:
    return spaces.Dict(
        {
            # A Box rather than MultiDiscrete([32, 11, 2]): PettingZoo's API test expects Box/Discrete.
            "observation": spaces.Box(low=0, high=np.array([31, 10, 1]), shape=(3,), dtype=np.int64),
            "action_mask": spaces.Box(0, 1, shape=(2,), dtype=np.int8),
        }
    )


class TableEnvBase:
    """Arguments, spaces, seeding and rendering shared by the AEC and the parallel table.

    The arguments are the table's manual's (``num_players``, ``natural``, ``sab``, ``render_mode``,
    ``image_size``); a subclass adds ``reset`` and ``step`` of its API, and ``_current_seat()`` if
    it has a seat to outline in the frame.
    """

    metadata = METADATA

    def __init__(
        self,
        num_players: int = 3,
        natural: bool = False,
        sab: bool = False,
        render_mode: str | None = None,
        image_size: int = 400,
    ):
        super().__init__()
        self.num_players = check_int("num_players", num_players, minimum=1, maximum=MAX_PLAYERS)
        self.natural = check_bool("natural", natural)
        self.sab = check_bool("sab", sab)
        self.render_mode = check_choice("render_mode", render_mode, (None, *RENDER_MODES))
        self.image_size = check_int("image_size", image_size, minimum=150, maximum=2000)
        self.possible_agents = [f"player_{i}" for i in range(self.num_players)]
        self.agents: list[str] = []  # no round until reset
        self.seats = {agent: i for i, agent in enumerate(self.possible_agents)}
        # One space object per agent, created once: PettingZoo requires the same object on every call.
        self.observation_spaces = {agent: _observation_space() for agent in self.possible_agents}
        self.action_spaces = {agent: spaces.Discrete(2) for agent in self.possible_agents}
        self.np_random, _ = seeding.np_random(None)
        self.table: BlackjackTable | None = None
        self.renderer: TableRenderer | None = None

    def observation_space(self, agent):
        return self.observation_spaces[agent]

    def action_space(self, agent):
        return self.action_spaces[agent]

    def _deal(self, seed: int | None) -> None:
        if seed is not None:
            self.np_random, _ = seeding.np_random(seed)
        self.table = BlackjackTable(
            TableDeal.sample(self.np_random, self.num_players), natural=self.natural, sab=self.sab
        )

    def _current_seat(self) -> int | None:
        return None

    def render(self):
        if self.render_mode is None:
            gymnasium.logger.warn(
                "render() was called without a render_mode; pass render_mode='rgb_array' or 'human'."
            )
            return None
        if self.table is None:
            raise gymnasium.error.ResetNeeded("call reset() before render()")
        if self.renderer is None:
            self.renderer = TableRenderer(
                self.num_players, self.image_size, rules_line(self.natural, self.sab)
            )
        return self.renderer.render(self.table, self._current_seat(), self.render_mode)

    def close(self) -> None:
        if self.renderer is not None:
            self.renderer.close()
