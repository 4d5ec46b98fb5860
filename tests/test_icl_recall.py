"""Models of baselines/icl on MQAR: a tiny softmax model learns it on CPU, its run folder plays the
env as an agent, and the kernel mixers run (the fla path against the torch one is in test_icl_gpu)."""

from __future__ import annotations

import time

import gymnasium as gym
import numpy as np
import pytest
import torch

import icl_envs  # noqa: F401  (registers the ids)
from baselines.icl.agent import RecallRunAgent, load_run_agent
from baselines.icl.models import ModelConfig, RecallModel
from baselines.icl.samplers import PromptConfig
from baselines.icl.train import TrainConfig, load_model, make_sampler, recall_accuracy, train

TASK = {"task": "icl-mqar", "vocab_size": 64, "num_pairs": 4, "seq_len": 32}


def tiny(kind: str, out, steps: int = 250) -> TrainConfig:
    return TrainConfig(
        prompts=PromptConfig(**TASK),
        model=ModelConfig(kind=kind, layers=2, width=32, heads=2, feature_dim=8),
        steps=steps,
        batch_size=64,
        lr=3e-3,
        lr_final=3e-4,
        warmup_steps=20,
        out=str(out),
        progress=False,
    )


def test_a_tiny_softmax_model_learns_mqar_with_4_pairs_within_a_minute(tmp_path):
    torch.set_num_threads(1)
    # CPU seconds of this process, not wall time: on a shared machine (CI runners, a loaded dev box)
    # the wall clock also counts other jobs' time; one torch thread, so CPU time is the work done.
    start = time.process_time()
    folder = train(tiny("softmax", tmp_path / "run"))
    elapsed = time.process_time() - start
    model, config = load_model(folder)
    accuracy = recall_accuracy(model, make_sampler(config.prompts), batch_size=1024)
    assert accuracy > 0.9 and elapsed < 60, (accuracy, elapsed)

    # The run folder is an agent of the env: its accuracy there is the sampler's, within noise.
    agent = load_run_agent(folder)
    assert isinstance(agent, RecallRunAgent)
    kwargs = {key: TASK[key] for key in ("vocab_size", "num_pairs", "seq_len")}
    agent.reset("icl/AssociativeRecall-v0", kwargs)
    envs = gym.make_vec("icl/AssociativeRecall-v0", 256, **kwargs)
    obs, _ = envs.reset(seed=0)
    rewards = []
    for _ in range(4):
        obs, reward, *_ = envs.step(agent.act_batch(obs))
        rewards.append(reward)
    assert np.mean(rewards) > 0.85
    single = gym.make("icl/AssociativeRecall-v0", **kwargs)
    obs, _ = single.reset(seed=0)
    assert agent.act(obs) == agent.act_batch({k: np.asarray(v)[None] for k, v in obs.items()})[0]
    with pytest.raises(ValueError, match="vocab_size=64"):
        agent.reset("icl/AssociativeRecall-v0", {"vocab_size": 128})
    with pytest.raises(ValueError, match="seq_len=64"):
        agent.reset("icl/AssociativeRecall-v0", {"seq_len": 64})


@pytest.mark.parametrize("mixer", ["rebased", "based", "linear"])
def test_kernel_mixers_are_causal_and_read_the_query_at_length(mixer):
    torch.manual_seed(0)
    model = RecallModel(64, 32, 2, mixer=mixer, width=16, heads=2, feature_dim=4).eval()
    tokens = torch.randint(0, 64, (3, 32))
    changed = tokens.clone()
    changed[:, 20:] = torch.randint(0, 64, (3, 12))  # the future must not change logits at 19
    positions = torch.tensor([[19]] * 3)
    assert torch.allclose(
        model.forward_all(tokens, positions), model.forward_all(changed, positions), atol=1e-5
    )
    length = torch.tensor([19, 19, 19])
    logits = model(tokens, length, tokens[:, 19])
    assert torch.allclose(logits, model.forward_all(tokens, positions)[:, 0], atol=1e-5)


def test_bad_mqar_configs_are_named():
    with pytest.raises(ValueError, match="seq_len must be >= 4 \\* num_pairs = 32"):
        TrainConfig(prompts=PromptConfig(task="icl-mqar", num_pairs=8, seq_len=31)).prompts.validate()
    with pytest.raises(ValueError, match="placement must be one of"):
        PromptConfig(task="icl-mqar", placement="zipf").validate()
