"""The OpenAPI document describes what the server does, and ``/docs`` works with no internet.

Checked against the running app, not against the document alone: every operation marked with the
bearer scheme answers 401 without a key and no other does; real responses (a prediction through its
life, a plan, history, price, uploads, errors) validate against the published schemas; every example
validates against its own schema; the documented submit example is a supported edit on the default
(classic) engine; the Swagger UI page and every asset it names come from the server itself.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.conftest import make_settings, wait_status
from fixtures.images import png
from seqedit.api.app import create_app, make_service
from seqedit.api.models import MODELS
from seqedit.api.openapi import ASSETS, SWAGGER_UI_VERSION

ROOT = Path(__file__).resolve().parents[2]
SNEAKER = ROOT / "examples" / "sneaker.png"


# ---------------------------------------------------------------------- a small JSON-schema checker


def problems(value: Any, schema: dict[str, Any], doc: dict[str, Any], at: str = "$") -> list[str]:
    """What in ``value`` breaks ``schema`` (the subset our document uses: $ref, type (one or a list),
    enum, required, properties, items, additionalProperties); ``[]`` when it fits."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return problems(value, doc["components"]["schemas"][name], doc, at)
    kinds = schema.get("type")
    kinds = [kinds] if isinstance(kinds, str) else kinds
    if kinds is not None and not any(_is(value, k) for k in kinds):
        return [f"{at}: {value!r:.80} is not {kinds}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{at}: {value!r:.80} is not one of {schema['enum']}"]
    out: list[str] = []
    if isinstance(value, dict):
        out += [f"{at}: {name} is missing" for name in schema.get("required", []) if name not in value]
        for name, sub in schema.get("properties", {}).items():
            if name in value:
                out += problems(value[name], sub, doc, f"{at}.{name}")
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for name, item in value.items():
                if name not in schema.get("properties", {}):
                    out += problems(item, extra, doc, f"{at}.{name}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            out += problems(item, schema["items"], doc, f"{at}[{i}]")
    return out


def _is(value: Any, kind: str) -> bool:
    return {
        "object": isinstance(value, dict),
        "array": isinstance(value, list),
        "string": isinstance(value, str),
        "boolean": isinstance(value, bool),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, (int, float)) and not isinstance(value, bool),
        "null": value is None,
    }[kind]


def test_the_checker_can_fail():
    doc = {"components": {"schemas": {"A": {"type": "object", "required": ["x"]}}}}
    assert problems({"x": 1}, {"$ref": "#/components/schemas/A"}, doc) == []
    assert problems({}, {"$ref": "#/components/schemas/A"}, doc) == ["$: x is missing"]
    assert problems([1, "a"], {"type": "array", "items": {"type": "integer"}}, doc) == ["$[1]: 'a' is not ['integer']"]
    assert problems(True, {"type": "integer"}, doc) and problems("z", {"enum": ["y"]}, doc)


# ---------------------------------------------------------------------- fixtures


@pytest.fixture
def doc(client) -> dict[str, Any]:
    r = client.get("/openapi.json")
    assert r.status_code == 200
    return r.json()


def response_schema(doc: dict[str, Any], path: str, method: str, status: int = 200) -> dict[str, Any]:
    return doc["paths"][path][method]["responses"][str(status)]["content"]["application/json"]["schema"]


def assert_fits(doc, r, path: str, method: str) -> dict[str, Any]:
    """The response ``r`` of ``method path`` fits the schema the document publishes for its status."""
    body = r.json()
    schema = response_schema(doc, path, method, r.status_code)
    assert problems(body, schema, doc) == [], (path, r.status_code, body)
    return body


def upload(client, auth, content: bytes, name: str = "ref.png") -> str:
    r = client.post("/api/v3/media/upload/binary", files={"file": (name, content)}, headers=auth)
    assert r.status_code == 200, r.text
    return r.json()["data"]["download_url"]


# ---------------------------------------------------------------------- the document


def test_submit_and_plan_have_one_path_per_model_with_its_body(doc):
    paths = doc["paths"]
    assert "/api/v3/{model_id}" not in paths and "/api/v3/{model_id}/plan" not in paths
    schemas = doc["components"]["schemas"]
    for spec in MODELS.values():
        for path in (f"/api/v3/{spec.id}", f"/api/v3/{spec.id}/plan"):
            op = paths[path]["post"]
            body = op["requestBody"]["content"]["application/json"]
            schema = schemas[body["schema"]["$ref"].rsplit("/", 1)[-1]]
            assert set(spec.schema()["properties"]) <= set(schema["properties"]), path
            assert schema["required"] == ["prompt", "images"]
            assert ("max_images" in schema["properties"]) == (spec.fixed_count is None)
            assert all(p.get("name") != "model_id" for p in op.get("parameters", []))
    ids = [op["operationId"] for ops in paths.values() for op in ops.values()]
    assert len(ids) == len(set(ids)), "operation ids are unique"


