"""The gateway engine (``--engine remote``) against a second real ``seqedit serve`` as its upstream,
with the remote engine inside a first real ``seqedit serve`` (the user's path), and its top-up path
against ``fixtures.short_upstream`` (a loopback server that returns short sets, which seqedit itself
never does)."""

from __future__ import annotations

import base64
import io
import os
import subprocess
import time

import httpx
import pytest
from PIL import Image

from fixtures.server import SEQEDIT, TESTS, Server
from fixtures.short_upstream import KEY, ShortUpstream
from seqedit.engines import EngineError, NullProgress, create
from seqedit.engines.remote.engine import RemoteEngine
from seqedit.plan import make_plan
from seqedit.request import EditRequest
from seqedit.sizes import Size

MODEL = "bytedance/seedream-v4/edit-sequential"
HANG = 60.0  # hang guard only


def _ref_uri() -> str:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 120, 200)).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _gateway(tmp_path, upstream: Server, *opts: str, protocol: str = "wavespeed") -> Server:
    """A first ``seqedit serve --engine remote`` in front of ``upstream`` (the typed flags; the key
    from the environment, as an operator keeps it out of ``ps``)."""
    args = ["--upstream-url", upstream.url, "--upstream-protocol", protocol, "--opt", "poll_interval=0.1"]
    args += [a for o in opts for a in ("--opt", o)]
    return Server(tmp_path / "gateway", engine="remote", args=tuple(args), SEQEDIT_UPSTREAM_KEY=upstream.key)


def _wait(server: Server, pid: str, *, statuses=("completed", "failed", "cancelled")) -> dict:
    deadline = time.monotonic() + HANG
    while time.monotonic() < deadline:
        data = httpx.get(f"{server.url}/api/v3/predictions/{pid}/result", headers=server.headers).json()["data"]
        if data["status"] in statuses:
            return data
        time.sleep(0.1)
    raise AssertionError(f"prediction {pid} still {data['status']}")


def _submit(server: Server, **body) -> str:
    body = {"prompt": "a set of 3 product shots", "images": [_ref_uri()], "max_images": 3, **body}
    answer = httpx.post(f"{server.url}/api/v3/{MODEL}", json=body, headers=server.headers, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]["id"]


def _history(server: Server, key: str) -> list[dict]:
    answer = httpx.post(
        f"{server.url}/api/v3/predictions", json={"page_size": 100}, headers={"Authorization": f"Bearer {key}"}
    )
    return answer.json()["data"]["items"]


@pytest.fixture
def upstream(tmp_path):
    server = Server(tmp_path / "upstream", engine="test-fast").start()
    yield server
    server.kill()


PROTOCOLS = ["wavespeed", "ark"]


def _sizes(server: Server, data: dict) -> list[tuple[int, int]]:
    return [
        Image.open(io.BytesIO(httpx.get(url if "://" in url else server.url + url).content)).size
        for url in data["outputs"]
    ]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_set_of_n_comes_back_through_the_gateway_with_n_panels_at_the_plans_size(tmp_path, upstream, protocol):
    gateway = _gateway(tmp_path, upstream, protocol=protocol).start()
    try:
        data = _wait(gateway, _submit(gateway, size="320*240"))
        assert data["status"] == "completed", data["error"]
        assert _sizes(gateway, data) == [(320, 240)] * 3
        if protocol == "wavespeed":  # Ark reports tokens, not money, nor the upstream's warnings
            assert any(w.startswith("upstream cost ") for w in data["warnings"]), data["warnings"]
            assert "upstream: test-fast paints solid colours" in data["warnings"]  # the upstream's own
        else:  # Ark's documented range: asked larger, resized back
            assert (
                "the upstream is asked for 1120x832 (its size range) and the panels resized to 320*240"
                in (data["warnings"])
            )
        ups = _history(upstream, upstream.key)
        assert len(ups) == 1 and ups[0]["status"] == "completed"  # one billed submit upstream
        assert upstream.key not in gateway.log()  # the key is never logged
    finally:
        gateway.kill()


def test_edit_with_the_remote_engine_writes_the_set_and_never_the_key(tmp_path, upstream):
    ref = tmp_path / "ref.png"
    Image.new("RGB", (64, 48), (10, 120, 200)).save(ref)
    out = tmp_path / "out"
    proc = subprocess.run(
        [str(SEQEDIT), "edit", str(ref), "-p", "a set of 2 covers", "-n", "2", "--size", "128*96", "-q"]
        + ["--engine", "remote", "--upstream-url", upstream.url, "--upstream-key", upstream.key, "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=HANG,
    )
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.glob("[0-9].*")) == ["1.jpg", "2.jpg"]
    record = (out / "set.json").read_text()
    assert upstream.key not in record and '"upstream_key": "***"' in record


