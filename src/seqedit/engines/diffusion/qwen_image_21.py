"""Qwen-Image-2.1 (``QwenImage21Pipeline``): generation and editing in one model, up to 10 references.

References go in as one list, in order, shared by every prompt of a call (so prompts batch); ten is both the
model's limit and the product's, so a request's references are never stitched unless ``anchor``/``chain``
adds the earlier panel as an eleventh. The Qwen3-VL encoder reads each reference as vision tokens and the VAE
encodes it into latent tokens; the pipeline resizes every reference to about ``output_resolution``² (1024²)
for both, whatever the output size, and caches the text and reference K/V after the first step itself
(``use_kv_cache``). Meant to be sampled without guidance: ``true_cfg_scale`` 1 (one pass per step); above 1
the engine adds a blank negative prompt (true CFG, two passes). Steps: the checkpoint's ``sample_sigmas``
when it configures them (their length is the step count), else 40; another step count is passed as an even
sigma grid, because the pipeline ignores ``num_inference_steps`` when ``sample_sigmas`` is set. The VAE is
16×, sides are rounded to multiples of 32; the output is RGBA (the engine keeps RGB). Its attention is not
FLUX's, so no shared-anchor strategy.
"""

from __future__ import annotations

from typing import Any

from PIL import Image

from seqedit.engines.diffusion.adapter import Adapter, Native, generator_arg, prompt_arg


class QwenImage21(Adapter):
    family = "qwen_image_21"
    label = "Qwen-Image-2.1"
    pipeline_classes = ("QwenImage21Pipeline",)
    max_refs = 10
    batchable = True
    licence = "Qwen Research License (non-commercial: research and evaluation; a commercial licence is Qwen's to grant)"
    checkpoints = ("Qwen/Qwen-Image-2.1",)
    reference_encoder = "_encode_vae_image"  # retrieve_latents(..., sample_mode="argmax"): reusable across a set

    def sample_sigmas(self) -> list[float] | None:
        sigmas = getattr(self.pipe.config, "sample_sigmas", None)
        return list(sigmas) if sigmas else None

    def default_steps(self) -> int:
        sigmas = self.sample_sigmas()
        return len(sigmas) if sigmas else 40

    def default_guidance(self) -> float:
        return 1.0

    def native(self) -> Native:
        return Native(512 * 512, 1536 * 1536, self.pipe.vae_scale_factor * 2)

    def call_kwargs(
        self,
        *,
        prompts: list[str],
        refs: list[Image.Image],
        width: int,
        height: int,
        steps: int,
        guidance: float,
        generators: list[Any],
    ) -> dict[str, Any]:
        kwargs: dict[str, Any] = dict(
            prompt=prompt_arg(prompts),
            image=list(refs) or None,
            width=width,
            height=height,
            num_inference_steps=steps,
            true_cfg_scale=guidance,
            generator=generator_arg(generators),
        )
        if self.sample_sigmas() and steps != self.default_steps():
            kwargs["sigmas"] = [1.0 - i * (1.0 - 1.0 / steps) / max(1, steps - 1) for i in range(steps)]
        if guidance > 1.0:
            kwargs["negative_prompt"] = prompt_arg([" "] * len(prompts))
        return kwargs
