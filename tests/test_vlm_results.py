"""The small VLM's CPU results: the page shows the data file, the runs read the frame, and a shipped
checkpoint plays as the file says."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from file_modules import load_file_module

from baselines.checkpoints import checkpoint_dir
from baselines.vlm.tasks import GAMES, prompt
from baselines.vlm.tokenizer import TextCodec, train_tokenizer
from baselines.vlm.train import collect_text, validate
from leaderboard.harness import play_entry
from leaderboard.loading import load_agent
from leaderboard.protocol import SuiteEntry, get_suite

ROOT = Path(__file__).resolve().parents[1]
DATA = json.loads((ROOT / "docs" / "data" / "vlm_cpu_results.json").read_text())
PAGE = (ROOT / "docs" / "baselines" / "vlm.md").read_text()


def _script():
    return load_file_module(ROOT / "docs" / "scripts" / "vlm_results.py", "docs_scripts_vlm_results")


@pytest.mark.parametrize("env_id", GAMES)
def test_a_prompt_without_the_state_is_the_same_for_every_state(env_id):
    """From the frame alone: neither the state's text nor the legal actions (EZPoints' legal numbers
    are the cards held) reach the prompt."""
    env = gym.make(env_id, obs_mode="multimodal")
    seen = {}
    for seed in range(12):
        obs, _ = env.reset(seed=seed)
        for short in (True, False):
            seen.setdefault(short, set()).add(
                prompt(env.unwrapped, obs["text"], obs["action_mask"], False, short)
            )
        assert obs["text"] in prompt(env.unwrapped, obs["text"], obs["action_mask"], True, True)
    env.close()
    assert len(seen[True]) == 1 and len(seen[False]) == 1


def test_every_run_reads_the_state_from_the_frame():
    assert DATA["provenance"]["written_by"] == "docs/scripts/vlm_results.py"
    for name, run in DATA["runs"].items():
        assert run["config_changes"]["state_in_prompt"] is False, name
        assert run["provenance"]["written_by"] == "docs/scripts/vlm_results.py"


def test_the_page_shows_the_results_file():
    script = _script()
    table = script.results_table(DATA)
    for block in table.split("\n\n"):
        assert block in PAGE, f"docs/baselines/vlm.md should show, as the file has it:\n{block}"
    assert script.reading_table(DATA) in PAGE, "the page should show the reading stage's accuracy"
    assert script.read_check_table(DATA) in PAGE, "the page should show the read check of the runs"
    assert "NumberLine thoughts" in script.swept(DATA), "the thoughts-or-none sweep is recorded"
    for sweep in script.swept(DATA):
        assert script.sweep_table(DATA, sweep) in PAGE, f"the page should show the {sweep} sweep over seeds"
    assert script.commands_block(DATA) in PAGE, "the page should give every run's command"
    assert script.wider_sentence(DATA) in PAGE, "the page should give the wider sample's figures"


def test_the_wider_sample_names_a_recorded_run_and_fresh_deals():
    wide = DATA["wider_sample"]
    assert wide["run"] in DATA["runs"]
    assert wide["seeds"][0] > max(get_suite("vl-v0").entries[0].seeds)  # none of vl-v0's deals
    for who in ("agent", "optimum"):
        assert wide[who]["low"] < wide[who]["success_rate"] < wide[who]["high"]


def test_success_interval_is_wilsons():
    low, high = _script().success_interval(50, 100)  # by hand: 0.5 ± 1.96·sqrt(0.0025 + 0.96/1e4) / 1.0384
    assert low == pytest.approx(40.38, abs=0.01) and high == pytest.approx(59.62, abs=0.01)
    low, high = _script().success_interval(0, 20)  # no win: the interval still has width
    assert low == pytest.approx(0.0, abs=1e-9) and high == pytest.approx(16.11, abs=0.01)


def test_the_exact_ceilings_are_the_solvers():
    best = _script().best_success_rates()
    assert best["Blackjack"] < 50.0  # the remark: no policy wins half the hands
    assert 73.0 < best["Points24"] < 73.2  # 20876 / 28561 deals solvable


SHIPPED = {name: run for name, run in DATA["runs"].items() if "check" in run}


def test_numberline_and_every_card_game_that_beats_rl4vlm_is_shipped():
    script = _script()
    shipped_games = {script.game_of(run["env"]) for run in SHIPPED.values()}
    assert "NumberLine" in shipped_games
    for name, run in DATA["runs"].items():
        game = script.game_of(run["env"])
        if run["success_rate"] > script.RL4VLM_SUCCESS[game]:
            assert game in shipped_games, f"{name} beats RL4VLM's {game} cell: ship its game's best run"


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_a_shipped_checkpoint_plays_as_the_results_file_says(name):
    """Each shipped game's checkpoint (``vlm-<game>``) loads through ``run:`` and replays the file's
    check episodes exactly (greedy decoding): the weights, tokenizer and config in the package are
    the run's."""
    run = SHIPPED[name]
    check = run["check"]
    entry = SuiteEntry(run["env"], {"obs_mode": "multimodal"}, check["episodes"], (check["seed"],))
    folder = checkpoint_dir(_script().checkpoint_name(run["env"]))
    played = play_entry(load_agent(f"run:{folder}"), entry, agent_name="vlm", text_actions=True)
    assert np.asarray(played.returns).ravel().tolist() == check["returns"]


