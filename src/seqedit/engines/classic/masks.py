"""Masks for one reference image, computed lazily and once: person, faces, product, sky, subject.

``MaskSet(img)`` is built once per reference and shared by every panel. Each mask comes back as a
``MaskResult`` that carries a quality judgement:

* ``good`` — trust it;
* ``rough`` — usable, but the op that uses it should be reported as approximate (GrabCut, sky, clothes);
* ``degenerate`` — empty, (nearly) the whole image, fragmented or uncertain: the op must not pretend it
  ran. ``note`` says why.

Subjects: on a plain backdrop the subject is everything the backdrop cannot reach from the border
through gaps wider than ``PASSAGE`` (so a white sole or toe cap inside the outline stays), with a
trimap matte at the edge; elsewhere two GrabCut guesses (saliency-seeded, frame-filling) must pass
``subject_verdict`` — big enough, one piece, an outline that follows colour edges — and agree, or the
mask is degenerate and the op refuses.

mediapipe (0.10.21, legacy ``solutions``; models ship in its wheel) is imported only here, lazily.
Heavy steps run at ≤ 512 px and the masks are upsampled and refined against the full-size image with
a guided filter. OpenCV's RNG is seeded before GrabCut, so the same seed gives the same mask.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import cv2
import numpy as np
from PIL import Image

from .arrays import to_float

Quality = Literal["good", "rough", "degenerate"]
T = TypeVar("T")

MIN_AREA = 0.01  # below this fraction of the image a mask is "empty"
MAX_AREA = 0.97  # above it the mask is "everything"
WORK_SIDE = 512  # long side for segmentation work
PERSON_OVER_FACE = 1.5  # a person mask smaller than this × the face boxes has lost the person
MIN_SUBJECT_AREA = 0.015  # a guessed (GrabCut) subject smaller than this fraction is not the subject
MAIN_PIECE = 0.75  # ... and its largest piece holds at least this share of it
MIN_CONTRAST = 0.75  # ... and this share of its outline has a colour edge (``boundary_contrast``)
AGREE = 0.85  # ... and the two guesses must both pass and overlap this much (IoU)
BOUNDARY_DELTA = 10.0  # Lab difference across the outline that counts as an edge
TEXTURE_MIN = 1.5  # keyed masks: local lightness s.d. (Lab L, 5 px) that counts as texture at the least
KEY_SPAN = 0.08  # keyed matte: foreground and backdrop colours this far apart (RGB) give alpha by colour
MATTE_SIDE = 1024  # the matte's guided filter runs at this long side at most
PASSAGE = 0.008  # keyed masks: the backdrop enters the subject only through gaps wider than 2 × this × side


class DegenerateMask(ValueError):
    """An op was handed a mask it cannot honestly use (empty, whole image, fragmented)."""


@dataclass(frozen=True)
class FaceBox:
    """A detected face in pixel coordinates of the full-size image."""

    x: float
    y: float
    w: float
    h: float
    score: float

    @property
    def center(self) -> tuple[float, float]:
        return (self.x + self.w / 2, self.y + self.h / 2)


@dataclass(frozen=True)
class MaskResult:
    """A float32 H×W mask in [0, 1] with what produced it and how far to trust it."""

    mask: np.ndarray
    kind: str
    quality: Quality
    note: str = ""

    @property
    def area(self) -> float:
        """Fraction of the image inside the mask (mask > 0.5)."""
        return float((self.mask > 0.5).mean())

    @property
    def usable(self) -> bool:
        return self.quality != "degenerate"


# ----------------------------------------------------------------------------- small helpers


def smoothstep(e0: float, e1: float, x: np.ndarray) -> np.ndarray:
    """Hermite ramp from 0 at ``e0`` to 1 at ``e1`` (float32)."""
    t = np.clip((x - np.float32(e0)) / np.float32(e1 - e0 + 1e-12), 0.0, 1.0)
    return (t * t * (3.0 - 2.0 * t)).astype(np.float32)


def fit_long(img: np.ndarray, side: int) -> np.ndarray:
    """Downscale so the long side is at most ``side`` (never upscales)."""
    h, w = img.shape[:2]
    s = side / max(h, w)
    if s >= 1.0:
        return img
    return cv2.resize(img, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)


def upsample(mask: np.ndarray, width: int, height: int) -> np.ndarray:
    """Bilinear resize of a mask to (width, height), float32 in [0, 1]."""
    if mask.shape[:2] == (height, width):
        return mask.astype(np.float32, copy=False)
    out = cv2.resize(mask.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
    return np.clip(out, 0.0, 1.0)


def refine(
    img: np.ndarray,
    soft: np.ndarray,
    radius: int | None = None,
    eps: float = 1e-3,
    sharpen: tuple[float, float] | None = (0.3, 0.7),
) -> np.ndarray:
    """Edge-aware refinement of a coarse mask: guided filter with the image as guide, then re-sharpen."""
    h, w = img.shape[:2]
    r = radius if radius is not None else max(2, int(6 * max(h, w) / 1024) + 2)
    src = np.clip(soft, 0.0, 1.0).astype(np.float32)
    out = cv2.ximgproc.guidedFilter(np.ascontiguousarray(img, dtype=np.float32), src, r, eps)
    if sharpen is not None:
        out = smoothstep(sharpen[0], sharpen[1], out)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def fill_holes(binary: np.ndarray) -> np.ndarray:
    """Fill background pockets fully enclosed by the mask (uint8 0/1 in, uint8 out)."""
    inv = (binary == 0).astype(np.uint8)
    n, lab = cv2.connectedComponents(inv, connectivity=4)
    if n <= 1:
        return binary
    border = np.unique(np.concatenate([lab[0], lab[-1], lab[:, 0], lab[:, -1]]))
    holes = (inv > 0) & ~np.isin(lab, border)
    out = binary.copy()
    out[holes] = 1
    return out


def keep_components(binary: np.ndarray, min_frac: float = 0.05, max_keep: int = 4) -> np.ndarray:
    """Keep the largest connected components (each ≥ ``min_frac`` of the largest), uint8 0/1."""
    n, lab, st, _ = cv2.connectedComponentsWithStats(binary.astype(np.uint8), connectivity=8)
    if n <= 2:
        return binary.astype(np.uint8)
    areas = st[1:, cv2.CC_STAT_AREA]
    order = np.argsort(-areas)[:max_keep]
    keep = [i + 1 for i in order if areas[i] >= min_frac * areas.max()]
    return np.isin(lab, keep).astype(np.uint8)


def judge(mask: np.ndarray, kind: str, quality: Quality = "good", note: str = "") -> MaskResult:
    """Wrap a mask with a quality verdict: empty / whole-image / fragmented masks are degenerate."""
    m = np.clip(mask, 0.0, 1.0).astype(np.float32, copy=False)
    small = fit_long(m, 256)
    binary = (small > 0.5).astype(np.uint8)
    area = float(binary.mean())
    if area < MIN_AREA:
        return MaskResult(m, kind, "degenerate", f"{kind} mask is empty ({area:.1%} of the image)")
    if area > MAX_AREA:
        return MaskResult(m, kind, "degenerate", f"{kind} mask covers the whole image ({area:.1%})")
    n, _, st, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    areas = np.sort(st[1:, cv2.CC_STAT_AREA])[::-1]
    pieces = int((areas >= 0.0005 * binary.size).sum())
    if pieces > 6 and areas[0] < 0.35 * areas.sum():
        return MaskResult(m, kind, "degenerate", f"{kind} mask is fragmented into {pieces} pieces")
    return MaskResult(m, kind, quality, note)


def _empty(shape: tuple[int, int], kind: str, note: str) -> MaskResult:
    return MaskResult(np.zeros(shape, np.float32), kind, "degenerate", note)


def _u8(img: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray((np.clip(img, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8))


# ----------------------------------------------------------------------------- mediapipe (lazy, shared)

_MP_LOCK = threading.Lock()
_MP_CACHE: dict[str, Any] = {}
_MP_WARM: set[str] = set()


@contextlib.contextmanager
def _native_stderr_silenced(name: str) -> Iterator[None]:
    """Silence mediapipe's C++ start-up chatter (TFLite/absl/glog write to fd 2 directly and ignore
    GLOG_minloglevel) during a graph's creation and first inference only; later calls are untouched."""
    if name in _MP_WARM:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
        _MP_WARM.add(name)


