"""The published API description: the OpenAPI document at ``/openapi.json`` and the Swagger UI at ``/docs``.

Our handlers read their JSON themselves (``wavespeed.json_body``: strict size, depth and number rules),
so FastAPI sees no request models and its generated document has no bodies. ``install(app)`` replaces
the app's ``openapi()`` with one that starts from FastAPI's document (paths, parameters, handler
docstrings) and adds what a client needs to write a request:

* **one path per model id** for submit and plan (``/api/v3/bytedance/seedream-v4/edit-sequential``, …),
  instead of the generic ``/api/v3/{model_id}`` catch-all, each with that model's request schema
  (``ModelSpec.schema()``, the same one ``GET /api/v3/models`` returns) and a request that works on
  the default (classic) engine as its example;
* request bodies for history, price and upload tickets, the multipart upload and the ticket's ``PUT``;
* response schemas with examples: the ``{code, message, data}`` envelope around the prediction object,
  the plan, a history page, a price, an upload; the error body with ``field`` and ``limit``;
* the Ark route ``POST /api/v3/images/generations`` (``api.ark``): its body, the JSON reply, the SSE
  stream and Ark's own error body (``ArkRequest``, ``ArkImages``, ``ArkError``);
* the bearer security scheme, applied to exactly the routes whose handler depends on ``require_key``
  (found by walking each route's dependencies, so a new authenticated route is marked by itself).

``/docs`` is Swagger UI from files bundled in ``api/static/docs`` (swagger-ui-dist, Apache-2.0, its
LICENSE beside it), served under ``/docs/assets/``: the page loads with no internet and names no other
host (the online validator badge is switched off).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fastapi.routing
from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse, HTMLResponse, PlainTextResponse, Response
from fastapi.routing import APIRoute

from seqedit import __version__
from seqedit.api.auth import require_key
from seqedit.api.models import ARK_MODELS, MODELS, ModelSpec
from seqedit.pricing import DEFAULT_PRICE_PER_IMAGE, cost

__all__ = ["install", "document", "ASSETS", "SWAGGER_UI_VERSION"]

ASSETS = Path(__file__).with_name("static") / "docs"
SWAGGER_UI_VERSION = "5.35.0"
ASSET_TYPES = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "init.js": "text/javascript; charset=utf-8",
    "LICENSE.txt": "text/plain; charset=utf-8",
    "NOTICE.txt": "text/plain; charset=utf-8",
    "swagger-ui-bundle.js.LICENSE.txt": "text/plain; charset=utf-8",
    "SOURCE.txt": "text/plain; charset=utf-8",
}
"""The only files ``/docs/assets/`` serves (a fixed list: no path from the URL reaches the disk)."""

BEARER = "bearerAuth"
SUBMIT_TEMPLATE = "/api/v3/{model_id}"
PLAN_TEMPLATE = "/api/v3/{model_id}/plan"

# An upload URL as seqedit hands it out (the example requests use it as their reference).
EXAMPLE_UPLOAD = (
    "http://127.0.0.1:8000/files/uploads/6f1c0a9e2b7d4e58a1f03c2d9b8e7a61/sneaker.png"
    "?expires=1767225600&sig=3b5e0c8d1a7f4e2b9c6d0a3f8e1b7c4d5a2f9e0c3b6d8a1f4e7c0b3d6a9f2e5c"
)
EXAMPLE_ID = "6488c2754f6f4dfea924382fa14d11bd"
# A prompt the default (classic) engine does: one colour per panel (README's quick start, shortened).
EXAMPLE_PROMPT = (
    "a series of 4 images of this sneaker:\n"
    "Panel 1 — classic white + black swoosh\nPanel 2 — navy + gold accents\n"
    "Panel 3 — matte red + white outsole\nPanel 4 — forest green + gum sole"
)


def _envelope(data: dict[str, Any], example: Any) -> dict[str, Any]:
    """A 200 response: ``{"code": 200, "message": "success", "data": <data>}``."""
    return {
        "description": "success: the envelope `{code: 200, message: success, data}`",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["code", "message", "data"],
                    "properties": {
                        "code": {"type": "integer", "enum": [200]},
                        "message": {"type": "string", "enum": ["success"]},
                        "data": data,
                    },
                },
                "example": {"code": 200, "message": "success", "data": example},
            }
        },
    }


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


ERROR_EXAMPLES: dict[int, tuple[str, dict[str, Any]]] = {
    400: (
        "bad input: the field and the broken rule are named, no task is created",
        {
            "code": 400,
            "message": "max_images: 99 is out of range (limit: integer 1-15)",
            "data": None,
            "error": "max_images: 99 is out of range (limit: integer 1-15)",
            "field": "max_images",
            "limit": "integer 1-15",
        },
    ),
    401: (
        "missing or invalid API key",
        {
            "code": 401,
            "message": "Unauthorized: invalid API key",
            "data": None,
            "error": "Unauthorized: invalid API key",
        },
    ),
    404: (
        "unknown model, or a prediction or file that is not yours",
        {
            "code": 404,
            "message": f"prediction {EXAMPLE_ID} not found",
            "data": None,
            "error": f"prediction {EXAMPLE_ID} not found",
        },
    ),
    413: (
        "a body or an image over a byte limit (`field` and `limit` name it)",
        {
            "code": 413,
            "message": "the request body is larger than the limit of 104857600 bytes",
            "data": None,
            "error": "the request body is larger than the limit of 104857600 bytes",
            "field": "body",
            "limit": "104857600 bytes",
        },
    ),
    429: (
        "the key's concurrency limit (`x-should-retry: false`)",
        {
            "code": 429,
            "message": "concurrency limit reached: at most 4 queued or running predictions per key",
            "data": None,
            "error": "concurrency limit reached: at most 4 queued or running predictions per key",
        },
    ),
}


def _errors(*statuses: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for status in statuses:
        description, example = ERROR_EXAMPLES[status]
        out[str(status)] = {
            "description": description,
            "content": {"application/json": {"schema": _ref("Error"), "example": example}},
        }
    return out


def _json_body(schema: dict[str, Any], example: Any, *, required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": schema, "example": example}}}


# ---------------------------------------------------------------------- component schemas

ROUTE: dict[str, Any] = {
    "type": ["object", "null"],
    "description": "extension: the engine that runs the task and why (`--engine auto` picks classic or its "
    "fallback per request); null until planned",
    "required": ["engine", "reason"],
    "properties": {
        "engine": {"type": "string", "description": "the engine that runs it: classic, diffusion, …"},
        "reason": {"type": "string", "description": "one line"},
    },
}

PROVENANCE: dict[str, Any] = {
    "type": ["object", "null"],
    "description": "extension: what made the set, once rendering starts (null before): `engine`, `seqedit` and "
    "`pillow` versions, and what the engine resolved — diffusion: `model`, `model_source` (hub id + revision, or "
    "a local folder's sha256), `pipeline`, `family`, `strategy`, `steps`, `guidance`, `seeds` (one per panel), "
    "`generation_size`, `device`, `dtype`, `options`, `versions`; classic: `work_pixels`, `ops_version`, "
    "`operations`, `versions`; remote: `upstream_url`, `upstream_protocol`, `upstream_model`. Never a secret",
    "required": ["engine", "seqedit"],
    "properties": {
        "engine": {"type": "string", "description": "the engine that rendered it"},
        "seqedit": {"type": "string", "description": "seqedit's version"},
        "pillow": {"type": "string", "description": "Pillow's version (it encodes every panel)"},
    },
    "additionalProperties": True,
}

FIGURE: dict[str, Any] = {
    "type": "object",
    "required": ["value", "threshold", "better", "passed", "reason"],
    "properties": {
        "value": {"type": ["number", "null"], "description": "null: the figure does not apply (see reason)"},
        "threshold": {"type": "number"},
        "better": {"type": "string", "enum": ["lower", "higher"], "description": "which side of it passes"},
        "passed": {"type": ["boolean", "null"]},
        "reason": {"type": ["string", "null"], "description": "why there is no value"},
    },
}

CONSISTENCY: dict[str, Any] = {
    "type": ["object", "null"],
    "description": "extension: consistency figures per panel (identity, palette, palette_ref, structure, "
    "product), the guard's re-renders and its warnings; null until completed",
    "properties": {
        "guard": {"type": "boolean", "description": "the engine's consistency_guard option"},
        "max_retries": {"type": "integer"},
        "panels": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "index": {"type": "integer"},
                    "figures": {"type": "object", "additionalProperties": FIGURE},
                },
            },
        },
        "retries": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "panel": {"type": "integer"},
                    "attempt": {"type": "integer"},
                    "seed": {"type": "integer"},
                    "reason": {"type": "string"},
                },
            },
        },
        "warnings": {"type": "array", "items": {"type": "string"}},
    },
}

CHECKS: dict[str, Any] = {
    "type": "object",
    "description": "what will be checked after each panel (the figures and whether the guard re-renders on them)",
    "properties": {
        "guard": {"type": "boolean"},
        "max_retries": {"type": "integer"},
        "checks": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "threshold": {"type": "number"},
                    "better": {"type": "string", "enum": ["lower", "higher"]},
                    "guarded": {"type": "boolean"},
                    "what": {"type": "string"},
                    "panels": {"type": "array", "items": {"type": "integer"}, "description": "where it applies"},
                    "reason": {"type": ["string", "null"], "description": "why it applies to no panel"},
                },
            },
        },
    },
}

PREDICTION: dict[str, Any] = {
    "type": "object",
    "description": "A prediction (task). `outputs` is `[]` until `status` is `completed`.",
    "required": ["id", "model", "input", "outputs", "urls", "has_nsfw_contents", "status", "created_at", "error"],
    "properties": {
        "id": {"type": "string", "description": "32 hex characters"},
        "model": {"type": "string"},
        "input": {"type": "object", "description": "the accepted inputs (long inline base64 abbreviated)"},
        "outputs": {
            "type": "array",
            "items": {"type": "string"},
            "description": "signed file URLs, or naked base64 with `enable_base64_output`",
        },
        "urls": {"type": "object", "properties": {"get": {"type": "string", "description": "the poll URL"}}},
        "has_nsfw_contents": {"type": "array", "items": {"type": "boolean"}},
        "status": {"type": "string", "enum": ["created", "processing", "completed", "failed", "cancelled"]},
        "created_at": {"type": "string", "description": "ISO-8601 UTC with milliseconds and Z"},
        "error": {"type": "string", "description": '"" unless failed or cancelled'},
        "executionTime": {"type": "integer", "description": "ms"},
        "timings": {"type": "object", "properties": {"inference": {"type": "integer", "description": "ms"}}},
        "code": {
            "type": "integer",
            "description": "on failure: 1400/1401 bad input, 1402 an image that cannot be fetched, 1403 an edit "
            "the engine cannot do, 5000 internal; 5004 on a sync-mode timeout",
        },
        "seed": {"type": ["integer", "null"], "description": "extension: the seed used"},
        "warnings": {"type": "array", "items": {"type": "string"}, "description": "extension"},
        "queue_position": {
            "type": "integer",
            "description": "extension, while created: queued jobs ahead of it (0: next)",
        },
        "eta_seconds": {
            "type": ["number", "null"],
            "description": "extension, while created: estimated seconds until it completes (null: unknown)",
        },
        "progress": {
            "type": "object",
            "description": "extension: panels committed and the engine's 0-1 estimate",
            "properties": {
                "done": {"type": "integer"},
                "total": {"type": "integer"},
                "fraction": {"type": "number"},
            },
        },
        "cost": {"type": "number", "description": "extension: USD, max_images x price"},
        "plan": {
            "type": ["object", "null"],
            "description": "extension: once planned, the per-panel instructions and `verdicts`",
        },
        "route": ROUTE,
        "provenance": PROVENANCE,
        "consistency": CONSISTENCY,
    },
}

VERDICT: dict[str, Any] = {
    "type": "object",
    "required": ["panel", "clause", "operation", "verdict", "note", "engine"],
    "properties": {
        "panel": {"type": ["integer", "null"], "description": "null: the shared instruction"},
        "clause": {"type": "string"},
        "operation": {"type": ["string", "null"]},
        "verdict": {"type": "string", "enum": ["supported", "approximate", "unsupported"]},
        "note": {"type": ["string", "null"]},
        "engine": {"type": "string"},
    },
}

PRICE_FIELDS: dict[str, Any] = {
    "unit_price": {"type": "number"},
    "max_images": {"type": "integer"},
    "base_price": {"type": "number"},
    "currency": {"type": "string", "enum": ["USD"]},
}

PLAN: dict[str, Any] = {
    "type": "object",
    "description": "What a task would be, without creating one.",
    "required": ["engine", "count", "size", "panels", "verdicts", "supported", "refusal", "warnings", "price"],
    "properties": {
        "model": {"type": "string"},
        "engine": {"type": "string", "description": "the configured engine"},
        "route": ROUTE,
        "consistency": CHECKS,
        "count": {"type": "integer", "description": "the images the task would return"},
        "declared_count": {"type": ["integer", "null"], "description": "the count the prompt states"},
        "size": {"type": ["string", "null"], "description": "W*H, or null while it depends on a remote reference"},
        "seed": {"type": ["integer", "null"], "description": "null: random"},
        "shared": {"type": "string", "description": "the instruction every panel gets"},
        "panels": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "index": {"type": "integer"},
                    "text": {"type": "string"},
                    "source": {"type": "string", "enum": ["panel-line", "enumeration", "shared"]},
                },
            },
        },
        "verdicts": {"type": "array", "items": _ref("Verdict")},
        "supported": {"type": "boolean"},
        "refusal": {"type": ["string", "null"], "description": "the one line the task would fail with"},
        "warnings": {"type": "array", "items": {"type": "string"}},
        "price": {"type": "object", "properties": PRICE_FIELDS},
    },
}

ERROR: dict[str, Any] = {
    "type": "object",
    "description": "Every 4xx: no task is created. Bad input names the `field` and the broken `limit`.",
    "required": ["code", "message", "data", "error"],
    "properties": {
        "code": {"type": "integer", "description": "the HTTP status"},
        "message": {"type": "string"},
        "data": {"type": "null"},
        "error": {"type": "string", "description": "the same text as message"},
        "field": {"type": ["string", "null"], "description": "the request field at fault (bad input)"},
        "limit": {"type": ["string", "null"], "description": "the rule it broke (bad input)"},
    },
}

UPLOAD: dict[str, Any] = {
    "type": "object",
    "required": ["download_url"],
    "properties": {
        "type": {"type": "string", "enum": ["image"]},
        "download_url": {"type": "string", "description": "a signed URL to use in `images`"},
        "filename": {"type": "string"},
        "size": {"type": "integer"},
        "upload": {
            "type": "object",
            "description": "tickets only: PUT the bytes to `url` with `headers` (no Authorization)",
            "properties": {
                "method": {"type": "string", "enum": ["PUT"]},
                "url": {"type": "string"},
                "headers": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        },
    },
}

HISTORY_BODY: dict[str, Any] = {
    "type": "object",
    "properties": {
        "page": {"type": "integer", "minimum": 1, "default": 1, "description": "1 to SEQEDIT_HISTORY_MAX_PAGE"},
        "page_size": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
        "model": {"type": "string", "enum": list(MODELS)},
        "status": {"type": "string", "enum": ["created", "processing", "completed", "failed", "cancelled"]},
        "created_after": {"type": ["string", "integer"], "description": "ISO-8601 or unix seconds"},
        "created_before": {"type": ["string", "integer"], "description": "ISO-8601 or unix seconds"},
    },
}

PRICE_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["model"],
    "properties": {
        "model": {"type": "string", "enum": list(MODELS), "description": "or `model_id`"},
        "max_images": {"type": "integer", "minimum": 1, "maximum": 15, "default": 1},
    },
}

TICKET_BODY: dict[str, Any] = {
    "type": "object",
    "properties": {
        "filename": {"type": "string", "default": "upload"},
        "size": {"type": "integer", "minimum": 0, "description": "bytes, if known"},
        "content_type": {"type": "string", "description": "echoed into the PUT headers; the type is sniffed"},
    },
}

FIELD_TEXT = {
    "prompt": "the instruction, 1-10,000 characters; `Panel 1: …` lines give each image its own",
    "images": "1-10 references: seqedit upload URLs, http(s) URLs, data: URIs or naked base64",
    "max_images": "how many images to return (1-15)",
    "seed": "extension: the same request and seed give the same bytes; -1 or absent: random",
    "webhook_url": "called with the prediction object when the task ends (or `?webhook=`)",
}


def request_schema(spec: ModelSpec) -> dict[str, Any]:
    """The model's request schema (``ModelSpec.schema()``), with a description for each field that has none."""
    schema = copy.deepcopy(spec.schema())
    props = schema["properties"]
    props.setdefault("webhook_url", {"type": "string"})
    for name, text in FIELD_TEXT.items():
        if name in props:
            props[name].setdefault("description", text)
    return schema


