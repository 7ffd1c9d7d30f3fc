"""The playground: the web page at ``/`` of ``seqedit serve``, its bundled assets, and browser sign-in.

The page (``static/playground/``: HTML, CSS and vanilla JS modules; no build step, no CDN, nothing
fetched from another host) drives the same public routes as any client — uploads, the plan preview,
submit, poll, history — with the session cookie instead of a bearer key. This router adds only what a
browser needs besides them:

* ``GET /`` — the page; ``GET /playground/static/<file>`` — its assets (only files of that folder);
* ``POST /playground/session {token}`` — exchanges the one-time token of the URL ``seqedit serve``
  prints (``…/?token=…``, ``jobs.signins``) for the session cookie: HttpOnly, SameSite=Strict,
  ``Secure`` behind https, ``SESSION_SECONDS`` long. The API key never reaches the browser.
  ``GET /playground/session`` says who is signed in; ``POST /playground/signout`` ends it.
* ``GET /playground/config`` — what the form offers: size presets (landscape and portrait, from
  ``sizes.PRESETS``), the request limits, the models, the engine, the unit price;
* ``GET /playground/examples`` and ``GET /playground/examples/<file>`` — the examples gallery: the
  product page's example prompts (``examples/prompts/*.txt`` and the page's own wording) with the
  bundled reference photos of ``examples/``. The page asks the plan endpoint which of them the running
  engine can do.

Every page response carries a Content-Security-Policy that allows only this origin (``'self'``,
``blob:`` and ``data:`` images for local previews), so the page cannot load anything from elsewhere —
but the object store's, when outputs are presigned URLs of an S3 bucket (``Storage.origin``): the page
shows them as images and fetches them for its zip (which needs the bucket to allow CORS GETs).
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Depends, Request
from fastapi.responses import FileResponse, Response
from starlette.concurrency import run_in_threadpool

from seqedit import sizes
from seqedit.api.auth import CSRF_HEADER, SESSION_COOKIE, require_key, same_origin
from seqedit.api.envelope import ApiError, reply
from seqedit.api.models import MODELS
from seqedit.api.routing import ProtocolRouter
from seqedit.api.wavespeed import ERRORS, json_body
from seqedit.jobs.signins import SESSION_SECONDS, SignIns, session_value
from seqedit.request import LIMITS, SEED_MAX

__all__ = ["router", "EXAMPLES", "STATIC", "signins"]

router = ProtocolRouter(ERRORS)

STATIC = Path(__file__).resolve().parent / "static" / "playground"
# the bundled example photos live in the checkout's examples/ (src/seqedit/api/ → the repository root)
EXAMPLES_DIR = Path(__file__).resolve().parents[3] / "examples"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "connect-src 'self'; font-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css"}
_TYPES |= {".svg": "image/svg+xml"}


@dataclass(frozen=True)
class Example:
    """One entry of the gallery: a prompt (a file of ``examples/prompts`` or the product page's own
    words) on bundled references, with the count and size the form gets."""

    id: str
    title: str
    refs: tuple[str, ...]
    max_images: int
    prompt_file: str | None = None
    prompt_text: str | None = None
    size: str | None = None

    def prompt(self) -> str | None:
        if self.prompt_text is not None:
            return self.prompt_text
        path = EXAMPLES_DIR / "prompts" / f"{self.prompt_file}.txt"
        return path.read_text(encoding="utf-8").strip() if path.is_file() else None


EXAMPLES: tuple[Example, ...] = (
    Example("shoe-colorway", "Product colourways", ("sneaker.png",), 4, prompt_file="shoe-colorway", size="1024*1024"),
    Example(
        "magazine-covers",
        "Magazine photoshoots",
        ("astronaut.jpg", "grace_hopper.jpg"),
        2,
        prompt_file="magazine-covers",
        size="768*1024",
    ),
    Example("manga-storyboard", "Manga storyboard", ("astronaut.jpg",), 4, prompt_file="manga-storyboard"),
    Example("cyberpunk-life", "Cyberpunk city life", ("astronaut.jpg",), 3, prompt_file="cyberpunk-life"),
    Example(
        "ages",
        "Three ages",
        ("grace_hopper.jpg",),
        3,
        prompt_text="Generate a series of 3 images depicting this little girl at ages 25, 45, and 65.",
    ),
    Example(
        "views",
        "Character turnaround",
        ("astronaut.jpg",),
        3,
        prompt_text="Generate a series of 3 images for this character: left view, once view, and right view.",
    ),
)
_EXAMPLE_FILES = {name for e in EXAMPLES for name in e.refs}


def signins(request: Request) -> SignIns:
    """The service's sign-in tokens (one ``SignIns`` per app, made on first use)."""
    state = request.app.state
    found: SignIns | None = getattr(state, "signins", None)
    if found is None:
        service = state.service
        found = state.signins = SignIns(service.store.engine, service.secret)
    return found


def _csp(request: Request) -> str:
    """``CSP``, with the object store's origin allowed for images and fetches when it hands out its own
    URLs (S3 presigned)."""
    origin = getattr(request.app.state.service.storage, "origin", None)
    if not origin:
        return CSP
    return CSP.replace("img-src 'self'", f"img-src 'self' {origin}").replace(
        "connect-src 'self'", f"connect-src 'self' {origin}"
    )


