"""Build the labelled real-photo region set of ``tests/engines/classic/regions/`` (issue 10).

The ground truth is hand-drawn: a person looks at each photo (rendered with a coordinate grid by
``grid``), writes polygon vertices in pixel coordinates into ``polygons.json``, renders them to
binary mask PNGs with ``masks`` and checks the outline on the photo with ``overlay``. Nothing here
calls the engine, so the masks cannot inherit its mistakes.

    python scripts/region_masks.py photos           # (re)write the downscaled photos from their packages
    python scripts/region_masks.py masks            # polygons.json -> masks/<region>.png
    python scripts/region_masks.py grid DIR         # each photo with a 25 px coordinate grid, for drawing
    python scripts/region_masks.py overlay DIR      # each mask's outline and tint on its photo, for checking
    python scripts/region_masks.py zoom DIR PHOTO X0 Y0 X1 Y1 [REGION]   # a 4x crop with a 10 px grid
    python scripts/region_masks.py tags - REGION    # a <bbox> (the mask's box, padded as a user draws it)
                                                    # and a <point> (deepest inside) for a case's prompt

``polygons.json`` maps a region name to ``{"image": file, "add": [...], "cut": [...], "ignore": [...]}``,
each a list of polygons, a polygon a list of ``[x, y]`` vertices in the photo's pixels. The region is the
union of ``add`` minus the union of ``cut`` (the spoon in front of the cup); ``ignore`` marks pixels whose
label a person cannot honestly decide (sky seen through a lattice tower, fur blurred into the backdrop),
which the test leaves out of both sides of the IoU; ``"edge": N`` also marks a band N px either side of
every drawn outline as don't care (a hand-drawn outline is a few pixels off, and a blurred edge has no
true line). A mask PNG stores 255 for the region, 0 outside it and ``IGNORE`` (128) for don't-care pixels.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
REGIONS = ROOT / "tests" / "engines" / "classic" / "regions"
LONG_SIDE = 512  # every photo is downscaled to at most this long side (fast tests, easy drawing)
GRID = 25  # px between grid lines in the drawing aid
IGNORE = 128  # the mask value of a don't-care pixel


def _skimage(name: str) -> Image.Image:
    from skimage import data

    return Image.fromarray(np.asarray(getattr(data, name)())).convert("RGB")


# photo file -> the package or repository file it is copied from (public domain or CC0 only: regions/LICENSES.md;
# skimage's stereo_motorcycle is left out, the Middlebury set states no licence)
SOURCES: dict[str, tuple[str, str]] = {
    "astronaut.png": ("skimage", "astronaut"),
    "chelsea.png": ("skimage", "chelsea"),
    "coffee.png": ("skimage", "coffee"),
    "rocket.png": ("skimage", "rocket"),
    "grace_hopper.png": ("examples", "grace_hopper.jpg"),
    "sneaker.png": ("examples", "sneaker.png"),
}


def photos() -> None:
    for name, (kind, src) in SOURCES.items():
        im = _skimage(src) if kind == "skimage" else Image.open(ROOT / "examples" / src).convert("RGB")
        scale = LONG_SIDE / max(im.size)
        if scale < 1:
            im = im.resize((round(im.width * scale), round(im.height * scale)), Image.Resampling.LANCZOS)
        im.save(REGIONS / name, optimize=True)
        print(f"{name}: {im.width}x{im.height}")


def load_polygons() -> dict[str, dict]:
    return json.loads((REGIONS / "polygons.json").read_text())


def _layer(polygons: list, size: tuple[int, int]) -> np.ndarray:
    layer = Image.new("L", size, 0)
    draw = ImageDraw.Draw(layer)
    for poly in polygons:
        draw.polygon([tuple(map(float, v)) for v in poly], fill=255)
    return np.asarray(layer) > 0


def render(spec: dict, size: tuple[int, int]) -> np.ndarray:
    """One region's mask (uint8, H×W: 255 region, 0 outside, ``IGNORE`` don't care) from its polygons."""
    region = _layer(spec.get("add", []), size) & ~_layer(spec.get("cut", []), size)
    out = np.where(region, 255, 0).astype(np.uint8)
    out[_layer(spec.get("ignore", []), size)] = IGNORE
    edge = int(spec.get("edge", 0))
    if edge:
        band = Image.new("L", size, 0)
        draw = ImageDraw.Draw(band)
        for poly in spec.get("add", []) + spec.get("cut", []):
            pts = [tuple(map(float, v)) for v in poly]
            draw.line([*pts, pts[0]], fill=255, width=2 * edge + 1, joint="curve")
        out[np.asarray(band) > 0] = IGNORE
    return out


def masks() -> None:
    out = REGIONS / "masks"
    out.mkdir(exist_ok=True)
    for name, spec in load_polygons().items():
        size = Image.open(REGIONS / spec["image"]).size
        mask = render(spec, size)
        Image.fromarray(mask).save(out / f"{name}.png", optimize=True)
        region, ignored = mask == 255, mask == IGNORE
        print(f"{name}: {int(region.sum())} px ({region.mean():.1%} of {spec['image']}), {ignored.mean():.1%} ignored")


def grid(dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for name in SOURCES:
        im = Image.open(REGIONS / name).convert("RGB")
        im = im.resize((im.width * 2, im.height * 2), Image.Resampling.LANCZOS)
        draw = ImageDraw.Draw(im)
        for v in range(0, max(im.size) // 2 + 1, GRID):
            strong = v % 100 == 0
            colour = (255, 0, 255) if strong else (0, 255, 255)
            draw.line([(v * 2, 0), (v * 2, im.height)], fill=colour, width=1)
            draw.line([(0, v * 2), (im.width, v * 2)], fill=colour, width=1)
            if strong:
                draw.text((v * 2 + 2, 2), str(v), fill=(255, 255, 0))
                draw.text((2, v * 2 + 2), str(v), fill=(255, 255, 0))
        im.save(dest / f"grid_{Path(name).stem}.png")


def overlay(dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for name, spec in load_polygons().items():
        im = Image.open(REGIONS / spec["image"]).convert("RGB")
        mask = render(spec, im.size)
        arr = np.asarray(im).astype(np.float32)
        for value, tint in ((255, (255, 0, 0)), (IGNORE, (0, 0, 255))):
            sel = mask == value
            arr[sel] = 0.6 * arr[sel] + 0.4 * np.array(tint)
        out = Image.fromarray(arr.astype(np.uint8))
        out = out.resize((out.width * 2, out.height * 2), Image.Resampling.NEAREST)
        draw = ImageDraw.Draw(out)
        for poly in spec.get("add", []):
            draw.line([(x * 2, y * 2) for x, y in [*poly, poly[0]]], fill=(255, 255, 0), width=1)
        for poly in spec.get("cut", []):
            draw.line([(x * 2, y * 2) for x, y in [*poly, poly[0]]], fill=(0, 255, 255), width=1)
        out.save(dest / f"overlay_{name}.png")


def zoom(dest: Path, photo: str, box: tuple[int, int, int, int], region: str | None) -> None:
    """A 4× crop of ``photo`` with a 10 px grid (labels every 50 px) and, if named, a region's outline."""
    dest.mkdir(parents=True, exist_ok=True)
    im = Image.open(REGIONS / photo).convert("RGB")
    x0, y0, x1, y1 = box
    k = 4
    out = im.crop(box).resize(((x1 - x0) * k, (y1 - y0) * k), Image.Resampling.LANCZOS)
    draw = ImageDraw.Draw(out)
    spec = load_polygons().get(region, {}) if region else {}
    for key, colour in (("add", (255, 255, 0)), ("cut", (0, 255, 255))):
        for poly in spec.get(key, []):
            draw.line([((x - x0) * k, (y - y0) * k) for x, y in [*poly, poly[0]]], fill=colour, width=2)
    for v in range(0, max(x1, y1) + 1, 10):
        colour = (255, 0, 255) if v % 50 == 0 else (0, 200, 255)
        if x0 <= v <= x1:
            draw.line([((v - x0) * k, 0), ((v - x0) * k, out.height)], fill=colour, width=1)
            if v % 50 == 0:
                draw.text(((v - x0) * k + 2, 2), str(v), fill=(255, 255, 0))
        if y0 <= v <= y1:
            draw.line([(0, (v - y0) * k), (out.width, (v - y0) * k)], fill=colour, width=1)
            if v % 50 == 0:
                draw.text((2, (v - y0) * k + 2), str(v), fill=(255, 255, 0))
    out.save(dest / f"zoom_{Path(photo).stem}_{x0}_{y0}{'_' + region if region else ''}.png")