def submit_example(spec: ModelSpec) -> dict[str, Any]:
    body: dict[str, Any] = {"prompt": EXAMPLE_PROMPT, "images": [EXAMPLE_UPLOAD], "size": "1024*1024"}
    if spec.fixed_count is None:
        body["max_images"] = 4
    else:
        body["prompt"] = "navy + gold accents"
    return body


def _price(n: int) -> float:
    """The default price of ``n`` images (``SEQEDIT_PRICE_PER_IMAGE`` changes what a server answers)."""
    return float(cost(n, DEFAULT_PRICE_PER_IMAGE))


def prediction_example(spec: ModelSpec, status: str = "created") -> dict[str, Any]:
    n = spec.fixed_count or 4
    return {
        "id": EXAMPLE_ID,
        "model": spec.id,
        "input": {**submit_example(spec), "enable_base64_output": False, "enable_sync_mode": False},
        "outputs": [],
        "urls": {"get": f"http://127.0.0.1:8000/api/v3/predictions/{EXAMPLE_ID}/result"},
        "has_nsfw_contents": [],
        "status": status,
        "created_at": "2026-12-01T12:00:00.000Z",
        "error": "",
        "executionTime": 0,
        "timings": {"inference": 0},
        "seed": 1150416382,
        "warnings": [],
        "progress": {"done": 0, "total": n, "fraction": 0.0},
        "cost": _price(n),
        "plan": None,
        "route": None,
        "provenance": None,
        "consistency": None,
    }


