"""What made a diffusion set: ``DiffusionEngine.provenance`` (through ``edit.render``), the model's source
hash, and ``seqedit edit --replay`` reproducing a tiny-model set byte for byte in a subprocess."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("diffusers")

import seqedit  # noqa: E402
from seqedit.edit import prepare, render  # noqa: E402
from seqedit.engines import NullProgress, create  # noqa: E402
from seqedit.engines.diffusion import source  # noqa: E402
from seqedit.engines.diffusion.sequence import NOT_PIXELS  # noqa: E402
from seqedit.engines.diffusion.tiny import references  # noqa: E402
from seqedit.request import EditRequest  # noqa: E402

TESTS = Path(__file__).resolve().parents[2]
SRC = Path(seqedit.__file__).resolve().parents[1]  # this checkout's src: the child must import the same code
SEQEDIT = Path(sys.executable).with_name("seqedit")


def _request(n: int = 2, seed: int = 11) -> EditRequest:
    return EditRequest.create(prompt="the mug on a desk", images=["a", "b"], max_images=n, size="96*64", seed=seed)


def test_provenance_resolves_what_was_left_unset(tiny_models):
    """Unset steps and guidance are the family's defaults, read from the loaded pipeline; device and
    dtype as resolved; every declared option that can change a pixel, as given."""
    from seqedit.edit import provenance
    from seqedit.engines.diffusion.options import DiffusionOptions

    engine = create("diffusion", model=str(tiny_models["flux2_klein"]), min_pixels=64 * 64, strategy="independent")
    plan = prepare(_request(n=3, seed=11), references(2), engine).plan
    made = provenance(engine, plan)
    adapter = engine.load().adapter
    assert made["engine"] == "diffusion" and made["seqedit"] == seqedit.__version__ and made["pillow"]
    assert made["family"] == "flux2_klein" and made["pipeline"] == "Flux2KleinPipeline"
    assert made["strategy"] == "independent"
    assert made["steps"] == adapter.default_steps() == 50  # the tiny klein is no distilled checkpoint
    assert made["guidance"] == adapter.default_guidance() == 4.0
    assert made["seeds"] == [11, 12, 13]
    assert made["device"] == "cpu" and made["dtype"] == "float32"
    assert made["generation_size"] == "96x64"
    assert made["model"] == str(tiny_models["flux2_klein"])
    assert made["model_source"]["kind"] == "local" and len(made["model_source"]["sha256"]) == 64
    assert set(made["versions"]) == {"torch", "diffusers", "transformers"}
    assert set(made["options"]) == set(DiffusionOptions.model_fields) - NOT_PIXELS
    assert made["options"]["min_pixels"] == 64 * 64 and made["options"]["steps"] is None
    assert "local_files_only" not in made["options"] and "offload" not in made["options"]
    json.dumps(made)  # JSON-ready


def test_what_provenance_records_is_what_reaches_the_pipeline(engines, monkeypatch):
    """A spy on the pipeline call: steps, guidance, size and each panel's seed are the recorded ones,
    and the record is made (and handed to ``on_provenance``) before the first call."""
    engine = engines("flux2_klein", "independent")  # steps=2 given
    prepared = prepare(_request(n=2, seed=3), references(1), engine)
    loaded = engine.load()
    events: list = []
    real = loaded.pipe

    def spy(**kwargs):
        events.append(("call", kwargs))
        return real(**kwargs)

    monkeypatch.setattr(loaded, "pipe", spy)
    outputs = list(render(prepared, engine, NullProgress(), on_provenance=lambda p: events.append(("made", p))))
    made = prepared.provenance
    assert len(outputs) == 2 and events[0] == ("made", made)
    calls = [kw for kind, kw in events if kind == "call"]
    assert [c["num_inference_steps"] for c in calls] == [made["steps"]] * 2 == [2, 2]
    assert [c["generator"].initial_seed() for c in calls] == made["seeds"] == [3, 4]
    assert {(c["width"], c["height"]) for c in calls} == {(96, 64)} and made["generation_size"] == "96x64"
    assert {c["guidance_scale"] for c in calls} == {made["guidance"]}


def test_a_grid_records_the_canvas_it_generates(engines):
    engine = engines("flux2_klein", "grid")
    prepared = prepare(_request(n=2), references(1), engine)
    from seqedit.edit import provenance

    made = provenance(engine, prepared.plan)
    assert made["generation_size"] == "192x64" and made["strategy"] == "grid"


def _safetensors(path: Path, header: dict, payload: bytes) -> None:
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + payload)


def test_a_local_folders_hash_covers_configs_and_weight_layout_not_weight_values(tmp_path):
    root = tmp_path / "model"
    (root / "vae").mkdir(parents=True)
    (root / "model_index.json").write_text('{"_class_name": "X"}')
    (root / "vae" / "config.json").write_text('{"layers": 2}')
    header = {"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}
    _safetensors(root / "vae" / "model.safetensors", header, b"\0" * 8)
    (root / ".cache").mkdir()
    (root / ".cache" / "lock").write_text("x")
    first = source.folder_sha256(root)
    assert first == source.folder_sha256(root)

    (root / ".cache" / "lock").write_text("y")  # hidden: not part of the model
    assert source.folder_sha256(root) == first
    _safetensors(root / "vae" / "model.safetensors", header, b"\1" * 8)  # same layout, other values
    assert source.folder_sha256(root) == first  # documented: values are not read
    (root / "vae" / "config.json").write_text('{"layers": 3}')
    second = source.folder_sha256(root)
    assert second != first
    header["w"]["dtype"] = "BF16"
    _safetensors(root / "vae" / "model.safetensors", header, b"\1" * 8)
    assert source.folder_sha256(root) != second

    made = source.model_source(str(root), local=True)
    assert made["kind"] == "local" and made["path"] == str(root.resolve()) and made["covers"] == source.COVERS


def test_a_hub_id_records_the_cached_snapshots_commit(tmp_path):
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "models--owner--name"
    (repo / "snapshots" / commit).mkdir(parents=True)
    (repo / "snapshots" / commit / "model_index.json").write_text("{}")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    assert source.hub_revision("owner/name", cache_dir=tmp_path) == commit
    assert source.hub_revision("owner/other", cache_dir=tmp_path) is None


# --- seqedit edit --replay, as a user runs it ----------------------------------------------------


@pytest.fixture(scope="module")
def child_env():
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), str(TESTS)]),
        "SEQEDIT_MIN_PIXELS": str(64 * 64),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "OMP_NUM_THREADS": "2",
        "COLUMNS": "200",
    }


def _seqedit(*args, env, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run([str(SEQEDIT), *map(str, args)], capture_output=True, text=True, env=env, timeout=timeout)


def test_replay_reproduces_a_tiny_model_set_byte_for_byte(tiny_models, child_env, tmp_path):
    refs = []
    for i, im in enumerate(references(2)):
        refs.append(tmp_path / f"ref{i}.png")
        im.save(refs[-1])
    model = tmp_path / "klein"
    shutil.copytree(tiny_models["flux2_klein"], model)
    first = tmp_path / "set"
    r = _seqedit(
        "edit", *refs, "-p", "the mug on a desk, in a kitchen", "-n", 2, "--size", "96*64", "--format", "png",
        "-o", first, "-q", "--engine", "diffusion", "--model", model, "--steps", 2, "--seed", 7,
        env=child_env,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    record = json.loads((first / "set.json").read_text())
    made = record["provenance"]
    assert made["steps"] == 2 and made["seeds"] == [7, 8] and made["device"] == "cpu"
    assert made["dtype"] == "float32" and made["family"] == "flux2_klein" and made["strategy"] == "anchor"
    assert made["options"]["min_pixels"] == 64 * 64  # from $SEQEDIT_MIN_PIXELS, recorded as resolved
    assert [ref["sha256"] for ref in record["references"]] == [hashlib.sha256(p.read_bytes()).hexdigest() for p in refs]

    env = {k: v for k, v in child_env.items() if k != "SEQEDIT_MIN_PIXELS"}  # the record carries it
    again = tmp_path / "again"
    r = _seqedit("edit", "--replay", first / "set.json", "-o", again, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "all 2 panel(s) match" in r.stdout
    for k in (1, 2):
        assert (again / f"{k}.png").read_bytes() == (first / f"{k}.png").read_bytes()
    replayed = json.loads((again / "set.json").read_text())
    assert replayed["replay"]["matches"] is True and replayed["provenance"] == made

    # the model folder changed (a config key diffusers ignores) and guidance is overridden: the panels
    # differ, the replay exits 4 with a table, and names the override and what differs from the record
    config = model / "scheduler" / "scheduler_config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "seqedit_test": 1}))
    r = _seqedit(
        "edit", "--replay", first / "set.json", "-o", tmp_path / "changed", "-q", "--opt", "guidance=1.0", env=env
    )
    assert r.returncode == 4, r.stdout + r.stderr
    assert "NO" in r.stdout and "2 of 2 panel(s) differ" in r.stderr
    assert "override: guidance: 1.0 (set.json: unset)" in r.stderr
    assert "guidance: set.json 4.0, now 1.0" in r.stderr
    assert "model_source.sha256: set.json" in r.stderr
