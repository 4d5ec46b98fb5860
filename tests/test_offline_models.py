"""The offline models (baselines/offline): losses, overfitting, DDP, run folders as agents, resume."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from offline_fixtures import numberline_dataset

from baselines.offline.cli import train_from_cli
from baselines.offline.observations import dataset_episodes
from baselines.offline.reinformer import expectile_loss
from baselines.offline.runs import load_model
from baselines.offline.sequences import EpisodeTable, returns_to_go, top_episodes
from baselines.offline.train import load_dataset
from benchmarks.live import in_loopback_namespace
from leaderboard.harness import evaluate

#: A model small enough to train in a second on a loaded CPU.
TINY = ["context=4", "embed_dim=16", "layers=1", "heads=1", "dropout=0", "warmup_steps=5", "lr=3e-3"]
QUIET = ["progress=false", "resume=false", "batch_size=32"]


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread: on a shared 2-core machine two threads ran 5-20× slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
    """NumberLine datasets: ``optimal`` (the solver's actions only) and ``mixed`` (30% random steps)."""
    root = tmp_path_factory.mktemp("minari")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MINARI_DATASETS_PATH", str(root))
        numberline_dataset("test/numberline/optimal-v0", episodes=100, random_share=0.0)
        numberline_dataset("test/numberline/mixed-v0", episodes=40, random_share=0.3, seed=100)
    return root


@pytest.fixture
def minari_path(datasets, monkeypatch):
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(datasets))
    return datasets


def final_metrics(run_dir) -> dict:
    lines = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [line for line in lines if "loss" in line][-1]


# ---- pieces -----------------------------------------------------------------------------------


def test_expectile_loss_by_hand():
    prediction = torch.tensor([1.0, 1.0, 0.0])
    target = torch.tensor([3.0, 0.0, 0.0])  # u = 2 (under-predicted), -1 (over), 0
    assert expectile_loss(prediction, target, 0.9).tolist() == pytest.approx([0.9 * 4, 0.1 * 1, 0.0])
    assert expectile_loss(prediction, target, 0.99).tolist() == pytest.approx([0.99 * 4, 0.01 * 1, 0.0])
    x, y = torch.randn(50), torch.randn(50)
    assert torch.allclose(expectile_loss(x, y, 0.5), 0.5 * (x - y).square())


def test_return_scale_is_the_best_return_not_the_worst(minari_path):
    from baselines.offline.runs import DatasetInfo
    from baselines.offline.sequences import Episode

    dataset = load_dataset("test/numberline/mixed-v0")
    first = dataset_episodes(dataset)[0]

    def scale(*returns: float) -> float:
        episodes = [Episode(first.observations[:1], first.actions[:1], np.array([r])) for r in returns]
        return DatasetInfo.of(dataset, episodes).return_scale

    # NumberLine's mixed data: random episodes down to -9, the best 1: R̂ = 1 must read 1, not 1/9.
    assert scale(-9.0, 0.0, 1.0) == 1.0
    assert scale(-20.0, 10.0) == 10.0
    assert scale(-3.0, -2.0) == 2.0  # the best return's magnitude, whatever its sign
    assert scale(-0.5, 0.25) == 1.0  # at least 1


def test_lamb_scales_adam_by_the_trust_ratio():
    """One LAMB step by hand: Adam's first update is g / (|g| + eps) ≈ sign(g); the trust ratio
    ‖w‖ / ‖update‖ = 5 / √2 scales it."""
    from baselines.offline.optim import Lamb

    weight = torch.nn.Parameter(torch.tensor([3.0, 4.0]))
    weight.grad = torch.tensor([0.5, -2.0])
    Lamb([weight], lr=0.1, eps=0.0).step()
    expected = torch.tensor([3.0, 4.0]) - 0.1 * (5 / 2**0.5) * torch.tensor([1.0, -1.0])
    assert torch.allclose(weight.detach(), expected, atol=1e-6)


