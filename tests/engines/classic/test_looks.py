"""looks: colour grades, time-of-day grades and relighting do what their names say."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import data
from skimage.color import deltaE_cie76, rgb2lab

from seqedit.engines.classic.looks import LIGHTS, LOOKS, TIMES, apply_look, blur, relight, time_of_day
from tests.support import photos


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return photos.astronaut()


@pytest.fixture(scope="module")
def grace() -> np.ndarray:
    return photos.grace_hopper()


def lab(img: np.ndarray) -> np.ndarray:
    return rgb2lab(np.clip(img, 0, 1))


def mean_delta_e(a: np.ndarray, b: np.ndarray) -> float:
    return float(deltaE_cie76(lab(a), lab(b)).mean())


def edge_f1(a: np.ndarray, b: np.ndarray, tol: int = 2) -> float:
    def edges(x: np.ndarray) -> np.ndarray:
        g = cv2.cvtColor((np.clip(x, 0, 1) * 255 + 0.5).astype(np.uint8), cv2.COLOR_RGB2GRAY)
        g = cv2.equalizeHist(cv2.GaussianBlur(g, (0, 0), 2.0))  # grades move levels, not edges
        return cv2.Canny(g, 40, 100) > 0

    ea, eb = edges(a), edges(b)
    da = cv2.distanceTransform((~ea).astype(np.uint8), cv2.DIST_L2, 3)
    db = cv2.distanceTransform((~eb).astype(np.uint8), cv2.DIST_L2, 3)
    recall, precision = float((db[ea] <= tol).mean()), float((da[eb] <= tol).mean())
    return 2 * precision * recall / (precision + recall + 1e-9)


def subject_mask(h: int, w: int) -> np.ndarray:
    m = np.zeros((h, w), np.float32)
    cv2.ellipse(m, (w // 2 - 20, int(h * 0.62)), (int(w * 0.3), int(h * 0.42)), 0, 0, 360, 1.0, -1)
    return m


# ----------------------------------------------------------------------------- looks


@pytest.mark.parametrize("look", LOOKS)
def test_look_changes_colour_but_not_geometry(astronaut: np.ndarray, look: str) -> None:
    out = apply_look(astronaut, look, seed=4)
    assert out.shape == astronaut.shape and out.dtype == np.float32
    assert 0.0 <= float(out.min()) and float(out.max()) <= 1.0
    assert mean_delta_e(astronaut, out) > 4.0
    assert edge_f1(astronaut, out) > 0.55


@pytest.mark.parametrize("look", ["noir", "bw"])
def test_black_and_white_looks_have_no_chroma(grace: np.ndarray, look: str) -> None:
    out = apply_look(grace, look, seed=1)
    assert float((out.max(axis=2) - out.min(axis=2)).max()) == 0.0


def test_cyberpunk_pushes_hues_to_magenta_and_cyan(astronaut: np.ndarray) -> None:
    def cool_share(img: np.ndarray) -> float:
        L = lab(img)
        chromatic = np.hypot(L[..., 1], L[..., 2]) > 8
        cool = L[..., 2] < 0  # b* < 0: cyan, blue, magenta side
        return float((cool & chromatic).sum() / max(1, chromatic.sum()))

    out = apply_look(astronaut, "cyberpunk", seed=0)
    assert cool_share(astronaut) < 0.4
    assert cool_share(out) > 0.7
    a_star = lab(out)[..., 1]
    assert float(a_star.mean()) > 8.0  # magenta rather than plain blue


@pytest.mark.parametrize(("look", "warmer"), [("golden_hour", True), ("warm", True), ("cold", False)])
def test_temperature_looks_move_b_star(astronaut: np.ndarray, look: str, warmer: bool) -> None:
    shift = float(lab(apply_look(astronaut, look, seed=0))[..., 2].mean() - lab(astronaut)[..., 2].mean())
    assert shift > 3.0 if warmer else shift < -3.0


def test_vintage_fades_blacks_and_desaturates(grace: np.ndarray) -> None:
    out = apply_look(grace, "vintage", seed=2)
    assert np.percentile(out.min(axis=2), 1) > np.percentile(grace.min(axis=2), 1) + 0.05

    def chroma(img: np.ndarray) -> float:
        L = lab(img)
        return float(np.hypot(L[..., 1], L[..., 2]).mean())

    assert chroma(out) < chroma(grace)


@pytest.mark.parametrize("look", LOOKS)
def test_looks_are_deterministic(astronaut: np.ndarray, look: str) -> None:
    assert apply_look(astronaut, look, 11).tobytes() == apply_look(astronaut, look, 11).tobytes()


@pytest.mark.parametrize("look", ["noir", "vintage"])
def test_grain_follows_the_seed(astronaut: np.ndarray, look: str) -> None:
    assert apply_look(astronaut, look, 1).tobytes() != apply_look(astronaut, look, 2).tobytes()


def test_snow_is_seeded_and_adds_bright_specks(astronaut: np.ndarray) -> None:
    plain = apply_look(astronaut, "cold", 5)
    snowy = apply_look(astronaut, "cold", 5, snow=True)
    assert snowy.tobytes() == apply_look(astronaut, "cold", 5, snow=True).tobytes()
    assert snowy.tobytes() != apply_look(astronaut, "cold", 6, snow=True).tobytes()
    brighter = (snowy.mean(axis=2) - plain.mean(axis=2)) > 0.2
    assert 0.001 < brighter.mean() < 0.05


def test_strength_blends_with_the_original(astronaut: np.ndarray) -> None:
    assert np.allclose(apply_look(astronaut, "cyberpunk", 0, strength=0.0), astronaut, atol=1e-6)
    full = mean_delta_e(astronaut, apply_look(astronaut, "cyberpunk", 0))
    half = mean_delta_e(astronaut, apply_look(astronaut, "cyberpunk", 0, strength=0.5))
    assert 0.3 * full < half < 0.7 * full


def test_unknown_look_is_an_error(astronaut: np.ndarray) -> None:
    with pytest.raises(ValueError, match="unknown look"):
        apply_look(astronaut, "sepia-ish", 0)


def test_large_blurs_run_on_a_pyramid() -> None:
    img = np.zeros((256, 256), np.float32)
    img[128, 128] = 1.0
    out = blur(img, 20.0)  # ~ a Gaussian of sigma 20, normalised
    assert out.shape == img.shape
    assert abs(float(out.sum()) - 1.0) < 0.05
    row = out[128]
    spread = float(np.sqrt((row * (np.arange(256) - 128) ** 2).sum() / row.sum()))
    assert 16.0 < spread < 24.0


# ----------------------------------------------------------------------------- time of day


@pytest.mark.parametrize("time", TIMES)
def test_time_of_day_regrades(astronaut: np.ndarray, time: str) -> None:
    out = time_of_day(astronaut, time)
    assert out.shape == astronaut.shape and out.dtype == np.float32
    assert mean_delta_e(astronaut, out) > 3.0
    assert edge_f1(astronaut, out) > 0.5


def test_times_order_by_brightness_and_warmth(astronaut: np.ndarray) -> None:
    L = {t: float(lab(time_of_day(astronaut, t))[..., 0].mean()) for t in TIMES}
    assert L["night"] < L["dusk"] < L["sunset"] < L["noon"]
    assert L["night"] < 0.5 * L["noon"]
    b = {t: float(lab(time_of_day(astronaut, t))[..., 2].mean()) for t in ("sunset", "noon", "night")}
    assert b["sunset"] > b["noon"] > b["night"]


def test_sky_mask_tints_only_the_sky() -> None:
    rocket = photos.as_f32(data.rocket())
    h, w = rocket.shape[:2]
    sky = np.zeros((h, w), np.float32)
    sky[: h // 3] = 1.0
    graded = time_of_day(rocket, "sunset")
    tinted = time_of_day(rocket, "sunset", sky_mask=sky, seed=3)
    assert np.array_equal(tinted[h // 2 :], graded[h // 2 :])  # below the sky: the grade alone
    top = lab(tinted[: h // 3])
    assert float(top[..., 1].mean()) > 5.0 or float(top[..., 2].mean()) > 5.0  # warm sunset sky
    night = time_of_day(rocket, "night", sky_mask=sky, seed=3)
    assert float(lab(night[: h // 3])[..., 2].mean()) < 0.0  # dark blue night sky
    assert night.tobytes() == time_of_day(rocket, "night", sky_mask=sky, seed=3).tobytes()
    assert night.tobytes() != time_of_day(rocket, "night", sky_mask=sky, seed=4).tobytes()  # stars


# ----------------------------------------------------------------------------- relighting


@pytest.mark.parametrize("kind", LIGHTS)
def test_relight_changes_the_image(grace: np.ndarray, kind: str) -> None:
    h, w = grace.shape[:2]
    for mask in (None, subject_mask(h, w)):
        out = relight(grace, kind, "left", subject_mask=mask)
        assert out.shape == grace.shape and out.dtype == np.float32
        assert mean_delta_e(grace, out) > 3.0
        assert edge_f1(grace, out) > 0.45


@pytest.mark.parametrize("kind", ["soft", "dramatic", "studio"])
def test_light_comes_from_the_requested_side(grace: np.ndarray, kind: str) -> None:
    h, w = grace.shape[:2]
    mask = subject_mask(h, w)

    def left_right_gain(out: np.ndarray) -> float:
        gain = out.mean(axis=2) / (grace.mean(axis=2) + 0.02)
        sel = mask > 0.5
        left = gain[:, : w // 2][sel[:, : w // 2]].mean()
        right = gain[:, w // 2 :][sel[:, w // 2 :]].mean()
        return float(left / right)

    assert left_right_gain(relight(grace, kind, "left", mask)) > 1.02
    assert left_right_gain(relight(grace, kind, "right", mask)) < 0.98


def test_dramatic_darkens_the_background_more_than_the_subject(grace: np.ndarray) -> None:
    h, w = grace.shape[:2]
    mask = subject_mask(h, w)
    out = relight(grace, "dramatic", "top", mask)
    ratio = out.mean(axis=2) / (grace.mean(axis=2) + 0.02)
    assert ratio[mask > 0.5].mean() > 1.5 * ratio[mask < 0.5].mean()


def test_rim_light_brightens_the_lit_edge(grace: np.ndarray) -> None:
    h, w = grace.shape[:2]
    mask = subject_mask(h, w)
    inner = cv2.erode(mask, np.ones((15, 15), np.uint8))
    band = (mask > 0.5) & (inner < 0.5)
    xs = np.arange(w)[None, :].repeat(h, 0)
    centre = w // 2 - 20
    out = relight(grace, "rim", "right", mask)
    gain = out.mean(axis=2) - grace.mean(axis=2)
    assert gain[band & (xs > centre)].mean() > gain[band & (xs < centre)].mean() + 0.05
    assert gain[band & (xs > centre)].mean() > gain[inner > 0.5].mean() + 0.05


def test_relight_rejects_unknown_kinds(grace: np.ndarray) -> None:
    with pytest.raises(ValueError):
        relight(grace, "candle", "left")
    with pytest.raises(ValueError):
        relight(grace, "soft", "behind")


# ----------------------------------------------------------------------------- sunset and night read as such


def _lab_stats(img: np.ndarray) -> tuple[np.ndarray, float, float, float]:
    L = lab(img)
    return L, float(L[..., 1].mean()), float(L[..., 2].mean()), float(np.hypot(L[..., 1], L[..., 2]).mean())


@pytest.mark.parametrize("name", ["rocket", "coffee", "astronaut"])
def test_sunset_is_a_warm_low_sun_not_brown_smog(name: str) -> None:
    img = photos.as_f32(getattr(data, name)())
    out = time_of_day(img, "sunset", seed=3)
    L0, a0, b0, c0 = _lab_stats(img)
    L1, a1, b1, c1 = _lab_stats(out)
    assert b1 > b0 + 8 and a1 > a0 + 5  # warmer and rosier (rocket: b −13.9 → −0.3, a 3.5 → 15.3)
    assert c1 > c0  # more colour, not a haze (old rocket: chroma 17.9 → 10.0)
    # shadows lifted, not crushed to brown (old rocket: 5th-percentile L 9.9 → 2.5, shadow chroma 7)
    assert np.percentile(L1[..., 0], 5) >= np.percentile(L0[..., 0], 5)
    shadows = L0[..., 0] < 30
    if shadows.any():
        assert float(np.hypot(L1[..., 1], L1[..., 2])[shadows].mean()) > 15.0
    assert edge_f1(img, out) > 0.5


def test_sunset_sky_runs_from_violet_to_orange() -> None:
    img = photos.as_f32(data.camera())
    h, w = img.shape[:2]
    sky = np.zeros((h, w), np.float32)
    sky[: int(0.35 * h)] = 1.0
    L = lab(time_of_day(img, "sunset", sky_mask=sky, seed=3))
    top, horizon = L[: int(0.08 * h)], L[int(0.27 * h) : int(0.35 * h)]
    assert float(top[..., 1].mean()) > 20 and float(top[..., 2].mean()) < -10  # violet-magenta above
    assert float(horizon[..., 2].mean()) > float(top[..., 2].mean()) + 25  # warming toward the horizon
    assert float(horizon[..., 0].mean()) > float(top[..., 0].mean())  # and brighter there


@pytest.mark.parametrize("name", ["rocket", "coffee", "astronaut"])
def test_night_is_blue_and_dark_with_the_lights_kept(name: str) -> None:
    from seqedit.engines.classic.looks import light_spots, luminance

    img = photos.as_f32(getattr(data, name)())
    out = time_of_day(img, "night", seed=3)
    L0, _, _, _ = _lab_stats(img)
    L1, _, b1, _ = _lab_stats(out)
    assert float(L1[..., 0].mean()) < 0.45 * float(L0[..., 0].mean())  # dark
    assert b1 < -5.0  # blue (old coffee: +4.7, a brown dimming)
    spots = light_spots(img) > 0.5
    assert spots.sum() > 100, "the test photo needs some lamps or highlights"
    kept = float(luminance(out)[spots].mean() / luminance(img)[spots].mean())
    assert kept > 0.8  # old: 0.41-0.46, the lamps went out