def _page_headers(request: Request) -> dict[str, str]:
    return {
        "content-security-policy": _csp(request),
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
        "cache-control": "no-store",
    }


# ---------------------------------------------------------------------- the page and its assets


@router.get("/", include_in_schema=False)
async def page(request: Request) -> Response:
    return FileResponse(STATIC / "index.html", media_type=_TYPES[".html"], headers=_page_headers(request))


@router.get("/playground/static/{name}", include_in_schema=False)
async def asset(name: str, request: Request) -> Response:
    path = (STATIC / name).resolve()
    if path.parent != STATIC or not path.is_file() or name.startswith("."):
        raise ApiError(404, f"no playground asset {name!r}")
    kind = _TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return FileResponse(path, media_type=kind, headers={**_page_headers(request), "cache-control": "no-cache"})


# ---------------------------------------------------------------------- sign-in


def _check_browser_post(request: Request) -> None:
    if request.headers.get(CSRF_HEADER) != "1" or not same_origin(request):
        raise ApiError(403, f"Forbidden: this request needs the {CSRF_HEADER} header and this server's Origin")


def _who(key: dict[str, Any]) -> dict[str, Any]:
    return {"signed_in": True, "key": {"id": key["id"], "name": key["name"], "prefix": key["prefix"]}}


@router.post("/playground/session", include_in_schema=False)
async def sign_in(request: Request) -> Response:
    """Exchange a one-time sign-in token for the session cookie (the token is then spent)."""
    _check_browser_post(request)
    body = await json_body(request)
    token = body.get("token")
    gone = ApiError(
        401,
        "token: this sign-in link was already used, has expired or is not valid; restart seqedit serve for a new one",
        extra={"field": "token", "limit": "one use, within the hour"},
    )
    if not isinstance(token, str) or not token:
        raise gone
    service = request.app.state.service
    key_id = await run_in_threadpool(signins(request).consume, token)
    key = None if key_id is None else await run_in_threadpool(service.store.get_key, key_id)
    if key is None or key.get("revoked_at") is not None:
        raise gone
    response = reply(_who(key))
    public = service.settings.public_url
    response.set_cookie(
        SESSION_COOKIE,
        session_value(service.secret, key["id"]),
        max_age=SESSION_SECONDS,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https" or public.startswith("https://"),
    )
    return response


@router.get("/playground/session", include_in_schema=False)
async def session(key: dict = Depends(require_key)) -> Response:
    return reply(_who(key))


@router.post("/playground/signout", include_in_schema=False)
async def sign_out(request: Request) -> Response:
    _check_browser_post(request)
    response = reply({"signed_in": False})
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


# ---------------------------------------------------------------------- what the form offers


def _presets() -> list[dict[str, Any]]:
    out = []
    for p in sizes.PRESETS:
        w, h = p.rounded.width, p.rounded.height
        out.append({"name": p.name, "aspect": p.aspect, "tier": p.tier, "width": w, "height": h})
        if w != h:
            aw, ah = p.aspect.split(":")
            out.append({"name": f"{ah}:{aw}@{p.tier}", "aspect": f"{ah}:{aw}", "tier": p.tier, "width": h, "height": w})
    return out


@router.get("/playground/config", include_in_schema=False)
async def config(request: Request, key: dict = Depends(require_key)) -> Response:
    service = request.app.state.service
    return reply(
        {
            "engine": service.settings.engine,
            "unit_price": float(service.settings.price_per_image),
            "models": [{"id": m.id, "fixed_count": m.fixed_count} for m in MODELS.values()],
            "presets": _presets(),
            "sizes": {"min_side": sizes.MIN_SIDE, "max_side": sizes.MAX_SIDE},
            "limits": {
                "max_refs": LIMITS.max_refs,
                "max_outputs": LIMITS.max_outputs,
                "max_prompt_chars": LIMITS.max_prompt_chars,
                "seed_max": SEED_MAX,
                "max_upload_bytes": service.settings.max_upload_bytes,
            },
        }
    )


@router.get("/playground/examples", include_in_schema=False)
async def examples() -> Response:
    items = []
    for e in EXAMPLES:
        prompt = e.prompt()
        if prompt is None or not all((EXAMPLES_DIR / r).is_file() for r in e.refs):
            continue  # not a checkout (an installed wheel has no examples/): the gallery shows fewer
        items.append(
            {
                "id": e.id,
                "title": e.title,
                "prompt": prompt,
                "max_images": e.max_images,
                "size": e.size,
                "refs": [{"name": r, "url": f"/playground/examples/{r}"} for r in e.refs],
            }
        )
    return reply({"items": items})


@router.get("/playground/examples/{name}", include_in_schema=False)
async def example_file(name: str) -> Response:
    if name not in _EXAMPLE_FILES or not (EXAMPLES_DIR / name).is_file():
        raise ApiError(404, f"no example image {name!r}")
    return FileResponse(EXAMPLES_DIR / name, headers={"cache-control": "max-age=3600"})