def _mp_process(name: str, image: np.ndarray) -> Any:
    """Run one cached mediapipe graph on an RGB uint8 image (callers hold ``_MP_LOCK``)."""
    with _native_stderr_silenced(name):
        return _mp_solution(name).process(image)


def _mp_solution(name: str) -> Any:
    """A cached mediapipe solution graph (created once per process; callers hold ``_MP_LOCK``)."""
    if name not in _MP_CACHE:
        import mediapipe as mp  # heavy; mediapipe 0.10.21 ships these .tflite models in its wheel

        S = mp.solutions
        if name == "face_full":
            _MP_CACHE[name] = S.face_detection.FaceDetection(model_selection=1, min_detection_confidence=0.5)
        elif name == "face_short":
            _MP_CACHE[name] = S.face_detection.FaceDetection(model_selection=0, min_detection_confidence=0.5)
        elif name == "selfie":
            _MP_CACHE[name] = S.selfie_segmentation.SelfieSegmentation(model_selection=0)
        elif name == "mesh":
            _MP_CACHE[name] = S.face_mesh.FaceMesh(
                static_image_mode=True, max_num_faces=4, refine_landmarks=False, min_detection_confidence=0.5
            )
        else:  # pragma: no cover
            raise KeyError(name)
    return _MP_CACHE[name]


def detect_faces(img: np.ndarray, min_score: float = 0.5) -> list[FaceBox]:
    """Face boxes (full-size pixel coordinates), best first. Full-range model, short-range fallback."""
    h, w = img.shape[:2]
    small = _u8(fit_long(img, 640))
    boxes: list[FaceBox] = []
    with _MP_LOCK:
        for model in ("face_full", "face_short"):
            res = _mp_process(model, small)
            for d in res.detections or []:
                bb = d.location_data.relative_bounding_box
                score = float(d.score[0])
                if score >= min_score and bb.width > 0 and bb.height > 0:
                    boxes.append(FaceBox(bb.xmin * w, bb.ymin * h, bb.width * w, bb.height * h, score))
            if boxes:
                break
    return sorted(boxes, key=lambda b: -b.score)


