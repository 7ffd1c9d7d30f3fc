"""Plan policy: a whole plan → ``RoutedPlan`` (shared, own and effective ops per panel, reported clauses).

An own op replaces a shared op of the same name, except those that accumulate (``Operation.accumulates``:
``keep``, ``generative``). Verdict policies over the plan: a shared colourless recolour becomes a
``meta`` hint when every panel names its colours; a story clause next to a setting (an op with
``Operation.story_setting``: a look or a style) becomes varied framings (``approximate``);
``RoutedPlan.verdict(k)`` is the worst verdict of panel k's effective ops.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from seqedit.engines.classic.ops import OPERATIONS, OpSpec, VerdictKind
from seqedit.engines.classic.ops.generative import STORY_WHAT
from seqedit.engines.classic.router.classify import Reported, classify_clause
from seqedit.engines.classic.router.locating import clauses, keep_out, locate
from seqedit.plan import Plan

FRAMING_CYCLE = ("medium", "closeup", "mirror", "wide")
_RANK: dict[str, int] = {"supported": 0, "approximate": 1, "unsupported": 2}


@dataclass(frozen=True)
class RoutedPlan:
    shared: list[OpSpec]
    panels: list[list[OpSpec]]  # panels[k-1] = panel k's own ops
    effective: list[list[OpSpec]]  # effective[k-1] = what panel k runs (meta left out)
    reported: list[Reported] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.panels)

    def ops(self, index: int) -> list[OpSpec]:
        """Effective ops of panel ``index`` (1-based)."""
        return self.effective[index - 1]

    def renderable(self, index: int) -> list[OpSpec]:
        """Panel ``index``'s ops that change pixels (not ``keep``/``meta``)."""
        return [o for o in self.ops(index) if not OPERATIONS[o.name].bookkeeping]

    def verdict(self, index: int) -> VerdictKind:
        """Worst verdict among panel ``index``'s effective ops.

        A reported clause counts as approximate; a panel with nothing renderable is unsupported
        (an unchanged source is never an answer).
        """
        if not self.renderable(index):
            return "unsupported"
        worst = max((_RANK[o.verdict] for o in self.ops(index)), default=0)
        if any(r.where in (0, index) for r in self.reported):
            worst = max(worst, _RANK["approximate"])
        return _verdict_of(worst)

    @property
    def overall(self) -> VerdictKind:
        return _verdict_of(max((_RANK[self.verdict(k)] for k in range(1, self.count + 1)), default=0))

    def unsupported(self) -> list[OpSpec]:
        """Distinct unsupported ops over all panels, in order of appearance."""
        seen: dict[tuple[str, str], OpSpec] = {}
        for ops in self.effective:
            for o in ops:
                if o.verdict == "unsupported":
                    seen.setdefault((o.name, o.clause), o)
        return list(seen.values())

    def notes(self) -> list[str]:
        """Human-readable notes for every approximate or unsupported op and every reported clause."""
        out: list[str] = []
        for ops in [self.shared, *self.panels]:
            for o in ops:
                if o.verdict != "supported" and o.note:
                    line = f"{o.name} ({o.verdict}): {o.note} — “{o.clause}”"
                    if line not in out:
                        out.append(line)
        for r in self.reported:
            out.append(f"not understood ({r.reason}): “{r.clause}”")
        return out

    def to_dict(self) -> dict[str, Any]:
        def enc(o: OpSpec) -> dict[str, Any]:
            return {
                "name": o.name,
                "params": o.params,
                "clause": o.clause,
                "verdict": o.verdict,
                "confidence": round(o.confidence, 3),
                "note": o.note,
            }

        return {
            "shared": [enc(o) for o in self.shared],
            "panels": [[enc(o) for o in ops] for ops in self.panels],
            "effective": [[enc(o) for o in ops] for ops in self.effective],
            "reported": [asdict(r) for r in self.reported],
            "overall": self.overall,
        }


def _verdict_of(rank: int) -> VerdictKind:
    return ("supported", "approximate", "unsupported")[rank]  # type: ignore[return-value]


def route_text(text: str, where: int = 0) -> tuple[list[OpSpec], list[Reported]]:
    """Ops and reported clauses of one instruction text."""
    ops: list[OpSpec] = []
    reported: list[Reported] = []
    for raw, clause, locations in clauses(text):
        got, rep = classify_clause(clause, where) if clause else ([], None)
        if not clause:
            rep = Reported(where, raw, "-", 0.0, "-", 0.0, "a location tag with no instruction")
        ops.extend(replace(locate(o, clause, locations), clause=raw) for o in got)
        if rep is not None:
            reported.append(replace(rep, clause=raw))
    return ops, reported


def route(plan: Plan) -> RoutedPlan:
    """Route every clause of ``plan`` (shared instruction and panel texts) to operations."""
    shared, reported = route_text(plan.shared, 0)
    own: list[list[OpSpec]] = []
    own_reported: list[list[Reported]] = []
    for panel in plan.panels:
        ops, rep = route_text(panel.text, panel.index) if panel.text.strip() else ([], [])
        own.append(ops)
        own_reported.append(rep)
    own, own_reported = _enumeration_siblings(plan, own, own_reported)
    reported.extend(r for rep in own_reported for r in rep)
    shared = _demote_colorway_hint(shared, plan, own)
    shared, reported = _parameters_from_panels(shared, reported, own)
    shared, own, upgraded = _story_policy(shared, own)
    effective = [
        keep_out(_merge([o for o in shared if not (up and _is_story(o))], ops))
        for ops, up in zip(own, upgraded, strict=True)
    ]
    return RoutedPlan(shared=shared, panels=own, effective=effective, reported=reported)


