"""Where a clause applies: Seedream location tags and named regions → an op's ``where``/``target`` params.

A tag belongs to the clause it sits in ("recolour the saucer <bbox>80 560 920 980</bbox> red, keep the
cup"). ``clauses(text)`` splits a text with every tag held as one placeholder character
(``locations.protect``), so the numbers and commas inside a tag never split, count or list anything,
and gives each clause back with its tags, its text without them (what the classifier and the
similarity model see) and their ``Location``s. A tag left alone between split points ("… red: <bbox>…
</bbox>") joins the clause before it.

``locate(op, text, locations)`` then says where the op applies:

* an op that edits a region (``Operation.located``) with one tag gets ``where = (kind, coords)`` (a
  hashable, repr-stable tuple: the engine keys panels on the params' repr), ``target = 'located'`` and
  ``part`` (the words naming it, for messages); two tags in one clause are refused (one region per
  clause);
* a located op without a tag gets the region its words name (``targets.find_target``): a known mask
  (``target``), or, for a part the engine has no mask for ("the saucer"), ``unsupported`` with the hint
  to add a tag;
* a tag on an op that edits the whole picture (a style, a crop) is refused, never silently ignored;
  bookkeeping ops (``keep``) keep it in their params, and ``keep_out(ops)`` hands a tagged keep's
  region to every located op of the panel as ``keep_out`` (edited around, never inside).
"""

from __future__ import annotations

from dataclasses import replace

from seqedit.engines.classic.ops import OPERATIONS, OpSpec
from seqedit.engines.classic.router.clauses import split_clauses
from seqedit.engines.classic.targets import LOCATION_HINT, find_target, named_note
from seqedit.locations import Location, protect, restore, strip_locations

Where = tuple[str, tuple[float, ...]]


def where_param(loc: Location) -> Where:
    """A location as op params carry it: ``('bbox', (80.0, 560.0, 920.0, 980.0))``."""
    return (loc.kind, tuple(float(v) for v in loc.coords))


def where_tag(where: Where) -> str:
    """The tag a user would write for a ``where`` param."""
    return Location(where[0], where[1]).tag()  # type: ignore[arg-type]


def clauses(text: str) -> list[tuple[str, str, list[Location]]]:
    """(clause as written, clause without its tags, its locations) for every clause of ``text``."""
    masked, tags = protect(text)
    pieces = split_clauses(masked)
    if tags:
        pieces = _adopt_lone_tags(masked, pieces, len(tags))
    out = []
    for piece in pieces:
        raw = restore(piece, tags)
        clean, locs = strip_locations(raw)
        if clean or locs:
            out.append((raw, clean, locs))
    return out


def _adopt_lone_tags(masked: str, pieces: list[str], count: int) -> list[str]:
    """Give every placeholder the splitter dropped (a clause of only a tag) to the clause before it."""
    starts: list[int] = []
    cursor = 0
    for piece in pieces:
        at = masked.find(piece, cursor)
        starts.append(at if at >= 0 else cursor)
        cursor = max(cursor, starts[-1] + len(piece))
    seen = "".join(pieces)
    out = list(pieces)
    for i in range(count):
        ch = chr(0xE000 + i)
        if ch in seen:
            continue
        pos = masked.find(ch)
        before = [k for k, s in enumerate(starts) if s <= pos]
        k = before[-1] if before else 0
        if out:
            out[k] = f"{out[k]} {ch}" if before else f"{ch} {out[k]}"
        else:
            out.append(ch)
    return out


def locate(op: OpSpec, text: str, locations: list[Location]) -> OpSpec:
    """``op`` (routed from ``text``, the clause without tags) with where it applies (module docstring)."""
    operation = OPERATIONS[op.name]
    if op.verdict == "unsupported" and not operation.bookkeeping:
        return op  # already refused (generative, …): nothing to place
    if locations:
        if operation.bookkeeping:
            return replace(op, params={**op.params, "where": where_param(locations[0])})
        if not operation.located:
            return replace(
                op,
                verdict="unsupported",
                note=f"{op.name} edits the whole picture: a location tag cannot limit it (remove the tag)",
            )
        if len(locations) > 1:
            return replace(
                op,
                verdict="unsupported",
                note="one location tag per clause: give each region its own clause "
                "('recolour the cup <bbox>…</bbox> red, recolour the saucer <bbox>…</bbox> blue')",
            )
        target = find_target(text)
        params = {**op.params, "target": "located", "where": where_param(locations[0])}
        params["part"] = target.words if target.kind != "whole" else "the region"
        return replace(op, params=params)
    if not operation.located or op.params.get("target"):
        return op
    target = find_target(text)
    if target.kind == "mask":
        return replace(op, params={**op.params, "target": target.mask, "part": target.words})
    if target.kind == "named":
        return replace(op, verdict="unsupported", note=named_note(target))
    return op


def keep_out(ops: list[OpSpec]) -> list[OpSpec]:
    """A tagged ``keep`` ("keep the cup <bbox>…</bbox>") protects its region from every located op of the
    panel: they get ``keep_out`` (the tags' ``where``s), and the renderer leaves those masks untouched."""
    kept = tuple(o.params["where"] for o in ops if OPERATIONS[o.name].bookkeeping and "where" in o.params)
    if not kept:
        return ops
    return [
        replace(o, params={**o.params, "keep_out": kept})
        if OPERATIONS[o.name].located and o.verdict != "unsupported"
        else o
        for o in ops
    ]


__all__ = ["LOCATION_HINT", "Where", "clauses", "keep_out", "locate", "where_param", "where_tag"]
