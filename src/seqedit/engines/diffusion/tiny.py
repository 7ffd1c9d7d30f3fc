"""Tiny random-weight pipelines of every supported family, built offline from configs: noise, not models.

The tests, ``bench/diffusion.py``, ``scripts/gpu-check`` and ``seqedit models demo`` build them here, so
the engine can be tried end to end on a CPU without a download. Importing this module imports torch.

Every component — denoiser, VAE, text encoder, scheduler, tokenizer and processor — is constructed in
code: transformers >= 5 tokenizers accept an in-memory vocabulary, so a 256-symbol byte-level BPE with
no merges is a valid CLIP/Qwen2 tokenizer and a character Unigram a valid T5 tokenizer. VAEs have 4
blocks (scale factor 8, like the real ones) so sizes round like the real models. All modules are put in
eval mode (models built from configs start in training mode; T5 dropout would make runs random).

``save_all(root)`` writes each pipeline with ``save_pretrained``; tests load them back through
``seqedit.engines.diffusion.loader`` like a user's checkpoint directory.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw


def _byte_alphabet() -> list[str]:
    """The GPT-2/CLIP/Qwen byte-level alphabet: one printable character per byte."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    out, extra = {}, 0
    for b in range(256):
        if b in keep:
            out[b] = chr(b)
        else:
            out[b] = chr(256 + extra)
            extra += 1
    return [out[b] for b in range(256)]


def clip_tokenizer():
    from transformers import CLIPTokenizer

    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for ch in _byte_alphabet():
        vocab.setdefault(ch, len(vocab))
        vocab.setdefault(ch + "</w>", len(vocab))
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=77)


def t5_tokenizer():
    from transformers import T5Tokenizer

    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -2.0)]
    for code in range(33, 127):
        pieces += [(chr(code), -5.0), ("▁" + chr(code), -4.0)]
    return T5Tokenizer(vocab=pieces, extra_ids=0, model_max_length=512)


QWEN_SPECIAL = [
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
]
CHATML = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'text' %}{{ part['text'] }}{% endif %}{% endfor %}{% endif %}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def qwen_tokenizer():
    from tokenizers import AddedToken
    from transformers import Qwen2Tokenizer

    vocab = {"<|endoftext|>": 0}
    for ch in _byte_alphabet():
        vocab.setdefault(ch, len(vocab))
    tok = Qwen2Tokenizer(vocab=vocab, merges=[], model_max_length=4096)
    tok.add_special_tokens(
        {"additional_special_tokens": [AddedToken(t, special=True, normalized=False) for t in QWEN_SPECIAL]}
    )
    tok.chat_template = CHATML
    return tok


def clip_text_encoder(vocab_size: int):
    from transformers import CLIPTextConfig, CLIPTextModel

    return CLIPTextModel(
        CLIPTextConfig(
            bos_token_id=0,
            eos_token_id=1,
            pad_token_id=1,
            hidden_size=32,
            intermediate_size=37,
            num_attention_heads=4,
            num_hidden_layers=2,
            vocab_size=vocab_size,
            projection_dim=32,
            max_position_embeddings=77,
        )
    )


def flux_vae(cls_name: str = "AutoencoderKL", **extra):
    import diffusers

    return getattr(diffusers, cls_name)(
        in_channels=3,
        out_channels=3,
        block_out_channels=(4, 4, 4, 4),
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        layers_per_block=1,
        latent_channels=1,
        norm_num_groups=1,
        use_quant_conv=False,
        use_post_quant_conv=False,
        **extra,
    )


def flux2_transformer(*, joint_attention_dim: int, guidance_embeds: bool):
    """The tiny FLUX.2 transformer [klein] and [dev] share: one double and one single block."""
    from diffusers import Flux2Transformer2DModel

    return Flux2Transformer2DModel(
        patch_size=1,
        in_channels=4,
        num_layers=1,
        num_single_layers=1,
        attention_head_dim=16,
        num_attention_heads=2,
        joint_attention_dim=joint_attention_dim,
        timestep_guidance_channels=256,
        axes_dims_rope=[4, 4, 4, 4],
        guidance_embeds=guidance_embeds,
    )


