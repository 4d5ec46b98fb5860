"""A Blackjack table for several players against one dealer, as a PettingZoo environment.

## Description
``num_players`` agents (``"player_0"``, ``"player_1"``, ...) each play their own hand against one
shared dealer with Gymnasium's Blackjack-v1 rules (infinite deck: every card is drawn uniformly from
the 13 ranks, J/Q/K count 10; the dealer stands on 17 and more, soft 17 included). Players act in
seat order in the AEC version (``env()``): a player hits until they stand or bust, then the next
player acts. In the parallel version (``parallel_env()``) every player with a live hand acts at
each step. Once every hand has stood or busted, the dealer turns the hole card and draws (only if
some player stood, as at a casino table; it changes no reward) and the round is settled.

Every random draw happens at ``reset``: each seat and the dealer get their own pre-dealt stream of
cards (22 cards, more than any hand can hold), so a seat's cards do not depend on what the other
players do, and the AEC and parallel versions deal the same cards for the same seed.

## Action Space
``Discrete(2)`` per agent: 0 stand, 1 hit.

## Observation Space
``Dict(observation=Box(0, [31, 10, 1], (3,), int64), action_mask=Box(0, 1, (2,), int8))``.
``observation`` is Gymnasium's Blackjack triple ``(player_sum, dealer_card, usable_ace)`` for the
agent's own hand and the dealer's up card (1 is an ace), so single-player agents play the table
unchanged; with an infinite deck the other hands carry no information about the next card.
``action_mask`` is ``[1, 1]`` while the agent's hand is live and ``[1, 0]`` once it stood or
busted: standing is then a no-op while the agent waits for the dealer. In the parallel version the
actions of finished hands are ignored.

## Rewards
As single-player Blackjack: -1 at the step a hand busts; when the round is settled, +1 for beating
the dealer, 0 for a push, -1 for losing; with ``natural=True`` a winning natural pays +1.5; with
``sab=True`` a natural beats any dealer hand but a natural.

## Starting State
Each player and the dealer hold two cards; the dealer's second (hole) card is face down.

## Episode End
All agents terminate together when the round is settled. There is no truncation: a hand holds at
most 22 cards.

## Arguments
``num_players=3`` (1..7, the seats of a casino table), ``natural=False``, ``sab=False``,
``render_mode=None | "rgb_array" | "human"``, ``image_size=400`` (the square frame's side in pixels,
150..2000; every card and label fits for any number of players). ``natural`` and ``sab`` take
True or False only (not 1 or 0, as every flag of the package). ``reset`` ignores its options (a
deal cannot be chosen): unlike the Gymnasium envs of the package, which refuse unknown keys, a
PettingZoo env must accept any, since PettingZoo's API test resets with ``{"options": 1}``.

## Version History
v0: initial version.

## Layout
One folder, as PettingZoo's games: :mod:`.game` (the deal and the round's state), :mod:`.viewer`
(the frame), :mod:`.base` (arguments, spaces, seeding, rendering), :mod:`.aec` (``env``,
``raw_env``) and :mod:`.parallel` (``parallel_env``). ``icl_envs.multi.blackjack_table_v0`` is the
versioned name users import.
"""

from icl_envs.multi.blackjack_table.aec import env, raw_env
from icl_envs.multi.blackjack_table.parallel import BlackjackTableParallelEnv, parallel_env

__all__ = ["BlackjackTableParallelEnv", "env", "parallel_env", "raw_env"]
