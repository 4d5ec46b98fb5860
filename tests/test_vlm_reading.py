"""The card games' reading stage (issue 13): per-card, per-formula-slot and per-total probe labels,
read off the state the frame draws, and the held-out accuracy the trainer logs."""

from __future__ import annotations

import json

import gymnasium as gym
import pytest
import torch

from baselines.vlm.model import ModelConfig
from baselines.vlm.tasks import Expert, reading_labels, reading_slots
from baselines.vlm.train import SFTConfig, TrainConfig, collect_reading, train
from icl_envs.cards.deck import RANK_NAMES


def test_points_labels_read_each_card_in_the_frames_order_and_each_formula_slot():
    env = gym.make("icl/Points24-v0", obs_mode="multimodal")
    game = env.unwrapped
    _, info = env.reset(seed=0, options={"cards": ["HJ", "S2", "C10", "DA"]})
    labels = reading_labels(game, info)
    assert [labels[f"card {i}"] for i in range(4)] == [10, 1, 9, 0]  # J, 2, 10, A as rank indices
    assert all(labels[f"formula {i}"] == 0 for i in range(20))  # nothing written: every slot absent
    # The answer lists the cards as the frame shows them, left to right (faces count 10).
    assert json.loads(Expert("icl/Points24-v0").act(game)[1]["cards"]) == [10, 2, 10, 1]
    strings = game.action_strings
    for token in ("2", "*", "10"):
        _, _, _, _, info = env.step(strings.index(token))
    labels = reading_labels(game, info)
    assert [labels[f"formula {i}"] for i in range(4)] == [
        strings.index("2") + 1,
        strings.index("*") + 1,
        strings.index("10") + 1,
        0,
    ]
    slots = reading_slots(game)
    assert list(slots) == list(labels) and slots["card 0"] == len(RANK_NAMES)
    assert slots["formula 0"] == 1 + len(strings)  # each action string, or absent
    env.close()


def test_blackjack_labels_name_the_printed_total_the_dealer_card_and_each_player_card():
    env = gym.make("icl/Blackjack-v0", obs_mode="multimodal")
    game = env.unwrapped
    for seed in range(40):
        _, info = env.reset(seed=seed)
        if game.symbolic_observation()[0] < 17:
            break
    hands = []
    while True:
        labels = reading_labels(game, info)
        total, _, soft = game.symbolic_observation()
        cards = info["player_cards"]
        assert labels["player total"] == total and labels["soft"] == soft
        assert labels["dealer card"] == RANK_NAMES.index(info["dealer_up_card"][1:])
        read = [labels[f"player card {i}"] for i in range(5)]
        assert read[: len(cards)] == [1 + RANK_NAMES.index(c[1:]) for c in cards]
        assert read[len(cards) :] == [0] * (5 - len(cards))  # absent slots
        hands.append(len(cards))
        _, _, terminated, truncated, info = env.step(1)  # hit
        if terminated or truncated:
            break
    assert hands[:2] == [2, 3], "a hit adds the third card's slot"
    env.close()


def test_the_reading_stage_on_fresh_frames_logs_each_probes_held_out_accuracy(tmp_path):
    torch.set_num_threads(1)
    model = ModelConfig(
        image_size=32, channels=4, image_tokens_side=2, width=32, layers=1, heads=2, max_tokens=160
    )
    config = TrainConfig(
        env="icl/EZPoints-v0",
        model=model,
        sft=SFTConfig(episodes=2, steps=1, batch_size=8, align_steps=3, align_frames=60),
        state_in_prompt=False,
        short_prompt=True,
        vocab_size=300,
        out=str(tmp_path / "run"),
        progress=False,
    )
    images, slots, labels = collect_reading(config, 0)
    assert images.shape == (60, 32, 32, 3) and labels.shape == (60, len(slots))
    # Fresh deals: more distinct first cards than the two SFT episodes could show.
    assert len(set(labels[:, 0].tolist())) > 2
    run = train(config)
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    (align,) = [r for r in records if r["phase"] == "align"]
    assert set(align["accuracy"]) == set(slots) | {"min"}
    assert all(0.0 <= v <= 1.0 for v in align["accuracy"].values())
    assert align["accuracy"]["min"] == min(v for k, v in align["accuracy"].items() if k != "min")


def test_a_negative_frame_count_is_refused(tmp_path):
    config = TrainConfig(sft=SFTConfig(align_frames=-1), out=str(tmp_path / "run"))
    with pytest.raises(ValueError, match="sft.align_frames"):
        train(config)
