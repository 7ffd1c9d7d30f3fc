"""Enumerations of an operation's parameter spread one per panel, through plan + classic routing (issue item 3)."""

from __future__ import annotations

import pytest

from seqedit.engines.classic.engine import ClassicEngine
from seqedit.engines.classic.router import route
from seqedit.plan import make_plan
from seqedit.request import EditRequest


def planned(prompt: str, n: int):
    return make_plan(EditRequest.create(prompt=prompt, images=["ref.png"], max_images=n, seed=1), [(800, 600)])


def own(prompt: str, n: int) -> list[list[tuple[str, dict]]]:
    routed = route(planned(prompt, n))
    return [[(o.name, o.params) for o in routed.renderable(k)] for k in range(1, n + 1)]


def test_aspect_ratios_per_panel() -> None:
    got = own("Make 1:1, 4:5 and 9:16 crops of this photo", 3)
    assert [[p.get("aspect") for name, p in ops if name == "framing"] for ops in got] == [["1:1"], ["4:5"], ["9:16"]]


def test_backgrounds_per_panel() -> None:
    got = own("Put the product on white, grey, black and beige backgrounds", 4)
    assert [[p.get("color") for name, p in ops if name == "background"] for ops in got] == [
        ["white"],
        ["grey"],
        ["black"],
        ["beige"],
    ]


def test_looks_per_panel_and_a_sibling_reading() -> None:
    got = own("Apply B&W, sepia and cold blue", 3)
    assert [[p["look"] for name, p in ops if name == "look"] for ops in got] == [["bw"], ["vintage"], ["cold"]]


def test_inline_numbered_styles_per_panel() -> None:
    got = own("4 art prints: 1. pencil 2. watercolor 3. oil painting 4. pop art", 4)
    assert [[p["style"] for name, p in ops if name == "style"] for ops in got] == [
        ["pencil"],
        ["watercolor"],
        ["oil"],
        ["popart"],
    ]


def test_colours_with_a_count_per_panel() -> None:
    plan = planned("Show this shoe in 4 colors: red, blue, green and yellow", 4)
    routed = route(plan)
    assert plan.declared_count == 4 and not plan.warnings
    assert [[o.params["colors"]["primary"] for o in routed.renderable(k)] for k in range(1, 5)] == [
        ["red"],
        ["blue"],
        ["green"],
        ["yellow"],
    ]
    assert routed.overall == "supported" and not routed.reported


def test_captions_per_panel() -> None:
    got = own("Add captions 'Monday', 'Tuesday' and 'Wednesday'", 3)
    assert [[p["text"] for name, p in ops if name == "caption"] for ops in got] == [
        ["Monday"],
        ["Tuesday"],
        ["Wednesday"],
    ]


def test_shared_sentence_after_panel_lines_reaches_every_panel() -> None:
    routed = route(planned("Panel 1: make it red. Panel 2: make it blue. Keep the logo sharp.", 2))
    for k in (1, 2):
        assert {o.name for o in routed.ops(k)} == {"keep", "recolor"}


@pytest.mark.parametrize(
    "prompt, n",
    [
        ("Make 1:1, 4:5 and 9:16 crops of this photo", 3),
        ("Put the product on white, grey, black and beige backgrounds", 4),
        ("Apply B&W, sepia and cold blue", 3),
        ("4 art prints: 1. pencil 2. watercolor 3. oil painting 4. pop art", 4),
        ("Show this shoe in 4 colors: red, blue, green and yellow", 4),
        ("Panel 1: make it red. Panel 2: make it blue. Keep the logo sharp.", 2),
    ],
)
def test_every_clause_is_in_the_verdicts(prompt: str, n: int) -> None:
    from seqedit.engines.classic.router import split_clauses

    plan = planned(prompt, n)
    listed = {v.clause for v in ClassicEngine().analyse(plan)}
    routed = route(plan)
    meta = {o.clause for o in routed.shared + [o for ops in routed.panels for o in ops] if o.name == "meta"}
    for text in [plan.shared, *(p.text for p in plan.panels)]:
        for clause in split_clauses(text):
            assert clause in listed or clause in meta, clause
