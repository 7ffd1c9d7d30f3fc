"""``ClassicEngine``: the CPU default. Routes the plan, refuses what it cannot do, renders each panel.

Consistency across the set comes from construction:
* every reference is brought to one working resolution and gets one ``MaskSet`` (masks and colorway
  parts computed once, shared by all panels);
* one seed per request (grain, screentones, backdrops, k-means, GrabCut all use it);
* shared ops run with the same parameters on every panel; only a panel's own ops differ;
* the same font roles and layout rules for every panel.

Each operation's renderer is its ``ops/<name>.py`` (``Operation.render``); the engine runs a panel's ops
in ``Operation.order`` and keeps only the composition: grid and side-by-side pages of all references,
one storyboard shot per card, a cover's own crop, a repeated panel varied by framing.

Honesty: unsupported clauses raise ``Unsupported`` before anything renders; approximate ones render
and add a warning; a panel whose pixels did not change is refused (``Unsupported``), never an answer.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import cv2
import numpy as np
from PIL import Image

from seqedit.engines.base import Cancelled, EngineError, Progress, Unsupported, Verdict, register
from seqedit.engines.classic import framing, layouts, recolor, typography
from seqedit.engines.classic.arrays import WORK_PIXELS, resize, to_uint8, work_scale
from seqedit.engines.classic.masks import MaskSet
from seqedit.engines.classic.ops import OPERATIONS, OpSpec, rendered
from seqedit.engines.classic.options import ClassicOptions
from seqedit.engines.classic.panel import GENERATIVE_HINT, Panel, Ref, focus_box
from seqedit.engines.classic.router import RoutedPlan, route
from seqedit.plan import Plan

__all__ = ["GENERATIVE_HINT", "NO_OP_DELTA_E", "ClassicEngine"]

NO_OP_DELTA_E = 0.5  # mean ΔE below which a panel counts as unchanged …
NO_OP_REGION = 0.002  # … unless at least this fraction of its pixels changed visibly
VISIBLE_DELTA_E = 3.0  # ΔE of a visibly changed pixel
_PAGE_BACKGROUND = (1.0, 1.0, 1.0)
_STORYBOARD_SHOTS = ("medium", "closeup", "mirror", "crop")


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
                ops.append(
                    OpSpec(
                        "framing",
                        {"kind": kind},
                        "(set variation)",
                        "approximate",
                        1.0,
                        f"same instruction as an earlier panel; varied only by a {kind} framing",
                    )
                )
        seen.add(key)
        return ops

    # ------------------------------------------------------------------ rendering one panel

    def _render(self, k: int, plan: Plan, ops: list[OpSpec], refs: list[Ref], progress: Progress) -> Panel:
        ref = refs[(k - 1) % len(refs)]
        position = {op.name: i for i, op in enumerate(rendered())}
        runnable = sorted((o for o in ops if o.name in position), key=lambda o: position[o.name])
        layout = next((o for o in runnable if o.name == "layout"), None)
        if layout is not None and layout.params.get("kind") in ("grid", "side_by_side"):
            pre = [o for o in runnable if o.name != "layout"]
            tiles = [self._apply_all(Panel(r.img.copy(), r), pre, plan, k, refs, progress).img for r in refs]
            compose = layouts.grid if layout.params.get("kind") == "grid" else layouts.side_by_side
            return Panel(compose(tiles), ref, moved=True, page=True)
        if (
            layout is not None
            and layout.params.get("kind") == "storyboard"
            and plan.count > 1
            and not any(o.name in ("framing", "cover") for o in runnable)
        ):
            # one shot per card, framed before any look or style is applied
            shot = OpSpec("framing", {"kind": _STORYBOARD_SHOTS[(k - 1) % len(_STORYBOARD_SHOTS)]}, "(storyboard shot)")
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
            op.render(panel, o.params, plan, k, refs)
            if op.moves:
                panel.moved = True
        return panel

    # ------------------------------------------------------------------ the end of a panel

    def _finish(self, k: int, p: Panel, plan: Plan) -> Image.Image:
        if not p.moved and p.img.shape == p.ref.img.shape:
            change = recolor.mean_change(p.ref.img, p.img)
            # a small region edited well (her face brightened) is a change even if the mean is small
            if change < NO_OP_DELTA_E and _changed_fraction(p.ref.img, p.img) < NO_OP_REGION:
                raise Unsupported(  # an unchanged source is never an answer: an honest refusal, not a crash
                    f"panel {k}: the edit left the image unchanged (mean ΔE {change:.2f}); the region it needed "
                    f"was not found",
                    clause=plan.instruction(k),
                )
        w, h = plan.size.width, plan.size.height
        s = work_scale(w, h, max(self.work_pixels, p.img.shape[0] * p.img.shape[1]))
        ww, hh = max(1, round(w * s)), max(1, round(h * s))
        if p.page:
            small = _letterbox(p.img, ww, hh)
        else:
            small = framing.fit_to_size(p.img, ww, hh, focus_box(p))
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


def _letterbox(img: np.ndarray, width: int, height: int) -> np.ndarray:
    """Fit a composed page inside width×height on the page colour (a page is never cropped)."""
    h, w = img.shape[:2]
    if abs((w / h) / (width / height) - 1) < 0.06:
        return framing.fit_to_size(img, width, height)
    fitted, x, y = typography.fit_contain(img, width, height)
    canvas = np.empty((height, width, 3), np.float32)
    canvas[:] = _PAGE_BACKGROUND
    fh, fw = fitted.shape[:2]
    canvas[y : y + fh, x : x + fw] = fitted
    return canvas


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
