"""No route answers 500, whatever the body: Hypothesis fuzzes every route of the OpenAPI schema.

Our routes read their JSON themselves (``wavespeed.json_body``); the body strategies come from the
request schemas the service publishes (``ModelSpec.schema()``, what ``GET /api/v3/models`` returns and
the OpenAPI document's per-model submit and plan bodies) and from the documented parameters of the
other routes. Each field gets either a value of its schema's type or any JSON value at all (deep,
huge, of the wrong type), and raw bodies are thrown in too (not JSON, not an object, truncated).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fixtures.images import data_uri, png
from seqedit.api.models import MODELS

FUZZ = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**62, max_value=2**80)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
)
any_json = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
deep = st.integers(min_value=1, max_value=3000).map(lambda n: json.loads("[" * min(n, 900) + "]" * min(n, 900)))
edges = st.sampled_from(
    [
        2**62,
        2**63,
        2**64 + 1,
        -(2**63) - 1,
        -1,
        0,
        1e300,
        -1e300,
        0.5,
        True,
        False,
        "",
        "0",
        "-1",
        "9" * 30,
        [],
        {},
        ["a"],
        {"$ne": 1},
    ]
)
IMAGE = data_uri(png())
small_sizes = st.sampled_from(["64*64", "96*128", "64x64", "0*0", "99999*99999", "64*64*64", "-64*64"])


def of_schema(prop: dict[str, Any]) -> st.SearchStrategy[Any]:
    """A value of the JSON-schema property's type (kept cheap: small sizes, our own tiny image)."""
    if "enum" in prop:
        return st.sampled_from(prop["enum"])
    kind = prop.get("type")
    if kind == "boolean":
        return st.booleans()
    if kind == "integer":
        return st.integers(min_value=prop.get("minimum", -(2**40)) - 2, max_value=prop.get("maximum", 2**40) + 2)
    if kind == "array":
        images = st.sampled_from([IMAGE, "data:image/png;base64,AAAA", "not an image", "", "seqedit-object:x"])
        return st.lists(images | st.text(max_size=20), max_size=prop.get("maxItems", 4) + 1)
    if "W*H" in prop.get("description", ""):
        return small_sizes
    return st.text(max_size=40)


def body_for(props: dict[str, dict[str, Any]]) -> st.SearchStrategy[Any]:
    """Bodies for a route: some of its fields, each of its type or anything; sometimes not an object."""
    fields = {name: st.one_of(of_schema(prop), edges, any_json, deep) for name, prop in props.items()}
    objects = st.fixed_dictionaries({}, optional=fields)  # type: ignore[arg-type]
    return st.one_of(objects, objects, objects, any_json)


ROUTE_BODIES: dict[str, dict[str, dict[str, Any]]] = {
    **{f"/api/v3/{m.id}": m.schema()["properties"] | {"webhook_url": {"type": "string"}} for m in MODELS.values()},
    **{f"/api/v3/{m.id}/plan": m.schema()["properties"] for m in MODELS.values()},
    "/api/v3/predictions": {
        "page": {"type": "integer", "minimum": 1, "maximum": 1_000_000},
        "page_size": {"type": "integer", "minimum": 1, "maximum": 100},
        "model": {"type": "string", "enum": list(MODELS)},
        "status": {"type": "string", "enum": ["created", "processing", "completed", "failed", "cancelled"]},
        "created_after": {"type": "string"},
        "created_before": {"type": "integer"},
    },
    "/api/v3/model/price": {
        "model": {"type": "string", "enum": list(MODELS)},
        "model_id": {"type": "string"},
        "max_images": {"type": "integer", "minimum": 1, "maximum": 15},
    },
    "/api/v3/media/uploads": {
        "filename": {"type": "string"},
        "size": {"type": "integer", "minimum": 0, "maximum": 10**9},
        "content_type": {"type": "string"},
    },
}


def _send(client, auth, method: str, path: str, body: Any, raw: bytes | None = None):
    headers = {**auth, "Content-Type": "application/json"}
    content = raw if raw is not None else json.dumps(body, allow_nan=True).encode()
    r = client.request(method, path, content=content, headers=headers)
    assert r.status_code < 500, f"{method} {path} {content[:300]!r} -> {r.status_code} {r.text[:500]}"
    if path != "/api/v3/media/uploads/x" and r.status_code != 204:
        env = r.json()
        assert env["code"] == r.status_code and (env["data"] is None) == (r.status_code != 200)
    return r


def test_the_fuzzed_routes_are_every_body_route_of_the_schema(client):
    """Every route in the OpenAPI document that takes a body is fuzzed below (a new one must be added)."""
    paths = client.get("/openapi.json").json()["paths"]
    with_body = {(m.upper(), p) for p, ops in paths.items() for m in ops if m in ("post", "put")}
    fuzzed = {("POST", p) for p in ROUTE_BODIES} | {  # submit and plan: one path per model id
        ("POST", "/api/v3/predictions/{prediction_id}/cancel"),
        ("PUT", "/api/v3/media/uploads/{upload_id}"),
        ("POST", "/api/v3/media/upload/binary"),
        ("POST", "/api/v3/images/generations"),  # Ark's body and error shape: fuzzed in test_ark_inputs.py
    }
    assert with_body <= fuzzed, with_body - fuzzed


@pytest.mark.parametrize("route", list(ROUTE_BODIES))
def test_json_routes_never_500(client, auth, route):
    @FUZZ
    @given(body=body_for(ROUTE_BODIES[route]))
    def run(body):
        _send(client, auth, "POST", route, body)

    run()


@FUZZ
@given(
    raw=st.binary(max_size=200) | st.sampled_from([b'{"a": NaN}', b'{"a": 1e999}', b"[" * 5000, b'{"a":', b"\xff\xfe"])
)
def test_raw_bodies_never_500(client, auth, raw):
    for route in ROUTE_BODIES:
        _send(client, auth, "POST", route, None, raw=raw)


ids = st.text(
    alphabet=st.characters(
        min_codepoint=33, max_codepoint=0x2FFF, exclude_characters="/?#%\x7f", exclude_categories=["Cc", "Cs"]
    ),
    max_size=40,
)


@FUZZ
@given(pid=ids, body=any_json)
def test_path_routes_never_500(client, auth, pid, body):
    for method, path in (
        ("GET", f"/api/v3/predictions/{pid}/result"),
        ("GET", f"/api/v3/predictions/{pid}"),
        ("GET", f"/api/v2/predictions/{pid}/result"),
        ("POST", f"/api/v3/predictions/{pid}/cancel"),
        ("POST", f"/api/v3/bytedance/seedream-v4/{pid}"),
    ):
        _send(client, auth, method, path, body)


@FUZZ
@given(
    pid=ids,
    query=st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126, exclude_characters="#"), max_size=40),
    data=st.binary(max_size=64),
)
def test_upload_routes_never_500(client, auth, pid, query, data):
    r = client.put(f"/api/v3/media/uploads/{pid}?{query}", content=data)
    assert r.status_code < 500, r.text
    r = client.get(f"/files/uploads/{pid}?{query}")
    assert r.status_code < 500, r.text
    r = client.post("/api/v3/media/upload/binary", files={"file": (pid or "f", data)}, headers=auth)
    assert r.status_code < 500, r.text
