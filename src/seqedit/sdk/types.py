"""The SDK's read-only views of the server's answers: ``Prediction``, ``PlanPreview`` (with its
``Verdict``s), ``History`` and ``ImageSet`` (a finished set with its pixels).

Each view keeps the whole JSON object it was read from in ``raw``, so a field the server adds later is
never lost; the typed attributes are the documented ones (docs/service.md, "Wire semantics").
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

__all__ = ["Prediction", "Verdict", "PlanPreview", "History", "ImageSet", "Output", "TERMINAL"]

TERMINAL = ("completed", "failed", "cancelled")
_FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}


@dataclass(frozen=True)
class Verdict:
    """One clause of the prompt as the engine judged it: ``panel`` (None = every panel), ``clause``,
    ``operation``, ``verdict`` (supported | approximate | unsupported), ``note``, ``engine``."""

    panel: int | None
    clause: str
    operation: str
    verdict: str
    note: str = ""
    engine: str | None = None

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Verdict:
        return cls(
            panel=d.get("panel"),
            clause=str(d.get("clause", "")),
            operation=str(d.get("operation", "")),
            verdict=str(d.get("verdict", "")),
            note=str(d.get("note") or ""),
            engine=d.get("engine"),
        )


def _verdicts(value: Any) -> list[Verdict]:
    return [Verdict.from_json(v) for v in _list(value) if isinstance(v, dict)]


@dataclass(frozen=True)
class Prediction:
    """A task as the last poll saw it. ``outputs`` are URLs (or naked base64 for a base64 task);
    ``progress`` is ``{done, total, fraction}``; ``plan`` the per-panel plan once the task is planned;
    ``queue_position`` and ``eta_seconds`` while it waits in the queue."""

    id: str
    model: str
    status: str
    outputs: list[str]
    error: str
    code: int | None
    seed: int | None
    warnings: list[str]
    progress: dict[str, Any]
    plan: dict[str, Any] | None
    input: dict[str, Any]
    created_at: str
    raw: dict[str, Any] = field(repr=False)
    # while the task waits in the queue (status "created"): how many tasks go before it (0: next) and
    # the estimated seconds until it completes (None: unknown, or the server does not send them)
    queue_position: int | None = None
    eta_seconds: float | None = None
    # which engine runs the task and why ({"engine", "reason"}; None until planned, or an older server)
    route: dict[str, Any] | None = None
    # what made the set (engine, versions and what the engine resolved: model, steps, seeds, device, …;
    # None until rendering starts, or an older server)
    provenance: dict[str, Any] | None = None
    # the consistency figures per panel, the guard's retries and warnings (None until completed, or an
    # older server): {"guard", "max_retries", "panels": [{"index", "figures"}], "retries", "warnings"}
    consistency: dict[str, Any] | None = None

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Prediction:
        plan = d.get("plan")
        position, eta = d.get("queue_position"), d.get("eta_seconds")
        return cls(
            id=str(d.get("id", "")),
            model=str(d.get("model", "")),
            status=str(d.get("status", "")),
            outputs=[str(o) for o in _list(d.get("outputs"))],
            error=str(d.get("error") or ""),
            code=d.get("code"),
            seed=d.get("seed"),
            warnings=[str(w) for w in _list(d.get("warnings"))],
            progress=_dict(d.get("progress")),
            plan=plan if isinstance(plan, dict) else None,
            input=_dict(d.get("input")),
            created_at=str(d.get("created_at", "")),
            raw=d,
            queue_position=position if isinstance(position, int) and not isinstance(position, bool) else None,
            eta_seconds=float(eta) if isinstance(eta, int | float) and not isinstance(eta, bool) else None,
            route=_object(d.get("route")),
            provenance=_object(d.get("provenance")),
            consistency=_object(d.get("consistency")),
        )

    @property
    def done(self) -> bool:
        return self.status in TERMINAL

    @property
    def verdicts(self) -> list[Verdict]:
        """The per-clause verdicts the task was planned with (empty until planned, or on a server that
        does not send them)."""
        return _verdicts((self.plan or {}).get("verdicts")) or _verdicts(self.raw.get("verdicts"))


@dataclass(frozen=True)
class PlanPreview:
    """What ``POST /api/v3/{model}/plan`` answers: the task that submit would create, without creating it.
    ``size`` is ``"W*H"`` or None (it depends on a remote reference not fetched yet); ``seed`` None means
    random at submit; ``refusal`` is the one line the task would fail with when ``supported`` is false."""

    model: str
    engine: str
    count: int
    declared_count: int | None
    size: str | None
    seed: int | None
    shared: str
    panels: list[dict[str, Any]]
    verdicts: list[Verdict]
    supported: bool
    refusal: str | None
    warnings: list[str]
    price: dict[str, Any]
    raw: dict[str, Any] = field(repr=False)
    route: dict[str, Any] | None = None  # the engine that would run it and why (``--engine auto``)
    consistency: dict[str, Any] | None = None  # what will be checked after each panel (``checks``)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> PlanPreview:
        return cls(
            model=str(d.get("model", "")),
            engine=str(d.get("engine", "")),
            count=int(d.get("count") or 0),
            declared_count=d.get("declared_count"),
            size=d.get("size"),
            seed=d.get("seed"),
            shared=str(d.get("shared") or ""),
            panels=[p for p in _list(d.get("panels")) if isinstance(p, dict)],
            verdicts=_verdicts(d.get("verdicts")),
            supported=bool(d.get("supported")),
            refusal=d.get("refusal"),
            warnings=[str(w) for w in _list(d.get("warnings"))],
            price=_dict(d.get("price")),
            raw=d,
            route=_object(d.get("route")),
            consistency=_object(d.get("consistency")),
        )

    @property
    def refused_clause(self) -> str | None:
        """The first clause judged unsupported, if any."""
        return next((v.clause for v in self.verdicts if v.verdict == "unsupported"), None)


@dataclass(frozen=True)
class History:
    """One page of ``POST /api/v3/predictions``: newest first."""

    page: int
    page_size: int
    total: int
    items: list[Prediction]

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> History:
        return cls(
            page=int(d.get("page") or 1),
            page_size=int(d.get("page_size") or 0),
            total=int(d.get("total") or 0),
            items=[Prediction.from_json(p) for p in _list(d.get("items")) if isinstance(p, dict)],
        )


@dataclass(frozen=True)
class Output:
    """One output file: its bytes as the server stored them, and where it came from."""

    index: int
    data: bytes
    url: str | None

    @property
    def extension(self) -> str:
        with Image.open(io.BytesIO(self.data)) as im:
            return _FORMATS.get(im.format or "", (im.format or "bin").lower())

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def output_from(index: int, value: str, data: bytes | None) -> Output:
    """An output from its poll entry: a URL whose bytes were downloaded (``data``), or naked base64."""
    if data is not None:
        return Output(index, data, value)
    return Output(index, base64.b64decode(value, validate=True), None)


@dataclass
class ImageSet:
    """A finished set: ``images`` (PIL, decoded on first use), ``urls`` (the server's signed URLs, valid
    until its retention ends; empty for a base64 task), ``seed`` (send it again to repeat the set),
    ``warnings`` (approximations and notes — read them), ``plan`` (the per-panel plan and verdicts), ``id``.
    ``save(folder)`` writes ``1.jpg … N.jpg`` (the server's bytes, untouched) and ``set.json``."""

    id: str
    outputs: list[Output]
    prediction: Prediction
    preview: PlanPreview | None = None
    server: str = ""
    _images: list[Image.Image] | None = field(default=None, repr=False)

    @property
    def urls(self) -> list[str]:
        return [o.url for o in self.outputs if o.url is not None]

    @property
    def seed(self) -> int | None:
        return self.prediction.seed

    @property
    def warnings(self) -> list[str]:
        seen = list(self.prediction.warnings)
        for w in self.preview.warnings if self.preview else []:
            if w not in seen:
                seen.append(w)
        return seen

    @property
    def plan(self) -> dict[str, Any] | None:
        return self.prediction.plan

    @property
    def verdicts(self) -> list[Verdict]:
        return self.prediction.verdicts or (self.preview.verdicts if self.preview else [])

    @property
    def images(self) -> list[Image.Image]:
        if self._images is None:
            decoded = []
            for o in self.outputs:
                with Image.open(io.BytesIO(o.data)) as im:
                    im.load()
                    decoded.append(im.copy())
            self._images = decoded
        return self._images

    def __len__(self) -> int:
        return len(self.outputs)

    def record(self, files: list[str] | None = None) -> dict[str, Any]:
        """The ``set.json`` record: what was asked, planned, warned and written (as ``seqedit edit``)."""
        from seqedit import __version__

        files = files or [f"{o.index}.{o.extension}" for o in self.outputs]
        p = self.prediction
        outputs = []
        for o, name, im in zip(self.outputs, files, self.images, strict=True):
            outputs.append(
                {"file": name, "width": im.width, "height": im.height, "bytes": len(o.data), "sha256": o.sha256}
                | ({"url": o.url} if o.url else {})
            )
        return {
            "seqedit": __version__,
            "server": self.server,
            "id": p.id,
            "model": p.model,
            "engine": self.preview.engine if self.preview else None,
            "request": p.input,
            "plan": p.plan,
            "seed": p.seed,
            "verdicts": [v.__dict__ for v in self.verdicts],
            "warnings": self.warnings,
            "consistency": p.consistency,
            "outputs": outputs,
            "timings": {
                "inference_ms": p.raw.get("timings", {}).get("inference"),
                "execution_ms": p.raw.get("executionTime"),
            },
        }

    def save(self, folder: str | Path) -> list[Path]:
        """Write ``1.<ext> … N.<ext>`` and ``set.json`` into ``folder`` (created); returns the image paths."""
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        names = [f"{o.index}.{o.extension}" for o in self.outputs]
        paths = []
        for o, name in zip(self.outputs, names, strict=True):
            path = out / name
            path.write_bytes(o.data)
            paths.append(path)
        (out / "set.json").write_text(json.dumps(self.record(names), indent=2))
        return paths


_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def check_id(prediction_id: str) -> str:
    """A prediction id fit for a URL path (32 hex on seqedit); anything else is refused before any HTTP."""
    from seqedit.errors import RequestError

    if not isinstance(prediction_id, str) or not _ID.match(prediction_id):
        raise RequestError("id", "1-64 letters, digits, '-' or '_'", f"{prediction_id!r} is not a prediction id")
    return prediction_id


def _object(value: Any) -> dict[str, Any] | None:
    """A JSON object, or None when absent or not an object (an older server, a malformed answer)."""
    return value if isinstance(value, dict) else None
