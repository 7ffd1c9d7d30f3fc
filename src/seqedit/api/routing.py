"""Each protocol router chooses its own error body: ``ProtocolRouter(errors=…)``.

A router built here runs its routes through a route class that turns every exception a handler (or
one of its dependencies, e.g. ``require_key``) raises into that router's error response:

* ``ApiError`` — as it is;
* anything the router's ``translate`` recognises (its mapping of ``seqedit.errors`` types to statuses);
* Starlette's ``HTTPException`` (status and detail kept) and FastAPI's ``RequestValidationError`` (400);
* the database being unreachable — ``503`` with ``Retry-After`` (``api.outage``);
* anything else — logged with its traceback, then a 500 without one.

``ErrorStyle.render(ApiError) -> Response`` is the body. The app's own handlers cover only what reaches
no router (an unknown path, a wrong method).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from seqedit.api.envelope import ApiError
from seqedit.api.outage import unavailable

__all__ = ["ErrorStyle", "ProtocolRouter", "as_api_error"]

log = logging.getLogger("seqedit.api")


class ErrorStyle:
    """How one protocol renders its errors, and which domain errors it maps to which status."""

    def __init__(
        self,
        render: Callable[[ApiError], Response],
        translate: Callable[[Exception], ApiError | None] = lambda _exc: None,
    ) -> None:
        self.render = render
        self.translate = translate

    def response(self, request: Request, exc: Exception) -> Response:
        return self.render(as_api_error(request, exc, self.translate))


def as_api_error(
    request: Request, exc: Exception, translate: Callable[[Exception], ApiError | None] = lambda _exc: None
) -> ApiError:
    if isinstance(exc, ApiError):
        return exc
    mapped = translate(exc)
    if mapped is not None:
        return mapped
    if isinstance(exc, StarletteHTTPException):
        return ApiError(exc.status_code, str(exc.detail), headers=dict(exc.headers or {}))
    if isinstance(exc, RequestValidationError):
        return ApiError(400, f"invalid request: {exc.errors()[:3]}")
    down = unavailable(exc)
    if down is not None:
        return down
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return ApiError(500, "internal server error", headers={"x-should-retry": "false"})


def ProtocolRouter(errors: ErrorStyle, **kwargs: Any) -> APIRouter:  # noqa: N802  (a router factory)
    """An ``APIRouter`` whose routes answer every error in ``errors``' style."""

    class _Route(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def guarded(request: Request) -> Response:
                try:
                    return await handler(request)
                except Exception as exc:
                    return errors.response(request, exc)

            return guarded

    return APIRouter(route_class=_Route, **kwargs)
