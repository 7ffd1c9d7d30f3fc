"""Render docs/images/location-tags.png: a Seedream location tag limiting a classic-engine edit.

The coffee photo (examples/coffee.jpg) with the request's <bbox> drawn on it, and the classic engine's
output beside it. Run from the repository root: ``python scripts/location_tags_figure.py [OUT.png]``.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from seqedit.edit import prepare, render
from seqedit.engines import NullProgress, create
from seqedit.locations import strip_locations
from seqedit.request import EditRequest

ROOT = Path(__file__).resolve().parents[1]
PROMPT = "recolour the coffee <bbox>342 238 617 488</bbox> teal, keep the cup"
SIZE = "576*384"
CAPTION_HEIGHT = 44


def main(out: Path) -> None:
    ref = Image.open(ROOT / "examples" / "coffee.jpg").convert("RGB")
    request = EditRequest.create(prompt=PROMPT, images=["coffee.jpg"], max_images=1, size=SIZE, seed=1)
    engine = create("classic")
    result = list(render(prepare(request, [ref], engine), engine, NullProgress()))
    edited = Image.open(io.BytesIO(result[0].data)).convert("RGB")
    w, h = edited.size
    before = ref.resize((w, h), Image.LANCZOS)
    draw = ImageDraw.Draw(before)
    _, locations = strip_locations(PROMPT)
    x1, y1, x2, y2 = locations[0].pixels(w, h)
    for k in range(3):
        draw.rectangle([x1 - k, y1 - k, x2 + k, y2 + k], outline=(255, 230, 0))
    gap = 12
    sheet = Image.new("RGB", (2 * w + gap, h + CAPTION_HEIGHT), (255, 255, 255))
    sheet.paste(before, (0, CAPTION_HEIGHT))
    sheet.paste(edited, (w + gap, CAPTION_HEIGHT))
    font = ImageFont.load_default(size=17)
    text = ImageDraw.Draw(sheet)
    text.text((8, 12), f'seqedit edit coffee.jpg -p "{PROMPT}"', fill=(20, 20, 20), font=font)
    out.parent.mkdir(parents=True, exist_ok=True)
    # a 256-colour palette keeps the README picture under 300 KB (the photo in full colour is ~740 KB)
    sheet.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(out, optimize=True)
    print(f"wrote {out} ({out.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "images" / "location-tags.png")