def _merge(shared: list[OpSpec], own: list[OpSpec]) -> list[OpSpec]:
    names = {o.name for o in own}
    out = [o for o in shared if o.name != "meta" and (OPERATIONS[o.name].accumulates or o.name not in names)]
    out += [o for o in own if o.name != "meta"]
    return out


def _demote_colorway_hint(shared: list[OpSpec], plan: Plan, own: list[list[OpSpec]]) -> list[OpSpec]:
    """A shared colourless recolour ("change only the colorway per panel") is a hint when panels say the colours."""
    with_text = [ops for p, ops in zip(plan.panels, own, strict=True) if p.text.strip()]
    if not with_text or not all(any(o.name == "recolor" and o.params.get("colors") for o in ops) for ops in with_text):
        return shared
    return [
        replace(
            o, name="meta", params={"hint": "recolor"}, verdict="supported", note="colours come from the panel lines"
        )
        if o.name == "recolor" and not o.params.get("colors")
        else o
        for o in shared
    ]


def _enumeration_siblings(
    plan: Plan, own: list[list[OpSpec]], reported: list[list[Reported]]
) -> tuple[list[list[OpSpec]], list[list[Reported]]]:
    """An enumeration item that is not understood alone ("sepia" beside "B&W" and "cold blue") is read
    as one of its siblings' operation ("sepia look"); it stays reported when that does not parse either."""
    items = [k for k, p in enumerate(plan.panels) if p.source == "enumeration" and p.text.strip()]
    names = [{o.name for o in own[k] if not OPERATIONS[o.name].bookkeeping} for k in items]
    for k, got in zip(items, names, strict=True):
        if got or not reported[k]:
            continue
        siblings = [n for j, n in zip(items, names, strict=True) if j != k and len(n) == 1]
        common = {next(iter(n)) for n in siblings}
        if len(siblings) < 1 or len(common) != 1:
            continue
        name = common.pop()
        ops, rep = route_text(f"{plan.panels[k].text} {name.replace('_', ' ')}", k + 1)
        if any(o.name == name for o in ops) and not rep:
            own[k] = [replace(o, clause=plan.panels[k].text) for o in ops]
            reported[k] = []
    return own, reported


def _parameters_from_panels(
    shared: list[OpSpec], reported: list[Reported], own: list[list[OpSpec]]
) -> tuple[list[OpSpec], list[Reported]]:
    """A shared op, or shared clause reported for a missing parameter, whose operation every panel
    runs with its own parameters ("Show this shoe in 4 colors: red, blue, …") is listed as supported
    with the note that its parameters come from the panels; the panels' own ops replace it."""

    def everywhere(name: str) -> bool:
        return bool(own) and all(any(o.name == name and any(o.params.values()) for o in ops) for ops in own)

    note = "parameters come from the panels"
    out = [
        replace(o, verdict="supported", note=note)
        if not OPERATIONS[o.name].bookkeeping
        and not OPERATIONS[o.name].accumulates
        and not any(o.params.values())
        and everywhere(o.name)
        else o
        for o in shared
    ]
    kept: list[Reported] = []
    for r in reported:
        if r.where == 0 and r.guess in OPERATIONS and not OPERATIONS[r.guess].accumulates and everywhere(r.guess):
            out.append(OpSpec(r.guess, {}, r.clause, "supported", r.confidence, note))
        else:
            kept.append(r)
    return out, kept


def _is_story(o: OpSpec) -> bool:
    return o.name == "generative" and o.params.get("what") in STORY_WHAT


def _story_policy(shared: list[OpSpec], own: list[list[OpSpec]]) -> tuple[list[OpSpec], list[list[OpSpec]], list[bool]]:
    """Story/life + a look or style → approximate: varied framings of the references (see module doc).

    Returns the shared ops, the panels' own ops and, per panel, whether its story was approximated.
    """
    setting = {name for name, op in OPERATIONS.items() if op.story_setting}
    shared_story = [o for o in shared if _is_story(o)]
    shared_setting = any(o.name in setting for o in shared)
    new_own: list[list[OpSpec]] = []
    upgraded: list[bool] = []
    for k, ops in enumerate(own):
        stories = [o for o in ops if _is_story(o)] + shared_story
        if not stories or not (shared_setting or any(o.name in setting for o in ops)):
            new_own.append(ops)
            upgraded.append(False)
            continue
        kept = [o for o in ops if not _is_story(o)]
        if not any(o.name == "framing" for o in kept):
            kept.append(
                OpSpec(
                    "framing",
                    {"kind": FRAMING_CYCLE[k % len(FRAMING_CYCLE)]},
                    stories[0].clause,
                    "approximate",
                    stories[0].confidence,
                    "story approximated: the references re-framed with the look/style; no new actions or places",
                )
            )
        new_own.append(kept)
        upgraded.append(True)
    if shared_story and all(upgraded):
        shared = [o for o in shared if not _is_story(o)]
    return shared, new_own, upgraded