def build_flux2_klein(pipeline: str = "Flux2KleinPipeline"):
    """FLUX.2 [klein] (``Flux2KleinPipeline``); the same components make ``Flux2KleinKVPipeline``
    (FLUX.2 [klein] 9B-KV, reference K/V cached after the first step)."""
    import diffusers
    import torch
    from diffusers import FlowMatchEulerDiscreteScheduler
    from transformers import Qwen3Config, Qwen3ForCausalLM

    torch.manual_seed(0)
    tokenizer = qwen_tokenizer()
    return getattr(diffusers, pipeline)(
        scheduler=FlowMatchEulerDiscreteScheduler(),
        vae=flux_vae("AutoencoderKLFlux2"),
        text_encoder=Qwen3ForCausalLM(
            Qwen3Config(
                hidden_size=16,
                intermediate_size=16,
                num_hidden_layers=2,
                num_attention_heads=2,
                num_key_value_heads=2,
                vocab_size=len(tokenizer),
                max_position_embeddings=2048,
            )
        ),
        tokenizer=tokenizer,
        transformer=flux2_transformer(joint_attention_dim=16, guidance_embeds=False),
    )


def build_qwen_edit_plus(pipeline: str = "QwenImageEditPlusPipeline"):
    """Qwen-Image-Edit-2509 (``QwenImageEditPlusPipeline``); the same components make the first
    release's single-reference ``QwenImageEditPipeline``."""
    import diffusers
    import torch
    from diffusers import AutoencoderKLQwenImage, FlowMatchEulerDiscreteScheduler, QwenImageTransformer2DModel
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration, Qwen2VLProcessor
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    from seqedit.engines.diffusion.loader import patch_qwen_vl_processors_without_torchvision

    patch_qwen_vl_processors_without_torchvision()  # the same shim the loader applies
    torch.manual_seed(0)
    tokenizer = qwen_tokenizer()
    processor = Qwen2VLProcessor(
        image_processor=Qwen2VLImageProcessorPil(
            min_pixels=28 * 28, max_pixels=56 * 56 * 4, patch_size=14, merge_size=2, temporal_patch_size=2
        ),
        tokenizer=tokenizer,
    )
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in QWEN_SPECIAL}
    text_encoder = Qwen2_5_VLForConditionalGeneration(
        Qwen2_5_VLConfig(
            text_config={
                "hidden_size": 16,
                "intermediate_size": 16,
                "num_hidden_layers": 2,
                "num_attention_heads": 2,
                "num_key_value_heads": 2,
                "rope_theta": 1000000.0,
                "vocab_size": len(tokenizer),
                "rope_scaling": {"mrope_section": [1, 1, 2], "rope_type": "default", "type": "default"},
            },
            vision_config={
                "depth": 2,
                "hidden_size": 16,
                "intermediate_size": 16,
                "num_heads": 2,
                "out_hidden_size": 16,
            },
            hidden_size=16,
            vocab_size=len(tokenizer),
            image_token_id=ids["<|image_pad|>"],
            video_token_id=ids["<|video_pad|>"],
            vision_start_token_id=ids["<|vision_start|>"],
            vision_end_token_id=ids["<|vision_end|>"],
        )
    )
    return getattr(diffusers, pipeline)(
        transformer=QwenImageTransformer2DModel(
            patch_size=2,
            in_channels=16,
            out_channels=4,
            num_layers=2,
            attention_head_dim=16,
            num_attention_heads=3,
            joint_attention_dim=16,
            guidance_embeds=False,
            axes_dims_rope=(8, 4, 4),
        ),
        vae=AutoencoderKLQwenImage(
            base_dim=8,
            z_dim=4,
            dim_mult=[1, 1, 1, 1],
            num_res_blocks=1,
            temperal_downsample=[False, True, True],
            latents_mean=[0.0] * 4,
            latents_std=[1.0] * 4,
        ),
        scheduler=FlowMatchEulerDiscreteScheduler(),
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        processor=processor,
    )


def build_flux_kontext():
    import torch
    from diffusers import FlowMatchEulerDiscreteScheduler, FluxKontextPipeline, FluxTransformer2DModel
    from transformers import T5Config, T5EncoderModel

    torch.manual_seed(0)
    tokenizer, tokenizer_2 = clip_tokenizer(), t5_tokenizer()
    return FluxKontextPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(),
        vae=flux_vae(shift_factor=0.0609, scaling_factor=1.5035),
        text_encoder=clip_text_encoder(len(tokenizer)),
        tokenizer=tokenizer,
        text_encoder_2=T5EncoderModel(
            T5Config(
                vocab_size=len(tokenizer_2),
                d_model=32,
                d_kv=8,
                d_ff=37,
                num_layers=2,
                num_heads=4,
                relative_attention_num_buckets=8,
                pad_token_id=0,
                eos_token_id=1,
                decoder_start_token_id=0,
            )
        ),
        tokenizer_2=tokenizer_2,
        transformer=FluxTransformer2DModel(
            patch_size=1,
            in_channels=4,
            num_layers=1,
            num_single_layers=1,
            attention_head_dim=16,
            num_attention_heads=2,
            joint_attention_dim=32,
            pooled_projection_dim=32,
            axes_dims_rope=[4, 4, 8],
            guidance_embeds=True,
        ),
        image_encoder=None,
        feature_extractor=None,
    )