def face_landmarks(img: np.ndarray) -> list[np.ndarray]:
    """Face-mesh landmarks (468×2 float32, full-size pixels) for each face found."""
    h, w = img.shape[:2]
    small = _u8(fit_long(img, 640))
    with _MP_LOCK:
        res = _mp_process("mesh", small)
    return [np.array([(p.x * w, p.y * h) for p in f.landmark], np.float32) for f in (res.multi_face_landmarks or [])]


def _selfie(img: np.ndarray) -> np.ndarray:
    small = _u8(fit_long(img, WORK_SIDE))
    with _MP_LOCK:
        m = _mp_process("selfie", small).segmentation_mask
    return np.asarray(m, np.float32)


# ----------------------------------------------------------------------------- individual masks


def person_mask(img: np.ndarray, faces: list[FaceBox]) -> MaskResult:
    """Selfie-segmentation person mask, gated on a detected face and checked for certainty."""
    h, w = img.shape[:2]
    if not faces:
        return _empty((h, w), "person", "no face detected, so no person mask")
    raw = _selfie(img)
    uncertain = float(((raw > 0.25) & (raw < 0.75)).mean())
    confident = float((raw >= 0.75).mean())
    if confident < MIN_AREA or uncertain > max(0.15, confident):
        return _empty((h, w), "person", f"person segmentation is unsure ({uncertain:.0%} of pixels undecided)")
    coarse = upsample(smoothstep(0.2, 0.8, raw), w, h)
    m = refine(img, coarse)
    f = faces[0]
    x0, y0 = int(max(0, f.x)), int(max(0, f.y))
    x1, y1 = int(min(w, f.x + f.w)), int(min(h, f.y + f.h))
    if x1 > x0 and y1 > y0 and float(m[y0:y1, x0:x1].mean()) < 0.5:
        return MaskResult(m, "person", "degenerate", "person mask does not cover the detected face")
    face_px = sum(b.w * b.h for b in faces)
    if float((m > 0.5).sum()) < PERSON_OVER_FACE * face_px:  # a head alone is not the person
        return MaskResult(m, "person", "degenerate", "person mask is hardly more than the detected face")
    return judge(m, "person")


def face_mask(img: np.ndarray, faces: list[FaceBox], landmarks: list[np.ndarray], dilate: float = 0.1) -> MaskResult:
    """Face region: face-mesh convex hull(s) if available, else ellipses in the detection boxes."""
    h, w = img.shape[:2]
    m = np.zeros((h, w), np.uint8)
    if landmarks:
        for pts in landmarks:
            hull = cv2.convexHull(pts.astype(np.int32))
            cv2.fillConvexPoly(m, hull, 1)
            k = max(1, int(dilate * cv2.boundingRect(hull)[2])) | 1
            m = cv2.dilate(m, np.ones((k, k), np.uint8))
        kind_note = "face mesh hull"
    elif faces:
        for f in faces:
            c = (int(f.x + f.w / 2), int(f.y + f.h * 0.45))
            cv2.ellipse(m, c, (int(f.w * 0.55), int(f.h * 0.7)), 0, 0, 360, 1, -1)
        kind_note = "face detection ellipse"
    else:
        return _empty((h, w), "face", "no face detected")
    res = judge(m.astype(np.float32), "face", "good", kind_note)
    if not res.usable and res.area > 0:  # a small face is still a face: area rules are for subjects
        return MaskResult(res.mask, "face", "good", kind_note)
    return res


def _border_pixels(small_lab: np.ndarray, frac: float = 0.03) -> tuple[np.ndarray, np.ndarray]:
    h, w = small_lab.shape[:2]
    b = max(2, int(frac * min(h, w)))
    sel = np.zeros((h, w), bool)
    sel[:b] = sel[-b:] = True
    sel[:, :b] = sel[:, -b:] = True
    ys, xs = np.nonzero(sel)
    return np.stack([xs / w, ys / h], 1).astype(np.float32), small_lab[sel]


def _poly(xy: np.ndarray) -> np.ndarray:
    x, y = xy[:, 0], xy[:, 1]
    return np.stack([np.ones_like(x), x, y, x * x, x * y, y * y], 1)


def _backdrop_model(lab: np.ndarray) -> tuple[np.ndarray, float] | None:
    """A smooth quadratic fit of the border colour (Lab field at the work size) and its spread (90th
    percentile residual), or None when the border is not one plain backdrop."""
    sh, sw = lab.shape[:2]
    xy, samples = _border_pixels(lab)
    A = _poly(xy)
    inl = np.ones(len(samples), bool)
    coef = np.zeros((6, 3), np.float32)
    res = np.zeros(len(samples), np.float32)
    for _ in range(3):  # robust quadratic fit: drop border pixels that belong to the subject
        coef, *_ = np.linalg.lstsq(A[inl], samples[inl], rcond=None)
        res = np.linalg.norm((A @ coef - samples) * np.array([0.5, 1, 1], np.float32), axis=1)
        cut = max(3.0, 3.0 * float(np.median(res[inl])))
        inl = res < cut
    if inl.mean() < 0.7:
        return None
    spread = float(np.percentile(res[inl], 90))
    if spread > 6.0:
        return None
    yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
    grid = np.stack([(xx / sw).ravel(), (yy / sh).ravel()], 1)
    return (_poly(grid) @ coef).reshape(sh, sw, 3).astype(np.float32), spread