def test_windows_pad_on_the_left_and_returns_to_go(minari_path):
    episodes = dataset_episodes(load_dataset("test/numberline/mixed-v0"))
    assert returns_to_go(np.array([0.0, -1.0, 1.0])).tolist() == [0.0, 0.0, 1.0]
    table = EpisodeTable(episodes)
    first = len(episodes[0].actions)
    windows = table.windows(torch.tensor([0, first - 1]), context=3, return_scale=2.0)
    assert windows.mask[0].tolist() == [False, False, True]
    assert windows.timesteps[1, -1].item() == first - 1
    assert windows.returns_to_go[0, -1].item() == pytest.approx(episodes[0].rewards.sum() / 2.0)
    assert windows.actions[0, :2].tolist() == [0, 0]  # padding is zeros, as the agent pads
    best = top_episodes(episodes, 0.25)
    assert len(best) == 10 and min(e.rewards.sum() for e in best) >= np.median(
        [e.rewards.sum() for e in episodes]
    )


# ---- training ---------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["dt", "reinformer", "bc"])
def test_each_algorithm_overfits_a_tiny_dataset(algorithm, minari_path, tmp_path):
    options = QUIET + ["log_every=100"] + ([*TINY] if algorithm != "bc" else ["dropout=0", "lr=3e-3"])
    run = train_from_cli(
        algorithm, options, dataset="test/numberline/optimal-v0", steps=200, out=str(tmp_path / "run")
    )
    metrics = final_metrics(run)
    # The solver's actions are a function of the observation: the fit drives cross-entropy near 0
    # (it starts at ln 2 = 0.69).
    assert metrics.get("action_loss", metrics["loss"]) < 0.05, metrics
    _, _, info, model = load_model(run)
    assert info.best_return == 1.0 and info.env_id == "icl/NumberLine-v0"
    for name in ("model.safetensors", "config.json", "dataset.json", "agent.json", "metrics.jsonl"):
        assert (run / name).is_file()


def test_ddp_two_processes_take_the_same_steps_as_one(minari_path, tmp_path):
    options = [*TINY, "progress=false", "batch_size=16", "log_every=1", "steps=4", "device=cpu"]
    one = train_from_cli("dt", options, dataset="test/numberline/mixed-v0", out=str(tmp_path / "one"))
    single = [json.loads(line)["loss"] for line in (one / "metrics.jsonl").read_text().splitlines()]
    two = in_loopback_namespace(
        "offline_fixtures:torchrun_losses",
        timeout=300,
        dataset_id="test/numberline/mixed-v0",
        out=str(tmp_path / "two"),
        processes=2,
        options=options,
    )
    assert len(single) == len(two) == 4
    # Same global batch and normalizer: only the order of float sums differs.
    assert two == pytest.approx(single, rel=1e-5, abs=1e-6)


def test_resume_continues_exactly(minari_path, tmp_path):
    options = [*TINY[:-3], "dropout=0.1", "progress=false", "batch_size=16", "log_every=5"]
    straight = train_from_cli(
        "dt",
        options + ["resume=false"],
        dataset="test/numberline/mixed-v0",
        steps=20,
        out=str(tmp_path / "a"),
    )
    train_from_cli("dt", options, dataset="test/numberline/mixed-v0", steps=10, out=str(tmp_path / "b"))
    resumed = train_from_cli(
        "dt", options, dataset="test/numberline/mixed-v0", steps=20, out=str(tmp_path / "b")
    )
    weights_a = load_model(straight)[3].state_dict()
    weights_b = load_model(resumed)[3].state_dict()
    assert all(torch.equal(weights_a[name], weights_b[name]) for name in weights_a)
    steps = [json.loads(line)["step"] for line in (resumed / "metrics.jsonl").read_text().splitlines()]
    assert steps == [5, 10, 15, 20]
    with pytest.raises(ValueError, match="differs in optim.lr"):
        train_from_cli(
            "dt", options + ["lr=0.5"], dataset="test/numberline/mixed-v0", steps=30, out=str(tmp_path / "b")
        )


@pytest.mark.parametrize(
    ("algorithm", "options", "message"),
    [
        ("reinformer", ["tau=1.5"], "tau must lie strictly between 0 and 1"),
        ("dt", ["embed_dim=10", "heads=3"], "heads must divide embed_dim=10"),
        ("bc", ["top_fraction=0"], "top_fraction must lie in"),
        ("dt", ["optimizer=sgd"], "optimizer must be one of 'adamw', 'lamb'"),
        ("dt", ["dataset="], "dataset is required"),
        ("dt", ["dataset=test/numberline/nothing-v0"], "no dataset 'test/numberline/nothing-v0'"),
    ],
)
def test_bad_configs_name_the_field(algorithm, options, message, minari_path, tmp_path):
    with pytest.raises(ValueError, match=message):
        train_from_cli(
            algorithm, ["dataset=test/numberline/mixed-v0", *options, *QUIET], out=str(tmp_path / "r")
        )


