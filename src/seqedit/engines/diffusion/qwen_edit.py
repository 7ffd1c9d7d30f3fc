"""Qwen-Image-Edit: ``QwenImageEditPlusPipeline`` (2509/2511, a list of up to 3 references — the quality
default) and ``QwenImageEditPipeline`` (the first release, one reference: several are stitched).

True CFG: ``true_cfg_scale`` 4 with a blank negative prompt (two transformer passes per step), 40 steps
(the model card's setting). One prompt per call: these pipelines cannot batch prompts. The pipeline
itself resizes every reference to about 1 MP for the VAE and 384² for the vision-language encoder,
whatever the output size. Native sizes 512²–1328² (Qwen-Image's trained range), multiple of 16.
"""

from __future__ import annotations

from typing import Any

from PIL import Image

from seqedit.engines.diffusion.adapter import Adapter, Native, stitch


class QwenImageEditPlus(Adapter):
    family = "qwen_image_edit_plus"
    label = "Qwen-Image-Edit-2509"
    pipeline_classes = ("QwenImageEditPlusPipeline",)
    max_refs = 3
    batchable = False
    reference_encoder = "_encode_vae_image"  # argmax; the VL encoder's view of the images depends on the prompt
    licence = "Apache-2.0"
    checkpoints = ("Qwen/Qwen-Image-Edit-2509", "Qwen/Qwen-Image-Edit-2511")

    def default_steps(self) -> int:
        return 40

    def default_guidance(self) -> float:
        return 4.0

    def native(self) -> Native:
        return Native(512 * 512, 1328 * 1328, self.pipe.vae_scale_factor * 2)

    def image_arg(self, refs: list[Image.Image]) -> Any:
        return list(refs) if refs else None

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
        if len(prompts) != 1:
            raise ValueError(f"{self.label} takes one prompt per call")
        kwargs: dict[str, Any] = dict(
            prompt=prompts[0],
            image=self.image_arg(refs),
            width=width,
            height=height,
            num_inference_steps=steps,
            true_cfg_scale=guidance,
            generator=generators[0],
        )
        if guidance > 1.0:
            kwargs["negative_prompt"] = " "
        return kwargs


class QwenImageEdit(QwenImageEditPlus):
    family = "qwen_image_edit"
    label = "Qwen-Image-Edit"
    pipeline_classes = ("QwenImageEditPipeline",)
    max_refs = 1
    checkpoints = ("Qwen/Qwen-Image-Edit",)

    def default_steps(self) -> int:
        return 50

    def image_arg(self, refs: list[Image.Image]) -> Any:
        return stitch(refs) if refs else None
