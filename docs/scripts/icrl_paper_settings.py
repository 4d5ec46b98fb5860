"""The classic references of the in-context RL page in the papers' own settings, so that the
papers' curves can be read against numbers measured here.

- Lee et al. 2023 (Decision-Pretrained Transformer), online bandit: 5 arms, means uniform in [0, 1],
  Gaussian reward noise of standard deviation 0.3, 500 pulls (their public run_bandit.sh:
  ``--dim 5 --var 0.3 --H 500``, envs/bandit_env.py). Here: icl/Bandit-v0 with reward="gaussian",
  noise_std=0.3, horizon=500 and a generator drawing the means uniformly; the cumulative expected
  regret sum_t (max mean - mean of the arm pulled) of each classic agent.
- Lee et al. 2023, Dark Room: 10 x 10, 100 steps, every episode from the corner (their
  run_darkroom.sh and envs/darkroom_env.py); Laskin et al. 2022 (Algorithm Distillation): 9 x 9, 20
  steps from the centre (the icrl-v0 entry). Here: the mean return per sub-episode of the oracle
  (exact), the sweep explorer, the in-trial Q-learner and the random policy over 10 sub-episodes.

Writes docs/data/icrl_paper_settings.json and prints the table docs/envs/icrl.md quotes (``table``;
tests/test_docs_figures.py checks the page against the file).

    python docs/scripts/icrl_paper_settings.py [--trials 500]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT)]  # run as a plain script, with or without the package installed

import gymnasium as gym  # noqa: E402

import icl_envs  # noqa: E402, F401
from baselines.classic.bandits import UCB1, EpsilonGreedy, ThompsonSampling  # noqa: E402
from baselines.classic.random_agent import RandomAgent  # noqa: E402
from baselines.classic.rooms import QLearner, SweepExplorer, oracle_return  # noqa: E402
from benchmarks import data_record  # noqa: E402
from icl_envs.icrl.bandit import BanditTask  # noqa: E402
from leaderboard.harness import play_entry  # noqa: E402
from leaderboard.protocol import SuiteEntry  # noqa: E402

DATA = ROOT / "docs" / "data" / "icrl_paper_settings.json"
SEED = 778_000  # tasks no training run of the page saw
DPT_BANDIT = {"arms": 5, "horizon": 500, "reward": "gaussian", "noise_std": 0.3}
ROOMS = {
    "Dark Room of Laskin et al. 2022 (9 × 9, 20 steps, centre start)": {"size": 9, "horizon": 20},
    "Dark Room of Lee et al. 2023 (10 × 10, 100 steps, corner start)": {
        "size": 10,
        "horizon": 100,
        "start": "corner",
    },
}
EPISODES = 10
BANDIT_AGENTS = {
    "random": RandomAgent,
    "UCB1": UCB1,
    "Thompson": ThompsonSampling,
    "ε-greedy": EpsilonGreedy,
}
ROOM_AGENTS = {"random": RandomAgent, "sweep explorer": SweepExplorer, "Q-learner": QLearner}


class UniformMeans:
    """DPT's bandit tasks: means uniform in [0, 1], standard normal noise (the env scales it)."""

    def __init__(self, arms: int, horizon: int):
        self.arms, self.horizon = arms, horizon

    def sample(self, np_random):
        return BanditTask(np_random.random(self.arms), np_random.standard_normal(self.horizon))


def bandit_regret(agent, trials: int) -> dict:
    """Cumulative expected regret after every pull, mean and standard error over ``trials`` tasks."""
    generator = UniformMeans(DPT_BANDIT["arms"], DPT_BANDIT["horizon"])
    env = gym.make_vec("icl/Bandit-v0", trials, generator=generator, **DPT_BANDIT)
    agent.reset("icl/Bandit-v0", DPT_BANDIT)
    obs, _ = env.reset(seed=SEED)
    means = env.unwrapped.batch.means.copy()
    best = means.max(axis=1)
    regret = np.zeros((trials, DPT_BANDIT["horizon"]))
    for t in range(DPT_BANDIT["horizon"]):
        actions = agent.act_batch(obs)
        regret[:, t] = best - means[np.arange(trials), actions]
        obs, *_ = env.step(actions)
    total = regret.cumsum(axis=1)
    return {
        "at": {str(t): float(total[:, t - 1].mean()) for t in (100, 250, 500)},
        "stderr_500": float(total[:, -1].std(ddof=1) / np.sqrt(trials)),
    }


def room_returns(agent, kwargs: dict, trials: int) -> list[float]:
    """Mean return of each sub-episode over ``trials`` tasks, played by the leaderboard's harness."""
    entry = SuiteEntry("icl/DarkRoom-v0", {**kwargs, "episodes_per_trial": EPISODES}, trials, (SEED,))
    return play_entry(agent, entry, agent_name=type(agent).__name__).returns_by_episode.tolist()


def measure(trials: int) -> dict:
    bandit = {name: bandit_regret(agent(), trials) for name, agent in BANDIT_AGENTS.items()}
    rooms = {}
    for label, kwargs in ROOMS.items():
        oracle = oracle_return("icl/DarkRoom-v0", episodes_per_trial=EPISODES, **kwargs) / EPISODES
        rooms[label] = {
            "kwargs": kwargs,
            "oracle_per_episode": oracle,
            "methods": {name: room_returns(agent(), kwargs, trials) for name, agent in ROOM_AGENTS.items()},
        }
    return {"trials": trials, "seed": SEED, "bandit": DPT_BANDIT, "bandit_regret": bandit, "rooms": rooms}


def table(data: dict) -> str:
    """The page's two tables, from the data file."""
    lines = [
        "| DPT's bandit (5 arms, σ = 0.3) | regret after 100 pulls | after 250 | after 500 ± SE |",
        "|---|---|---|---|",
    ]
    for name, regret in data["bandit_regret"].items():
        at = regret["at"]
        lines.append(
            f"| {name} | {at['100']:.1f} | {at['250']:.1f} | {at['500']:.1f} ± {regret['stderr_500']:.1f} |"
        )
    lines += [
        "",
        "| room | method | sub-episode 1 | sub-episode 2 | sub-episode 10 |",
        "|---|---|---|---|---|",
    ]
    for label, room in data["rooms"].items():
        for name, curve in room["methods"].items():
            lines.append(f"| {label} | {name} | {curve[0]:.2f} | {curve[1]:.2f} | {curve[-1]:.2f} |")
        oracle = room["oracle_per_episode"]
        lines.append(f"| {label} | oracle (exact) | {oracle:.2f} | {oracle:.2f} | {oracle:.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=500)
    args = parser.parse_args()
    started = data_record.provenance("docs/scripts/icrl_paper_settings.py")
    data = measure(args.trials)
    data_record.write(DATA, started, data)
    print(table(data))


if __name__ == "__main__":
    main()
