"""Offline datasets (baselines/offline): collect → load → recover the env → the same episodes; the
content hash; the clear errors; ``icl-bench collect``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from typer.testing import CliRunner

pytest.importorskip("minari")

from baselines.offline import standard  # noqa: E402
from baselines.offline.collect import (  # noqa: E402
    DEFAULT_BLOCK_EPISODES,
    collect,
    collect_block,
    collect_episodes,
    merge_blocks,
    parse_policy,
    seed_blocks,
)
from baselines.offline.datasets import (  # noqa: E402
    DatasetError,
    buffers_hash,
    check_dataset_id,
    dataset_info,
    dataset_path,
    datasets_root,
    iter_episode_arrays,
    load_episode_arrays,
    load_offline_dataset,
    observation_components,
    symbolic_columns,
)
from leaderboard.cli import app  # noqa: E402
from leaderboard.protocol import entry_key  # noqa: E402
from leaderboard.references import published_references  # noqa: E402


@pytest.fixture(autouse=True)
def datasets_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "datasets"))
    return tmp_path / "datasets"


def replay(env: gym.Env, episode) -> dict[str, np.ndarray]:
    """Play an episode's actions from its seed on ``env``; observations as the dataset shows them."""
    obs, _ = env.reset(seed=episode.seed)
    observations, rewards, terminations, truncations = [obs], [], [], []
    for action in episode.actions:
        obs, reward, terminated, truncated, _ = env.step(int(action))
        observations.append(obs)
        rewards.append(reward)
        terminations.append(terminated)
        truncations.append(truncated)
    if env.unwrapped.obs_mode == "symbolic":
        batched = gym.vector.utils.concatenate(
            env.observation_space,
            observations,
            gym.vector.utils.create_empty_array(env.observation_space, len(observations)),
        )
        observations = symbolic_columns(env.observation_space, batched)
    return {
        "observations": np.asarray(observations),
        "rewards": np.asarray(rewards, dtype=np.float64),
        "terminations": np.asarray(terminations),
        "truncations": np.asarray(truncations),
    }


@pytest.mark.parametrize(
    ("game", "policy", "obs_mode", "episodes"),
    [
        ("NumberLine", "mixed", "symbolic", 24),
        ("Points24", "eps-optimal:0.3", "symbolic", 12),
        ("EZPoints", "optimal", "symbolic", 12),
        ("Blackjack", "mixed", "image", 12),
        ("NumberLine", "random", "image", 6),
    ],
)
def test_round_trip_replays_the_same_episodes(game, policy, obs_mode, episodes):
    """Every stored episode is what the recovered env does from the episode's seed with its actions
    (frames of image datasets drawn again from their states, pixel for pixel)."""
    written = collect(game, policy, episodes, obs_mode=obs_mode, seed=7, num_envs=5)
    dataset, arrays = load_episode_arrays(written.id, f"icl/{game}-v0", {"obs_mode": obs_mode})
    assert len(arrays) == dataset.total_episodes == episodes
    assert [episode.seed for episode in arrays] == [7 + j for j in range(episodes)]
    env = dataset.recover_environment()
    assert env.spec.id == f"icl/{game}-v0" and env.unwrapped.obs_mode == obs_mode
    if obs_mode == "symbolic":
        assert arrays[0].observations.shape[1] == len(observation_components(env.observation_space))
    for episode in arrays:
        replayed = replay(env, episode)
        assert episode.terminations[-1] or episode.truncations[-1]
        assert not (episode.terminations[:-1] | episode.truncations[:-1]).any()
        for field, value in replayed.items():
            np.testing.assert_array_equal(getattr(episode, field), value, err_msg=field)


def test_metadata_references_and_behaviour():
    dataset = collect("Blackjack", "eps-optimal:0.3", 8, seed=3)
    reference = published_references()[entry_key("icl/Blackjack-v0", {"obs_mode": "symbolic"})]
    metadata = dataset.storage.metadata
    assert dataset.id == "icl/blackjack-symbolic/eps-optimal-0_3-v0"
    assert (metadata["ref_min_score"], metadata["ref_max_score"]) == (
        reference.r_random,
        reference.r_reference,
    )
    assert metadata["algorithm_name"] == "eps-optimal:0.3" and "probability 0.3" in metadata["description"]
    info = dataset_info(dataset)
    assert (info["policy"], info["seed"], info["episodes"], info["env_id"]) == (
        "eps-optimal:0.3",
        3,
        8,
        "icl/Blackjack-v0",
    )
    assert dataset_path(dataset.id).is_relative_to(datasets_root())


