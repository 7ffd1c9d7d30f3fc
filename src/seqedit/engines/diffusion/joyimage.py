"""JoyAI-Image-Edit-Plus (``JoyImageEditPlusPipeline``): multi-image editing, 1–5 references as a list.

The call takes ``images`` (not ``image``): a list of references per prompt, so prompts batch, each with the
same references here. Each reference is resized and centre-cropped by the pipeline to its ~1 MP resolution
bucket (whatever the output size), VAE-encoded and patchified on its own, then concatenated with the target's
noise patches; a Qwen3-VL encoder reads the prompt with the references inline. Classifier-free guidance
``guidance_scale`` 4 (the pipeline builds the blank negative prompt itself; two passes per step), 30 steps:
the pipeline's defaults. Native sizes 512²–1024² (its buckets are all about 1 MP), sides a multiple of the
Wan VAE's factor × the patch size (8 × 2 = 16). Its attention is its own, so no shared-anchor strategy.
"""

from __future__ import annotations

from typing import Any

from PIL import Image

from seqedit.engines.diffusion.adapter import Adapter, Native, generator_arg, prompt_arg


class JoyImageEditPlus(Adapter):
    family = "joyimage_edit_plus"
    label = "JoyAI-Image-Edit-Plus"
    pipeline_classes = ("JoyImageEditPlusPipeline",)
    max_refs = 5
    batchable = True
    licence = "Apache-2.0 (the jdopensource JoyAI-Image-Edit model cards)"
    checkpoints = ("jdopensource/JoyAI-Image-Edit-Plus-Diffusers",)
    # no reference_encoder: the pipeline encodes references inside prepare_latents, with the panel's noise

    def default_steps(self) -> int:
        return 30

    def default_guidance(self) -> float:
        return 4.0

    def native(self) -> Native:
        patch = self.pipe.transformer.config.patch_size[-1]
        return Native(512 * 512, 1024 * 1024, self.pipe.vae_scale_factor_spatial * patch)

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
        return dict(
            prompt=prompt_arg(prompts),
            images=[list(refs) for _ in prompts] if refs else None,  # one list of references per prompt
            width=width,
            height=height,
            num_inference_steps=steps,
            guidance_scale=guidance,
            generator=generator_arg(generators),
        )
