"""The learned in-context RL baselines' training data as Minari datasets (baselines/icrl/data.py):
collected trials round-trip exactly, tasks come back from the stored seeds, and a dataset that does
not fit the run (another env, other trials, altered content) is refused by name."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from baselines.classic.bandits import ThompsonSampling
from baselines.classic.random_agent import RandomAgent
from baselines.classic.rooms import QLearner
from baselines.icrl.data import (
    FIELDS,
    collect_histories,
    histories,
    histories_id,
    load_histories,
    trial_spec,
    write_histories,
)
from baselines.offline.datasets import DatasetError, dataset_path, load_offline_dataset

ROOM = {"size": 3, "horizon": 4, "episodes_per_trial": 3}
KEY_ROOM = {"size": 3, "horizon": 6, "episodes_per_trial": 2}


@pytest.fixture(autouse=True)
def datasets_root(tmp_path, monkeypatch):
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "datasets"))


@pytest.mark.parametrize(
    ("env_id", "kwargs", "agent"),
    [
        ("icl/Bandit-v0", {"arms": 3, "horizon": 10}, ThompsonSampling(seed=1)),
        ("icl/DarkRoom-v0", ROOM, RandomAgent(seed=1)),
        # Key-to-Door's sub-episodes end early at the door: trials of different lengths.
        ("icl/KeyToDoor-v0", KEY_ROOM, QLearner(seed=1)),
    ],
)
def test_collected_trials_round_trip_through_minari(env_id, kwargs, agent):
    spec = trial_spec(env_id, kwargs)
    collected = collect_histories(spec, agent, tasks=12, seed=5)
    dataset_id = histories_id(spec, "source", 12, 5)
    write_histories(dataset_id, spec, collected, "source", 5)
    loaded = load_histories(dataset_id, spec, "source", 12, 5)
    for name in (*FIELDS, "length", "means", "goal", "key", "door"):
        if name in collected:
            np.testing.assert_array_equal(loaded[name], collected[name], err_msg=name)
            assert loaded[name].dtype == collected[name].dtype, name
    assert set(loaded) == {name for name in collected if not name.startswith("obs/")}
    dataset = load_offline_dataset(dataset_id, env_id, kwargs)
    assert dataset.total_episodes == 12 and dataset.spec.env_spec.id == env_id
    first = next(iter(dataset.iterate_episodes()))
    assert first.terminations[-1] and not first.terminations[:-1].any()
    # the stored observations are the env's own: a trial starts at step 0 of sub-episode 0
    assert first.observations["episode"][0] == 0 and first.observations["step"][0] == 0


def test_histories_collects_once_then_reads_the_stored_dataset():
    spec = trial_spec("icl/Bandit-v0", {"arms": 2, "horizon": 5})
    dataset_id = histories_id(spec, "thompson", 6, 0)
    assert dataset_id.startswith("icl/icrl-bandit-") and dataset_id.endswith("/thompson-6-s0-v0")
    first = histories(dataset_id, spec, ThompsonSampling(seed=0), "thompson", 6, 0)
    stamp = dataset_path(dataset_id).stat().st_mtime_ns
    again = histories(dataset_id, spec, ThompsonSampling(seed=99), "thompson", 6, 0)
    assert dataset_path(dataset_id).stat().st_mtime_ns == stamp
    for name in first:
        np.testing.assert_array_equal(first[name], again[name])


def test_a_dataset_that_does_not_fit_is_refused_by_name():
    spec = trial_spec("icl/DarkRoom-v0", ROOM)
    dataset_id = histories_id(spec, "random", 4, 0)
    write_histories(dataset_id, spec, collect_histories(spec, RandomAgent(seed=0), 4, 0), "random", 0)
    with pytest.raises(DatasetError, match=r"different source, tasks"):
        load_histories(dataset_id, spec, "qlearner", 5, 0)
    with pytest.raises(DatasetError, match="different size"):
        load_histories(dataset_id, trial_spec("icl/DarkRoom-v0", {**ROOM, "size": 4}), "random", 4, 0)
    with pytest.raises(DatasetError, match="no dataset"):
        load_histories("icl/icrl-darkroom/none-v0", spec, "random", 4, 0)
    # one reward altered in the file: the content hash no longer matches
    (data_file,) = (dataset_path(dataset_id) / "data").glob("*.hdf5")
    with h5py.File(data_file, "r+") as file:
        rewards = file["episode_0/rewards"]
        rewards[0] = rewards[0] + 1.0
    with pytest.raises(DatasetError, match="content hash"):
        load_histories(dataset_id, spec, "random", 4, 0)


def test_a_run_names_its_dataset_in_its_config(tmp_path):
    from baselines.icrl.model import ModelConfig
    from baselines.icrl.train import TrainConfig, train

    kwargs = {"arms": 2, "horizon": 5}
    config = TrainConfig(
        env_kwargs=json.dumps(kwargs),
        tasks=8,
        steps=2,
        batch_size=4,
        model=ModelConfig(layers=1, heads=1, width=16),
        dataset="icl/icrl-test/thompson-v0",
        out=str(tmp_path / "run"),
        progress=False,
    )
    run_dir = train(config)
    assert json.loads((run_dir / "config.json").read_text())["dataset"] == "icl/icrl-test/thompson-v0"
    assert load_offline_dataset("icl/icrl-test/thompson-v0", "icl/Bandit-v0", kwargs).total_episodes == 8
    with pytest.raises(ValueError, match="dataset id must look like"):
        train(TrainConfig(dataset="no version", out=str(tmp_path / "bad"), progress=False))
