"""Browser sign-in and the cookie session, without a browser: the one-time token (single use, expiry,
tampering; the race is in test_signins.py), the cookie's flags, the CSRF rules on cookie-authenticated POSTs, a
revoked key, what the page and its assets are served with, and the line ``seqedit serve`` prints."""

from __future__ import annotations

import re
import time

import httpx
import pytest
from fastapi.testclient import TestClient

import fixtures.engines  # noqa: F401  (registers the test engines)
from fixtures.server import Server
from seqedit.api import auth
from seqedit.api.app import create_app, make_service
from seqedit.api.auth import CSRF_HEADER, SESSION_COOKIE
from seqedit.config import Settings
from seqedit.jobs.signins import SignIns, session_key_id, session_value

from .conftest import PLAYGROUND_LINE

ORIGIN = "http://testserver"
BROWSER = {CSRF_HEADER: "1", "origin": ORIGIN}


@pytest.fixture
def service(tmp_path):
    return make_service(Settings(data_dir=tmp_path, engine="test-fast", public_url=ORIGIN))


@pytest.fixture
def client(service):
    with TestClient(create_app(service)) as c:
        yield c


@pytest.fixture
def key(service):
    token, row = service.store.create_key("playground")
    return {**row, "token": token}


def signins(service) -> SignIns:
    return SignIns(service.store.engine, service.secret)


def sign_in(client, token: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return client.post("/playground/session", json={"token": token}, headers=BROWSER if headers is None else headers)


def test_a_token_works_once_and_becomes_an_httponly_samesite_strict_cookie(client, service, key):
    token = signins(service).issue(key["id"])
    first = sign_in(client, token)
    assert first.status_code == 200, first.text
    assert first.json()["data"]["key"] == {"id": key["id"], "name": "playground", "prefix": key["prefix"]}
    cookie = first.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    flags = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "path", "max-age", "samesite"} <= flags and "samesite=strict" in cookie.lower()
    assert "secure" not in flags  # plain http: a Secure cookie would never come back
    assert key["token"] not in first.text and key["token"] not in cookie, "the API key never reaches the browser"
    assert client.get("/playground/session").json()["data"]["key"]["id"] == key["id"]

    client.cookies.clear()
    again = sign_in(client, token)
    assert again.status_code == 401
    assert again.json()["field"] == "token" and "already used" in again.json()["message"]
    assert SESSION_COOKIE not in again.headers.get("set-cookie", "")


def test_expired_forged_and_malformed_tokens_are_refused(client, service, key):
    s = signins(service)
    expired = s.issue(key["id"], seconds=60, now=time.time() - 120)
    genuine = s.issue(key["id"])
    ident, expires, sig = genuine.split(".")
    longer = f"{ident}.{int(expires) + 86400}.{sig}"  # the expiry pushed out: the signature no longer fits
    for token in (expired, longer, f"{ident}.{expires}.{'A' * len(sig)}", "nonsense", "", "a.b.c", "x" * 500):
        r = sign_in(client, token)
        assert r.status_code == 401, token
        assert r.json()["field"] == "token"
    assert sign_in(client, genuine).status_code == 200, "the genuine token was not spent by the forgeries"
    assert sign_in(client, 12345).status_code == 401  # type: ignore[arg-type]


def test_the_exchange_itself_needs_the_header_and_this_origin(client, service, key):
    token = signins(service).issue(key["id"])
    assert sign_in(client, token, headers={}).status_code == 403
    assert sign_in(client, token, headers={CSRF_HEADER: "1", "origin": "https://evil.example"}).status_code == 403
    assert sign_in(client, token).status_code == 200, "the refused attempts did not spend the token"


