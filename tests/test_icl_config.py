"""The in-context transformers' config as data: nested configs, older flat run folders, the command line."""

from __future__ import annotations

import ast
import dataclasses
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import leaderboard
from baselines.configs import config_fields
from baselines.icl.agent import RunAgent
from baselines.icl.cli import OPTIONS
from baselines.icl.models import ModelConfig
from baselines.icl.samplers import PromptConfig
from baselines.icl.train import TrainConfig, load_config, load_model, train
from leaderboard.cli import app

# One torch thread for these tiny tensors (see tests/conftest.py).
pytestmark = pytest.mark.usefixtures("one_torch_thread")

#: config.json of an MRP softmax run as versions before the nesting wrote it: every field, flat.
FLAT_CONFIG = {
    "task": "icl-mrp", "model": "softmax", "layers": 1, "steps": 3, "batch_size": 8, "lr": 0.001,
    "lr_final": 0.0001, "warmup_steps": 50, "weight_decay": 0.0, "grad_clip": 1.0, "seed": 0,
    "device": "cpu", "bf16": True, "compile": False, "loss_on": "auto", "target": "value", "d": 4,
    "n": 6, "noise_std": 0.0, "covariance": "identity", "weight_prior": "identity",
    "rotation": "per_task", "num_states": 10, "gamma": 0.9, "mrp": "boyan", "rewards": "random",
    "objective": "discounted", "tied": False, "activation": None, "width": 32, "heads": 2,
    "feature_dim": 16, "backend": "auto", "init_std": 0.02, "normalize_by": "n", "out": "runs/icl",
    "log_every": 1, "checkpoint_every": 1000, "resume": True, "progress": False, "max_seconds": 0.0,
}  # fmt: skip
NESTED_CONFIG = TrainConfig(
    prompts=PromptConfig(task="icl-mrp", d=4, n=6),
    model=ModelConfig(kind="softmax", width=32, heads=2),
    steps=3,
    batch_size=8,
    device="cpu",
    log_every=1,
    progress=False,
)


def test_a_flat_config_reads_as_the_nested_one():
    assert TrainConfig.from_dict(FLAT_CONFIG) == NESTED_CONFIG
    assert TrainConfig.from_dict(dataclasses.asdict(NESTED_CONFIG)) == NESTED_CONFIG
    with pytest.raises(ValueError, match=r"has unknown fields \['colour'\]"):
        TrainConfig.from_dict({**FLAT_CONFIG, "colour": "blue"})


def test_run_folders_with_a_flat_config_load_act_and_resume(tmp_path):
    config = dataclasses.replace(NESTED_CONFIG, out=str(tmp_path / "run"))
    run = train(config)
    weights = (run / "model.safetensors").read_bytes()
    # The folder as an older version left it: its config.json flat.
    (run / "config.json").write_text(json.dumps({**FLAT_CONFIG, "out": config.out}))
    assert load_config(run) == config
    model, loaded = load_model(run)
    assert loaded == config and model.max_steps == 7
    agent = RunAgent(run)  # what the harness's run:DIR loads
    agent.reset("icl/MRPValue-v0", {"d": 4, "n": 6})
    with pytest.raises(ValueError, match="trained with d=4"):
        agent.reset("icl/MRPValue-v0", {"d": 5})
    # Resuming compares the flat config with the nested one, continues, and rewrites it nested.
    train(dataclasses.replace(config, steps=4))
    assert json.loads((run / "state.json").read_text())["step"] == 4
    assert (run / "model.safetensors").read_bytes() != weights
    assert json.loads((run / "config.json").read_text())["model"]["kind"] == "softmax"


def test_cli_spells_fields_by_path_by_name_and_with_set(tmp_path):
    out = tmp_path / "run"
    args = [
        "train", "icl-regression", "--model.kind", "softmax", "--model.layers", "2", "--heads", "2",
        "--set", "model.width=16", "--set", "feature_dim=8", "--prompts.n", "5", "--steps", "1",
        "--batch-size", "4", "--device", "cpu", "--progress", "false", "--out", str(out),
    ]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    config = load_config(out)
    assert config.model == ModelConfig(kind="softmax", layers=2, heads=2, width=16, feature_dim=8)
    assert (config.prompts.task, config.prompts.d, config.prompts.n) == ("icl-regression", 5, 5)
    assert (config.steps, config.batch_size, config.progress) == (1, 4, False)
    bad = CliRunner().invoke(app, ["train", "icl-mrp", "--model.layers", "two", "--out", str(tmp_path / "b")])
    assert bad.exit_code == 2 and "--model.layers expects an integer; got 'two'" in bad.output
    assert not (tmp_path / "b").exists()


def test_cli_help_lists_every_field_with_its_docstring():
    result = CliRunner().invoke(app, ["train", "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "Usage: icl-bench train [OPTIONS]" in result.output
    # The other trainers are named before the transformers' options.
    assert "KIND one of vlm, dt, reinformer, bc, ad, dpt" in result.output.split("Usage:")[0]
    assert "--model.kind, --kind, --model TEXT" in result.output
    assert "--model.layers, --layers INT" in result.output and "Number of attention layers." in result.output
    assert "--batch-size INT" in result.output and "--set KEY=VALUE" in result.output
    # Every field but the task (the argument) is an option, spelled by its path.
    paths = {f.path for f in config_fields(TrainConfig)} - {"prompts.task"}
    # 40 fields, then 6 for MQAR prompts (vocabulary, pairs, length, placement, filler, gap exponent).
    assert len(paths) == 46 and {f.path for f in OPTIONS.names.values()} == paths
    for path in paths:
        assert "--" + path.replace("_", "-") in result.output


def test_leaderboard_imports_no_baselines_module():
    """``icl-bench train`` runs baselines.icl.cli:app by reference: no import of it, lazy or not."""
    for path in Path(leaderboard.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                modules = [node.module or ""]
            else:
                continue
            assert not [m for m in modules if m.split(".")[0] == "baselines"], (path, modules)
