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
    # engine options for `serve`/`worker` (the diffusion engine's; empty = the engine's own default)
    model: str = ""  # path or hub id of a diffusers pipeline
    strategy: str = ""  # set-consistency strategy: anchor | chain | independent | grid | shared_attention
    steps: int = 0  # denoising steps; 0 = the family's default
    device: str = ""  # cuda | cuda:N | mps | cpu; empty = auto
    dtype: str = ""  # bfloat16 | float16 | float32; empty = the device's default

    # --- the service (seqedit serve / worker); see docs/service.md ---
    db_url: str = ""  # empty: sqlite:///<data_dir>/seqedit.db (WAL)
    queue_url: str = ""  # empty: SqliteHuey at <data_dir>/queue.db; memory:// (tests); redis://…
    storage_url: str = ""  # empty: files under <data_dir>/objects; memory:// (tests)
    workers: int = 1  # consumer threads inside `seqedit serve`
    plugins: str = ""  # comma-separated modules imported at start (they may register engines)
    public_url: str = ""  # base of the URLs we hand out; empty: the request's own base URL
    signing_secret: str = ""  # HMAC key for file URLs; empty: generated once into <data_dir>/secret
    sync_timeout: float = 90.0  # seconds a sync-mode request waits before the 5004 body
    retention: float = 7 * 86400.0  # seconds uploads and outputs are kept
    sweep_interval: float = 3600.0  # seconds between retention sweeps
    lease_seconds: float = 30.0  # a claimed job is presumed lost when its lease is not renewed
    reaper_interval: float = 10.0  # seconds between reaper passes
    max_attempts: int = 3  # then failed 5000 "worker lost"
    progress_interval: float = 0.5  # at most one progress write per job per this many seconds
    upload_ticket_seconds: float = 3600.0  # a PUT ticket expires after this
    max_upload_bytes: int = 30 * 1024 * 1024  # larger uploads get 413
    max_request_bytes: int = 100 * 1024 * 1024  # larger JSON bodies (inline base64 images) get 413
    allow_hosts: str = ""  # comma-separated hosts the SSRF guard lets through (tests: 127.0.0.1)
    key_concurrency: int = 0  # per-key limit of queued+running predictions; 0 = none (keys may override)
    webhook_timeout: float = 5.0  # seconds per delivery attempt
    webhook_max_attempts: int = 8
    webhook_backoff: float = 2.0  # first retry delay in seconds, doubled per attempt (cap 600 s)

    @property
    def allowed_hosts(self) -> frozenset[str]:
        return frozenset(h.strip().lower() for h in self.allow_hosts.split(",") if h.strip())

    def engine_options(self) -> dict[str, object]:
        """The engine options that were set, as keyword arguments for ``engines.base.create``."""
        options = {"model": self.model, "strategy": self.strategy, "steps": self.steps, "device": self.device,
                   "dtype": self.dtype}
        return {k: v for k, v in options.items() if v}