def test_set_rejects_unknown_fields():
    with pytest.raises(ValueError, match="has no field 'layerz'"):
        train_from_cli("dt", (), layerz=3)


# ---- playing ----------------------------------------------------------------------------------


def test_run_folder_plays_its_game_through_the_harness(minari_path, tmp_path):
    options = [*QUIET, "dropout=0", "lr=3e-3", "eval_episodes=50", "checkpoint_every=200"]
    run = train_from_cli(
        "bc", options, dataset="test/numberline/optimal-v0", steps=200, out=str(tmp_path / "bc")
    )
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    evaluations = [line for line in lines if "eval_return" in line]  # --eval-episodes at each checkpoint
    assert [line["step"] for line in evaluations] == [200] and evaluations[0]["eval_return"] > 0.9
    results = evaluate(f"run:{run}", "core-v0", progress=False)
    # The agent declares its dataset's env: of core-v0 only the NumberLine entry is played.
    assert [entry.env_id for entry in results.entries] == ["icl/NumberLine-v0"]
    assert not results.complete
    # The solver's policy, cloned from 100 episodes that visit every (current, target) state:
    # the issue asks for a normalized score >= 95 (the optimum is 100).
    assert results.entries[0].normalized_score.value >= 95, results.entries[0].normalized_score
    with pytest.raises(Exception, match="trained on icl/NumberLine-v0, not"):
        evaluate(f"run:{run}", "core-v0", envs=["Blackjack"], progress=False)


