"""The mask an op's params name, or an honest refusal: where a located op (recolour, adjust) may edit.

The router puts the region a clause names into ``params['target']`` (``router/locating.py``):

* ``located`` (a ``<bbox>``/``<point>`` tag, ``params['where']``) → ``located.located_mask``, cached
  per reference; anything but a ``good`` mask refuses: "could not find the saucer inside <bbox>…</bbox>";
* ``object`` (a product or object noun: "the mug", "the sole") → the subject mask, only when it is a
  clean cut-out (an alpha channel or a plain backdrop, quality ``good``) and not a person: a saliency
  guess is never used for a named object;
* ``background`` → the inverse of a ``good`` subject mask (a person or a clean cut-out);
* ``hair``, ``face``, ``person``, ``clothes``, ``sky`` → that mask when it is judged ``good``; a ``rough``
  one (clothes as "person minus face, hair and skin", short hair beside the face) refuses with the hint
  to add a tag, since on a real photo it takes in what the clause did not name (a held helmet);
* no target → ``None``: the op applies to the whole picture.

A tagged keep clause ("keep the cup <bbox>…</bbox>") is taken out of the region (``keep_out``), and
refused when its own mask is not good. A region needs the reference's geometry: after a crop or a
layout (``Panel.moved``) it is refused.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from seqedit.engines.base import Unsupported
from seqedit.engines.classic.located import located_mask
from seqedit.engines.classic.masks import MaskResult
from seqedit.engines.classic.panel import Panel, usable
from seqedit.engines.classic.targets import LOCATION_HINT
from seqedit.locations import Location


def where_tag(where: Any) -> str:
    """The tag a user would write for a ``where`` param (``('bbox', (80.0, …))``)."""
    return Location(where[0], tuple(where[1])).tag()


def located(p: Panel, where: Any) -> MaskResult:
    """The located mask of ``where`` on the panel's reference (computed once per reference and tag)."""
    ms = p.ref.masks
    key = (str(where[0]), tuple(float(v) for v in where[1]))
    return ms.cached(f"located:{key!r}", lambda: located_mask(ms.img, key, seed=ms.seed))


def region(p: Panel, params: dict[str, Any], doing: str) -> MaskResult | None:
    """The mask ``params`` name for ``doing`` ("recolour", "brighten"), ``None`` for the whole picture,
    less the regions of tagged keep clauses (``params['keep_out']``).

    Raises ``Unsupported`` (one line naming the part and what would make it work) when there is no
    honest mask for it, or for a region it must keep.
    """
    found = _region(p, params, doing)
    kept = params.get("keep_out") or ()
    if not kept:
        return found
    base = found.mask if found is not None else np.ones(p.ref.masks.shape, np.float32)
    for where in kept:
        r = located(p, where)
        if r.quality != "good":
            raise Unsupported(
                f"could not find what to keep inside {where_tag(where)} ({r.note}), so it cannot be kept out of "
                f"the edit; draw the box tighter around it or put the point on it",
                clause=where_tag(where),
            )
        base = base * (1.0 - r.mask)
    return MaskResult(base.astype(np.float32), found.kind if found else "whole", "good", "less the kept regions")


def _region(p: Panel, params: dict[str, Any], doing: str) -> MaskResult | None:
    target = params.get("target")
    if target is None:
        return None
    part = str(params.get("part") or f"the {target}")
    if p.moved:
        raise Unsupported(
            f"cannot {doing} {part}: an earlier step re-framed the picture, so the region no longer lines up",
            clause=part,
        )
    ms = p.ref.masks
    if target == "located":
        where = params["where"]
        r = located(p, where)
        if r.quality != "good":
            raise Unsupported(
                f"could not find {part} inside {where_tag(where)} ({r.note}); draw the box tighter around it "
                f"or put the point on it",
                clause=part,
            )
        return r
    if target in ("object", "background"):
        s = ms.subject()
        clean = s.quality == "good" and (target == "background" or s.kind != "person")
        if not clean:
            why = (
                "the subject is a person"
                if s.usable and s.kind == "person"
                else "the photo has no plain backdrop or transparency to cut it out cleanly"
            )
            raise Unsupported(f"could not find {part} to {doing} ({why}); {LOCATION_HINT}", clause=part)
        return ms.get("background") if target == "background" else s
    found = ms.get(str(target))
    if found.quality == "rough":  # a clause that names a region runs only on a mask judged good for it
        raise Unsupported(
            f"could not find {part} to {doing} exactly (only a rough mask: {found.note or found.kind}); "
            f"{LOCATION_HINT}",
            clause=part,
        )
    return usable(found, part, p)


def apply_within(p: Panel, done: np.ndarray, params: dict[str, Any], doing: str) -> None:
    """Put ``done`` (the op applied to the whole panel) on the panel inside the region ``params`` name,
    or everywhere when they name none; ``Unsupported`` when the region has no honest mask."""
    mask = region(p, params, doing)
    if mask is None:
        p.img = done
        return
    m = mask.mask[..., None]
    p.img = (p.img + (done - p.img) * m).astype(np.float32, copy=False)