def test_ark_auto_returning_fewer_than_asked_is_topped_up_by_the_gateway(tmp_path, upstream):
    """The real short set: under ``sequential_image_generation: auto`` an Ark upstream makes as many
    images as the prompt asks for ("a set of 2"), so a gateway job of 4 gets 2 and asks for 3 and 4."""
    gateway = _gateway(tmp_path, upstream, protocol="ark").start()
    try:
        data = _wait(gateway, _submit(gateway, prompt="a set of 2 covers", max_images=4, size="256*192"))
        assert data["status"] == "completed", data["error"]
        assert _sizes(gateway, data) == [(256, 192)] * 4
        assert any("returned 2 of 4 images; asking again for panel(s) 3, 4" in w for w in data["warnings"])
        ups = _history(upstream, upstream.key)
        assert sorted(len(p["outputs"]) for p in ups) == [2, 2]  # the set, then the two missing panels only
    finally:
        gateway.kill()


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_wrong_upstream_key_makes_serve_exit_2_naming_the_option(tmp_path, upstream, protocol):
    proc = subprocess.run(
        [
            str(SEQEDIT),
            "serve",
            "--engine",
            "remote",
            "--upstream-protocol",
            protocol,
            "--opt",
            f"upstream_url={upstream.url}",
            "--opt",
            "upstream_key=sk_wrong",
            "--port",
            "0",
            "--data-dir",
            str(tmp_path / "gw"),
        ],
        capture_output=True,
        text=True,
        timeout=HANG,
        env={**os.environ, "PYTHONPATH": f"{TESTS}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"},
    )
    assert proc.returncode == 2, proc.stderr
    assert "upstream_key" in proc.stderr and "401" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_an_upstream_killed_mid_job_fails_the_task_and_no_second_submit_is_billed(tmp_path, protocol):
    up_dir = tmp_path / "upstream"
    upstream = Server(up_dir, engine="test-slow", SEQEDIT_TEST_PANEL_SECONDS="1.5").start()
    key = upstream.key
    gateway = _gateway(tmp_path, upstream, "retries=1", "backoff=0.1", protocol=protocol).start()
    try:
        pid = _submit(gateway)
        deadline = time.monotonic() + HANG
        while not any(p["status"] == "processing" for p in _history(upstream, key)):
            assert time.monotonic() < deadline, "the upstream never started the job"
            time.sleep(0.05)
        upstream.kill()
        data = _wait(gateway, pid)
        assert data["status"] == "failed"
        assert "upstream" in data["error"], data["error"]
        broke = "cannot connect" if protocol == "wavespeed" else "the stream broke"
        assert broke in data["error"], data["error"]
        again = Server(up_dir, engine="test-slow", SEQEDIT_TEST_PANEL_SECONDS="0.01")
        again.port = upstream.port  # same address (the job's URLs), same data dir, same key
        again.url = upstream.url
        again.start()
        try:
            assert len(_history(again, key)) == 1  # the one submit; nothing paid twice
        finally:
            again.kill()
    finally:
        gateway.kill()
        upstream.kill()


def _plan(prompt: str, n: int, size: Size | None = None):
    request = EditRequest(prompt=prompt, images=[], size=size or Size(256, 192), max_images=n, seed=7)
    return make_plan(request)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_retried_job_finds_its_upstream_prediction_instead_of_paying_again(upstream, protocol):
    """A gateway worker that crashed and retries the job sends the same Idempotency-Key (job id +
    panel set): the upstream (seqedit honours the key on both routes) answers with what it has."""
    engine = create(
        "remote", upstream_url=upstream.url, upstream_key=upstream.key, upstream_protocol=protocol, poll_interval=0.05
    )
    plan = _plan("a set of 2 covers", 2)
    progress = NullProgress()
    progress.id = "job-1"  # type: ignore[attr-defined]  (the runner's progress carries the job id)
    refs = [Image.new("RGB", (64, 48), (10, 120, 200))]
    first = [im.tobytes() for im in engine.generate(plan, refs, progress)]
    second = [im.tobytes() for im in engine.generate(plan, refs, progress)]
    assert first == second and len(first) == 2
    assert len(_history(upstream, upstream.key)) == 1
    other = NullProgress()
    other.id = "job-2"  # type: ignore[attr-defined]
    list(engine.generate(plan, refs, other))
    assert len(_history(upstream, upstream.key)) == 2  # another job is another submit


