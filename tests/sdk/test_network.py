"""What the SDK does when the network misbehaves, through a real TCP proxy in front of a real server:
a submit whose answer is lost is never re-sent (one task), an Idempotency-Key makes the deliberate
resend safe, and requests that create nothing are retried within the explicit limits."""

from __future__ import annotations

import httpx
import pytest

from sdk.proxy import Proxy
from seqedit import Client
from seqedit.sdk import ApiError, Retries, TransportError

FAST = Retries(attempts=3, backoff=0.0, max_backoff=0.0, max_retry_after=0.0)
SUBMIT = "/api/v3/bytedance/seedream-v4/edit-sequential"


@pytest.fixture(scope="module")
def direct(server):
    with Client(server.url, server.key, retries=FAST) as c:
        yield c


@pytest.fixture(scope="module")
def ref(direct, photos):
    return direct.upload(photos[0])


def _proxy(server, plan):
    return Proxy(server.port, plan)


def test_a_lost_submit_answer_raises_and_creates_one_task(server, direct, ref):
    before = direct.history(page_size=1).total
    proxy = _proxy(server, lambda n, method, path: "drop" if method == "POST" and path == SUBMIT else "forward")
    try:
        with Client(proxy.url, server.key, retries=FAST) as client:
            body = {"prompt": "in black and white", "images": [ref], "size": "64*64"}
            with pytest.raises(TransportError) as info:
                client.submit(body, idempotency_key="lost-answer-1")
            assert info.value.idempotency_key == "lost-answer-1"
            assert "not re-sent" in str(info.value) and "lost-answer-1" in str(info.value)
            assert proxy.requests("POST", SUBMIT) == ["drop"]  # sent once, never again
            assert direct.history(page_size=1).total == before + 1  # the server did create it
            # the deliberate resend with the same key returns that task instead of a second one
            again = direct.submit(body, idempotency_key="lost-answer-1")
            assert direct.history(page_size=1).total == before + 1
            assert direct.history(page_size=1).items[0].id == again.id
            direct.wait(again.id, timeout=60, poll_interval=0.1)
    finally:
        proxy.close()


def test_a_submit_is_never_retried_even_on_503_or_a_refused_connection(server, direct, ref):
    proxy = _proxy(server, lambda n, method, path: "503")
    try:
        with Client(proxy.url, server.key, retries=FAST) as client:
            with pytest.raises(ApiError) as info:
                client.submit({"prompt": "in black and white", "images": [ref]})
            assert info.value.status == 503
            assert proxy.requests("POST", SUBMIT) == ["503"]
    finally:
        proxy.close()
    refusing = _proxy(server, lambda n, method, path: "refuse")
    try:
        with Client(refusing.url, server.key, retries=FAST) as client, pytest.raises(TransportError):
            client.submit({"prompt": "in black and white", "images": [ref]})
        assert refusing.requests("POST", SUBMIT) == ["refuse"]
    finally:
        refusing.close()


def test_polls_are_retried_through_drops_and_503s(server, direct, ref):
    p = direct.submit({"prompt": "in black and white", "images": [ref], "size": "64*64"})
    direct.wait(p.id, timeout=60, poll_interval=0.1)
    actions = iter(["refuse", "503", "forward"])
    proxy = _proxy(server, lambda n, method, path: next(actions, "forward"))
    try:
        with Client(proxy.url, server.key, retries=FAST) as client:
            got = client.result(p.id)
            assert got.status == "completed" and got.id == p.id
            assert proxy.requests("GET", f"/api/v3/predictions/{p.id}/result") == ["refuse", "503", "forward"]
    finally:
        proxy.close()


def test_retries_stop_at_the_limit(server, ref):
    proxy = _proxy(server, lambda n, method, path: "503")
    try:
        with Client(proxy.url, server.key, retries=FAST) as client:
            with pytest.raises(ApiError) as info:
                client.history()
            assert info.value.status == 503 and len(proxy.log) == FAST.attempts
        refusing = _proxy(server, lambda n, method, path: "refuse")
        try:
            with Client(refusing.url, server.key, retries=2) as client:
                client.retries = Retries(attempts=3, backoff=0.0)
                with pytest.raises(TransportError, match="no answer after 3 tries"):
                    client.cancel("0" * 32)
            assert len(refusing.log) == 3
        finally:
            refusing.close()
    finally:
        proxy.close()


def test_retry_delays_are_capped_and_honour_retry_after():
    r = Retries(attempts=5, backoff=0.5, max_backoff=2.0, max_retry_after=10.0)
    assert [r.delay(k) for k in range(4)] == [0.5, 1.0, 2.0, 2.0]
    req = httpx.Request("GET", "http://x")
    assert r.delay(0, httpx.Response(429, headers={"Retry-After": "3"}, request=req)) == 3.0
    assert r.delay(0, httpx.Response(429, headers={"Retry-After": "3600"}, request=req)) == 10.0
    assert r.delay(1, httpx.Response(503, headers={"Retry-After": "soon"}, request=req)) == 1.0
    assert Retries.of(0).attempts == 1 and Retries.of(3).attempts == 4
    with pytest.raises(ValueError):
        Retries.of(-1)
