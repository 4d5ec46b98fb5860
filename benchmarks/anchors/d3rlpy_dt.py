"""Peer cross-check: d3rlpy's DiscreteDecisionTransformer on the same dataset, model size and steps.

Run by hand, not in CI (d3rlpy 2.8.1 pins gymnasium 1.0.0, so it lives in its own venv: see
``d3rlpy-requirements.txt`` beside this file). Two stages, one per environment:

    # 1. in the project's venv: the dataset's episodes as arrays (symbolic components one-hot, which
    #    a linear embedding turns into the sum of per-component embeddings, as ours)
    python benchmarks/anchors/d3rlpy_dt.py export --dataset icl/numberline-symbolic/mixed-v0 --out /tmp/nl.npz
    # 2. in d3rlpy's venv: train for the same steps at the same size, time it, play it
    /tmp/d3rlpy-venv/bin/python benchmarks/anchors/d3rlpy_dt.py train --data /tmp/nl.npz --steps 2000 \\
        --out /tmp/d3rlpy_dt.json
    # ours, for the comparison (its tokens/s are in the run's metrics.jsonl):
    icl-bench train dt --dataset icl/numberline-symbolic/mixed-v0 --steps 2000 --out /tmp/ours-dt
    icl-bench evaluate --agent run:/tmp/ours-dt --suite core-v0 --no-store

Stage 2 writes the tokens/s of d3rlpy's training (3 tokens per step, as ours) and the mean return of
its greedy policy over the suite entry's dev seeds, conditioned on the dataset's best return. The
issue asks that ours score at least as well and train at 1.5× d3rlpy's tokens/s or more on CPU.
This script has not been run yet in this repository: no figure from it is quoted anywhere.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

#: The model size of the comparison: CORL's gym Decision Transformer (our defaults).
CONTEXT, LAYERS, WIDTH, HEADS, BATCH = 20, 3, 128, 1, 64


def one_hot(components: np.ndarray, sizes: list[int]) -> np.ndarray:
    """(T, C) integer components -> (T, sum(sizes)) float32 one-hot rows."""
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    rows = np.zeros((len(components), int(sum(sizes))), dtype=np.float32)
    rows[np.arange(len(components))[:, None], components + offsets] = 1.0
    return rows


def export(dataset_id: str, out: Path) -> None:
    """Stage 1 (project venv): flat arrays d3rlpy's ``MDPDataset`` takes, and the env to play."""
    from baselines.offline.observations import dataset_episodes, observation_shape
    from baselines.offline.train import load_dataset

    dataset = load_dataset(dataset_id)
    sizes, frames = observation_shape(dataset.observation_space)
    if frames is not None:
        raise SystemExit("export: symbolic datasets only (d3rlpy's vector encoder)")
    episodes = dataset_episodes(dataset)
    env_spec = dataset.spec.env_spec
    np.savez_compressed(
        out,
        observations=np.concatenate([one_hot(e.observations, sizes) for e in episodes]),
        actions=np.concatenate([e.actions for e in episodes]).astype(np.int64),
        rewards=np.concatenate([e.rewards for e in episodes]).astype(np.float32),
        terminals=np.concatenate([np.arange(len(e.actions)) == len(e.actions) - 1 for e in episodes]),
        sizes=np.asarray(sizes),
        best_return=max(e.rewards.sum() for e in episodes),
        max_length=max(len(e.actions) for e in episodes),
        env=json.dumps({"id": env_spec.id, "kwargs": dict(env_spec.kwargs)}),
    )
    print(f"wrote {out}: {len(episodes)} episodes")


def train(data_path: Path, steps: int, out: Path, episodes: int) -> None:
    """Stage 2 (d3rlpy venv): train, time, play."""
    import d3rlpy
    import gymnasium as gym

    data = np.load(data_path)
    dataset = d3rlpy.dataset.MDPDataset(
        observations=data["observations"],
        actions=data["actions"][:, None],
        rewards=data["rewards"][:, None],
        terminals=data["terminals"].astype(np.float32),
        action_space=d3rlpy.constants.ActionSpace.DISCRETE,
    )
    config = d3rlpy.algos.DiscreteDecisionTransformerConfig(
        batch_size=BATCH,
        context_size=CONTEXT,
        max_timestep=int(data["max_length"]) + 1,
        num_heads=HEADS,
        num_layers=LAYERS,
        encoder_factory=d3rlpy.models.VectorEncoderFactory(hidden_units=[WIDTH]),
    )
    algo = config.create(device="cpu:0")
    start = time.perf_counter()
    algo.fit(
        dataset, n_steps=steps, n_steps_per_epoch=steps, logger_adapter=d3rlpy.logging.NoopAdapterFactory()
    )
    seconds = time.perf_counter() - start
    tokens_per_s = steps * BATCH * CONTEXT * 3 / seconds

    import icl_envs  # noqa: F401  (registers the icl/ ids)

    env_spec = json.loads(str(data["env"]))
    sizes = [int(n) for n in data["sizes"]]
    env = gym.make(env_spec["id"], **env_spec["kwargs"])
    returns = []
    for seed in (10_000, 20_000, 30_000, 40_000, 50_000):  # the suite's dev seeds, one episode each
        for episode in range(episodes):
            actor = algo.as_stateful_wrapper(target_return=float(data["best_return"]))
            obs, _ = env.reset(seed=seed + episode)
            reward, total, done = 0.0, 0.0, False
            while not done:
                components = (
                    np.asarray([obs[key] for key in obs]) if isinstance(obs, dict) else np.asarray(obs)
                )
                action = actor.predict(one_hot(components.reshape(1, -1), sizes)[0], reward)
                obs, reward, terminated, truncated, _ = env.step(int(action))
                total += reward
                done = terminated or truncated
            returns.append(total)
    result = {
        "d3rlpy": d3rlpy.__version__,
        "steps": steps,
        "batch": BATCH,
        "context": CONTEXT,
        "layers": LAYERS,
        "width": WIDTH,
        "train_seconds": seconds,
        "tokens_per_s": tokens_per_s,
        "mean_return": float(np.mean(returns)),
        "episodes": len(returns),
    }
    out.write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    stages = parser.add_subparsers(dest="stage", required=True)
    export_parser = stages.add_parser("export", help="project venv: the dataset as arrays")
    export_parser.add_argument("--dataset", required=True)
    export_parser.add_argument("--out", type=Path, required=True)
    train_parser = stages.add_parser("train", help="d3rlpy venv: train, time and play d3rlpy's DT")
    train_parser.add_argument("--data", type=Path, required=True)
    train_parser.add_argument("--steps", type=int, default=2000)
    train_parser.add_argument("--episodes", type=int, default=200, help="episodes per dev seed")
    train_parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.stage == "export":
        export(args.dataset, args.out)
    else:
        train(args.data, args.steps, args.out, args.episodes)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    main()
