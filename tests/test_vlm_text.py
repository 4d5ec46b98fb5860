"""The VLM trainer's text stage (``sft.text_steps``): the decoder learns thoughts and actions from
the answer fields written out, before it sees a frame."""

from __future__ import annotations

import json

import pytest
import torch

from baselines.classic.number_games import solve_deal
from baselines.vlm.model import ModelConfig
from baselines.vlm.tokenizer import TextCodec, train_tokenizer
from baselines.vlm.train import SFTConfig, TrainConfig, collect_text, scored_tokens, train

TINY = ModelConfig(
    image_size=16, channels=4, image_tokens_side=1, width=64, layers=2, heads=2, max_tokens=160
)


def config(tmp_path, env: str, **sft) -> TrainConfig:
    return TrainConfig(
        env=env,
        model=TINY,
        sft=SFTConfig(**{"episodes": 2, "steps": 1, "batch_size": 16, "lr": 3e-3, **sft}),
        state_in_prompt=False,
        short_prompt=True,
        vocab_size=300,
        out=str(tmp_path / "run"),
        progress=False,
    )


def test_text_states_are_fresh_deals_whose_thought_solves_the_cards_field(tmp_path):
    prompts, answers, starts = collect_text(config(tmp_path, "icl/Points24-v0", text_episodes=30), 0)
    assert len(prompts) == len(answers) == len(starts) > 30  # each episode writes several tokens
    assert len(set(prompts)) == 1, "without the state in the prompt every prompt is the same"
    hands = set()
    for answer, start in zip(answers, starts):
        fields = json.loads(answer)
        assert answer[start:].startswith('"thoughts"')
        assert fields["cards"] in answer[:start] and fields["formula"] in answer[:start]
        cards = json.loads(fields["cards"])
        solution = solve_deal(cards)
        plan = f"{''.join(solution)} reaches the target" if solution else "no formula reaches the target"
        assert fields["thoughts"].startswith(plan)
        hands.add(tuple(sorted(cards)))
    assert len(hands) > 10, "the text stage's deals are new ones, episode after episode"


def test_only_the_thoughts_and_the_action_are_scored(tmp_path):
    _, answers, starts = collect_text(config(tmp_path, "icl/EZPoints-v0", text_episodes=5), 0)
    codec = TextCodec(train_tokenizer(answers, 300))
    for answer, start in zip(answers, starts):
        ids = codec.encode(answer) + [codec.eos_id]
        scored = scored_tokens(codec, ids, start)
        first = scored.index(1)
        assert all(scored[first:]) and not any(scored[:first]), "one scored span, to the end token"
        assert scored[-1] == 1, "the end token is scored"
        unscored, rest = codec.decode(ids[:first]), codec.decode(ids[first:])
        assert unscored + rest == answer
        assert len(unscored) >= start and answer[start : len(unscored)] in ('"', ""), (unscored, start)
        assert '"cards"' in unscored and '"action"' in rest


def test_the_text_stage_learns_the_thoughts_then_training_goes_on(tmp_path):
    torch.set_num_threads(1)
    run = train(config(tmp_path, "icl/EZPoints-v0", text_steps=100, text_episodes=100))
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    text = [r for r in records if r["phase"] == "text"]
    assert [r["step"] for r in text] == [50, 100]
    # EZPoints' thought names one formula per pair of cards and is copied into the action: the
    # scored tokens start near ln(300) = 5.7 nats each.
    assert text[-1]["loss"] < 1.0, text
    assert [r["phase"] for r in records][-2:] == ["sft", "read_check"], "SFT follows the text stage"


def test_a_hugging_face_model_skips_the_text_stage(tmp_path):
    bad = config(tmp_path, "icl/EZPoints-v0", text_steps=5)
    bad.hf.path = str(tmp_path)
    with pytest.raises(ValueError, match="sft.text_steps"):
        train(bad)
