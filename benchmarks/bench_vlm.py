"""The VLM agent's speed on CPU (issue 13): rollouts and PPO updates against the naive way.

- **Rollout**: env steps per second, generation included, of the trainer's rollout step (one
  batched answer with the KV cache for all ``NUM_ENVS`` envs of the vector env, then one vector
  step) against the same model through :func:`baselines.vlm.generate.generate_naive` (one env at a
  time, the whole sequence run again for every token), then a vector step of ``NAIVE_ENVS`` envs (its
  cost per env does not depend on the number of envs, so it plays fewer to keep the run short). Both
  are greedy (tests/test_vlm.py checks that the two loops write the same answers).
- **PPO update**: tokens per second (image, prompt and answer tokens of every sample) of the
  trainer's :func:`baselines.vlm.train.ppo_update` (a minibatch left-padded into one batch: one
  forward and backward per minibatch) against the same update one sample at a time (a forward and
  backward per sample, gradients accumulated to the same minibatch loss, the same optimizer steps).
  The anchor is the unbatched update because batching is what our update adds to the loss itself;
  there are no fused kernels on CPU to compare against.

A tiny model (width 64, 2 layers), one torch thread. ``python -m benchmarks.bench_vlm`` runs both and
writes ``docs/data/vlm_speed_cpu.json`` (the figures docs/baselines/vlm.md quotes, :func:`quotes`).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from baselines.vlm.agent import Policy
from baselines.vlm.generate import collate, generate_naive, right_pad, score
from baselines.vlm.model import VLM, ModelConfig
from baselines.vlm.ppo import ppo_loss
from baselines.vlm.tasks import numberline_corpus
from baselines.vlm.tokenizer import TextCodec, train_tokenizer
from baselines.vlm.train import PPOConfig, Run, TrainConfig, make_vector_env, ppo_update, rollout
from benchmarks.ratio import speed_ratio

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "docs" / "data" / "vlm_speed_cpu.json"
NUM_ENVS = 16
NAIVE_ENVS = 4
TINY = ModelConfig(image_size=16, channels=4, image_tokens_side=2, width=64, layers=2, heads=2, max_tokens=96)
CONFIG = TrainConfig(
    progress=False,
    thoughts=False,
    short_prompt=True,
    max_new_tokens=24,
    model=TINY,
    ppo=PPOConfig(num_envs=NUM_ENVS, rollout_steps=2, epochs=1, minibatch_size=16),
)


@pytest.fixture
def tiny_run(tmp_path, one_torch_thread):
    """A run of a random tiny model (its answers are unreadable: every env plays a random legal action)."""
    torch.manual_seed(0)
    codec = TextCodec(train_tokenizer(numberline_corpus(), 300))
    model = VLM(TINY, codec.vocab_size).eval()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    state = {"sft_steps": 0, "ppo_iterations": 0, "elapsed_s": 0.0}
    run = Run(tmp_path, CONFIG, torch.device("cpu"), model, codec, optimizer, state, 0, 1)
    policy = Policy(
        model, codec, CONFIG.env, CONFIG.state_in_prompt, CONFIG.max_new_tokens, CONFIG.short_prompt
    )
    return run, policy


def test_rollout_speed(benchmark, tiny_run):
    run, policy = tiny_run
    # The naive loop's cost per env does not depend on how many envs there are: it plays fewer.
    envs = {
        n: make_vector_env(replace(CONFIG, ppo=replace(CONFIG.ppo, num_envs=n)), 0)
        for n in (NUM_ENVS, NAIVE_ENVS)
    }
    obs = {n: env.reset(seed=0)[0] for n, env in envs.items()}

    def batched() -> None:
        _, _, texts = policy.answer(obs[NUM_ENVS], temperature=0.0)
        obs[NUM_ENVS] = envs[NUM_ENVS].step(texts)[0]

    def naive() -> None:
        answers = generate_naive(run.model, run.codec, policy.inputs(obs[NAIVE_ENVS]), CONFIG.max_new_tokens)
        obs[NAIVE_ENVS] = envs[NAIVE_ENVS].step([run.codec.decode(a) for a in answers])[0]

    ratio = speed_ratio(
        benchmark, batched, naive, ours_work=NUM_ENVS, anchor_work=NAIVE_ENVS, rounds=3, label="rollout"
    )
    for env in envs.values():
        env.close()
    assert ratio > 1.0


def test_ppo_update_speed(benchmark, tiny_run):
    run, policy = tiny_run
    env = make_vector_env(CONFIG, seed=0)
    samples, *_ = rollout(run, policy, env, env.reset(seed=0)[0], torch.Generator().manual_seed(0))
    env.close()
    advantages = np.random.default_rng(0).normal(size=len(samples))
    returns = np.random.default_rng(1).normal(size=len(samples))
    tokens = sum(run.model.image_tokens + len(s["prompt"]) + len(s["answer"]) for s in samples)
    generator = torch.Generator().manual_seed(0)
    ratio = speed_ratio(
        benchmark,
        lambda: ppo_update(run, samples, advantages, returns, generator),
        lambda: _ppo_update_one_at_a_time(run, samples, advantages, returns),
        ours_work=tokens,
        anchor_work=tokens,
        rounds=3,
        label="PPO update",
    )
    assert ratio > 1.0


def _ppo_update_one_at_a_time(run: Run, samples, advantages, returns) -> None:
    """The update of :func:`ppo_update` with a forward and backward per sample (no padding, no batch)."""
    config, model, codec = run.config, run.model, run.codec
    advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    model.train()
    for start in range(0, len(samples), config.ppo.minibatch_size):
        rows = list(range(start, min(start + config.ppo.minibatch_size, len(samples))))
        run.optimizer.zero_grad(set_to_none=True)
        for r in rows:
            s = samples[r]
            batch = collate(model, codec, s["image"][None], [s["prompt"]])
            answers, mask = right_pad([s["answer"]], codec.pad_id)
            token_logp, value = score(model, batch, answers, mask)
            loss, _ = ppo_loss(
                (token_logp * s["weights"][None]).sum(1),
                torch.tensor([s["old_logp"]]),
                torch.tensor([advantages[r]], dtype=torch.float32),
                value,
                torch.tensor([returns[r]], dtype=torch.float32),
                config.ppo.clip,
                config.ppo.value_coef,
            )
            (loss / len(rows)).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        run.optimizer.step()
    model.eval()


def quotes(measured: dict) -> list[str]:
    """The lines docs/baselines/vlm.md quotes from ``docs/data/vlm_speed_cpu.json``."""
    roll, update = measured["rollout"], measured["ppo_update"]
    load = measured["provenance"]["machine"]["load_average_1_5_15_min"][0]
    return [
        f"| rollout (env steps/s, generation included) | {roll['ours_per_s']:.1f} | {roll['anchor_per_s']:.1f} "
        f"| {roll['ratio']:.1f}× |",
        f"| PPO update (tokens/s) | {update['ours_per_s']:,.0f} | {update['anchor_per_s']:,.0f} | {update['ratio']:.1f}× |",
        f"{measured['provenance']['machine']['cpu_count']} CPU cores at a load average of {load}",
    ]


def main() -> None:
    import json

    from benchmarks import data_record

    started = data_record.provenance("benchmarks/bench_vlm.py", ["python", "-m", "benchmarks.bench_vlm"])
    with tempfile.TemporaryDirectory() as folder:
        raw = Path(folder) / "bench.json"
        command = [sys.executable, "-m", "pytest", __file__, "-q", "-p", "no:cacheprovider"]
        subprocess.run([*command, f"--benchmark-json={raw}"], cwd=ROOT, check=True)
        benches = {b["name"]: b["extra_info"] for b in json.loads(raw.read_text())["benchmarks"]}
    measured = {
        "num_envs": NUM_ENVS,
        "naive_envs": NAIVE_ENVS,
        "model": "width 64, 2 layers, 4 image tokens, answers of up to 24 tokens",
        "rollout": benches["test_rollout_speed"],
        "ppo_update": benches["test_ppo_update_speed"],
    }
    data_record.write(OUTPUT, started, measured)
    print(f"wrote {OUTPUT.relative_to(ROOT)}", *quotes(data_record.read(OUTPUT)), sep="\n")


if __name__ == "__main__":
    main()