def build_instruct_pix2pix():
    import torch
    from diffusers import (
        AutoencoderKL,
        EulerAncestralDiscreteScheduler,
        StableDiffusionInstructPix2PixPipeline,
        UNet2DConditionModel,
    )

    torch.manual_seed(0)
    tokenizer = clip_tokenizer()
    return StableDiffusionInstructPix2PixPipeline(
        vae=AutoencoderKL(
            block_out_channels=[8, 8],
            in_channels=3,
            out_channels=3,
            latent_channels=4,
            down_block_types=["DownEncoderBlock2D"] * 2,
            up_block_types=["UpDecoderBlock2D"] * 2,
            norm_num_groups=4,
        ),
        text_encoder=clip_text_encoder(len(tokenizer)),
        tokenizer=tokenizer,
        unet=UNet2DConditionModel(
            block_out_channels=(8, 16),
            layers_per_block=1,
            sample_size=32,
            in_channels=8,
            out_channels=4,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
            cross_attention_dim=32,
            norm_num_groups=4,
            attention_head_dim=4,
        ),
        scheduler=EulerAncestralDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear"),
        safety_checker=None,
        feature_extractor=None,
        image_encoder=None,
        requires_safety_checker=False,
    )


def qwen3_vl(tokenizer, *, patch_size: int = 16, min_pixels: int = 32 * 32, max_pixels: int = 64 * 64):
    """A tiny Qwen3-VL text encoder and its processor (Qwen-Image-2.1 and JoyImage read prompts and references
    through one). ``patch_size`` × merge 2 is the pixel side of one merged vision token."""
    from transformers import Qwen3VLConfig, Qwen3VLForConditionalGeneration, Qwen3VLProcessor
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    from seqedit.engines.diffusion.loader import patch_qwen_vl_processors_without_torchvision

    patch_qwen_vl_processors_without_torchvision()  # the same shim the loader applies
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in QWEN_SPECIAL}
    text_encoder = Qwen3VLForConditionalGeneration(
        Qwen3VLConfig(
            text_config={
                "hidden_size": 16,
                "intermediate_size": 16,
                "num_hidden_layers": 2,
                "num_attention_heads": 2,
                "num_key_value_heads": 2,
                "head_dim": 8,
                "vocab_size": len(tokenizer),
                "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": [1, 1, 2]},
            },
            vision_config={
                "depth": 2,
                "hidden_size": 16,
                "intermediate_size": 16,
                "num_heads": 2,
                "out_hidden_size": 16,
                "patch_size": patch_size,
                "spatial_merge_size": 2,
                "temporal_patch_size": 2,
                "num_position_embeddings": 64,
                "deepstack_visual_indexes": [0],
            },
            image_token_id=ids["<|image_pad|>"],
            video_token_id=ids["<|video_pad|>"],
            vision_start_token_id=ids["<|vision_start|>"],
            vision_end_token_id=ids["<|vision_end|>"],
        )
    )
    processor = Qwen3VLProcessor(
        image_processor=Qwen2VLImageProcessorPil(
            min_pixels=min_pixels,
            max_pixels=max_pixels,
            patch_size=patch_size,
            merge_size=2,
            temporal_patch_size=2,
        ),
        tokenizer=tokenizer,
        chat_template=CHATML,
    )
    return text_encoder, processor


def build_qwen_image_21():
    """Qwen-Image-2.1 (``QwenImage21Pipeline``): up to 10 references, a Qwen3-VL encoder that reads the references
    as vision tokens (one merged token per 32 px, matching the 16× VAE's 2×2 latent group), an RGBA VAE."""
    import torch
    from diffusers import (
        AutoencoderKLQwenImage21,
        FlowMatchEulerDiscreteScheduler,
        QwenImage21Pipeline,
        QwenImage21Transformer2DModel,
    )

    torch.manual_seed(0)
    tokenizer = qwen_tokenizer()
    # the pipeline resizes references to ~output_resolution² before both the encoder and the VAE: the processor
    # must keep that size (a 1 MP reference stays 1 MP), or the vision slots and the latents disagree
    text_encoder, processor = qwen3_vl(tokenizer, patch_size=16, min_pixels=32 * 32, max_pixels=2048 * 2048)
    z_dim = 8  # not 4: prepare_latents takes a 4-channel (RGBA) condition image for latents when z_dim == 4
    return QwenImage21Pipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(),
        vae=AutoencoderKLQwenImage21(
            base_dim=4,
            decoder_base_dim=4,
            z_dim=z_dim,
            dim_mult=[1, 1, 1, 1, 1],  # four downsamples: the 16× the pipeline assumes
            num_res_blocks=1,
            attn_scales=[],
            temperal_downsample=[False, True, True, True],
            latents_mean=[0.0] * z_dim,
            latents_std=[1.0] * z_dim,
        ),
        text_encoder=text_encoder,
        processor=processor,
        transformer=QwenImage21Transformer2DModel(
            patch_size=1,
            in_channels=z_dim,
            out_channels=z_dim,
            num_layers=2,
            attention_head_dim=16,
            num_attention_heads=2,
            context_in_dim=16,
            mlp_ratio=2,
            axes_dims_rope=(4, 6, 6),
        ),
    )


