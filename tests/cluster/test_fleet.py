"""Two API processes and two worker processes on PostgreSQL, Redis and S3 (``scripts/cluster``), on the
classic engine: many clients across both APIs, the official SDK against either, presigned S3 outputs,
and per-key fairness under a burst."""

from __future__ import annotations

import threading
from urllib.parse import urlsplit

import httpx
import pytest

from cluster.lib import Cluster, decoded, finished, poll, reference, running, submit

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

SIZE = (128, 96)
PROMPTS = [  # classic-supported edits, one or two panels
    ("pencil sketch", 1),
    ("Panel 1: pencil sketch. Panel 2: watercolor", 2),
    ("watercolor", 1),
    ("Panel 1: pop-art. Panel 2: pencil sketch", 2),
]


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    with running(tmp_path_factory.mktemp("fleet"), "--api", "2", "--workers", "2", "--engine", "classic") as c:
        yield c


@pytest.fixture(scope="module")
def ref():
    return reference()


def body(ref: str, k: int) -> tuple[dict, int]:
    prompt, n = PROMPTS[k % len(PROMPTS)]
    return {"prompt": prompt, "images": [ref], "size": f"{SIZE[0]}*{SIZE[1]}", "max_images": n}, n


def test_up_wrote_its_state_and_a_second_up_is_a_no_op(fleet: Cluster):
    names = set(fleet.state["components"])
    assert {"postgres", "redis", "api-1", "api-2", "worker-1", "worker-2"} <= names
    assert fleet.env["SEQEDIT_DB_URL"].startswith("postgresql+psycopg://")
    assert fleet.env["SEQEDIT_QUEUE_URL"].startswith("redis://")
    env_file = (fleet.root / "env").read_text()
    assert "export SEQEDIT_API_KEY=" in env_file and "export SEQEDIT_DB_URL=" in env_file
    assert (fleet.root / "env").stat().st_mode & 0o077 == 0  # the key and the signing secret: owner only
    from cluster.lib import script

    again = script("up", str(fleet.root))
    assert "already up" in again.stdout
    assert script("status", str(fleet.root)).returncode == 0
    for url in fleet.apis:
        assert httpx.get(url + "/readyz", timeout=10).status_code == 200


def test_forty_jobs_from_four_clients_across_both_apis(fleet: Cluster, ref: str):
    """4 concurrent clients × 10 jobs, alternating between the two API processes: every job completes
    with its count of outputs, each decodable at the requested size."""
    submitted: dict[str, tuple[int, str]] = {}  # id -> (outputs expected, the API it went to)
    errors: list[BaseException] = []
    lock = threading.Lock()

    def client(c: int) -> None:
        try:
            https = [fleet.http(url) for url in fleet.apis]
            for j in range(10):
                api = (c + j) % 2
                b, n = body(ref, c * 10 + j)
                pid = submit(https[api], b)
                with lock:
                    submitted[pid] = (n, fleet.apis[api])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(c,)) for c in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors
    assert len(submitted) == 40
    assert {api for _, api in submitted.values()} == set(fleet.apis)

    rows = finished(fleet, submitted)
    assert {r["status"] for r in rows.values()} == {"completed"}, {i: r["error"] for i, r in rows.items()}
    with fleet.http(fleet.apis[1]) as http:
        for pid, (n, _) in submitted.items():
            data = poll(http, pid)  # any API answers for any job
            assert data["status"] == "completed" and len(data["outputs"]) == n
            for url in data["outputs"]:
                r = httpx.get(url, timeout=30)
                assert r.status_code == 200, url
                assert decoded(r.content).size == SIZE
            assert rows[pid]["attempt"] == 1 and fleet.usage_count(pid) == 1


@pytest.mark.parametrize("api", [0, 1], ids=["api-1", "api-2"])
def test_the_official_wavespeed_sdk_works_against_either_api(fleet: Cluster, api: int, tmp_path):
    wavespeed = pytest.importorskip("wavespeed")
    client = wavespeed.Client(api_key=fleet.key, base_url=fleet.apis[api] + "/")
    path = tmp_path / "ref.jpg"
    path.write_bytes(__import__("base64").b64decode(reference().split(",", 1)[1]))
    uploaded = client.upload(str(path))
    result = client.run(
        "bytedance/seedream-v4/edit-sequential",
        {
            "prompt": "Panel 1: pencil sketch. Panel 2: watercolor",
            "images": [uploaded],
            "size": "128*96",
            "max_images": 2,
        },
        poll_interval=0.2,
        timeout=180,
    )
    assert len(result["outputs"]) == 2
    for url in result["outputs"]:
        assert decoded(httpx.get(url, timeout=30).content).size == SIZE


def test_outputs_are_presigned_s3_urls_that_download(fleet: Cluster, ref: str):
    assert fleet.options["storage"] == "s3", "this seqedit has no S3 storage (open_storage refuses s3://)"
    endpoint = fleet.component("s3")["url"]
    with fleet.http(fleet.apis[0]) as http:
        pid = submit(http, body(ref, 1)[0])
        finished(fleet, [pid])
        data = poll(http, pid)
    assert data["status"] == "completed" and len(data["outputs"]) == 2
    for url in data["outputs"]:
        parts = urlsplit(url)
        assert f"{parts.scheme}://{parts.netloc}" == endpoint, url  # straight from the object store
        assert parts.path.startswith("/seqedit/") and "X-Amz-Signature=" in parts.query, url
        r = httpx.get(url, timeout=30)
        assert r.status_code == 200 and decoded(r.content).size == SIZE
        tampered = url.replace("X-Amz-Signature=", "X-Amz-Signature=0")
        assert httpx.get(tampered, timeout=30).status_code == 403


def test_a_burst_from_one_key_does_not_starve_another_keys_single_job(fleet: Cluster, ref: str):
    """Key A submits 30 jobs, then key B one: B's job starts before every A job still waiting when it
    arrived, except at most one per consumer (a consumer may have taken an A message just before B's
    arrived): B waits at most one job's duration. Asserted on the rows' order, not on timings."""
    other = fleet.seqedit("keys", "create", "--name", "fairness").strip().splitlines()[-1]
    consumers = fleet.options["workers"] * fleet.options["concurrency"]
    burst: list[str] = []
    with fleet.http(fleet.apis[0]) as a:
        for k in range(30):
            burst.append(submit(a, body(ref, 2 * k)[0]))  # one-panel jobs
    with fleet.http(fleet.apis[1], key=other) as b:
        single = submit(b, body(ref, 0)[0])
    rows = finished(fleet, [*burst, single])
    assert {r["status"] for r in rows.values()} == {"completed"}
    arrived = rows[single]["created_at"]
    started = rows[single]["started_at"]
    waiting = [rows[i] for i in burst if rows[i]["started_at"] > arrived]  # A jobs not started when B came
    assert len(waiting) > consumers, "the burst was drained before the single job came: nothing was shown"
    ahead = [r for r in waiting if r["started_at"] < started]
    assert len(ahead) <= consumers, f"{len(ahead)} of key A's waiting jobs started before key B's single job"
