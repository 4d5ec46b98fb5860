"""The Hugging Face LLaVA adapter (baselines/vlm/hf.py): a tiny random LLaVA built from configs, saved
with ``save_pretrained``, loaded through the path a real checkpoint takes, LoRA, SFT and one PPO step
with the VLM trainer, then played as a run-folder agent on vl-v0's NumberLine."""

import json

import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from baselines.vlm.generate import batch_prompts, rollout_score_gap
from baselines.vlm.hf import HFCodec, HFConfig, load_llava
from baselines.vlm.model import ModelConfig
from baselines.vlm.tasks import numberline_corpus
from baselines.vlm.tokenizer import EOS, PAD, train_tokenizer
from baselines.vlm.tokens import INVALID_UTF8, check_model, reference_ids, required_tokens, round_trips
from baselines.vlm.train import PPOConfig, SFTConfig, TrainConfig, load_model, train
from leaderboard.cli import app
from leaderboard.harness import play_entry
from leaderboard.loading import load_agent
from leaderboard.protocol import SuiteEntry

IMAGE = 32


@pytest.fixture(scope="module")
def llava_dir(tmp_path_factory):
    """A 60k-parameter LLaVA (CLIP vision tower, Llama decoder) and its tokenizer, saved as a real one is."""
    import transformers  # the adapter's optional dependency (the vlm extra)

    folder = tmp_path_factory.mktemp("tiny-llava")
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=train_tokenizer(numberline_corpus(), 300),
        eos_token=EOS,
        pad_token=PAD,
        extra_special_tokens={"image_token": "<image>"},
        padding_side="left",
    )
    sizes = dict(hidden_size=32, intermediate_size=64, num_attention_heads=2)
    config = transformers.LlavaConfig(
        vision_config=transformers.CLIPVisionConfig(
            image_size=IMAGE, patch_size=8, num_hidden_layers=1, **sizes
        ),
        text_config=transformers.LlamaConfig(
            vocab_size=len(tokenizer),
            num_hidden_layers=2,
            num_key_value_heads=2,
            max_position_embeddings=256,
            **sizes,
        ),
        image_token_id=tokenizer.image_token_id,
        vision_feature_select_strategy="default",
        vision_feature_layer=-1,
    )
    torch.manual_seed(0)
    transformers.LlavaForConditionalGeneration(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    processor = transformers.CLIPImageProcessorPil(
        size={"shortest_edge": IMAGE}, crop_size=IMAGE, image_mean=[0.5] * 3, image_std=[0.25] * 3
    )
    processor.save_pretrained(folder)
    return folder


def _config(tmp_path, llava_dir, **changes):
    fields = dict(
        env="icl/NumberLine-v0",
        out=str(tmp_path / "run"),
        progress=False,
        thoughts=False,
        short_prompt=True,
        max_new_tokens=16,
        model=ModelConfig(image_size=IMAGE, max_tokens=96),
        hf=HFConfig(path=str(llava_dir), lora_rank=4),
        sft=SFTConfig(episodes=10, steps=6, batch_size=8, lr=3e-3),
        ppo=PPOConfig(iterations=1, num_envs=4, rollout_steps=2, epochs=1, minibatch_size=8, lr=1e-3),
    )
    return TrainConfig(**(fields | changes))


def test_llava_trains_with_the_vlm_trainer_and_plays_as_a_run_folder(tmp_path, llava_dir):
    torch.set_num_threads(1)
    run = train(_config(tmp_path, llava_dir))
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["phase"] for r in records][-1] == "ppo" and records[-1]["iteration"] == 1
    # The run folder keeps only what was trained: LoRA, the projector, the value head.
    saved = load_file(str(run / "model.safetensors"))
    assert any("lora_A" in k for k in saved) and any("multi_modal_projector" in k for k in saved)
    assert "value_head.weight" in saved and not any("embed_tokens" in k for k in saved)
    lora_b = [v for k, v in saved.items() if "lora_B" in k]
    assert lora_b and any(v.abs().max() > 0 for v in lora_b)  # trained away from the zero start

    # Reloaded from the run folder (base from hf.path + the saved weights): the rollout's
    # log-probabilities and values equal the training forward's.
    model, codec, _ = load_model(run)
    assert model.mean.flatten().tolist() == [0.5] * 3  # the checkpoint's image processor was read
    images = torch.randint(0, 256, (3, IMAGE, IMAGE, 3), generator=torch.Generator().manual_seed(0))
    prompts = ["Legal: - +\n", "Current number: 2\nTarget number: 3\nLegal: - +\n", "x"]  # left padding
    batch = batch_prompts(model, codec, images.to(torch.uint8), prompts)
    logprob_gap, value_gap = rollout_score_gap(model, codec, batch, 16, torch.Generator().manual_seed(1))
    assert logprob_gap <= 1e-5 and value_gap <= 1e-5

    # The token check reads the HF tokenizer and head: every required token round-trips.
    report = check_model(model, codec, ["icl/NumberLine-v0"], thoughts=False)
    assert len(report.reference_ids) == 13 and all(t.round_trip for t in report.tokens)

    entry = SuiteEntry("icl/NumberLine-v0", {"obs_mode": "multimodal"}, 4, (10_000,))
    played = play_entry(load_agent(f"run:{run}"), entry, agent_name="llava", text_actions=True)
    assert played.returns.size == 4


