"""Safe image decoding and encoding: what user bytes may make Pillow do.

Threat model: every image byte comes from a client (uploads, inline base64, fetched URLs) and is
hostile until proven otherwise. Three kinds of attack are stopped here, each before Pillow allocates
anything sized by the attacker:

* **decompression bombs**: a small file announcing a huge image. ``max_bytes`` caps the input and
  ``max_pixels`` the announced width x height, checked on the header, before any pixel is decoded.
* **header bombs**: a file whose *structure* is the payload: a JPEG of millions of empty APP markers,
  a PNG of millions of empty chunks, a GIF of millions of one-byte sub-blocks, a TIFF strip table of
  millions of entries. Pillow walks such structures one Python iteration (and one list entry) at a
  time, so opening a 30 MB file measured 9-17 s and +1 GB. ``scan`` walks the container itself first,
  with hard bounds (``Limits``: header bytes, markers/chunks/blocks before the image, chunks in the
  whole file, JPEG scans, TIFF entries, strips and values), and refuses a file that exceeds one; only
  then does Pillow see it, and it can then do no more work than the bounds allow. Every probe is so
  cheap by construction (a few ms worst case, measured in tests/test_imaging.py), whatever the file.
* **format confusion**: Pillow opens dozens of formats (EPS runs Ghostscript on user PostScript; PSD,
  FITS, ... each a parser of its own). Only ``ACCEPTED`` (JPEG, PNG, WebP, GIF, BMP, TIFF) is decoded:
  the format is identified from its magic bytes by ``scan``, anything else is refused by name
  (``format PSD is not accepted``) before Pillow sees it, and Pillow is then called with
  ``formats=[that one]`` and only the six plugins imported here, so no other plugin's code runs on
  user bytes.

``probe`` is the header check (format, dimensions, every bound; no pixel decoded) and takes bytes or a
seekable binary file (an upload spooled to disk: only the header is read). ``decode`` adds the bounds
that concern the whole file (PNG chunks after the image data, JPEG scans), decodes the first frame,
applies EXIF orientation and normalises modes: CMYK/YCbCr/palette/16-bit/float -> 8-bit RGB, with an
alpha channel kept as RGBA when present. Every refusal is a ``RequestError`` (code 1401) naming the
field and the limit. This module is protocol-neutral core: it knows no HTTP, storage or settings.
"""

from __future__ import annotations

import base64
import io
import struct
import warnings
from dataclasses import dataclass
from typing import IO, cast

import numpy as np
from PIL import (
    BmpImagePlugin,
    GifImagePlugin,
    Image,
    ImageOps,
    JpegImagePlugin,
    PngImagePlugin,
    TiffImagePlugin,
    UnidentifiedImageError,
    WebPImagePlugin,
)

from seqedit.errors import BAD_MEDIA, RequestError

# The explicit plugin list: importing them registers exactly these with Pillow, so ``Image.open`` with
# ``formats=`` never needs ``Image.init()`` (which would import every other plugin) to find one.
PLUGINS = (JpegImagePlugin, PngImagePlugin, WebPImagePlugin, GifImagePlugin, BmpImagePlugin, TiffImagePlugin)

DEFAULT_MAX_BYTES = 30 * 1024 * 1024
DEFAULT_MAX_PIXELS = 40_000_000
JPEG_QUALITY = 92
WEBP_QUALITY = 90

ACCEPTED = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")
"""The formats decoded, as Pillow names them (an MPO, a JPEG with more pictures, counts as JPEG)."""
ACCEPTED_TEXT = "JPEG, PNG, WebP, GIF, BMP or TIFF"

_MIME = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
_EXT = {"jpeg": "jpg", "png": "png", "webp": "webp"}


