"""The diffusion engine from the outside: ``seqedit edit`` as a subprocess, ``seqedit models check``, one
real ``seqedit serve`` running predictions on a tiny model, and the in-process service turning engine
failures into failed predictions.

The subprocesses load the tiny pipelines saved by the session fixture. ``SEQEDIT_MIN_PIXELS`` lets the
tiny models generate at 64 px; a throwaway ``sitecustomize`` shrinks Qwen-Image-Edit's 1 MP reference
resize in the child process (as the in-process fixture does), everything else is the real code path.
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("diffusers")

from PIL import Image  # noqa: E402

from seqedit.engines.diffusion.tiny import references  # noqa: E402

HERE = Path(__file__).resolve().parent
TESTS = HERE.parents[1]
SRC = HERE.parents[2] / "src"  # the children import this tree's seqedit, not the one the venv has installed
REF_RESIZE = {"qwen_image_edit_plus", "qwen_image_21", "joyimage_edit_plus"}  # resize references to ~1 MP
SEQEDIT = Path(sys.executable).with_name("seqedit")
SITECUSTOMIZE = """
import os
if os.environ.get("SEQEDIT_TEST_QWEN_REF_AREA"):
    from seqedit.engines.diffusion import tiny as diffusion_tiny
    diffusion_tiny.shrink_qwen_reference_area(int(os.environ["SEQEDIT_TEST_QWEN_REF_AREA"]))
