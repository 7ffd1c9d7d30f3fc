from pathlib import Path

import pytest

from seqedit.plan import declared_count, make_plan
from seqedit.request import EditRequest

SHOE = Path(__file__).parents[1] / "examples" / "prompts" / "shoe-colorway.txt"


def plan(prompt: str, n: int, **kw):
    ref_sizes = kw.pop("ref_sizes", [(800, 600)])
    return make_plan(
        EditRequest.create(prompt=prompt, images=["ref"], max_images=n, seed=kw.pop("seed", 1), **kw), ref_sizes
    )


@pytest.mark.parametrize(
    "prompt, n",
    [
        ("Generate a series of 4 edited images", 4),
        ("a series of four", 4),
        ("make 3 images of her", 3),
        ("Panels 1–4 in ink", 4),
        ("Generate a series of 2 magazine photoshoots for these two models.", 2),
        ("twelve different product shots", 12),
        ("a pair of covers", 2),
        ("Generate a set of American manga storyboards based on the reference image.", None),
        ("make it blue", None),
    ],
)
def test_declared_count(prompt, n):
    assert declared_count(prompt) == n


def test_shoe_colorway_prompt_word_for_word():
    p = plan(SHOE.read_text(), 4)
    assert [x.text for x in p.panels] == [
        "classic white + black swoosh",
        "navy + gold accents",
        "matte red + white outsole",
        "forest green + gum sole",
    ]
    assert p.declared_count == 4 and not p.warnings
    assert "keeping the same shoe model" in p.shared and "Ensure consistent proportions" in p.shared
    assert "Panel 1" not in p.shared


def test_count_lock_more_and_fewer_than_declared():
    fewer = plan(SHOE.read_text(), 2)
    assert fewer.count == 2 and any("asks for 4" in w for w in fewer.warnings)
    assert any("panel(s) 3, 4 ignored" in w for w in fewer.warnings)
    more = plan(SHOE.read_text(), 6)
    assert more.count == 6 and [x.text for x in more.panels][4:] == ["", ""]
    assert any("5, 6 have no own instruction" in w for w in more.warnings)


def test_enumerations():
    ages = plan("Generate a series of 3 images depicting this little girl at ages 25, 45, and 65.", 3)
    assert [x.text for x in ages.panels] == ["age 25", "age 45", "age 65"]
    views = plan("Generate a series of 3 images for this character: left view, once view, and right view.", 3)
    assert [x.text for x in views.panels] == ["left view", "once view", "right view"]
    styles = plan("Render the portrait in pencil sketch, watercolor, oil painting and pop art", 4)
    assert [x.text for x in styles.panels] == ["pencil sketch", "watercolor", "oil painting", "pop art"]
    semi = plan("Colorways: classic white with black swoosh; navy + gold accents; matte red", 3)
    assert [x.text for x in semi.panels] == ["classic white with black swoosh", "navy + gold accents", "matte red"]


def test_constraint_lists_are_not_enumerations():
    p = plan("A photo of the same man, keeping the face, hair and outfit", 3)
    assert all(x.text == "" for x in p.panels)


@pytest.mark.parametrize("line", ["Panel {k} — {t}", "Panel {k}: {t}", "{k}. {t}", "Image {k}: {t}", "{k}) {t}"])
def test_panel_line_forms(line):
    prompt = "Make them moody.\n" + "\n".join(line.format(k=k, t=f"look {k}") for k in (1, 2, 3))
    p = plan(prompt, 3)
    assert [x.text for x in p.panels] == ["look 1", "look 2", "look 3"]
    assert p.shared == "Make them moody."
    assert p.instruction(2) == "Make them moody. look 2"


def test_seed_and_size():
    p = plan("x", 1, seed=None)
    assert 0 <= p.seed < 2**31
    assert str(plan("x", 1, size="512*512").size) == "512*512"
    d = plan("x", 1, ref_sizes=[(3000, 1000)]).size
    assert d.width % 64 == 0 and abs(d.width / d.height - 3) < 0.1


@pytest.mark.parametrize(
    "prompt", ["Make 1:1, 4:5 and 9:16 crops", "a 4:5 image", "16:9 photos", "landscape 3:2 version"]
)
def test_aspect_ratios_are_never_counts(prompt):
    assert declared_count(prompt) is None


def test_aspect_ratio_enumeration():
    p = plan("Make 1:1, 4:5 and 9:16 crops of this photo", 3)
    assert [x.text for x in p.panels] == ["1:1 crop", "4:5 crop", "9:16 crop"]
    assert p.declared_count == 3 and not p.warnings


def test_count_stated_in_an_enumeration():
    prompt = "Show this shoe in 4 colors: red, blue, green and yellow"
    assert declared_count(prompt) == 4
    p = plan(prompt, 4)
    assert [x.text for x in p.panels] == ["red", "blue", "green", "yellow"] and not p.warnings


def test_style_look_background_and_caption_lists_spread_one_per_panel():
    bg = plan("Put the product on white, grey, black and beige backgrounds", 4)
    assert [x.text for x in bg.panels] == [
        "white background",
        "grey background",
        "black background",
        "beige background",
    ]
    looks = plan("Show the portrait in B&W, sepia and cold blue", 3)
    assert [x.text for x in looks.panels] == ["B&W", "sepia", "cold blue"]
    caps = plan("Add captions 'Monday', 'Tuesday' and 'Wednesday'", 3)
    assert [x.text for x in caps.panels] == ["caption 'Monday'", "caption 'Tuesday'", "caption 'Wednesday'"]


def test_inline_numbered_list():
    p = plan("4 art prints: 1. pencil 2. watercolor 3. oil painting 4. pop art", 4)
    assert [x.text for x in p.panels] == ["pencil", "watercolor", "oil painting", "pop art"]
    assert p.declared_count == 4 and not p.warnings and p.shared == "4 art prints:"
    assert all(x.text == "" for x in plan("Use version 1. Then step 2. go", 2).panels)


def test_shared_sentence_after_the_panel_lines_stays_shared():
    same_line = plan("Panel 1: make it red. Panel 2: make it blue. Keep the logo sharp.", 2)
    assert [x.text for x in same_line.panels] == ["make it red.", "make it blue."]
    assert same_line.shared == "Keep the logo sharp."
    lines = plan("Panel 1: make it red\nPanel 2: make it blue\nKeep the logo sharp.", 2)
    assert [x.text for x in lines.panels] == ["make it red", "make it blue"] and lines.shared == "Keep the logo sharp."


def test_location_tags_are_never_counts_lists_or_panel_marks():
    # numbers and commas inside a tag are one opaque token while the prompt is counted and split
    tagged = "recolour the saucer <bbox>80, 560, 920, 980</bbox> red, the cup <point>4, 5</point> blue"
    p = plan(tagged, 2)
    assert p.declared_count is None and p.shared == tagged and all(x.text == "" for x in p.panels)
    assert declared_count("make it red <bbox>1 2 3 4</bbox> images") is None
    assert declared_count("make 3 images <point>10 20</point>") == 3
    lines = plan("Make 2 images: 1. recolour the cup <point>4, 5</point> red 2. make it <bbox>1 2 3 4</bbox> blue", 2)
    assert [x.text for x in lines.panels] == [
        "recolour the cup <point>4, 5</point> red",
        "make it <bbox>1 2 3 4</bbox> blue",
    ]
    colours = plan("in 3 colors: red <bbox>10,20,30,40</bbox>, blue and green", 3)
    assert [x.text for x in colours.panels] == ["red <bbox>10,20,30,40</bbox>", "blue", "green"]
