"""FLUX.2 [klein] (``Flux2KleinPipeline``): native multi-reference editing, the fast default.

References go in as a list (up to 4). Distilled checkpoints (``is_distilled`` in the pipeline config,
e.g. ``black-forest-labs/FLUX.2-klein-4B``) run 4 steps without guidance; base checkpoints 50 steps
with CFG 4. The Qwen3 text encoder's hidden layers stacked into the prompt embedding are chosen to
match the transformer's ``joint_attention_dim`` (9, 18, 27 on the real 36-layer encoder).
Native sizes 256²–2048² (FLUX.2 is trained up to 4 MP), sides multiple of 16.
"""

from __future__ import annotations

from typing import Any

from PIL import Image

from seqedit.engines.diffusion.adapter import Adapter, Native, generator_arg, prompt_arg


class Flux2Klein(Adapter):
    family = "flux2_klein"
    label = "FLUX.2 [klein]"
    pipeline_classes = ("Flux2KleinPipeline",)
    max_refs = 4
    batchable = True
    shared_attention = True
    reference_encoder = "_encode_vae_image"  # retrieve_latents(..., sample_mode="argmax")
    licence = "Apache-2.0 (FLUX.2 [klein] 4B); the 9B variant is non-commercial"
    checkpoints = ("black-forest-labs/FLUX.2-klein-4B",)

    @property
    def distilled(self) -> bool:
        return bool(getattr(self.pipe.config, "is_distilled", False))

    def default_steps(self) -> int:
        return 4 if self.distilled else 50

    def default_guidance(self) -> float:
        return 1.0 if self.distilled else 4.0

    def native(self) -> Native:
        return Native(256 * 256, 2048 * 2048, self.pipe.vae_scale_factor * 2)

    def text_layers(self) -> tuple[int, ...]:
        """Which text-encoder hidden states to stack: as many as ``joint_attention_dim`` needs,
        spread evenly over the encoder's depth."""
        text = self.pipe.text_encoder.config
        text = getattr(text, "text_config", text)
        count = max(1, self.pipe.transformer.config.joint_attention_dim // text.hidden_size)
        depth = text.num_hidden_layers
        return tuple(max(1, round(depth * (i + 1) / (count + 1))) for i in range(count))

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
            image=list(refs) or None,
            width=width,
            height=height,
            num_inference_steps=steps,
            guidance_scale=guidance,
            generator=generator_arg(generators),
            text_encoder_out_layers=self.text_layers(),
        )


class Flux2KleinKV(Flux2Klein):
    """FLUX.2 [klein] 9B-KV (``Flux2KleinKVPipeline``): the same call as ``Flux2Klein``; on the first
    denoising step the reference tokens' K/V are computed (reference tokens attend only to themselves,
    at a fixed timestep) and every later step reuses them. The KV transformer's attention processors
    take a cache argument, so the shared-anchor processors (attention.py) do not apply. The checkpoint
    is step-distilled: 4 steps, and the pipeline takes no guidance scale."""

    family = "flux2_klein_kv"
    label = "FLUX.2 [klein] 9B-KV"
    pipeline_classes = ("Flux2KleinKVPipeline",)
    shared_attention = False
    reference_kv = True  # ref tokens self-attend at ref_fixed_timestep: their K/V do not depend on the panel
    licence = "FLUX Non-Commercial License (non-commercial)"
    checkpoints = ("black-forest-labs/FLUX.2-klein-9b-kv",)

    @property
    def distilled(self) -> bool:
        return True

    def call_kwargs(self, **kwargs: Any) -> dict[str, Any]:
        out = super().call_kwargs(**kwargs)
        del out["guidance_scale"]  # Flux2KleinKVPipeline.__call__ has none: the model is guidance-distilled
        return out
