"""What one model family needs: the ``Adapter`` base class every family file subclasses.

An adapter owns everything that differs between diffusers pipelines: how many references one call
takes (and how: a list, or one stitched canvas), the native size range and rounding, guidance knobs,
default steps and guidance, and whether several prompts can share one call (batching). The sequence
engine above it is model-agnostic and only talks to this interface.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

from PIL import Image

from seqedit.sizes import Size


@dataclass(frozen=True)
class Native:
    """The sizes a family generates well at; anything else is generated inside this range and resampled."""

    min_pixels: int
    max_pixels: int
    multiple: int  # both sides are rounded to a multiple of this

    def describe(self) -> str:
        lo, hi = round(math.sqrt(self.min_pixels)), round(math.sqrt(self.max_pixels))
        return f"{lo}²–{hi}² px (sides multiple of {self.multiple})"

    def fit(self, size: Size) -> tuple[int, int]:
        """The generation size for ``size``: same aspect ratio, pixel count clamped into range, rounded."""
        pixels = min(max(size.pixels, self.min_pixels), self.max_pixels)
        scale = math.sqrt(pixels / size.pixels)
        m = self.multiple
        width = max(m, round(size.width * scale / m) * m)
        height = max(m, round(size.height * scale / m) * m)
        return width, height


class Adapter:
    family: ClassVar[str]
    label: ClassVar[str]
    pipeline_classes: ClassVar[tuple[str, ...]]
    max_refs: ClassVar[int]  # references one call takes; more are stitched (see sequence.pack)
    batchable: ClassVar[bool]  # several prompts (panels) in one call
    shared_attention: ClassVar[bool] = False  # has a shared-anchor attention processor (attention.py)
    # reuse.py, option reuse_references: the pipeline method that VAE-encodes one reference and takes the
    # distribution's mode (argmax, the generator is not drawn from), so a set may memoise it; None: never
    reference_encoder: ClassVar[str | None] = None
    reference_kv: ClassVar[bool] = False  # the pipeline caches reference K/V (kv_cache_mode); reuse.py keeps them
    licence: ClassVar[str] = ""
    checkpoints: ClassVar[tuple[str, ...]] = ()

    def __init__(self, pipe: Any) -> None:
        self.pipe = pipe

    # --- defaults -----------------------------------------------------------------------------
    def default_steps(self) -> int:
        raise NotImplementedError

    def default_guidance(self) -> float:
        raise NotImplementedError

    def native(self) -> Native:
        raise NotImplementedError

    @property
    def transformer(self) -> Any:
        """The denoiser whose attention processors ``shared_attention`` replaces."""
        return getattr(self.pipe, "transformer", None)

    # --- one call -----------------------------------------------------------------------------
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
        """Keyword arguments for ``pipe(...)``: ``len(prompts)`` images at ``width``×``height``.

        ``refs`` already fits ``max_refs`` (the sequence engine packs them)."""
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "label": self.label,
            "pipeline": type(self.pipe).__name__,
            "reference_limit": self.max_refs,
            "references": "list" if self.max_refs > 1 else "one canvas (several references are stitched)",
            "native_sizes": self.native().describe(),
            "default_steps": self.default_steps(),
            "default_guidance": self.default_guidance(),
            "batchable": self.batchable,
            "shared_attention": self.shared_attention,
            "licence": self.licence,
        }


def prompt_arg(prompts: list[str]) -> str | list[str]:
    return prompts[0] if len(prompts) == 1 else list(prompts)


def generator_arg(generators: list[Any]) -> Any:
    return generators[0] if len(generators) == 1 else list(generators)


def stitch(images: list[Image.Image], max_pixels: int | None = None) -> Image.Image:
    """Several references as ONE canvas for single-reference families: a common height, side by side
    on white (the 'image stitch' practice for FLUX.1 Kontext), scaled down to ``max_pixels``."""
    rgb = [im.convert("RGB") for im in images]
    if len(rgb) == 1:
        canvas = rgb[0]
    else:
        h = min(im.height for im in rgb)
        parts = [im.resize((max(1, round(im.width * h / im.height)), h), Image.Resampling.LANCZOS) for im in rgb]
        canvas = Image.new("RGB", (sum(p.width for p in parts), h), (255, 255, 255))
        x = 0
        for p in parts:
            canvas.paste(p, (x, 0))
            x += p.width
    if max_pixels and canvas.width * canvas.height > max_pixels:
        scale = math.sqrt(max_pixels / (canvas.width * canvas.height))
        canvas = canvas.resize(
            (max(1, int(canvas.width * scale)), max(1, int(canvas.height * scale))), Image.Resampling.LANCZOS
        )
    return canvas


def fit_canvas(image: Image.Image, pixels: int, multiple: int) -> Image.Image:
    """``image`` scaled to about ``pixels`` pixels, keeping its aspect ratio, sides a multiple of ``multiple``."""
    scale = math.sqrt(pixels / (image.width * image.height))
    w = max(multiple, round(image.width * scale / multiple) * multiple)
    h = max(multiple, round(image.height * scale / multiple) * multiple)
    if (w, h) == image.size:
        return image
    return image.resize((w, h), Image.Resampling.LANCZOS)
