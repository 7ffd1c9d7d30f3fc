"""FLUX.1 Kontext (``FluxKontextPipeline``): one reference per call.

A list of images would be read as a *batch* (and fails for one prompt), so several references — and,
with the ``anchor``/``chain`` strategies, the earlier panel — are stitched side by side into one
canvas, scaled to the output's pixel count (multiple of 16) and passed with ``_auto_resize=False``.
Guidance-distilled: ``guidance_scale`` 2.5, 28 steps. Native sizes 512²–1024² (Kontext's preferred
resolutions are all about 1 MP).
"""

from __future__ import annotations

from typing import Any

from PIL import Image

from seqedit.engines.diffusion.adapter import Adapter, Native, fit_canvas, generator_arg, prompt_arg, stitch


class FluxKontext(Adapter):
    family = "flux_kontext"
    label = "FLUX.1 Kontext"
    pipeline_classes = ("FluxKontextPipeline",)
    max_refs = 1
    batchable = True
    shared_attention = True
    reference_encoder = "_encode_vae_image"  # retrieve_latents(..., sample_mode="argmax")
    licence = "FLUX.1 [dev] Non-Commercial License"
    checkpoints = ("black-forest-labs/FLUX.1-Kontext-dev",)

    def default_steps(self) -> int:
        return 28

    def default_guidance(self) -> float:
        return 2.5

    def native(self) -> Native:
        return Native(512 * 512, 1024 * 1024, self.pipe.vae_scale_factor * 2)

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
        multiple = self.pipe.vae_scale_factor * 2
        image = fit_canvas(stitch(refs), width * height, multiple) if refs else None
        return dict(
            prompt=prompt_arg(prompts),
            image=image,
            width=width,
            height=height,
            max_area=width * height,
            _auto_resize=False,
            num_inference_steps=steps,
            guidance_scale=guidance,
            generator=generator_arg(generators),
        )