def plan_example(spec: ModelSpec) -> dict[str, Any]:
    colours = ["classic white + black swoosh", "navy + gold accents", "matte red + white outsole"]
    colours.append("forest green + gum sole")
    n = spec.fixed_count or 4
    panels = [{"index": i + 1, "text": c, "source": "panel-line"} for i, c in enumerate(colours[:n])]
    verdicts = [
        {
            "panel": p["index"],
            "clause": p["text"],
            "operation": "recolor",
            "verdict": "supported",
            "note": "",
            "engine": "classic",
        }
        for p in panels
    ]
    return {
        "model": spec.id,
        "engine": "classic",
        "route": {"engine": "classic", "reason": "the configured engine"},
        "count": n,
        "declared_count": 4,
        "size": "1024*1024",
        "seed": None,
        "shared": "a series of 4 images of this sneaker:",
        "panels": panels,
        "verdicts": verdicts,
        "supported": True,
        "refusal": None,
        "warnings": [],
        "price": {"unit_price": _price(1), "max_images": n, "base_price": _price(n), "currency": "USD"},
    }


# ---------------------------------------------------------------------- the document


def _slug(model_id: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", model_id.lower()).strip("_")


def _api_routes(app: FastAPI) -> Iterator[tuple[str, APIRoute]]:
    """(path template, route) of every ``APIRoute``, also those of included routers (FastAPI ≥ 0.16x
    keeps them behind ``iter_route_contexts``; older versions list them flat in ``app.routes``)."""
    iterate = getattr(fastapi.routing, "iter_route_contexts", None)
    if iterate is None:
        for route in app.routes:
            if isinstance(route, APIRoute):
                yield route.path_format, route
        return
    for context in iterate(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute):
            yield context.path_format or route.path_format, route


def _needs_key(route: APIRoute) -> bool:
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        if dep.call is require_key:
            return True
        stack.extend(dep.dependencies)
    return False


def _model_operations(template: dict[str, Any], *, plan: bool) -> dict[str, Any]:
    """The catch-all's operation, once per model id (no ``model_id`` parameter, that model's body)."""
    paths: dict[str, Any] = {}
    for spec in MODELS.values():
        op = copy.deepcopy(template)
        op["parameters"] = [p for p in op.get("parameters", []) if p.get("name") != "model_id"]
        op["operationId"] = ("plan_" if plan else "submit_") + _slug(spec.id)
        op["requestBody"] = _json_body(_ref(_schema_name(spec)), submit_example(spec))
        if plan:
            op["summary"] = f"Plan a {spec.id} request (extension)"
            op["description"] = (
                "The submit body → what the task would be: panels, each clause's verdict with the engine that "
                "would run it, the refusal it would fail with (or null), warnings and the price. No task is "
                "created; bad input is the submit's 400."
            )
            op["responses"] = {"200": _envelope(_ref("Plan"), plan_example(spec)), **_errors(400, 401, 404, 413)}
        else:
            op["summary"] = f"Submit a {spec.id} prediction"
            op["description"] = (
                f"{spec.description}. Answers the prediction at once (`status: created`); poll "
                "`urls.get`. With `enable_sync_mode` the answer waits (up to SEQEDIT_SYNC_TIMEOUT) and is "
                "the completed prediction, or `status: processing` with `code: 5004`. Send an "
                "`Idempotency-Key` header to make a retry safe."
            )
            op["parameters"] = op["parameters"] + [
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string", "maxLength": 200},
                    "description": "the same key returns the same prediction",
                },
                {
                    "name": "webhook",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string"},
                    "description": "a URL called with the prediction object when the task ends",
                },
            ]
            op["responses"] = {
                "200": _envelope(_ref("Prediction"), prediction_example(spec)),
                **_errors(400, 401, 404, 413, 429),
            }
        paths[f"/api/v3/{spec.id}" + ("/plan" if plan else "")] = {"post": op}
    return paths


