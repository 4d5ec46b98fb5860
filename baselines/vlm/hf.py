"""The Hugging Face LLaVA adapter: a local LLaVA checkpoint behind the small VLM's interface.

A user with LLaVA weights on disk (a folder written by ``save_pretrained``: ``config.json``, the
weights, the tokenizer, ``preprocessor_config.json``) trains and evaluates it with the very trainer,
generation code and run-folder agent of the small VLM (``--hf.path DIR``): :class:`HFVLM` offers what
they call on :class:`baselines.vlm.model.VLM` (``forward`` over ``[image][prompt]`` with a KV cache,
``logits``, ``value``, ``image_tokens``, ``config.image_size``/``max_tokens``) and :class:`HFCodec`
what they call on the tokenizer. LoRA (``peft``) on the language model's attention projections; the
multimodal projector and a new value head are trained in full. The run folder keeps only those
trainable weights; the base model is read from ``hf.path`` each time.

Nothing is downloaded: ``HF_HUB_OFFLINE=1`` is set before ``transformers`` is imported and every
``from_pretrained`` gets ``local_files_only=True``; a path that is not a local checkpoint is an error.

Layout of a sequence: ``[BOS][image features][prompt][answer]``, BOS only when the tokenizer has one
(Llama's). The adapter embeds the image itself (vision tower, then projector, as LLaVA's own
``get_image_features``) and runs the language model on the embeddings, so no ``<image>`` placeholder
tokens and no chat template are involved: the prompt is the env's JSON-answer prompt, as for the small
VLM, and supervised warm-up teaches the answer format. Frames are rescaled and normalised as CLIP's
image processor does (mean and std from ``preprocessor_config.json``), at the vision tower's size.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from baselines.configs import check_choice, fail
from baselines.vlm.model import ModelConfig, positions_and_attention
from baselines.vlm.tokenizer import TextCodec

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}
#: OpenAI CLIP's normalisation, when a checkpoint has no preprocessor_config.json.
CLIP_MEAN, CLIP_STD = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)


@dataclass
class HFConfig:
    """A local Hugging Face LLaVA checkpoint instead of the small VLM (empty ``path``: the small VLM)."""

    path: str = ""
    """Folder of a LLaVA checkpoint saved by ``save_pretrained`` (never a hub id: nothing is downloaded);
    best absolute: the run folder's agent reads the base model from it."""
    lora_rank: int = 8
    """Rank of the LoRA adapters."""
    lora_alpha: float = 16.0
    """LoRA scaling numerator (the update is scaled by alpha / rank)."""
    lora_targets: str = "q_proj,v_proj"
    """Comma-separated module names of the language model that get LoRA adapters."""
    train_projector: bool = True
    """Train the multimodal projector in full (LLaVA's fine-tuning recipe); false: frozen."""
    dtype: str = "float32"
    """Weights' dtype: float32 or bfloat16 (bfloat16 halves a 7B model's memory on a GPU)."""


def check_hf_config(config: HFConfig) -> None:
    check_choice("hf.dtype", config.dtype, tuple(DTYPES))
    if config.lora_rank < 1:
        fail("hf.lora_rank", f"must be >= 1; got {config.lora_rank}")
    if not _targets(config):
        fail(
            "hf.lora_targets",
            f"must name at least one module, e.g. 'q_proj,v_proj'; got {config.lora_targets!r}",
        )


def _targets(config: HFConfig) -> list[str]:
    return [name.strip() for name in config.lora_targets.split(",") if name.strip()]


