"""Every example in README.md and docs/*.md runs as written, on the default (classic) engine.

The fenced blocks of those files are read in order. Blocks tagged ``bash``/``sh``/``shell`` run in
bash (``set -euo pipefail``), ``python`` in this venv's interpreter, ``js``/``javascript`` in Node.js;
every other tag (``text``, ``json``, …) is not an example, and a fence without a tag is an error (an
untagged command would escape the test). A block runs in a folder of its own file (blocks of one file
share it, in order, as a reader's shell would) that holds the repository's ``examples/`` and ``.venv``
(this venv), with this venv's ``bin`` first on ``PATH`` and ``SEQEDIT_API_KEY`` set to the key the
server printed. It passes when it exits 0 and prints no traceback.

An HTML comment on the line before a fence says more (``<!-- docs-test: WORD … -->``):

* ``skip (reason)``: not run (it needs a GPU, the network, or it is a synopsis); counted and printed
  with its reason, and reported by pytest as a skip.
* ``serve``: the block's command is the ``seqedit serve`` that the other blocks talk to. The test
  starts it (there must be exactly one), waits until it answers and reads the key it printed.
* ``creates PATH …``: files the block must leave behind.

The documented commands use the documented port, so two substitutions are made and nothing else:
``127.0.0.1:8000``/``localhost:8000`` become the server's free port (``--port 8000`` likewise), and a
leading ``bash scripts/install &&`` is dropped: that step made the environment this test runs in
(``scripts/test`` runs it before pytest), and the rest of the command runs as written.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
RUNNERS = {"bash": "shell", "sh": "shell", "shell": "shell", "python": "python", "js": "node", "javascript": "node"}
BLOCK_SECONDS = 300  # one block, at most (the slowest renders a few sets on the classic engine)
SERVE_SECONDS = 60  # the documented serve command must answer /healthz within this
FENCE = re.compile(r"^```\s*([\w+-]*)\s*$")
MARKER = re.compile(r"^<!--\s*docs-test:\s*(\w+)\s*(.*?)\s*-->$")
KEY_LINE = re.compile(r"Created the first API key \(shown once; store it now\): (sk_\S+)")
INSTALL = "bash scripts/install && "
NODE_MODULES = Path(sys.prefix) / "js" / "node_modules"  # where scripts/install can put the npm SDK


@dataclass(frozen=True)
class Block:
    file: Path
    line: int  # of the opening fence, 1-based
    lang: str
    code: str
    marker: str = ""  # skip | serve | creates | ""
    argument: str = ""

    @property
    def name(self) -> str:
        return f"{self.file.relative_to(ROOT)}:{self.line}"

    @property
    def runner(self) -> str | None:
        return RUNNERS.get(self.lang)

    @property
    def reason(self) -> str:
        return self.argument.strip()[1:-1] if self.argument.strip().startswith("(") else self.argument.strip()


def read_blocks(path: Path) -> list[Block]:
    """The fenced blocks of a markdown file, each with the docs-test marker on the line before it."""
    lines = path.read_text().splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        start = i
        end = next((j for j in range(i + 1, len(lines)) if lines[j].strip() == "```"), None)
        assert end is not None, f"{path.name}:{start + 1}: the fence is never closed"
        before = next((lines[j].strip() for j in range(start - 1, -1, -1) if lines[j].strip()), "")
        marker = MARKER.match(before)
        blocks.append(
            Block(
                file=path,
                line=start + 1,
                lang=m.group(1).lower(),
                code="\n".join(lines[start + 1 : end]) + "\n",
                marker=marker.group(1) if marker else "",
                argument=marker.group(2) if marker else "",
            )
        )
        i = end + 1
    return blocks


BLOCKS = [b for f in FILES for b in read_blocks(f)]
EXAMPLES = [b for b in BLOCKS if b.runner is not None]


def substitute(code: str, port: int) -> str:
    code = re.sub(r"\b(127\.0\.0\.1|localhost):8000\b", f"127.0.0.1:{port}", code)
    code = re.sub(r"--port[ =]8000\b", f"--port {port}", code)
    return "\n".join(line[len(INSTALL) :] if line.startswith(INSTALL) else line for line in code.splitlines()) + "\n"


def node_path() -> str | None:
    """Where the ``wavespeed`` npm package is: ``$NODE_PATH`` entries, ``<venv>/js/node_modules`` or
    the repository's ``node_modules``; None when it is in none of them."""
    candidates = [p for p in os.environ.get("NODE_PATH", "").split(os.pathsep) if p]
    candidates += [str(NODE_MODULES), str(ROOT / "node_modules")]
    found = [c for c in candidates if (Path(c) / "wavespeed" / "package.json").is_file()]
    return os.pathsep.join(found) if found else None