def _schema_name(spec: ModelSpec) -> str:
    return "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", spec.id) if part) + "Request"


def _describe(paths: dict[str, Any]) -> None:
    """Bodies and responses of the fixed routes."""

    def op(path: str, method: str) -> dict[str, Any]:
        found: dict[str, Any] = paths.get(path, {}).get(method, {})
        return found

    spec = next(iter(MODELS.values()))
    completed = prediction_example(spec, "completed")
    completed["outputs"] = [f"http://127.0.0.1:8000/files/outputs/{EXAMPLE_ID}/1/{i}.jpeg?…" for i in range(1, 5)]
    completed["has_nsfw_contents"] = [False] * 4
    completed["progress"] = {"done": 4, "total": 4, "fraction": 1.0}
    completed["route"] = {"engine": "classic", "reason": "the configured engine"}
    completed["provenance"] = {
        "work_pixels": 4000000,
        "ops_version": 19,
        "operations": "19 sha256:32f9465ff92eb413",
        "versions": {"numpy": "1.26.4", "opencv": "4.11.0"},
        "engine": "classic",
        "seqedit": __version__,
        "pillow": "13.0.0",
    }
    history = op("/api/v3/predictions", "post")
    if history:
        history["summary"] = "Your predictions, newest first"
        history["requestBody"] = _json_body(_ref("HistoryQuery"), {"page": 1, "page_size": 20}, required=False)
        page = {
            "type": "object",
            "required": ["page", "page_size", "total", "items"],
            "properties": {
                "page": {"type": "integer"},
                "page_size": {"type": "integer"},
                "total": {"type": "integer"},
                "items": {"type": "array", "items": _ref("Prediction")},
            },
        }
        history["responses"] = {
            "200": _envelope(page, {"page": 1, "page_size": 20, "total": 1, "items": [completed]}),
            **_errors(400, 401),
        }
    poll = op("/api/v3/predictions/{prediction_id}/result", "get")
    if poll:
        poll["summary"] = "Poll a prediction"
        poll["description"] = (
            "The prediction object. A failed task is still HTTP 200, with `status: failed`, `code` and `error`. "
            "Aliases: `GET /api/v3/predictions/{prediction_id}`, `GET /api/v2/predictions/{prediction_id}/result`."
        )
        poll["responses"] = {"200": _envelope(_ref("Prediction"), completed), **_errors(401, 404, 413)}
    cancel = op("/api/v3/predictions/{prediction_id}/cancel", "post")
    if cancel:
        cancel["summary"] = "Cancel a prediction (extension)"
        cancel["description"] = "No body. A queued job is cancelled at once, a running one between panels."
        cancelled = {**prediction_example(spec, "cancelled"), "error": "cancelled by the caller"}
        cancel["responses"] = {"200": _envelope(_ref("Prediction"), cancelled), **_errors(401, 404)}
    price = op("/api/v3/model/price", "post")
    if price:
        price["summary"] = "The price of a request"
        price["requestBody"] = _json_body(_ref("PriceQuery"), {"model": spec.id, "max_images": 4})
        fields = {
            "model": {"type": "string"},
            **PRICE_FIELDS,
            "discounted_price": {"type": "number"},
        }
        example = {
            "model": spec.id,
            "unit_price": _price(1),
            "max_images": 4,
            "base_price": _price(4),
            "discounted_price": _price(4),
            "currency": "USD",
        }
        price["responses"] = {"200": _envelope({"type": "object", "properties": fields}, example), **_errors(400, 401)}
        price["responses"]["404"] = _errors(404)["404"]
    ticket = op("/api/v3/media/uploads", "post")
    if ticket:
        ticket["summary"] = "An upload ticket: then PUT the bytes to `upload.url`"
        ticket["requestBody"] = _json_body(
            _ref("UploadTicketRequest"), {"filename": "sneaker.png", "size": 12232}, required=False
        )
        example = {
            "type": "image",
            "download_url": EXAMPLE_UPLOAD,
            "filename": "sneaker.png",
            "size": 12232,
            "upload": {"method": "PUT", "url": "http://127.0.0.1:8000/api/v3/media/uploads/…?expires=…&sig=…"},
        }
        ticket["responses"] = {"200": _envelope(_ref("Upload"), example), **_errors(400, 401)}
    put = op("/api/v3/media/uploads/{upload_id}", "put")
    if put:
        put["summary"] = "The ticket's signed, single-use PUT (no Authorization)"
        put["requestBody"] = {
            "required": True,
            "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
        }
        stored = {"type": "object", "properties": {"filename": {}, "size": {}, "content_type": {}}}
        put["responses"] = {
            "200": _envelope(stored, {"filename": "sneaker.png", "size": 12232, "content_type": "image/png"}),
            "404": {"description": "a bad or expired signature, or a ticket already used (plain text)"},
            **_errors(400, 413),
        }
    binary = op("/api/v3/media/upload/binary", "post")
    if binary:
        binary["summary"] = "Upload one image (multipart `file`)"
        binary["requestBody"] = {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {"file": {"type": "string", "format": "binary"}},
                    }
                }
            },
        }
        example = {"type": "image", "download_url": EXAMPLE_UPLOAD, "filename": "sneaker.png", "size": 12232}
        binary["responses"] = {"200": _envelope(_ref("Upload"), example), **_errors(400, 401, 413)}
    secret = op("/api/v3/webhook/secret", "get")
    if secret:
        secret["summary"] = "Your webhook signing secret"
        body = {"type": "object", "properties": {"secret": {"type": "string"}}}
        secret["responses"] = {"200": _envelope(body, {"secret": "whsec_…"}), **_errors(401)}
    models = op("/api/v3/models", "get")
    if models:
        models["summary"] = "The model registry, with each model's request schema"
        entry = {
            "type": "object",
            "properties": {"model_id": {"type": "string"}, "description": {"type": "string"}, "api_schema": {}},
        }
        models["responses"] = {"200": _envelope({"type": "array", "items": entry}, None), **_errors(401)}
        models["responses"]["200"]["content"]["application/json"].pop("example")
    files = op("/files/{key}", "get")
    if files:
        files["summary"] = "A signed upload or output file (Range, ETag, 304)"
        files["responses"] = {
            "200": {"description": "the file", "content": {"image/*": {"schema": {"type": "string"}}}},
            "404": {"description": "a bad, tampered or expired signature, or no such file (plain text)"},
        }


