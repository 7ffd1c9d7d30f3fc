"""framing: crops keep the face, wide extends, mirror never reverses detected text, fit_to_size."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont
from skimage import data

from seqedit.engines.classic import arrays
from seqedit.engines.classic.framing import fit_to_size, parse_aspect, reframe
from seqedit.engines.classic.inpaint import text_boxes
from tests.support import photos
from tests.support.photos import ASTRONAUT_FACE

MARKERS = ((1.0, 0.0, 1.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0), (1.0, 1.0, 0.0))  # distinct pure colours


def with_corner_markers(img: np.ndarray, box: tuple[float, float, float, float], size: int = 8) -> np.ndarray:
    """Copy of ``img`` with four pure-colour squares just inside the corners of ``box``."""
    out = img.copy()
    x, y, w, h = (int(round(v)) for v in box)
    corners = ((x, y), (x + w - size, y), (x, y + h - size), (x + w - size, y + h - size))
    for (cx, cy), colour in zip(corners, MARKERS, strict=True):
        out[cy : cy + size, cx : cx + size] = colour
    return out


def markers_present(img: np.ndarray) -> list[bool]:
    return [bool((np.abs(img - np.float32(c)).max(axis=2) < 0.12).sum() >= 4) for c in MARKERS]


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return photos.astronaut()


@pytest.fixture(scope="module")
def grace() -> np.ndarray:
    return photos.grace_hopper()


def text_image(
    text: str = "HELLO WORLD", xy: tuple[int, int] = (30, 30), size: int = 36
) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """chelsea with white text drawn on it, and the text's (x0, y0, x1, y1)."""
    im = Image.fromarray(data.chelsea())
    draw = ImageDraw.Draw(im)
    font = ImageFont.load_default(size=size)
    draw.text(xy, text, font=font, fill=(255, 255, 255))
    x0, y0, x1, y1 = (int(v) for v in draw.textbbox(xy, text, font=font))
    return photos.as_f32(np.asarray(im)), (x0, y0, x1, y1)


# ----------------------------------------------------------------------------- crops


@pytest.mark.parametrize("kind", ["closeup", "medium", "crop"])
def test_face_aware_crops_keep_the_face(astronaut: np.ndarray, kind: str) -> None:
    face = ASTRONAUT_FACE if kind != "medium" else (190.0, 50.0, 50.0, 60.0)  # medium needs a small face
    marked = with_corner_markers(astronaut, face)
    out, warnings = reframe(marked, kind, face_boxes=[face])
    assert out.shape == astronaut.shape and out.dtype == np.float32 and warnings == []
    assert all(markers_present(out))
    assert np.abs(out - marked).mean() > 0.05  # it is a different framing


def test_medium_on_a_medium_shot_says_so(astronaut: np.ndarray) -> None:
    out, warnings = reframe(astronaut, "medium", face_boxes=[ASTRONAUT_FACE])
    assert np.array_equal(out, astronaut) and "already" in warnings[0]


def test_closeup_enlarges_the_face(grace: np.ndarray) -> None:
    face = (150.0, 95.0, 130.0, 150.0)
    marked = with_corner_markers(grace, face)
    out, _ = reframe(marked, "closeup", face_boxes=[face])
    assert all(markers_present(out))
    ys, xs = np.nonzero(np.abs(out - np.float32(MARKERS[0])).max(axis=2) < 0.12)
    ys2, xs2 = np.nonzero(np.abs(out - np.float32(MARKERS[3])).max(axis=2) < 0.12)
    assert xs2.mean() - xs.mean() > 1.4 * (face[2] - 8)  # the face box got wider in pixels


def test_subject_box_is_used_without_faces(astronaut: np.ndarray) -> None:
    rocket_box = (330.0, 10.0, 80.0, 230.0)
    out, warnings = reframe(with_corner_markers(astronaut, rocket_box), "closeup", subject_box=rocket_box)
    assert all(markers_present(out)) and warnings == []