def test_every_body_route_documents_its_body(doc):
    """Every POST and PUT has a request body, except cancel (which takes none, and says so)."""
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if method not in ("post", "put"):
                continue
            if path.endswith("/cancel"):
                assert "requestBody" not in op and "No body" in op["description"]
                continue
            assert op.get("requestBody", {}).get("content"), f"{method} {path} has no body"


def test_every_api_route_has_success_and_error_responses(doc):
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            responses = op["responses"]
            assert "422" not in responses, f"{method} {path}: FastAPI's 422 is never what we answer"
            if path.startswith("/api/"):
                assert "200" in responses and "content" in responses["200"], f"{method} {path}"
                assert any(s.startswith("4") for s in responses), f"{method} {path} documents no error"
            error = "ArkError" if path == "/api/v3/images/generations" else "Error"  # each protocol its own body
            for status, response in responses.items():
                if status.startswith("4") and "content" in response:
                    assert response["content"]["application/json"]["schema"] == {
                        "$ref": f"#/components/schemas/{error}"
                    }


def test_every_example_fits_its_schema(doc):
    checked = 0
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            bodies = [op.get("requestBody", {}).get("content", {}).get("application/json")]
            bodies += [r.get("content", {}).get("application/json") for r in op["responses"].values()]
            for media in bodies:
                if media and "example" in media:
                    assert problems(media["example"], media["schema"], doc) == [], (method, path)
                    checked += 1
    assert checked >= 30