def test_policies_play_as_described():
    """Optimal NumberLine episodes all earn 1; mixed ones alternate random (even j) and optimal (odd j)."""
    _, optimal = load_episode_arrays(collect("NumberLine", "optimal", 30, seed=1).id)
    assert all(episode.rewards.sum() == 1 for episode in optimal)
    _, mixed = load_episode_arrays(collect("NumberLine", "mixed", 60, seed=1).id)
    assert all(episode.rewards.sum() == 1 for episode in mixed[1::2])
    assert any(episode.rewards.sum() < 1 for episode in mixed[0::2])  # P(all 30 random optimal) < 1e-9


def test_same_seed_same_hash():
    first = dataset_info(collect("Points24", "mixed", 10, seed=5, dataset_id="tt/a-v0"))["content_hash"]
    second = dataset_info(collect("Points24", "mixed", 10, seed=5, dataset_id="tt/b-v0"))["content_hash"]
    other_seed = dataset_info(collect("Points24", "mixed", 10, seed=6, dataset_id="tt/c-v0"))["content_hash"]
    image = dataset_info(collect("NumberLine", "mixed", 10, seed=5, obs_mode="image", dataset_id="tt/d-v0"))
    symbolic = dataset_info(collect("NumberLine", "mixed", 10, seed=5, dataset_id="tt/e-v0"))
    assert first == second != other_seed
    assert image["content_hash"] != symbolic["content_hash"]  # same stored numbers, different meaning


@pytest.mark.parametrize(
    "bad", ["icl/numberline", "t/a-v0", "a//b-v0", "icl/a b-v0", "icl/x-v0.1", "../x-v0", "", 3]
)
def test_malformed_ids(bad):
    with pytest.raises(DatasetError, match="dataset id must look like"):
        check_dataset_id(bad)
    with pytest.raises(DatasetError, match="dataset id must look like"):
        load_offline_dataset(bad)


def test_missing_dataset(datasets_dir):
    with pytest.raises(
        DatasetError, match=r"no dataset 'icl/numberline-symbolic/mixed-v0' under .*icl-bench collect"
    ):
        load_offline_dataset("icl/numberline-symbolic/mixed-v0")


@pytest.mark.parametrize(
    ("env_id", "env_kwargs", "what"),
    [
        ("icl/Blackjack-v0", {"obs_mode": "symbolic"}, "different env id"),
        ("icl/NumberLine-v1", {"obs_mode": "symbolic"}, "different version"),
        ("icl/NumberLine-v0", {"obs_mode": "image"}, "different obs_mode"),
        ("icl/NumberLine-v0", {"obs_mode": "symbolic", "max_position": 7}, "different max_position"),
    ],
)
def test_mismatched_env(env_id, env_kwargs, what):
    dataset = collect("NumberLine", "random", 4)
    with pytest.raises(
        DatasetError, match=rf"collected on icl/NumberLine-v0 .*it does not fit {env_id} .*{what}"
    ):
        load_offline_dataset(dataset.id, env_id, env_kwargs)
    # The defaults count as given: the same env written two ways matches.
    load_offline_dataset(dataset.id, "icl/NumberLine-v0", {"obs_mode": "symbolic", "max_position": 5})


def _corrupt_truncate(data):
    path = data / "main_data.hdf5"
    path.write_bytes(path.read_bytes()[:2000])


def _corrupt_garbage(data):
    (data / "main_data.hdf5").write_bytes(b"not an hdf5 file" * 100)


def _corrupt_remove(data):
    (data / "main_data.hdf5").unlink()


def _corrupt_metadata(data):
    (data / "metadata.json").write_text("{")


def _corrupt_rewards(data):
    import h5py

    with h5py.File(data / "main_data.hdf5", "a") as file:
        file["episode_1/rewards"][0] += 1.0


def _corrupt_hash(data):
    metadata = json.loads((data / "metadata.json").read_text())
    metadata["icl_bench"]["content_hash"] = "0" * 64
    (data / "metadata.json").write_text(json.dumps(metadata))


@pytest.mark.parametrize(
    "corrupt",
    [
        _corrupt_truncate,
        _corrupt_garbage,
        _corrupt_remove,
        _corrupt_metadata,
        _corrupt_rewards,
        _corrupt_hash,
    ],
)
def test_corrupt_files_give_clear_errors(corrupt):
    dataset = collect("NumberLine", "mixed", 6)
    corrupt(dataset_path(dataset.id) / "data")
    with pytest.raises(DatasetError, match=r"is unreadable or altered .*collect it again"):
        load_offline_dataset(dataset.id)
        load_episode_arrays(dataset.id)


def test_altered_episode_found_in_one_pass():
    dataset = collect("NumberLine", "mixed", 6)
    _corrupt_rewards(dataset_path(dataset.id) / "data")
    opened = load_offline_dataset(dataset.id, verify=False)
    with pytest.raises(DatasetError, match="content hash"):
        list(iter_episode_arrays(opened, check_hash=True))


