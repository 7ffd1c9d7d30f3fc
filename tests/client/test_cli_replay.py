"""``seqedit edit --replay SET_JSON`` with the classic engine, run as a user runs it (the console script in
a subprocess importing this checkout), and the replay's pieces (``client.cli_replay``) in-process."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

import seqedit
from seqedit.client import cli_replay
from seqedit.errors import RequestError

ROOT = Path(__file__).resolve().parents[2]
SNEAKER = ROOT / "examples" / "sneaker.png"
SRC = Path(seqedit.__file__).resolve().parents[1]
SEQEDIT = shutil.which("seqedit", path=str(Path(sys.executable).parent)) or "seqedit"
PROMPT = "this sneaker in 3 colourways: red, navy, white"


def run(*args: object, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "PYTHONPATH": str(SRC), **env}
    return subprocess.run([SEQEDIT, *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """One classic set: the reference copied into a folder of its own, the set written by ``seqedit edit``."""
    root = tmp_path_factory.mktemp("made")
    (root / "refs").mkdir()
    ref = root / "refs" / "sneaker.png"
    shutil.copy(SNEAKER, ref)
    r = run("edit", "refs/sneaker.png", "-p", PROMPT, "--size", "256*192", "-o", "set", "-q", cwd=root)
    assert r.returncode == 0, r.stderr
    return root


def test_set_json_records_provenance_and_each_references_hash(made):
    record = json.loads((made / "set" / "set.json").read_text())
    assert record["references"] == [
        {
            "path": "refs/sneaker.png",
            "absolute": str((made / "refs" / "sneaker.png").resolve()),
            "bytes": SNEAKER.stat().st_size,
            "sha256": hashlib.sha256(SNEAKER.read_bytes()).hexdigest(),
        }
    ]
    p = record["provenance"]
    assert p["engine"] == "classic" and p["seqedit"] == seqedit.__version__ and p["pillow"]
    assert p["work_pixels"] == record["engine_options"]["work_pixels"]
    assert isinstance(p["ops_version"], int) and p["operations"].split()[1].startswith("sha256:")
    assert set(p["versions"]) == {"numpy", "opencv"}


def test_replay_reproduces_a_classic_set_byte_for_byte(made, tmp_path):
    # from another folder: the recorded relative path does not resolve there, the absolute one does
    r = run("edit", "--replay", made / "set" / "set.json", "-o", tmp_path / "again", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "all 3 panel(s) match" in r.stdout
    for k in (1, 2, 3):
        assert (tmp_path / "again" / f"{k}.jpg").read_bytes() == (made / "set" / f"{k}.jpg").read_bytes()
    replayed = json.loads((tmp_path / "again" / "set.json").read_text())
    assert replayed["replay"]["matches"] is True and replayed["replay"]["overrides"] == []
    assert [p["recorded"] for p in replayed["replay"]["panels"]] == [
        p["replayed"] for p in replayed["replay"]["panels"]
    ]


def test_replay_writes_beside_the_set_by_default_and_never_over_it(made):
    r = run("edit", "--replay", "set/set.json", "-q", cwd=made)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (made / "set-replay").glob("*.jpg")) == ["1.jpg", "2.jpg", "3.jpg"]
    r = run("edit", "--replay", "set/set.json", "-o", "set", "-q", cwd=made)
    assert r.returncode == 2 and "holds the set being replayed" in r.stderr


def test_a_changed_reference_is_refused_by_name_and_a_moved_one_found(made, tmp_path):
    work = tmp_path / "work"
    shutil.copytree(made, work)
    shutil.rmtree(work / "set-replay", ignore_errors=True)
    (made / "refs" / "sneaker.png").rename(made / "refs" / "kept.png")  # the absolute path must not rescue it
    try:
        with Image.open(work / "refs" / "sneaker.png") as im:
            changed = im.convert("RGB")
        changed.putpixel((0, 0), (1, 2, 3))
        changed.save(work / "refs" / "sneaker.png")
        r = run("edit", "--replay", "set/set.json", "-o", "again", cwd=work)
        assert r.returncode == 2, r.stderr
        assert "images[0]" in r.stderr and "sneaker.png changed since the set was made" in r.stderr
        assert "Traceback" not in r.stderr and not (work / "again").exists()

        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        shutil.copy(SNEAKER, elsewhere / "sneaker.png")
        r = run("edit", "--replay", "set/set.json", "-o", "again", "--ref-dir", elsewhere, "-q", cwd=work)
        assert r.returncode == 0, r.stderr

        (work / "refs" / "sneaker.png").unlink()
        r = run("edit", "--replay", "set/set.json", "-o", "again", cwd=work)
        assert r.returncode == 2 and "images[0]: refs/sneaker.png not found" in r.stderr and "--ref-dir" in r.stderr
    finally:
        (made / "refs" / "kept.png").rename(made / "refs" / "sneaker.png")


def test_a_replay_that_differs_exits_4_with_a_table_and_what_differs(made, tmp_path):
    r = run("edit", "--replay", made / "set" / "set.json", "-o", tmp_path / "o", "--opt", "work_pixels=20000")
    assert r.returncode == cli_replay.MISMATCH == 4, r.stdout + r.stderr
    assert "override: work_pixels: 20000 (set.json: 4000000)" in r.stderr
    assert "3 of 3 panel(s) differ" in r.stderr and "work_pixels: set.json 4000000, now 20000" in r.stderr
    table = r.stdout.split("replay sha256", 1)[1]  # after the plan table: the comparison
    rows = [line for line in table.splitlines() if line.strip().startswith(("│ 1", "│ 2", "│ 3"))]
    assert len(rows) == 3 and all("NO" in row for row in rows), r.stdout
    record = json.loads((tmp_path / "o" / "set.json").read_text())
    assert record["replay"]["matches"] is False and record["replay"]["differences"]


@pytest.mark.parametrize(
    "flag",
    [["--seed", "3"], ["-p", "other"], ["--size", "64*64"], ["-n", "2"], ["--engine", "classic"], ["x.png"]],
)
def test_flags_that_change_the_request_are_refused_with_replay(made, flag):
    r = run("edit", "--replay", "set/set.json", *flag, cwd=made)
    assert r.returncode == 2, r.stderr
    assert "so it would not be a replay" in r.stderr and "Traceback" not in r.stderr


def test_edit_without_references_or_prompt_says_what_is_missing(tmp_path):
    r = run("edit", "-p", "x", cwd=tmp_path)
    assert r.returncode == 2 and "REF: give 1-10 reference images" in r.stderr
    r = run("edit", str(SNEAKER), cwd=tmp_path)
    assert r.returncode == 2 and "-p/--prompt is required" in r.stderr
    r = run("edit", str(SNEAKER), "-p", "x", "--ref-dir", ".", cwd=tmp_path)
    assert r.returncode == 2 and "--ref-dir is only used with --replay" in r.stderr


def test_a_file_that_is_no_set_json_is_refused_clearly(tmp_path):
    (tmp_path / "x.json").write_text("[1]")
    r = run("edit", "--replay", tmp_path / "x.json", cwd=tmp_path)
    assert r.returncode == 2 and "holds no JSON object" in r.stderr
    (tmp_path / "y.json").write_text('{"engine": "classic"}')
    r = run("edit", "--replay", tmp_path / "y.json", cwd=tmp_path)
    assert r.returncode == 2 and "is it a set.json of `seqedit edit`?" in r.stderr
    (tmp_path / "z.json").write_text('{"server": "http://127.0.0.1:8000", "id": "abc", "request": {}, "outputs": []}')
    r = run("edit", "--replay", tmp_path / "z.json", cwd=tmp_path)
    assert r.returncode == 2 and "was made on the server http://127.0.0.1:8000" in r.stderr
    r = run("edit", "--replay", tmp_path / "none.json", cwd=tmp_path)
    assert r.returncode == 2 and "No such file" in r.stderr


# --- the pieces ---------------------------------------------------------------------------------


def _env_name(option: str) -> str:
    return f"SEQEDIT_{option.upper()}"


def test_a_secret_recorded_as_stars_must_be_given_again(monkeypatch):
    record = {"engine_options": {"upstream_url": "https://up.example", "upstream_key": "***", "timeout": 600.0}}
    monkeypatch.delenv("SEQEDIT_UPSTREAM_KEY", raising=False)
    with pytest.raises(RequestError) as caught:
        cli_replay.engine_options(record, {}, _env_name)
    assert caught.value.field == "upstream_key"
    assert "--upstream-key" in caught.value.message and "$SEQEDIT_UPSTREAM_KEY" in caught.value.message

    options, overrides = cli_replay.engine_options(record, {"upstream_key": "sk_new"}, _env_name)
    assert options == {"upstream_url": "https://up.example", "upstream_key": "sk_new", "timeout": 600.0}
    assert overrides == []  # a secret given again is no override, and its value is never shown

    monkeypatch.setenv("SEQEDIT_UPSTREAM_KEY", "sk_env")
    options, overrides = cli_replay.engine_options(record, {"timeout": 30.0}, _env_name)
    assert "upstream_key" not in options  # Settings reads it from the environment, as for any edit
    assert overrides == ["timeout: 30.0 (set.json: 600.0)"]


def test_differences_name_each_setting_that_changed():
    before = {"device": "cuda", "dtype": "bfloat16", "versions": {"torch": "2.5"}, "steps": 4}
    after = {"device": "cpu", "dtype": "bfloat16", "versions": {"torch": "2.6"}, "seeds": [1]}
    assert cli_replay.differences(before, after) == [
        'device: set.json "cuda", now "cpu"',
        "seeds: set.json (absent), now [1]",
        "steps: set.json 4, now (absent)",
        'versions.torch: set.json "2.5", now "2.6"',
    ]
    assert cli_replay.differences(None, after) == [
        "set.json has no provenance (an older seqedit): what made it cannot be compared"
    ]


def test_compare_counts_missing_panels_as_mismatches():
    panels = cli_replay.compare([{"sha256": "a"}, {"sha256": "b"}], ["a"])
    assert [(p.index, p.match) for p in panels] == [(1, True), (2, False)]
    assert not cli_replay.compare([], ["a"])[0].match


def test_a_remote_set_replays_with_its_key_given_again(tmp_path):
    """set.json records the upstream key as ***: a replay without it is refused naming the option; with
    ``$SEQEDIT_UPSTREAM_KEY`` it runs against the same upstream (a real ``seqedit serve``)."""
    from fixtures.server import TESTS, Server

    upstream = Server(tmp_path / "upstream", engine="test-fast", PYTHONPATH=os.pathsep.join([str(SRC), str(TESTS)]))
    upstream.start()
    try:
        ref = tmp_path / "ref.png"
        Image.new("RGB", (64, 48), (10, 120, 200)).save(ref)
        r = run(
            "edit", ref, "-p", "a set of 2 covers", "-n", "2", "--size", "128*96", "-q", "-o", tmp_path / "set",
            "--engine", "remote", "--upstream-url", upstream.url, "--upstream-key", upstream.key,
        )  # fmt: skip
        assert r.returncode == 0, r.stderr
        assert upstream.key not in (tmp_path / "set" / "set.json").read_text()
        env = {k: v for k, v in os.environ.items() if k != "SEQEDIT_UPSTREAM_KEY"}
        r = subprocess.run(
            [SEQEDIT, "edit", "--replay", str(tmp_path / "set" / "set.json"), "-q"],
            capture_output=True,
            text=True,
            env={**env, "PYTHONPATH": str(SRC)},
            timeout=120,
        )
        assert r.returncode == 2 and "upstream_key" in r.stderr and "$SEQEDIT_UPSTREAM_KEY" in r.stderr
        r = run("edit", "--replay", tmp_path / "set" / "set.json", "-q", SEQEDIT_UPSTREAM_KEY=upstream.key)
        assert r.returncode == 0, r.stdout + r.stderr
        replayed = (tmp_path / "set-replay" / "set.json").read_text()
        assert upstream.key not in replayed and json.loads(replayed)["replay"]["matches"] is True
    finally:
        upstream.kill()
