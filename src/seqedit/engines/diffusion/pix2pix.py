"""InstructPix2Pix (``StableDiffusionInstructPix2PixPipeline``): one reference, small enough for CPU users.

The output has the input image's size, so the (stitched) reference canvas is resized to the
generation size first. Native size = UNet ``sample_size`` × VAE scale factor (512 px for the
``timbrooks/instruct-pix2pix`` SD-1.5 checkpoint), range half to 1.5× that side; sides are a multiple of
the VAE factor × the UNet's downsampling (64 for SD-1.5). Text CFG 7.5, image CFG 1.5, 20 steps.
"""

from __future__ import annotations

from typing import Any

from PIL import Image

from seqedit.engines.diffusion.adapter import Adapter, Native, generator_arg, prompt_arg, stitch


class InstructPix2Pix(Adapter):
    family = "instruct_pix2pix"
    label = "InstructPix2Pix"
    pipeline_classes = ("StableDiffusionInstructPix2PixPipeline",)
    max_refs = 1
    batchable = True
    reference_encoder = "prepare_image_latents"  # vae.encode(...).latent_dist.mode() (argmax), CFG copies added
    licence = "MIT on the model card; based on Stable Diffusion 1.5 (CreativeML OpenRAIL-M)"
    checkpoints = ("timbrooks/instruct-pix2pix",)
    image_guidance = 1.5

    @property
    def transformer(self) -> Any:
        return None

    def default_steps(self) -> int:
        return 20

    def default_guidance(self) -> float:
        return 7.5

    def native(self) -> Native:
        unet = self.pipe.unet.config
        factor = self.pipe.vae_scale_factor
        side = unet.sample_size * factor
        multiple = factor * 2 ** (len(unet.block_out_channels) - 1)
        return Native((side // 2) ** 2, (side * 3 // 2) ** 2, multiple)

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
        if refs:
            image = stitch(refs).resize((width, height), Image.Resampling.LANCZOS)
        else:  # an instruction editor needs an input: start from neutral grey
            image = Image.new("RGB", (width, height), (128, 128, 128))
        return dict(
            prompt=prompt_arg(prompts),
            image=image,
            num_inference_steps=steps,
            guidance_scale=guidance,
            image_guidance_scale=self.image_guidance,
            generator=generator_arg(generators),
        )
