"""The small VLM agent (baselines/vlm): generation, RL4VLM's PPO pieces, the trainer, the run folder."""

import json

import numpy as np
import pytest
import torch

from baselines.vlm.generate import ActionConstraint, batch_prompts, generate, generate_naive, score
from baselines.vlm.model import VLM, ModelConfig
from baselines.vlm.ppo import gae, token_weights
from baselines.vlm.read_check import field_accuracy
from baselines.vlm.tasks import action_span, answer_text
from baselines.vlm.tokenizer import TextCodec, train_tokenizer
from baselines.vlm.train import PPOConfig, SFTConfig, TrainConfig, train
from leaderboard.harness import play_entry
from leaderboard.loading import load_agent
from leaderboard.protocol import SuiteEntry

TINY = ModelConfig(image_size=16, channels=4, image_tokens_side=1, width=64, layers=2, heads=2, max_tokens=96)
CORPUS = [
    answer_text({"current number": str(c), "target number": str(t)}, f"{t} vs {c}", a)
    for c in range(6)
    for t in range(6)
    for a in "-+"
] + ["A number line from 0 to 5. Current number: 2. Target number: 3.\nLegal: - +\n"]


@pytest.fixture(scope="module")
def codec():
    return TextCodec(train_tokenizer(CORPUS, 300))


def _batch(model, codec, prompts, seed=0):
    images = torch.randint(0, 256, (len(prompts), 16, 16, 3), generator=torch.Generator().manual_seed(seed))
    return batch_prompts(model, codec, images.to(torch.uint8), prompts)


