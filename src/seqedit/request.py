"""``EditRequest``: the protocol-neutral request every front end (CLI, HTTP, SDK) builds.

All validation lives here so that every front end reports the same field names and limits.
Image references are opaque strings (file paths, URLs, blob keys); whoever resolves them to bytes
(the CLI, the job runner) decodes them with ``seqedit.imaging``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from seqedit.errors import RequestError
from seqedit.locations import check_prompt
from seqedit.sizes import MAX_SIDE, MIN_SIDE, Size, parse_size

OutputFormat = Literal["jpeg", "png", "webp"]
OUTPUT_FORMATS: tuple[str, ...] = get_args(OutputFormat)
SEED_MAX = 2**31 - 1

__all__ = ["EditRequest", "Limits", "OutputFormat", "RequestError", "LIMITS", "resolve_seed"]


@dataclass(frozen=True)
class Limits:
    max_prompt_chars: int = 10_000
    min_refs: int = 1
    max_refs: int = 10
    min_outputs: int = 1
    max_outputs: int = 15


LIMITS = Limits()


@dataclass(frozen=True)
class EditRequest:
    prompt: str
    images: tuple[str, ...]
    size: Size | None = None
    max_images: int = 1
    seed: int | None = None  # None = random (resolved and recorded by the planner)
    output_format: OutputFormat = "jpeg"
    watermark: bool = False  # draw the "AI generated" mark on each panel (Ark's default; ``seqedit.watermark``)
    pixels: int | None = None  # without ``size``: the first reference's aspect at this many pixels (Ark's 1K/2K/4K)
    extras: dict[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def create(
        cls,
        *,
        prompt: object,
        images: object,
        size: object = None,
        max_images: object = 1,
        seed: object = None,
        output_format: object = "jpeg",
        watermark: object = False,
        pixels: object = None,
        limits: Limits = LIMITS,
    ) -> EditRequest:
        """Validate raw values (from JSON, argv, …) and build a request, or raise ``RequestError``."""
        return cls(
            prompt=_prompt(prompt, limits),
            images=_images(images, limits),
            size=None if size in (None, "") else parse_size(size),
            max_images=_int_in("max_images", max_images, limits.min_outputs, limits.max_outputs),
            seed=_seed(seed),
            output_format=_format(output_format),
            watermark=watermark is True,
            pixels=None if pixels is None else _int_in("size", pixels, MIN_SIDE * MIN_SIDE, MAX_SIDE * MAX_SIDE),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "prompt": self.prompt,
            "images": list(self.images),
            "size": None if self.size is None else str(self.size),
            "max_images": self.max_images,
            "seed": self.seed,
            "output_format": self.output_format,
            # only when set, so rows and plans of requests without them stay as they were
            **({"watermark": True} if self.watermark else {}),
            **({"pixels": self.pixels} if self.pixels is not None else {}),
        }


def resolve_seed(seed: int | None) -> int:
    """The seed a run uses: the request's, or a fresh random one (recorded so a user can A/B)."""
    return secrets.randbelow(SEED_MAX + 1) if seed is None else seed


def _prompt(value: object, limits: Limits) -> str:
    limit = f"1-{limits.max_prompt_chars} characters"
    if not isinstance(value, str):
        raise RequestError("prompt", limit, "is required and must be a string")
    if not value.strip():
        raise RequestError("prompt", limit, "must not be empty")
    if len(value) > limits.max_prompt_chars:
        raise RequestError("prompt", limit, f"has {len(value)} characters")
    check_prompt(value)  # a malformed <bbox>/<point> tag is bad input, not a failed task
    return value


def _images(value: object, limits: Limits) -> tuple[str, ...]:
    limit = f"{limits.min_refs}-{limits.max_refs} images"
    if not isinstance(value, (list, tuple)):
        raise RequestError("images", limit, "must be a list of image references")
    if not limits.min_refs <= len(value) <= limits.max_refs:
        raise RequestError("images", limit, f"got {len(value)}")
    for i, ref in enumerate(value):
        if not isinstance(ref, str) or not ref.strip():
            raise RequestError(f"images[{i}]", "non-empty string", "must be a URL, path or base64 string")
    return tuple(value)


def _int_in(name: str, value: object, lo: int, hi: int) -> int:
    limit = f"integer {lo}-{hi}"
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise RequestError(name, limit, f"must be an integer, got {value!r}"[:120])
    try:
        number = int(value)
    except ValueError:
        raise RequestError(name, limit, f"must be an integer, got {value!r}"[:120]) from None
    if not lo <= number <= hi:
        raise RequestError(name, limit, f"{number} is out of range")
    return number


def _seed(value: object) -> int | None:
    if value is None:
        return None
    seed = _int_in("seed", value, -1, SEED_MAX)
    return None if seed == -1 else seed


def _format(value: object) -> OutputFormat:
    if isinstance(value, str) and value.lower() in ("jpg",):
        value = "jpeg"
    if not isinstance(value, str) or value.lower() not in OUTPUT_FORMATS:
        raise RequestError("output_format", "|".join(OUTPUT_FORMATS), f"unknown format {value!r}"[:80])
    return value.lower()  # type: ignore[return-value]
