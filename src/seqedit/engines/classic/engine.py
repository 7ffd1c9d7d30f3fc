"""``ClassicEngine``: the CPU default. Routes the plan, refuses what it cannot do, renders each panel.

Consistency across the set comes from construction:
* every reference is brought to one working resolution and gets one ``MaskSet`` (masks and colorway
  parts computed once, shared by all panels);
* one seed per request (grain, screentones, backdrops, k-means, GrabCut all use it);
* shared ops run with the same parameters on every panel; only a panel's own ops differ;
* the same font roles and layout rules for every panel.

Each operation's renderer is its ``ops/<name>.py`` (``Operation.render``); the engine runs a panel's ops
in ``Operation.order`` and keeps only the composition: grid and side-by-side pages of all references,
one storyboard shot per card, a cover's own crop, and the final fit to the requested size.

A set is a set: each finished panel is compared (64² thumbnails of the decoded pixels) with the
panels before it; one that is the same picture (mean difference < ``SAME_PANEL``) is rendered again
with the next variation (``_variation``) until it differs, unless the prompt asks for copies. Variations
are real reframings that keep the face or subject (close-up, crop, medium, then the crops of
``framing.variation_window``); a page of all references first rotates their order; a cover changes its
crop and column. Nothing is ever mirrored to vary a set (a flipped face or name tag is not a framing).
The final fit (``framing.fit_subject``) keeps the subject when the size changes the aspect ratio:
it slides the crop to the subject, extends a plain backdrop instead of cutting, and otherwise says
how much of the subject the frame cuts. Pages (covers, storyboards, comic pages, grids) are composed
for the requested aspect ratio, so no bars are added afterwards.

Honesty: unsupported clauses raise ``Unsupported`` before anything renders; approximate ones render
and add a warning; a panel whose pixels did not change is refused (``Unsupported``), never an answer.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import cv2
import numpy as np
from PIL import Image

from seqedit.engines.base import Cancelled, EngineError, Progress, Unsupported, Verdict, register
from seqedit.engines.classic import framing, layouts, recolor
from seqedit.engines.classic.arrays import WORK_PIXELS, resize, to_uint8, work_scale
from seqedit.engines.classic.masks import MaskSet, keyed_mask
from seqedit.engines.classic.ops import OPERATIONS, OpSpec, rendered
from seqedit.engines.classic.options import ClassicOptions
from seqedit.engines.classic.panel import GENERATIVE_HINT, Panel, Ref, face_boxes, focus_box
from seqedit.engines.classic.router import RoutedPlan, route
from seqedit.engines.classic.targets import LOCATION_HINT
from seqedit.plan import Plan

__all__ = ["GENERATIVE_HINT", "MAX_VARIATIONS", "NO_OP_DELTA_E", "SAME_PANEL", "ClassicEngine", "asks_for_copies"]

NO_OP_DELTA_E = 0.5  # mean ΔE below which a panel counts as unchanged …
NO_OP_REGION = 0.002  # … unless at least this fraction of its pixels changed visibly
VISIBLE_DELTA_E = 3.0  # ΔE of a visibly changed pixel
SAME_PANEL = 0.01  # mean |difference| (0-1) of 64×64 thumbnails below which two panels are the same picture
MAX_VARIATIONS = 12  # re-renders tried before a panel that stays the same as an earlier one is refused
PAGE_ASPECT_SAME = 0.06  # a composed page within 6 % of the requested aspect is cropped that little
_THUMB = 64
_VARIATION_SHOTS = ("closeup", "crop", "medium")  # then framing.variation_window 1, 2, …
_STORYBOARD_SHOTS = ("medium", "closeup", "crop", "variation")
UNASKED_MIRROR_SHOT = "crop"  # what a mirror the prompt did not ask for becomes
_ASKS_MIRROR = re.compile(r"mirror|\bflip|faces? the other way|other direction|reverse|horizontally", re.I)
_COPIES = re.compile(
    r"\b(?:identical|exact|duplicate|same)\s+(?:cop(?:y|ies)|duplicates?|versions?|images?|panels?|prints?)\b|"
    r"\bcop(?:y|ies)\b|\bduplicat(?:e|es|ed)\b",
    re.I,
)


def asks_for_copies(prompt: str) -> bool:
    """The prompt asks for copies ("4 identical copies"): panels may then be the same picture."""
    return bool(_COPIES.search(prompt))


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
                out.append(
                    Verdict(
                        where,
                        o.clause,
                        o.name,
                        o.verdict,
                        o.note or ("needs new content: " + GENERATIVE_HINT if o.verdict == "unsupported" else ""),
                        o.params,
                    )
                )
        for r in routed.reported:
            out.append(
                Verdict(
                    r.where or None,
                    r.clause,
                    f"? {r.guess}",
                    "approximate",
                    f"not understood ({r.reason}); ignored, not guessed",
                )
            )
        for k in range(1, plan.count + 1):
            if not routed.renderable(k) and not routed.unsupported():
                out.append(
                    Verdict(
                        k,
                        plan.instruction(k) or "(empty)",
                        "none",
                        "unsupported",
                        "nothing in this panel's instruction is an edit the classic engine can make",
                    )
                )
        return out

    def check(self, plan: Plan, refs: list[Image.Image] | None = None) -> list[str]:
        routed = self._route(plan)
        bad = routed.unsupported()
        if bad:
            o = bad[0]
            what = o.params.get("what") or o.name
            if LOCATION_HINT in o.note:  # a tag makes it doable here: no other engine is the answer
                raise Unsupported(f"'{o.clause}': {o.note}", clause=o.clause)
            raise Unsupported(
                f"'{o.clause}' is not something the classic engine can do ({what}: {o.note or 'needs new content'}); "
                f"{GENERATIVE_HINT}",
                clause=o.clause,
                suggestion="diffusion",
            )
        for k in range(1, plan.count + 1):
            if not routed.renderable(k):
                text = plan.instruction(k) or "(empty)"
                raise Unsupported(
                    f"panel {k}: nothing in '{_short(text)}' is an edit the classic engine can make "
                    f"(reported, not guessed); rephrase it, or {GENERATIVE_HINT}",
                    clause=text,
                )
        warnings = [f"approximate: {n}" if not n.startswith("not understood") else n for n in routed.notes()]
        if (
            refs is not None
            and any(
                o.name == "layout" and o.params.get("kind") in ("grid", "side_by_side")
                for k in range(1, plan.count + 1)
                for o in routed.ops(k)
            )
            and len(refs) < 2
        ):
            warnings.append("a grid/side-by-side layout of a single reference shows it once")
        repeated = _repeated_panels(plan, routed, len(refs) if refs else 1)
        if repeated and not asks_for_copies(plan.prompt):
            warnings.append(
                f"panel(s) {', '.join(map(str, repeated))} repeat an earlier panel's instruction on the same "
                "reference: "
                "any that come out the same picture are varied by a reframing (close-up, crop, medium, tighter crops "
                "that keep the face or subject), never by a mirror"
            )
        return warnings

    def provenance(self, plan: Plan) -> dict[str, Any]:
        """What made the set besides the request: the working resolution, the operations the router knew
        (``registry.version()`` counts registrations in this process; ``operations`` hashes their names)
        and the libraries that compute the pixels."""
        from seqedit.engines.classic.ops import registry

        names = "\n".join(sorted(OPERATIONS)).encode()
        return {
            "work_pixels": self.work_pixels,
            "ops_version": registry.version(),
            "operations": f"{len(OPERATIONS)} sha256:{hashlib.sha256(names).hexdigest()[:16]}",
            "versions": {"numpy": np.__version__, "opencv": cv2.__version__},
        }

    def generate(self, plan: Plan, refs: list[Image.Image], progress: Progress) -> Iterator[Image.Image]:
        if not refs:
            raise EngineError("no reference image", code=1400)
        routed = self._route(plan)
        self.check(plan, refs)
        prepared = self._prepare_refs(plan, refs)
        copies = asks_for_copies(plan.prompt)
        thumbs: list[np.ndarray] = []
        repeats: dict[tuple[Any, ...], int] = {}
        total = plan.count
        for k in range(1, total + 1):
            if progress.cancelled():
                raise Cancelled(f"cancelled before panel {k}")
            base = list(routed.ops(k))
            # a panel planned like n earlier ones starts at variation n (the earlier attempts are those panels)
            key = ((k - 1) % len(prepared), tuple((o.name, repr(sorted(o.params.items()))) for o in base))
            own_shot = any(o.name == "layout" and o.params.get("kind") in ("storyboard", "comic_page") for o in base)
            start = 0 if copies or own_shot else repeats.get(key, 0)  # a card or comic page has its own shot
            repeats[key] = start + 1
            for attempt in range(start, start + MAX_VARIATIONS + 1):
                ops, rotate = self._variation(base, attempt, len(prepared))
                cv2.setRNGSeed(plan.seed)
                panel = self._render(k, plan, ops, prepared, progress, rotate=rotate)
                im = self._finish(k, panel, plan)
                thumb = _thumb(im)
                if copies or not any(_same(thumb, t) for t in thumbs):
                    break
            else:
                raise Unsupported(
                    f"came out the same picture as an earlier panel and {MAX_VARIATIONS} reframings "
                    "did not change that; ask for copies, or give each panel its own instruction",
                    clause=plan.instruction(k),
                )
            thumbs.append(thumb)
            for w in panel.warnings:
                progress.warn(f"panel {k}: {w}")
            yield im
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

    def _prepare_refs(self, plan: Plan, refs: list[Image.Image]) -> list[Ref]:
        target = plan.size.width * plan.size.height
        budget = min(self.work_pixels, max(int(target * 1.25), 512 * 512))
        out = []
        for im in refs:
            s = work_scale(im.width, im.height, budget)
            if s < 1.0:
                im = im.resize((max(16, round(im.width * s)), max(16, round(im.height * s))), Image.LANCZOS)
            ms = MaskSet.from_image(im, seed=plan.seed)
            out.append(Ref(ms.img, ms))
        return out

    def _variation(self, ops: list[OpSpec], attempt: int, n_refs: int) -> tuple[list[OpSpec], int]:
        """Panel ops for re-render ``attempt`` (0: as planned) and the rotation of a page of all references.

        A grid or side-by-side page first shows the references in another order; a cover changes its
        crop and column (``variant``); any other panel gets one more framing: close-up, crop, medium,
        then the variation crops. Never a mirror."""
        if attempt == 0:
            return ops, 0
        if any(o.name == "layout" and o.params.get("kind") in ("grid", "side_by_side") for o in ops):
            if attempt < n_refs:
                return ops, attempt
            attempt -= n_refs - 1
        if any(o.name == "cover" for o in ops):
            note = f"same picture as an earlier panel; cover variant {attempt} (another crop and column)"
            return [
                replace(o, params={**o.params, "variant": attempt}, verdict="approximate", note=note)
                if o.name == "cover"
                else o
                for o in ops
            ], 0
        if attempt <= len(_VARIATION_SHOTS):
            params: dict[str, Any] = {"kind": _VARIATION_SHOTS[attempt - 1]}
        else:
            params = {"kind": "variation", "index": attempt - len(_VARIATION_SHOTS)}
        label = params["kind"] if params["kind"] != "variation" else f"variation-{params['index']} crop"
        return [
            *ops,
            OpSpec(
                "framing",
                params,
                "(set variation)",
                "approximate",
                1.0,
                f"same picture as an earlier panel; varied by a {label} framing (never a mirror)",
            ),
        ], 0

    # ------------------------------------------------------------------ rendering one panel

    def _render(
        self, k: int, plan: Plan, ops: list[OpSpec], refs: list[Ref], progress: Progress, rotate: int = 0
    ) -> Panel:
        ref = refs[(k - 1) % len(refs)]
        ops = [_no_unasked_mirror(o) for o in ops]
        position = {op.name: i for i, op in enumerate(rendered())}
        runnable = sorted((o for o in ops if o.name in position), key=lambda o: position[o.name])
        layout = next((o for o in runnable if o.name == "layout"), None)
        if layout is not None and layout.params.get("kind") in ("grid", "side_by_side"):
            pre = [o for o in runnable if o.name != "layout"]
            order = refs[rotate % len(refs) :] + refs[: rotate % len(refs)]
            tiles = [self._apply_all(Panel(r.img.copy(), r), pre, plan, k, refs, progress).img for r in order]
            aspect = plan.size.width / plan.size.height
            if layout.params.get("kind") == "grid":
                page = layouts.grid(tiles, aspect=aspect)
            else:
                page = layouts.side_by_side(tiles, aspect=aspect)
            panel = Panel(page, ref, moved=True, page=True)
            if rotate:
                panel.warnings.append(
                    f"same page as an earlier panel; the {len(refs)} references start at #{rotate + 1}"
                )
            return panel
        if (
            layout is not None
            and layout.params.get("kind") == "storyboard"
            and plan.count > 1
            and not any(o.name in ("framing", "cover") for o in runnable)
        ):
            # one shot per card, framed before any look or style is applied
            kind = _STORYBOARD_SHOTS[(k - 1) % len(_STORYBOARD_SHOTS)]
            shot = OpSpec("framing", {"kind": kind, "index": k}, "(storyboard shot)")
            runnable = sorted([*runnable, shot], key=lambda o: position[o.name])
        return self._apply_all(Panel(ref.img.copy(), ref), runnable, plan, k, refs, progress)

    def _apply_all(
        self, panel: Panel, ops: list[OpSpec], plan: Plan, k: int, refs: list[Ref], progress: Progress
    ) -> Panel:
        if any(o.name == "cover" for o in ops) and any(o.name == "framing" for o in ops):
            ops = [o for o in ops if o.name != "framing"]  # a cover makes its own crop around the face
        for o in ops:
            if progress.cancelled():
                raise Cancelled(f"cancelled in panel {k}")
            if o.verdict == "approximate" and o.note:
                note = f"approximate {o.name}: {o.note}"
                if note not in panel.warnings:
                    panel.warnings.append(note)
            op = OPERATIONS[o.name]
            assert op.render is not None  # only rendered ops are in the panel's list
            try:
                op.render(panel, o.params, plan, k, refs)
            except Unsupported as exc:
                if o.clause and not o.clause.startswith("(") and exc.clause not in o.clause:
                    # a render-time refusal names the user's clause ("make her hair platinum"), not the
                    # renderer's word for the region ("the hair")
                    raise Unsupported(f"'{_short(o.clause)}': {exc.message}", clause=o.clause) from None
                raise
            if op.moves:
                panel.moved = True
        return panel

    # ------------------------------------------------------------------ the end of a panel

    def _finish(self, k: int, p: Panel, plan: Plan) -> Image.Image:
        if not p.moved and p.img.shape == p.ref.img.shape:
            change = recolor.mean_change(p.ref.img, p.img)
            cut_out = p.alpha is not None and float((p.alpha < 0.5).mean()) > 0.001  # transparency is a change
            # a small region edited well (her face brightened) is a change even if the mean is small
            if change < NO_OP_DELTA_E and not cut_out and _changed_fraction(p.ref.img, p.img) < NO_OP_REGION:
                raise Unsupported(  # an unchanged source is never an answer: an honest refusal, not a crash
                    f"panel {k}: the edit left the image unchanged (mean ΔE {change:.2f}); the region it needed "
                    f"was not found",
                    clause=plan.instruction(k),
                )
        w, h = plan.size.width, plan.size.height
        s = work_scale(w, h, max(self.work_pixels, p.img.shape[0] * p.img.shape[1]))
        ww, hh = max(1, round(w * s)), max(1, round(h * s))
        if p.page:
            small = _fit_page(p.img, ww, hh)
        else:
            subject, plain = _subject_for_fit(p, ww, hh)
            small, warns = framing.fit_subject(p.img, ww, hh, focus_box(p), subject, plain, size_label=f"{w}×{h}")
            p.warnings.extend(warns)
        im = Image.fromarray(to_uint8(small), "RGB")
        if p.alpha is not None and not p.moved:
            a = (
                resize(p.alpha[..., None].repeat(3, axis=2), ww, hh)[..., 0]
                if p.alpha.shape != small.shape[:2]
                else p.alpha
            )
            im.putalpha(Image.fromarray(to_uint8(a), "L"))
        elif p.alpha is not None:
            p.warnings.append("transparency dropped: a framing or layout changed the geometry")
        if im.size != (w, h):
            im = im.resize((w, h), Image.LANCZOS)  # uint8 upscale: 8192² never exists as float32
        return im


def _fit_page(img: np.ndarray, width: int, height: int) -> np.ndarray:
    """A composed page to width×height. Pages are composed for the requested aspect ratio, so this
    crops at most a few per cent; a page that still differs (a caller's own layout) is shown whole
    with its own edges continued, never on bars of another colour."""
    h, w = img.shape[:2]
    if abs((w / h) / (width / height) - 1) < PAGE_ASPECT_SAME:
        return framing.fit_to_size(img, width, height)
    return framing.extend_backdrop(img, width, height)


def _subject_for_fit(p: Panel, width: int, height: int) -> tuple[np.ndarray | None, bool]:
    """The subject mask the final fit keeps, and whether the backdrop is plain (so it can be extended).

    An unmoved panel uses its reference's subject mask; a reframed one is keyed again (a plain
    backdrop) or falls back to its face box. Only computed when the aspect ratio changes."""
    h, w = p.img.shape[:2]
    if abs((w / h) / (width / height) - 1) < framing.ASPECT_SAME:
        return None, False
    if not p.moved and p.ref.img.shape[:2] == (h, w):
        keyed = p.ref.masks.cached("fit:keyed", lambda: keyed_mask(p.ref.img))
        if keyed is not None and keyed.usable:
            return keyed.mask, True
        subject = p.ref.masks.subject()
        return (subject.mask if subject.usable else None), False
    if face_boxes(p):
        return None, False
    keyed = keyed_mask(p.img)
    if keyed is not None and keyed.usable:
        return keyed.mask, True
    return None, False


def _no_unasked_mirror(o: OpSpec) -> OpSpec:
    """A mirror framing the clause did not ask for (a story's shot cycle) becomes a crop: a set is never
    varied by flipping a face or a name tag."""
    if o.name != "framing" or o.params.get("kind") != "mirror" or _ASKS_MIRROR.search(o.clause):
        return o
    return replace(o, params={**o.params, "kind": UNASKED_MIRROR_SHOT})


def _repeated_panels(plan: Plan, routed: RoutedPlan, n_refs: int) -> list[int]:
    """Panels whose reference and ops are those of an earlier panel (a storyboard card or comic page
    has its own shot, so it is not a repeat)."""
    seen: set[tuple[Any, ...]] = set()
    out = []
    for k in range(1, plan.count + 1):
        ops = routed.ops(k)
        if any(o.name == "layout" and o.params.get("kind") in ("storyboard", "comic_page") for o in ops):
            continue
        key = ((k - 1) % max(1, n_refs), tuple((o.name, repr(sorted(o.params.items()))) for o in ops))
        if key in seen:
            out.append(k)
        seen.add(key)
    return out


def _thumb(im: Image.Image) -> np.ndarray:
    small = im.convert("RGB").resize((_THUMB, _THUMB), Image.BILINEAR)
    return np.asarray(small, np.float32) / np.float32(255.0)


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return float(np.abs(a - b).mean()) < SAME_PANEL


def _changed_fraction(before: np.ndarray, after: np.ndarray) -> float:
    """Fraction of pixels whose CIE76 ΔE exceeds ``VISIBLE_DELTA_E``."""
    d = cv2.cvtColor(np.ascontiguousarray(before, np.float32), cv2.COLOR_RGB2Lab) - cv2.cvtColor(
        np.ascontiguousarray(after, np.float32), cv2.COLOR_RGB2Lab
    )
    return float((np.sqrt((d * d).sum(-1)) > VISIBLE_DELTA_E).mean())


def _short(text: str, n: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


register("classic", ClassicEngine, options=ClassicOptions)
