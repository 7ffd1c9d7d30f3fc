"""The diffusion engine's options: the one declaration the CLI (``--opt``, typed flags), ``Settings``
(``SEQEDIT_<OPTION>``), docs/gpu.md and ``seqedit engines diffusion`` are all read from.

Unset (None / empty) means the family's own value (steps, guidance, native pixel range) or the
machine's (device, dtype). Only names are checked here; whether the device exists, or a hub id
resolves, is found out when the model loads. Importing this module imports neither torch nor diffusers.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from seqedit.engines.base import Extra

EXTRA = Extra("diffusion", ("torch", "diffusers", "transformers", "accelerate"))  # accelerate: offload

Strategy = Literal["anchor", "chain", "independent", "grid", "shared_attention"]
Overflow = Literal["stitch", "truncate", "error"]
Offload = Literal["none", "model", "group", "sequential"]
Cache = Literal["none", "first_block", "taylorseer", "magcache"]
Quantize = Literal["none", "bnb_4bit", "bnb_8bit", "torchao_int8wo", "torchao_float8wo"]
Compile = Literal["none", "regional", "full"]
GroupOffload = Literal["block_level", "leaf_level"]
_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off", "")


class DiffusionOptions(BaseModel):
    """Options of ``create("diffusion", ...)``; field order is the order they are listed in."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field("", description="diffusers pipeline directory or hub id (required)")
    strategy: Strategy = Field("anchor", description="how panels 2… stay consistent with panel 1 (docs/gpu.md)")
    steps: int | None = Field(None, gt=0, description="denoising steps; unset: the family's default")
    guidance: float | None = Field(None, ge=0, description="guidance scale; unset: the family's default")
    device: str = Field("auto", description="auto | cuda | cuda:N | mps | cpu (auto: cuda, then mps, then cpu)")
    dtype: str = Field(
        "auto", description="auto | bfloat16 | float16 | float32 (auto: bf16 on CUDA, fp16 on MPS, else fp32)"
    )
    overflow: Overflow = Field(
        "stitch",
        description="references beyond what one call takes: stitch them into "
        "one canvas, drop the last ones, or refuse the request",
    )
    batch_size: int = Field(4, ge=2, description="shared_attention: panels per batch, panel 1's copy included")
    reuse_references: bool = Field(
        True,
        description="encode each reference once per set (VAE latents; FLUX.2 [klein] KV: reference K/V too) "
        "and reuse it for every panel",
    )
    offload: Offload = Field(
        "none",
        description="weights live on the CPU and move to the GPU when used: per sub-model (model), per block "
        "group (group) or per layer (sequential; least memory, slowest); true = model, false = none; "
        "ignored on CPU",
    )
    vae_tiling: bool = Field(False, description="decode the VAE in tiles (large sizes on small GPUs)")
    vae_slicing: bool = Field(False, description="decode batch items one at a time")
    attention_backend: str = Field(
        "", description="diffusers attention backend (native, flash, sage, …); unset: diffusers' default"
    )
    min_pixels: int | None = Field(
        None, gt=0, description="generation size floor in pixels; unset: the family's native range"
    )
    max_pixels: int | None = Field(
        None, gt=0, description="generation size cap in pixels (caps memory); unset: the family's native range"
    )
    local_files_only: bool | None = Field(None, description="never download from the hub; unset: follow HF_HUB_OFFLINE")
    offload_group_type: GroupOffload = Field(
        "block_level", description="offload=group: move groups of blocks (block_level) or single layers (leaf_level)"
    )
    offload_group_blocks: int = Field(1, ge=1, description="offload=group, block_level: blocks per group")
    offload_stream: bool = Field(
        False, description="offload=group: prefetch the next group on a CUDA stream (faster, more CPU memory)"
    )
    cache: Cache = Field(
        "none",
        description="reuse the denoiser's work across steps (approximate): first_block, taylorseer or magcache "
        "(diffusers enable_cache; transformer families only)",
    )
    cache_threshold: float | None = Field(
        None,
        gt=0,
        description="first_block / magcache: skip threshold (higher: faster, less exact); unset: 0.05 / 0.06",
    )
    cache_interval: int | None = Field(None, gt=0, description="taylorseer: steps between full computations; unset: 5")
    cache_warmup: int | None = Field(
        None, ge=0, description="taylorseer: first steps always computed in full; unset: 3"
    )
    cache_ratios: str = Field(
        "",
        description="magcache (required): the checkpoint's magnitude ratios, comma-separated; flux: diffusers' "
        "FLUX.1 ratios; calibrate: compute nothing away and print the ratios of each run",
    )
    quantize: Quantize = Field(
        "none",
        description="quantise weights when loading (PipelineQuantizationConfig): bitsandbytes 4/8-bit or torchao "
        "int8/float8 weight-only; needs that package",
    )
    quantize_components: str = Field(
        "", description="pipeline components to quantise, comma-separated; unset: the denoiser"
    )
    compile: Compile = Field(
        "none",
        description="torch.compile the denoiser: its repeated blocks (regional; compiles fast) or all of it "
        "(full); the first call is slow",
    )
    compile_backend: str = Field("inductor", description="torch.compile backend (inductor, eager, aot_eager, …)")
    lora: str = Field("", description="local LoRA file(s) (.safetensors), comma-separated; needs peft")
    lora_scale: float = Field(1.0, description="weight of every LoRA (0: as if none)")
    lora_steps: int | None = Field(
        None, gt=0, description="steps when steps is unset (a Lightning LoRA: 4 or 8); unset: the family's default"
    )

    consistency_guard: bool = Field(
        True,
        description="re-render a panel whose identity or product figure crosses its threshold, with a new seed "
        "(seqedit.consistency; docs/consistency.md)",
    )
    consistency_retries: int = Field(2, ge=0, le=10, description="consistency_guard: re-renders of one panel, at most")

    @field_validator("offload", mode="before")
    @classmethod
    def _offload_bool(cls, value: Any) -> Any:
        """``offload=true`` (and ``--offload`` of ``models check``) predates the kinds: true is model."""
        if isinstance(value, bool):
            return "model" if value else "none"
        if isinstance(value, str) and value.strip().lower() in _TRUE:
            return "model"
        if isinstance(value, str) and value.strip().lower() in _FALSE:
            return "none"
        return value
