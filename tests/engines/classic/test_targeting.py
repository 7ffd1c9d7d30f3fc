"""Honest targeting end to end (``ClassicEngine`` and the CLI): a clause that names a region edits only
that region's mask, or is refused with one line that says how to make it work.

* a tagged clause edits only inside its located mask (nothing changes outside the box);
* an untagged part the engine has no mask for ("the saucer", "the helmet") is refused at plan time
  with the hint to add ``<bbox>``/``<point>``; a tag whose mask is not good is refused at render;
* known targets (her face, the background of a portrait, a product on a plain backdrop) still work,
  and a saliency guess is never used for "it" on a table photo;
* tags never break counting or splitting, and ``seqedit plan --json`` shows where each clause applies.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from seqedit.edit import prepare, render
from seqedit.engines import NullProgress, Unsupported, create
from seqedit.plan import make_plan
from seqedit.request import EditRequest

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
CREMA = "<bbox>342 238 617 488</bbox>"
SAUCER = "<bbox>125 175 800 975</bbox>"


def photo(name: str) -> Image.Image:
    return Image.open(EXAMPLES / name).convert("RGB")


def run(name: str, prompt: str, size: str) -> tuple[np.ndarray, np.ndarray]:
    """(reference at the output size, the one output), both float RGB."""
    ref = photo(name)
    request = EditRequest.create(prompt=prompt, images=[name], max_images=1, size=size, seed=5, output_format="png")
    engine = create("classic")
    out = list(render(prepare(request, [ref], engine), engine, NullProgress()))
    im = Image.open(io.BytesIO(out[0].data)).convert("RGB")
    before = ref.resize(im.size, Image.LANCZOS)
    return np.asarray(before, np.float32) / 255, np.asarray(im, np.float32) / 255


def changed(before: np.ndarray, after: np.ndarray, de: float = 10.0) -> np.ndarray:
    d = cv2.cvtColor(before, cv2.COLOR_RGB2Lab) - cv2.cvtColor(after, cv2.COLOR_RGB2Lab)
    return np.sqrt((d * d).sum(-1)) > de


def box(shape: tuple[int, ...], tag: str, grow: float = 0.0) -> np.ndarray:
    h, w = shape[:2]
    x1, y1, x2, y2 = (float(v) for v in tag.split(">")[1].split("<")[0].split())
    out = np.zeros((h, w), bool)
    g = grow * 1000
    out[
        int(max(0, y1 - g) * h / 1000) : int(min(1000, y2 + g) * h / 1000),
        int(max(0, x1 - g) * w / 1000) : int(min(1000, x2 + g) * w / 1000),
    ] = True
    return out


def refusal(name: str, prompt: str) -> str:
    request = EditRequest.create(prompt=prompt, images=[name], max_images=1, size="576*384", seed=5)
    engine = create("classic")
    with pytest.raises(Unsupported) as err:
        list(render(prepare(request, [photo(name)], engine), engine, NullProgress()))
    message = str(err.value)
    assert "\n" not in message
    return message


def test_a_tagged_clause_edits_only_inside_its_box() -> None:
    before, after = run("coffee.jpg", f"recolour the coffee {CREMA} teal, keep the cup", "576*384")
    diff = changed(before, after)
    assert diff[box(diff.shape, CREMA)].mean() > 0.3  # the crema is teal
    assert diff[~box(diff.shape, CREMA, grow=0.02)].mean() < 0.001  # nothing outside the box moved


def test_an_untagged_part_without_a_mask_is_refused_with_the_hint() -> None:
    for name, prompt, part in [
        ("coffee.jpg", "recolour the saucer red, keep the cup", "the saucer"),
        ("astronaut.jpg", "recolour the helmet gold", "the helmet"),
        ("coffee.jpg", "make the spoon a bit brighter", "the spoon"),
    ]:
        message = refusal(name, prompt)
        assert part in message and "<bbox>" in message and "<point>" in message, message


def test_a_tag_whose_mask_is_not_good_is_refused_at_render_naming_the_part() -> None:
    message = refusal("coffee.jpg", f"recolour the saucer {SAUCER} blue")
    assert "could not find the saucer inside <bbox>125 175 800 975</bbox>" in message


def test_a_tag_on_a_whole_picture_op_is_refused_not_ignored() -> None:
    assert "location tag" in refusal("coffee.jpg", f"turn it into a watercolor {CREMA}")


def test_no_saliency_guess_for_it_on_a_table_photo() -> None:
    assert "<bbox>" in refusal("coffee.jpg", "make it red")
    assert "background" in refusal("coffee.jpg", "darken the background")


def test_her_face_brightened_changes_the_face_only() -> None:
    before, after = run("astronaut.jpg", "brighten her face", "512*512")
    diff = changed(before, after, de=3.0)
    face = np.zeros(diff.shape, bool)
    face[40:210, 130:320] = True  # her head, generously
    assert diff[face].mean() > 0.2
    assert diff[~face].mean() < 0.01


def test_a_product_on_a_plain_backdrop_is_still_recoloured() -> None:
    before, after = run("sneaker.png", "make the sneakers navy blue", "512*512")
    assert changed(before, after).mean() > 0.05


def test_tags_do_not_count_or_split() -> None:
    prompt = "recolour the coffee <bbox>342, 238, 617, 488</bbox> teal, keep the cup"
    plan = make_plan(EditRequest.create(prompt=prompt, images=["a.png"], max_images=2))
    assert plan.declared_count is None and plan.shared == prompt
    assert all(p.source == "shared" for p in plan.panels)


def test_plan_json_shows_where_each_clause_applies() -> None:
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "seqedit",
            "plan",
            str(EXAMPLES / "coffee.jpg"),
            "-p",
            f"recolour the coffee {CREMA} teal, keep the cup",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    verdicts = json.loads(r.stdout)["verdicts"]
    recolour = next(v for v in verdicts if v["operation"] == "recolor")
    assert recolour["verdict"] == "supported"
    assert recolour["params"]["where"] == ["bbox", [342.0, 238.0, 617.0, 488.0]]
    assert recolour["params"]["target"] == "located" and recolour["params"]["part"] == "the coffee"
    assert CREMA in recolour["clause"]


def test_a_tagged_keep_is_edited_around() -> None:
    before, after = run("coffee.jpg", f"make it brighter, keep the coffee {CREMA}", "576*384")
    diff = changed(before, after, de=3.0)
    h, w = diff.shape
    centre = np.zeros(diff.shape, bool)
    centre[int(0.32 * h) : int(0.42 * h), int(0.42 * w) : int(0.54 * w)] = True  # the middle of the crema
    assert diff[centre].mean() < 0.02  # kept
    assert diff[~box(diff.shape, CREMA, grow=0.02)].mean() > 0.3  # brightened everywhere else


def test_a_keep_that_cannot_be_found_refuses_the_edit() -> None:
    message = refusal("coffee.jpg", f"make it brighter, keep the saucer {SAUCER}")
    assert "could not find what to keep inside <bbox>125 175 800 975</bbox>" in message