ARK_REQUEST: dict[str, Any] = {
    "type": "object",
    "description": "Ark's image generation body (BytePlus ModelArk / Volcengine Ark); `null` counts as absent.",
    "required": ["model", "prompt", "image"],
    "properties": {
        "model": {"type": "string", "enum": list(ARK_MODELS), "description": "every id runs on this server's engine"},
        "prompt": {"type": "string", "maxLength": 10_000},
        "image": {
            "oneOf": [
                {"type": "string"},
                {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 10},
            ],
            "description": "URL or data URI; 1-10 (no engine seqedit ships makes images from text alone)",
        },
        "size": {
            "type": "string",
            "default": "2K",
            "description": "1K, 2K, 4K (1024², 2048², 4096² px at the first reference's aspect, sides ÷64) or WxH",
        },
        "seed": {"type": "integer", "minimum": -1, "maximum": 2**31 - 1},
        "sequential_image_generation": {
            "type": "string",
            "enum": ["auto", "disabled"],
            "default": "disabled",
            "description": "auto: as many images as the prompt asks for, capped by max_images; disabled: one",
        },
        "sequential_image_generation_options": {
            "type": "object",
            "properties": {
                "max_images": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": 15,
                    "description": "references + max_images ≤ 15; absent: 15 − references",
                }
            },
        },
        "response_format": {"type": "string", "enum": ["url", "b64_json"], "default": "url"},
        "watermark": {"type": "boolean", "default": True, "description": "an 'AI generated' mark bottom-right"},
        "stream": {"type": "boolean", "default": False, "description": "server-sent events, one per image"},
        "optimize_prompt_options": {
            "type": "object",
            "properties": {"mode": {"type": "string", "enum": ["standard", "fast"]}},
            "description": "accepted and recorded on the prediction; seqedit does not rewrite prompts",
        },
        "output_format": {"type": "string", "enum": ["jpeg", "png", "webp"], "default": "jpeg"},
    },
}
ARK_IMAGES: dict[str, Any] = {
    "type": "object",
    "required": ["model", "created", "data", "usage"],
    "properties": {
        "model": {"type": "string"},
        "created": {"type": "integer"},
        "created_at": {"type": "integer"},
        "data": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"url": {"type": "string"}, "b64_json": {"type": "string"}, "size": {"type": "string"}},
            },
        },
        "usage": {
            "type": "object",
            "properties": {
                "generated_images": {"type": "integer"},
                "output_tokens": {"type": "integer", "description": "Σ W×H / 256"},
                "total_tokens": {"type": "integer"},
            },
        },
    },
}
ARK_ERROR: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "param", "type"],
            "properties": {k: {"type": "string"} for k in ("code", "message", "param", "type")},
        }
    },
}
ARK_STATUSES = {
    400: "bad input (`param` names it), also with `stream: true`; no task is created",
    401: "missing or invalid API key",
    404: "unknown model",
    429: "the key's concurrency limit",
    500: "the job failed (`x-should-retry: false`)",
    504: "still running after the wait (`x-should-retry: false`); the job goes on and is in history",
}


