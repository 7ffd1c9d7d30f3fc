"""The diffusion engine's options: the one declaration the CLI (``--opt``, typed flags), ``Settings``
(``SEQEDIT_<OPTION>``), docs/gpu.md and ``seqedit engines diffusion`` are all read from.

Unset (None / empty) means the family's own value (steps, guidance, native pixel range) or the
machine's (device, dtype). Only names are checked here; whether the device exists, or a hub id
resolves, is found out when the model loads. Importing this module imports neither torch nor diffusers.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from seqedit.engines.base import Extra

EXTRA = Extra("diffusion", ("torch", "diffusers", "transformers", "accelerate"))  # accelerate: offload

Strategy = Literal["anchor", "chain", "independent", "grid", "shared_attention"]
Overflow = Literal["stitch", "truncate", "error"]


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
    offload: bool = Field(
        False, description="model CPU offload: weights move to the GPU per sub-model (less memory, slower)"
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
    consistency_guard: bool = Field(
        True,
        description="re-render a panel whose identity or product figure crosses its threshold, with a new seed "
        "(seqedit.consistency; docs/consistency.md)",
    )
    consistency_retries: int = Field(2, ge=0, le=10, description="consistency_guard: re-renders of one panel, at most")
