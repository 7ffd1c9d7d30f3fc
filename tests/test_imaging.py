import base64
import io
import struct
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