def _import_transformers():
    """``transformers`` and ``peft``, imported here only (heavy, and the ``vlm`` extra's), offline."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        import peft
        import transformers
    except ImportError as error:
        raise ImportError(
            "the LLaVA adapter needs transformers and peft: pip install 'icl-envs[vlm]'"
        ) from error
    return transformers, peft


def checkpoint_folder(path: str | Path) -> Path:
    """``path`` as a local checkpoint folder, or a clear error (hub ids are refused, not fetched)."""
    folder = Path(path).expanduser()
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(
            f"hf.path={str(path)!r} is not a local checkpoint folder (no config.json there); the adapter "
            "never downloads: save the model with save_pretrained and pass that folder"
        )
    return folder


class HFCodec(TextCodec):
    """A ``transformers`` tokenizer with :class:`TextCodec`'s interface (token texts, offsets, ids).

    A token's text is what it adds to a decoded sequence (``decode([a, i])`` minus ``decode([a])``):
    SentencePiece tokenizers drop the leading space of a sequence's first token, so decoding one
    token alone would lose it. Special tokens have no text.
    """

    def __init__(self, tokenizer, image_token_id: int | None = None):
        self.tokenizer = tokenizer
        self.vocab_size = len(tokenizer)
        self.eos_id = tokenizer.eos_token_id
        if self.eos_id is None:
            raise ValueError("the checkpoint's tokenizer has no end-of-sequence token (eos_token)")
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else self.eos_id
        self.bos_id = tokenizer.bos_token_id
        special = set(tokenizer.all_special_ids) | {image_token_id}
        anchor = tokenizer.encode("a", add_special_tokens=False)

        def decode(ids: list[int]) -> str:
            return tokenizer.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)

        start = len(decode(anchor))
        self.token_text = [
            "" if i in special else decode(anchor + [i])[start:] for i in range(self.vocab_size)
        ]
        self._index_token_texts()

    def encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False)

    def save(self, folder: str | Path) -> None:
        """Nothing: the tokenizer stays with the checkpoint at ``hf.path``."""


class HFVLM(nn.Module):
    """A LLaVA model (LoRA-wrapped in place) with a value head, called as :class:`VLM` is."""

    def __init__(self, llava, config: ModelConfig, image_tokens: int, codec: HFCodec, mean, std):
        super().__init__()
        self.llava, self.config, self._image_tokens = llava, config, image_tokens
        self.bos_id, self.vocab_size = codec.bos_id, codec.vocab_size
        hidden = llava.config.text_config.hidden_size
        self.value_head = nn.Linear(hidden, 1)
        nn.init.normal_(self.value_head.weight, std=0.02)
        nn.init.zeros_(self.value_head.bias)
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)
        # Never generated: the image placeholder and the rows past the tokenizer (padded vocabularies).
        never = torch.zeros(llava.config.text_config.vocab_size)
        never[codec.vocab_size :] = float("-inf")
        if llava.config.image_token_id < codec.vocab_size:
            never[llava.config.image_token_id] = float("-inf")
        self.register_buffer("never", never, persistent=False)

    @property
    def image_tokens(self) -> int:
        return self._image_tokens

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def image_embeddings(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 ``(B, H, W, 3)`` frames at the vision tower's size -> projected features."""
        pixels = (images.permute(0, 3, 1, 2).float() / 255.0 - self.mean) / self.std
        tower_dtype = next(self.llava.model.vision_tower.parameters()).dtype
        features = self.llava.model.get_image_features(pixel_values=pixels.to(tower_dtype)).pooler_output
        return torch.stack(list(features))

    def forward(self, images, tokens, mask, cache=None, image_embeddings=None):
        """As :meth:`VLM.forward`: hidden states of ``[image][tokens]`` (BOS, when there is one, is
        read but its state not returned), or of ``tokens`` alone after ``cache``."""
        embed = self.llava.get_input_embeddings()
        x = embed(tokens)
        rows = tokens.shape[0]
        if cache is None:
            if image_embeddings is None:
                image_embeddings = self.image_embeddings(images)
            parts = [image_embeddings.to(x.dtype), x]
            if self.bos_id is not None:
                parts.insert(0, embed(torch.full((rows, 1), self.bos_id, device=tokens.device)))
            x = torch.cat(parts, dim=1)
        if self.bos_id is not None:
            mask = torch.cat([torch.ones((rows, 1), dtype=torch.bool, device=mask.device), mask], dim=1)
        positions, attend = positions_and_attention(mask, x.shape[1])
        # transformers passes a 4D mask as given to SDPA (loaded with attn_implementation="sdpa"),
        # which reads a bool mask whatever dtype autocast gives the queries.
        out = self.llava.model.language_model(
            inputs_embeds=x, attention_mask=attend, position_ids=positions, cache=cache, use_cache=True
        )
        hidden = out.last_hidden_state
        if cache is None and self.bos_id is not None:
            hidden = hidden[:, 1:]
        return hidden, out.cache

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.llava.lm_head(hidden).float() + self.never

    def value(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.value_head(hidden.float()).squeeze(-1)

    def unembedding(self) -> torch.Tensor:
        """The language-model head's rows (vocabulary × width), for the token check."""
        return self.llava.lm_head.weight[: self.vocab_size]

    def trainable_state_dict(self) -> dict[str, torch.Tensor]:
        """The weights a run folder keeps: LoRA, the projector (when trained), the value head."""
        return {name: p.detach() for name, p in self.named_parameters() if p.requires_grad}

    def load_trainable_state_dict(self, weights: dict[str, torch.Tensor]) -> None:
        expected = set(self.trainable_state_dict())
        if set(weights) != expected:
            raise ValueError(
                "the run folder's weights do not fit this LoRA set-up (hf.lora_rank, hf.lora_targets, "
                f"hf.train_projector): {len(set(weights) ^ expected)} tensors differ, e.g. "
                f"{sorted(set(weights) ^ expected)[:3]}"
            )
        self.load_state_dict(weights, strict=False)


def load_llava(config: HFConfig, model_config: ModelConfig) -> tuple[HFVLM, HFCodec]:
    """The checkpoint at ``config.path`` with fresh LoRA adapters (B = 0: the model starts as saved)."""
    check_hf_config(config)
    folder = checkpoint_folder(config.path)
    transformers, peft = _import_transformers()
    hf_config = transformers.AutoConfig.from_pretrained(folder, local_files_only=True)
    if hf_config.model_type != "llava":
        raise ValueError(
            f"hf.path={config.path!r} holds a {hf_config.model_type!r} model; the adapter reads LLaVA "
            "checkpoints (model_type 'llava', LlavaForConditionalGeneration)"
        )
    vision = hf_config.vision_config
    if model_config.image_size != vision.image_size:
        fail(
            "model.image_size",
            f"must equal the checkpoint's vision tower size, {vision.image_size} (frames are resized to "
            f"it before the tower); got {model_config.image_size}",
        )
    limit = hf_config.text_config.max_position_embeddings
    if model_config.max_tokens >= limit:
        fail(
            "model.max_tokens",
            f"must be below the language model's {limit} positions; got {model_config.max_tokens}",
        )
    llava = transformers.LlavaForConditionalGeneration.from_pretrained(
        folder, local_files_only=True, dtype=DTYPES[config.dtype], attn_implementation="sdpa"
    )
    codec = HFCodec(
        transformers.AutoTokenizer.from_pretrained(folder, local_files_only=True), hf_config.image_token_id
    )
    lora = peft.LoraConfig(
        r=config.lora_rank,
        lora_alpha=config.lora_alpha,
        lora_dropout=0.0,  # dropout would make the update's forward differ from the rollout's
        target_modules=rf".*language_model.*\.({'|'.join(_targets(config))})",
        modules_to_save=["multi_modal_projector"] if config.train_projector else None,
    )
    peft.get_peft_model(llava, lora)  # wraps in place: ``llava``'s modules now carry the adapters
    mean, std = _normalisation(folder)
    grid = vision.image_size // vision.patch_size
    image_tokens = grid * grid + (1 if hf_config.vision_feature_select_strategy == "full" else 0)
    return HFVLM(llava, model_config, image_tokens, codec, mean, std), codec


def _normalisation(folder: Path) -> tuple[tuple[float, ...], tuple[float, ...]]:
    path = folder / "preprocessor_config.json"
    if not path.is_file():
        return CLIP_MEAN, CLIP_STD
    saved = json.loads(path.read_text())
    return tuple(saved.get("image_mean", CLIP_MEAN)), tuple(saved.get("image_std", CLIP_STD))
