"""MaskSet on real photos and drawn products: right region, cached once, honest quality verdicts."""

from __future__ import annotations

import numpy as np
import pytest
from mask_color_images import astronaut, chelsea, coffee, grace_hopper, iou, present_rgba, shoe

from seqedit.engines.classic.masks import MaskSet, judge, saliency_grabcut


@pytest.fixture(scope="module")
def astro() -> MaskSet:
    return MaskSet(astronaut())


def _box_mean(mask: np.ndarray, f) -> float:
    return float(mask[int(f.y) : int(f.y + f.h), int(f.x) : int(f.x + f.w)].mean())


def test_astronaut_face_and_person(astro: MaskSet) -> None:
    faces = astro.faces()
    assert len(faces) == 1
    f = faces[0]
    assert 150 < f.center[0] < 300 and 60 < f.center[1] < 200  # her face, not the shuttle or the flag
    person = astro.person()
    assert person.quality == "good" and person.kind == "person"
    assert person.mask.dtype == np.float32 and person.mask.shape == (512, 512)
    assert _box_mean(person.mask, f) > 0.9
    for corner in (person.mask[:48, :48], person.mask[:48, -48:]):
        assert corner.mean() < 0.05
    assert 0.3 < person.area < 0.8


def test_masks_are_computed_once_and_shared(astro: MaskSet) -> None:
    assert astro.person() is astro.person()
    assert astro.subject() is astro.person()  # a face is present: the subject is the person
    assert astro.faces() is astro.faces()


def test_face_and_clothes(astro: MaskSet) -> None:
    f = astro.faces()[0]
    face = astro.face()
    assert face.usable and _box_mean(face.mask, f) > 0.6
    clothes = astro.clothes()
    assert clothes.quality == "rough"
    assert _box_mean(clothes.mask, f) < 0.05  # the face is not clothing
    assert float(clothes.mask[380:500, 60:200].mean()) > 0.6  # the suit's left side is


def test_second_portrait() -> None:
    ms = MaskSet(grace_hopper())
    assert ms.faces()
    p = ms.person()
    assert p.quality == "good"
    assert _box_mean(p.mask, ms.faces()[0]) > 0.9
    assert p.mask[:40, :40].mean() < 0.05


@pytest.mark.parametrize("load", [coffee, chelsea])
def test_no_face_means_no_person(load) -> None:
    ms = MaskSet(load())
    assert ms.faces() == []
    p = ms.person()
    assert p.quality == "degenerate" and "face" in p.note
    assert p.mask.max() == 0.0  # not a 50 % "person"
    assert ms.subject().kind == "product"  # falls back to the object mask


def test_flat_image_is_degenerate_everywhere() -> None:
    ms = MaskSet(np.full((120, 160, 3), 0.5, np.float32))
    for r in (ms.person(), ms.product(), ms.subject(), ms.sky()):
        assert r.quality == "degenerate" and not r.usable and r.note


def test_keyed_product_on_a_plain_backdrop() -> None:
    img, truth = shoe()
    r = MaskSet(img).subject()
    assert r.kind == "product" and r.quality == "good"
    assert iou(r.mask > 0.5, truth["subject"]) > 0.93  # the white logo stripe is inside, not a hole


def test_alpha_channel_is_the_best_subject_mask() -> None:
    rgba = present_rgba()
    alpha = np.asarray(rgba.getchannel("A")) > 127
    with_alpha = MaskSet.from_image(rgba).subject()
    assert with_alpha.kind == "alpha" and with_alpha.quality == "good"
    assert iou(with_alpha.mask > 0.5, alpha) > 0.99
    keyed = MaskSet.from_image(rgba.convert("RGB")).subject()  # composited on white: keyed instead
    assert keyed.kind == "product" and keyed.usable
    assert iou(keyed.mask > 0.5, alpha) > 0.8


def test_grabcut_fallback_is_rough_and_deterministic() -> None:
    img = coffee()
    a = saliency_grabcut(img, seed=7)
    b = saliency_grabcut(img, seed=7)
    assert a.quality in ("rough", "degenerate")
    assert np.array_equal(a.mask, b.mask)
    assert np.array_equal(MaskSet(img, seed=7).product().mask, a.mask)


def test_sky_on_a_synthetic_landscape() -> None:
    h, w = 240, 320
    rng = np.random.default_rng(0)
    img = np.zeros((h, w, 3), np.float32)
    t = np.linspace(0, 1, 100, dtype=np.float32)[:, None, None]
    img[:100] = (1 - t) * np.float32([0.35, 0.55, 0.9]) + t * np.float32([0.7, 0.8, 0.95])
    img[100:] = np.float32([0.25, 0.35, 0.15]) + 0.15 * rng.random((h - 100, w, 1), dtype=np.float32)
    sky = MaskSet(img).sky()
    assert sky.usable and sky.quality == "rough"
    assert sky.mask[:90].mean() > 0.95 and sky.mask[115:].mean() < 0.02
    assert MaskSet(coffee()).sky().quality == "degenerate"


def test_judge_flags_empty_full_and_fragmented_masks() -> None:
    good = np.zeros((100, 100), np.float32)
    good[20:80, 30:70] = 1
    assert judge(good, "x").quality == "good"
    tiny = np.zeros((100, 100), np.float32)
    tiny[:5, :5] = 1
    assert judge(tiny, "x").quality == "degenerate"
    assert judge(np.ones((100, 100), np.float32), "x").quality == "degenerate"
    speckle = np.zeros((100, 100), np.float32)
    for y in range(0, 100, 10):
        for x in range(0, 100, 10):
            speckle[y : y + 4, x : x + 4] = 1  # 100 separate 4×4 specks, 16 % of the image
    r = judge(speckle, "x")
    assert r.quality == "degenerate" and "fragmented" in r.note


def test_get_by_name_and_background_inverse(astro: MaskSet) -> None:
    bg = astro.get("background")
    assert np.allclose(bg.mask, 1.0 - astro.subject().mask)
    assert astro.get("hair") is astro.hair()
    with pytest.raises(KeyError):
        astro.get("shoes")


def test_hair_is_rough_and_above_the_face(astro: MaskSet) -> None:
    f = astro.faces()[0]
    hair = astro.hair()
    assert hair.quality == "rough"

    def cover(y0: float, y1: float, x0: float, x1: float) -> float:
        return float(
            hair.mask[int(f.y + y0 * f.h) : int(f.y + y1 * f.h), int(f.x + x0 * f.w) : int(f.x + x1 * f.w)].mean()
        )

    assert cover(0.0, 0.5, -0.2, 0.1) > 0.5 and cover(0.0, 0.5, 0.9, 1.2) > 0.5  # hair at both temples
    assert cover(-0.4, 0.3, -0.2, 1.2) > 0.35  # the head band overall (blonde highlights read as skin)
    cx, cy = (int(v) for v in f.center)
    assert hair.mask[cy - 10 : cy + 10, cx - 10 : cx + 10].max() < 0.05  # not the face
    assert hair.mask[int(f.y + 1.5 * f.h) :].max() < 0.05  # not the suit


def test_same_input_same_masks(astro: MaskSet) -> None:
    again = MaskSet(astronaut())
    assert np.array_equal(again.person().mask, astro.person().mask)
    assert np.array_equal(again.clothes().mask, astro.clothes().mask)