def _border_reached(free: np.ndarray) -> np.ndarray:
    """Pixels of ``free`` (uint8 0/1) connected to the image border through ``free`` (bool)."""
    n, lab = cv2.connectedComponents(free.astype(np.uint8), connectivity=4)
    if n <= 1:
        return np.zeros(free.shape, bool)
    border = np.unique(np.concatenate([lab[0], lab[-1], lab[:, 0], lab[:, -1]]))
    border = border[border > 0]
    return np.isin(lab, border)


def reachable_backdrop(backdrop_like: np.ndarray, passage: int) -> np.ndarray:
    """Backdrop pixels reachable from the border through openings at least ``2·passage + 1`` px wide.

    A white midsole or toe cap on a white sweep is backdrop-coloured, but it touches the backdrop only
    through the narrow gaps its outline leaves; a flood through the eroded backdrop does not pass those
    gaps, and growing the flood back by ``passage`` px (inside backdrop-coloured pixels) restores the
    backdrop's own edge without entering the part. Returns bool H×W.
    """
    k = np.ones((2 * passage + 1, 2 * passage + 1), np.uint8)
    core = cv2.erode(backdrop_like.astype(np.uint8), k, borderType=cv2.BORDER_REPLICATE)
    reached = _border_reached(core).astype(np.uint8)
    return (cv2.dilate(reached, k) > 0) & backdrop_like.astype(bool)


def _textured(lightness: np.ndarray, side: int = 5) -> np.ndarray:
    """Pixels with more fine texture than the backdrop's border shows (uint8 0/1): a white upper's
    fabric or grain on a smooth white sweep. The map is eroded by the window, so the ring of texture
    that every edge makes does not widen the subject."""
    mu = cv2.blur(lightness, (side, side))
    sd = np.sqrt(np.maximum(cv2.blur(lightness * lightness, (side, side)) - mu * mu, 0.0))
    b = max(2, int(0.03 * min(sd.shape)))
    border = np.concatenate([sd[:b].ravel(), sd[-b:].ravel(), sd[:, :b].ravel(), sd[:, -b:].ravel()])
    rough = (sd > max(TEXTURE_MIN, 2.0 * float(np.percentile(border, 95)))).astype(np.uint8)
    return cv2.erode(rough, np.ones((side, side), np.uint8))