def environment(key: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SEQEDIT_", "WAVESPEED_"))}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.update(SEQEDIT_API_KEY=key, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", NO_COLOR="1")
    modules = node_path()
    if modules:
        env["NODE_PATH"] = modules
    return env


# ---------------------------------------------------------------------- the folders and the server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[Path, Path]:
    """One working folder per markdown file, each holding ``examples/``, ``scripts/`` and ``.venv``."""
    root = tmp_path_factory.mktemp("docs-examples")
    out: dict[Path, Path] = {}
    for f in FILES:
        d = root / f.stem
        d.mkdir()
        (d / "examples").symlink_to(ROOT / "examples", target_is_directory=True)
        (d / "scripts").symlink_to(ROOT / "scripts", target_is_directory=True)
        (d / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
        out[f] = d
    return out


@dataclass
class Served:
    block: Block
    url: str
    key: str
    log: Path


@pytest.fixture(scope="module")
def server(folders):
    """The documented ``seqedit serve`` block, started as written (on a free port) in its file's folder."""
    serves = [b for b in BLOCKS if b.marker == "serve"]
    assert len(serves) == 1, f"exactly one block is marked serve, found {[b.name for b in serves]}"
    block = serves[0]
    port = free_port()
    commands = [line for line in substitute(block.code, port).splitlines() if line.strip() and not line.startswith("#")]
    assert len(commands) == 1 and " serve" in commands[0], f"{block.name}: the serve block is one command"
    cwd = folders[block.file]
    log = cwd / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            ["bash", "-c", "exec " + commands[0]],
            cwd=cwd,
            env=environment(""),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVE_SECONDS
        while True:
            assert proc.poll() is None, f"{block.name} exited {proc.returncode}:\n{log.read_text()}"
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"{block.name} did not answer:\n{log.read_text()}"
            time.sleep(0.1)
        key = KEY_LINE.search(log.read_text())
        assert key, f"{block.name} printed no key:\n{log.read_text()}"
        yield Served(block, url, key.group(1), log)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


# ---------------------------------------------------------------------- the tests


def test_blocks_markers_and_substitutions_are_read_as_documented(tmp_path):
    md = tmp_path / "x.md"
    md.write_text(
        "intro\n\n<!-- docs-test: skip (needs a GPU) -->\n```bash\nnvidia-smi\n```\n"
        "text\n```python\nprint(1)\n```\n<!-- docs-test: creates out/a out/b -->\n\n```sh\ntouch out\n```\n"
        "```json\n{}\n```\n"
    )
    gpu, py, sh, js = read_blocks(md)
    assert (gpu.line, gpu.lang, gpu.marker, gpu.reason, gpu.code) == (4, "bash", "skip", "needs a GPU", "nvidia-smi\n")
    assert (py.runner, py.marker, sh.marker, sh.argument.split()) == ("python", "", "creates", ["out/a", "out/b"])
    assert js.lang == "json" and js.runner is None
    md.write_text("```bash\nls\n")
    with pytest.raises(AssertionError, match="never closed"):
        read_blocks(md)
    code = "bash scripts/install && seqedit serve --port 8000\ncurl http://127.0.0.1:8000/x localhost:8000 :80001\n"
    assert substitute(code, 4321) == "seqedit serve --port 4321\ncurl http://127.0.0.1:4321/x 127.0.0.1:4321 :80001\n"


def test_every_fence_is_tagged_and_every_marker_is_known():
    for b in BLOCKS:
        assert b.lang, f"{b.name}: a fence without a language (tag it: bash, python, js, text, …)"
        assert b.marker in ("", "skip", "serve", "creates"), f"{b.name}: unknown docs-test marker {b.marker!r}"
        if b.marker == "skip":
            assert b.argument.startswith("(") and b.reason, f"{b.name}: a skip says why: skip (reason)"
        if b.marker:
            assert b.runner is not None, f"{b.name}: a docs-test marker on a {b.lang!r} block, which never runs"


def why_not(block: Block) -> str | None:
    """Why ``block`` is not run here (its skip marker, or no Node.js / npm SDK for a JS block), else None."""
    if block.marker == "skip":
        return block.reason
    if block.runner == "node" and shutil.which("node") is None:
        return "node is not installed"
    if block.runner == "node" and node_path() is None:
        return (
            f"the wavespeed npm package is not installed (npm install --prefix {NODE_MODULES.parent} wavespeed@0.3.2)"
        )
    return None


def test_count_and_print_the_examples(capsys):
    """How many examples run and which are skipped, and why (printed; see also pytest's skip summary)."""
    skipped = [(b, why_not(b)) for b in EXAMPLES if why_not(b) is not None]
    lines = [f"docs examples: {len(EXAMPLES) - len(skipped)} run, {len(skipped)} skipped"]
    lines += [f"  skipped {b.name} ({b.lang}): {reason}" for b, reason in skipped]
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    assert len([b for b in EXAMPLES if b.marker != "skip"]) >= 8, lines
    assert any(b.file.name == "js-sdk.md" and b.runner == "node" and not b.marker for b in EXAMPLES)


@pytest.mark.parametrize("block", EXAMPLES, ids=[b.name for b in EXAMPLES])
def test_example_runs_as_written(block: Block, server: Served, folders):
    reason = why_not(block)
    if reason is not None:
        pytest.skip(f"{block.name}: {reason}")
    if block.marker == "serve":  # it is running: the fixture started it from this very block
        assert server.block == block and "seqedit serving on" in server.log.read_text()
        return
    cwd = folders[block.file]
    code = substitute(block.code, int(server.url.rsplit(":", 1)[1]))
    suffix = {"shell": "sh", "python": "py", "node": "js"}[block.runner]
    script = cwd / f"block-{block.line}.{suffix}"
    script.write_text(code)
    command = {
        "shell": ["bash", "-euo", "pipefail", str(script)],
        "python": [sys.executable, str(script)],
        "node": ["node", str(script)],
    }[block.runner]
    done = subprocess.run(
        command, cwd=cwd, env=environment(server.key), capture_output=True, text=True, timeout=BLOCK_SECONDS
    )
    shown = (
        f"{block.name} exited {done.returncode}\n--- code\n{code}"
        f"--- stdout\n{done.stdout[-3000:]}--- stderr\n{done.stderr[-3000:]}"
    )
    assert done.returncode == 0, shown
    assert "Traceback (most recent call last)" not in done.stderr, shown
    if block.marker == "creates":
        missing = [p for p in block.argument.split() if not (cwd / p).exists()]
        assert not missing, f"{block.name} did not create {missing}\n{shown}"


def test_the_server_logged_no_traceback_while_the_examples_ran(server: Served):
    """Runs after the examples (pytest keeps file order): a 500 or a crashed job behind an example that
    still exited 0 is a failure too (the server logs both with their traceback)."""
    log = server.log.read_text()
    assert "Traceback (most recent call last)" not in log and " ERROR " not in log, log[-4000:]