def test_rollout_logprobs_equal_the_training_forward(codec):
    torch.manual_seed(0)
    model = VLM(TINY, codec.vocab_size).eval()
    # Prompts of different lengths: left padding must change nothing.
    batch = _batch(model, codec, ["Legal: - +\n", "A number line from 0 to 5.\nLegal: +\n", "x"])
    out = generate(model, codec, batch, 20, temperature=1.0, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        logprobs, values = score(model, batch, out.tokens, out.mask)
    assert out.mask.any(dim=1).all()
    assert torch.allclose(logprobs, out.logprobs, atol=1e-5, rtol=0)
    assert torch.allclose(values, out.values, atol=1e-5, rtol=0)


def test_kv_cache_generation_equals_the_naive_loop(codec):
    torch.manual_seed(1)
    model = VLM(TINY, codec.vocab_size).eval()
    batch = _batch(model, codec, ["Legal: - +\n", "A number line from 0 to 5.\nLegal: +\n"])
    cached = generate(model, codec, batch, 12, temperature=0.0)
    naive = generate_naive(model, codec, batch, 12)
    for row, answer in enumerate(naive):
        assert cached.tokens[row, cached.mask[row]].tolist() == answer


def test_constrained_decoding_writes_a_legal_action(codec):
    torch.manual_seed(2)
    model = VLM(TINY, codec.vocab_size).eval()
    prefix = codec.encode('{"action": "')  # the answer so far ends with the action key
    batch = _batch(model, codec, ["Legal: +\n" + '{"action": "', "Legal: -\n" + '{"action": "'])
    assert prefix  # the key is encodable
    constraint = ActionConstraint(codec, [["+"], ["-"]])
    # The prompt is not part of the answer: seed the rows' text with the key so the constraint is on.
    texts_seen = []
    original = constraint.allowed
    constraint.allowed = lambda row, text: (texts_seen.append(text), original(row, '{"action": "' + text))[1]
    out = generate(
        model,
        codec,
        batch,
        10,
        temperature=1.0,
        generator=torch.Generator().manual_seed(0),
        constraint=constraint,
    )
    assert [codec.decode(row) for row in out.tokens.tolist()] == ['+"}', '-"}']


def test_hyper_projector_starts_as_the_static_one(codec):
    torch.manual_seed(3)
    hyper = VLM(ModelConfig(**{**TINY.__dict__, "projector": "hyper"}), codec.vocab_size)
    images = torch.randint(0, 256, (2, 16, 16, 3), dtype=torch.uint8)
    features = hyper.encoder(images)
    assert torch.equal(hyper.projector(features), hyper.projector.static(features))
    with pytest.raises(ValueError, match="projector must be one of"):
        VLM(ModelConfig(projector="moe"), codec.vocab_size)


def test_thought_weighting_on_a_hand_made_answer(codec):
    text = answer_text({"current number": "2", "target number": "3"}, "3 vs 2", "+")
    ids = codec.encode(text)
    answers = torch.tensor([ids + [codec.eos_id, codec.pad_id]])
    mask = torch.tensor([[True] * (len(ids) + 1) + [False]])
    weights = token_weights(codec, answers, mask, thought_weight=0.5)[0]
    start, end = action_span(text)
    assert text[start:end] == '"action": "+"'
    offsets = codec.offsets(ids)
    expected = [1.0 if (offsets[i] < end and offsets[i + 1] > start) else 0.5 for i in range(len(ids))]
    assert weights.tolist() == expected + [0.5, 0.0]  # the end token is a thought token; padding 0
    assert 1.0 in expected and 0.5 in expected
    logprobs = torch.linspace(-1, -0.1, len(ids) + 2)
    thought = sum(float(lp) for lp, w in zip(logprobs[: len(ids) + 1], expected + [0.5]) if w == 0.5)
    action = sum(float(lp) for lp, w in zip(logprobs, expected) if w == 1.0)
    assert float((weights * logprobs).sum()) == pytest.approx(0.5 * thought + action, abs=1e-6)


def test_gae_stops_at_episode_ends():
    rewards = np.array([[0.0], [1.0], [0.0]])
    values = np.array([[0.5], [0.5], [0.5]])
    dones = np.array([[0.0], [1.0], [0.0]])
    advantages, returns = gae(rewards, values, dones, np.array([2.0]), gamma=0.9, lam=0.95)
    last = 0.0 + 0.9 * 2.0 - 0.5
    second = 1.0 - 0.5  # no bootstrap past the end
    first = (0.0 + 0.9 * 0.5 - 0.5) + 0.9 * 0.95 * second
    assert advantages.ravel() == pytest.approx([first, second, last])
    assert returns.ravel() == pytest.approx(advantages.ravel() + 0.5)


def _config(tmp_path, **changes):
    fields = dict(
        out=str(tmp_path / "run"),
        progress=False,
        vocab_size=320,
        thoughts=False,
        short_prompt=True,
        max_new_tokens=24,
        model=TINY,
        sft=SFTConfig(episodes=150, steps=300, batch_size=32, lr=3e-3),
        ppo=PPOConfig(iterations=0, num_envs=8, rollout_steps=2, minibatch_size=16, lr=1e-3),
    )
    return TrainConfig(**(fields | changes))


def test_sft_alone_solves_numberline_and_ppo_updates_the_run(tmp_path):
    torch.set_num_threads(1)
    run = train(_config(tmp_path))
    assert json.loads((run / "agent.json").read_text())["loader"] == "baselines.vlm.train:load_run"
    entry = SuiteEntry("icl/NumberLine-v0", {"obs_mode": "multimodal"}, 100, (10_000,))
    played = play_entry(load_agent(f"run:{run}"), entry, agent_name="vlm", text_actions=True)
    assert (played.returns > 0).mean() > 0.8 and played.parse_failures == 0
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    (check,) = [r for r in records if r["phase"] == "read_check"]  # the state is in the prompt here
    assert check["sft_step"] == 300 and check["frames"] > 20
    assert min(check["field_accuracy"].values()) >= 0.9, check
    # PPO on top (resumed: more iterations, and a PPO setting chosen now, before the first
    # iteration): a rollout and an update, logged, the weights changed.
    before = (run / "model.safetensors").read_bytes()
    train(
        _config(
            tmp_path, ppo=PPOConfig(iterations=1, num_envs=8, rollout_steps=2, minibatch_size=16, lr=5e-4)
        )
    )
    assert json.loads((run / "config.json").read_text())["ppo"]["lr"] == 5e-4
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    ppo = [r for r in records if r["phase"] == "ppo"]
    assert len(ppo) == 1 and ppo[0]["parse_failure_rate"] < 0.5
    assert json.loads((run / "state.json").read_text())["ppo_iterations"] == 1
    assert (run / "model.safetensors").read_bytes() != before


def test_parse_failures_fall_back_and_are_counted(tmp_path):
    """An untrained model writes no readable answer: every step is a failure, the envs still play."""
    run = train(
        _config(
            tmp_path,
            sft=SFTConfig(episodes=2, steps=0),
            ppo=PPOConfig(iterations=1, num_envs=4, rollout_steps=2, minibatch_size=8),
        )
    )
    (record,) = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert record["phase"] == "ppo" and record["parse_failure_rate"] == 1.0
    # Once PPO has run, its settings are the run's: resuming with another learning rate is refused.
    with pytest.raises(ValueError, match="differs in ppo.lr"):
        train(
            _config(
                tmp_path,
                sft=SFTConfig(episodes=2, steps=0),
                ppo=PPOConfig(iterations=2, num_envs=4, rollout_steps=2, minibatch_size=8, lr=1e-4),
            )
        )


def test_field_accuracy_scores_each_field_and_an_unreadable_answer_as_wrong():
    expected = [answer_text({"current number": "2", "target number": "4"}, "up", "+")] * 4
    answers = [
        expected[0],
        answer_text({"current number": "2", "target number": "5"}, "up", "+"),  # the target misread
        answer_text({"current number": "3", "target number": "4"}, "down", "-"),  # the marker misread
        '{"current number": "2", "target',  # cut short: no field counts
    ]
    assert field_accuracy(answers, expected) == {"current number": 0.5, "target number": 0.5}
    with pytest.raises(ValueError, match="as many answers"):
        field_accuracy(answers[:2], expected)


def test_a_run_that_reads_poorly_is_warned_about_when_sft_ends(tmp_path):
    """Two SFT steps teach nothing: the read check logs the fields' accuracy and names them."""
    config = _config(tmp_path, sft=SFTConfig(episodes=10, steps=2, batch_size=8, read_check_episodes=3))
    with pytest.warns(UserWarning, match=r"read check of .*'current number' on \d+%"):
        run = train(config)
    (check,) = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()][-1:]
    assert check["phase"] == "read_check" and check["field_accuracy"]["current number"] < 0.9


