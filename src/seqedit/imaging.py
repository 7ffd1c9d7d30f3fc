"""Safe image decoding and encoding.

``decode`` refuses, before allocating pixels: more than ``max_bytes`` of input, anything Pillow
cannot identify, and headers announcing more than ``max_pixels`` pixels (decompression bombs).
It then applies EXIF orientation, takes the first frame of animations, and normalises modes:
CMYK/YCbCr/palette/16-bit/float → 8-bit RGB, with an alpha channel kept as RGBA when present.
"""

from __future__ import annotations

import base64
import io
import warnings
from dataclasses import dataclass
from typing import cast

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from seqedit.errors import RequestError

DEFAULT_MAX_BYTES = 30 * 1024 * 1024
DEFAULT_MAX_PIXELS = 40_000_000
JPEG_QUALITY = 92
WEBP_QUALITY = 90

_MIME = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
_EXT = {"jpeg": "jpg", "png": "png", "webp": "webp"}


@dataclass(frozen=True)
class Probe:
    format: str  # Pillow format name, e.g. "PNG"
    width: int
    height: int

    @property
    def mime(self) -> str:
        return Image.MIME.get(self.format, "application/octet-stream")


def probe(
    data: bytes, *, field: str = "image", max_bytes: int = DEFAULT_MAX_BYTES, max_pixels: int = DEFAULT_MAX_PIXELS
) -> Probe:
    """Header-only check (format, dimensions, caps). Cheap: no pixel is decoded."""
    _check_bytes(data, field, max_bytes)
    im = _open(data, field, max_pixels)
    _check_pixels(im.size, field, max_pixels)
    return Probe(im.format or "", im.width, im.height)


def decode(
    data: bytes, *, field: str = "image", max_bytes: int = DEFAULT_MAX_BYTES, max_pixels: int = DEFAULT_MAX_PIXELS
) -> Image.Image:
    """Decode ``data`` into an 8-bit RGB or RGBA image, or raise ``RequestError`` (code 1401)."""
    _check_bytes(data, field, max_bytes)
    im = _open(data, field, max_pixels)
    _check_pixels(im.size, field, max_pixels)
    try:
        if getattr(im, "n_frames", 1) > 1:
            im.seek(0)
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im.load()
        im = ImageOps.exif_transpose(im) or im
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise RequestError(
            field, "a complete, valid image file", f"cannot be decoded ({_short(exc)})", code=1401
        ) from None
    _check_pixels(im.size, field, max_pixels)
    return _normalise(im)


def _check_bytes(data: bytes, field: str, max_bytes: int) -> None:
    if len(data) > max_bytes:
        raise RequestError(field, f"{max_bytes} bytes", f"is {len(data)} bytes", code=1401)
    if not data:
        raise RequestError(field, "a non-empty image file", "is empty", code=1401)


def _open(data: bytes, field: str, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise RequestError(
            field, f"{max_pixels} pixels", f"header announces too many pixels ({_short(exc)})", code=1401
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise RequestError(
            field, "JPEG, PNG, WebP, GIF, BMP or TIFF", "is not a recognised image file", code=1401
        ) from None


def _check_pixels(size: tuple[int, int], field: str, max_pixels: int) -> None:
    w, h = size
    if w <= 0 or h <= 0:
        raise RequestError(field, "positive dimensions", f"has dimensions {w}x{h}", code=1401)
    if w * h > max_pixels:
        raise RequestError(field, f"{max_pixels} pixels", f"is {w}x{h} = {w * h} pixels", code=1401)


def _normalise(im: Image.Image) -> Image.Image:
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(im, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        scale = 255.0 / (hi - lo) if hi > lo else 0.0
        im = Image.fromarray(((arr - lo) * scale).astype(np.uint8), "L")
        mode = "L"
    if mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    elif mode in ("LA", "PA"):
        im = im.convert("RGBA")
    elif mode == "CMYK":
        im = _cmyk_to_rgb(im)
    elif mode not in ("RGB", "RGBA"):
        im = im.convert("RGB")
    # getextrema() gives one (min, max) pair per band for a multi-band image; the stubs cannot know it has four.
    if im.mode == "RGBA" and cast("tuple[tuple[int, int], ...]", im.getextrema())[3][0] == 255:
        im = im.convert("RGB")  # alpha channel present but fully opaque
    return im


def _cmyk_to_rgb(im: Image.Image) -> Image.Image:
    icc = im.info.get("icc_profile")
    if icc:
        try:
            from PIL import ImageCms

            src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            out = ImageCms.profileToProfile(im, src, ImageCms.createProfile("sRGB"), outputMode="RGB")
            if out is not None:  # None only for inPlace=True
                return out
        except Exception:  # broken profile: fall back to the naive conversion
            pass
    return im.convert("RGB")


def encode(im: Image.Image, fmt: str = "jpeg") -> bytes:
    """Encode deterministically (no timestamps, fixed quality) as jpeg, png or webp."""
    buf = io.BytesIO()
    if fmt == "jpeg":
        im.convert("RGB").save(buf, "JPEG", quality=JPEG_QUALITY, optimize=False, subsampling=0)
    elif fmt == "png":
        im.save(buf, "PNG", compress_level=6)
    elif fmt == "webp":
        im.save(buf, "WEBP", quality=WEBP_QUALITY, method=4)
    else:
        raise ValueError(f"unknown output format {fmt!r}")
    return buf.getvalue()


def mime_type(fmt: str) -> str:
    return _MIME[fmt]


def extension(fmt: str) -> str:
    return _EXT[fmt]


def b64(data: bytes) -> str:
    """Naked base64 (no ``data:`` prefix), as WaveSpeed returns with ``enable_base64_output``."""
    return base64.b64encode(data).decode("ascii")


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text[:160]