def _ark(paths: dict[str, Any]) -> None:
    operation = paths.get("/api/v3/images/generations", {}).get("post")
    if not operation:
        return
    operation["summary"] = "Generate images (Ark protocol)"
    example = {
        "model": "seedream-4-0-250828",
        "prompt": "a series of 3 images: this sneaker on white, grey and beige backgrounds",
        "image": ["https://example.com/sneaker.png"],
        "size": "2K",
        "sequential_image_generation": "auto",
        "sequential_image_generation_options": {"max_images": 3},
        "response_format": "url",
        "watermark": False,
    }
    operation["requestBody"] = _json_body(_ref("ArkRequest"), example)
    reply = {
        "model": "seedream-4-0-250828",
        "created": 1757323224,
        "created_at": 1757323224,
        "data": [{"url": "http://127.0.0.1:8000/files/outputs/…/0.jpeg?…", "size": "2368x1728"}],
        "usage": {"generated_images": 1, "output_tokens": 15984, "total_tokens": 15984},
    }
    sse = (
        'event: image_generation.partial_succeeded\ndata: {"type":"image_generation.partial_succeeded",'
        '"image_index":0,"url":"…","size":"2368x1728",…}\n\n'
        'event: image_generation.completed\ndata: {"type":"image_generation.completed","usage":{…}}\n\n'
        "data: [DONE]\n\n"
    )
    ok = {
        "description": "the images (JSON), or with `stream: true` server-sent events, one per image as it is made",
        "content": {
            "application/json": {"schema": _ref("ArkImages"), "example": reply},
            "text/event-stream": {"schema": {"type": "string"}, "example": sse},
        },
    }
    errors = {
        str(status): {"description": text, "content": {"application/json": {"schema": _ref("ArkError")}}}
        for status, text in ARK_STATUSES.items()
    }
    operation["responses"] = {"200": ok, **errors}