def keyed_mask(img: np.ndarray) -> MaskResult | None:
    """Product on a plain / white / studio backdrop: key out a smooth fit of the border colour.

    The subject is everything the backdrop cannot reach from the image border (``reachable_backdrop``),
    so parts the colour of the backdrop (white soles, toe caps, white logos) stay when the subject's
    outline encloses them, and holes are filled. The edge is a trimap matte (``matte``), not a blur.
    Returns None when the border is not plain enough to key.
    """
    h, w = img.shape[:2]
    small = fit_long(img, WORK_SIDE)
    lab = cv2.cvtColor(small, cv2.COLOR_RGB2Lab)
    model = _backdrop_model(lab)
    if model is None:
        return None
    bg, spread = model
    d = (lab - bg) * np.array([0.5, 1.0, 1.0], np.float32)
    dist = np.sqrt((d * d).sum(2))
    thr = max(5.0, 2.5 * spread)
    fg = cv2.morphologyEx((dist > thr).astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    fg |= _textured(lab[..., 0])
    passage = max(2, round(PASSAGE * max(small.shape[:2])))
    subject = (~reachable_backdrop(fg == 0, passage)).astype(np.uint8)
    subject = fill_holes(keep_components(subject, min_frac=0.05))
    backdrop_rgb = np.clip(cv2.cvtColor(bg, cv2.COLOR_Lab2RGB), 0.0, 1.0)
    backdrop_full = cv2.resize(backdrop_rgb, (w, h), interpolation=cv2.INTER_LINEAR)
    m = matte(img, upsample(subject.astype(np.float32), w, h), band=0.004, backdrop=backdrop_full)
    return judge(m, "product", "good", "keyed on a plain backdrop")


def _nearest_colour(img: np.ndarray, where: np.ndarray, at: np.ndarray) -> np.ndarray:
    """The colour (3×3 mean) of the nearest pixel of ``where`` for each pixel of ``at`` (N×3).

    The nearest solid pixel, not an average of the neighbourhood: beside a dark outline it is the
    outline, at the end of a white midsole it is the midsole, so each rim pixel is judged against the
    part it belongs to."""
    _, labels = cv2.distanceTransformWithLabels(
        (~where).astype(np.uint8), cv2.DIST_L2, 3, labelType=cv2.DIST_LABEL_PIXEL
    )
    ys, xs = np.nonzero(where)  # labels number the zero pixels in this (raster) order, from 1
    return cv2.blur(img, (3, 3))[ys, xs][labels[at] - 1]


def matte(img: np.ndarray, coarse: np.ndarray, band: float = 0.002, backdrop: np.ndarray | None = None) -> np.ndarray:
    """Soft alpha from a coarse mask through a trimap.

    Sure foreground and sure background (the mask eroded by ``band`` × the long side on each side) keep
    1 and 0. In the unknown band between, with a known ``backdrop`` (H×W×3 RGB, a keyed backdrop's fit)
    alpha is each pixel's colour projected on the line from the backdrop to the nearest solid foreground
    colour (difference matting: a pixel that looks like the backdrop is transparent, so no rim of the old
    backdrop survives); where the two colours are too close to tell apart (a white sole on white), and
    without a backdrop, alpha is a guided filter of the mask with the image as guide. Thin parts (a logo's
    tip, a lace) keep their width either way.
    """
    h, w = img.shape[:2]
    r = max(1, round(band * max(h, w)))
    binary = (coarse > 0.5).astype(np.uint8)
    k = np.ones((2 * r + 1, 2 * r + 1), np.uint8)
    sure_fg = cv2.erode(binary, k) > 0
    sure_bg = cv2.erode(1 - binary, k) > 0
    unknown = ~sure_fg & ~sure_bg
    soft = binary.astype(np.float32)
    if unknown.any():  # the guided filter runs at ≤ MATTE_SIDE px: it only decides the unknown band
        small_img = fit_long(img, MATTE_SIDE)
        sh, sw = small_img.shape[:2]
        small_bin = cv2.resize(soft, (sw, sh), interpolation=cv2.INTER_AREA)
        rs = max(1, round(2 * r * max(sh, sw) / max(h, w)))
        guided = upsample(refine(small_img, small_bin, radius=rs, eps=1e-4, sharpen=None), w, h)
        soft[unknown] = guided[unknown]
    if backdrop is not None and unknown.any() and sure_fg.any():
        fg_colour = _nearest_colour(img, sure_fg, unknown)
        b = backdrop[unknown]
        span = fg_colour - b
        den = (span * span).sum(1)
        proj = np.clip(((img[unknown] - b) * span).sum(1) / np.maximum(den, 1e-6), 0.0, 1.0)
        sure = den > KEY_SPAN**2
        soft[unknown] = np.where(sure, proj, soft[unknown])
    soft[sure_fg] = 1.0
    soft[sure_bg] = 0.0
    return soft


def _grabcut(bgr: np.ndarray, gc: np.ndarray, seed: int, iters: int) -> np.ndarray:
    """GrabCut from a label mask (seeded: its GMM init draws from cv2's global RNG); uint8 0/1 foreground."""
    sh, sw = gc.shape
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(seed)
    try:
        cv2.grabCut(bgr, gc, None, bgd, fgd, iters, cv2.GC_INIT_WITH_MASK)
    except cv2.error:  # one label class empty: fall back to a centred rectangle
        b = max(2, int(0.03 * min(sh, sw)))
        gc[:] = cv2.GC_PR_BGD
        cv2.setRNGSeed(seed)
        cv2.grabCut(bgr, gc, (b, b, sw - 2 * b, sh - 2 * b), bgd, fgd, iters, cv2.GC_INIT_WITH_RECT)
    fg = ((gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD)).astype(np.uint8)
    return cv2.morphologyEx(fg, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))