def test_not_written_by_collect(datasets_dir):
    dataset = collect("NumberLine", "mixed", 4)
    data = dataset_path(dataset.id) / "data"
    metadata = json.loads((data / "metadata.json").read_text())
    del metadata["icl_bench"]
    (data / "metadata.json").write_text(json.dumps(metadata))
    with pytest.raises(DatasetError, match="not written by icl-bench collect"):
        load_offline_dataset(dataset.id)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (dict(policy="greedy"), "policy must be random | optimal"),
        (dict(policy="eps-optimal:1.5"), "0 < EPS < 1"),
        (dict(episodes=0), "episodes must be"),
        (dict(obs_mode="text"), "obs_mode must be one of 'symbolic', 'image'"),
        (
            dict(env="Points24", obs_mode="image"),
            "image datasets exist for icl/NumberLine-v0, icl/Blackjack-v0",
        ),
        (dict(env="Chess"), "env must be one of NumberLine"),
        (dict(env_kwargs={"colour": 1}), r"unknown argument\(s\) \['colour'\]"),
        (dict(seed=-1), "seed must be"),
    ],
)
def test_bad_collect_arguments(arguments, message):
    call = {"env": "NumberLine", "policy": "random", "episodes": 3} | arguments
    with pytest.raises(ValueError, match=message):
        collect(call.pop("env"), call.pop("policy"), call.pop("episodes"), **call)


def test_existing_dataset_needs_overwrite():
    first = dataset_info(collect("NumberLine", "random", 3, seed=0))["content_hash"]
    with pytest.raises(DatasetError, match="already exists.*--overwrite"):
        collect("NumberLine", "random", 3, seed=1)
    second = collect("NumberLine", "random", 3, seed=1, overwrite=True)
    assert dataset_info(second)["content_hash"] != first


def test_kwargs_change_the_id_and_the_references():
    dataset = collect("NumberLine", "optimal", 3, env_kwargs={"max_position": 9})
    assert dataset.id.startswith("icl/numberline-symbolic-") and dataset.id.endswith("/optimal-v0")
    assert dataset.recover_environment().unwrapped.max_position == 9
    assert dataset.storage.metadata["ref_max_score"] == 1.0
    assert dataset.storage.metadata["ref_min_score"] < -2.58  # the random walk does worse on a longer line


def test_parse_policy():
    assert parse_policy("eps-optimal:0.3").name == "eps-optimal:0.3"
    assert [parse_policy(p).kind for p in ("random", "optimal", "mixed")] == ["random", "optimal", "mixed"]
    for bad in ("optimal:0.3", "eps-optimal", "eps-optimal:x", "eps-optimal:0", None):
        with pytest.raises(ValueError, match="policy"):
            parse_policy(bad)


def test_standard_registry_covers_the_issue():
    grid = {(d.game, d.obs_mode, d.policy) for d in standard.STANDARD_DATASETS}
    for game in ("NumberLine", "EZPoints", "Points24", "Blackjack"):
        assert {(game, "symbolic", p) for p in ("random", "eps-optimal:0.3", "mixed")} <= grid
    assert {("NumberLine", "image", "mixed"), ("Blackjack", "image", "mixed")} <= grid
    seeds = [d.seed for d in standard.STANDARD_DATASETS]
    assert len(set(seeds)) == len(seeds) and min(seeds) > 60_000  # apart, and past the dev seeds
    assert len({d.dataset_id for d in standard.STANDARD_DATASETS}) == len(seeds)
    with pytest.raises(ValueError, match="unknown standard dataset"):
        standard.select_standard(["numberline-symbolic-optimal"])


runner = CliRunner()