def test_cookie_authenticated_posts_need_the_header_and_this_origin(client, service, key):
    assert sign_in(client, signins(service).issue(key["id"])).status_code == 200
    history = {"page": 1, "page_size": 5}
    assert client.post("/api/v3/predictions", json=history).status_code == 403  # a cross-site form's request
    r = client.post("/api/v3/predictions", json=history, headers={CSRF_HEADER: "1", "origin": "http://evil.example"})
    assert r.status_code == 403 and CSRF_HEADER in r.json()["message"]
    assert client.post("/api/v3/predictions", json=history, headers=BROWSER).status_code == 200
    assert client.post("/api/v3/predictions", json=history, headers={CSRF_HEADER: "1"}).status_code == 200
    # GETs need no header (SameSite=Strict keeps the cookie off cross-site navigations anyway)
    assert client.get("/playground/config").status_code == 200
    # a bearer key still works as before, and wins over a cookie
    token, _ = service.store.create_key("other")
    r = client.post("/api/v3/predictions", json=history, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200


def test_a_forged_or_expired_session_and_a_revoked_key_are_401(client, service, key):
    client.cookies.set(SESSION_COOKIE, session_value(b"another secret", key["id"]))
    assert client.get("/playground/session").status_code == 401
    client.cookies.set(SESSION_COOKIE, session_value(service.secret, key["id"], now=time.time() - 10**6))
    assert client.get("/playground/session").status_code == 401
    client.cookies.set(SESSION_COOKIE, session_value(service.secret, key["id"]))
    assert client.get("/playground/session").status_code == 200
    service.store.revoke_key(key["id"])
    auth._cache.clear()  # the key cache's lifetime (api.auth.CACHE_TTL) passing, without sleeping it out
    r = client.get("/playground/session")
    assert r.status_code == 401 and "revoked" in r.json()["message"]


def test_sign_out_clears_the_cookie(client, service, key):
    assert sign_in(client, signins(service).issue(key["id"])).status_code == 200
    out = client.post("/playground/signout", headers=BROWSER)
    assert out.status_code == 200 and 'seqedit_session=""' in out.headers["set-cookie"]
    assert client.get("/playground/session").status_code == 401


def test_session_values_are_signed_and_expire(service):
    value = session_value(b"s", "abc", seconds=60, now=1000.0)
    assert session_key_id(b"s", value, now=1059.0) == "abc"
    assert session_key_id(b"s", value, now=1060.0) is None
    assert session_key_id(b"t", value, now=1000.0) is None
    assert session_key_id(b"s", value.replace("abc", "abd"), now=1000.0) is None
    assert session_key_id(b"s", None) is None and session_key_id(b"s", 7) is None


def test_the_page_and_its_assets_allow_only_this_origin(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "connect-src 'self'" in csp and "script-src 'self'" in csp
    assert page.headers["referrer-policy"] == "no-referrer"
    assert not re.search(r"""(src|href|action)\s*=\s*["']?(https?:)?//""", page.text), "the page links another host"
    for name, kind in (("app.js", "text/javascript"), ("zip.js", "text/javascript"), ("app.css", "text/css")):
        r = client.get(f"/playground/static/{name}")
        assert r.status_code == 200 and r.headers["content-type"].startswith(kind), name
        assert not re.search(r"https?://|//[a-z]", r.text.replace("https?:\\/\\/", "")), f"{name} names another host"
    for bad in ("..%2Fplayground.py", "../playground.py", ".hidden", "nope.js", "%2e%2e%2fauth.py"):
        assert client.get(f"/playground/static/{bad}").status_code == 404, bad


def test_examples_serve_only_their_own_images(client):
    items = client.get("/playground/examples").json()["data"]["items"]
    assert {e["id"] for e in items} >= {"shoe-colorway", "magazine-covers", "manga-storyboard", "cyberpunk-life"}
    shoe = next(e for e in items if e["id"] == "shoe-colorway")
    assert shoe["prompt"].startswith("Generate a series of 4 edited images") and shoe["max_images"] == 4
    r = client.get(shoe["refs"][0]["url"])
    assert r.status_code == 200 and r.content[:8] == b"\x89PNG\r\n\x1a\n"
    for bad in ("make_sneaker.py", "LICENSES.md", "..%2Fpyproject.toml", "prompts"):
        assert client.get(f"/playground/examples/{bad}").status_code == 404, bad


def test_config_offers_landscape_and_portrait_presets(client, service, key):
    assert sign_in(client, signins(service).issue(key["id"])).status_code == 200
    data = client.get("/playground/config").json()["data"]
    sizes = {(p["width"], p["height"]) for p in data["presets"]}
    assert {(1728, 1152), (1152, 1728), (1024, 1024), (384, 256), (256, 384)} <= sizes
    assert all(p["width"] % 64 == 0 and p["height"] % 64 == 0 for p in data["presets"])
    assert data["limits"]["max_refs"] == 10 and data["limits"]["max_outputs"] == 15
    assert data["engine"] == "test-fast" and data["unit_price"] == pytest.approx(0.027)


def test_serve_prints_a_one_time_playground_url(tmp_path):
    server = Server(tmp_path, engine="test-fast").start()
    try:
        m = PLAYGROUND_LINE.search(server.log())
        assert m, server.log()
        url, token = m.group(1), m.group(2)
        assert url.startswith(server.url + "/?token=")
        assert server.key and server.key not in url
        with httpx.Client(base_url=server.url) as c:
            headers = {CSRF_HEADER: "1", "origin": server.url}
            first = c.post("/playground/session", json={"token": token}, headers=headers)
            assert first.status_code == 200, first.text
            assert c.get("/playground/session").status_code == 200
            c.cookies.clear()
            assert c.post("/playground/session", json={"token": token}, headers=headers).status_code == 401
    finally:
        server.kill()