@dataclass(frozen=True)
class Limits:
    """The structural bounds ``scan`` enforces; each refusal names the one broken. The defaults are far
    above what cameras, phones, browsers and image editors write (a JPEG has tens of markers before
    its first scan, a PNG tens of chunks, a progressive JPEG about ten scans)."""

    header_bytes: int = 8 * 1024 * 1024  # everything Pillow reads to open the file lies within these
    segments: int = 4096  # markers (JPEG), chunks (PNG) or blocks (GIF) before the image data
    chunks: int = 16384  # chunks in the whole file (PNG, WebP); strips or tiles (TIFF)
    scans: int = 64  # JPEG scans (progressive passes, each a pass over every block)
    junk: int = 4096  # bytes of fill or junk between JPEG markers, in all
    tiff_entries: int = 1024  # tags in a TIFF's first directory
    tiff_values: int = 131072  # numbers in a TIFF's first directory (Pillow makes each a Python int)


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class Probe:
    format: str  # Pillow format name, one of ACCEPTED, e.g. "PNG"
    width: int
    height: int

    @property
    def mime(self) -> str:
        return Image.MIME.get(self.format, "application/octet-stream")


Source = bytes | bytearray | memoryview | IO[bytes]
"""Image input: the bytes, or a seekable binary file (only what is needed is read from it)."""


def probe(
    data: Source,
    *,
    field: str = "image",
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    limits: Limits = DEFAULT_LIMITS,
) -> Probe:
    """Header-only check: the format is accepted, the structure within ``limits``, the announced
    dimensions within ``max_pixels``. Cheap whatever the file: no pixel is decoded, and the header
    work is bounded by ``limits``. Raises ``RequestError`` (code 1401) naming ``field``."""
    src = _Reader(data)
    _check_bytes(src.size, field, max_bytes)
    fmt = scan(src, field=field, limits=limits, whole=False)
    im = _open(src, fmt, field, max_pixels)
    try:
        _check_pixels(im.size, field, max_pixels)
        return Probe(fmt, im.width, im.height)
    finally:
        im.close()


def decode(
    data: bytes,
    *,
    field: str = "image",
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    limits: Limits = DEFAULT_LIMITS,
) -> Image.Image:
    """Decode the first frame of ``data`` into an 8-bit RGB or RGBA image, or raise ``RequestError``
    (code 1401). The whole file's structure is bounded first (``scan(whole=True)``)."""
    src = _Reader(data)
    _check_bytes(src.size, field, max_bytes)
    fmt = scan(src, field=field, limits=limits, whole=True)
    im = _open(src, fmt, field, max_pixels)
    _check_pixels(im.size, field, max_pixels)
    try:
        # the first frame, where Image.open leaves it: never ``n_frames``, which walks every frame of a GIF
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im.load()
        im = ImageOps.exif_transpose(im) or im
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise RequestError(
            field, "a complete, valid image file", f"cannot be decoded ({_short(exc)})", code=BAD_MEDIA
        ) from None
    _check_pixels(im.size, field, max_pixels)
    return _normalise(im)


def _check_bytes(size: int, field: str, max_bytes: int) -> None:
    if size > max_bytes:
        raise RequestError(field, f"{max_bytes} bytes", f"is {size} bytes", code=BAD_MEDIA)
    if not size:
        raise RequestError(field, "a non-empty image file", "is empty", code=BAD_MEDIA)


