"""The gateway engine's options: the one declaration ``--opt``, the typed ``--upstream-*`` flags,
``SEQEDIT_<OPTION>`` and ``seqedit engines remote`` are read from."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Protocol = Literal["wavespeed", "ark"]

DEFAULT_MODEL = {"wavespeed": "bytedance/seedream-v4/edit-sequential", "ark": "seedream-4-0-250828"}
# the pixel range Ark documents for Seedream 4 "WxH" sizes (api-contract §2.2, the later mirrors);
# WaveSpeed documents none for edit-sequential, so nothing is assumed there
DEFAULT_PIXELS = {"wavespeed": (None, None), "ark": (921_600, 16_777_216)}


class RemoteOptions(BaseModel):
    """Options of ``create("remote", ...)``; field order is the order they are listed in."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    upstream_url: str = Field("", description="base URL of the upstream (https://api.wavespeed.ai, an Ark host)")
    upstream_key: str = Field(
        "",
        description="the upstream API key (Bearer); never logged, *** in set.json",
        json_schema_extra={"secret": True},
    )
    upstream_protocol: Protocol = Field("wavespeed", description="the upstream's protocol")
    upstream_model: str = Field(
        "",
        description="upstream model id; unset: bytedance/seedream-v4/edit-sequential (wavespeed), "
        "seedream-4-0-250828 (ark)",
    )
    upstream_stream: bool = Field(
        True, description="ark: stream (panels as the upstream finishes each) instead of one reply at the end"
    )
    upstream_min_pixels: int | None = Field(
        None, gt=0, description="smallest W×H the upstream takes; unset: 921600 (ark), none (wavespeed)"
    )
    upstream_max_pixels: int | None = Field(
        None, gt=0, description="largest W×H the upstream takes; unset: 16777216 (ark), none (wavespeed)"
    )
    top_ups: int = Field(2, ge=0, le=10, description="asks for missing panels after a short set, at most")
    retries: int = Field(4, ge=0, le=10, description="retries of one call after 429/5xx/network errors")
    backoff: float = Field(0.5, gt=0, le=30, description="first retry delay in seconds (doubles, capped at 8 s)")
    poll_interval: float = Field(0.5, gt=0, le=30, description="seconds between polls of an upstream prediction")
    timeout: float = Field(600, gt=0, le=3600, description="seconds one upstream set may take, at most")
    consistency_guard: bool = Field(
        True,
        description="re-render a panel whose identity or product figure crosses its threshold: one upstream "
        "submit of that panel with a new seed (docs/consistency.md)",
    )
    consistency_retries: int = Field(2, ge=0, le=10, description="consistency_guard: re-renders of one panel, at most")
