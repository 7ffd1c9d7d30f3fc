"""The visible "AI generated" mark Ark puts on its outputs (``watermark: true``, Ark's default).

A small label drawn bottom-right on the finished panel, before it is encoded: white text with a dark
outline so it reads on any background, its height about 2.5% of the panel's shorter side (at least
10 px), inset by half its height. Pillow's built-in font (``ImageFont.load_default(size=…)``, FreeType)
needs no bundled file. The request carries the flag (``EditRequest.watermark``); ``edit.render``
applies it, so the stored outputs, the CLI's files and every protocol see the same pixels.
"""

from __future__ import annotations

from PIL import Image, ImageDraw, ImageFont

__all__ = ["TEXT", "apply"]

TEXT = "AI generated"
MIN_TEXT_PX = 10
SHARE = 0.025  # text height as a share of the shorter side


def apply(panel: Image.Image, text: str = TEXT) -> Image.Image:
    """A copy of ``panel`` (RGB or RGBA) with ``text`` drawn in its bottom-right corner."""
    out = panel.copy()
    size = max(MIN_TEXT_PX, round(min(out.size) * SHARE))
    font = ImageFont.load_default(size=size)
    draw = ImageDraw.Draw(out)
    stroke = max(1, size // 10)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font, stroke_width=stroke)
    margin = max(2, size // 2)
    x = out.width - margin - (right - left) - left
    y = out.height - margin - (bottom - top) - top
    fill: tuple[int, ...] = (255, 255, 255, 230) if out.mode == "RGBA" else (255, 255, 255)
    outline: tuple[int, ...] = (0, 0, 0, 200) if out.mode == "RGBA" else (40, 40, 40)
    draw.text((x, y), text, font=font, fill=fill, stroke_width=stroke, stroke_fill=outline)
    return out