def test_face_beats_subject_and_no_focus_warns(astronaut: np.ndarray) -> None:
    out, _ = reframe(
        with_corner_markers(astronaut, ASTRONAUT_FACE),
        "closeup",
        face_boxes=[ASTRONAUT_FACE],
        subject_box=(0.0, 300.0, 100.0, 100.0),
    )
    assert all(markers_present(out))
    out, warnings = reframe(astronaut, "closeup")
    assert out.shape == astronaut.shape and any("no face or subject" in w for w in warnings)


def test_wide_shrinks_the_scene_into_a_synthetic_border(astronaut: np.ndarray) -> None:
    out, warnings = reframe(astronaut, "wide")
    assert out.shape == astronaut.shape
    assert any("approximate" in w for w in warnings)
    h, w = astronaut.shape[:2]
    inner_w, inner_h = round(w / 1.4), round(h / 1.4)
    x0, y0 = (w - inner_w) // 2, (h - inner_h) // 2
    small = cv2.resize(astronaut, (inner_w, inner_h), interpolation=cv2.INTER_AREA)
    core = out[y0 + 4 : y0 + inner_h - 4, x0 + 4 : x0 + inner_w - 4]
    assert np.abs(core - small[4:-4, 4:-4]).mean() < 0.03  # the whole scene, smaller
    border = np.concatenate([out[:, : x0 - 4].reshape(-1, 3), out[:, x0 + inner_w + 4 :].reshape(-1, 3)])
    assert border.std(axis=0).mean() < astronaut.std(axis=(0, 1)).mean()  # smooth invented border


@pytest.mark.parametrize(("aspect", "ratio"), [("16:9", 16 / 9), ("9:16", 9 / 16), ("1:1", 1.0), ("4x5", 0.8)])
def test_aspect_crop_is_subject_aware(astronaut: np.ndarray, aspect: str, ratio: float) -> None:
    marked = with_corner_markers(astronaut, ASTRONAUT_FACE)
    out, warnings = reframe(marked, "aspect", face_boxes=[ASTRONAUT_FACE], aspect=aspect)
    h, w = out.shape[:2]
    assert abs(w / h - ratio) < 0.02 and max(h, w) == 512
    assert all(markers_present(out)) and warnings == []


def test_bad_aspect_and_kind_are_errors(astronaut: np.ndarray) -> None:
    with pytest.raises(ValueError):
        parse_aspect("wide")
    with pytest.raises(ValueError):
        reframe(astronaut, "aspect")
    with pytest.raises(ValueError, match="unknown framing"):
        reframe(astronaut, "dutch_angle")


# ----------------------------------------------------------------------------- mirror


def test_mirror_without_text_is_an_exact_flip() -> None:
    cat = photos.as_f32(data.chelsea())
    out, warnings = reframe(cat, "mirror")
    assert warnings == []
    assert np.array_equal(out, cat[:, ::-1])


