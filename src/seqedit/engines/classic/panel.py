"""One panel being rendered (``Panel``), its reference (``Ref``), and the helpers renderers share.

Images inside the classic engine are float32 numpy arrays, H×W×3, RGB, values in [0, 1]
(``arrays.to_float`` / ``arrays.to_image``). Masks are float32 H×W in [0, 1]. A renderer
(``ops/<name>.py``) changes a ``Panel`` in place: its pixels, warnings, alpha, page and face state.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from seqedit.engines.base import Unsupported
from seqedit.engines.classic import layouts
from seqedit.engines.classic.masks import MaskResult, MaskSet, detect_faces

GENERATIVE_HINT = "a generative engine is needed (seqedit edit --engine diffusion --model …)"


@dataclass
class Ref:
    """One reference at working resolution, with its masks (computed once, shared by all panels)."""

    img: np.ndarray
    masks: MaskSet


@dataclass
class Panel:
    img: np.ndarray
    ref: Ref
    warnings: list[str] = field(default_factory=list)
    moved: bool = False  # geometry changed (crop, page, cover): masks no longer align
    page: bool = False  # a composed page: letterbox rather than crop at the end
    alpha: np.ndarray | None = None
    faces: list[tuple[float, float, float, float]] | None = None  # after a framing, found before any style


def usable(result: MaskResult, what: str, p: Panel) -> MaskResult:
    """A degenerate mask refuses the op; a rough one runs and warns."""
    if result.quality == "degenerate":
        raise Unsupported(
            f"could not find {what} ({result.note or 'mask empty or degenerate'}); {GENERATIVE_HINT}", clause=what
        )
    if result.quality == "rough":
        note = f"{what}: rough mask ({result.note})" if result.note else f"{what}: rough mask"
        if note not in p.warnings:
            p.warnings.append(note)
    return result


def face_boxes(p: Panel) -> list[tuple[float, float, float, float]]:
    if p.faces is not None:
        return p.faces
    faces = detect_faces(p.img) if p.moved else p.ref.masks.faces()
    return [(f.x, f.y, f.w, f.h) for f in faces]


def mask_box(mask: np.ndarray) -> tuple[float, float, float, float] | None:
    ys, xs = np.nonzero(mask > 0.5)
    if xs.size == 0:
        return None
    return float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1), float(ys.max() - ys.min() + 1)


def focus_box(p: Panel) -> tuple[float, float, float, float] | None:
    faces = face_boxes(p)
    if faces:
        return faces[0]
    if not p.moved:
        subject = p.ref.masks.subject()
        if subject.usable:
            return mask_box(subject.mask)
    return None


def focus(p: Panel) -> tuple[float, float]:
    box = focus_box(p)
    if box is None:
        return layouts.DEFAULT_FOCUS
    h, w = p.img.shape[:2]
    return ((box[0] + box[2] / 2) / w, (box[1] + box[3] / 2) / h)


def image_focus(img: np.ndarray) -> tuple[float, float]:
    """The centre of the first face found in ``img`` (fractions of its size), else the layout default."""
    faces = detect_faces(img)
    if not faces:
        return layouts.DEFAULT_FOCUS
    f, (h, w) = faces[0], img.shape[:2]
    return ((f.x + f.w / 2) / w, (f.y + f.h / 2) / h)
