"""The peer's side of ``bench/peers.py``: a Cog predictor doing the same trivial job as seqedit's
``bench-solid`` engine — it takes a reference image and returns a 64×64 PNG at once.

Async, so Cog (coglet) runs up to ``COG_MAX_CONCURRENCY`` predictions at a time in one worker (the
``concurrency: max`` of cog.yaml; ``cog build`` turns that into the variable). The PNG is built with
``zlib`` (no Pillow in the peer's venv) once in ``setup``; each prediction writes it to a fresh file in
``PEER_OUT_DIR`` (Cog leaves output files where the predictor put them), which Cog returns inline as a
data URI (no upload URL given). The reference must arrive as a non-empty file, or the prediction
fails (so the bench knows Cog decoded the data URI).
"""

from __future__ import annotations

import os
import struct
import tempfile
import zlib

from cog import BasePredictor, Path

OUT = os.environ.get("PEER_OUT_DIR")  # bench/peers.py points it into its temporary directory


def solid_png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


class Predictor(BasePredictor):
    def setup(self) -> None:
        self.png = solid_png(64, 64, (0, 80, 160))

    async def predict(self, image: Path, prompt: str = "one") -> Path:
        if not image.stat().st_size:  # the reference arrived as a file (Cog decoded the data URI)
            raise ValueError("empty reference")
        with tempfile.NamedTemporaryFile(suffix=".png", dir=OUT, delete=False) as f:
            f.write(self.png)
        return Path(f.name)
