"""What a VLM run writes wrong: its answers on fresh episodes, each answer field against the truth.

    python docs/scripts/vlm_misreads.py --work /work/vc-runs --runs numberline-sft-read400-sft800-seed2

Plays each run folder greedily on ``--episodes`` episodes of its game (seeds from 10,000, none of
``vl-v0``'s), the env's text protocol reading each action (an unreadable answer: a random legal
action), and counts, per answer field, how often the written value differs from the expert's and
which (true -> written) confusions those are. Writes ``docs/data/vlm_misreads.json``; the results
page (``docs/baselines/vlm.md``) quotes it.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from baselines.vlm.tasks import Expert, answer_fields, game_env  # noqa: E402
from baselines.vlm.train import load_config, load_policy  # noqa: E402
from benchmarks import data_record  # noqa: E402
from icl_envs.cards.text_protocol import parse_action  # noqa: E402

OUTPUT = ROOT / "docs" / "data" / "vlm_misreads.json"
FIRST_SEED = 10_000


def misreads(folder: Path, episodes: int) -> dict:
    env_id = load_config(folder).env
    policy, env, expert = load_policy(folder), game_env(env_id), Expert(env_id)
    game, fallback = env.unwrapped, np.random.default_rng(0)
    answers, wins, wrong, confusions = 0, 0, Counter(), {}
    for episode in range(episodes):
        obs, _ = env.reset(seed=FIRST_SEED + episode)
        done, episode_return = False, 0.0
        while not done:
            truth = expert.act(game)[1]
            batch = {k: [v] if k == "text" else np.asarray(v)[None] for k, v in obs.items()}
            text = policy.answer(batch, temperature=0.0)[2][0]
            written = answer_fields(text) or {}
            answers += 1
            for name, value in truth.items():
                if written.get(name) != value:
                    wrong[name] += 1
                    confusions.setdefault(name, Counter())[f"{value} -> {written.get(name)}"] += 1
            action = parse_action(text, game.action_strings, fallback)[0]
            obs, reward, terminated, truncated, _ = env.step(int(action))
            episode_return += reward
            done = terminated or truncated
        wins += episode_return > 0
    env.close()
    return {
        "env": env_id,
        "episodes": episodes,
        "first_seed": FIRST_SEED,
        "wins": wins,
        "answers": answers,
        "wrong": dict(wrong),
        "confusions": {name: dict(c.most_common()) for name, c in confusions.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", required=True, help="comma-separated run folder names under --work")
    parser.add_argument("--work", type=Path, required=True, help="where the run folders are")
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--out", type=Path, default=OUTPUT)
    args = parser.parse_args()
    torch.set_num_threads(1)
    data_record.record_runs(
        args.out,
        "docs/scripts/vlm_misreads.py",
        args.work,
        args.runs,
        lambda folder: misreads(folder, args.episodes),
    )


if __name__ == "__main__":
    main()
