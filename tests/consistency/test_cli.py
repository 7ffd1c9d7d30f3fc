"""``seqedit edit`` (a subprocess, this checkout's code): the summary prints the figures, set.json carries them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from seqedit.consistency import faces

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(faces.missing() is not None, reason="the consistency extra is not installed")


def test_seqedit_edit_prints_the_figures_and_writes_them_to_set_json(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT / "tests")]), "COLUMNS": "160"}
    prompt = "a series of 3 images: 1. warm grade 2. black and white 3. cool blue tint"
    args = ["edit", str(ROOT / "examples" / "astronaut.jpg"), "-p", prompt, "-o", str(tmp_path / "out")]
    done = subprocess.run(
        [sys.executable, "-m", "seqedit", *args, "--size", "256*256", "--seed", "3"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    table = done.stdout[done.stdout.index("consistency") :]
    assert "identity" in table and "structure" in table and "re-renders" in table, done.stdout
    assert "✓" in table and "(≤0.6)" in table
    assert "product: n/a (the instruction names no product or logo)" in done.stdout
    record = json.loads((tmp_path / "out" / "set.json").read_text())
    report = record["consistency"]
    assert report["guard"] is False and report["retries"] == [] and report["warnings"] == []
    assert [p["index"] for p in report["panels"]] == [1, 2, 3]
    for p in report["panels"]:
        figure = p["figures"]["identity"]
        assert figure["passed"] is True and figure["value"] < figure["threshold"] == 0.6
        assert p["figures"]["palette"] == {
            "value": None,
            "threshold": 0.5,
            "better": "lower",
            "passed": None,
            "reason": "panel 1 is the set's palette"
            if p["index"] == 1
            else f"panel {p['index']} changes colour or style on purpose",
        }
