"""``ClassicEngine``: the CPU default. Routes the plan, refuses what it cannot do, renders each panel.

Consistency across the set comes from construction:
* every reference is brought to one working resolution and gets one ``MaskSet`` (masks and colorway
  parts computed once, shared by all panels);
* one seed per request (grain, screentones, backdrops, k-means, GrabCut all use it);
* shared ops run with the same parameters on every panel; only a panel's own ops differ;
* the same font roles and layout rules for every panel.

Honesty: unsupported clauses raise ``Unsupported`` before anything renders; approximate ones render
and add a warning; a panel whose pixels did not change is refused (``Unsupported``), never an answer.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import cv2
import numpy as np
from PIL import Image

from seqedit.engines.base import Cancelled, EngineError, Progress, Unsupported, Verdict, register
from seqedit.engines.classic import (background, framing, inpaint, layouts, looks, recolor, styles,
                                     typography)
from seqedit.engines.classic.arrays import WORK_PIXELS, resize, to_uint8, work_scale
from seqedit.engines.classic.masks import MaskResult, MaskSet, detect_faces
from seqedit.engines.classic.options import ClassicOptions
from seqedit.engines.classic.router import RoutedPlan, route
from seqedit.engines.classic.spec import ORDER, OpSpec
from seqedit.plan import Plan

GENERATIVE_HINT = "a generative engine is needed (seqedit edit --engine diffusion --model …)"
NO_OP_DELTA_E = 0.5  # mean ΔE below which a panel counts as unchanged
_GEOMETRY = {"framing", "cover", "layout"}
_PAGE_BACKGROUND = (1.0, 1.0, 1.0)
_STORYBOARD_SHOTS = ("medium", "closeup", "mirror", "crop")
_COVER_LINES = ["The exclusive shoot", "Style  ·  Culture  ·  People"]


@dataclass
class _Ref:
    """One reference at working resolution, with its masks (computed once, shared by all panels)."""

    img: np.ndarray
    masks: MaskSet


@dataclass
class _Panel:
    img: np.ndarray
    ref: _Ref
    warnings: list[str] = field(default_factory=list)
    moved: bool = False  # geometry changed (crop, page, cover): masks no longer align
    page: bool = False  # a composed page: letterbox rather than crop at the end
    alpha: np.ndarray | None = None
    faces: list[tuple[float, float, float, float]] | None = None  # after a framing, found before any style


class ClassicEngine:
    name = "classic"

    def __init__(self, work_pixels: int = WORK_PIXELS) -> None:
        self.work_pixels = work_pixels
        self._lock = threading.Lock()
        self._routes: dict[int, tuple[Plan, RoutedPlan]] = {}

    # ------------------------------------------------------------------ the port

    def analyse(self, plan: Plan) -> list[Verdict]:
        routed = self._route(plan)
        out: list[Verdict] = []
        for where, ops in [(None, routed.shared), *((k, ops) for k, ops in enumerate(routed.panels, start=1))]:
            for o in ops:
                if o.name == "meta":
                    continue
                out.append(Verdict(where, o.clause, o.name, o.verdict,
                                   o.note or ("needs new content: " + GENERATIVE_HINT if o.verdict == "unsupported" else "")))
        for r in routed.reported:
            out.append(Verdict(r.where or None, r.clause, f"? {r.guess}", "approximate",
                               f"not understood ({r.reason}); ignored, not guessed"))
        for k in range(1, plan.count + 1):
            if not routed.renderable(k) and not routed.unsupported():
                out.append(Verdict(k, plan.instruction(k) or "(empty)", "none", "unsupported",
                                   "nothing in this panel's instruction is an edit the classic engine can make"))
        return out

    def check(self, plan: Plan, refs: list[Image.Image] | None = None) -> list[str]:
        routed = self._route(plan)
        bad = routed.unsupported()
        if bad:
            o = bad[0]
            what = o.params.get("what") or o.name
            raise Unsupported(
                f"'{o.clause}' is not something the classic engine can do ({what}: {o.note or 'needs new content'}); "
                f"{GENERATIVE_HINT}", clause=o.clause, suggestion="diffusion")
        for k in range(1, plan.count + 1):
            if not routed.renderable(k):
                text = plan.instruction(k) or "(empty)"
                raise Unsupported(
                    f"panel {k}: nothing in '{_short(text)}' is an edit the classic engine can make "
                    f"(reported, not guessed); rephrase it, or {GENERATIVE_HINT}", clause=text)
        warnings = [f"approximate: {n}" if not n.startswith("not understood") else n for n in routed.notes()]
        if refs is not None and any(o.name == "layout" and o.params.get("kind") in ("grid", "side_by_side")
                                    for k in range(1, plan.count + 1) for o in routed.ops(k)) and len(refs) < 2:
            warnings.append("a grid/side-by-side layout of a single reference shows it once")
        return warnings

    def generate(self, plan: Plan, refs: list[Image.Image], progress: Progress) -> Iterator[Image.Image]:
        if not refs:
            raise EngineError("no reference image", code=1400)
        routed = self._route(plan)
        self.check(plan, refs)
        prepared = self._prepare_refs(plan, refs)
        seen: set[tuple[int, tuple[Any, ...]]] = set()
        total = plan.count
        for k in range(1, total + 1):
            if progress.cancelled():
                raise Cancelled(f"cancelled before panel {k}")
            ops = self._vary(k, routed, seen, len(prepared))
            cv2.setRNGSeed(plan.seed)
            panel = self._render(k, plan, ops, prepared, progress)
            for w in panel.warnings:
                progress.warn(f"panel {k}: {w}")
            yield self._finish(k, panel, plan)
            progress.report(k / total, f"panel {k}/{total}")

    # ------------------------------------------------------------------ planning

    def _route(self, plan: Plan) -> RoutedPlan:
        with self._lock:
            hit = self._routes.get(id(plan))
            if hit is not None and hit[0] is plan:
                return hit[1]
            routed = route(plan)
            self._routes = {id(plan): (plan, routed)}  # one plan at a time per call sequence
            return routed

    def _prepare_refs(self, plan: Plan, refs: list[Image.Image]) -> list[_Ref]:
        target = plan.size.width * plan.size.height
        budget = min(self.work_pixels, max(int(target * 1.25), 512 * 512))
        out = []
        for im in refs:
            s = work_scale(im.width, im.height, budget)
            if s < 1.0:
                im = im.resize((max(16, round(im.width * s)), max(16, round(im.height * s))), Image.LANCZOS)
            ms = MaskSet.from_image(im, seed=plan.seed)
            out.append(_Ref(ms.img, ms))
        return out

    def _vary(self, k: int, routed: RoutedPlan, seen: set, n_refs: int) -> list[OpSpec]:
        """A panel identical to an earlier one (same reference, same ops) gets its own framing."""
        ops = list(routed.ops(k))
        key = ((k - 1) % n_refs, tuple((o.name, repr(sorted(o.params.items()))) for o in ops))
        if key in seen and not any(o.name in ("framing", "layout") for o in ops):
            if any(o.name == "cover" for o in ops):
                ops = [replace(o, params={**o.params, "variant": k}) if o.name == "cover" else o for o in ops]
            else:
                cycle = ("closeup", "medium", "mirror", "wide")
                kind = cycle[(k - 2) % len(cycle)]
                ops.append(OpSpec("framing", {"kind": kind}, "(set variation)", "approximate", 1.0,
                                  f"same instruction as an earlier panel; varied only by a {kind} framing"))
        seen.add(key)
        return ops

    # ------------------------------------------------------------------ rendering one panel

    def _render(self, k: int, plan: Plan, ops: list[OpSpec], refs: list[_Ref], progress: Progress) -> _Panel:
        ref = refs[(k - 1) % len(refs)]
        runnable = sorted((o for o in ops if o.name in ORDER), key=lambda o: ORDER.index(o.name))
        layout = next((o for o in runnable if o.name == "layout"), None)
        if layout is not None and layout.params.get("kind") in ("grid", "side_by_side"):
            pre = [o for o in runnable if o.name != "layout"]
            tiles = [self._apply_all(_Panel(r.img.copy(), r), pre, plan, k, refs, progress).img for r in refs]
            compose = layouts.grid if layout.params.get("kind") == "grid" else layouts.side_by_side
            return _Panel(compose(tiles), ref, moved=True, page=True)
        if (layout is not None and layout.params.get("kind") == "storyboard" and plan.count > 1
                and not any(o.name in ("framing", "cover") for o in runnable)):
            # one shot per card, framed before any look or style is applied
            shot = OpSpec("framing", {"kind": _STORYBOARD_SHOTS[(k - 1) % len(_STORYBOARD_SHOTS)]}, "(storyboard shot)")
            runnable = sorted([*runnable, shot], key=lambda o: ORDER.index(o.name))
        return self._apply_all(_Panel(ref.img.copy(), ref), runnable, plan, k, refs, progress)

    def _apply_all(self, panel: _Panel, ops: list[OpSpec], plan: Plan, k: int, refs: list[_Ref],
                   progress: Progress) -> _Panel:
        if any(o.name == "cover" for o in ops) and any(o.name == "framing" for o in ops):
            ops = [o for o in ops if o.name != "framing"]  # a cover makes its own crop around the face
        for o in ops:
            if progress.cancelled():
                raise Cancelled(f"cancelled in panel {k}")
            if o.verdict == "approximate" and o.note:
                note = f"approximate {o.name}: {o.note}"
                if note not in panel.warnings:
                    panel.warnings.append(note)
            handler = _HANDLERS[o.name]
            handler(self, panel, o.params, plan, k, refs)
            if o.name in _GEOMETRY:
                panel.moved = True
        return panel

    # each handler mutates the panel in place --------------------------------------------

    def _remove(self, p: _Panel, params: dict, plan: Plan, k: int, refs: list[_Ref]) -> None:
        what = params.get("what", "text")
        try:
            mask = inpaint.defect_mask(p.img, what)
        except ValueError:
            raise Unsupported(f"removing {what}: only thin defects (text, watermarks, scratches, dust) can be "
                              f"removed; {GENERATIVE_HINT}", clause=str(what)) from None
        refusal = inpaint.removal_verdict(mask)
        if refusal is not None:
            raise Unsupported(f"removing {what}: {refusal}; {GENERATIVE_HINT}", clause=str(what))
        p.img, warns = inpaint.inpaint(p.img, mask)
        p.warnings.extend(warns)

    def _recolor(self, p: _Panel, params: dict, plan: Plan, k: int, refs: list[_Ref]) -> None:
        colors = dict(params.get("colors") or {})
        if not colors:
            raise Unsupported("recolour without a colour: say which colour", clause="recolor")
        finish = params.get("finish")
        target = params.get("target")
        ms = p.ref.masks
        if target is None:
            target = "clothes" if ms.faces() else "subject"
        if target == "subject" and not ms.faces():
            subject = _usable(ms.subject(), "the product to recolour", p)
            parts = ms.cached("colorway_parts", lambda: recolor.colorway_parts(p.ref.img, subject.mask, seed=plan.seed))
            p.img, warns = recolor.apply_colorway(p.img, parts, colors, finish)
            p.warnings.extend(warns)
            return
        region = _usable(ms.get(target if target != "subject" else "subject"), f"the {target} to recolour", p)
        primary = colors.get("primary") or next(iter(colors.values()))
        p.img = recolor.recolor(p.img, region.mask, primary, finish)

    def _background(self, p: _Panel, params: dict, plan: Plan, k: int, refs: list[_Ref]) -> None:
        kind = params.get("kind", "studio")
        subject = _usable(p.ref.masks.subject(), "the subject to keep in front of a new background", p)
        if kind == "remove":
            rgb, alpha = background.remove_background(p.img, subject.mask)
            if plan.output_format == "jpeg":
                p.img = background.replace_background(p.img, subject.mask, "color", color="white", seed=plan.seed)
                p.warnings.append("background removed onto white: JPEG has no transparency (use png or webp)")
            else:
                p.img, p.alpha = rgb, alpha
            return
        reference = None
        if kind == "reference":
            index = int(params.get("ref", 1 if len(refs) > 1 else 0))
            if not 0 <= index < len(refs):
                raise EngineError(f"background from reference {index + 1}: only {len(refs)} reference(s) given", code=1400)
            reference = refs[index].img
        p.img = background.replace_background(p.img, subject.mask, kind, color=params.get("color"),
                                              reference=reference, seed=plan.seed)

    def _lighting(self, p: _Panel, params: dict, plan: Plan, k: int, refs: list[_Ref]) -> None:
        subject = p.ref.masks.subject()
        p.img = looks.relight(p.img, params.get("kind", "soft"), params.get("side", "left"),
                              subject.mask if subject.usable else None)

    def _time(self, p: _Panel, params: dict, plan: Plan, k: int, refs: list[_Ref]) -> None:
        sky = p.ref.masks.sky()
        p.img = looks.time_of_day(p.img, params.get("time", "sunset"), sky.mask if sky.usable else None, plan.seed)

    def _look(self, p: _Panel, params: dict, plan: Plan, k: int, refs: list[_Ref]) -> None:
        p.img = looks.apply_look(p.img, params.get("look", "warm"), plan.seed, snow=bool(params.get("snow")))

    def _style(self, p: _Panel, params: dict, plan: Plan, k: int, refs: list[_Ref]) -> None:
        p.img = styles.stylize(p.img, params.get("style", "pencil"), plan.seed, _face_boxes(p))

    def _framing(self, p: _Panel, params: dict, plan: Plan, k: int, refs: list[_Ref]) -> None:
        subject = p.ref.masks.subject() if not p.moved else None
        box = _mask_box(subject.mask) if subject is not None and subject.usable else None
        try:
            p.img, warns = framing.reframe(p.img, params.get("kind", "medium"), face_boxes=_face_boxes(p),
                                           subject_box=box, aspect=params.get("aspect"))
        except ValueError as exc:
            raise EngineError(f"framing: {exc}", code=1400) from None
        p.warnings.extend(warns)
        p.faces = [(f.x, f.y, f.w, f.h) for f in detect_faces(p.img)]  # while the pixels are still a photo

    def _cover(self, p: _Panel, params: dict, plan: Plan, k: int, refs: list[_Ref]) -> None:
        ms = p.ref.masks
        person = ms.person() if ms.faces() else ms.subject()
        faces = ms.faces()
        variant = int(params.get("variant", 0))
        p.img = typography.magazine_cover(
            p.img, person.mask if person.usable else None, faces[0] if faces else None,
            params.get("title") or "PORTRAIT", list(params.get("lines") or _COVER_LINES),
            plan.seed + variant, issue_label=f"No. {k}")
        p.page = True

    def _caption(self, p: _Panel, params: dict, plan: Plan, k: int, refs: list[_Ref]) -> None:
        text = params.get("text") or plan.panels[k - 1].text
        if not text:
            raise Unsupported("caption without text: put the caption in quotes", clause="caption")
        p.img = typography.caption(p.img, text, params.get("position", "bottom"))

    def _frame(self, p: _Panel, params: dict, plan: Plan, k: int, refs: list[_Ref]) -> None:
        p.img = typography.frame(p.img, params.get("kind", "border"), params.get("color"))

    def _layout(self, p: _Panel, params: dict, plan: Plan, k: int, refs: list[_Ref]) -> None:
        kind = params.get("kind", "storyboard")
        focus = _focus(p)
        if kind == "storyboard":
            caption = plan.panels[k - 1].text or None
            p.img = layouts.storyboard_frame(p.img, k - 1, plan.count, caption, focus=focus)
        elif kind == "comic_page":
            shots = []
            for kind_ in ("medium", "closeup", "wide", "mirror"):
                shot, _ = framing.reframe(p.img, kind_, face_boxes=_face_boxes(p))
                shots.append(shot)
            text = plan.panels[k - 1].text
            p.img = layouts.comic_page(shots, [text, "", "", ""] if text else ["", "", "", ""], plan.seed + k - 1,
                                       focus=[_image_focus(shot) for shot in shots])  # one focus per shot
        else:
            raise EngineError(f"unknown layout {kind!r}", code=1400)
        p.page = True

    # ------------------------------------------------------------------ the end of a panel

    def _finish(self, k: int, p: _Panel, plan: Plan) -> Image.Image:
        if not p.moved and p.img.shape == p.ref.img.shape:
            change = recolor.mean_change(p.ref.img, p.img)
            if change < NO_OP_DELTA_E:
                raise Unsupported(  # an unchanged source is never an answer: an honest refusal, not a crash
                    f"panel {k}: the edit left the image unchanged (mean ΔE {change:.2f}); the region it needed "
                    f"was not found", clause=plan.instruction(k))
        w, h = plan.size.width, plan.size.height
        s = work_scale(w, h, max(self.work_pixels, p.img.shape[0] * p.img.shape[1]))
        ww, hh = max(1, round(w * s)), max(1, round(h * s))
        if p.page:
            small = _letterbox(p.img, ww, hh)
        else:
            small = framing.fit_to_size(p.img, ww, hh, _focus_box(p))
        im = Image.fromarray(to_uint8(small), "RGB")
        if p.alpha is not None and not p.moved:
            a = resize(p.alpha[..., None].repeat(3, axis=2), ww, hh)[..., 0] if p.alpha.shape != small.shape[:2] else p.alpha
            im.putalpha(Image.fromarray(to_uint8(a), "L"))
        elif p.alpha is not None:
            p.warnings.append("transparency dropped: a framing or layout changed the geometry")
        if im.size != (w, h):
            im = im.resize((w, h), Image.LANCZOS)  # uint8 upscale: 8192² never exists as float32
        return im


_HANDLERS: dict[str, Callable[..., None]] = {
    "remove": ClassicEngine._remove, "recolor": ClassicEngine._recolor, "background": ClassicEngine._background,
    "lighting": ClassicEngine._lighting, "time_of_day": ClassicEngine._time, "look": ClassicEngine._look,
    "style": ClassicEngine._style, "framing": ClassicEngine._framing, "cover": ClassicEngine._cover,
    "caption": ClassicEngine._caption, "frame": ClassicEngine._frame, "layout": ClassicEngine._layout,
}


def _letterbox(img: np.ndarray, width: int, height: int) -> np.ndarray:
    """Fit a composed page inside width×height on the page colour (a page is never cropped)."""
    h, w = img.shape[:2]
    if abs((w / h) / (width / height) - 1) < 0.06:
        return framing.fit_to_size(img, width, height)
    fitted, x, y = typography.fit_contain(img, width, height)
    canvas = np.empty((height, width, 3), np.float32)
    canvas[:] = _PAGE_BACKGROUND
    fh, fw = fitted.shape[:2]
    canvas[y:y + fh, x:x + fw] = fitted
    return canvas


def _usable(result: MaskResult, what: str, p: _Panel) -> MaskResult:
    """A degenerate mask refuses the op; a rough one runs and warns."""
    if result.quality == "degenerate":
        raise Unsupported(f"could not find {what} ({result.note or 'mask empty or degenerate'}); "
                          f"{GENERATIVE_HINT}", clause=what)
    if result.quality == "rough":
        note = f"{what}: rough mask ({result.note})" if result.note else f"{what}: rough mask"
        if note not in p.warnings:
            p.warnings.append(note)
    return result


def _face_boxes(p: _Panel) -> list[tuple[float, float, float, float]]:
    if p.faces is not None:
        return p.faces
    faces = detect_faces(p.img) if p.moved else p.ref.masks.faces()
    return [(f.x, f.y, f.w, f.h) for f in faces]


def _mask_box(mask: np.ndarray) -> tuple[float, float, float, float] | None:
    ys, xs = np.nonzero(mask > 0.5)
    if xs.size == 0:
        return None
    return float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1), float(ys.max() - ys.min() + 1)


def _focus_box(p: _Panel) -> tuple[float, float, float, float] | None:
    faces = _face_boxes(p)
    if faces:
        return faces[0]
    if not p.moved:
        subject = p.ref.masks.subject()
        if subject.usable:
            return _mask_box(subject.mask)
    return None


def _focus(p: _Panel) -> tuple[float, float]:
    box = _focus_box(p)
    if box is None:
        return layouts.DEFAULT_FOCUS
    h, w = p.img.shape[:2]
    return ((box[0] + box[2] / 2) / w, (box[1] + box[3] / 2) / h)


def _image_focus(img: np.ndarray) -> tuple[float, float]:
    """The centre of the first face found in ``img`` (fractions of its size), else the layout default."""
    faces = detect_faces(img)
    if not faces:
        return layouts.DEFAULT_FOCUS
    f, (h, w) = faces[0], img.shape[:2]
    return ((f.x + f.w / 2) / w, (f.y + f.h / 2) / h)


def _short(text: str, n: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


register("classic", ClassicEngine, options=ClassicOptions)
