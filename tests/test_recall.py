"""icl/AssociativeRecall-v0 (Zoology's MQAR): the generator's facts, the episode, the classic
references, bad arguments, and the torch sampler against the env's distribution."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from baselines.classic.recall import ChanceAgent, LookupTableAgent, lookup_answers, recall_chance_return
from baselines.icl.samplers import RecallSampler
from icl_envs.recall import AssociativeRecallEnv, RecallGenerator, RecallTask, gap_weights
from leaderboard.references import reference_for

SMALL = {"vocab_size": 64, "num_pairs": 4, "seq_len": 32}


def test_generator_lays_out_pairs_then_queries():
    generator = RecallGenerator(**SMALL)
    rng = np.random.default_rng(0)
    for _ in range(200):
        task = generator.sample(rng)
        keys, values = task.tokens[0:8:2], task.tokens[1:8:2]
        assert len(set(keys)) == 4 and len(set(values)) == 4
        assert keys.min() >= 1 and keys.max() <= 31 and values.min() >= 32 and values.max() <= 63
        positions = task.query_positions
        assert np.all(np.diff(positions) > 0) and np.all(positions >= 8) and np.all(positions % 2 == 0)
        pairs = dict(zip(keys, values))
        assert sorted(task.tokens[positions]) == sorted(keys)  # every key asked once
        assert [pairs[k] for k in task.tokens[positions]] == list(task.answers)
        assert np.array_equal(
            lookup_answers(np.tile(task.tokens, (4, 1)), positions, task.tokens[positions]), task.answers
        )


def test_power_law_places_queries_near_the_pairs_and_uniform_does_not():
    weights = gap_weights(100, "power_law", 0.01)
    assert weights[0] / weights[99] == pytest.approx(100**0.99) and gap_weights(100, "uniform", 0.01) is None
    rng = np.random.default_rng(1)
    first = {}
    for placement in ("power_law", "uniform"):
        generator = RecallGenerator(vocab_size=64, num_pairs=2, seq_len=104, placement=placement)
        first[placement] = np.mean([generator.sample(rng).query_positions[0] for _ in range(2000)])
    assert first["power_law"] < 30 < first["uniform"]  # slots 0..49 at positions 4 + 2g


def test_episode_observations_rewards_and_info():
    env = gym.make("icl/AssociativeRecall-v0", **SMALL)
    lookup = LookupTableAgent()
    for seed in range(5):
        obs, info = env.reset(seed=seed)
        assert info == {}
        task = env.unwrapped.task
        for t in range(4):
            length = int(obs["length"])
            assert length == task.query_positions[t] and obs["query"] == task.tokens[length]
            assert (
                np.array_equal(obs["tokens"][:length], task.tokens[:length])
                and not obs["tokens"][length:].any()
            )
            wrong = (int(task.answers[t]) + 1 - 32) % 32 + 32
            action = lookup.act(obs) if t % 2 == 0 else wrong
            obs, reward, terminated, truncated, info = env.step(action)
            assert info == {"answer": task.answers[t]} and reward == (1.0 if t % 2 == 0 else 0.0)
            assert terminated == (t == 3) and not truncated
        assert int(obs["length"]) == 32 and np.array_equal(obs["tokens"], task.tokens)


def test_lookup_table_is_always_right_and_chance_is_one_over_the_values():
    envs = gym.make_vec("icl/AssociativeRecall-v0", 256, vocab_size=16, num_pairs=3, seq_len=16)
    lookup, chance = LookupTableAgent(), ChanceAgent(seed=0)
    chance.reset("icl/AssociativeRecall-v0", {"vocab_size": 16})
    for agent, expected in ((lookup, 1.0), (chance, recall_chance_return(16, 3)[0] / 3)):
        obs, _ = envs.reset(seed=0)
        rewards = []
        for _ in range(3):
            obs, reward, *_ = envs.step(agent.act_batch(obs))
            rewards.append(reward)
        mean = np.mean(rewards)
        assert mean == expected if agent is lookup else abs(mean - expected) < 4 * np.sqrt(expected / 768)
    assert recall_chance_return(16, 3) == (3 / 8, 0.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"vocab_size": 3}, "vocab_size must be >= 4"),
        ({"vocab_size": 8, "num_pairs": 4}, r"num_pairs must be <= vocab_size // 2 - 1 = 3"),
        ({"num_pairs": 8, "seq_len": 31}, r"seq_len must be >= 4 \* num_pairs = 32"),
        ({"placement": "zipf"}, "placement must be one of 'power_law', 'uniform'"),
        ({"power_a": 0.0}, "power_a must be > 0"),
        ({"power_a": 1.5}, "power_a must be <= 1.0"),
        ({"filler": "noise"}, "filler must be one of 'random', 'zero'"),
        ({"seq_len": "64"}, "seq_len must be an integer"),
        ({"generator": object()}, "generator must have a sample"),
        ({"render_mode": "human"}, "render_mode must be"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        AssociativeRecallEnv(**kwargs)
    with pytest.raises(ValueError, match=message):
        gym.make_vec("icl/AssociativeRecall-v0", 2, **kwargs)


def test_a_plugged_in_generator_is_used_and_its_bad_tasks_refused():
    class Fixed:
        def __init__(self, tokens):
            self.tokens = np.asarray(tokens)

        def sample(self, rng):
            return RecallTask(self.tokens, np.array([4]), np.array([5]))

    env = AssociativeRecallEnv(
        vocab_size=8, num_pairs=1, seq_len=8, generator=Fixed([1, 5, 0, 0, 1, 0, 0, 0])
    )
    obs, _ = env.reset(seed=0)
    assert obs["length"] == 4 and obs["query"] == 1 and env.step(5)[1] == 1.0
    bad = AssociativeRecallEnv(
        vocab_size=8, num_pairs=1, seq_len=8, generator=Fixed([1, 5, 0, 0, 1, 0, 0, 9])
    )
    with pytest.raises(ValueError, match="tokens leave the vocabulary"):
        bad.reset(seed=0)


@pytest.mark.parametrize(
    ("placement", "vocab"),
    # vocab 16: keys and values by redrawing rows with a repeat; vocab 8: 3 of 3 keys, by argsort.
    [("power_law", 16), ("uniform", 16), ("power_law", 8)],
)
def test_torch_sampler_draws_the_env_distribution(placement, vocab):
    """Same layout (the lookup of each query is its target), and the same distribution: per-position
    query rates, key and value marginals and filler, within 5 standard errors over 8000 sequences."""
    count, kwargs = 8000, {"vocab_size": vocab, "num_pairs": 3, "seq_len": 24, "placement": placement}
    prompts = RecallSampler(**kwargs).sample(count, torch.Generator().manual_seed(0))
    tokens, positions, targets = prompts.context.numpy(), prompts.queries.numpy(), prompts.targets.numpy()
    for j in range(3):
        rows = np.arange(count)
        assert np.array_equal(
            lookup_answers(tokens, positions[:, j], tokens[rows, positions[:, j]]), targets[:, j]
        )
    generator, rng = RecallGenerator(**kwargs), np.random.default_rng(0)
    tasks = [generator.sample(rng) for _ in range(count)]
    env_tokens = np.stack([task.tokens for task in tasks])
    env_positions = np.stack([task.query_positions for task in tasks])

    def rates(values: np.ndarray, size: int) -> np.ndarray:  # share of sequences holding each value
        return np.stack([(values == v).any(axis=1).mean() for v in range(size)])

    def close(a: np.ndarray, b: np.ndarray) -> None:
        error = np.sqrt((a * (1 - a) + b * (1 - b)) / count) + 1e-12
        assert np.all(np.abs(a - b) <= 5 * error), (a, b)

    close(rates(positions, 24), rates(env_positions, 24))
    close(rates(tokens[:, 0:6:2], vocab), rates(env_tokens[:, 0:6:2], vocab))  # keys
    close(rates(tokens[:, 1:6:2], vocab), rates(env_tokens[:, 1:6:2], vocab))  # values
    filler = np.ones(24, dtype=bool)
    filler[:6] = False
    first_filler = [p for p in range(6, 24) if p % 2 == 1][0]
    close(rates(tokens[:, [first_filler]], vocab), rates(env_tokens[:, [first_filler]], vocab))


def test_lookup_table_scores_100_and_chance_about_0_on_recall_v0():
    from leaderboard.harness import evaluate
    from leaderboard.protocol import get_suite

    suite = get_suite("recall-v0")
    for entry in suite.entries:
        reference = reference_for(entry)
        assert reference.r_reference == entry.kwargs.get("num_pairs", 8)
        assert reference.r_random == entry.kwargs.get("num_pairs", 8) / 4096
    results = evaluate(
        "baselines.classic.recall:LookupTableAgent",
        suite,
        envs=["MQAR"],
        agent=LookupTableAgent(),
        progress=False,
    )  # one entry (2,500 episodes) keeps the test short; the others differ only in sizes
    assert [entry.normalized_score.value for entry in results.entries] == [100.0]
