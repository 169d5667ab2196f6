"""Trainable language models: LoRA adapters (peft) or the top transformer layers, for end-to-end fine-tuning."""

from __future__ import annotations

import copy
from enum import StrEnum
from pathlib import Path
from typing import Any

import torch

from knowrec.devices import to_device
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
        from peft import LoraConfig, inject_adapter_in_model

        # adapters go into the backbone in place (only they train); a PeftModel wrapper assigned to the
        # sentence-transformers module would not replace its model, only register a second copy of it
        inject_adapter_in_model(LoraConfig(r=lora_rank, lora_alpha=2 * lora_rank, lora_dropout=0.1,
                                           target_modules=["query", "value"]), backbone)
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
    features = to_device(lm.preprocess(texts), next(lm.parameters()).device)
    return torch.nn.functional.normalize(lm(features)["sentence_embedding"], dim=-1)


def save_lm(lm: Any, folder: Path) -> None:
    """Save the fine-tuned model as a plain sentence-transformers folder: a copy with its LoRA adapters merged
    into the weights they adapt (the model being trained keeps its adapters)."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    lm = copy.deepcopy(lm)
    for name, module in list(lm.named_modules()):
        if isinstance(module, BaseTunerLayer):
            module.merge()
            parent, _, child = name.rpartition(".")
            setattr(lm.get_submodule(parent), child, module.get_base_layer())
    lm.save(str(folder))
