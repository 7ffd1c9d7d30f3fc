"""Cut-outs keep the subject: white parts stay, degenerate guesses are refused, plain backdrops are exact.

The sneaker (``examples/sneaker.png``) is drawn by ``examples/make_sneaker.py``, so its true silhouette is
known: ``sneaker_truth`` redraws the same shapes (checked against the image below). Its light midsole is
nearly the backdrop's colour and touches the backdrop at both ends — the case a colour key drops.
"""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pytest
from mask_color_images import chelsea, coffee, shoe
from PIL import Image, ImageDraw
from typer.testing import CliRunner

from seqedit.client.cli import app
from seqedit.engines.classic.arrays import to_float, to_uint8
from seqedit.engines.classic.background import remove_background, replace_background
from seqedit.engines.classic.masks import (
    MaskSet,
    boundary_contrast,
    matte,
    reachable_backdrop,
    saliency_grabcut,
    subject_verdict,
)

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
UPPER = [(120, 380), (130, 300), (190, 250), (300, 215), (360, 170), (430, 150), (480, 165), (520, 230)]
UPPER += [(600, 270), (655, 310), (660, 380)]
STRIPE = [(210, 345), (330, 300), (520, 260), (600, 262), (470, 300), (300, 350)]


def _layer(draw) -> np.ndarray:
    m = Image.new("L", (768, 512), 0)
    draw(ImageDraw.Draw(m))
    return np.asarray(m) > 127


def sneaker_truth() -> dict[str, np.ndarray]:
    """The drawn shoe's parts as bool masks (make_sneaker.py's shapes; the shadow is not the shoe)."""

    def shoe_shapes(d: ImageDraw.ImageDraw) -> None:
        d.polygon(UPPER, fill=255)
        d.line(UPPER + [UPPER[0]], fill=255, width=3)
        for k in range(5):
            d.line((330 + 32 * k, 205 - 10 * k, 370 + 32 * k, 225 - 6 * k), fill=255, width=6)
        d.rounded_rectangle((110, 372, 672, 418), radius=18, fill=255)
        d.polygon(STRIPE, fill=255)

    midsole = _layer(lambda d: d.rectangle((118, 372, 664, 384), fill=255))
    stripe = _layer(lambda d: d.polygon(STRIPE, fill=255))
    tip = stripe & ~_layer(lambda d: d.polygon(UPPER, fill=255))  # the stripe's tip past the upper's edge
    return {"shoe": _layer(shoe_shapes) | midsole, "midsole": midsole, "stripe": stripe, "tip": tip}


@pytest.fixture(scope="module")
def sneaker() -> np.ndarray:
    return to_float(Image.open(EXAMPLES / "sneaker.png").convert("RGB"))


def _dilate(m: np.ndarray, px: int) -> np.ndarray:
    return cv2.dilate(m.astype(np.uint8), np.ones((2 * px + 1, 2 * px + 1), np.uint8)) > 0


def test_the_truth_is_the_drawn_shoe(sneaker) -> None:
    t = sneaker_truth()
    outside = ~_dilate(t["shoe"], 3)
    outside[360:460] = False  # the floor shadow under the sole
    ramp = np.float32(246 / 255) - np.float32(10 / 255) * np.linspace(0, 1, 512, dtype=np.float32)
    backdrop = np.broadcast_to(ramp[:, None], (512, 768))
    assert np.abs(sneaker[outside] - backdrop[outside][:, None]).max() < 3 / 255  # nothing drawn outside it
    assert t["midsole"].sum() > 5000 and t["tip"].sum() > 20


def test_sneaker_keeps_its_white_midsole_and_stripe_tip(sneaker) -> None:
    r = MaskSet(sneaker).subject()
    assert r.kind == "product" and r.quality == "good"
    kept = r.mask > 0.5
    t = sneaker_truth()
    for part in ("shoe", "midsole", "stripe"):
        assert (kept & t[part]).sum() >= 0.97 * t[part].sum(), part
    assert (kept & t["tip"]).sum() >= 0.8 * t["tip"].sum()  # the thin tip past the outline is not blurred away
    assert (kept & ~_dilate(t["shoe"], 3)).sum() < 0.02 * t["shoe"].sum()  # the backdrop is not the shoe