def _saliency_seeds(small: np.ndarray, bgr: np.ndarray) -> np.ndarray:
    """GrabCut labels from fine-grained saliency × a centre prior (Otsu split), the border as background."""
    sh, sw = small.shape[:2]
    ok, smap = cv2.saliency.StaticSaliencyFineGrained_create().computeSaliency(bgr)
    smap = cv2.GaussianBlur(np.asarray(smap, np.float32), (0, 0), 3.0)
    smap = (smap - smap.min()) / (float(np.ptp(smap)) + 1e-6)
    yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
    centre = np.exp(-(((xx - sw / 2) / (0.35 * sw)) ** 2 + ((yy - sh / 2) / (0.35 * sh)) ** 2))
    score = _u8(smap * (0.4 + 0.6 * centre))
    thr, _ = cv2.threshold(score, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    gc = np.full((sh, sw), cv2.GC_PR_BGD, np.uint8)
    gc[score > thr] = cv2.GC_PR_FGD
    b = max(2, int(0.03 * min(sh, sw)))
    gc[:b] = gc[-b:] = cv2.GC_BGD
    gc[:, :b] = gc[:, -b:] = cv2.GC_BGD
    return gc


def _frame_seeds(shape: tuple[int, int]) -> np.ndarray:
    """GrabCut labels for a subject that fills the frame: top, left and right strips are background,
    everything else may be subject (the bottom edge is not: busts, pets and products are cut by it)."""
    sh, sw = shape
    gc = np.full((sh, sw), cv2.GC_PR_FGD, np.uint8)
    b = max(2, int(0.04 * min(sh, sw)))
    gc[:b] = cv2.GC_BGD
    gc[:, :b] = gc[:, -b:] = cv2.GC_BGD
    return gc


def boundary_contrast(img: np.ndarray, binary: np.ndarray, min_delta: float = BOUNDARY_DELTA) -> float:
    """Fraction of the mask's outline (away from the frame) where the colour just inside differs from the
    colour just outside by more than ``min_delta`` (Lab, lightness at half weight).

    A cut that follows the object's edge scores high; one through the middle of the fur or the table
    (the same colour on both sides) scores low. 0.0 when the mask has no outline.
    """
    lab = cv2.cvtColor(np.ascontiguousarray(img, np.float32), cv2.COLOR_RGB2Lab)
    m = binary.astype(np.float32)
    sigma = 3.0
    w_in = cv2.GaussianBlur(m, (0, 0), sigma)[..., None]
    w_out = cv2.GaussianBlur(1.0 - m, (0, 0), sigma)[..., None]
    mean_in = cv2.GaussianBlur(lab * m[..., None], (0, 0), sigma) / np.maximum(w_in, 1e-3)
    mean_out = cv2.GaussianBlur(lab * (1.0 - m)[..., None], (0, 0), sigma) / np.maximum(w_out, 1e-3)
    b = binary.astype(np.uint8)
    outline = (b > 0) & ~(cv2.erode(b, np.ones((3, 3), np.uint8)) > 0)
    e = 3
    outline[:e] = outline[-e:] = False
    outline[:, :e] = outline[:, -e:] = False
    if not outline.any():
        return 0.0
    d = (mean_in - mean_out) * np.array([0.5, 1.0, 1.0], np.float32)
    return float((np.sqrt((d * d).sum(2))[outline] > min_delta).mean())


def subject_verdict(binary: np.ndarray, contrast: float) -> str:
    """Why a guessed (not keyed) subject mask cannot be trusted, or "" when it can.

    A cut-out keeps one subject: it is refused when it is tiny, when it falls apart into separate pieces
    (two eyes instead of a cat), or when its outline mostly runs through uniform colour (a guess, not
    the object's edge).
    """
    area = float(binary.mean())
    if area < MIN_SUBJECT_AREA:
        return f"only {area:.1%} of the image looks like a subject"
    n, _, st, _ = cv2.connectedComponentsWithStats(binary.astype(np.uint8), connectivity=8)
    areas = np.sort(st[1:, cv2.CC_STAT_AREA])[::-1]
    if len(areas) and areas[0] < MAIN_PIECE * areas.sum():
        big = int((areas >= 0.2 * areas[0]).sum())
        return f"the subject falls apart into {big} separate pieces"
    if contrast < MIN_CONTRAST:
        return f"only {contrast:.0%} of the outline follows an edge in the photo"
    return ""


def saliency_grabcut(img: np.ndarray, seed: int = 0, work: int = 256, iters: int = 3) -> MaskResult:
    """Generic salient-object mask for a photo without a plain backdrop, judged before it is used.

    Two guesses at 256 px, each checked by ``subject_verdict``: GrabCut seeded by fine-grained saliency
    × a centre prior, and GrabCut for a subject that fills the frame. The mask is kept (rough) only when
    both pass and agree (IoU ≥ ``AGREE``); otherwise it is degenerate and says why: the cat's two eyes
    (falls apart), the cup alone or cup and saucer (disagree), a rocket without its nose (one guess
    alone) are refused, not delivered.
    """
    h, w = img.shape[:2]
    small = fit_long(img, work)
    bgr = cv2.cvtColor(_u8(small), cv2.COLOR_RGB2BGR)
    reasons: list[str] = []
    passed: list[tuple[str, np.ndarray]] = []
    fg = np.zeros(small.shape[:2], np.uint8)
    for name, seeds in (("saliency", _saliency_seeds(small, bgr)), ("frame", _frame_seeds(small.shape[:2]))):
        guess = fill_holes(keep_components(_grabcut(bgr, seeds, seed, iters), min_frac=0.2, max_keep=2))
        why = subject_verdict(guess, boundary_contrast(small, guess))
        if why:
            reasons.append(f"{name} guess: {why}")
        else:
            passed.append((name, guess))
        if not passed:
            fg = guess
    if len(passed) == 2:
        agree = _iou(passed[0][1], passed[1][1])
        if agree >= AGREE:
            m = refine(img, upsample(passed[0][1].astype(np.float32), w, h))
            return judge(m, "product", "rough", f"saliency and frame GrabCut guesses agree (IoU {agree:.2f})")
        reasons.append(f"the saliency and frame guesses disagree on the subject (IoU {agree:.2f})")
    elif passed:  # one cue alone is how the rocket lost its nose: not enough to cut anything out
        fg = passed[0][1]
        reasons.append(f"only the {passed[0][0]} guess found one, and one guess is not enough")
    m = upsample(fg.astype(np.float32), w, h)  # not refined: nothing will use it
    return MaskResult(m, "product", "degenerate", "no clear subject: " + "; ".join(reasons))


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(bool), b.astype(bool)
    return float((a & b).sum() / max(1, (a | b).sum()))


def sky_mask(img: np.ndarray) -> MaskResult:
    """Bright, smooth, bluish-or-neutral region connected to the top edge."""
    h, w = img.shape[:2]
    small = fit_long(img, WORK_SIDE)
    hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV)  # float: H in degrees, S and V in [0, 1]
    lum = small @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    g = cv2.GaussianBlur(lum, (0, 0), 1.5)
    grad = np.hypot(cv2.Sobel(g, cv2.CV_32F, 1, 0), cv2.Sobel(g, cv2.CV_32F, 0, 1))
    grad = cv2.GaussianBlur(grad, (0, 0), 3.0)
    bluish = small[..., 2] >= small[..., 0] - 0.02
    cand = (hsv[..., 2] > 0.45) & (grad < 0.12) & (bluish | (hsv[..., 1] < 0.12))
    cand8 = cv2.morphologyEx(cand.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    cand8 = cv2.morphologyEx(cand8, cv2.MORPH_CLOSE, np.ones((7, 1), np.uint8))
    m = np.cumprod(cand8, axis=0).astype(np.uint8)  # a run of candidates from the top of each column
    n, lab, st, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
    for i in range(1, n):
        if st[i, cv2.CC_STAT_AREA] < 0.01 * m.size:
            m[lab == i] = 0
    if m.mean() < 0.03:
        return _empty((h, w), "sky", "no sky found (no bright smooth region at the top)")
    colour = np.median(small[m > 0], axis=0)
    close = (np.linalg.norm(small - colour, axis=2) < 0.12).astype(np.uint8)
    for _ in range(3):  # grow into the textured rim the smoothness test excluded
        m = np.maximum(m, cv2.dilate(m, np.ones((5, 5), np.uint8)) & close)
    r = max(2, int(3 * max(h, w) / 1024) + 2)
    soft = refine(img, upsample(m.astype(np.float32), w, h), radius=r, eps=1e-4, sharpen=(0.3, 0.55))
    return judge(soft, "sky", "rough", "sky heuristic (top-connected smooth bright region)")


def alpha_mask(alpha: np.ndarray) -> MaskResult | None:
    """Subject mask from an RGBA reference's alpha channel; None if the alpha is all opaque."""
    a = np.clip(np.asarray(alpha, np.float32), 0.0, 1.0)
    if float((a < 0.5).mean()) < 0.001:
        return None
    return judge(a, "alpha", "good", "the reference's alpha channel")


# ----------------------------------------------------------------------------- the per-reference set


def _like_temple_hair(
    lab: np.ndarray, candidate: np.ndarray, faces: list[FaceBox], min_pixels: int = 40
) -> np.ndarray | float:
    """Weight in [0, 1]: how close each pixel is to the hair colour seen beside the faces (1.0: no evidence).

    The strips just outside each face box, from the eyes down to the jaw, show hair under most headwear;
    their median Lab colour is the hair colour, and pixels far from it in hue and chroma (a black cap over
    grey hair) drop out. Lightness weighs little: highlights and shade are the same hair.
    """
    h, w = candidate.shape
    samples = []
    for f in faces:
        ys = slice(int(max(0, f.y + 0.3 * f.h)), int(min(h, f.y + 0.9 * f.h)))
        for x0, x1 in ((f.x - 0.2 * f.w, f.x + 0.08 * f.w), (f.x + 0.92 * f.w, f.x + 1.2 * f.w)):
            xs = slice(int(max(0, x0)), int(min(w, x1)))
            samples.append(lab[ys, xs][candidate[ys, xs] > 0.5])
    pixels = np.concatenate(samples) if samples else np.empty((0, 3), np.float32)
    if len(pixels) < min_pixels:
        return 1.0
    d = lab - np.median(pixels, axis=0)
    dist = np.sqrt(0.1 * d[..., 0] ** 2 + d[..., 1] ** 2 + d[..., 2] ** 2)
    return 1.0 - smoothstep(16.0, 26.0, dist)


class MaskSet:
    """Every mask of one reference, computed on first use and cached (thread-safe).

    ``img`` is the engine's float32 H×W×3 RGB array; ``alpha`` an optional H×W alpha in [0, 1]
    (from an RGBA reference). ``seed`` seeds OpenCV's RNG for GrabCut and k-means.
    """

    def __init__(self, img: np.ndarray, alpha: np.ndarray | None = None, seed: int = 0) -> None:
        if img.ndim != 3 or img.shape[2] != 3:
            raise ValueError("MaskSet expects an H×W×3 RGB array")
        self.img = np.ascontiguousarray(img, dtype=np.float32)
        self.alpha = None if alpha is None else np.asarray(alpha, np.float32)
        self.seed = int(seed)
        self._cache: dict[str, Any] = {}
        self._lock = threading.RLock()

    @classmethod
    def from_image(cls, im: Image.Image, seed: int = 0) -> MaskSet:
        """Build from a PIL image; an RGBA image's alpha becomes the preferred subject mask."""
        alpha = None
        if im.mode in ("RGBA", "LA") or (im.mode == "P" and "transparency" in im.info):
            im = im.convert("RGBA")
            alpha = np.asarray(im.getchannel("A"), np.float32) / np.float32(255.0)
        return cls(to_float(im), alpha=alpha, seed=seed)

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.img.shape[0]), int(self.img.shape[1]))

    def cached(self, key: str, make: Callable[[], T]) -> T:
        """Compute ``make()`` once per reference under ``key`` (e.g. colorway parts) and reuse it."""
        with self._lock:
            if key not in self._cache:
                self._cache[key] = make()
            return self._cache[key]  # type: ignore[no-any-return]

    _get = cached

    def faces(self) -> list[FaceBox]:
        """Detected faces, best first (empty list when none)."""
        return self._get("faces", lambda: detect_faces(self.img))

    def landmarks(self) -> list[np.ndarray]:
        """Face-mesh landmarks per face (only computed when a face was detected)."""
        return self._get("landmarks", lambda: face_landmarks(self.img) if self.faces() else [])

    def face(self) -> MaskResult:
        """Face region (mesh hull, else detection ellipse)."""
        return self._get("face", lambda: face_mask(self.img, self.faces(), self.landmarks()))

    def person(self) -> MaskResult:
        """Person mask; degenerate when there is no face or the segmentation is unsure."""
        return self._get("person", lambda: person_mask(self.img, self.faces()))

    def product(self) -> MaskResult:
        """Product/object mask: keyed on a plain backdrop, else saliency + GrabCut (rough)."""

        def make() -> MaskResult:
            keyed = keyed_mask(self.img)
            if keyed is not None and keyed.usable:
                return keyed
            return saliency_grabcut(self.img, seed=self.seed)

        return self._get("product", make)

    def sky(self) -> MaskResult:
        """Sky mask (rough at best; degenerate when no sky is found)."""
        return self._get("sky", lambda: sky_mask(self.img))

    def subject(self) -> MaskResult:
        """The best subject mask: the alpha channel, else the person (face present), else the product."""

        def make() -> MaskResult:
            if self.alpha is not None:
                a = alpha_mask(self.alpha)
                if a is not None and a.usable:
                    return a
            if self.faces():
                p = self.person()
                if p.usable:
                    return p
            return self.product()

        return self._get("subject", make)

    def clothes(self) -> MaskResult:
        """Rough clothing mask: person minus face, hair band above it and skin-coloured pixels."""

        def make() -> MaskResult:
            p = self.person()
            if not p.usable:
                return _empty(self.shape, "clothes", p.note or "no person")
            h, w = self.shape
            face = self.face().mask
            lab = cv2.cvtColor(self.img, cv2.COLOR_RGB2Lab)
            inside = face > 0.5
            skin = np.median(lab[inside], axis=0) if inside.any() else None
            keep = p.mask * (1.0 - face)
            if skin is not None:
                d = lab - skin
                dist = np.sqrt(0.25 * d[..., 0] ** 2 + d[..., 1] ** 2 + d[..., 2] ** 2)
                keep = keep * smoothstep(10.0, 18.0, dist)
            for f in self.faces():  # hair: the band around and above the head
                x0, x1 = int(max(0, f.x - 0.35 * f.w)), int(min(w, f.x + 1.35 * f.w))
                y0, y1 = int(max(0, f.y - 0.8 * f.h)), int(min(h, f.y + 1.05 * f.h))
                keep[y0:y1, x0:x1] = 0.0
            binary = cv2.morphologyEx((keep > 0.5).astype(np.uint8), cv2.MORPH_OPEN, np.ones((5, 5), np.uint8))
            binary = keep_components(binary, min_frac=0.1)
            m = refine(self.img, binary.astype(np.float32) * p.mask, sharpen=(0.35, 0.65))
            return judge(m, "clothes", "rough", "person minus face, hair and skin")

        return self._get("clothes", make)

    def hair(self) -> MaskResult:
        """Rough hair mask: person pixels around and above each face that are not skin (short hair only).

        When hair shows beside the face (the temples), only pixels of that colour count: a cap or a hat
        above the head is headwear, not hair.
        """

        def make() -> MaskResult:
            p = self.person()
            if not p.usable:
                return _empty(self.shape, "hair", p.note or "no person")
            h, w = self.shape
            face = self.face().mask
            lab = cv2.cvtColor(self.img, cv2.COLOR_RGB2Lab)
            inside = face > 0.5
            if not inside.any():
                return _empty(self.shape, "hair", "no face region")
            skin = np.median(lab[inside], axis=0)
            d = lab - skin
            not_skin = smoothstep(8.0, 16.0, np.sqrt(0.6 * d[..., 0] ** 2 + d[..., 1] ** 2 + d[..., 2] ** 2))
            region = np.zeros((h, w), np.float32)
            for f in self.faces():
                cx, cy = int(f.x + f.w / 2), int(f.y + 0.3 * f.h)
                cv2.ellipse(region, (cx, cy), (int(0.95 * f.w), int(0.95 * f.h)), 0, 0, 360, 1.0, -1)
                region[int(min(h, f.y + 0.75 * f.h)) :] = 0.0  # above the mouth line: short hair only
            m = region * p.mask * not_skin * (1.0 - face)
            m = m * _like_temple_hair(lab, m, self.faces())
            binary = cv2.morphologyEx((m > 0.5).astype(np.uint8), cv2.MORPH_OPEN, np.ones((5, 5), np.uint8))
            binary = keep_components(binary, min_frac=0.2)
            soft = refine(self.img, binary.astype(np.float32), sharpen=(0.35, 0.65))
            res = judge(soft, "hair", "rough", "person minus skin around the face (short hair only)")
            if not res.usable and res.area > 0.002:  # hair is small next to the frame: area rules are for subjects
                return MaskResult(soft, "hair", "rough", res.note)
            return res

        return self._get("hair", make)

    def get(self, target: str) -> MaskResult:
        """Mask by name: subject | person | product | face | sky | clothes | hair | background (inverse)."""
        if target == "background":
            s = self.subject()
            return judge(1.0 - s.mask, "background", s.quality, s.note) if s.usable else s
        fn = {
            "subject": self.subject,
            "person": self.person,
            "product": self.product,
            "face": self.face,
            "sky": self.sky,
            "clothes": self.clothes,
            "hair": self.hair,
        }.get(target)
        if fn is None:
            raise KeyError(f"unknown mask target: {target!r}")
        return fn()