def _open(src: _Reader, fmt: str, field: str, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(src.file(), formats=[fmt])
    except Image.DecompressionBombError as exc:
        raise RequestError(
            field, f"{max_pixels} pixels", f"header announces too many pixels ({_short(exc)})", code=BAD_MEDIA
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, struct.error, EOFError):
        raise RequestError(field, ACCEPTED_TEXT, f"is not a valid {fmt} file", code=BAD_MEDIA) from None
    if (im.format or "") not in ACCEPTED and not (fmt == "JPEG" and im.format == "MPO"):
        im.close()  # cannot happen with formats=[fmt]; kept as the last line of the allow-list
        raise RequestError(field, ACCEPTED_TEXT, f"format {im.format} is not accepted", code=BAD_MEDIA)
    return im


# ------------------------------------------------------------------------------------- the structure scan


class _Reader:
    """Random access to the input, bytes or a seekable file, without copying the bytes."""

    def __init__(self, data: Source) -> None:
        if isinstance(data, bytes | bytearray | memoryview):
            self._bytes: bytes | None = bytes(data) if not isinstance(data, bytes) else data
            self._fp: IO[bytes] | None = None
            self.size = len(self._bytes)
        else:
            self._bytes, self._fp = None, data
            data.seek(0, io.SEEK_END)
            self.size = data.tell()
            data.seek(0)

    def read(self, offset: int, n: int) -> bytes:
        """Up to ``n`` bytes at ``offset`` (fewer at the end of the input)."""
        if offset < 0 or offset >= self.size or n <= 0:
            return b""
        if self._bytes is not None:
            return self._bytes[offset : offset + n]
        assert self._fp is not None
        self._fp.seek(offset)
        return self._fp.read(n)

    def count(self, pattern: bytes, start: int) -> int:
        """How often ``pattern`` occurs from ``start`` on (read in 1 MiB blocks from a file)."""
        if self._bytes is not None:
            return self._bytes.count(pattern, start)
        found, pos, block = 0, start, 1024 * 1024
        while pos < self.size:
            # overlap by len(pattern) - 1: a match straddling two blocks is counted once, in its first
            found += self.read(pos, block + len(pattern) - 1).count(pattern)
            pos += block
        return found

    def file(self) -> IO[bytes]:
        """A file for Pillow; closing it (as ``Image.close`` does) leaves a borrowed file open."""
        if self._bytes is not None:
            return io.BytesIO(self._bytes)
        assert self._fp is not None
        self._fp.seek(0)
        return cast("IO[bytes]", _Borrowed(self._fp))


class _Borrowed(io.RawIOBase):
    """A caller's file lent to Pillow: reads and seeks go through, ``close`` does not."""

    def __init__(self, fp: IO[bytes]) -> None:
        super().__init__()
        self._fp = fp

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        return self._fp.read(n)

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        data = self._fp.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._fp.seek(offset, whence)

    def tell(self) -> int:
        return self._fp.tell()


# magic bytes of formats we name when refusing them (Pillow opens most of them; we never ask it to)
_REFUSED_MAGIC: tuple[tuple[int, bytes, str], ...] = (
    (0, b"8BPS", "PSD"),
    (0, b"SIMPLE  =", "FITS"),
    (0, b"%!PS", "EPS"),
    (0, b"\xc5\xd0\xd3\xc6", "EPS"),
    (0, b"%PDF", "PDF"),
    (0, b"\x00\x00\x01\x00", "ICO"),
    (0, b"\x00\x00\x02\x00", "CUR"),
    (0, b"icns", "ICNS"),
    (0, b"\x00\x00\x00\x0cjP  ", "JPEG2000"),
    (0, b"\xff\x4f\xff\x51", "JPEG2000"),
    (4, b"ftypavif", "AVIF"),
    (4, b"ftypheic", "HEIF"),
    (4, b"ftypheix", "HEIF"),
    (4, b"ftypmif1", "HEIF"),
    (0, b"DDS ", "DDS"),
    (0, b"qoif", "QOI"),
    (0, b"gimp xcf", "XCF"),
    (0, b"\x01\xda", "SGI"),
    (0, b"\x59\xa6\x6a\x95", "SUN"),
    (0, b"\xd0\xcf\x11\xe0", "MIC"),
    (0, b"\xd7\xcd\xc6\x9a", "WMF"),
    (0, b"BLP1", "BLP"),
    (0, b"BLP2", "BLP"),
    (0, b"II+\x00", "BigTIFF"),
    (0, b"MM\x00+", "BigTIFF"),
    (0, b"<svg", "SVG"),
    (0, b"<?xml", "XML"),
)


def identify(head: bytes) -> str | None:
    """The accepted format ``head`` (the first bytes of a file) starts with, or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[:2] == b"BM":
        return "BMP"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF"
    return None


def refused_name(head: bytes) -> str | None:
    """The name of a format we refuse, when ``head`` shows one we know (for the error message)."""
    for offset, magic, name in _REFUSED_MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return name
    if len(head) >= 3 and head[0:1] == b"P" and head[1:2] in b"1234567" and head[2:3].isspace():
        return "PPM"
    return None


def scan(src: _Reader | Source, *, field: str = "image", limits: Limits = DEFAULT_LIMITS, whole: bool = False) -> str:
    """Identify the format from its magic bytes and walk its container structure within ``limits``:
    up to the image data (``whole=False``, what opening costs), or the parts of the whole file
    decoding walks (``whole=True``). Returns the format (one of ``ACCEPTED``); raises ``RequestError``
    naming ``field`` and the limit for anything else. The work is O(``limits``), whatever the file."""
    reader = src if isinstance(src, _Reader) else _Reader(src)
    head = reader.read(0, 64)
    fmt = identify(head)
    if fmt is None:
        name = refused_name(head)
        if name is not None:
            raise RequestError(field, ACCEPTED_TEXT, f"format {name} is not accepted", code=BAD_MEDIA)
        raise RequestError(field, ACCEPTED_TEXT, "is not a recognised image file", code=BAD_MEDIA)
    _Scan(reader, fmt, field, limits, whole).run()
    return fmt


_TIFF_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4, 16: 8, 17: 8, 18: 8}
_TIFF_BLOBS = {1, 2, 6, 7}  # byte-like types: Pillow keeps them as bytes/str, not one int per value
_TIFF_STRIPS = {273, 279, 324, 325}  # StripOffsets, StripByteCounts, TileOffsets, TileByteCounts
_JPEG_STANDALONE = {0x01, *range(0xD0, 0xD8)}  # TEM, RST0-7: markers without a length


class _Scan:
    """One bounded walk of one file's container (see ``scan``)."""

    def __init__(self, src: _Reader, fmt: str, field: str, limits: Limits, whole: bool) -> None:
        self.src, self.fmt, self.field, self.limits, self.whole = src, fmt, field, limits, whole

    def run(self) -> None:
        getattr(self, "_" + self.fmt.lower())()

    def refuse(self, limit: str, message: str) -> RequestError:
        return RequestError(self.field, limit, f"{self.fmt} {message}", code=BAD_MEDIA)

    def truncated(self) -> RequestError:
        return self.refuse("a complete, valid image file", "file ends inside its header")

    def header_bytes(self, pos: int) -> None:
        if pos > self.limits.header_bytes:
            raise self.refuse(
                f"{self.limits.header_bytes} header bytes",
                f"header does not end within the first {self.limits.header_bytes} bytes",
            )

    def segments(self, n: int, what: str) -> None:
        if n > self.limits.segments:
            raise self.refuse(
                f"{self.limits.segments} {what} before the image data",
                f"header has more than {self.limits.segments} {what} before the image data",
            )

    def _jpeg(self) -> None:
        src, lim = self.src, self.limits
        pos, n, junk = 2, 0, 0
        while True:
            self.header_bytes(pos)
            b = src.read(pos, 2)
            if len(b) < 2:
                raise self.truncated()
            if b[0] != 0xFF or b[1] == 0xFF:  # junk, or fill bytes before a marker
                junk += 1
                if junk > lim.junk:
                    raise self.refuse(f"{lim.junk} bytes of junk between markers", "has too much junk between markers")
                pos += 1
                continue
            marker = b[1]
            n += 1
            self.segments(n, "markers")
            if marker in _JPEG_STANDALONE or marker == 0x00:
                pos += 2
                continue
            if marker == 0xD9:
                raise self.refuse("a complete, valid image file", "ends before its image data")
            seg = src.read(pos + 2, 2)
            if len(seg) < 2:
                raise self.truncated()
            length = (seg[0] << 8) | seg[1]
            if length < 2:
                raise self.refuse("a complete, valid image file", f"has a marker of length {length}")
            pos += 2 + length
            if marker == 0xDA:  # SOS: the first scan; Pillow's header parse stops here
                break
        self.header_bytes(pos)
        if pos > src.size:
            raise self.truncated()
        if self.whole:
            scans = 1 + src.count(b"\xff\xda", pos)
            if scans > lim.scans:
                raise self.refuse(f"{lim.scans} scans", f"has {scans} scans")

    def _png(self) -> None:
        src, lim = self.src, self.limits
        pos, n, seen_idat = 8, 0, False
        while True:
            if not seen_idat:
                self.header_bytes(pos)
            head = src.read(pos, 8)
            if len(head) < 8:
                if seen_idat:
                    return  # no IEND: Pillow stops at the end of the data too
                raise self.truncated()
            length, kind = struct.unpack(">I4s", head)
            if n == 0 and kind != b"IHDR":
                raise self.refuse("a complete, valid image file", "does not start with IHDR")
            if length > 0x7FFFFFFF:
                raise self.refuse("a complete, valid image file", f"has a chunk of length {length}")
            n += 1
            if not seen_idat:
                self.segments(n, "chunks")
            if n > lim.chunks:
                raise self.refuse(f"{lim.chunks} chunks", f"has more than {lim.chunks} chunks")
            pos += 12 + length
            if kind == b"IEND":
                return
            if kind == b"IDAT" and not seen_idat:
                seen_idat = True
                if not self.whole:
                    return

    def _gif(self) -> None:
        src = self.src
        lsd = src.read(6, 7)
        if len(lsd) < 7:
            raise self.truncated()
        pos = 13 + (3 << ((lsd[4] & 7) + 1) if lsd[4] & 0x80 else 0)
        n = 0
        while True:
            self.header_bytes(pos)
            b = src.read(pos, 2)
            if not b:
                raise self.truncated()
            if b[0] == 0x2C:  # image descriptor: the first frame starts here
                return
            if b[0] == 0x3B:
                raise self.refuse("a complete, valid image file", "ends before its first frame")
            if b[0] != 0x21 or len(b) < 2:
                raise self.refuse("a complete, valid image file", f"has an unknown block 0x{b[0]:02x}")
            pos += 2
            while True:  # the extension's sub-blocks, each a length byte and its data
                n += 1
                self.segments(n, "blocks")
                size = src.read(pos, 1)
                if not size:
                    raise self.truncated()
                pos += 1 + size[0]
                if size[0] == 0:
                    break
                self.header_bytes(pos)

    def _webp(self) -> None:
        # libwebp (C) parses the RIFF chunks on open; a bound on their number bounds its frame table
        src, lim = self.src, self.limits
        pos, n, end = 12, 0, min(src.size, 8 + struct.unpack("<I", src.read(4, 4))[0])
        while pos + 8 <= end:
            length = struct.unpack("<I", src.read(pos + 4, 4))[0]
            n += 1
            if n > lim.chunks:
                raise self.refuse(f"{lim.chunks} chunks", f"has more than {lim.chunks} chunks")
            pos += 8 + length + (length & 1)
        if n == 0:
            raise self.truncated()

    def _bmp(self) -> None:
        dib = self.src.read(14, 20)
        if len(dib) < 4:
            raise self.truncated()
        if struct.unpack("<I", dib[:4])[0] >= 40 and len(dib) >= 20:
            compression = struct.unpack("<I", dib[16:20])[0]
            if compression in (1, 2):  # RLE8, RLE4: decoded by a Python loop, one run at a time
                kind = "RLE8" if compression == 1 else "RLE4"
                raise self.refuse("BMP without RLE compression", f"compression {kind} is not accepted")

    def _tiff(self) -> None:
        src, lim = self.src, self.limits
        order = "<" if src.read(0, 2) == b"II" else ">"
        first = src.read(4, 4)
        if len(first) < 4:
            raise self.truncated()
        ifd = struct.unpack(order + "I", first)[0]
        raw = src.read(ifd, 2)
        if len(raw) < 2:
            raise self.truncated()
        entries = struct.unpack(order + "H", raw)[0]
        if entries > lim.tiff_entries:
            raise self.refuse(f"{lim.tiff_entries} tags", f"directory has {entries} tags")
        table = src.read(ifd + 2, 12 * entries)
        if len(table) < 12 * entries:
            raise self.truncated()
        values = 0
        for tag, kind, count, _ in struct.iter_unpack(order + "HHII", table):
            if tag in _TIFF_STRIPS and count > lim.chunks:
                raise self.refuse(f"{lim.chunks} strips or tiles", f"has {count} strips or tiles")
            if kind in _TIFF_SIZES and kind not in _TIFF_BLOBS:
                values += count
        if values > lim.tiff_values:
            raise self.refuse(f"{lim.tiff_values} values in a directory", f"directory has {values} values")


def _check_pixels(size: tuple[int, int], field: str, max_pixels: int) -> None:
    w, h = size
    if w <= 0 or h <= 0:
        raise RequestError(field, "positive dimensions", f"has dimensions {w}x{h}", code=BAD_MEDIA)
    if w * h > max_pixels:
        raise RequestError(field, f"{max_pixels} pixels", f"is {w}x{h} = {w * h} pixels", code=BAD_MEDIA)


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
