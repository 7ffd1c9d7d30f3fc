"""Settings from the environment (prefix ``SEQEDIT_``), one object shared by every front end."""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from seqedit.imaging import DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS
from seqedit.pricing import DEFAULT_PRICE_PER_IMAGE


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SEQEDIT_", extra="ignore")

    data_dir: Path = Path("./seqedit-data")
    price_per_image: Decimal = DEFAULT_PRICE_PER_IMAGE
    max_image_bytes: int = DEFAULT_MAX_BYTES
    max_image_pixels: int = DEFAULT_MAX_PIXELS
    engine: str = "classic"
