"""The submission use case, protocol-neutral: what every door (WaveSpeed, Ark, the SDK) does with a
validated ``EditRequest`` once its router has translated the wire body.

``Submissions.submit(key, Submission)`` (blocking; routers run it in a thread):

1. a repeated ``idempotency_key`` returns the first prediction, re-checking nothing;
2. the webhook URL passes the SSRF guard (``RequestError`` on ``webhook``);
3. ``check_references``, which writes nothing: every image reference becomes what the runner will
   read — our own signed file URL → ``seqedit-object:<key>`` (only the caller's own files: else
   ``NotFound``), another http(s) URL → kept after the SSRF guard's host check (fetched by the
   runner), inline base64 → decoded and header-probed, with the object key it will be stored under;
   with ``refuse_unsupported`` (or the ``refuse_at_submit`` setting) the request is then planned
   (``plans.preview``) and an edit the engine cannot do is a ``RequestError`` on ``prompt`` naming the
   clause, before anything is written;
4. the per-key limit (``LimitExceeded``) is checked before anything is written;
5. inline images are stored (so the row holds a key, not megabytes), then ``store.create`` writes the
   row and their upload rows in one transaction (the limit checked again, atomically); a refusal there
   deletes the stored images, so **a refused submit leaves nothing**; then ``queue.enqueue`` — row
   first, then the message: a crash in between is the reaper's to mend;
6. the message's priority is ``fair_priority``: minus the key's jobs already queued or running, so one
   key's burst cannot delay another key's job by more than the jobs running when it arrived.

``Submissions.plan(key, model, request)`` is the plan endpoint: step 3, then ``plans.preview``; no task.
``await Submissions.wait(id, timeout)`` is sync mode (and a long poll): the terminal row, or the latest
row when the deadline passes, read through the poll cache (``jobs.states.Rows``), so a round whose
row cannot have changed reads nothing. ``cancel(id, key_id)`` cancels a queued job at once or signals a running one.
Errors are ``seqedit.errors`` types; each protocol router picks its own status and body for them.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from seqedit import imaging
from seqedit.config import Settings
from seqedit.engines.base import Engine
from seqedit.errors import BAD_MEDIA, NotFound, RequestError
from seqedit.fetch import FetchError, check_url
from seqedit.jobs.notify import Notifier
from seqedit.jobs.plans import preview, reference_sizes
from seqedit.jobs.queue import Queue
from seqedit.jobs.states import Rows
from seqedit.jobs.store import LimitExceeded, Status, Store, new_id
from seqedit.pricing import cost
from seqedit.refs import FORMS, RefError, inline_bytes
from seqedit.request import EditRequest
from seqedit.storage import OBJECT_REF, Storage, own_key

__all__ = ["Submission", "Submissions", "Staged", "InlineImage", "check_references", "fair_priority"]

PUBLIC_URL = "a public http(s) URL"
RANK_CAP = 64  # a key's rank is counted up to here (a bounded count per submit); beyond it, FIFO
SYNC_BONUS = 0.5  # less than one rank: a sync job overtakes its own rank, never another key's earlier job
log = logging.getLogger("seqedit.submit")


@dataclass(frozen=True)
class Submission:
    """One request to run, as a protocol router hands it over."""

    model: str  # the model id the prediction is recorded under
    request: EditRequest
    echo: dict[str, Any] = field(default_factory=dict)  # the wire ``input`` echo, stored verbatim
    webhook: str | None = None
    idempotency_key: str | None = None
    base64: bool = False  # answer with naked base64 instead of URLs
    sync: bool = False  # the client holds the request open for the result: it goes first among equals
    refuse_unsupported: bool = False  # plan first: an edit the engine cannot do is a 400 naming the clause


class Submissions:
    def __init__(
        self,
        store: Store,
        storage: Storage,
        queue: Queue,
        settings: Settings,
        *,
        secret: bytes,
        notifier: Notifier,
        on_cancel_running: Callable[[str], object] = lambda _id: None,
        on_cancelled: Callable[[str], object] = lambda _id: None,
        engine: Callable[[], Engine] | None = None,
        rows: Rows | None = None,
    ) -> None:
        self.store = store
        self.storage = storage
        self.queue = queue
        self.settings = settings
        self.secret = secret
        self.notifier = notifier
        self._on_cancel_running = on_cancel_running
        self._on_cancelled = on_cancelled
        self._engine = engine
        if rows is None:  # alone (tests): terminal rows cached, live ones always read
            rows = Rows(store)
            notifier.subscribe(rows.forget)
        self.rows = rows

    def plan(self, key: dict[str, Any], model: str, request: EditRequest) -> dict[str, Any]:
        """The plan endpoint: the references checked as a submit checks them (writing nothing), then
        ``plans.preview`` — panels, verdicts, refusal, warnings, price. No task is created."""
        staged = check_references(self.store, self.secret, self.settings, key, request.images, storage=self.storage)
        return self._preview(model, request, staged)

    def _preview(self, model: str, request: EditRequest, staged: Staged) -> dict[str, Any]:
        if self._engine is None:
            raise RuntimeError("this Submissions has no engine to plan with")
        sizes = reference_sizes(self.storage, staged.refs, {b.object_key: b.size for b in staged.inline})
        return preview(self._engine(), request, sizes, model=model, unit_price=self.settings.price_per_image)

    def submit(self, key: dict[str, Any], sub: Submission) -> tuple[dict[str, Any], bool]:
        """The row and whether it was created now (False: an idempotent repeat)."""
        s = self.settings
        if sub.idempotency_key is not None:
            found = self.store.by_idempotency(key["id"], sub.idempotency_key)
            if found is not None:
                return found, False
        if sub.webhook:
            try:
                check_url(sub.webhook, s.allowed_hosts)
            except FetchError as exc:
                raise RequestError("webhook", PUBLIC_URL, exc.message) from None
        limit = key.get("concurrency") or s.key_concurrency or None
        staged = check_references(self.store, self.secret, s, key, sub.request.images, storage=self.storage)
        if sub.refuse_unsupported or s.refuse_at_submit:
            planned = self._preview(sub.model, sub.request, staged)
            if planned["refusal"] is not None:
                raise RequestError("prompt", f"an edit the {planned['engine']} engine can make", planned["refusal"])
        if limit and staged.inline and self.store.active_count(key["id"], at_most=limit) >= limit:
            raise LimitExceeded(limit)  # refused before the images are written
        for blob in staged.inline:
            self.storage.put(blob.object_key, blob.data)
        req = sub.request
        try:
            row, created = self.store.create(
                key_id=key["id"],
                model=sub.model,
                input=sub.echo,
                request={**req.to_dict(), "images": staged.refs},
                total=req.max_images,
                output_format=req.output_format,
                cost=str(cost(req.max_images, s.price_per_image)),
                retention=s.retention,
                base64=sub.base64,
                webhook_url=sub.webhook or None,
                idempotency_key=sub.idempotency_key,
                limit=limit,
                stored_uploads=[blob.upload() for blob in staged.inline],
                count_active=RANK_CAP,  # the rank is counted in the same transaction as the insert
                # stored: queue_position counts it, the row queue claims by it
                prioritize=lambda active, lowest: fair_priority(active, sync=sub.sync, lowest=lowest),
            )
        except BaseException:  # refused (a limit reached meanwhile) or failed: the images go with it
            self._discard(staged)
            raise
        if not created:  # an idempotent repeat raced us: the first request's images are the ones kept
            self._discard(staged)
        else:
            row.pop("active_before", None)
            self.queue.enqueue(row["id"], row["priority"])
        return row, created

    def _discard(self, staged: Staged) -> None:
        for blob in staged.inline:
            try:
                self.storage.delete(blob.object_key)
            except Exception:  # best effort: an orphan object holds no row and no request
                log.warning("could not delete %s of a refused submit", blob.object_key, exc_info=True)

    async def wait(self, prediction_id: str, timeout: float) -> dict[str, Any]:
        """Sync mode: the row once it is terminal, or as it is when ``timeout`` seconds have passed.

        The ``Notifier`` watch is taken *before* the first read and held to the end, so no change is
        missed between a read and the next wait. A notification that carries a status that is not
        terminal (the store's change feed names it: claimed, a panel, progress) needs no read; any
        other (terminal, or unknown) is read through ``rows``: from memory while the row cannot have
        changed, else from the store in a worker thread. Every half second without a notification the
        row is read anyway (a job that ran in a process whose changes do not reach this one)."""
        deadline = time.monotonic() + timeout
        with self.notifier.watching(prediction_id) as watch:
            row = await self._read(prediction_id)
            current = True  # row is the latest this waiter knows of
            while True:
                if Status(row["status"]).is_terminal():
                    return row
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return row if current else await self._read(prediction_id)
                changed, status = await watch.changed(min(remaining, 0.5))
                if changed and status is not None and not Status(status).is_terminal():
                    current = False  # still running: nothing to read yet
                    continue
                row = await self._read(prediction_id)
                current = True

    async def _read(self, prediction_id: str) -> dict[str, Any]:
        row = await self.rows.read(prediction_id)
        if row is None:  # the retention sweep deleted it while we waited
            raise NotFound("id", "a live prediction", f"prediction {prediction_id} no longer exists")
        return row

    def cancel(self, prediction_id: str, key_id: str) -> dict[str, Any] | None:
        """Cancel a queued job at once, or ask a running one to stop between steps. None: not the key's."""
        row = self.store.cancel(prediction_id, key_id)
        if row is None:
            return None
        if row["status"] == Status.PROCESSING.value:
            self._on_cancel_running(prediction_id)
        elif row["status"] == Status.CANCELLED.value:  # (the store's change feed has woken its waiters)
            self._on_cancelled(prediction_id)
        return row


@dataclass(frozen=True)
class InlineImage:
    """An inline image that passed its checks, with the object key it will be stored under."""

    object_key: str
    data: bytes
    mime: str
    index: int
    size: tuple[int, int]  # (width, height) from the header probe

    def upload(self) -> dict[str, Any]:
        return {
            "object_key": self.object_key,
            "filename": f"inline-{self.index}",
            "content_type": self.mime,
            "size": len(self.data),
        }


@dataclass(frozen=True)
class Staged:
    """What ``check_references`` found: the references the runner will read, and the inline images
    to store before the row is written."""

    refs: list[str]
    inline: list[InlineImage]


def fair_priority(active: int, *, sync: bool, lowest: float | None = None) -> float:
    """The queue priority of a key's new job: minus the number of its jobs already queued or running
    (counted up to ``RANK_CAP``), so every key's k-th job waits behind every other key's earlier ones
    (round-robin between keys with queued work; keys with more than ``RANK_CAP`` jobs each share the
    last rank, FIFO); a sync-mode job goes first among jobs of the same rank.

    **FIFO within a key**: never above the key's ``lowest`` queued priority (its rank, without the
    sync bonus). A rank counted when the job arrives falls as the key's earlier jobs finish: without
    this floor, a job submitted after the key's running jobs finished would overtake that key's own
    older queued jobs, again and again under steady load (a queued job waited for seconds while newer
    ones of its key ran)."""
    rank = -float(active)
    if lowest is not None:
        rank = min(rank, float(math.floor(lowest)))
    return rank + (SYNC_BONUS if sync else 0.0)


def check_references(
    store: Store,
    secret: bytes,
    settings: Settings,
    key: dict[str, Any],
    images: tuple[str, ...],
    *,
    storage: Storage | None = None,
) -> Staged:
    """Cheap, early checks of every reference, writing nothing: our own files (signed ``/files`` URLs,
    or URLs ``storage`` recognises as its own, such as S3 presigned ones) must be the key's, other
    URLs pass the SSRF guard's host check, inline images are decoded and header-probed. Raises
    ``RequestError``/``NotFound`` naming ``images[i]``."""
    refs: list[str] = []
    inline: list[InlineImage] = []
    for i, raw in enumerate(images):
        field_name = f"images[{i}]"
        ref = raw.strip()
        if ref.startswith(OBJECT_REF):  # internal form: never accepted from a client
            raise RequestError(field_name, FORMS, "must be an http(s) URL, a data: URI or base64", code=BAD_MEDIA)
        object_key = own_key(ref, secret, storage=storage) if ref.startswith(("http://", "https://")) else None
        if object_key is not None:  # one of our own signed file URLs, on any host
            if not _owned(store, key, object_key):
                raise NotFound(field_name, "your own files", "file not found")
            refs.append(OBJECT_REF + object_key)
        elif ref.startswith(("http://", "https://")):
            try:
                check_url(ref, settings.allowed_hosts)
            except FetchError as exc:
                raise RequestError(field_name, PUBLIC_URL, exc.message) from None
            refs.append(ref)
        else:
            blob = _inline(settings, ref, i)
            inline.append(blob)
            refs.append(OBJECT_REF + blob.object_key)
    return Staged(refs, inline)


def _inline(s: Settings, ref: str, i: int) -> InlineImage:
    field_name = f"images[{i}]"
    try:
        data = inline_bytes(ref, field_name)
    except RefError as exc:
        raise RequestError(field_name, FORMS, exc.message.removeprefix(f"{field_name}: "), code=BAD_MEDIA) from None
    probe = imaging.probe(data, field=field_name, max_bytes=s.max_image_bytes, max_pixels=s.max_image_pixels)
    key = f"uploads/{new_id()}/inline-{i}.{probe.format.lower() or 'bin'}"
    return InlineImage(key, data, probe.mime, i, (probe.width, probe.height))


def _owned(store: Store, key: dict[str, Any], object_key: str) -> bool:
    if object_key.startswith("uploads/"):
        up = store.upload_by_object(object_key)
        return up is not None and up["key_id"] == key["id"] and up["state"] == "stored"
    parts = object_key.split("/")
    return len(parts) >= 2 and store.get(parts[1], key_id=key["id"]) is not None
