import base64
import io
import struct
import time
import zlib

import numpy as np
import pytest
from PIL import Image

from seqedit.errors import RequestError
from seqedit.imaging import b64, decode, encode, probe


def _bytes(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def _png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b"")


RGB = Image.fromarray(np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8))


def test_roundtrip_formats():
    for fmt in ("jpeg", "png", "webp"):
        im = decode(encode(RGB, fmt))
        assert im.size == (64, 48) and im.mode == "RGB"


def test_not_an_image():
    with pytest.raises(RequestError) as e:
        decode(b"hello, this is text", field="images[0]")
    assert e.value.field == "images[0]" and e.value.code == 1401 and "not a recognised image" in e.value.message


def test_truncated_jpeg():
    data = _bytes(RGB.resize((256, 256)), "JPEG")
    with pytest.raises(RequestError) as e:
        decode(data[: len(data) // 2], field="images[1]")
    assert e.value.field == "images[1]" and "cannot be decoded" in e.value.message


def test_decompression_bomb_refused_from_header():
    data = _png_header_only(30000, 30000)
    assert len(data) < 200
    with pytest.raises(RequestError) as e:
        decode(data, field="images[0]")
    assert "40000000 pixels" in e.value.limit
    with pytest.raises(RequestError):
        probe(data)


def test_pixel_cap_is_configurable():
    data = _bytes(RGB, "PNG")
    with pytest.raises(RequestError) as e:
        decode(data, max_pixels=1000)
    assert e.value.limit == "1000 pixels"


def test_byte_cap():
    with pytest.raises(RequestError) as e:
        decode(b"x" * 101, max_bytes=100)
    assert e.value.limit == "100 bytes"
    with pytest.raises(RequestError):
        decode(b"")


def test_exif_orientation_applied():
    im = Image.new("RGB", (40, 20), (255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° CW on display
    out = decode(_bytes(im, "JPEG", exif=exif.tobytes()))
    assert out.size == (20, 40)


def test_modes_normalised():
    cmyk = decode(_bytes(Image.new("CMYK", (8, 8), (0, 255, 255, 0)), "JPEG"))
    assert cmyk.mode == "RGB" and cmyk.getpixel((4, 4))[0] > 200 and cmyk.getpixel((4, 4))[1] < 60
    pal = Image.new("P", (8, 8), 1)
    pal.putpalette([0, 0, 0, 0, 255, 0] + [0] * 762)
    assert decode(_bytes(pal, "PNG")).getpixel((0, 0)) == (0, 255, 0)
    pal.info["transparency"] = 1
    assert decode(_bytes(pal, "PNG", transparency=1)).mode == "RGBA"
    deep = Image.fromarray(np.linspace(0, 65535, 64, dtype=np.uint16).reshape(8, 8))
    d = decode(_bytes(deep, "PNG"))
    assert d.mode == "RGB" and d.getpixel((0, 0)) == (0, 0, 0) and d.getpixel((7, 7)) == (255, 255, 255)
    opaque = decode(_bytes(Image.new("RGBA", (8, 8), (1, 2, 3, 255)), "PNG"))
    assert opaque.mode == "RGB"
    la = decode(_bytes(Image.new("LA", (8, 8), (100, 50)), "PNG"))
    assert la.mode == "RGBA"


def test_animated_first_frame():
    frames = [Image.new("RGB", (16, 16), c) for c in ((255, 0, 0), (0, 0, 255))]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:])
    out = decode(buf.getvalue())
    assert out.getpixel((8, 8))[0] > 200


def test_encode_is_deterministic_and_b64_is_naked():
    a, b = encode(RGB, "jpeg"), encode(RGB, "jpeg")
    assert a == b and a[:2] == b"\xff\xd8"
    s = b64(a)
    assert not s.startswith("data:") and base64.b64decode(s) == a


# ------------------------------------------------------------------ the format allow-list (W6)


def _psd(width: int = 4, height: int = 4) -> bytes:
    """A minimal RGB Photoshop file: header, empty colour-mode/resources/layers, raw planes."""
    header = b"8BPS" + struct.pack(">H6xHIIHH", 1, 3, height, width, 8, 3)
    return header + struct.pack(">III", 0, 0, 0) + struct.pack(">H", 0) + b"\x80" * (3 * width * height)


def _fits(width: int = 4, height: int = 4) -> bytes:
    cards = ["SIMPLE  =                    T", "BITPIX  =                    8", "NAXIS   =                    2"]
    cards += [f"NAXIS1  = {width:20d}", f"NAXIS2  = {height:20d}", "END"]
    header = "".join(c.ljust(80) for c in cards).ljust(2880).encode("ascii")
    return header + (b"\x40" * (width * height)).ljust(2880, b"\0")


EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 4 4\n%%EndComments\nshowpage\n"
DOS_EPS = b"\xc5\xd0\xd3\xc6" + struct.pack("<IIIIIIH", 30, len(EPS), 0, 0, 0, 0, 0xFFFF) + EPS


@pytest.mark.parametrize(
    ("data", "name"), [(_psd(), "PSD"), (_fits(), "FITS"), (EPS, "EPS"), (DOS_EPS, "EPS"), (b"%PDF-1.4\n", "PDF")]
)
def test_other_formats_pillow_opens_are_refused_by_name(data, name, monkeypatch):
    if name in ("PSD", "FITS", "EPS"):  # the vulnerability: Pillow itself would open these
        assert Image.open(io.BytesIO(data)).format == name
    # and none of Pillow's other plugins may even look at the bytes
    from PIL import EpsImagePlugin, FitsImagePlugin, PsdImagePlugin

    for plugin, cls in (
        (EpsImagePlugin, "EpsImageFile"),
        (PsdImagePlugin, "PsdImageFile"),
        (FitsImagePlugin, "FitsImageFile"),
    ):
        monkeypatch.setattr(getattr(plugin, cls), "_open", lambda self: pytest.fail("another plugin ran"))
    for call in (probe, decode):
        with pytest.raises(RequestError) as e:
            call(data, field="images[3]")
        assert str(e.value).startswith(f"images[3]: format {name} is not accepted")
        assert e.value.limit == "JPEG, PNG, WebP, GIF, BMP or TIFF" and e.value.code == 1401


def test_the_six_formats_are_probed_and_decoded():
    for fmt, pil in (
        ("jpeg", "JPEG"),
        ("png", "PNG"),
        ("webp", "WEBP"),
        ("gif", "GIF"),
        ("bmp", "BMP"),
        ("tiff", "TIFF"),
    ):
        data = _bytes(RGB, pil)
        p = probe(data, field="file")
        assert (p.format, p.width, p.height) == (pil, 64, 48), fmt
        assert decode(data).size == (64, 48)
        assert p.mime.startswith("image/")


def test_mpo_counts_as_jpeg():
    buf = io.BytesIO()
    RGB.save(buf, "MPO", save_all=True, append_images=[RGB])
    assert probe(buf.getvalue()).format == "JPEG" and decode(buf.getvalue()).size == (64, 48)


def test_probe_reads_only_the_header_of_a_file(tmp_path):
    """An upload spooled to disk: the probe reads the header, not the 5 MB of pixels."""
    path = tmp_path / "big.png"
    noise = np.random.default_rng(1).integers(0, 255, (1200, 1400, 3), dtype=np.uint8)
    Image.fromarray(noise).save(path, "PNG", compress_level=0)
    assert path.stat().st_size > 5_000_000

    class Counting(io.FileIO):
        read_bytes = 0

        def read(self, n=-1):
            data = super().read(n)
            Counting.read_bytes += len(data)
            return data

    with Counting(path, "rb") as f:
        assert probe(f).format == "PNG"
        assert not f.closed and f.seek(0) == 0  # the caller's file stays usable
    assert Counting.read_bytes < 100_000


# ------------------------------------------------------------------ header bombs (V3): bounded, never a stall


def _jpeg_with_app_markers(n: int, payload: int = 0) -> bytes:
    base = _bytes(Image.new("RGB", (8, 8)), "JPEG")
    return base[:2] + (b"\xff\xe5" + struct.pack(">H", 2 + payload) + b"\0" * payload) * n + base[2:]


def _png_with_chunks(n: int, *, after_idat: bool = False) -> bytes:
    base = _bytes(Image.new("RGB", (8, 8)), "PNG")
    empty = struct.pack(">I", 0) + b"zzZz" + struct.pack(">I", zlib.crc32(b"zzZz"))
    return base[:-12] + empty * n + base[-12:] if after_idat else base[:33] + empty * n + base[33:]


def _timed(call, *args, **kw):
    t = time.perf_counter()
    try:
        call(*args, **kw)
        return None, time.perf_counter() - t
    except RequestError as exc:
        return exc, time.perf_counter() - t


def test_app_marker_jpeg_and_chunk_bomb_png_are_refused_at_once():
    """The attack files (30 MB: 7.6 M empty APP markers; 2.5 M empty chunks) took Pillow 9-17 s and
    +1 GB to open; the scan refuses them after 4096 markers."""
    for data, what in ((_jpeg_with_app_markers(7_600_000), "markers"), (_png_with_chunks(2_500_000), "chunks")):
        for call in (probe, decode):
            exc, seconds = _timed(call, data, field="images[0]", max_bytes=len(data))
            assert exc is not None and exc.field == "images[0]" and exc.limit == f"4096 {what} before the image data"
            assert seconds < 0.2, seconds


def test_worst_case_within_the_limits_is_still_cheap():
    for data in (_jpeg_with_app_markers(4000), _jpeg_with_app_markers(4000, 2000), _png_with_chunks(4000)):
        exc, seconds = _timed(probe, data)
        assert exc is None and seconds < 0.5, seconds


def test_chunks_after_the_image_data_are_bounded_when_decoding():
    data = _png_with_chunks(2_500_000, after_idat=True)
    exc, seconds = _timed(decode, data, max_bytes=len(data))
    assert exc is not None and exc.limit == "16384 chunks" and seconds < 0.2
    assert decode(_png_with_chunks(1000, after_idat=True)).size == (8, 8)


def test_header_byte_limit():
    data = _jpeg_with_app_markers(200, 65000)  # 13 MB of APP segments before the frame
    exc, _ = _timed(probe, data, max_bytes=len(data))
    assert exc is not None and exc.limit == f"{8 * 1024 * 1024} header bytes"


def test_gif_sub_block_bomb():
    base = _bytes(Image.new("RGB", (8, 8)), "GIF")
    start = 13 + (3 << ((base[10] & 7) + 1) if base[10] & 0x80 else 0)
    bomb = base[:start] + b"\x21\xfe" + b"\x01A" * 1_000_000 + b"\x00" + base[start:]
    exc, seconds = _timed(probe, bomb, max_bytes=len(bomb))
    assert exc is not None and exc.limit == "4096 blocks before the image data" and seconds < 0.2
    ok = base[:start] + b"\x21\xfe" + b"\x01A" * 100 + b"\x00" + base[start:]
    assert probe(ok).format == "GIF"


def test_many_frames_are_not_walked():
    """decode takes the first frame where Image.open leaves it: a GIF of many frames is not walked."""
    frames = [Image.new("RGB", (4, 4), (i, 0, 0)) for i in range(300)]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:])
    assert decode(buf.getvalue()).size == (4, 4)


