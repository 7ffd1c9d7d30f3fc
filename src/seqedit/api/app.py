"""The FastAPI app factory: ``create_app(service)``; the lifespan starts and stops the service.

Routers, one per concern: ``ops`` (health, metrics), ``media`` (uploads, signed files), ``wavespeed``
(the prediction protocol; its submit route is the ``/api/v3/{model}`` catch-all, so it goes last).
Every error is JSON ``{code, message, data: null, error}`` except a bad file signature (plain 404).
"""
from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from seqedit.api import media, ops, wavespeed
from seqedit.api.envelope import ApiError, error_response
from seqedit.api.service import Service
from seqedit.config import Settings

__all__ = ["create_app"]

log = logging.getLogger("seqedit.api")


def create_app(service: Service | None = None, settings: Settings | None = None) -> FastAPI:
    service = service or Service(settings or Settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        service.start()
        try:
            yield
        finally:
            service.stop()

    app = FastAPI(title="seqedit", version="0.1.0", lifespan=lifespan,
                  description="Sequential multi-image editing, wire-compatible with "
                              "bytedance/seedream-v4/edit-sequential (WaveSpeed protocol).")
    app.state.service = service

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        return error_response(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        return error_response(ApiError(exc.status_code, str(exc.detail), headers=dict(exc.headers or {})))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        return error_response(ApiError(400, f"invalid request: {exc.errors()[:3]}"))

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(ApiError(500, "internal server error", headers={"x-should-retry": "false"}))

    app.include_router(ops.router)
    app.include_router(media.router)
    app.include_router(wavespeed.router)
    return app
