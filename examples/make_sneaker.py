"""Draw examples/sneaker.png: a stylised sneaker on a plain studio-white background.

No photo of a shoe on a plain background ships with any package we can use, so we draw one
(our own work, CC0). Parts a colorway needs are present: a light upper, a darker sole band, a
contrasting side logo stripe, laces and stitching.  Run: python examples/make_sneaker.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

W, H = 768, 512


def draw() -> Image.Image:
    bg = np.full((H, W, 3), 246, np.float32)
    yy = np.linspace(0, 1, H, dtype=np.float32)[:, None, None]
    bg -= 10 * yy  # faint studio falloff
    im = Image.fromarray(bg.astype(np.uint8), "RGB")
    shadow = Image.new("L", (W, H), 0)
    ImageDraw.Draw(shadow).ellipse((110, 392, 670, 440), fill=110)
    im.paste((170, 170, 170), mask=shadow.filter(ImageFilter.GaussianBlur(14)))

    d = ImageDraw.Draw(im)
    upper = [
        (120, 380),
        (130, 300),
        (190, 250),
        (300, 215),
        (360, 170),
        (430, 150),
        (480, 165),
        (520, 230),
        (600, 270),
        (655, 310),
        (660, 380),
    ]
    d.polygon(upper, fill=(214, 212, 206))
    d.line(upper + [upper[0]], fill=(118, 118, 118), width=3)
    d.polygon([(360, 170), (430, 150), (480, 165), (470, 200), (380, 215)], fill=(200, 198, 192))  # tongue
    for k in range(5):  # laces
        x = 330 + 32 * k
        d.line((x, 205 - 10 * k, x + 40, 225 - 6 * k), fill=(90, 90, 95), width=6)
    d.rounded_rectangle((110, 372, 672, 418), radius=18, fill=(52, 50, 48))  # sole
    d.rectangle((118, 372, 664, 384), fill=(225, 222, 215))  # midsole
    d.polygon(
        [(210, 345), (330, 300), (520, 260), (600, 262), (470, 300), (300, 350)], fill=(196, 32, 36)
    )  # logo stripe
    for x in range(150, 650, 14):  # stitching
        d.line((x, 365, x + 7, 365), fill=(160, 158, 150), width=2)
    return im.filter(ImageFilter.SMOOTH)


if __name__ == "__main__":
    out = Path(__file__).with_name("sneaker.png")
    draw().save(out, optimize=True)
    print(out)
