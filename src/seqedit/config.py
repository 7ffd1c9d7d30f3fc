"""Settings from the environment (prefix ``SEQEDIT_``), one object shared by every front end.

Engine options are not fields here: each engine declares its own (``engines.options``), and
``Settings.engine_options()`` reads ``SEQEDIT_<OPTION>`` for exactly the options the selected engine
declares, under the explicit values a front end passed (``options``: CLI flags, ``--opt key=value``).
Settings is the only place that reads the environment; engines get keyword arguments.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, PrivateAttr, create_model, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from seqedit.imaging import DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS
from seqedit.pricing import DEFAULT_PRICE_PER_IMAGE

ENV_PREFIX = "SEQEDIT_"


def env_name(option: str) -> str:
    """The variable that sets an engine option (or a setting): ``guidance`` → ``SEQEDIT_GUIDANCE``."""
    return f"{ENV_PREFIX}{option.upper()}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    data_dir: Path = Path("./seqedit-data")
    price_per_image: Decimal = DEFAULT_PRICE_PER_IMAGE
    max_image_bytes: int = DEFAULT_MAX_BYTES
    max_image_pixels: int = DEFAULT_MAX_PIXELS
    engine: str = "classic"
    # explicit engine options (CLI flags, --opt); they win over SEQEDIT_<OPTION>. A keyword that is no
    # setting is one of these: Settings(engine="diffusion", model="/m") == Settings(..., options={"model": "/m"})
    options: dict[str, Any] = Field(default_factory=dict)

    # --- the service (seqedit serve / worker); see docs/service.md ---
    db_url: str = ""  # empty: sqlite:///<data_dir>/seqedit.db (WAL)
    db_auto_upgrade: bool = False  # serve/worker bring a non-SQLite database behind head up themselves
    queue_url: str = ""  # empty: the rows are the queue (jobs.rowqueue); sqlite:///… (Huey); memory://; redis://…
    storage_url: str = ""  # empty: files under <data_dir>/objects; memory:// (tests); s3://bucket/prefix (AWS_* vars)
    storage_proxy: bool = False  # s3://: serve files through our /files URLs instead of presigned bucket URLs
    workers: int = 1  # consumer threads of `seqedit serve` (--workers) and `seqedit worker` (--concurrency)
    # `seqedit serve` runs its consumers in a child process (jobs.child); None: the front end decides
    # (serve: yes on Linux; a Service built in-process, as tests do: no); false: threads of the API process
    consumer_process: bool | None = None
    log_format: Literal["text", "json"] = "text"  # service log lines on stderr (seqedit.logs); --log-format
    plugins: str = ""  # comma-separated modules imported at start (they may register engines)
    public_url: str = ""  # base of the URLs we hand out; empty: the request's own base URL
    signing_secret: str = ""  # HMAC key for file URLs; empty: generated once into <data_dir>/secret
    sync_timeout: float = 90.0  # seconds a sync-mode request waits before the 5004 body
    retention: float = 7 * 86400.0  # seconds uploads and outputs are kept
    sweep_interval: float = 3600.0  # seconds between retention sweeps
    lease_seconds: float = 30.0  # a claimed job is presumed lost when its lease is not renewed
    reaper_interval: float = 10.0  # seconds between reaper passes
    max_attempts: int = 3  # then failed 5000 "worker lost"
    retry_delay: float = 5.0  # backoff before re-running a job hit by a transient fault (doubled per attempt)
    min_free_bytes: int = 64 * 1024 * 1024  # /readyz is 503 while the data dir has less free; 0: no check
    progress_interval: float = 0.5  # at most one progress write per job per this many seconds
    upload_ticket_seconds: float = 3600.0  # a PUT ticket expires after this
    max_upload_bytes: int = 30 * 1024 * 1024  # larger uploads get 413
    max_request_bytes: int = 100 * 1024 * 1024  # larger JSON bodies (inline base64 images) get 413
    probe_seconds: float = Field(default=5.0, gt=0)  # budget to read an upload's image header (then 400)
    probe_threads: int = Field(default=4, ge=1)  # threads that probe uploads, off the event loop
    max_json_depth: int = 32  # JSON request bodies nested deeper (objects and arrays) get 400
    max_base64_bytes: int = 256 * 1024 * 1024  # base64 outputs of one answer; more gets 413 "use URLs"
    refuse_at_submit: bool = False  # plan every submit: an edit the engine cannot do is a 400, not a failed task
    history_max_page: int = 1_000_000  # history `page` past this gets 400 (page_size is 1-100)
    allow_hosts: str = ""  # comma-separated hosts the SSRF guard lets through (tests: 127.0.0.1)
    key_concurrency: int = 0  # per-key limit of queued+running predictions; 0 = none (keys may override)
    webhook_timeout: float = 5.0  # seconds per delivery attempt
    webhook_max_attempts: int = 8
    webhook_backoff: float = 2.0  # first retry delay in seconds, doubled per attempt (cap 600 s)
    # --- roles in a fleet (service.py); see docs/service.md ---
    heartbeat_seconds: Annotated[float, Field(gt=0)] = 5.0  # a process's beat; silent for 3 beats = not alive
    drain_seconds: Annotated[float, Field(ge=0)] = 30.0  # `seqedit worker` on SIGTERM: running jobs may finish
    lost_queue_seconds: Annotated[float, Field(gt=0)] = 3.0  # queued rows older than this are checked against
    # the queue's message count each reaper pass (fewer messages: the queue lost them; they are re-enqueued)

    # --- connection limits of `seqedit serve`'s HTTP server (api/server.py); see docs/service.md ---
    header_timeout: Annotated[float, Field(gt=0)] = 10.0  # s from accept, or a request's first byte, to its whole head
    body_timeout: Annotated[float, Field(gt=0)] = 30.0  # s a request body may go without a byte (then 408)
    keepalive_timeout: Annotated[float, Field(gt=0)] = 5.0  # s an idle connection is kept open between requests
    max_connections: Annotated[int, Field(ge=1)] = 512  # open connections (≤ half the fd limit); more get 503
    max_header_bytes: Annotated[int, Field(ge=1024)] = 64 * 1024  # request line + headers of a request; more get 431
    max_headers: Annotated[int, Field(ge=1)] = 100  # header fields of one request; more get 431

    @property
    def allowed_hosts(self) -> frozenset[str]:
        return frozenset(h.strip().lower() for h in self.allow_hosts.split(",") if h.strip())

    _environment: dict[str, dict[str, Any]] = PrivateAttr(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _engine_keywords(cls, data: Any) -> Any:
        """Keywords that name no setting are engine options (only keywords: the environment is read
        per engine, for the options it declares)."""
        if not isinstance(data, dict):
            return data
        extra = {k: v for k, v in data.items() if k not in cls.model_fields}
        if not extra:
            return data
        kept = {k: v for k, v in data.items() if k in cls.model_fields}
        kept["options"] = {**extra, **dict(kept.get("options") or {})}
        return kept

    def engine_options(self, engine: str | None = None) -> dict[str, Any]:
        """Keyword arguments for ``engines.base.create(engine)`` (default: ``self.engine``): the options
        set in ``SEQEDIT_<OPTION>`` for each option that engine declares, typed and checked (a bad value
        is an ``OptionError`` naming the variable), overridden by the explicit ``options``. Undeclared
        explicit options are kept, so that ``create`` refuses them by name. An engine registered
        without an options model gets the explicit options only."""
        from seqedit.engines.base import registration

        entry = registration(engine or self.engine)
        explicit = {k: v for k, v in self.options.items() if v is not None}
        if entry.options is None:
            return explicit
        if entry.name not in self._environment:
            self._environment[entry.name] = _from_environment(entry.name, entry.options)
        return {**self._environment[entry.name], **explicit}


class _EnvironmentBase(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", env_ignore_empty=True)


def _from_environment(engine: str, options: type[BaseModel]) -> dict[str, Any]:
    """The declared options of ``engine`` that are set in the environment, as typed values."""
    from seqedit.engines.base import OptionError, parse_options

    fields: dict[str, Any] = {name: (str | None, None) for name in options.model_fields}
    raw = create_model(f"{options.__name__}Environment", __base__=_EnvironmentBase, **fields)()
    values = {k: v for k, v in raw.model_dump().items() if v is not None}
    try:
        parsed = parse_options(engine, options, values)
    except OptionError as exc:
        raise OptionError(f"{exc.message} (from ${env_name(exc.option)})", option=exc.option) from None
    return {k: getattr(parsed, k) for k in values}
