"""The classic engine's options, declared for the registry (``--opt work_pixels=…``, ``$SEQEDIT_WORK_PIXELS``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from seqedit.engines.classic.arrays import WORK_PIXELS

__all__ = ["ClassicOptions"]


class ClassicOptions(BaseModel):
    """Options of ``create("classic", ...)``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    work_pixels: int = Field(
        WORK_PIXELS,
        gt=0,
        description="working resolution: references are processed at most this many pixels, then resampled to the size",
    )