@pytest.fixture(scope="module")
def dt_run(datasets, tmp_path_factory):
    """A tiny Decision Transformer trained on the mixed dataset (shared by the agent tests)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MINARI_DATASETS_PATH", str(datasets))
        run = train_from_cli(
            "dt", [*TINY, *QUIET, "log_every=50"], dataset="test/numberline/mixed-v0", steps=50,
            out=str(tmp_path_factory.mktemp("dt") / "run"),
        )  # fmt: skip
    torch.set_num_threads(threads)
    return run


def test_agent_decrements_the_return_to_go_and_restarts_after_an_episode(dt_run):
    from baselines.offline.agent import OfflineAgent

    agent = OfflineAgent(dt_run, target_return=2.0)
    scale = agent.info.return_scale
    obs = {"current": np.array([1, 4]), "target": np.array([3, 0])}
    agent.reset("icl/NumberLine-v0", {"obs_mode": "symbolic"})
    agent.act_batch(obs)
    assert agent.returns_to_go[:, -1] * scale == pytest.approx([2.0, 2.0])
    agent.observe(np.array([-1.0, 1.0]), np.array([False, True]), np.array([False, False]))
    agent.act_batch(obs)  # env 1 auto-resets on this step: its action is ignored, its history kept
    assert agent.returns_to_go[0, -2:] * scale == pytest.approx([2.0, 3.0])
    assert agent.timesteps[:, -1].tolist() == [1, 0]
    agent.observe(np.array([0.0, 0.0]), np.array([False, False]), np.array([False, False]))
    agent.act_batch(obs)  # env 1's new episode: R̂ back at the target, timestep 0, no history
    assert agent.returns_to_go[1, -1] * scale == pytest.approx(2.0)
    assert agent.timesteps[1].tolist() == [0, 0, 0, 0] and agent.timesteps[0, -1] == 2
    with pytest.raises(ValueError, match="trained on icl/NumberLine-v0 with"):
        agent.reset("icl/NumberLine-v0", {"obs_mode": "image"})


def test_isolated_agent_receives_the_rewards_too():
    """``--isolate`` forwards ``observe`` to the agent's process: an agent whose actions follow the
    calls of ``observe`` plays the same episodes in both, and not those of an agent never observed."""
    import dataclasses

    from leaderboard.protocol import SuiteEntry, get_suite

    entry = SuiteEntry("icl/NumberLine-v0", {"obs_mode": "symbolic"}, 64, (10_000,))
    suite = dataclasses.replace(get_suite("core-v0"), entries=(entry,))
    reference = "offline_fixtures:ObservingAgent"
    here = evaluate(reference, suite, progress=False)
    isolated = evaluate(reference, suite, progress=False, isolate=True)
    never = evaluate(reference, suite, progress=False, config={"observing": False})
    assert here.entries[0].returns == isolated.entries[0].returns
    assert here.entries[0].returns != never.entries[0].returns


def test_icl_bench_train_dt_command(minari_path, tmp_path):
    from typer.testing import CliRunner

    from leaderboard.cli import app

    runner = CliRunner()
    shown = runner.invoke(app, ["train", "reinformer", "--help"])
    assert shown.exit_code == 0 and "--tau" in shown.output and "--set" in shown.output
    missing = runner.invoke(
        app, ["train", "dt", "--dataset", "test/numberline/absent-v0", "--out", str(tmp_path / "r")]
    )
    assert missing.exit_code == 2 and "no dataset 'test/numberline/absent-v0'" in missing.output
    bad = runner.invoke(
        app, ["train", "bc", "--dataset", "test/numberline/mixed-v0", "--set", "top_fraction=2"]
    )
    assert bad.exit_code == 2 and "top_fraction must lie in (0, 1]" in bad.output
    done = runner.invoke(
        app,
        [
            "train",
            "bc",
            "--dataset",
            "test/numberline/mixed-v0",
            "--steps",
            "3",
            "--out",
            str(tmp_path / "bc"),
        ]
        + ["--set", "progress=false"],
    )
    assert done.exit_code == 0, done.output
    assert (tmp_path / "bc" / "model.safetensors").is_file()


def test_frames_go_through_the_cnn():
    """Image datasets: (H, W, C) uint8 frames are encoded by the CNN, and it learns."""
    import dataclasses

    from baselines.offline import dt
    from baselines.offline.nets import TransformerConfig
    from baselines.offline.optim import make_optimizer, optimizer_step
    from baselines.offline.runs import DatasetInfo
    from baselines.offline.sequences import Episode

    rng = np.random.default_rng(0)
    episodes = []
    for _ in range(4):  # the action is whether the frame is bright
        bright = rng.integers(0, 2, size=3)
        frames = (bright[:, None, None, None] * 200 + rng.integers(0, 40, size=(3, 36, 36, 3))).astype(
            np.uint8
        )
        episodes.append(Episode(frames, bright, np.zeros(3)))
    table = EpisodeTable(episodes)
    info = DatasetInfo("synthetic", None, {}, "", None, [36, 36, 3], 2, 3, 1.0, 0.0, 0.0, 4)
    config = dataclasses.replace(dt.Config(dataset="synthetic"), model=TransformerConfig(2, 16, 1, 1, 0.0))
    model = dt.build_model(config, info)
    optimizer = make_optimizer(dataclasses.replace(config.optim, lr=3e-3), model.parameters())
    windows = table.windows(torch.arange(len(table)), 2, 1.0)
    first = optimizer_step(model, optimizer, dt, config, windows, windows.mask.sum(), False)[0].item()
    for _ in range(30):
        last = optimizer_step(model, optimizer, dt, config, windows, windows.mask.sum(), False)[0].item()
    assert last < 0.5 * first
    assert model.embed.observation.net[0].weight.grad.abs().sum() > 0


def test_cpu_dropout_drops_at_rate_p_and_scales_the_kept():
    """The 16-bit dropout mask of ``nets.dropout``: the drop rate is p (0.1 is 0.100006), the kept
    values are scaled by 1 / (1 - p) and so is their gradient, the same seed draws the same mask,
    and out of training (or p = 0) it is the identity."""
    from baselines.offline.nets import dropout

    x = torch.ones(1000, 257, requires_grad=True)  # an odd size: the last 64-bit draw is cut
    torch.manual_seed(3)
    y = dropout(x, 0.1, True)
    kept = y != 0
    assert abs(1 - kept.float().mean().item() - 0.1) < 0.004  # 257,000 draws: 4 standard deviations
    torch.testing.assert_close(y[kept], torch.full_like(y[kept], 1 / 0.9))
    y.sum().backward()
    torch.testing.assert_close(x.grad, y.detach())
    torch.manual_seed(3)
    assert torch.equal(dropout(x, 0.1, True), y)
    assert not torch.equal(dropout(x, 0.1, True), y)  # the generator moved on
    assert dropout(x, 0.1, False) is x and dropout(x, 0.0, True) is x
    # Each of the four 16-bit lanes of a draw is uniform: p = 0.5 drops half of each lane.
    lanes = (dropout(torch.ones(4 * 20000), 0.5, True) == 0).float().view(-1, 4).mean(dim=0)
    assert torch.allclose(lanes, torch.full((4,), 0.5), atol=0.015)


@pytest.mark.parametrize("masked", [False, True])
def test_cpu_attention_with_dropout_is_sdpa_before_the_dropout(masked, monkeypatch):
    """With dropout on the CPU, ``nets.attention`` computes the weights itself: without the dropout
    (patched to the identity) it is ``scaled_dot_product_attention``, causal or with the mask."""
    from torch.nn import functional as F

    from baselines.offline import nets

    q, k, v = torch.randn(3, 2, 7, 8), torch.randn(3, 2, 7, 8), torch.randn(3, 2, 7, 8)
    allowed = None
    if masked:
        valid = torch.rand(3, 7) > 0.4
        causal = torch.ones(7, 7, dtype=torch.bool).tril()
        allowed = ((causal & valid[:, None, :]) | torch.eye(7, dtype=torch.bool))[:, None]
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed, is_causal=allowed is None)
    monkeypatch.setattr(nets, "dropout", lambda x, p, training: x)
    torch.testing.assert_close(nets.attention(q, k, v, allowed, 0.1), expected)


@pytest.mark.parametrize("masked", [False, True])
def test_the_last_block_computes_only_the_rows_read(masked):
    """``CausalTransformer(x, valid, rows)`` equals the full transformer's output at ``rows``, and
    so do the gradients of a loss on them (the skipped rows' outputs are never read)."""
    from baselines.offline.nets import CausalTransformer

    torch.manual_seed(0)
    transformer = CausalTransformer(dim=16, layers=2, heads=2, dropout=0.0)
    x = torch.randn(3, 12, 16)
    valid = (torch.rand(3, 12) > 0.3) if masked else None
    rows = torch.arange(1, 12, 3)
    full = transformer(x, valid)[:, rows]
    (full.square().sum()).backward()
    expected = [p.grad.clone() for p in transformer.parameters()]
    transformer.zero_grad()
    part = transformer(x, valid, rows)
    part.square().sum().backward()
    torch.testing.assert_close(part, full)
    for got, want in zip((p.grad for p in transformer.parameters()), expected):
        torch.testing.assert_close(got, want)


@pytest.mark.parametrize("algorithm", ["dt", "reinformer"])
def test_masked_padding_is_invisible_and_trimmed_away(algorithm):
    """With ``mask_padding`` the real steps' outputs depend neither on what the padding holds nor on
    how much of it there is (so training may cut it); without it, they do (the test can fail)."""
    import dataclasses

    from baselines.offline import dt, reinformer
    from baselines.offline.nets import TransformerConfig
    from baselines.offline.runs import DatasetInfo
    from baselines.offline.sequences import Episode

    module = {"dt": dt, "reinformer": reinformer}[algorithm]
    rng = np.random.default_rng(0)
    episodes = [
        Episode(rng.integers(0, 6, size=(n, 2)), rng.integers(0, 2, size=n), rng.normal(size=n))
        for n in (2, 3, 7)
    ]
    table = EpisodeTable(episodes)
    info = DatasetInfo("synthetic", None, {}, "", [6, 6], None, 2, 7, 3.0, 1.0, 0.0, 3)
    ends = torch.tensor([0, 1, 2, 3, 5])  # at most 2 real steps each: 4 of the 6 columns are padding

    def outputs(mask_padding: bool, windows):
        torch.manual_seed(0)
        config = dataclasses.replace(
            module.Config(dataset="synthetic"), model=TransformerConfig(6, 16, 2, 2, 0.0, mask_padding)
        )
        model = module.build_model(config, info).eval()
        result = model(windows)
        return result[-1] if isinstance(result, tuple) else result  # the action logits

    windows = table.windows(ends, 6, 3.0)
    scrambled = dataclasses.replace(
        windows,
        observations=torch.where(windows.mask[..., None], windows.observations, 5),
        actions=torch.where(windows.mask, windows.actions, 1),
        returns_to_go=torch.where(windows.mask, windows.returns_to_go, 9.0),
    )
    trimmed = windows.trimmed()
    assert trimmed.mask.shape == (5, 2) and bool(trimmed.mask.any(dim=0).all())
    real = windows.mask
    reference = outputs(True, windows)[real]
    torch.testing.assert_close(outputs(True, scrambled)[real], reference)
    torch.testing.assert_close(outputs(True, trimmed)[trimmed.mask], reference)
    assert not torch.allclose(outputs(False, scrambled)[real], outputs(False, windows)[real])


@pytest.mark.parametrize("game", ["NumberLine", "Blackjack"])
def test_image_dataset_trains_on_the_env_frames_and_plays_pixels(game, tmp_path, monkeypatch):
    """An image dataset (states stored, frames drawn on load) trains through the CNN, on exactly the
    env's frames, and its run folder plays the game's pixels-v0 entry."""
    import dataclasses

    import gymnasium as gym

    from baselines.offline.collect import collect
    from baselines.offline.sequences import FrameEncoder, shrink_frames
    from baselines.offline.train import read_episodes
    from leaderboard.protocol import DEV_SEEDS_V0, SuiteEntry, get_suite

    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    dataset = collect(
        game, "mixed", 6, obs_mode="image", seed=11, dataset_id=f"test/{game.lower()}-image/mixed-v0"
    )
    info, episodes = read_episodes(dataset.id)
    first, _ = gym.make(f"icl/{game}-v0", obs_mode="image").reset(seed=11)  # episode 0's seed
    # The training table holds the frames as the CNN reads them (averaged over 4x4 blocks, once).
    assert info.frame_shape == [300, 300, 3]
    assert np.array_equal(episodes[0].observations[0], shrink_frames(first, 4).numpy())
    run = train_from_cli(
        "dt", [*TINY, *QUIET, "context=2", "batch_size=4", "log_every=1"], dataset=dataset.id, steps=2,
        out=str(tmp_path / "run"),
    )  # fmt: skip
    _, _, _, model = load_model(run)
    encoder = model.embed.observation
    assert isinstance(encoder, FrameEncoder) and encoder.pool == 4  # 300 px averaged to 75 px
    raw = torch.as_tensor(np.stack([first, first]))
    with torch.no_grad():  # the agent's raw frames and the table's shrunk ones: the same features
        assert torch.allclose(encoder(raw), encoder(shrink_frames(raw, 4)))
    assert (run / "dataset.json").stat().st_size < 5000  # the frame space is its shape, not 2.5 MB
    entry = SuiteEntry(f"icl/{game}-v0", {"obs_mode": "image"}, 4, (DEV_SEEDS_V0[0],))
    results = evaluate(
        f"run:{run}", dataclasses.replace(get_suite("pixels-v0"), entries=(entry,)), progress=False
    )
    assert [e.env_id for e in results.entries] == [f"icl/{game}-v0"] and len(
        results.entries[0].returns[0]
    ) == 4


def test_d3rlpy_export_writes_one_hot_episodes(minari_path, tmp_path):
    """The by-hand d3rlpy cross-check's export (benchmarks/anchors/d3rlpy_dt.py): the episodes as
    d3rlpy's arrays, and our DT's settings, which d3rlpy's run takes."""
    from benchmarks.anchors.d3rlpy_dt import export

    info, settings = export(
        "test/numberline/mixed-v0", 10, ["context=4", "batch_size=8"], tmp_path / "nl.npz"
    )
    data = np.load(tmp_path / "nl.npz")
    assert data["observations"].shape[1] == 12 and (data["observations"].sum(axis=1) == 2).all()
    assert len(data["actions"]) == len(data["rewards"]) == len(data["terminals"]) == len(data["observations"])
    assert data["terminals"].sum() == 40
    assert (settings["steps"], settings["context"], settings["batch_size"]) == (10, 4, 8)
    assert int(data["setting_context"]) == 4 and float(data["setting_target_return"]) == info.best_return
    # Warm-up in real steps: each window holds between 1 and `context` of them.
    assert settings["warmup_steps"] * 8 < settings["warmup_tokens"] < settings["warmup_steps"] * 8 * 4