def test_sneaker_on_white_is_exactly_white_outside(sneaker) -> None:
    mask = MaskSet(sneaker).subject().mask
    t = sneaker_truth()
    out = to_uint8(replace_background(sneaker, mask, "color", color="pure white"))
    far = ~_dilate(t["shoe"], 6)
    assert (out[far] == 255).all()
    inside = cv2.erode(t["shoe"].astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
    assert np.abs(out[inside].astype(int) - to_uint8(sneaker)[inside].astype(int)).mean() < 6  # the shoe is kept


@pytest.mark.parametrize(("name", "level"), [("white", 255), ("black", 0), ("grey", 128), ("light grey", 192)])
def test_plain_neutrals_are_exact(sneaker, name: str, level: int) -> None:
    mask = MaskSet(sneaker).subject().mask
    out = to_uint8(replace_background(sneaker, mask, "color", color=name))
    assert (out[:40, :40] == level).all() and (out[-30:, -40:] == level).all()


def test_a_white_shoe_with_a_white_logo_keeps_both() -> None:
    img, truth = shoe(upper=(224, 222, 216), logo=(246, 246, 244))  # the logo is exactly the backdrop colour
    kept = MaskSet(img).subject().mask > 0.5
    assert (kept & truth["logo"]).sum() >= 0.97 * truth["logo"].sum()
    assert (kept & truth["subject"]).sum() >= 0.97 * truth["subject"].sum()


def test_the_backdrop_enters_only_through_wide_gaps() -> None:
    free = np.ones((100, 100), bool)
    cv2.rectangle(free.view(np.uint8), (20, 20), (80, 80), 0, 2)  # a square outline
    narrow, wide = free.copy(), free.copy()
    narrow[49:52, 19:22] = True  # a 3-px gap in its left side
    wide[35:66, 19:22] = True  # a 31-px gap
    assert not reachable_backdrop(narrow, passage=3)[50, 50]  # the inside stays subject
    assert reachable_backdrop(wide, passage=3)[50, 50]  # a wide opening is backdrop getting in
    assert reachable_backdrop(narrow, passage=3)[5, 5]


def test_matte_keeps_thin_parts() -> None:
    img = np.full((120, 200, 3), 0.95, np.float32)
    img[58:61, 20:180] = (0.8, 0.1, 0.1)  # a 3-px red line
    coarse = np.zeros((120, 200), np.float32)
    coarse[58:61, 20:180] = 1.0
    a = matte(img, coarse)
    assert a[59, 30:170].min() > 0.5 and a[:50].max() == 0.0 and a.dtype == np.float32


def test_the_cat_is_kept_or_refused() -> None:
    img = chelsea()  # 451×300; the cat's head and chest fill this box (drawn by looking at it)
    r = MaskSet(img).subject()
    if r.usable:
        assert float((r.mask[30:300, 90:380] > 0.5).mean()) >= 0.8
    else:
        assert r.note.startswith("no clear subject")


def test_a_subject_that_falls_apart_or_cuts_through_colour_is_refused() -> None:
    eyes = np.zeros((200, 300), np.uint8)
    cv2.ellipse(eyes, (100, 80), (25, 15), 0, 0, 360, 1, -1)
    cv2.ellipse(eyes, (200, 80), (25, 15), 0, 0, 360, 1, -1)
    assert "separate pieces" in subject_verdict(eyes, 1.0)
    tiny = np.zeros((200, 300), np.uint8)
    tiny[90:100, 140:150] = 1
    assert "looks like a subject" in subject_verdict(tiny, 1.0)
    flat = np.full((200, 300, 3), 0.4, np.float32)
    blob = np.zeros((200, 300), np.uint8)
    blob[40:160, 60:240] = 1
    assert boundary_contrast(flat, blob) == 0.0  # the same colour on both sides of the cut
    assert "outline" in subject_verdict(blob, boundary_contrast(flat, blob))
    drawn = flat.copy()
    drawn[40:160, 60:240] = (0.9, 0.2, 0.2)
    assert boundary_contrast(drawn, blob) > 0.95 and subject_verdict(blob, 1.0) == ""


def test_guesses_on_cluttered_photos_are_judged_and_deterministic() -> None:
    for img in (chelsea(), coffee()):
        a, b = saliency_grabcut(img, seed=3), saliency_grabcut(img, seed=3)
        assert a.quality == b.quality and a.note == b.note and np.array_equal(a.mask, b.mask)
        assert a.quality in ("rough", "degenerate") and a.note


def _cli(tmp_path: Path, ref: Path, prompt: str, fmt: str = "png") -> tuple[int, str, Path]:
    out = tmp_path / re.sub(r"\W+", "_", prompt)
    r = CliRunner().invoke(app, ["edit", str(ref), "-p", prompt, "-n", "1", "--format", fmt, "-q", "-o", str(out)])
    return r.exit_code, r.output, out


def test_cli_sneaker_on_pure_white_png_is_exact(tmp_path: Path) -> None:
    code, output, out = _cli(tmp_path, EXAMPLES / "sneaker.png", "put it on a pure white background")
    assert code == 0, output
    a = np.asarray(Image.open(out / "1.png").convert("RGB"))
    h, w = a.shape[:2]
    t = cv2.resize(sneaker_truth()["shoe"].astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST)
    far = ~_dilate(t, max(8, w // 100))
    assert (a[far] == 255).all()
    kept = (np.abs(a.astype(int) - 255).sum(2) > 12) & (t > 0)
    assert kept.sum() >= 0.97 * t.sum()  # the shoe, midsole included, is not whitened away


def test_cli_refuses_a_cat_it_cannot_find_in_one_line(tmp_path: Path) -> None:
    ref = tmp_path / "chelsea.png"
    Image.fromarray(to_uint8(chelsea())).save(ref)
    code, output, _ = _cli(tmp_path, ref, "put the cat on a white background")
    if code == 3:
        lines = [ln for ln in output.strip().splitlines() if ln.strip()]
        assert len(lines) == 1 and "subject" in lines[0] and "Traceback" not in output
    else:
        assert code == 0, output


def test_keyed_matte_makes_backdrop_coloured_rim_pixels_transparent() -> None:
    img = np.full((100, 160, 3), 0.96, np.float32)
    img[30:70, 40:120] = (0.2, 0.3, 0.8)  # a blue block on white
    coarse = np.zeros((100, 160), np.float32)
    coarse[27:73, 37:123] = 1.0  # the coarse mask is 3 px too big all round
    plain = matte(img, coarse, band=0.02)
    keyed = matte(img, coarse, band=0.02, backdrop=np.full_like(img, 0.96))
    rim = np.zeros((100, 160), bool)
    rim[27:29, 50:110] = True  # backdrop pixels inside the coarse mask
    assert keyed[rim].max() < 0.05 < plain[rim].max()
    assert keyed[35:65, 45:115].min() == 1.0


def test_a_cut_out_carries_no_old_backdrop_under_its_transparent_pixels(sneaker) -> None:
    mask = MaskSet(sneaker).subject().mask
    rgb, alpha = remove_background(sneaker, mask)
    clear = alpha == 0.0
    near = clear & _dilate(alpha > 0.5, 4)
    assert near.sum() > 500
    assert np.abs(rgb[near] - sneaker[near]).mean() > 0.05  # the subject's colours are bled outward
    assert np.allclose(rgb[alpha >= 1.0], sneaker[alpha >= 1.0], atol=0.31)


def test_cli_remove_background_png_keeps_the_midsole_opaque(tmp_path: Path) -> None:
    code, output, out = _cli(tmp_path, EXAMPLES / "sneaker.png", "remove the background")
    assert code == 0, output
    im = Image.open(out / "1.png")
    assert im.mode == "RGBA"
    a = np.asarray(im)[..., 3]
    h, w = a.shape
    t = sneaker_truth()
    core = cv2.resize((cv2.erode(t["midsole"].astype(np.uint8), np.ones((5, 5), np.uint8))), (w, h)) > 0
    assert a[:20, :20].max() == 0 and np.percentile(a[core], 5) == 255


def test_two_agreeing_guesses_find_a_product_on_a_busy_backdrop() -> None:
    img, truth = shoe()
    h, w = img.shape[:2]
    rng = np.random.default_rng(1)
    noise = cv2.GaussianBlur(rng.random((h, w, 3)).astype(np.float32), (0, 0), 3)
    yy = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    busy = np.clip(
        (0.35 + 0.25 * yy + 0.5 * (noise - 0.5) * np.float32([1, 0.8, 0.5])) * np.float32([1, 1.25, 0.9]), 0, 1
    )
    photo = np.where(truth["subject"][..., None], img, busy).astype(np.float32)
    r = saliency_grabcut(photo)
    assert r.quality == "rough" and "agree" in r.note
    kept = r.mask > 0.5
    assert (kept & truth["subject"]).sum() >= 0.95 * truth["subject"].sum()
    assert (kept & ~truth["subject"]).sum() < 0.05 * truth["subject"].sum()


@pytest.mark.parametrize("name", ["chelsea", "rocket"])
def test_one_cue_alone_cuts_nothing_out(name: str) -> None:
    import skimage.data

    img = np.asarray(getattr(skimage.data, name)(), np.float32) / np.float32(255.0)
    r = saliency_grabcut(img)  # the cat's two eyes; the rocket without its nose
    assert r.quality == "degenerate" and r.note.startswith("no clear subject")


def test_a_person_mask_that_is_only_the_head_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from mask_color_images import astronaut

    from seqedit.engines.classic import masks

    img = astronaut()  # 512×512, as the segmentation's work size
    faces = masks.detect_faces(img)
    f = faces[0]

    def head_only(_img: np.ndarray) -> np.ndarray:
        raw = np.zeros((512, 512), np.float32)
        raw[int(f.y) : int(f.y + f.h), int(f.x) : int(f.x + f.w)] = 1.0
        return raw

    monkeypatch.setattr(masks, "_selfie", head_only)
    r = masks.person_mask(img, faces)
    assert r.quality == "degenerate" and "face" in r.note