def test_mirror_keeps_detected_text_readable() -> None:
    img, (x0, y0, x1, y1) = text_image()
    out, warnings = reframe(img, "mirror")
    assert warnings and "text" in warnings[0]
    text = img[y0:y1, x0:x1]
    readable = cv2.matchTemplate(out, text, cv2.TM_SQDIFF_NORMED).min()
    reversed_ = cv2.matchTemplate(out, np.ascontiguousarray(text[:, ::-1]), cv2.TM_SQDIFF_NORMED).min()
    assert readable < 1e-6  # the text appears, pixel for pixel
    assert reversed_ > 0.02  # its mirror image does not
    for bx, by, bw, bh in text_boxes(img):  # each box: mirrored place, original pixels
        bx0, by0, bx1, by1 = int(bx), int(by), int(np.ceil(bx + bw)), int(np.ceil(by + bh))
        w = img.shape[1]
        assert np.array_equal(out[by0:by1, w - bx1 : w - bx0], img[by0:by1, bx0:bx1])
    h, w = img.shape[:2]  # away from text: a true mirror
    assert np.array_equal(out[h // 2 :], img[h // 2 :, ::-1])


def test_mirror_text_hints() -> None:
    img, _ = text_image()
    out, warnings = reframe(img, "mirror", has_text=False)  # caller vouches: no text
    assert warnings == [] and np.array_equal(out, img[:, ::-1])
    cat = photos.as_f32(data.chelsea())
    out, warnings = reframe(cat, "mirror", has_text=True)  # text claimed but not located
    assert np.array_equal(out, cat[:, ::-1]) and "backwards" in warnings[0]


# ----------------------------------------------------------------------------- fit_to_size


@pytest.mark.parametrize(("width", "height"), [(300, 100), (100, 300), (512, 512), (1024, 576), (64, 64)])
def test_fit_to_size_covers_exactly(astronaut: np.ndarray, width: int, height: int) -> None:
    out = fit_to_size(astronaut, width, height, focus_box=ASTRONAUT_FACE)
    assert out.shape == (height, width, 3) and out.dtype == np.float32


def test_fit_to_size_centres_on_the_focus(astronaut: np.ndarray) -> None:
    marked = with_corner_markers(astronaut, ASTRONAUT_FACE, size=12)
    out = fit_to_size(marked, 512, 160, focus_box=ASTRONAUT_FACE)  # a thin strip through the face
    assert all(markers_present(out))
    same_aspect = fit_to_size(astronaut, 256, 256)
    assert np.allclose(same_aspect, arrays.resize(astronaut, 256, 256))


# ----------------------------------------------------------------------------- set variations and the final fit


def test_variation_windows_keep_the_box_and_differ() -> None:
    from seqedit.engines.classic.framing import variation_window

    keep = (200.0, 100.0, 120.0, 150.0)
    windows = {variation_window(640, 480, i, keep) for i in range(1, 16)}
    assert len(windows) == 15
    for x, y, w, h in windows:
        assert x <= 200 and y <= 100 and x + w >= 320 and y + h >= 250
        assert abs((w / h) / (640 / 480) - 1) < 0.02


def test_fit_subject_slides_to_the_subject_and_warns_what_it_cuts() -> None:
    from seqedit.engines.classic.framing import fit_subject

    img = np.zeros((100, 300, 3), np.float32)
    img[:, :60] = 1.0  # the subject is at the far left
    mask = np.zeros((100, 300), np.float32)
    mask[20:80, 5:55] = 1.0
    out, warnings = fit_subject(img, 100, 100, None, mask)
    assert float(out[:, :, 0].mean()) > 0.5 and not warnings  # the crop moved left to hold it
    mask[20:80, 5:295] = 1.0  # a subject wider than any square crop
    out, warnings = fit_subject(img, 100, 100, None, mask)
    assert warnings and "frame cuts" in warnings[0]
    out, warnings = fit_subject(img, 100, 100, None, mask, plain=True)
    assert out.shape == (100, 100, 3) and "backdrop extended" in warnings[0]


def test_fit_subject_keeps_the_face_over_the_bulk_of_the_body(astronaut: np.ndarray) -> None:
    from seqedit.engines.classic.framing import fit_subject

    h, w = astronaut.shape[:2]
    face = (w * 0.4, h * 0.1, w * 0.2, h * 0.15)
    body = np.zeros((h, w), np.float32)
    body[int(h * 0.1) :, int(w * 0.1) : int(w * 0.9)] = 1.0  # most of the mask lies below the face
    out, warnings = fit_subject(astronaut, 400, 100, face, body)
    window_h = w * 100 / 400
    expected = astronaut[int(face[1]) : int(face[1] + window_h)]
    assert warnings and "frame cuts" in warnings[0]
    assert out.shape == (100, 400, 3)
    small = cv2.resize(expected, (400, 100), interpolation=cv2.INTER_AREA)
    assert float(np.abs(small - out).mean()) < 0.12  # the band starts at the face, not at the chest
