"""The SDK and CLI-client examples of the docs (README "Python SDK" and "On a server"), run as written
against a real server: only the server's address and key are substituted, as a reader would."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from PIL import Image

from fixtures.server import SEQEDIT

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

SDK_EXAMPLE = """\
from seqedit import Client

client = Client("http://127.0.0.1:8000", "sk_…")  # or leave the key out and set SEQEDIT_API_KEY
prompt = "three versions of this photo: 1. in black and white 2. in warm sunset light 3. as a pencil sketch"

plan = client.plan({"prompt": prompt, "images": ["examples/astronaut.jpg"], "max_images": 3})  # no task
for v in plan.verdicts:
    print(v.panel, v.clause, v.operation, v.verdict, v.note)

result = client.edit(["examples/astronaut.jpg"], prompt, 3, size="1024*1024")
result.save("out")  # out/1.jpg … out/3.jpg and out/set.json
print(result.id, result.seed, result.warnings)
print([im.size for im in result.images], result.urls[0])
"""

ASYNC_EXAMPLE = """\
import asyncio

from seqedit import AsyncClient


async def main():
    async with AsyncClient("http://127.0.0.1:8000", "sk_…") as client:
        result = await client.edit(["examples/astronaut.jpg"], "in black and white", 1, size="512*512")
        print(result.id, result.images[0].size)


asyncio.run(main())
"""

ERRORS_EXAMPLE = """\
from seqedit import Client
from seqedit.sdk import ApiError, Refused

client = Client("http://127.0.0.1:8000", "sk_…")
try:
    client.edit(["examples/astronaut.jpg"], "add a dragon flying over her", 2)
except Refused as exc:  # before any task was created: the plan said no
    print("refused:", exc.clause, "-", exc)
try:
    client.edit(["examples/astronaut.jpg"], "in black and white", 1, size="7*7")
except ApiError as exc:  # 400: nothing was created
    print(exc.status, exc.field, exc.message)
"""

CLI_EXAMPLE = """\
export SEQEDIT_API_KEY=sk_…
seqedit plan examples/astronaut.jpg -p "add a dragon flying over her" --server http://127.0.0.1:8000  # exit 3
seqedit edit examples/astronaut.jpg --server http://127.0.0.1:8000 --size 1024*1024 -o out \\
  -p "three versions of this photo: 1. in black and white 2. in warm sunset light 3. as a pencil sketch"
seqedit history --server http://127.0.0.1:8000
"""


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