def test_jpeg_scan_limit():
    prog = _bytes(RGB, "JPEG", progressive=True)
    assert decode(prog).size == (64, 48)
    sos = prog.index(b"\xff\xda")
    many = prog[:-2] + prog[sos:-2] * 70 + b"\xff\xd9"  # 70 extra copies of the scans
    exc, _ = _timed(decode, many)
    assert exc is not None and exc.limit == "64 scans"


def _tiff_strips(height: int) -> bytes:
    """An uncompressed 1 x ``height`` grey TIFF with one row per strip (``height`` strips)."""
    entries = 8
    offsets_at = 8 + 2 + 12 * entries + 4
    counts_at = offsets_at + 4 * height
    pixels_at = counts_at + 4 * height

    def entry(tag: int, kind: int, count: int, value: int) -> bytes:
        return struct.pack("<HHII", tag, kind, count, value)

    ifd = struct.pack("<H", entries) + b"".join(
        (
            entry(256, 4, 1, 1),
            entry(257, 4, 1, height),
            entry(258, 3, 1, 8),
            entry(259, 3, 1, 1),
            entry(262, 3, 1, 1),
            entry(273, 4, height, offsets_at),
            entry(278, 4, 1, 1),
            entry(279, 4, height, counts_at),
        )
    )
    offsets = struct.pack(f"<{height}I", *range(pixels_at, pixels_at + height))
    counts = struct.pack(f"<{height}I", *([1] * height))
    return b"II*\x00" + struct.pack("<I", 8) + ifd + b"\0\0\0\0" + offsets + counts + b"\x80" * height


def test_tiff_strip_limit():
    exc, seconds = _timed(probe, _tiff_strips(20000))
    assert exc is not None and exc.limit == "16384 strips or tiles" and seconds < 0.2
    assert decode(_tiff_strips(2000)).size == (1, 2000)


def test_bmp_rle_is_refused():
    data = bytearray(_bytes(Image.new("P", (8, 8)), "BMP"))
    data[30:34] = struct.pack("<I", 1)  # BI_RLE8
    exc, _ = _timed(probe, bytes(data))
    assert exc is not None and "RLE8 is not accepted" in exc.message


def test_limits_are_configurable():
    from seqedit.imaging import Limits

    data = _jpeg_with_app_markers(20)
    assert probe(data).format == "JPEG"
    exc, _ = _timed(probe, data, limits=Limits(segments=10))
    assert exc is not None and exc.limit == "10 markers before the image data"


def test_junk_between_markers_is_bounded():
    base = _bytes(Image.new("RGB", (8, 8)), "JPEG")
    exc, _ = _timed(probe, base[:2] + b"\xff" * 1_000_000 + base[2:])
    assert exc is not None and "junk" in exc.limit