def test_bad_config_is_refused(tmp_path):
    with pytest.raises(ValueError, match="env must be one of"):
        train(_config(tmp_path, env="icl/Chess-v0"))
    with pytest.raises(ValueError, match="ppo.clip"):
        train(_config(tmp_path, ppo=PPOConfig(clip=1.5)))


def test_a_frozen_encoder_stays_as_the_reading_stage_left_it(tmp_path, monkeypatch):
    """``freeze_encoder``: SFT and PPO (also after a resume) train the projector and the decoder but
    leave the encoder as the reading stage left it; without it, SFT changes the encoder too."""
    import baselines.vlm.train as trainer

    torch.set_num_threads(1)
    after_reading = {}

    def align_and_keep(run, data):
        align_encoder(run, data)
        after_reading[run.config.out] = {k: v.clone() for k, v in run.model.state_dict().items()}

    align_encoder = trainer.align_encoder
    monkeypatch.setattr(trainer, "align_encoder", align_and_keep)

    def part_equal(folder, part):
        from safetensors.torch import load_file

        saved, kept = load_file(str(folder / "model.safetensors")), after_reading[str(folder)]
        names = [k for k in kept if k.startswith(part + ".")]
        assert names
        return all(torch.equal(saved[k], kept[k]) for k in names)

    def config(name, freeze, iterations=0):
        return _config(
            tmp_path,
            out=str(tmp_path / name),
            state_in_prompt=False,
            freeze_encoder=freeze,
            sft=SFTConfig(episodes=20, steps=5, batch_size=8, align_steps=5, read_check_episodes=0),
            ppo=PPOConfig(iterations=iterations, num_envs=4, rollout_steps=2, minibatch_size=8, lr=1e-3),
        )

    frozen = train(config("frozen", True))
    assert part_equal(frozen, "encoder") and not part_equal(frozen, "projector")
    train(config("frozen", True, iterations=1))  # resumed: PPO on top
    assert part_equal(frozen, "encoder") and not part_equal(frozen, "projector")
    trained = train(config("trained", False))
    assert not part_equal(trained, "encoder")
    with pytest.raises(ValueError, match="freeze_encoder freezes the encoder that the reading stage trained"):
        train(_config(tmp_path, out=str(tmp_path / "random"), freeze_encoder=True))


def test_the_reading_stage_teaches_the_encoder_the_visible_state(tmp_path):
    """``sft.align_steps``: linear probes on the image tokens learn NumberLine's current and target
    numbers from the frame (chance: a loss of log 6 = 1.79)."""
    torch.set_num_threads(1)
    reader = ModelConfig(
        image_size=32, channels=8, image_tokens_side=4, width=32, layers=1, heads=2, max_tokens=64
    )
    config = _config(
        tmp_path,
        state_in_prompt=False,
        model=reader,
        sft=SFTConfig(episodes=60, steps=1, batch_size=32, lr=3e-3, align_steps=100),
    )
    run = train(config)
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    align = [r["loss"] for r in records if r["phase"] == "align"]
    assert len(align) == 2 and align[-1] < 0.3, align
