"""Recolour a masked region in CIE Lab, keeping its shading and texture; product colorways by parts.

``recolor`` moves the region's mean colour onto the target (a*b* shifted, L re-centred with the
region's deviations rescaled to fit the target's headroom), so white, black and navy really land
near the target while folds, stitching and highlights survive. Pixels where the mask is 0 are
returned bit-for-bit unchanged.

``colorway_parts`` splits a product into primary / accent / sole once per reference (seeded
k-means + a bottom-band step detector); ``apply_colorway`` paints a colorway onto those parts and
is cheap enough to run per panel.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import cv2
import numpy as np

from .colors import Color, ColorLike, Finish, as_color
from .masks import DegenerateMask, fit_long, refine, smoothstep, upsample

PARTS = ("primary", "accent", "sole")
PART_ALIASES = {
    "trim": "accent",
    "logo": "accent",
    "swoosh": "accent",
    "laces": "accent",
    "accents": "accent",
    "outsole": "sole",
    "midsole": "sole",
    "upper": "primary",
    "body": "primary",
    "main": "primary",
}
MIN_PIXELS = 16


def _bbox(mask: np.ndarray, pad: int = 2) -> tuple[slice, slice] | None:
    ys = np.flatnonzero(mask.any(axis=1))
    xs = np.flatnonzero(mask.any(axis=0))
    if len(ys) == 0:
        return None
    h, w = mask.shape
    return (slice(max(0, ys[0] - pad), min(h, ys[-1] + 1 + pad)), slice(max(0, xs[0] - pad), min(w, xs[-1] + 1 + pad)))


def _soft_clip(L: np.ndarray, lo: float = 3.0, hi: float = 97.0) -> np.ndarray:
    """Identity on [lo, hi], smooth tanh knees into [0, 100] beyond."""
    out = L.copy()
    up = L > hi
    out[up] = hi + (100.0 - hi) * np.tanh((L[up] - hi) / (100.0 - hi))
    dn = L < lo
    out[dn] = lo - lo * np.tanh((lo - L[dn]) / lo)
    return out


def _recolor_lab(
    lab: np.ndarray,
    weight: np.ndarray,
    target: tuple[float, float, float],
    finish: Finish | None,
    chroma_keep: float = 0.15,
) -> np.ndarray:
    """New Lab values for every pixel of ``lab`` so that the ``weight``-selected region lands on ``target``."""
    sel = weight > 0.5
    if int(sel.sum()) < MIN_PIXELS:
        sel = weight > 0.05
    L, a, b = lab[..., 0], lab[..., 1], lab[..., 2]
    t0, ta, tb = (float(v) for v in target)
    # centre on a blend of median and mean: the dominant material lands on the target even when the
    # region also holds a little of another (a dark collar in a light suit)
    muL = 0.5 * (float(np.median(L[sel])) + float(L[sel].mean()))
    mua, mub = float(a[sel].mean()), float(b[sel].mean())
    dev = L - np.float32(muL)
    dsel = dev[sel]
    sd_up = float(np.sqrt(np.mean(np.square(np.clip(dsel, 0, None))) * 2)) + 1e-3
    sd_dn = float(np.sqrt(np.mean(np.square(np.clip(dsel, None, 0))) * 2)) + 1e-3
    # shading contrast scales with the material's lightness (a navy suit has darker, shallower folds than
    # an orange one); the headroom terms keep the deviations inside [0, 100] around the target
    ratio = t0 / max(muL, 1.0) if t0 < muL else (100.0 - t0) / max(100.0 - muL, 1.0)
    k_ratio = float(np.clip(ratio, 0.0, 1.0)) ** 0.6
    k_min = 0.35
    k_up = float(np.clip(min(k_ratio, (100.0 - t0) / (2.2 * sd_up)), k_min, 1.0))
    k_dn = float(np.clip(min(k_ratio, t0 / (2.2 * sd_dn)), k_min, 1.0))
    sd = float(dsel.std()) + 1e-3
    if finish == "metallic":  # more contrast, crisp speculars
        k_up, k_dn = min(1.5, k_up * 1.4 + 0.2), min(1.5, k_dn * 1.3 + 0.1)
    Ln = np.where(dev > 0, dev * np.float32(k_up), dev * np.float32(k_dn))
    if finish == "matte":  # flatten speculars, soften contrast
        Ln = np.where(Ln > 0, Ln * np.float32(0.45), Ln * np.float32(0.85))
    elif finish in ("glossy", "metallic"):
        Ln = Ln + np.clip(dev - np.float32(1.2 * sd), 0, None) * np.float32(0.9)
    Ln = Ln + np.float32(t0)
    for _ in range(2):  # land the region's centre on the target despite the clipping knees
        centre = 0.5 * (float(np.median(Ln[sel])) + float(Ln[sel].mean()))
        Ln = Ln + np.float32(t0 - centre)
        Ln = _soft_clip(Ln)
    cs = smoothstep(0.0, min(20.0, 0.6 * t0 + 2.0), Ln) * (1.0 - 0.6 * smoothstep(90.0, 100.0, Ln))
    keep = chroma_keep * (0.5 if finish == "matte" else 1.0)
    an = (np.float32(ta) + (a - np.float32(mua)) * np.float32(keep)) * cs
    bn = (np.float32(tb) + (b - np.float32(mub)) * np.float32(keep)) * cs
    if finish in ("glossy", "metallic"):  # speculars go toward white
        spec = smoothstep(1.0 * sd, 2.5 * sd, dev)
        an = an * (1.0 - 0.6 * spec)
        bn = bn * (1.0 - 0.6 * spec)
    return np.stack([Ln, an, bn], axis=-1).astype(np.float32)


def recolor(img: np.ndarray, mask: np.ndarray, target_rgb: ColorLike, finish: Finish | None = None) -> np.ndarray:
    """Recolour ``img`` (float32 H×W×3 RGB) inside ``mask`` (float32 H×W) to ``target_rgb``.

    ``target_rgb`` is an sRGB float triple in [0, 1], a ``Color`` or a colour phrase; ``finish``
    (matte | glossy | metallic) defaults to the colour's own finish. Raises ``DegenerateMask`` when
    the mask selects fewer than 16 pixels. Pixels with mask 0 are unchanged.
    """
    color = as_color(target_rgb)
    finish = finish or color.finish
    m = np.clip(np.asarray(mask, np.float32), 0.0, 1.0)
    box = _bbox(m > 0.0)
    if box is None or int((m > 0.5).sum()) < MIN_PIXELS:
        raise DegenerateMask("recolour mask is empty")
    out = np.array(img, dtype=np.float32, copy=True)
    crop = out[box]
    mc = m[box]
    lab = cv2.cvtColor(crop, cv2.COLOR_RGB2Lab)
    new = np.clip(cv2.cvtColor(_recolor_lab(lab, mc, color.lab, finish), cv2.COLOR_Lab2RGB), 0.0, 1.0)
    w = mc[..., None]
    out[box] = np.where(w > 0, crop * (1.0 - w) + new * w, crop)
    return out


# ----------------------------------------------------------------------------- colorway parts


@dataclass(frozen=True)
class ColorwayParts:
    """Soft part masks of one product (float32 H×W, together a partition of the subject mask).

    ``found[part]`` says whether a distinct part was detected; ``notes`` explains misses.
    """

    primary: np.ndarray
    accent: np.ndarray
    sole: np.ndarray
    found: dict[str, bool] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)

    def mask(self, part: str) -> np.ndarray:
        return {"primary": self.primary, "accent": self.accent, "sole": self.sole}[part]


def _hue_deg(ab: np.ndarray) -> float:
    return float(np.degrees(np.arctan2(ab[1], ab[0])))


def _distinct(c1: np.ndarray, c2: np.ndarray) -> bool:
    """Are two Lab colours different parts (not shading of one material)?"""
    dL = abs(float(c1[0] - c2[0]))
    C1, C2 = float(np.hypot(c1[1], c1[2])), float(np.hypot(c2[1], c2[2]))
    if dL > 40.0:
        return True
    if min(C1, C2) < 8.0:
        return max(C1, C2) > 18.0
    dh = abs((_hue_deg(c1[1:]) - _hue_deg(c2[1:]) + 180.0) % 360.0 - 180.0)
    return dh > 25.0 or max(C1, C2) / max(min(C1, C2), 1e-3) > 2.5


def _find_sole(lab: np.ndarray, subj: np.ndarray, soft: np.ndarray) -> tuple[np.ndarray | None, str]:
    """Bottom band of the subject whose colour steps away from the part above it (``soft`` = the
    subject's soft mask: a semi-transparent band is a cast shadow or glow, not a sole)."""
    h, w = subj.shape
    cols = np.flatnonzero(subj.any(axis=0))
    ys = np.flatnonzero(subj.any(axis=1))
    if len(cols) < 4 or len(ys) < 8:
        return None, "subject too small to find a sole"
    bottom_rows = np.where(subj.any(axis=0), h - 1 - np.argmax(subj[::-1], axis=0), -1)
    if (bottom_rows[cols] >= h - 2).mean() > 0.5:
        return None, "subject is cut off at the bottom of the image: no sole to find"
    height = ys[-1] - ys[0] + 1
    yy = np.arange(h)[:, None]
    dist = np.where(subj, bottom_rows[None, :] - yy, -1)  # rows above the column's bottom edge
    max_d = int(0.5 * height)
    sums = np.zeros((max_d, 3), np.float64)
    counts = np.zeros(max_d, np.float64)
    valid = (dist >= 0) & (dist < max_d)
    d_idx = dist[valid]
    np.add.at(counts, d_idx, 1)
    for c in range(3):
        np.add.at(sums[:, c], d_idx, lab[..., c][valid])
    best, best_t, best_step = 0.0, 0, 0.0
    lo_t, hi_t = max(3, int(0.06 * height)), max(4, int(0.35 * height))
    span = max(2, int(0.2 * height))
    win = max(2, int(0.04 * height))
    weights = np.array([0.7, 1.0, 1.0])
    for t in range(lo_t, min(hi_t, max_d - span)):
        n1, n2 = counts[:t].sum(), counts[t : t + span].sum()
        s1, s2 = counts[max(0, t - win) : t].sum(), counts[t : t + win].sum()
        if min(n1, n2, s1, s2) < 10:
            continue
        diff = float(np.linalg.norm((sums[:t].sum(0) / n1 - sums[t : t + span].sum(0) / n2) * weights))
        step = float(np.linalg.norm((sums[max(0, t - win) : t].sum(0) / s1 - sums[t : t + win].sum(0) / s2) * weights))
        if min(diff, step) > min(best, best_step):  # a real edge between two materials, not a shading ramp
            best, best_t, best_step = diff, t, step
    if min(best, best_step) < 12.0:
        return None, (
            f"no distinct sole (bottom band differs from the part above by ΔE {best:.0f}, edge step {best_step:.0f})"
        )
    band = valid & (dist < best_t)
    solidity = float(soft[band].mean())
    if solidity < 0.85:
        return None, f"bottom band is semi-transparent (mean alpha {solidity:.2f}): a shadow, not a sole"
    below = lab[band].mean(0)
    above = lab[valid & (dist >= best_t) & (dist < best_t + span)].mean(0)
    near = valid & (dist < int(best_t * 1.5) + 1)
    d_sole = np.linalg.norm(lab - below, axis=2)
    d_up = np.linalg.norm(lab - above, axis=2)
    sole = ((near & (d_sole < d_up)) | (valid & (dist < int(best_t * 0.5)))).astype(np.uint8)
    sole = cv2.morphologyEx(sole, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    sole = cv2.morphologyEx(sole, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8)) & subj.astype(np.uint8)
    return sole.astype(bool), f"sole band {best_t}px tall (ΔE {best:.0f} from the upper)"


def colorway_parts(img: np.ndarray, subject_mask: np.ndarray, seed: int = 0, k: int = 4) -> ColorwayParts:
    """Split a product into primary / accent / sole masks (compute once per reference, reuse per panel).

    Sole = bottom band of the subject whose colour steps away from the part above; accent = k-means
    clusters (seeded, in Lab with L half-weighted) that are a different material than the largest
    cluster (another hue, chromatic vs neutral, or ΔL > 40). Raises ``DegenerateMask`` on an empty subject.
    """
    H, W = img.shape[:2]
    subj_full = np.clip(np.asarray(subject_mask, np.float32), 0.0, 1.0)
    if int((subj_full > 0.5).sum()) < MIN_PIXELS:
        raise DegenerateMask("colorway: subject mask is empty")
    small = fit_long(img, 512)
    h, w = small.shape[:2]
    soft = cv2.resize(subj_full, (w, h), interpolation=cv2.INTER_AREA)
    subj = soft > 0.5
    lab = cv2.cvtColor(small, cv2.COLOR_RGB2Lab)
    found = {"primary": True, "accent": False, "sole": False}
    notes: dict[str, str] = {}

    sole, notes["sole"] = _find_sole(lab, subj, soft)
    sole_m = sole if sole is not None and bool(sole.any()) else np.zeros_like(subj)
    found["sole"] = bool(sole_m.any())

    rest = subj & ~sole_m
    accent_m = np.zeros_like(subj)
    feats = lab * np.array([0.5, 1.0, 1.0], np.float32)
    X = feats[rest]
    if len(X) >= 50:
        rng = np.random.default_rng(seed)
        if len(X) > 20000:
            X = X[rng.choice(len(X), 20000, replace=False)]
        kk = min(k, len(X))
        cv2.setRNGSeed(seed)
        _, _, centers = cv2.kmeans(
            np.ascontiguousarray(X, np.float32),
            kk,
            None,
            (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 30, 0.5),
            3,
            cv2.KMEANS_PP_CENTERS,
        )
        d = ((feats[..., None, :] - centers[None, None]) ** 2).sum(-1)
        labels = np.where(rest, d.argmin(-1), -1)
        areas = np.array([(labels == i).sum() for i in range(kk)])
        main = int(areas.argmax())
        c_main = lab[labels == main].mean(0)
        inner = cv2.erode(subj.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
        for i in range(kk):
            sel_i = labels == i
            if i == main or not sel_i.any() or areas[i] > 0.45 * areas.sum():
                continue
            if (sel_i & inner).sum() < 0.5 * sel_i.sum():  # mostly the anti-aliased rim
                continue
            if _distinct(lab[sel_i].mean(0), c_main):
                accent_m |= sel_i
        accent_u8 = cv2.morphologyEx(accent_m.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        n, cc, st, _ = cv2.connectedComponentsWithStats(accent_u8, connectivity=8)
        keep = [j for j in range(1, n) if st[j, cv2.CC_STAT_AREA] >= max(12, 0.003 * rest.sum())]
        accent_m = np.isin(cc, keep) & rest
    found["accent"] = bool(accent_m.sum() >= max(12, 0.003 * subj.sum()))
    notes["accent"] = (
        "contrasting minority region" if found["accent"] else "no contrasting accent region (logo/swoosh/trim) found"
    )

    def full(part: np.ndarray) -> np.ndarray:
        soft = upsample(part.astype(np.float32), W, H)
        return refine(img, soft, radius=max(2, int(2 * max(H, W) / 512)), eps=1e-3, sharpen=(0.35, 0.65))

    sole_f = full(sole_m) * subj_full if found["sole"] else np.zeros((H, W), np.float32)
    acc_f = full(accent_m) * subj_full if found["accent"] else np.zeros((H, W), np.float32)
    acc_f = np.minimum(acc_f, subj_full - sole_f).clip(0.0, 1.0)
    primary = np.clip(subj_full - sole_f - acc_f, 0.0, 1.0)
    return ColorwayParts(
        primary=primary.astype(np.float32),
        accent=acc_f.astype(np.float32),
        sole=sole_f.astype(np.float32),
        found=found,
        notes=notes,
    )


def _normalise_parts(colors: Mapping[str, ColorLike]) -> dict[str, ColorLike]:
    out: dict[str, ColorLike] = {}
    for name, value in colors.items():
        part = PART_ALIASES.get(name, name)
        if part not in PARTS:
            raise ValueError(f"unknown colorway part: {name!r} (expected one of {PARTS})")
        out.setdefault(part, value)
    return out


def apply_colorway(
    img: np.ndarray, parts: ColorwayParts, colors: Mapping[str, ColorLike], finish: Finish | None = None
) -> tuple[np.ndarray, list[str]]:
    """Paint ``colors`` ({primary, accent, sole} → phrase/Color/RGB) onto precomputed ``parts``.

    ``finish`` applies to primary and accent unless a colour carries its own. Parts not named keep
    their original colour. Returns the image and warnings (one per named part that was not found).
    """
    out = np.array(img, dtype=np.float32, copy=True)
    warnings: list[str] = []
    for part, value in _normalise_parts(colors).items():
        color: Color = as_color(value)
        m = parts.mask(part)
        if not parts.found.get(part, False) or int((m > 0.5).sum()) < MIN_PIXELS:
            warnings.append(
                f"colorway: {part} not found ({parts.notes.get(part, 'empty part')}); {color.name} not applied"
            )
            continue
        out = recolor(out, m, color, color.finish or (finish if part != "sole" else None))
    return out, warnings


def colorway(
    img: np.ndarray,
    subject_mask: np.ndarray,
    colors: Mapping[str, ColorLike],
    finish: Finish | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, list[str]]:
    """One-shot colorway: ``colorway_parts`` then ``apply_colorway`` (cache the parts for a series)."""
    return apply_colorway(img, colorway_parts(img, subject_mask, seed=seed), colors, finish)


def mean_change(before: np.ndarray, after: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean CIE76 ΔE between two images (inside ``mask`` > 0.5 if given): ~0 means the edit was a no-op."""
    d = cv2.cvtColor(np.ascontiguousarray(before, np.float32), cv2.COLOR_RGB2Lab) - cv2.cvtColor(
        np.ascontiguousarray(after, np.float32), cv2.COLOR_RGB2Lab
    )
    de = np.sqrt((d * d).sum(-1))
    if mask is not None:
        sel = np.asarray(mask) > 0.5
        return float(de[sel].mean()) if sel.any() else 0.0
    return float(de.mean())
