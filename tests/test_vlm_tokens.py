"""The token check (baselines/vlm/tokens.py, ``icl-bench tokens``): planted untrained head rows are
found, trained ones are not, an untrained model is reported uninformative, the trainer warns."""

import json

import pytest
import torch
from safetensors.torch import load_file, save_file
from typer.testing import CliRunner

from baselines.vlm.model import ModelConfig
from baselines.vlm.tokenizer import TextCodec
from baselines.vlm.tokens import answer_skeletons, reference_ids, round_trips
from baselines.vlm.train import PPOConfig, SFTConfig, TrainConfig, train
from leaderboard.cli import app

TINY = ModelConfig(image_size=16, channels=4, image_tokens_side=1, width=64, layers=2, heads=2, max_tokens=96)


def _config(out, steps):
    return TrainConfig(
        out=str(out),
        progress=False,
        vocab_size=320,
        thoughts=False,
        short_prompt=True,
        model=TINY,
        sft=SFTConfig(episodes=30, steps=steps, batch_size=16, lr=1e-2),
        ppo=PPOConfig(iterations=0),
    )


def _check(folder):
    result = CliRunner().invoke(app, ["tokens", str(folder), "--json"])
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, json.loads(result.stdout)


def test_untrained_head_rows_are_found_and_trained_ones_are_not(tmp_path):
    torch.set_num_threads(1)
    run = train(_config(tmp_path / "run", 40))
    code, report = _check(run)
    # Trained: the never-seen byte rows agree (the indicator is read), no answer token is flagged.
    assert report["indicator_informative"] and len(report["reference_ids"]) == 13
    assert code == 0 and not any(t["under_trained"] or not t["round_trip"] for t in report["tokens"])
    codec = TextCodec.load(run)
    required = {t["id"] for t in report["tokens"]}
    skeleton = answer_skeletons("icl/NumberLine-v0", thoughts=False)[0][1]
    assert {codec.eos_id, *codec.encode(skeleton)} <= required

    # Plant: two required tokens (the '+' action's and one of the skeleton's) get the head rows of
    # tokens that occur in prompts only, never as a target: rows that training never pulled.
    planted = [
        codec.encode(answer_skeletons("icl/NumberLine-v0", thoughts=False)[1][1])[-1],
        codec.encode('{"')[0],
    ]
    donors = [i for i in codec.encode("Legal") + codec.encode("\n") if i not in required][:2]
    assert len(donors) == 2 and len(set(planted)) == 2
    weights = load_file(str(run / "model.safetensors"))
    for token, donor in zip(planted, donors):
        weights["lm_head.weight"][token] = weights["lm_head.weight"][donor]
    save_file(weights, str(run / "model.safetensors"))
    code, report = _check(run)
    assert code == 1
    assert sorted(t["id"] for t in report["tokens"] if t["under_trained"]) == sorted(planted)
    # The trainer runs the check first and warns (resumed here for one more step).
    with pytest.warns(UserWarning, match="token check"):
        train(_config(tmp_path / "run", 41))


def test_an_untrained_model_is_reported_uninformative(tmp_path):
    run = train(_config(tmp_path / "run", 0))
    code, report = _check(run)
    assert code == 0 and not report["indicator_informative"]
    assert all(t["similarity"] is not None for t in report["tokens"] if t["text"])
    codec = TextCodec.load(run)
    assert len(reference_ids(codec)) == 13 and all(round_trips(codec, t["id"]) for t in report["tokens"])


def _refused(*arguments):
    result = CliRunner().invoke(app, ["tokens", *map(str, arguments)])
    assert result.exit_code == 2, result.output
    return " ".join(result.output.split())  # rich wraps long lines


def test_bad_arguments_are_refused(tmp_path):
    assert "no config.json" in _refused(tmp_path)
    run = train(_config(tmp_path / "run", 0))
    assert "env must be one of" in _refused(run, "--env", "icl/Chess-v0")
    assert "--threshold must lie in (0, 1)" in _refused(run, "--threshold", "2")