def document(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document of ``app`` (see the module docstring)."""
    doc = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    paths: dict[str, Any] = doc.setdefault("paths", {})
    secured: set[tuple[str, str]] = set()
    for path_format, route in _api_routes(app):
        if route.include_in_schema and _needs_key(route):
            secured.update((path_format, method.lower()) for method in route.methods or ())
    submit = paths.pop(SUBMIT_TEMPLATE, {}).get("post")
    plan = paths.pop(PLAN_TEMPLATE, {}).get("post")
    _describe(paths)
    _ark(paths)
    if submit is not None:
        paths.update(_model_operations(submit, plan=False))
    if plan is not None:
        paths.update(_model_operations(plan, plan=True))
    for path, ops in paths.items():
        for method, op in ops.items():
            template = (
                SUBMIT_TEMPLATE
                if op.get("operationId", "").startswith("submit_")
                else PLAN_TEMPLATE
                if op.get("operationId", "").startswith("plan_")
                else path
            )
            if (template, method) in secured:
                op["security"] = [{BEARER: []}]
                op.setdefault("responses", {}).setdefault("401", _errors(401)["401"])
            op.get("responses", {}).pop("422", None)  # FastAPI's validation error: our routes answer 400
    components = doc.setdefault("components", {})
    components.setdefault("schemas", {}).pop("HTTPValidationError", None)
    components["schemas"].pop("ValidationError", None)
    components["schemas"].update(
        {
            "Prediction": PREDICTION,
            "Plan": PLAN,
            "Verdict": VERDICT,
            "Error": ERROR,
            "Upload": UPLOAD,
            "HistoryQuery": HISTORY_BODY,
            "PriceQuery": PRICE_BODY,
            "UploadTicketRequest": TICKET_BODY,
            "ArkRequest": ARK_REQUEST,
            "ArkImages": ARK_IMAGES,
            "ArkError": ARK_ERROR,
            **{_schema_name(s): request_schema(s) for s in MODELS.values()},
        }
    )
    components["securitySchemes"] = {
        BEARER: {
            "type": "http",
            "scheme": "bearer",
            "description": "an API key (`sk_…`): `seqedit serve` prints the first, `seqedit keys create` makes more",
        }
    }
    return doc


# ---------------------------------------------------------------------- /docs from bundled files

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} API</title>
<link rel="stylesheet" href="{root}/docs/assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{root}{openapi_url}"></div>
<script src="{root}/docs/assets/swagger-ui-bundle.js"></script>
<script src="{root}/docs/assets/init.js"></script>
</body>
</html>
"""

INIT_JS = """window.addEventListener("load", function () {
  var el = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: el.getAttribute("data-openapi-url"),
    dom_id: "#swagger-ui",
    deepLinking: true,
    persistAuthorization: false,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"
  });
});
"""


def install(app: FastAPI) -> None:
    """Publish ``document(app)`` at the app's ``openapi_url`` and the bundled Swagger UI at ``/docs``.
    The app must be made with ``docs_url=None, redoc_url=None`` (FastAPI's own pages load from a CDN)."""
    cached: dict[str, dict[str, Any]] = {}

    def openapi() -> dict[str, Any]:
        if "doc" not in cached:
            cached["doc"] = document(app)
        return cached["doc"]

    app.openapi = openapi  # type: ignore[method-assign]

    async def docs(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        return HTMLResponse(PAGE.format(title=app.title, root=root, openapi_url=app.openapi_url or "/openapi.json"))

    async def asset(name: str) -> Response:
        media = ASSET_TYPES.get(name)
        if media is None:
            return PlainTextResponse("Not Found", status_code=404)
        headers = {"Cache-Control": "public, max-age=86400"}
        if name == "init.js":
            return Response(INIT_JS, media_type=media, headers=headers)
        return FileResponse(ASSETS / name, media_type=media, headers=headers)

    app.add_api_route("/docs", docs, methods=["GET"], include_in_schema=False)
    app.add_api_route("/docs/assets/{name}", asset, methods=["GET"], include_in_schema=False)
