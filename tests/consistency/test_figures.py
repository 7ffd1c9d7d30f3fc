"""``palette``, ``palette_ref``, ``structure`` and ``product``: a pass, a fail and each null case."""

from __future__ import annotations

from PIL import Image, ImageEnhance, ImageOps

from consistency.conftest import variants
from seqedit.consistency import Context, Figure
from seqedit.consistency.context import intent
from seqedit.consistency.palette import Palette, PaletteRef
from seqedit.consistency.product import Product
from seqedit.consistency.structure import Structure
from seqedit.engines.base import Verdict
from seqedit.plan import make_plan
from seqedit.request import EditRequest


def context(refs, prompt, n=3, verdicts=()) -> Context:
    plan = make_plan(EditRequest.create(prompt=prompt, images=["x"], max_images=n, seed=1), [refs[0].size])
    return Context.create(plan, refs, verdicts)


def test_a_figure_passes_on_its_side_of_the_threshold():
    assert Figure("d", 0.2, 0.5, "lower").passed and not Figure("d", 0.6, 0.5, "lower").passed
    assert Figure("s", 0.8, 0.7, "higher").passed and not Figure("s", 0.6, 0.7, "higher").passed
    none = Figure("d", None, 0.5, "lower", "why")
    assert none.passed is None and none.to_dict() == {
        "value": None,
        "threshold": 0.5,
        "better": "lower",
        "passed": None,
        "reason": "why",
    }


def test_intent_reads_the_classic_operations_and_else_the_words():
    assert intent("anything", ["recolor"]) == intent("", ["adjust"])
    assert intent("x", ["recolor"]).keeps_subject and not intent("x", ["background"]).keeps_subject
    assert intent("in watercolour style", ["generate"]).style
    red = intent("the sneaker in red", ["generate"])
    assert red.colour and red.keeps_subject
    assert not intent("on a beach background in red", []).keeps_subject


def test_palette_between_panels_passes_a_shared_look_and_fails_a_different_one(astronaut, hopper):
    ctx = context([astronaut], "a series of 3 portraits of this person")
    ctx.first = astronaut
    metric = Palette()
    assert metric.applies(ctx, 1) == "panel 1 is the set's palette"
    assert metric.applies(ctx, 2) is None
    assert metric.measure(variants(astronaut)["crop"], 2, ctx).passed
    assert metric.measure(hopper, 3, ctx).passed is False


def test_palette_does_not_apply_to_a_colourway_and_palette_ref_only_to_same_look_sets(sneaker):
    colourway = context([sneaker], "this sneaker in 3 colourways: red, navy, white")
    assert Palette().applies(colourway, 2) == "panel 2 changes colour or style on purpose"
    assert PaletteRef().applies(colourway, 2) == "the set changes colour or style on purpose"
    same = context([sneaker], "a series of 3 product shots of this sneaker")
    assert PaletteRef().applies(same, 1) is None
    assert PaletteRef().measure(sneaker, 1, same).passed
    assert PaletteRef().measure(ImageOps.invert(sneaker), 1, same).passed is False


def test_structure_holds_for_a_grade_and_fails_when_the_subject_moved(astronaut):
    verdicts = [Verdict(k, "grade", "look", "supported") for k in (1, 2, 3)]
    ctx = context([astronaut], "a series of 3 images: 1. warm 2. cool 3. grey", verdicts=verdicts)
    metric = Structure()
    assert metric.applies(ctx, 2) is None
    graded = metric.measure(ImageEnhance.Color(astronaut).enhance(1.8), 2, ctx)
    assert graded.passed and graded.value > 0.9, graded
    moved = metric.measure(ImageOps.mirror(astronaut), 3, ctx)
    assert moved.passed is False, moved


def test_structure_nulls_say_why(astronaut):
    moved = context([astronaut], "a series of 3 images: 1. on a beach background 2. b 3. c")
    assert Structure().applies(moved, 1) == "panel 1's edit does not keep the subject in place"
    ctx = context(
        [astronaut], "a series of 3 images: 1. warm 2. cool 3. grey", verdicts=[Verdict(None, "x", "look", "supported")]
    )
    wide = Structure().measure(astronaut.resize((800, 400)), 2, ctx)
    assert wide.value is None and "framed differently" in wide.reason
    flat = context(
        [Image.new("RGB", (256, 256), (90, 90, 90))],
        "3 images: 1. warm 2. cool 3. grey",
        verdicts=[Verdict(None, "x", "look", "supported")],
    )
    assert Structure().measure(Image.new("RGB", (256, 256), (80, 80, 80)), 1, flat).value is None
    empty = Context.create(ctx.plan, [])
    assert Structure().measure(astronaut, 1, empty).reason == "no reference image"


def test_product_matches_the_reference_product_and_not_another_picture(sneaker, hopper):
    ctx = context([sneaker], "3 shots of this product, logo visible")
    metric = Product()
    assert metric.applies(ctx, 1) is None
    same = metric.measure(ImageEnhance.Color(sneaker).enhance(1.5), 1, ctx)
    assert same.passed and same.value >= 40, same
    other = metric.measure(hopper.resize(sneaker.size), 2, ctx)
    assert other.passed is False, other


def test_product_nulls_say_why(sneaker):
    plain = context([sneaker], "a series of 3 images of this sneaker")
    assert Product().applies(plain, 1) == "the instruction names no product or logo"
    blank = context([Image.new("RGB", (300, 300), (250, 250, 250))], "3 shots of this product")
    figure = Product().measure(sneaker, 1, blank)
    assert figure.value is None and "too little texture" in figure.reason


def test_a_bbox_tag_marks_the_product_region(sneaker):
    ctx = context([sneaker], "3 shots of this <bbox>100 100 900 900</bbox>")
    assert ctx.product
    assert Product().measure(sneaker, 1, ctx).passed