"""


@pytest.fixture(scope="module")
def child_env(tmp_path_factory):
    site = tmp_path_factory.mktemp("site")
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(site), str(SRC), str(TESTS)]),
        "SEQEDIT_MIN_PIXELS": str(64 * 64),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "OMP_NUM_THREADS": "2",
    }


@pytest.fixture(scope="module")
def ref_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("refs")
    paths = []
    for i, im in enumerate(references(2)):
        paths.append(d / f"ref{i}.png")
        im.save(paths[-1])
    return paths


def seqedit(*args, env, timeout=240):
    return subprocess.run([str(SEQEDIT), *map(str, args)], capture_output=True, text=True, env=env, timeout=timeout)


@pytest.mark.parametrize(
    "family, strategy, n",
    [
        ("flux2_klein", "anchor", 3),
        ("qwen_image_edit_plus", "chain", 2),
        ("flux_kontext", "shared_attention", 3),
        ("instruct_pix2pix", "independent", 2),
        ("flux2_dev", "shared_attention", 3),
        ("qwen_image_21", "anchor", 3),
        ("joyimage_edit_plus", "chain", 2),
        ("flux2_klein_kv", "anchor", 3),
    ],
)
def test_seqedit_edit_with_each_family(tiny_models, child_env, ref_files, tmp_path, family, strategy, n):
    out = tmp_path / "set"
    r = seqedit(
        "edit",
        *ref_files,
        "-p",
        "the mug on a desk, in a kitchen and outdoors",
        "-n",
        n,
        "--size",
        "96*64",
        "--seed",
        5,
        "--format",
        "png",
        "-o",
        out,
        "-q",
        "--engine",
        "diffusion",
        "--model",
        tiny_models[family],
        "--strategy",
        strategy,
        "--steps",
        2,
        env={**child_env, "SEQEDIT_TEST_QWEN_REF_AREA": str(64 * 64)} if family in REF_RESIZE else child_env,
    )
    assert r.returncode == 0, r.stderr
    record = json.loads((out / "set.json").read_text())
    assert record["engine"] == "diffusion" and len(record["outputs"]) == n
    for k in range(1, n + 1):
        with Image.open(out / f"{k}.png") as im:
            assert im.size == (96, 64)


def test_seqedit_edit_missing_model_is_a_message_not_a_traceback(child_env, ref_files, tmp_path):
    r = seqedit(
        "edit",
        ref_files[0],
        "-p",
        "x",
        "-o",
        tmp_path / "o",
        "-q",
        "--engine",
        "diffusion",
        "--model",
        tmp_path / "no-such-model",
        env=child_env,
        timeout=60,
    )
    assert r.returncode != 0
    assert "does not exist" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="needs a machine without a CUDA GPU")
def test_seqedit_edit_on_a_missing_gpu_fails_cleanly(tiny_models, child_env, ref_files, tmp_path):
    out = tmp_path / "o"
    r = seqedit(
        "edit",
        ref_files[0],
        "-p",
        "x",
        "-n",
        2,
        "--size",
        "64*64",
        "-o",
        out,
        "-q",
        "--engine",
        "diffusion",
        "--model",
        tiny_models["flux2_klein"],
        "--device",
        "cuda",
        "--dtype",
        "bfloat16",
        env=child_env,
        timeout=120,
    )
    assert r.returncode == 2, r.stderr  # an option this machine cannot honour: bad input, one line
    assert "no CUDA GPU" in r.stderr and "Traceback" not in r.stderr
    assert not list(out.glob("*.jpg")) and not (out / "set.json").exists()


def test_models_check(tiny_models, tmp_path):
    from typer.testing import CliRunner

    from seqedit.client.cli import app

    r = CliRunner().invoke(app, ["models", "check", str(tiny_models["flux_kontext"]), "--json"])
    assert r.exit_code == 0, r.output
    facts = json.loads(r.stdout)
    assert facts["family"] == "flux_kontext" and facts["reference_limit"] == 1
    assert facts["device"] == "cpu" and facts["dtype"] == "float32"
    assert facts["smoke_run"]["steps"] == 1 and "shared_attention" in facts["strategies"]

    r = CliRunner().invoke(app, ["models", "check", str(tiny_models["flux2_klein"]), "--no-run"])
    assert r.exit_code == 0 and "FLUX.2 [klein]" in r.stdout and "reference limit" in r.stdout

    r = CliRunner().invoke(app, ["models", "check", str(tmp_path)])
    assert r.exit_code == 1 and "not a diffusers pipeline" in r.stderr


# --- the HTTP service ---------------------------------------------------------------------------
MODEL = "bytedance/seedream-v4/edit-sequential"


def _data_uri(im: Image.Image) -> str:
    buffer = io.BytesIO()
    im.save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _wait(httpx, server, pid, timeout=180.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        data = httpx.get(f"{server.url}/api/v3/predictions/{pid}/result", headers=server.headers).json()["data"]
        if data["status"] in ("completed", "failed", "cancelled"):
            return data
        time.sleep(0.1)
    raise AssertionError(f"prediction {pid} did not finish")


def _submit(httpx, server, **body):
    r = httpx.post(f"{server.url}/api/v3/{MODEL}", headers=server.headers, json=body, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["data"]["id"]


def test_http_service_runs_the_diffusion_engine(tiny_models, child_env, tmp_path):
    httpx = pytest.importorskip("httpx")
    sys.path.insert(0, str(TESTS))
    from fixtures.server import Server

    env = {k: child_env[k] for k in ("SEQEDIT_MIN_PIXELS", "HF_HUB_OFFLINE", "OMP_NUM_THREADS")}
    good = Server(
        tmp_path / "good",
        engine="diffusion",
        args=("--model", str(tiny_models["flux2_klein"]), "--strategy", "chain", "--steps", "2"),
        PYTHONPATH=child_env["PYTHONPATH"],
        **env,
    ).start()
    with pytest.raises(RuntimeError, match=r"exited 2[\s\S]*model path \S*missing does not exist"):
        Server(tmp_path / "refused", engine="diffusion", args=("--model", str(tmp_path / "missing")), **env).start()
    vanishing = tmp_path / "vanishing"  # there when `serve` starts, gone before the first job loads it
    shutil.copytree(tiny_models["flux2_klein"], vanishing)
    bad = Server(tmp_path / "bad", engine="diffusion", args=("--model", str(vanishing)), **env).start()
    shutil.rmtree(vanishing)
    try:
        refs = [_data_uri(im) for im in references(2)]
        pid = _submit(
            httpx,
            good,
            prompt="a series of 3 images of these objects",
            images=refs,
            size="96*64",
            max_images=3,
            seed=11,
        )
        data = _wait(httpx, good, pid)
        assert data["status"] == "completed", data
        assert len(data["outputs"]) == 3
        for url in data["outputs"]:
            assert Image.open(io.BytesIO(httpx.get(url).content)).size == (96, 64)

        for _ in range(2):  # a failed prediction, twice: the worker survives the first
            data = _wait(httpx, bad, _submit(httpx, bad, prompt="x", images=refs[:1], size="64*64"))
            assert data["status"] == "failed" and "does not exist" in data["error"], data
    finally:
        good.kill(signal.SIGTERM)
        bad.kill(signal.SIGTERM)


@pytest.mark.parametrize("family", ["flux2_dev", "qwen_image_21", "joyimage_edit_plus", "flux2_klein_kv"])
def test_http_service_runs_each_new_family(tiny_models, child_env, tmp_path, family):
    """A real ``seqedit serve`` on each second-wave family: a 2-panel prediction with 3 references completes."""
    httpx = pytest.importorskip("httpx")
    sys.path.insert(0, str(TESTS))
    from fixtures.server import Server

    env = {k: child_env[k] for k in ("SEQEDIT_MIN_PIXELS", "HF_HUB_OFFLINE", "OMP_NUM_THREADS", "PYTHONPATH")}
    if family in REF_RESIZE:
        env["SEQEDIT_TEST_QWEN_REF_AREA"] = str(64 * 64)
    server = Server(
        tmp_path / family,
        engine="diffusion",
        args=("--model", str(tiny_models[family]), "--strategy", "anchor", "--steps", "2"),
        **env,
    ).start(timeout=60)
    try:
        refs = [_data_uri(im) for im in references(3)]
        pid = _submit(httpx, server, prompt="a series of 2 images", images=refs, size="64*96", max_images=2, seed=3)
        data = _wait(httpx, server, pid)
        assert data["status"] == "completed", data
        assert len(data["outputs"]) == 2
        for url in data["outputs"]:
            assert Image.open(io.BytesIO(httpx.get(url).content)).size == (64, 96)
    finally:
        server.kill(signal.SIGTERM)


def test_models_demo_then_the_command_it_prints(child_env, ref_files, tmp_path):
    """``seqedit models demo DIR`` in a subprocess, then exactly the ``seqedit edit`` line it prints (with a real
    reference file and output directory), in another: a set of noise panels and its set.json."""
    import shlex

    demo = tmp_path / "demo"
    r = seqedit("models", "demo", demo, env=child_env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "noise, not a model" in r.stdout and r.stderr == ""
    line = r.stdout.strip().splitlines()[-1]
    argv = shlex.split(line)
    assert argv[:2] == ["seqedit", "edit"] and argv[argv.index("--model") + 1] == str(demo)
    argv[argv.index("ref.jpg")] = str(ref_files[0])
    argv[argv.index("-o") + 1] = str(tmp_path / "out")
    r = seqedit(*argv[1:], "-q", env=child_env, timeout=240)
    assert r.returncode == 0, r.stderr
    record = json.loads((tmp_path / "out" / "set.json").read_text())
    assert record["engine"] == "diffusion" and len(record["outputs"]) == 3
    assert record["engine_options"]["model"] == str(demo)
    with Image.open(tmp_path / "out" / "1.jpg") as im:
        assert im.size == (256, 256)


@pytest.mark.parametrize("failure", ["out_of_memory", "cuda_without_gpu", "not_a_pipeline"])
def test_service_turns_engine_failures_into_failed_predictions(tiny_models, tmp_path, monkeypatch, failure):
    """In-process service: each failure fails its prediction with a clear message and the worker lives on
    (after the out-of-memory error, raised by a fixture, the same worker completes the next prediction)."""
    pytest.importorskip("fastapi")
    import torch
    from diffusers import Flux2Transformer2DModel
    from fastapi.testclient import TestClient

    from seqedit.api.app import create_app, make_service
    from seqedit.config import Settings

    if failure == "cuda_without_gpu" and torch.cuda.is_available():
        pytest.skip("needs a machine without a CUDA GPU")
    model = tiny_models["flux2_klein"]
    if failure == "not_a_pipeline":
        model = tmp_path / "weights"
        model.mkdir()
    monkeypatch.setenv("SEQEDIT_MODEL", str(model))
    monkeypatch.setenv("SEQEDIT_MIN_PIXELS", str(64 * 64))
    if failure == "cuda_without_gpu":
        monkeypatch.setenv("SEQEDIT_DEVICE", "cuda")
    service = make_service(
        Settings(
            data_dir=tmp_path / "data",
            engine="diffusion",
            lease_seconds=30,
            reaper_interval=1,
            sync_timeout=60,
            allow_hosts="127.0.0.1,localhost",
            public_url="http://testserver",
        )
    )
    key, _ = service.store.create_key("t")
    headers = {"Authorization": f"Bearer {key}"}
    refs = [_data_uri(references(1)[0])]

    def run(client):
        r = client.post(
            f"/api/v3/{MODEL}",
            headers=headers,
            json={"prompt": "two panels", "images": refs, "size": "64*64", "max_images": 2, "seed": 1},
        )
        assert r.status_code == 200, r.text
        pid = r.json()["data"]["id"]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            data = client.get(f"/api/v3/predictions/{pid}/result", headers=headers).json()["data"]
            if data["status"] in ("completed", "failed", "cancelled"):
                return data
            time.sleep(0.05)
        raise AssertionError("prediction did not finish")

    def oom(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    expected = {
        "out_of_memory": "out of memory",
        "cuda_without_gpu": "no CUDA GPU",
        "not_a_pipeline": "not a diffusers pipeline",
    }[failure]
    with TestClient(create_app(service)) as client:
        with monkeypatch.context() as patch:
            if failure == "out_of_memory":
                patch.setattr(Flux2Transformer2DModel, "forward", oom)
            data = run(client)
        assert data["status"] == "failed" and expected in data["error"], data
        data = run(client)  # the same worker takes the next prediction
        if failure == "out_of_memory":
            assert data["status"] == "completed" and len(data["outputs"]) == 2, data
        else:
            assert data["status"] == "failed" and expected in data["error"], data


def test_service_cancel_stops_mid_denoise(tiny_models, tmp_path, monkeypatch):
    """Cancel through the API while a panel is denoising: the job ends cancelled within about one step."""
    pytest.importorskip("fastapi")
    from diffusers import Flux2Transformer2DModel
    from fastapi.testclient import TestClient

    from seqedit.api.app import create_app, make_service
    from seqedit.config import Settings

    monkeypatch.setenv("SEQEDIT_MODEL", str(tiny_models["flux2_klein"]))  # tiny klein: 50 steps x 2 passes
    monkeypatch.setenv("SEQEDIT_MIN_PIXELS", str(64 * 64))
    real_forward = Flux2Transformer2DModel.forward
    calls = []

    def slow_forward(self, *args, **kwargs):
        calls.append(1)
        time.sleep(0.02)
        return real_forward(self, *args, **kwargs)

    monkeypatch.setattr(Flux2Transformer2DModel, "forward", slow_forward)
    service = make_service(
        Settings(
            data_dir=tmp_path,
            engine="diffusion",
            lease_seconds=30,
            reaper_interval=1,
            allow_hosts="127.0.0.1,localhost",
            public_url="http://testserver",
            progress_interval=0.01,
        )
    )
    key, _ = service.store.create_key("t")
    headers = {"Authorization": f"Bearer {key}"}
    with TestClient(create_app(service)) as client:
        r = client.post(
            f"/api/v3/{MODEL}",
            headers=headers,
            json={"prompt": "two panels", "images": [_data_uri(references(1)[0])], "size": "64*64", "max_images": 2},
        )
        pid = r.json()["data"]["id"]
        deadline = time.monotonic() + 60
        while len(calls) < 10 and time.monotonic() < deadline:  # five steps into panel 1
            time.sleep(0.01)
        assert client.post(f"/api/v3/predictions/{pid}/cancel", headers=headers).status_code == 200
        at_cancel = len(calls)
        while time.monotonic() < deadline:
            data = client.get(f"/api/v3/predictions/{pid}/result", headers=headers).json()["data"]
            if data["status"] in ("completed", "failed", "cancelled"):
                break
            time.sleep(0.02)
    assert data["status"] == "cancelled", data
    assert len(calls) - at_cancel <= 2 * 2  # the step in flight (2 passes), and at most one more
    assert len(calls) < 100  # panel 1 (50 steps x 2 passes) never finished
