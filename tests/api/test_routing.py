"""``api.routing``: each protocol router answers every error in its own body; what reaches no router
gets the app's (WaveSpeed) body."""

from __future__ import annotations

from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from starlette.exceptions import HTTPException

from seqedit.api.envelope import ApiError, error_response
from seqedit.api.routing import ErrorStyle, ProtocolRouter
from seqedit.errors import RequestError


def other_body(exc: ApiError) -> JSONResponse:
    return JSONResponse({"error": {"code": f"E{exc.status}", "message": exc.message}}, status_code=exc.status)


def translate(exc: Exception) -> ApiError | None:
    return ApiError(422, f"bad {exc.field}") if isinstance(exc, RequestError) else None


def needs_header() -> None:
    raise ApiError(401, "no key")


def make_app() -> FastAPI:
    app = FastAPI()
    for prefix, style in (("/a", ErrorStyle(error_response)), ("/b", ErrorStyle(other_body, translate))):
        router = ProtocolRouter(style)

        @router.get(prefix + "/api")
        async def api_error() -> None:
            raise ApiError(409, "taken")

        @router.get(prefix + "/domain")
        async def domain_error() -> None:
            raise RequestError("size", "64-8192", "too small")

        @router.get(prefix + "/http")
        async def http_error() -> None:
            raise HTTPException(418, "teapot")

        @router.get(prefix + "/typed")
        async def typed(n: int) -> dict:
            return {"n": n}

        @router.get(prefix + "/bug")
        async def bug() -> None:
            raise ZeroDivisionError("boom")

        @router.get(prefix + "/auth", dependencies=[Depends(needs_header)])
        async def auth() -> None:
            return None

        app.include_router(router)

    async def unrouted(request, exc):
        return error_response(ApiError(exc.status_code, str(exc.detail)))

    app.add_exception_handler(HTTPException, unrouted)
    return app


def test_each_router_renders_its_own_errors():
    client = TestClient(make_app(), raise_server_exceptions=False)
    a = {p: client.get(f"/a/{p}") for p in ("api", "http", "typed?n=x", "bug", "auth")}
    assert a["api"].status_code == 409 and a["api"].json() == {
        "code": 409,
        "message": "taken",
        "data": None,
        "error": "taken",
    }
    assert a["http"].status_code == 418 and a["http"].json()["message"] == "teapot"
    assert a["typed?n=x"].status_code == 400 and a["typed?n=x"].json()["data"] is None
    assert a["bug"].status_code == 500 and "boom" not in a["bug"].text
    assert a["auth"].status_code == 401 and a["auth"].json()["error"] == "no key"  # from a dependency

    b = {p: client.get(f"/b/{p}") for p in ("api", "domain", "http", "typed?n=x", "bug", "auth")}
    assert b["api"].json() == {"error": {"code": "E409", "message": "taken"}}
    assert b["domain"].status_code == 422 and b["domain"].json()["error"]["message"] == "bad size"
    assert b["http"].json()["error"]["code"] == "E418"
    assert b["typed?n=x"].status_code == 400 and "error" in b["typed?n=x"].json()
    assert b["bug"].status_code == 500 and b["bug"].json()["error"]["message"] == "internal server error"
    assert b["auth"].json() == {"error": {"code": "E401", "message": "no key"}}


def test_unrouted_requests_get_the_app_body():
    r = TestClient(make_app()).get("/nowhere")
    assert r.status_code == 404 and r.json()["data"] is None and r.json()["code"] == 404
