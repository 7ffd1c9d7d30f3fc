"""The FastAPI app: ``create_app(service)`` (the lifespan starts and stops the service) and
``make_service(settings, roles)``, the service with this front end's webhook body (WaveSpeed's).

Routers, one per concern: ``ops`` (health, metrics), ``media`` (uploads, signed files), ``ark`` (Ark's
``/api/v3/images/generations``), ``wavespeed`` (the prediction protocol; its submit route is the
``/api/v3/{model}`` catch-all, so it goes last).
``api.openapi`` publishes the OpenAPI document (bodies, schemas, security) and ``/docs`` from bundled files.
Each router answers its own errors in its protocol's body (``api.routing``); the handlers here cover
only requests that reach no route (an unknown path or method), in the WaveSpeed body, and map a
database that cannot be reached to ``503`` with ``Retry-After`` wherever it is met (``api.outage``;
the routers do the same through ``as_api_error``), never a 500 with a traceback.

``api.access.AccessLog`` wraps the whole app: one ``seqedit.access`` line per request (method, path
without its query, status, latency, client, key id).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any

import sqlalchemy.exc
from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from seqedit.api import ark, media, openapi, ops, playground, wavespeed
from seqedit.api.access import AccessLog
from seqedit.api.envelope import error_response, webhook_body
from seqedit.api.routing import as_api_error
from seqedit.config import Settings
from seqedit.engines.base import create
from seqedit.service import SERVE, Service

__all__ = ["create_app", "make_service"]


def make_service(
    settings: Settings | None = None, *, roles: Iterable[str] = SERVE, engine_factory: Callable[..., Any] = create
) -> Service:
    """The service behind this HTTP front end: webhooks carry the WaveSpeed prediction object."""
    return Service(settings or Settings(), roles=roles, engine_factory=engine_factory, webhook_body=webhook_body)


def create_app(service: Service | None = None, settings: Settings | None = None) -> FastAPI:
    service = service or make_service(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service.start()
        try:
            yield
        finally:
            service.stop()

    app = FastAPI(
        title="seqedit",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # FastAPI's pages load from a CDN; openapi.install serves bundled ones
        redoc_url=None,
        description="Sequential multi-image editing, wire-compatible with "
        "bytedance/seedream-v4/edit-sequential (WaveSpeed protocol).",
    )
    app.state.service = service
    openapi.install(app)  # the OpenAPI document with bodies, schemas, security; /docs from bundled files

    async def _unrouted(request: Request, exc: Exception) -> Response:
        return error_response(as_api_error(request, exc))

    app.add_exception_handler(StarletteHTTPException, _unrouted)
    # the database gone (503 + Retry-After, as_api_error asks api.outage): handled here rather than by the
    # catch-all below, whose middleware re-raises after answering (a traceback in the log for an outage)
    for database_error in (sqlalchemy.exc.DBAPIError, sqlalchemy.exc.TimeoutError):
        app.add_exception_handler(database_error, _unrouted)
    app.add_exception_handler(Exception, _unrouted)
    app.add_middleware(wavespeed.FastPolls, service=service)  # a poll already rendered: no routing (inside the log)
    app.add_middleware(AccessLog)  # one line per request (api.access); uvicorn's access log is off

    app.include_router(ops.router)
    app.include_router(media.router)
    app.include_router(playground.router)  # GET / (the page), its assets, browser sign-in
    app.include_router(ark.router)  # POST /api/v3/images/generations: before WaveSpeed's /api/v3/{model}
    app.include_router(wavespeed.router)
    return app