def mistral_tokenizer():
    """A byte-level tokenizer with Mistral's chat markers and its chat template (``MISTRAL_CHAT``)."""
    from tokenizers import AddedToken
    from transformers import Qwen2Tokenizer

    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for ch in _byte_alphabet():
        vocab.setdefault(ch, len(vocab))
    tok = Qwen2Tokenizer(
        vocab=vocab, merges=[], model_max_length=4096, unk_token="<unk>", bos_token="<s>", eos_token="</s>"
    )
    specials = ["[IMG]", "[IMG_BREAK]", "[IMG_END]", "[INST]", "[/INST]", "[SYSTEM_PROMPT]", "[/SYSTEM_PROMPT]"]
    tok.add_special_tokens(
        {"additional_special_tokens": [AddedToken(t, special=True, normalized=False) for t in specials]}
    )
    tok.pad_token = "<unk>"
    tok.chat_template = MISTRAL_CHAT
    return tok


MISTRAL_CHAT = (
    "{{ bos_token }}{% for message in messages %}"
    "{% if message['content'] is string %}{% set text = message['content'] %}{% else %}{% set text = "
    "message['content'] | selectattr('type', 'equalto', 'text') | map(attribute='text') | join('') %}{% endif %}"
    "{% if message['role'] == 'system' %}[SYSTEM_PROMPT]{{ text }}[/SYSTEM_PROMPT]"
    "{% elif message['role'] == 'user' %}[INST]{{ text }}[/INST]{% else %}{{ text }}{{ eos_token }}{% endif %}"
    "{% endfor %}"
)


def build_flux2_dev():
    """FLUX.2 [dev] (``Flux2Pipeline``): the FLUX.2 transformer with guidance embeddings and a Mistral-3 text
    encoder. The real checkpoint's ``tokenizer`` is a Pixtral processor, which transformers builds only with
    torchvision; the pipeline calls nothing on it but ``apply_chat_template`` for text-only prompts (images go to
    the VAE, never to the text encoder, unless caption upsampling is asked for), which a tokenizer does alike."""
    import torch
    from diffusers import FlowMatchEulerDiscreteScheduler, Flux2Pipeline
    from transformers import Mistral3Config, Mistral3ForConditionalGeneration

    torch.manual_seed(0)
    tokenizer = mistral_tokenizer()
    text_encoder = Mistral3ForConditionalGeneration(
        Mistral3Config(
            text_config={
                "model_type": "mistral",
                "hidden_size": 16,
                "intermediate_size": 16,
                "num_hidden_layers": 2,
                "num_attention_heads": 2,
                "num_key_value_heads": 2,
                "head_dim": 8,
                "vocab_size": len(tokenizer),
                "max_position_embeddings": 1024,
            },
            vision_config={
                "model_type": "pixtral",
                "hidden_size": 16,
                "intermediate_size": 16,
                "num_hidden_layers": 1,
                "num_attention_heads": 2,
                "head_dim": 8,
                "patch_size": 16,
                "image_size": 64,
            },
            image_token_index=tokenizer.convert_tokens_to_ids("[IMG]"),
            spatial_merge_size=1,
        )
    )
    return Flux2Pipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(),
        vae=flux_vae("AutoencoderKLFlux2"),
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        # 3 stacked text-encoder layers of 16, like the real 3 × 5120; FLUX.2 [dev] embeds its guidance
        transformer=flux2_transformer(joint_attention_dim=48, guidance_embeds=True),
    )