def test_the_bearer_scheme_is_exactly_on_the_routes_that_need_a_key(client, doc):
    """Each operation without a key: 401 when it carries the bearer scheme, never otherwise."""
    assert doc["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": doc["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    secured = 0
    for path, ops in doc["paths"].items():
        url = re.sub(r"\{[^}]+\}", "x", path)
        for method, op in ops.items():
            r = client.request(method.upper(), url, content=b"{}", headers={"Content-Type": "application/json"})
            if op.get("security") == [{"bearerAuth": []}]:
                secured += 1
                assert r.status_code == 401, f"{method} {path} -> {r.status_code}"
                schema = op["responses"]["401"]["content"]["application/json"]["schema"]  # the route's own error body
                assert problems(r.json(), schema, doc) == []
            else:
                assert "security" not in op
                assert r.status_code != 401, f"{method} {path} needs a key but does not say so"
    assert secured >= 12


# ---------------------------------------------------------------------- real answers fit the schemas


def test_a_prediction_through_its_life_fits_the_schemas(client, auth, doc):
    model = "bytedance/seedream-v4/edit-sequential"
    submit, plan = f"/api/v3/{model}", f"/api/v3/{model}/plan"
    ref = upload(client, auth, png(64, 48, (200, 40, 40)))
    body = {"prompt": "a series of 3 images of this object", "images": [ref], "size": "64*64", "max_images": 3}
    planned = assert_fits(doc, client.post(plan, json=body, headers=auth), plan, "post")["data"]
    assert planned["count"] == 3 and planned["size"] == "64*64"
    created = assert_fits(doc, client.post(submit, json=body, headers=auth), submit, "post")["data"]
    done = wait_status(client, created["id"], auth)
    assert done["status"] == "completed" and len(done["outputs"]) == 3
    poll = "/api/v3/predictions/{prediction_id}/result"
    assert_fits(doc, client.get(f"/api/v3/predictions/{created['id']}/result", headers=auth), poll, "get")
    history = client.post("/api/v3/predictions", json={"page": 1, "page_size": 5}, headers=auth)
    assert assert_fits(doc, history, "/api/v3/predictions", "post")["data"]["total"] == 1
    cancel = "/api/v3/predictions/{prediction_id}/cancel"
    assert_fits(doc, client.post(f"/api/v3/predictions/{created['id']}/cancel", headers=auth), cancel, "post")
    documented = doc["paths"]["/api/v3/model/price"]["post"]
    body = documented["requestBody"]["content"]["application/json"]["example"]
    price = client.post("/api/v3/model/price", json=body, headers=auth)
    example = documented["responses"]["200"]["content"]["application/json"]["example"]
    assert assert_fits(doc, price, "/api/v3/model/price", "post") == example  # at the default price
    assert_fits(doc, client.get("/api/v3/webhook/secret", headers=auth), "/api/v3/webhook/secret", "get")
    assert_fits(doc, client.get("/api/v3/models", headers=auth), "/api/v3/models", "get")


def test_uploads_fit_the_schemas(client, auth, doc):
    ticket = client.post("/api/v3/media/uploads", json={"filename": "a.png", "size": 100}, headers=auth)
    data = assert_fits(doc, ticket, "/api/v3/media/uploads", "post")["data"]
    put = client.put(data["upload"]["url"].replace("http://testserver", ""), content=png(32, 32))
    assert_fits(doc, put, "/api/v3/media/uploads/{upload_id}", "put")
    binary = client.post("/api/v3/media/upload/binary", files={"file": ("b.png", png(32, 32))}, headers=auth)
    assert_fits(doc, binary, "/api/v3/media/upload/binary", "post")


def test_errors_fit_the_error_schema_and_name_the_field(client, auth, doc):
    model = "bytedance/seedream-v4/edit-sequential"
    ref = upload(client, auth, png(32, 32))
    bad = client.post(f"/api/v3/{model}", json={"prompt": "x", "images": [ref], "max_images": 99}, headers=auth)
    assert bad.status_code == 400
    body = assert_fits(doc, bad, f"/api/v3/{model}", "post")
    assert body["field"] == "max_images" and body["limit"] == "integer 1-15"
    missing = client.get("/api/v3/predictions/0123/result", headers=auth)
    assert assert_fits(doc, missing, "/api/v3/predictions/{prediction_id}/result", "get")["code"] == 404
    unpriced = client.post("/api/v3/model/price", json={"model": "nope"}, headers=auth)
    assert_fits(doc, unpriced, "/api/v3/model/price", "post")


def test_the_documented_submit_example_is_a_supported_edit_on_the_classic_engine(tmp_path, doc):
    """The example a reader copies from /docs does what it says on the default engine (with a real
    upload of the bundled sneaker in place of the example's URL)."""
    service = make_service(make_settings(tmp_path, engine="classic"))
    key, _ = service.store.create_key("docs")
    auth = {"Authorization": f"Bearer {key}"}
    with TestClient(create_app(service)) as client:
        ref = upload(client, auth, SNEAKER.read_bytes(), "sneaker.png")
        for spec in MODELS.values():
            path = f"/api/v3/{spec.id}/plan"
            example = doc["paths"][f"/api/v3/{spec.id}"]["post"]["requestBody"]["content"]["application/json"]
            body = {**example["example"], "images": [ref]}
            r = client.post(path, json=body, headers=auth)
            plan = assert_fits(doc, r, path, "post")["data"]
            assert plan["engine"] == "classic" and plan["supported"], plan
            assert plan["refusal"] is None and plan["count"] == (spec.fixed_count or 4)


# ---------------------------------------------------------------------- /docs offline


def test_docs_page_and_every_asset_it_names_come_from_the_server(client, doc):
    page = client.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert not re.search(r"https?://", html), "the page names no host"
    refs = re.findall(r'(?:src|href|data-openapi-url)="([^"]+)"', html)
    assert {"/docs/assets/swagger-ui.css", "/docs/assets/swagger-ui-bundle.js", "/openapi.json"} <= set(refs)
    types = {".css": "text/css", ".js": "text/javascript", ".json": "application/json"}
    for ref in refs:
        r = client.get(ref)
        assert r.status_code == 200, ref
        assert r.headers["content-type"].startswith(types[Path(ref).suffix]), (ref, r.headers["content-type"])
    init = client.get("/docs/assets/init.js").text
    assert "validatorUrl: null" in init and not re.search(r"https?://", init)
    assert client.get("/openapi.json").json() == doc


def test_docs_assets_serve_only_the_bundled_files(client):
    for name in ("../openapi.py", "..%2Fopenapi.py", "index.html", "swagger-ui.css.map", ""):
        assert client.get(f"/docs/assets/{name}").status_code == 404, name
    assert client.get("/redoc").status_code == 404  # FastAPI's CDN pages are off
    licence = client.get("/docs/assets/LICENSE.txt").text
    assert "Apache License" in licence and "Version 2.0" in licence
    source = (ASSETS / "SOURCE.txt").read_text()
    assert f"swagger-ui-dist {SWAGGER_UI_VERSION}" in source


def test_the_bundled_files_are_the_ones_source_txt_lists():
    import hashlib

    listed = dict(
        reversed(line.split("  ", 1)) for line in (ASSETS / "SOURCE.txt").read_text().splitlines() if "  " in line
    )
    assert set(listed) >= {"swagger-ui-bundle.js", "swagger-ui.css", "LICENSE.txt", "NOTICE.txt"}
    for name, digest in listed.items():
        assert hashlib.sha256((ASSETS / name).read_bytes()).hexdigest() == digest, name


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH")
def test_docs_render_in_a_browser_that_can_reach_only_the_server(tmp_path):
    """Headless Chromium with every host but the server's unreachable renders the operations."""
    from fixtures.server import Server

    server = Server(tmp_path / "serve").start()
    try:
        out = subprocess.run(
            [
                str(CHROMIUM),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                f"--user-data-dir={tmp_path / 'profile'}",
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                "--virtual-time-budget=15000",
                "--dump-dom",
                f"{server.url}/docs",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        server.kill()
    dom = out.stdout
    assert "opblock" in dom, out.stderr[-2000:]
    for spec in MODELS.values():
        assert f"/api/v3/{spec.id}/plan" in dom
    assert "Authorize" in dom  # the bearer scheme