def test_cli_collect(datasets_dir):
    result = runner.invoke(
        app,
        ["collect", "Blackjack", "--policy", "optimal", "--episodes", "5", "--seed", "4", "--num-envs", "2"],
    )
    assert result.exit_code == 0, result.output
    assert "icl/blackjack-symbolic/optimal-v0: 5 episodes" in result.output.replace("\n", " ")
    assert dataset_info(load_offline_dataset("icl/blackjack-symbolic/optimal-v0"))["seed"] == 4


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["NumberLine"], "give one game, --policy and --episodes"),
        (["NumberLine", "--policy", "x", "--episodes", "2"], "policy must be"),
        (
            ["NumberLine", "--policy", "random", "--episodes", "2", "--env-kwargs", "[1]"],
            "must be a JSON object",
        ),
        (["--standard", "--policy", "random"], "--standard datasets are fixed"),
        (["--standard", "nope"], "unknown standard dataset"),
        (["--standard", "--block-episodes", "8"], "--block-episodes cannot be given"),
        (["NumberLine", "--policy", "random", "--episodes", "2", "--workers", "0"], "--workers must be"),
        (
            [
                "NumberLine",
                "--policy",
                "random",
                "--episodes",
                "2",
                "--workers",
                "2",
                "--scheduler",
                "tcp://h:1",
            ],
            "give only one",
        ),
        (["NumberLine", "--policy", "random", "--episodes", "2", "--scheduler", "h:1"], "--scheduler"),
    ],
)
def test_cli_errors(arguments, message):
    result = runner.invoke(app, ["collect", *arguments])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_cli_standard_builds_and_keeps(monkeypatch, datasets_dir):
    tiny = (
        standard.StandardDataset("NumberLine", "symbolic", "mixed", 6, 1_000_000),
        standard.StandardDataset("Blackjack", "image", "mixed", 4, 2_000_000),
    )
    monkeypatch.setattr(standard, "STANDARD_DATASETS", tiny)
    result = runner.invoke(app, ["collect", "--standard"])
    assert result.exit_code == 0, result.output
    hashes = [dataset_info(load_offline_dataset(d.dataset_id))["content_hash"] for d in tiny]
    result = runner.invoke(app, ["collect", "--standard", "numberline-symbolic-mixed"])
    assert "exists, kept" in result.output
    shutil.rmtree(dataset_path(tiny[0].dataset_id))
    result = runner.invoke(app, ["collect", "--standard", tiny[0].dataset_id])
    assert result.exit_code == 0, result.output
    assert dataset_info(load_offline_dataset(tiny[0].dataset_id))["content_hash"] == hashes[0]
    listing = runner.invoke(app, ["collect", "--list"])
    assert "blackjack-image-mixed" in listing.output


# ----------------------------------------------------------------------------------------------
# Seed blocks: what lets a Dask pool play a dataset (tests/test_distributed.py plays them there)


def test_blocks_in_any_order_merge_to_the_same_dataset():
    """A block depends on its own arguments only: played in reverse order and merged in block order,
    the blocks give the episodes (and the hash) of the sequential collection."""
    behaviour = parse_policy("eps-optimal:0.3")
    blocks = seed_blocks("icl/NumberLine-v0", {"obs_mode": "symbolic"}, behaviour, 50, 9, 4, 16)
    assert [(b.first, b.episodes) for b in blocks] == [(0, 16), (16, 16), (32, 16), (48, 2)]
    reversed_outcomes = [collect_block(block) for block in reversed(blocks)][::-1]
    merged, _ = merge_blocks(reversed_outcomes)
    sequential, _ = collect_episodes("icl/NumberLine-v0", {"obs_mode": "symbolic"}, behaviour, 50, 9, 4, 16)
    assert [b.id for b in merged] == [b.seed - 9 for b in merged] == list(range(50))
    digest = buffers_hash("icl/NumberLine-v0", {"obs_mode": "symbolic"}, merged)
    assert digest == buffers_hash("icl/NumberLine-v0", {"obs_mode": "symbolic"}, sequential)
    # The block size is part of the dataset: other blocks, other policy draws, another hash.
    one_block, _ = collect_episodes("icl/NumberLine-v0", {"obs_mode": "symbolic"}, behaviour, 50, 9, 4, 64)
    assert buffers_hash("icl/NumberLine-v0", {"obs_mode": "symbolic"}, one_block) != digest
    # The first block is the dataset of its episodes alone: its draws are seeded by the dataset seed.
    first, _ = collect_episodes("icl/NumberLine-v0", {"obs_mode": "symbolic"}, behaviour, 16, 9, 4)
    assert buffers_hash("icl/NumberLine-v0", {"obs_mode": "symbolic"}, first) == buffers_hash(
        "icl/NumberLine-v0", {"obs_mode": "symbolic"}, merged[:16]
    )


def test_standard_datasets_are_one_block_with_their_recorded_hash():
    """Blocks changed no standard dataset: each is one block, and a cheap one gives the content hash
    recorded in docs/data/offline_datasets.json before blocks existed."""
    assert all(d.episodes <= DEFAULT_BLOCK_EPISODES for d in standard.STANDARD_DATASETS)
    recorded = json.loads((Path(__file__).parents[1] / "docs/data/offline_datasets.json").read_text())
    (entry,) = [d for d in recorded["standard"] if d["name"] == "numberline-symbolic-random"]
    plan = standard.select_standard([entry["name"]])[0].plan()
    assert len(plan.blocks) == 1
    buffers, _ = merge_blocks([collect_block(plan.blocks[0])])
    assert buffers_hash(plan.env_id, plan.env_kwargs, buffers) == entry["content_hash"]


def test_block_metadata_and_bad_block_size():
    dataset = collect("NumberLine", "mixed", 10, seed=2, num_envs=3, block_episodes=4)
    info = dataset_info(dataset)
    assert (info["episodes"], info["num_envs"], info["block_episodes"]) == (10, 3, 4)
    with pytest.raises(ValueError, match="block_episodes"):
        collect("NumberLine", "mixed", 10, block_episodes=0, overwrite=True)