@pytest.mark.parametrize(("protocol", "stream"), [("wavespeed", False), ("ark", False), ("ark", True)])
def test_a_short_set_is_topped_up_with_the_missing_panels_own_lines(protocol, stream):
    prompt = "Make four covers. Panel 1 — red. Panel 2 — blue. Panel 3 — green. Panel 4 — gold."
    with ShortUpstream([2, 2]) as stub:
        engine = RemoteEngine(
            upstream_url=stub.url, upstream_key=KEY, upstream_protocol=protocol, upstream_stream=stream
        )
        progress = NullProgress()
        panels = list(engine.generate(_plan(prompt, 4), [], progress))
    assert [p.size for p in panels] == [(256, 192)] * 4
    assert len(stub.asks) == 2
    assert all(bool(a.get("stream")) == stream for a in stub.asks)
    top_up = stub.asks[1]
    count = top_up.get("max_images") or top_up["sequential_image_generation_options"]["max_images"]
    assert count == 2
    assert "green" in top_up["prompt"] and "gold" in top_up["prompt"] and "red" not in top_up["prompt"]
    assert any("asking again for panel(s) 3, 4" in w for w in progress.warnings)


def test_a_collage_counts_as_missing_panels():
    with ShortUpstream(["collage", 3]) as stub:
        engine = RemoteEngine(upstream_url=stub.url, upstream_key=KEY)
        panels = list(engine.generate(_plan("a set of 3 posters", 3), [], NullProgress()))
    assert len(panels) == 3 and stub.asks[1]["max_images"] == 3


def test_still_short_after_the_last_top_up_fails_naming_the_missing_panels():
    with ShortUpstream([1, 1, 0, 0]) as stub:
        engine = RemoteEngine(upstream_url=stub.url, upstream_key=KEY, top_ups=2)
        with pytest.raises(EngineError, match=r"panel\(s\) 3, 4 of 4 after 3 submit\(s\)"):
            list(engine.generate(_plan("a set of 4 posters", 4), [], NullProgress()))
    assert [a["max_images"] for a in stub.asks] == [4, 3, 2]  # bounded by top_ups


def test_a_missing_set_is_never_submitted_twice():
    with ShortUpstream([1, 0, 3]) as stub:
        engine = RemoteEngine(upstream_url=stub.url, upstream_key=KEY, top_ups=5)
        progress = NullProgress()
        with pytest.raises(EngineError, match=r"panel\(s\) 2, 3 of 3 after 2 submit\(s\)"):
            list(engine.generate(_plan("a set of 3 posters", 3), [], progress))
    assert [a["max_images"] for a in stub.asks] == [3, 2]
    assert len({a["idempotency_key"] for a in stub.asks}) == 2
    assert "upstream cost 0.054 USD (2 submits)" in progress.warnings  # recorded on a failure too


@pytest.mark.parametrize("stream", [False, True])
def test_a_moderated_panel_fails_the_task_naming_it(stream):
    with ShortUpstream(["moderated"]) as stub:
        engine = RemoteEngine(upstream_url=stub.url, upstream_key=KEY, upstream_protocol="ark", upstream_stream=stream)
        with pytest.raises(EngineError, match="refused panel 1: OutputImageSensitiveContentDetected"):
            list(engine.generate(_plan("a set of 2 posters", 2), [], NullProgress()))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"upstream_key": KEY}, "needs upstream_url"),
        ({"upstream_url": "ftp://x", "upstream_key": KEY}, "needs upstream_url"),
        ({"upstream_url": "http://127.0.0.1:9"}, "needs upstream_key"),
        ({"upstream_url": "http://x", "upstream_key": KEY, "upstream_protocol": "fal"}, "upstream_protocol"),
        ({"upstream_url": "http://x", "upstream_key": KEY, "top_ups": 11}, "top_ups"),
    ],
)
def test_bad_options_are_named(options, message):
    with pytest.raises(EngineError, match=message):
        create("remote", **options)


def test_check_refuses_counts_beyond_the_upstreams_limits():
    with ShortUpstream([]) as stub:
        engine = RemoteEngine(upstream_url=stub.url, upstream_key=KEY, upstream_protocol="ark")
        refs = [Image.new("RGB", (32, 32))] * 10
        with pytest.raises(EngineError, match=r"references \+ max_images ≤ 15, got 10 \+ 6"):
            engine.check(_plan("a set of 6", 6), refs)
        assert engine.check(_plan("a set of 5", 5, Size(1280, 960)), refs) == []
        verdicts = engine.analyse(_plan("a set of 2", 2))
        assert {v.verdict for v in verdicts} == {"supported"}


