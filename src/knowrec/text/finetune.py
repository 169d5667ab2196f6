"""Trainable language models: LoRA adapters (peft) or the top transformer layers, for end-to-end fine-tuning."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any

import torch

from knowrec.errors import ConfigError
from knowrec.text.encoder import TextEncoder


class FineTune(StrEnum):
    FROZEN = "frozen"
    LORA = "lora"
    TOP = "top"


def trainable_lm(model: str, mode: FineTune, *, top_layers: int = 2, lora_rank: int = 8,
                 max_length: int = 64) -> Any:
    """A sentence-transformers model whose LoRA adapters (``lora``) or top layers (``top``) train, rest frozen."""
    lm = TextEncoder(model, max_length=max_length).load()
    for p in lm.parameters():
        p.requires_grad = False
    backbone = lm[0].auto_model
    if mode is FineTune.LORA:
        from peft import LoraConfig, get_peft_model

        lm[0].auto_model = get_peft_model(backbone, LoraConfig(r=lora_rank, lora_alpha=2 * lora_rank,
                                                               lora_dropout=0.1, target_modules=["query", "value"]))
    elif mode is FineTune.TOP:
        layers = getattr(getattr(backbone, "encoder", None), "layer", None)
        if layers is None:
            raise ConfigError(f"finetune='top' needs a BERT-like encoder; {model!r} has no encoder.layer")
        for layer in layers[-top_layers:]:
            for p in layer.parameters():
                p.requires_grad = True
    return lm


def embed(lm: Any, texts: list[str]) -> torch.Tensor:
    """L2-normalised sentence vectors with gradients flowing into the trainable parts of ``lm``."""
    features = lm.preprocess(texts)
    return torch.nn.functional.normalize(lm(features)["sentence_embedding"], dim=-1)


def save_lm(lm: Any, folder: Path) -> None:
    """Save the fine-tuned model as a plain sentence-transformers folder (LoRA merged into the weights)."""
    module = lm[0]
    if hasattr(module.auto_model, "merge_and_unload"):
        module.auto_model = module.auto_model.merge_and_unload()
    lm.save(str(folder))