@pytest.mark.parametrize("size", ["cpu", "gpu"])
def test_every_run_is_valid_and_its_text_fits_the_model(size, tmp_path):
    """Each run's config (the pending GPU size too, which no CI machine trains) passes the trainer's
    checks, and the expert's longest answer fits ``max_new_tokens`` and, after the image tokens and
    the longest prompt, ``model.max_tokens``: a run that does not fit would truncate its answers.
    The tokenizer here learns from 40 episodes' text, fewer merges than a run's: longer tokens counts,
    so the check errs on the safe side."""
    script = _script()
    checked = {}
    for name in script.RUNS:
        config = script.run_config(name, tmp_path, size)
        validate(config)
        key = (config.env, config.short_prompt, config.thoughts, config.vocab_size, repr(config.model))
        if key in checked:
            continue
        sample = dataclasses.replace(config, sft=dataclasses.replace(config.sft, text_episodes=40))
        prompts, answers, _ = collect_text(sample, 0)
        codec = TextCodec(train_tokenizer(prompts + answers, config.vocab_size))
        longest_prompt = max(len(codec.encode(p)) for p in prompts)
        longest_answer = max(len(codec.encode(a)) + 1 for a in answers)  # + the end token
        assert longest_answer <= config.max_new_tokens, (name, longest_answer)
        used = config.model.image_tokens_side**2 + longest_prompt + longest_answer
        assert used <= config.model.max_tokens, (name, used)
        checked[key] = config.env
    assert set(checked.values()) == set(GAMES)


def test_the_read_check_table_splits_runs_at_the_warning_line():
    def run(success, lowest, starts_from=None):
        fields = {"cards": 1.0, "formula": lowest}
        return {
            "env": "icl/EZPoints-v0",
            "starts_from": starts_from,
            "success_rate": success,
            "read_check": {"field_accuracy": fields, "frames": 80},
        }

    data = {
        "runs": {"a": run(0.0, 0.25), "b": run(100.0, 0.95), "c": run(90.0, 0.90), "ppo": run(0.0, 0.1, "a")}
    }
    (row,) = _script().read_check_table(data).splitlines()[2:]  # only the game with runs, PPO runs left out
    assert row == "| EZPoints | 3 | 1 | 0.0 to 0.0 (mean 0.0) | 90.0 to 100.0 (mean 95.0) |"


def test_the_page_quotes_the_misreads_file():
    """The counts of wrong answer fields the page gives are the file's (docs/scripts/vlm_misreads.py)."""
    misreads = json.loads((ROOT / "docs" / "data" / "vlm_misreads.json").read_text())
    assert misreads["provenance"]["written_by"] == "docs/scripts/vlm_misreads.py"
    numberline = misreads["runs"]["numberline-sft-read400-sft800-seed2"]
    wrong = numberline["wrong"]
    at_zero = sum(
        n for pair, n in numberline["confusions"]["current number"].items() if pair.startswith("0 -> ")
    )
    assert (
        f"`current number` in {wrong['current number']} of its {numberline['answers']} answers and a wrong\n"
        f"  target in {wrong['target number']}; every wrong current number it writes is a 3 ({at_zero} of"
    ) in PAGE
    assert set(numberline["confusions"]["current number"]) == {f"{v} -> 3" for v in "01245"}
    ezpoints = misreads["runs"]["ezpoints-sft-seed2"]
    assert ezpoints["wrong"]["formula"] == ezpoints["answers"]
    assert (
        f"formula wrong in all {ezpoints['answers']} of its answers and the cards in {ezpoints['wrong']['cards']}"
        in PAGE
    )


def test_an_encoder_probe_reads_what_the_tokens_tell_apart_and_nothing_else():
    """``fit_probe`` of docs/scripts/vlm_encoder_probe.py: held-out accuracy 1 on features that
    carry the label, about chance (1/4) on features drawn apart from it."""
    import torch

    probe = load_file_module(
        ROOT / "docs" / "scripts" / "vlm_encoder_probe.py", "docs_scripts_vlm_encoder_probe"
    )
    generator = torch.Generator().manual_seed(0)
    labels = torch.randint(4, (600,), generator=generator)
    noise = torch.randn(600, 32, generator=generator)
    carrying = noise.clone()
    carrying[:, :4] += 10 * torch.nn.functional.one_hot(labels, 4)
    torch.manual_seed(0)  # the probes' initial weights
    assert probe.fit_probe(carrying, labels, 4, 400) == 1.0
    assert probe.fit_probe(noise, labels, 4, 400) < 0.4


def test_the_page_quotes_the_encoder_probe_file():
    """The probe accuracies the page gives are the file's (docs/scripts/vlm_encoder_probe.py)."""
    probes = json.loads((ROOT / "docs" / "data" / "vlm_encoder_probe.json").read_text())
    assert probes["provenance"]["written_by"] == "docs/scripts/vlm_encoder_probe.py"
    numberline = [r for name, r in probes["runs"].items() if name.startswith("numberline")]
    assert len(numberline) == 5 and all(r["held_out"] == 400 for r in numberline)
    assert all(v == 1.0 for r in numberline for v in r["accuracy"].values())
    assert "read both NumberLine numbers on all 400 held-out frames" in PAGE

    def read_parts(name):
        accuracy = probes["runs"][name]["accuracy"]
        first = [v for slot, v in accuracy.items() if slot != "formula 4"]
        return f"{100 * min(first):.1f} to {100 * max(first):.0f}%", f"{100 * accuracy['formula 4']:.0f}%"

    (trained, trained_fifth), (frozen, frozen_fifth) = map(
        read_parts, ["ezpoints-sft-seed2", "ezpoints-sft-frozen-seed2"]
    )
    assert f"the cards and the first four formula slots on {trained}" in PAGE
    assert f"(frozen: {frozen}), the fifth slot on {trained_fifth} (frozen: {frozen_fifth})" in PAGE