def test_429_and_5xx_are_retried_with_backoff_then_fail_clearly():
    with ShortUpstream([2], faults=[429, 503]) as stub:
        engine = RemoteEngine(upstream_url=stub.url, upstream_key=KEY, backoff=0.01)
        assert len(list(engine.generate(_plan("a set of 2", 2), [], NullProgress()))) == 2
        assert stub.refused == 2 and len(stub.asks) == 1
    with ShortUpstream([2], faults=[503] * 3) as stub:
        engine = RemoteEngine(upstream_url=stub.url, upstream_key=KEY, backoff=0.01, retries=2)
        with pytest.raises(EngineError, match=r"failed after 3 tries: 503: Busy: stub 503"):
            list(engine.generate(_plan("a set of 2", 2), [], NullProgress()))
        assert stub.refused == 3 and stub.asks == []


@pytest.mark.parametrize("stream", [False, True])
def test_ark_does_not_repeat_a_submit_after_a_5xx_since_it_may_be_billed(stream):
    with ShortUpstream([2], faults=[500]) as stub:
        engine = RemoteEngine(
            upstream_url=stub.url, upstream_key=KEY, upstream_protocol="ark", backoff=0.01, upstream_stream=stream
        )
        with pytest.raises(EngineError, match="failed with 500"):
            list(engine.generate(_plan("a set of 2", 2), [], NullProgress()))
        assert stub.refused == 1


def _wait_for_progress(server: Server, pid: str) -> None:
    deadline = time.monotonic() + HANG
    while True:
        data = httpx.get(f"{server.url}/api/v3/predictions/{pid}/result", headers=server.headers).json()["data"]
        assert data["status"] == "processing", data
        if data["progress"]["fraction"] > 0:
            return
        assert time.monotonic() < deadline, "no progress shown"
        time.sleep(0.05)


def test_cancel_stops_polling_and_cancels_the_upstream_prediction(tmp_path):
    upstream = Server(tmp_path / "upstream", engine="test-slow", SEQEDIT_TEST_PANEL_SECONDS="3").start()
    gateway = _gateway(tmp_path, upstream).start()
    try:
        pid = _submit(gateway)
        deadline = time.monotonic() + HANG
        while not any(p["status"] == "processing" for p in _history(upstream, upstream.key)):
            assert time.monotonic() < deadline, "the upstream never started the job"
            time.sleep(0.05)
        _wait_for_progress(gateway, pid)  # the upstream's own progress shows on the gateway's prediction
        httpx.post(f"{gateway.url}/api/v3/predictions/{pid}/cancel", headers=gateway.headers).raise_for_status()
        data = _wait(gateway, pid)
        assert data["status"] == "cancelled"
        assert any(w.startswith("the upstream prediction ") and w.endswith(" was cancelled") for w in data["warnings"])
        deadline = time.monotonic() + HANG
        while _history(upstream, upstream.key)[0]["status"] != "cancelled":
            assert time.monotonic() < deadline, "the upstream prediction was not cancelled"
            time.sleep(0.05)
    finally:
        gateway.kill()
        upstream.kill()


def test_a_wrong_key_is_refused_at_construction_for_both_protocols():
    with ShortUpstream([]) as stub:
        for protocol in ("wavespeed", "ark"):
            with pytest.raises(EngineError, match=r"refused upstream_key \(401"):
                RemoteEngine(upstream_url=stub.url, upstream_key="sk_wrong", upstream_protocol=protocol)


def test_a_size_outside_the_upstreams_range_is_asked_scaled_and_resized_back():
    with ShortUpstream([2]) as stub:
        engine = RemoteEngine(upstream_url=stub.url, upstream_key=KEY, upstream_protocol="ark")
        plan = _plan("a set of 2", 2)  # 256x192, below Ark's 921 600 pixels
        assert engine.check(plan) == [
            "the upstream is asked for 1120x832 (its size range) and the panels resized to 256*192"
        ]
        panels = list(engine.generate(plan, [], NullProgress()))
    assert stub.asks[0]["size"] == "1120x832"
    assert [p.size for p in panels] == [(256, 192)] * 2
    with pytest.raises(EngineError, match=r"upstream_min_pixels \(5000\) is above upstream_max_pixels \(4000\)"):
        RemoteEngine(upstream_url=stub.url, upstream_key=KEY, upstream_min_pixels=5000, upstream_max_pixels=4000)