def build_joyimage_edit_plus():
    """JoyAI-Image-Edit-Plus (``JoyImageEditPlusPipeline``): 1–5 references, a Wan VAE (8×), a Qwen3-VL encoder."""
    import torch
    from diffusers import (
        AutoencoderKLWan,
        FlowMatchEulerDiscreteScheduler,
        JoyImageEditPlusPipeline,
        JoyImageEditPlusTransformer3DModel,
    )

    torch.manual_seed(0)
    tokenizer = qwen_tokenizer()
    text_encoder, processor = qwen3_vl(tokenizer, patch_size=16, min_pixels=32 * 32, max_pixels=64 * 64)
    return JoyImageEditPlusPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(),
        vae=AutoencoderKLWan(
            base_dim=4,
            z_dim=16,
            dim_mult=[1, 1, 1, 1],
            num_res_blocks=1,
            temperal_downsample=[False, True, True],
        ),
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        transformer=JoyImageEditPlusTransformer3DModel(
            patch_size=[1, 2, 2],
            in_channels=16,
            hidden_size=32,
            num_attention_heads=2,
            text_dim=16,
            num_layers=1,
            rope_dim_list=[4, 6, 6],
            theta=256,
        ),
        processor=processor,
    )


FAMILIES = (
    "flux2_klein",
    "flux2_klein_kv",
    "flux2_dev",
    "qwen_image_21",
    "qwen_image_edit_plus",
    "joyimage_edit_plus",
    "flux_kontext",
    "instruct_pix2pix",
)
BUILDERS = {
    "flux2_klein": build_flux2_klein,
    "flux2_klein_kv": lambda: build_flux2_klein("Flux2KleinKVPipeline"),
    "flux2_dev": build_flux2_dev,
    "qwen_image_21": build_qwen_image_21,
    "qwen_image_edit_plus": build_qwen_edit_plus,
    "joyimage_edit_plus": build_joyimage_edit_plus,
    "flux_kontext": build_flux_kontext,
    "instruct_pix2pix": build_instruct_pix2pix,
}


def eval_mode(pipe):
    import torch

    for module in pipe.components.values():
        if isinstance(module, torch.nn.Module):
            module.eval()
    pipe.set_progress_bar_config(disable=True)
    return pipe


def save_all(root: Path, builders: dict | None = None) -> dict[str, Path]:
    """Build every family and save it under ``root/<family>``."""
    out = {}
    for family, build in (builders or BUILDERS).items():
        path = root / family
        eval_mode(build()).save_pretrained(path)
        out[family] = path
    return out


def shrink_reference_areas(area: int = 64 * 64) -> None:
    """Pipelines that resize every reference to about 1 MP before VAE-encoding it (Qwen-Image-Edit's
    ``VAE_IMAGE_SIZE`` and ``calculate_dimensions``, Qwen-Image-2.1's ``calculate_dimensions``, JoyImage's
    resolution buckets) cost ~1.5–5 s per reference with a tiny VAE on CPU. Tests in this process shrink that
    resize to ``area`` pixels; the patched functions keep the real one as ``.real``, so calling this twice is safe."""
    import diffusers.pipelines.joyimage.image_processor as joy
    import diffusers.pipelines.qwenimage.pipeline_qwenimage_edit as single
    import diffusers.pipelines.qwenimage.pipeline_qwenimage_edit_plus as plus
    import diffusers.pipelines.qwenimage21.pipeline_qwenimage21 as qwen21

    plus.VAE_IMAGE_SIZE = area
    for module in (single, qwen21):  # calculate_dimensions(target_area, ratio) hard-codes ~1024²
        real = getattr(module.calculate_dimensions, "real", module.calculate_dimensions)

        def capped(target_area, ratio, _real=real):
            return _real(min(target_area, area), ratio)

        capped.real = real
        module.calculate_dimensions = capped

    real_bucket = getattr(joy.find_best_bucket, "real", joy.find_best_bucket)

    def small_bucket(height, width, basesize):
        h, w = real_bucket(height, width, basesize)  # about 1 MP, the reference's aspect ratio
        scale = (area / (h * w)) ** 0.5
        return max(16, round(h * scale / 16) * 16), max(16, round(w * scale / 16) * 16)

    small_bucket.real = real_bucket
    joy.find_best_bucket = small_bucket


shrink_qwen_reference_area = shrink_reference_areas  # the name the test fixtures call


def references(n: int, size: int = 64) -> list[Image.Image]:
    colours = [(220, 40, 40), (40, 200, 60), (40, 60, 220), (230, 200, 30), (200, 40, 200), (30, 200, 200)]
    out = []
    for i in range(n):
        im = Image.new("RGB", (size, size), colours[i % len(colours)])
        ImageDraw.Draw(im).ellipse([size // 4, size // 4, 3 * size // 4, 3 * size // 4], fill=(255, 255, 255))
        out.append(im)
    return out