BOX_PAD = 0.02  # of each side: a user's box is a little larger than the object


def tags(region: str) -> tuple[str, str]:
    """The ``<bbox>`` and ``<point>`` tags (0–1000 of the photo) a user would write for ``region``."""
    from scipy import ndimage

    mask = np.asarray(Image.open(REGIONS / "masks" / f"{region}.png")) == 255
    h, w = mask.shape
    ys, xs = np.nonzero(mask)
    x0, x1 = max(0.0, xs.min() / w - BOX_PAD), min(1.0, (xs.max() + 1) / w + BOX_PAD)
    y0, y1 = max(0.0, ys.min() / h - BOX_PAD), min(1.0, (ys.max() + 1) / h + BOX_PAD)
    depth = ndimage.distance_transform_edt(mask)
    py, px = np.unravel_index(int(np.argmax(depth)), depth.shape)
    box = f"<bbox>{round(x0 * 1000)} {round(y0 * 1000)} {round(x1 * 1000)} {round(y1 * 1000)}</bbox>"
    point = f"<point>{round((px + 0.5) / w * 1000)} {round((py + 0.5) / h * 1000)}</point>"
    return box, point


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["photos", "masks", "grid", "overlay", "zoom", "tags"])
    parser.add_argument("dest", nargs="?", type=Path, default=Path("/tmp/region_masks"))
    parser.add_argument("rest", nargs="*", help="zoom: PHOTO X0 Y0 X1 Y1 [REGION]; tags: REGION")
    args = parser.parse_args()
    if args.command == "tags":
        print(*tags(args.rest[0]))
        return
    if args.command == "zoom":
        photo, *nums = args.rest
        zoom(args.dest, photo, tuple(int(n) for n in nums[:4]), nums[4] if len(nums) > 4 else None)  # type: ignore[arg-type]
        return
    {"photos": photos, "masks": masks}.get(args.command, lambda: None)()
    if args.command == "grid":
        grid(args.dest)
    elif args.command == "overlay":
        overlay(args.dest)


if __name__ == "__main__":
    main()
