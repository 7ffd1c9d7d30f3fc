"""The SDK and CLI-client examples of the README ("Python SDK", "The command line"), read from it and run as written
against a real server: only the server's address and key are substituted, as a reader would."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from PIL import Image

from fixtures.server import SEQEDIT

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

README = Path(__file__).resolve().parents[2] / "README.md"


def _block(first_line: str, lang: str) -> str:
    """The README's fenced ``lang`` block that starts with ``first_line`` (the docs are the source)."""
    for m in re.finditer(rf"```{lang}\n(.*?)```", README.read_text(), re.S):
        if m.group(1).startswith(first_line):
            return m.group(1)
    raise AssertionError(f"README has no {lang} block starting with {first_line!r}")


SDK_EXAMPLE = _block("from seqedit import Client\n\nclient = Client(", "python")
ASYNC_EXAMPLE = _block("import asyncio", "python")
ERRORS_EXAMPLE = _block("from seqedit import Client\nfrom seqedit.sdk import", "python")
CLI_EXAMPLE = _block("export SEQEDIT_API_KEY=", "bash")


def _workdir(tmp_path: Path) -> Path:
    (tmp_path / "examples").mkdir()
    shutil.copy(EXAMPLES / "astronaut.jpg", tmp_path / "examples" / "astronaut.jpg")
    return tmp_path


def _as_reader(text: str, server) -> str:
    return text.replace("http://127.0.0.1:8000", server.url).replace("sk_…", server.key)


def _python(text: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", text], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_the_sdk_example(server, tmp_path):
    cwd = _workdir(tmp_path)
    r = _python(_as_reader(SDK_EXAMPLE, server), cwd)
    assert r.returncode == 0, r.stderr
    assert "[(1024, 1024), (1024, 1024), (1024, 1024)]" in r.stdout
    assert "1 in black and white look supported" in r.stdout
    assert sorted(p.name for p in (cwd / "out").iterdir()) == ["1.jpg", "2.jpg", "3.jpg", "set.json"]


def test_the_async_example(server, tmp_path):
    r = _python(_as_reader(ASYNC_EXAMPLE, server), _workdir(tmp_path))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().endswith("(512, 512)")


def test_the_errors_example(server, tmp_path):
    r = _python(_as_reader(ERRORS_EXAMPLE, server), _workdir(tmp_path))
    assert r.returncode == 0, r.stderr
    assert (
        "refused: add a dragon flying over her" in r.stdout and "400 size size: width 7 is outside 64-8192" in r.stdout
    )


def test_the_cli_example(server, tmp_path):
    """The commands run as one shell script, as a reader pastes them; each command's exit code is recorded."""
    cwd = _workdir(tmp_path)
    script = _as_reader(CLI_EXAMPLE, server).replace("seqedit ", f"{SEQEDIT} ")
    lines = []
    for line in script.splitlines():
        line = line.split("  # ")[0]  # a reader's comment
        lines.append(line if line.endswith("\\") or line.startswith("export") else line + ' ; echo "rc=$?"')
    env = {**os.environ, "COLUMNS": "200"}
    r = subprocess.run(["bash", "-c", "\n".join(lines)], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    codes = [line for line in r.stdout.splitlines() if line.startswith("rc=")]
    assert codes == ["rc=3", "rc=0", "rc=0"], r.stdout + r.stderr
    assert "dragon" in r.stderr
    assert Image.open(cwd / "out" / "3.jpg").size == (1024, 1024)
    assert "completed" in r.stdout