def test_the_adapter_refuses_what_it_cannot_load(tmp_path, llava_dir):
    model = ModelConfig(image_size=IMAGE, max_tokens=96)
    for missing in (str(tmp_path / "nowhere"), "llava-hf/llava-1.5-7b-hf"):
        with pytest.raises(FileNotFoundError, match="not a local checkpoint folder"):
            load_llava(HFConfig(path=missing), model)
    with pytest.raises(
        ValueError, match=f"model.image_size must equal the checkpoint's vision tower size, {IMAGE}"
    ):
        load_llava(HFConfig(path=str(llava_dir)), ModelConfig(image_size=64))
    with pytest.raises(ValueError, match="hf.dtype"):
        train(_config(tmp_path, llava_dir, hf=HFConfig(path=str(llava_dir), dtype="float16")))
    with pytest.raises(ValueError, match="hf.lora_rank"):
        load_llava(HFConfig(path=str(llava_dir), lora_rank=0), model)


def test_the_token_check_reads_a_llava_checkpoint(llava_dir):
    result = CliRunner().invoke(app, ["tokens", str(llava_dir), "--env", "icl/Blackjack-v0", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    # A random model: its never-seen rows do not agree, so nothing is flagged as under-trained.
    assert report["env_ids"] == ["icl/Blackjack-v0"] and not report["indicator_informative"]
    sources = {source for t in report["tokens"] for source in t["sources"]}
    assert {"Blackjack-v0 action 'stand'", "Blackjack-v0 action 'hit'", "Blackjack-v0 skeleton"} <= sources


def test_the_codec_reads_a_sentencepiece_tokenizer():
    """LLaVA-1.5's tokenizer is Llama's: SentencePiece pieces ("▁a" is " a"), byte fallback
    (<0xNN>), and ordinary letters such as "õ" that byte-level BPE would use for byte 0xF5."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2, **{f"<0x{b:02X}>": 3 + b for b in range(256)}}
    for piece in ["▁", *sorted(set('{"action": "+-}, current number target thoughts õ')), "▁a", "▁{"]:
        vocab.setdefault(piece.replace(" ", "▁"), len(vocab))
    model = models.BPE(vocab, [("▁", "a"), ("▁", "{")], byte_fallback=True, unk_token="<unk>")
    tokenizer = Tokenizer(model)
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first")
    tokenizer.decoder = decoders.Sequence(
        [decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)]
    )
    codec = HFCodec(
        PreTrainedTokenizerFast(
            tokenizer_object=tokenizer, bos_token="<s>", eos_token="</s>", unk_token="<unk>"
        )
    )
    assert codec.token_text[vocab["▁a"]] == " a" and codec.token_text[vocab["<0x0A>"]] == "\n"
    assert (codec.eos_id, codec.pad_id, codec.bos_id) == (2, 2, 1)
    answer = '{"action": "+"}'
    assert codec.decode(codec.encode(answer)) == " " + answer  # SentencePiece's leading space
    assert reference_ids(codec) == sorted(vocab[f"<0x{b:02X}>"] for b in INVALID_UTF8)
    assert all(round_trips(codec, t.id) for t in required_tokens(codec, ["icl/NumberLine-v0"]))
